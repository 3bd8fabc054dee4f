"""Every asset path goes through smplr_core.locate: the source tree in a checkout, the package's
share directory when installed. Runs in the source suite and, through `colcon test`, against the
install space (where smplr_core is the installed copy)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from smplr_core import locate

# What the reconstruct node and the launch file read at startup.
SHIPPED = ["weights/core/dae.pt", "weights/core/smplr_end2end.pt", "weights/core/smplr.pt",
           "weights/body/smplr_free_body.npz", "weights/hourglass/small.pt",
           "config/params.yaml", "config/fastdds_localhost.xml", "config/smplr.rviz",
           "launch/reconstruct.launch.py"]


def expected_root() -> Path:
    """The repository when this is a checkout, else the share directory the ament index names."""
    if locate.source_root() is not None:
        return locate.source_root()
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("smplr_ros"))


def test_data_root_is_the_checkout_or_the_ament_share_directory():
    assert locate.data_root() == expected_root()
    for rel in SHIPPED:
        assert locate.data_path(*rel.split("/")).is_file(), rel


def test_every_default_asset_path_lies_under_the_data_root():
    from smplr_core.body import files
    from smplr_core.frontends.blazepose import assets
    from smplr_core.frontends.hourglass.frontend import DEFAULT_WEIGHTS, MEDIUM_WEIGHTS
    from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR
    from smplr_ros import environment

    root = expected_root()
    for path in (files.FREE_MODEL_PATH, DEFAULT_WEIGHTS, MEDIUM_WEIGHTS, DEFAULT_WEIGHTS_DIR,
                 environment.find_profile(), assets.model_dir()):
        assert path.is_relative_to(root), path
    assert environment.find_profile().is_file()
    # converted BlazePose networks: <repo>/.work/assets or <share>/assets (prepare_blazepose)
    assert assets.model_dir() == root / (".work/assets" if root == locate.source_root() else "assets") / "blazepose"
    for name in ("detector", "full"):
        assert assets.converted_path(name).is_file(), assets.converted_path(name)


def fake_install(tmp_path: Path, share_files=("weights/core/x.pt",)) -> tuple[Path, Path]:
    """A prefix with the installed layout: lib/python3.X/site-packages/smplr_core, share/smplr_ros."""
    prefix = tmp_path / "prefix"
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    shutil.copytree(Path(locate.__file__).parent, site / "smplr_core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for rel in share_files:
        (prefix / "share" / "smplr_ros" / rel).parent.mkdir(parents=True, exist_ok=True)
        (prefix / "share" / "smplr_ros" / rel).write_bytes(b"")
    return prefix, site


def run_installed(site: Path, code: str, ament_prefix: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMPLR_SHARE_DIR", "SMPLR_ASSETS_DIR"))}
    env.update(PYTHONPATH=str(site), AMENT_PREFIX_PATH=ament_prefix)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=site.parent, capture_output=True,
                          text=True, timeout=120)


def test_installed_copy_uses_the_share_directory_of_its_own_prefix(tmp_path):
    prefix, site = fake_install(tmp_path)
    proc = run_installed(site, "from smplr_core import locate; print(locate.__file__); "
                               "print(locate.data_root()); print(locate.assets_root())")
    assert proc.returncode == 0, proc.stderr
    module, root, assets = proc.stdout.split()
    assert Path(module).is_relative_to(site)
    assert Path(root) == prefix / "share" / "smplr_ros"
    assert Path(assets) == prefix / "share" / "smplr_ros" / "assets"


def test_installed_copy_prefers_the_ament_index_and_env_var_overrides(tmp_path):
    prefix, site = fake_install(tmp_path / "a")
    other, _ = fake_install(tmp_path / "b")
    (other / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (other / "share" / "ament_index" / "resource_index" / "packages" / "smplr_ros").write_text("")
    code = "from smplr_core import locate; print(locate.data_root())"
    proc = run_installed(site, code, ament_prefix=str(other))
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == other / "share" / "smplr_ros"
    proc = run_installed(site, f"import os; os.environ['SMPLR_SHARE_DIR'] = {str(tmp_path)!r}; " + code)
    assert Path(proc.stdout.strip()) == tmp_path


def test_missing_blazepose_network_error_names_the_prepare_command(tmp_path):
    prefix, site = fake_install(tmp_path)
    proc = run_installed(site, "from smplr_core.frontends.blazepose.assets import load_converted; "
                               "load_converted('full')")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("FileNotFoundError: BlazePose model file "
                           f"{prefix / 'share' / 'smplr_ros' / 'assets' / 'blazepose' / 'full.pt'} is missing")
    assert "`ros2 run smplr_ros prepare_blazepose`" in last
    assert f"`python3 {prefix / 'lib' / 'smplr_ros' / 'prepare_blazepose'}`" in last
