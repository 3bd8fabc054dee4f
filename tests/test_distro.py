"""A ROS 2 distro user's install, run for real: a colcon workspace holding this repository is built
from clean (no symlink install), the nodes run from its install space over DDS (the project's
loopback settings) and publish People for the sample video, and `colcon test` runs the package's
pytest files against the install space. Writes bench/results/distro.json.

The commands are the README's (section *A ROS 2 distro: colcon workspace*), word for word: the
first test checks that the README holds each of them in this order."""
import json
import os
import platform
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from node_helpers import SAMPLE_VIDEO
from package_deps import missing_dependencies
from test_rviz import RVIZ_FILES, rviz_topics

REPO = Path(__file__).resolve().parents[1]
WS = REPO / ".work" / "distro" / "ws"
INSTALL = WS / "install" / "smplr_ros"
RESULTS = REPO / "bench" / "results" / "distro.json"

# The README's commands, in order. ENV and WORKSPACE start every step (each runs in its own bash).
ENV = ('source .venv/bin/activate && eval "$(python -m smplr_ros.environment)" '
       '&& export CMAKE_PREFIX_PATH="$VIRTUAL_ENV"')
WORKSPACE = ('export REPO="$PWD" WS="$PWD/.work/distro/ws" && mkdir -p "$WS/src" '
             '&& ln -sfn "$REPO" "$WS/src/smplr_ros" && cd "$WS"')
BUILD = ('rm -rf build install log && colcon build --packages-select smplr_ros '
         '--cmake-args -DPython3_EXECUTABLE="$(command -v python)"')
SOURCE = "source install/setup.bash"
PREPARE = "python install/smplr_ros/lib/smplr_ros/prepare_blazepose"
LAUNCH = ("python -m smplr_ros.launch_graph install/smplr_ros/share/smplr_ros/launch/reconstruct.launch.py "
          'video:="$REPO/.work/assets/media/sports2d_demo.mp4" width:=480 loop:=true')
TEST = "colcon test --packages-select smplr_ros && colcon test-result --verbose"
README_COMMANDS = [ENV, WORKSPACE, BUILD, SOURCE, PREPARE, LAUNCH, TEST]
# Not in the README: the node before prepare_blazepose (must refuse to start, naming it).
NODE = "python install/smplr_ros/lib/smplr_ros/reconstruct"


