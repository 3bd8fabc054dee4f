"""The launch file's graph data agrees with the nodes, the params file and CMake; the runner builds
the same graph from it (launch is not installable here: DESIGN §3.1)."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smplr_ros.launch_graph import LaunchGraphError, build_commands, load_graph
from smplr_ros.params import NODE_PARAMS, check, spec_table

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / "launch" / "reconstruct.launch.py"
PARAMS_FILE = REPO / "config" / "params.yaml"


def commands(**args):
    return {n.name: n for n in build_commands(LAUNCH_FILE, args)}


def test_every_node_of_the_graph_is_an_installed_executable_with_a_parameter_table():
    _, nodes = load_graph(LAUNCH_FILE)
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert 'file(GLOB SMPLR_NODE_SCRIPTS "${CMAKE_CURRENT_SOURCE_DIR}/scripts/nodes/*")' in cmake
    for spec in nodes:
        exe = REPO / "scripts" / "nodes" / spec["executable"]
        assert exe.is_file() and exe.stat().st_mode & 0o111, exe
        assert spec["name"] in NODE_PARAMS


def test_graph_parameters_are_declared_by_their_nodes():
    _, nodes = load_graph(LAUNCH_FILE)
    for spec in nodes:
        declared = spec_table(NODE_PARAMS[spec["name"]])
        assert set(spec["parameters"]) <= set(declared), spec["name"]


def test_params_file_names_only_declared_parameters_with_valid_values():
    data = yaml.safe_load(PARAMS_FILE.read_text())
    assert set(data) == set(NODE_PARAMS)
    for node, section in data.items():
        declared = spec_table(NODE_PARAMS[node])
        for name, value in section["ros__parameters"].items():
            assert name in declared, f"{node}.{name} is not a parameter of {node}"
            assert check(declared[name], value) is None, check(declared[name], value)


def test_launch_file_imports_without_the_launch_package():
    code = ("import sys; sys.modules['launch'] = None; sys.modules['launch_ros'] = None\n"
            f"from smplr_ros.launch_graph import load_graph; load_graph({str(LAUNCH_FILE)!r})")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_camera_only_graph_is_the_reconstruct_node_with_remapped_input():
    graph = commands(image="/camera/image_raw", camera_info="/camera/camera_info")
    assert list(graph) == ["reconstruct"]
    cmd = graph["reconstruct"].command
    assert cmd[cmd.index("--params-file") + 1] == str(PARAMS_FILE)
    assert "image:=/camera/image_raw" in cmd and "camera_info:=/camera/camera_info" in cmd
    assert "__node:=reconstruct" in cmd and graph["reconstruct"].required
    assert "image_reliable:=False" in cmd   # a camera's sensor-data (best effort) stream


def test_video_and_record_arguments_add_the_source_and_the_recorder():
    graph = commands(video="clip.mp4", record="out/x", width="640", device="cpu")
    assert list(graph) == ["video_source", "reconstruct", "recorder"]
    source = graph["video_source"].command
    assert "path:=clip.mp4" in source and "width:=640" in source
    # The source waits for both listeners when the recorder runs, for one otherwise.
    assert "wait_for_subscribers:=2" in source
    assert "wait_for_subscribers:=1" in commands(video="clip.mp4")["video_source"].command
    assert "output_dir:=out/x" in graph["recorder"].command
    assert "image_reliable:=True" in graph["reconstruct"].command
    assert graph["video_source"].required and not graph["recorder"].required


def test_unknown_launch_argument_is_rejected_with_the_accepted_ones():
    with pytest.raises(LaunchGraphError, match="unknown launch argument.*vidoe.*video"):
        commands(vidoe="clip.mp4")


def test_runner_reports_a_bad_argument_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "smplr_ros.launch_graph", str(LAUNCH_FILE),
                           "params_file:=/nonexistent.yaml"], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "params file not found: /nonexistent.yaml" in proc.stderr


def test_a_node_ended_by_a_signal_is_named_with_the_signal():
    import signal

    from smplr_ros.launch_graph import exit_description

    proc = subprocess.run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
    assert exit_description(proc.returncode) == "signal SIGTERM"
    assert exit_description(3) == "code 3"
    assert exit_description(-signal.SIGSEGV) == "signal SIGSEGV"
