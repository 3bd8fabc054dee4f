"""The one place where smplr sets up the ROS 2 / DDS environment.

Every smplr process that starts rclpy (nodes, the graph runner, tests, benchmarks, CI) calls
:func:`apply` before ``import rclpy``; shell entry points evaluate ``python -m
smplr_ros.environment`` which prints the same settings as ``export`` lines.

What it guarantees:
  * DDS stays on this machine: ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and a Fast DDS profile
    (``config/fastdds_localhost.xml``) that disables the builtin transports and uses only UDPv4 on
    127.0.0.1 plus shared memory.
  * ``ROS_HOME`` and ``ROS_LOG_DIR`` live in the repository's ignored ``.work/`` folder (or
    ``$SMPLR_WORK_DIR``, which is exported too: installed nodes started from a source checkout's
    environment use the same folder); only installed code run without either uses
    ``~/.cache/smplr``.
  * ``AMENT_PREFIX_PATH`` includes the Python prefix, where setup installed the ROS wheels and this
    package's messages, so ``ament_index_python`` finds them; it is appended, so the prefixes of a
    sourced colcon workspace (an overlay) keep their place before it.
  * ``ROS_DOMAIN_ID`` is kept when already set (tests set their own) and defaults to 0.
  * ``OMP_WAIT_POLICY=PASSIVE`` unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set: the
    processes of a ROS graph share the cores, and torch's OpenMP workers that spin while idle
    stall whenever another process holds a core (on 2 cores with one busy process, a frame's p90
    went from 17 to 155 ms with two torch threads). The node runs torch on one thread by default,
    where the policy does not matter; a user who gives it the cores to itself and raises
    ``torch_threads`` sets ``GOMP_SPINCOUNT`` (e.g. 300000, OpenMP's own default) to keep idle
    workers spinning briefly (docs/frontend.md, *OpenMP threads*).

This module imports nothing from ROS (smplr_core.locate imports only the standard library), so it
is safe to import before rclpy.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from smplr_core import locate

PROFILE_NAME = "fastdds_localhost.xml"


def find_profile() -> Path:
    """Path of the loopback-only Fast DDS profile (the source tree's or the installed package's
    config/, smplr_core.locate)."""
    path = locate.data_path("config", PROFILE_NAME)
    if not path.is_file():
        raise FileNotFoundError(f"Fast DDS profile {path} not found; run scripts/setup.sh (source "
                                "checkout) or build and install the package (colcon build)")
    return path


def work_dir() -> Path:
    """Folder for ROS logs and run outputs: $SMPLR_WORK_DIR, <repo>/.work (git-ignored) in a source
    checkout, else ~/.cache/smplr."""
    env = os.environ.get("SMPLR_WORK_DIR")
    if env:
        return Path(env)
    source = locate.source_root()
    if source is not None:
        return source / ".work"
    return Path.home() / ".cache" / "smplr"


def settings(domain_id: int | None = None) -> dict[str, str]:
    """The environment variables smplr sets for a process that will start rclpy."""
    work = work_dir()
    prefix = sys.prefix
    ament = os.environ.get("AMENT_PREFIX_PATH", "")
    ament_parts = [p for p in ament.split(os.pathsep) if p]
    if prefix not in ament_parts:   # an underlay: a sourced workspace's prefixes stay first
        ament_parts.append(prefix)
    if domain_id is None:
        domain_id = int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
    if not 0 <= domain_id <= 232:
        raise ValueError(f"ROS_DOMAIN_ID must be in 0..232, got {domain_id}")
    return {
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(find_profile()),
        "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
        "ROS_DOMAIN_ID": str(domain_id),
        "ROS_HOME": str(work / "ros"),
        "ROS_LOG_DIR": str(work / "ros" / "log"),
        # passed on, so that installed nodes started from this environment keep the same folder
        "SMPLR_WORK_DIR": str(work),
        "AMENT_PREFIX_PATH": os.pathsep.join(ament_parts),
    }


def apply(domain_id: int | None = None) -> dict[str, str]:
    """Set :func:`settings` in ``os.environ`` (inherited by child processes) and return them."""
    values = settings(domain_id)
    os.environ.update(values)
    if "GOMP_SPINCOUNT" not in os.environ:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    Path(values["ROS_LOG_DIR"]).mkdir(parents=True, exist_ok=True)
    return values


def main() -> None:
    """Print the settings as shell ``export`` lines: ``eval "$(python -m smplr_ros.environment)"``."""
    import shlex
    for key, value in apply().items():
        print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