def readme_distro_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("### A ROS 2 distro: colcon workspace", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return blocks[-1]


def test_readme_gives_the_commands_this_test_runs_in_order():
    lines = [line for line in readme_distro_block().splitlines() if line and not line.startswith("#")]
    assert lines == README_COMMANDS


def shell(step: str, workspace_env: bool = True) -> str:
    """bash command line of one step: the environment, the workspace, the install space sourced."""
    parts = [ENV, WORKSPACE] + ([SOURCE] if workspace_env else []) + [step]
    return " && ".join(parts)


def run_step(step: str, timeout_s: float, workspace_env: bool = True) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run(["bash", "-c", shell(step, workspace_env)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout_s)
    return proc, round(time.monotonic() - start, 1)


def output(proc) -> str:
    return (proc.stdout + proc.stderr)[-6000:]


def wait_for_people(timeout_s: float) -> tuple[object, dict[str, list[str]]]:
    """Subscribe to /human_pose/people until a message with a 3D person arrives; return it and
    the graph's topics and types at that moment."""
    import rclpy
    from rclpy.qos import QoSProfile

    from smplr_ros.msg import People

    rclpy.init()
    try:
        node = rclpy.create_node("distro_probe")
        got = []
        node.create_subscription(People, "/human_pose/people", got.append, QoSProfile(depth=10))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not any(p.has_3d for m in got for p in m.people):
            rclpy.spin_once(node, timeout_sec=0.1)
        found = next((m for m in got if any(p.has_3d for p in m.people)), None)
        topics = dict(node.get_topic_names_and_types())
        publishers = {t: node.count_publishers(t) for t in topics}
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return found, {t: types for t, types in topics.items() if publishers[t] > 0}


@pytest.mark.distro
@pytest.mark.ros
def test_colcon_workspace_build_install_space_node_and_colcon_test():
    assert SAMPLE_VIDEO.is_file(), f"{SAMPLE_VIDEO} is missing: run scripts/setup.sh"
    result = {"install_space_people_received": False, "missing_package_xml_deps": missing_dependencies()}
    try:
        # 1. clean workspace build, no symlink install
        proc, result["colcon_build_s"] = run_step(BUILD, 900, workspace_env=False)
        assert proc.returncode == 0, output(proc)
        assert "Finished <<< smplr_ros" in proc.stdout, output(proc)
        for rel in ("lib/smplr_ros/reconstruct", "lib/smplr_ros/prepare_blazepose",
                    "share/smplr_ros/weights/core/dae.pt", "share/smplr_ros/config/params.yaml",
                    "share/smplr_ros/launch/reconstruct.launch.py"):
            assert (INSTALL / rel).is_file(), rel

        # the code that runs is the install space's, and it reads its files from the share directory
        proc, _ = run_step("cd / && python -c 'from smplr_core import locate; import smplr_ros.reconstruct_node as n; "
                           "print(locate.__file__); print(n.__file__); print(locate.data_root())'", 120)
        assert proc.returncode == 0, output(proc)
        core_file, node_file, root = proc.stdout.split()
        site = INSTALL / "lib" / f"python{platform.python_version_tuple()[0]}.{platform.python_version_tuple()[1]}" / "site-packages"
        assert Path(core_file).is_relative_to(site) and Path(node_file).is_relative_to(site)
        assert Path(root) == INSTALL / "share" / "smplr_ros"

        # 2-3. without the converted BlazePose networks the node refuses to start and names the command
        proc, _ = run_step(NODE, 300)
        assert proc.returncode == 2, output(proc)
        assert "ros2 run smplr_ros prepare_blazepose" in proc.stderr, output(proc)
        assert str(INSTALL / "lib" / "smplr_ros" / "prepare_blazepose") in proc.stderr, output(proc)
        proc, result["prepare_blazepose_s"] = run_step(PREPARE, 600)
        assert proc.returncode == 0, output(proc)
        for name in ("detector", "full"):
            assert (INSTALL / "share" / "smplr_ros" / "assets" / "blazepose" / f"{name}.pt").is_file()

        # 2, 6. the graph from the install space's launch file, with the project's runner, over DDS
        graph = subprocess.Popen(["bash", "-c", shell(LAUNCH)], cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            msg, topics = wait_for_people(timeout_s=300)
        finally:
            if graph.poll() is None:
                os.killpg(graph.pid, signal.SIGINT)
            try:
                log, _ = graph.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(graph.pid, signal.SIGKILL)
                log, _ = graph.communicate()
        assert msg is not None, f"no People message with a 3D person from the install space:\n{log[-6000:]}"
        result["install_space_people_received"] = True
        result["people_in_first_message"] = sum(p.has_3d for p in msg.people)
        assert f"starting reconstruct: {INSTALL}/lib/smplr_ros/reconstruct" in log, log[-3000:]
        assert f"--params-file {INSTALL}/share/smplr_ros/config/params.yaml" in log, log[-3000:]
        assert "Traceback" not in log, log[-6000:]
        # 7. what RViz shows is published by the running graph, with the same types
        for rviz in RVIZ_FILES:
            for topic, msg_type in rviz_topics(rviz):
                assert msg_type in topics.get(topic, []), (rviz.name, topic, msg_type, topics)

        # 4. colcon test: the package's pytest files against the install space
        proc, result["colcon_test_s"] = run_step(TEST, 900)
        assert proc.returncode == 0, output(proc)
        summary = re.search(r"Summary: (\d+) tests, (\d+) errors, (\d+) failures, (\d+) skipped", proc.stdout)
        assert summary, output(proc)
        tests, errors, failures, skipped = map(int, summary.groups())
        result["colcon_test"] = {"tests": tests, "errors": errors, "failures": failures, "skipped": skipped}
        assert tests >= 20 and errors == failures == 0, output(proc)
        reports = sorted(p.name for p in (WS / "build" / "smplr_ros" / "test_results" / "smplr_ros").glob("*.xml"))
        assert "locate.xunit.xml" in reports and "package_deps.xunit.xml" in reports, reports

        # 5.
        assert result["missing_package_xml_deps"] == []
    finally:
        result["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result["machine"] = f"{os.cpu_count()} cores, {platform.machine()}"
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
