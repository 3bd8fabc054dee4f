"""Where smplr's files are: the one function every asset path goes through.

The package's data (``weights/``, ``config/``, ``launch/``, the converted BlazePose networks) lives

* in a source checkout, in the repository itself (the folder holding ``package.xml`` next to
  ``smplr_core/``); the converted BlazePose networks go to its ignored ``.work/assets/``;
* in an installed package (a colcon workspace's install space, a distro prefix), in the package's
  share directory ``<prefix>/share/smplr_ros``, BlazePose networks in ``<share>/assets/``.

:func:`data_root` finds that folder: ``$SMPLR_SHARE_DIR`` when set, else the source checkout this
code runs from, else the share directory that the ament index names (when ``ament_index_python``
is importable: ``smplr_core`` itself needs no ROS), else ``<prefix>/share/smplr_ros`` next to the
installed code. This module imports nothing but the standard library.
"""
from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

PACKAGE = "smplr_ros"
# The installed executable that converts the BlazePose networks into the share directory.
PREPARE_EXECUTABLE = "prepare_blazepose"
_CORE_DIR = Path(__file__).resolve().parent


def source_root() -> Path | None:
    """The repository this code runs from (``None`` when it is an installed copy)."""
    root = _CORE_DIR.parent
    return root if (root / "package.xml").is_file() and (root / "weights").is_dir() else None


def _installed_share_candidates() -> list[Path]:
    """``<prefix>/share/smplr_ros`` for the prefix the code is installed in (lib/pythonX.Y/site-packages)
    and for the interpreter's prefix."""
    prefix = _CORE_DIR.parents[3] if len(_CORE_DIR.parents) > 3 else _CORE_DIR.parent
    return [prefix / "share" / PACKAGE, Path(sys.prefix) / "share" / PACKAGE]


def _ament_share() -> Path | None:
    try:
        from ament_index_python.packages import get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(PACKAGE))
    except (LookupError, ValueError, OSError):  # not indexed; AMENT_PREFIX_PATH unset
        return None


@lru_cache(maxsize=1)
def data_root() -> Path:
    """The folder holding ``weights/``, ``config/`` and ``launch/`` (see the module docstring).

    When none is found, the installed guess is returned so that a missing file's error names it."""
    env = os.environ.get("SMPLR_SHARE_DIR")
    if env:
        return Path(env)
    source = source_root()
    if source is not None:
        return source
    ament = _ament_share()
    if ament is not None and (ament / "weights").is_dir():
        return ament
    candidates = _installed_share_candidates()
    for path in candidates:
        if (path / "weights").is_dir():
            return path
    return candidates[0]


def data_path(*parts: str) -> Path:
    """``data_root() / parts``, e.g. ``data_path("weights", "core")``."""
    return data_root().joinpath(*parts)


def assets_root() -> Path:
    """Files made at setup, not tracked by git: ``$SMPLR_ASSETS_DIR``, else ``<repo>/.work/assets``
    in a source checkout, else ``<share>/assets`` in an installed package."""
    env = os.environ.get("SMPLR_ASSETS_DIR")
    if env:
        return Path(env)
    root = data_root()
    return root / ".work" / "assets" if root == source_root() else root / "assets"


def prepare_command() -> str:
    """The command that prepares missing setup-made files for the way this code is installed."""
    root = data_root()
    if root == source_root():
        return "scripts/setup.sh"
    prefix = root.parent.parent   # <prefix>/share/smplr_ros
    return (f"`ros2 run {PACKAGE} {PREPARE_EXECUTABLE}` (without the ros2 CLI: "
            f"`python3 {prefix / 'lib' / PACKAGE / PREPARE_EXECUTABLE}`)")
