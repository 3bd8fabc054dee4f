"""The whole graph started by the runner from the launch file: video_source -> reconstruct ->
recorder, each its own process over DDS; it ends with the video and leaves a rendered result."""
import signal
import subprocess
import sys
import time

import cv2
import pytest

from node_helpers import REPO, sample_frame

pytestmark = pytest.mark.ros

LAUNCH_FILE = REPO / "launch" / "reconstruct.launch.py"
CLIP_FRAMES = range(100, 124)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    for k, index in enumerate(CLIP_FRAMES):
        cv2.imwrite(str(folder / f"{k:03d}.png"), cv2.cvtColor(sample_frame(index), cv2.COLOR_RGB2BGR))
    return folder


def runner(*args):
    return subprocess.Popen([sys.executable, "-m", "smplr_ros.launch_graph", str(LAUNCH_FILE), *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_graph_ends_with_the_video_and_writes_video_and_contact_sheet(clip, tmp_path):
    proc = runner(f"video:={clip}", "rate:=6.0", f"record:={tmp_path}")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "required node video_source exited with code 0" in out
    assert "[video_source] published 24 frames" in out
    assert "[recorder] topic rates: image" in out and "latency image stamp -> people: p50" in out
    video = cv2.VideoCapture(str(tmp_path / "demo.mp4"))
    frames = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    assert frames >= 5, out
    sheet = cv2.imread(str(tmp_path / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] >= 4 * 400


def test_ctrl_c_stops_every_node_of_the_graph(clip):
    proc = runner(f"video:={clip}", "rate:=5.0", "loop:=true")
    try:
        deadline = time.monotonic() + 240
        lines = []
        # Wait until the reconstruct node is ready (it logs once its models are loaded).
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "ready:" in line or proc.poll() is not None:
                break
        assert proc.poll() is None, "".join(lines)
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + out
    assert proc.returncode == 0, out
    assert "stopping the graph: SIGINT" in out
    assert "[reconstruct] processed" in out and "[video_source] stopped after" in out
    assert "Traceback" not in out, out  # a clean stop: no node or helper thread dies with a trace
