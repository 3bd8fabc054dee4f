"""Start the node graph of a launch file as separate processes, where ``launch`` is not installed.

    python -m smplr_ros.launch_graph launch/reconstruct.launch.py [name:=value ...] [--dry-run]

This is not a launch implementation: it reads the plain graph data a launch file keeps next to its
``generate_launch_description`` (``ARGUMENTS``: name -> (default, description); ``NODES``: list
of dicts with executable, name, parameters, remappings, condition, required), fills in the launch
arguments, and starts each node as ``python <executable> --ros-args --params-file <params_file>
-r __node:=<name> -p k:=v -r from:=to``. All processes share smplr's DDS environment
(smplr_ros.environment). Ctrl-C (SIGINT) or SIGTERM is forwarded to every node; when a node marked
``required`` exits, the others are interrupted and the runner exits with the first non-zero code;
each node that ended with a non-zero code, or by a signal other than the forwarded SIGINT, is
named with its code or signal on stdout.
"""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from smplr_ros import environment

PACKAGE = "smplr_ros"
# How long nodes get to finish after SIGINT (the recorder writes its video then).
STOP_TIMEOUT_S = 180.0
POLL_S = 0.2
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class LaunchGraphError(ValueError):
    """A launch file or argument the runner cannot use; the message says which and why."""


@dataclass
class NodeProcess:
    name: str
    command: list[str]
    required: bool
    proc: subprocess.Popen | None = None


def load_graph(launch_file: str | Path) -> tuple[dict, list[dict]]:
    """(ARGUMENTS, NODES) of a launch file, importing it without importing ``launch``."""
    path = Path(launch_file)
    if not path.is_file():
        raise LaunchGraphError(f"launch file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"_smplr_launch_{path.stem.replace('.', '_')}",
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "ARGUMENTS") or not hasattr(module, "NODES"):
        raise LaunchGraphError(f"{path} keeps no graph data (module-level ARGUMENTS and NODES)")
    return dict(module.ARGUMENTS), list(module.NODES)


def share_dir(launch_file: str | Path) -> Path:
    """The package folder holding launch/ and config/ (source tree or <prefix>/share/smplr_ros)."""
    return Path(launch_file).resolve().parent.parent


def find_executable(share: Path, executable: str) -> Path:
    """scripts/nodes/<exe> in a source tree, or <prefix>/lib/smplr_ros/<exe> when installed."""
    candidates = [share / "scripts" / "nodes" / executable,
                  share.parent.parent / "lib" / PACKAGE / executable,
                  Path(sys.prefix) / "lib" / PACKAGE / executable]
    for path in candidates:
        if path.is_file():
            return path
    raise LaunchGraphError(f"executable '{executable}' not found (looked in: "
                           f"{', '.join(map(str, candidates))}); run scripts/setup.sh")


def resolve_arguments(declared: dict, given: dict[str, str], share: Path) -> dict[str, str]:
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise LaunchGraphError(
            f"unknown launch argument(s) {', '.join(unknown)}; this launch file takes: "
            + ", ".join(f"{k} (default '{d}')" for k, (d, _) in declared.items()))
    values = {k: str(d).replace("{share}", str(share)) for k, (d, _) in declared.items()}
    values.update(given)
    return values


def fill(value, args: dict[str, str]) -> str:
    """Placeholders filled in; {'python': expr} evaluated (as launch's PythonExpression)."""
    if isinstance(value, dict):
        return str(eval(fill(value["python"], args), {"__builtins__": {}}, {}))  # noqa: S307
    if isinstance(value, bool):
        return "true" if value else "false"
    return PLACEHOLDER.sub(lambda m: args[m.group(1)], str(value))


def enabled(condition: str | None, args: dict[str, str]) -> bool:
    return condition is None or args[condition].strip() not in ("", "false", "False")


