"""Helpers for the reconstruct-node tests: a probe node that feeds images and records outputs."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / ".work" / "assets" / "media"
SAMPLE_VIDEO = MEDIA / "sports2d_demo.mp4"
NODE_EXE = REPO / "scripts" / "nodes" / "reconstruct"
# Frame of the sample video with both people upright and fully in view (640 px wide).
SAMPLE_FRAME_INDEX = 120
TEST_FRAME_ID = "test_camera_optical_frame"


# Test frames stay below Fast DDS's default 512 KiB shared-memory segment (480x270 rgb8 = 389 KB):
# larger best-effort samples go over fragmented UDP and are often lost on a loaded machine.
TEST_WIDTH = 480


def sample_frame(index: int = SAMPLE_FRAME_INDEX, width: int = TEST_WIDTH) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame of the sample video (prepared by scripts/setup.sh)."""
    from smplr_core.reconstruct import iter_frames

    assert SAMPLE_VIDEO.is_file(), f"{SAMPLE_VIDEO} is missing: run scripts/setup.sh"
    for i, rgb in iter_frames(SAMPLE_VIDEO, width):
        if i == index:
            return rgb
    raise AssertionError(f"{SAMPLE_VIDEO} has fewer than {index + 1} frames")


def start_node(*ros_args: str) -> subprocess.Popen:
    """The reconstruct node as its own process (stdout+stderr captured)."""
    return subprocess.Popen([sys.executable, str(NODE_EXE), "--ros-args", *ros_args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# First start loads the networks and compiles; generous on a busy 2-core machine.
STARTUP_TIMEOUT_S = 180.0


@contextlib.contextmanager
def running_node(*ros_args: str, probe_name: str = "reconstruct_probe", output: list | None = None):
    """Start the reconstruct node, wait until it subscribes to the probe's images, and yield
    ``(probe, node_proc)``; on exit close the probe, shut rclpy down and stop the node. The
    node's printed output is appended to ``output`` when given."""
    import pytest
    import rclpy

    from ros_helpers import stop

    node_proc = start_node(*ros_args)
    rclpy.init()
    probe = Probe(rclpy, probe_name)
    try:
        ready = probe.spin_until(lambda: probe.image_pub.get_subscription_count() > 0
                                 or node_proc.poll() is not None, STARTUP_TIMEOUT_S)
        if not ready or node_proc.poll() is not None:
            pytest.fail("reconstruct node did not start:\n" + stop(node_proc))
        probe.spin_for(1.0)   # discovery of the node's publishers
        yield probe, node_proc
    finally:
        probe.close()
        rclpy.try_shutdown()
        text = stop(node_proc)
        print(text)
        if output is not None:
            output.append(text)


def run_node_until_exit(*ros_args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(NODE_EXE), "--ros-args", *ros_args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout_s)


class Probe:
    """A test node: publishes images on 'image', records every output topic of the node."""

    def __init__(self, rclpy, name: str = "reconstruct_probe"):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image
        from shape_msgs.msg import Mesh
        from visualization_msgs.msg import MarkerArray

        from smplr_ros.msg import People

        self.rclpy = rclpy
        self.node = rclpy.create_node(name)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, "image", qos)
        self.info_pub = self.node.create_publisher(CameraInfo, "camera_info", qos)
        self.people: list = []
        self.markers: list = []
        self.meshes: list = []
        self.diagnostics: list = []
        self.node.create_subscription(People, "/human_pose/people", self.people.append, 50)
        self.node.create_subscription(MarkerArray, "/human_pose/markers", self.markers.append, 50)
        self.node.create_subscription(Mesh, "/human_pose/mesh", self.meshes.append, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 50)
        self._seq = 0

    def spin_until(self, condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            self.rclpy.spin_once(self.node, timeout_sec=0.05)
        return condition()

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def header(self, frame_id: str = TEST_FRAME_ID):
        from std_msgs.msg import Header

        self._seq += 1
        return Header(stamp=self.node.get_clock().now().to_msg(), frame_id=frame_id)

    def send_rgb(self, rgb: np.ndarray, frame_id: str = TEST_FRAME_ID):
        from smplr_ros.image_conversion import rgb_to_image_msg

        msg = rgb_to_image_msg(rgb, self.header(frame_id))
        self.image_pub.publish(msg)
        return msg.header

    def send_raw(self, data: bytes, height: int, width: int, step: int, encoding: str):
        from sensor_msgs.msg import Image

        msg = Image(header=self.header(), height=height, width=width, step=step,
                    encoding=encoding, data=data)
        self.image_pub.publish(msg)
        return msg.header

    def send_until_answered(self, rgb: np.ndarray, timeout_s: float = 60.0,
                            resend_s: float = 3.0):
        """Publish ``rgb`` (again every ``resend_s``: the image subscription is best effort, as
        for a camera stream) until a People message answers one of the copies; return it."""
        deadline = time.monotonic() + timeout_s
        stamps = []
        while time.monotonic() < deadline:
            stamps.append(self.send_rgb(rgb).stamp)
            wait_until = min(deadline, time.monotonic() + resend_s)
            while time.monotonic() < wait_until:
                for m in self.people:
                    if m.header.stamp in stamps:
                        return m
                self.rclpy.spin_once(self.node, timeout_sec=0.05)
        return None

    def people_for(self, header, timeout_s: float = 60.0):
        """The People message answering the image with this header (or None)."""
        def find():
            for m in self.people:
                if m.header.stamp == header.stamp:
                    return m
            return None
        self.spin_until(lambda: find() is not None, timeout_s)
        return find()

    def latest_status(self, since_index: int = 0):
        """The newest DiagnosticStatus of the reconstruct node received after ``since_index``."""
        for array in reversed(self.diagnostics[since_index:]):
            for status in array.status:
                if status.name.endswith("reconstruct"):
                    return status
        return None

    def wait_status(self, predicate, timeout_s: float = 10.0):
        """Spin until a reconstruct DiagnosticStatus satisfying ``predicate`` arrives; return it."""
        start = len(self.diagnostics)
        found = {}

        def check():
            for array in self.diagnostics[start:]:
                for status in array.status:
                    if status.name.endswith("reconstruct") and predicate(status):
                        found["s"] = status
                        return True
            return False
        self.spin_until(check, timeout_s)
        return found.get("s")

    def close(self) -> None:
        self.node.destroy_node()


def status_values(status) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}