def build_commands(launch_file: str | Path, given: dict[str, str]) -> list[NodeProcess]:
    """The processes the graph starts for these launch arguments (in the file's order)."""
    declared, nodes = load_graph(launch_file)
    share = share_dir(launch_file)
    args = resolve_arguments(declared, given, share)
    params_file = Path(args["params_file"]) if "params_file" in args else None
    if params_file is not None and not params_file.is_file():
        raise LaunchGraphError(f"params file not found: {params_file} (launch argument "
                               "params_file:=...)")
    out = []
    for spec in nodes:
        if not enabled(spec.get("condition"), args):
            continue
        exe = find_executable(share, spec["executable"])
        command = [sys.executable, str(exe), "--ros-args", "-r", f"__node:={spec['name']}"]
        if params_file is not None:
            command += ["--params-file", str(params_file)]
        for key, value in spec.get("parameters", {}).items():
            command += ["-p", f"{key}:={fill(value, args)}"]
        for src, dst in spec.get("remappings", {}).items():
            command += ["-r", f"{src}:={fill(dst, args)}"]
        out.append(NodeProcess(spec["name"], command, bool(spec.get("required", False))))
    return out


def child_environment(share: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(environment.settings())
    if (share / PACKAGE / "__init__.py").is_file():   # source tree: its code before the installed copy
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(share), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def interrupt(nodes: list[NodeProcess]) -> None:
    for n in nodes:
        if n.proc is not None and n.proc.poll() is None:
            n.proc.send_signal(signal.SIGINT)


def wait_all(nodes: list[NodeProcess], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for n in nodes:
        if n.proc is None:
            continue
        try:
            n.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[launch_graph] {n.name} did not stop in {timeout_s:.0f} s; killing it",
                  flush=True)
            n.proc.kill()
            n.proc.wait()


def exit_description(rc: int) -> str:
    """'code N', or 'signal NAME' for a process a signal ended (a negative return code)."""
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            pass
    return f"code {rc}"


def run(launch_file: str | Path, given: dict[str, str]) -> int:
    """Start the graph, supervise it, and return the exit code."""
    nodes = build_commands(launch_file, given)
    env = child_environment(share_dir(launch_file))
    stopping = {"reason": None}

    def on_signal(signum, _frame):
        stopping["reason"] = stopping["reason"] or signal.Signals(signum).name

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        for n in nodes:
            print(f"[launch_graph] starting {n.name}: {' '.join(n.command[1:])}", flush=True)
            # Own session: a terminal's Ctrl-C reaches the runner only, which forwards it once.
            n.proc = subprocess.Popen(n.command, env=env, start_new_session=True)
        while stopping["reason"] is None:
            for n in nodes:
                rc = n.proc.poll()
                if rc is None:
                    continue
                if rc != 0 and code == 0:
                    code = rc
                if n.required and stopping["reason"] is None:
                    stopping["reason"] = f"required node {n.name} exited with code {rc}"
            time.sleep(POLL_S)
        print(f"[launch_graph] stopping the graph: {stopping['reason']}", flush=True)
        interrupt(nodes)
        wait_all(nodes, STOP_TIMEOUT_S)
    finally:
        interrupt(nodes)
        wait_all(nodes, 10.0)
        for s, handler in old.items():
            signal.signal(s, handler)
    for n in nodes:
        rc = n.proc.returncode if n.proc is not None else 0
        # Killed by our own SIGINT counts as a normal stop.
        if rc not in (0, -signal.SIGINT):
            print(f"[launch_graph] {n.name} exited with {exit_description(rc)}", flush=True)
            if code == 0:
                code = rc if rc > 0 else 1
    return code


def parse_argv(argv: list[str]) -> tuple[str, dict[str, str], bool]:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        raise SystemExit(0 if argv else 2)
    launch_file, given, dry = argv[0], {}, False
    for item in argv[1:]:
        if item == "--dry-run":
            dry = True
        elif ":=" in item:
            key, value = item.split(":=", 1)
            given[key] = value
        else:
            raise LaunchGraphError(f"launch arguments are name:=value, got '{item}'")
    return launch_file, given, dry


def main(argv: list[str] | None = None) -> int:
    environment.apply()
    try:
        launch_file, given, dry = parse_argv(sys.argv[1:] if argv is None else argv)
        if dry:
            for n in build_commands(launch_file, given):
                print(f"{n.name}{' (required)' if n.required else ''}: {' '.join(n.command)}")
            return 0
        return run(launch_file, given)
    except LaunchGraphError as exc:
        print(f"[launch_graph] error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
