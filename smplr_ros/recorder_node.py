"""ROS 2 node ``recorder``: renders what the graph saw and estimated, and measures the graph.

Subscribes ``image`` (sensor_msgs/Image), ``camera_info`` (optional) and ``/human_pose/people``
(smplr_ros/People), matches people messages to images by header stamp, and draws each person's
mesh and skeleton over the frame plus a 3D side view (smplr_core.render). Writes
``<output_dir>/<video_name>`` (MP4, mp4v) and ``<output_dir>/contact_sheet.png`` when it stops, and
prints the topic rates and the image-stamp -> people latency.

The mesh comes from the People message's SMPL parameters run through the same body model as the
reconstruct node (``body_model_path`` must match). Rendering runs on a worker thread at a lower
CPU priority (nice) so that recording does not slow down the node it measures.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from smplr_ros import environment

NODE_NAME = "recorder"
PEOPLE_TOPIC = "/human_pose/people"
# Images kept while waiting for their People message (the node skips frames it cannot keep up
# with, so most unmatched images are simply never answered).
PENDING_IMAGES = 90
# Frames waiting to be drawn; beyond this the oldest wait is dropped from the video.
RENDER_QUEUE = 400
NICE_INCREMENT = 10
# Longest time one drawn frame is held in the video (a pause in the input is not replayed).
MAX_REPEAT_S = 1.0


def stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class TopicMeter:
    """Message count and arrival times of one topic (rate = count over the span)."""

    def __init__(self):
        self.times: list[float] = []

    def tick(self) -> None:
        self.times.append(time.monotonic())

    def rate_hz(self) -> float:
        if len(self.times) < 2:
            return 0.0
        return (len(self.times) - 1) / max(self.times[-1] - self.times[0], 1e-9)


def people_arrays(msg) -> dict:
    """People message -> arrays (N first) for the body model and the renderer."""
    n = len(msg.people)
    get = lambda f, shape: np.array([f(p) for p in msg.people], np.float32).reshape(shape)  # noqa: E731
    return {
        "track_ids": [int(p.id) for p in msg.people],
        "valid": np.array([bool(p.has_3d) for p in msg.people], bool),
        "joints": get(lambda p: [(q.x, q.y, q.z) for q in p.joints], (n, -1, 3)) if n else
        np.zeros((0, 24, 3), np.float32),
        "betas": get(lambda p: list(p.betas), (n, 10)),
        "global_orient": get(lambda p: list(p.global_orient), (n, 3)),
        "body_pose": get(lambda p: list(p.body_pose), (n, 23, 3)),
        "transl": get(lambda p: (p.translation.x, p.translation.y, p.translation.z), (n, 3)),
    }


def main(argv: list[str] | None = None) -> int:
    environment.apply()
    import rclpy
    import torch
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    from smplr_core.body import load_body_model
    from smplr_core.body.joint_names import SMPL_PARENTS
    from smplr_core.reconstruct import default_intrinsics
    from smplr_core.render import VideoRenderer
    from smplr_ros.image_conversion import ImageConversionError, image_msg_to_rgb
    from smplr_ros.msg import People
    from smplr_ros.params import RECORDER_PARAMS, ParameterError, declare

    rclpy.init(args=sys.argv if argv is None else argv)
    node = rclpy.create_node(NODE_NAME)
    try:
        params = declare(node, RECORDER_PARAMS)
        body = load_body_model(params["body_model_path"] or None, device="cpu")
    except (ParameterError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"[{NODE_NAME}] error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
        return 2
    try:
        os.nice(NICE_INCREMENT)
    except OSError:
        pass
    torch.set_num_threads(1)
    faces = body.faces.detach().cpu().numpy() if hasattr(body.faces, "detach") else \
        np.asarray(body.faces)
    out_dir = Path(params["output_dir"])
    video_path = out_dir / params["video_name"]
    sheet_path = out_dir / "contact_sheet.png"

    log = node.get_logger()
    meters = {"image": TopicMeter(), "people": TopicMeter()}
    latency_ms: list[float] = []
    processing_ms: list[float] = []
    people_count: list[int] = []
    pending: OrderedDict[int, tuple] = OrderedDict()
    infos: OrderedDict[int, object] = OrderedDict()
    early_people: OrderedDict[int, object] = OrderedDict()
    work: queue.Queue = queue.Queue(maxsize=RENDER_QUEUE)
    lock = threading.Lock()
    state = {"renderer": None, "frames": 0, "lost": 0, "first_stamp": None, "last_stamp": None}

    def enqueue(image_msg, people_msg) -> None:
        try:
            work.put_nowait((image_msg, people_msg))
        except queue.Full:
            state["lost"] += 1

    def on_image(msg) -> None:
        meters["image"].tick()
        key = stamp_ns(msg.header.stamp)
        with lock:
            if key in early_people:
                enqueue(msg, early_people.pop(key))
                return
            pending[key] = msg
            while len(pending) > PENDING_IMAGES:
                pending.popitem(last=False)

    def on_info(msg) -> None:
        with lock:
            infos[stamp_ns(msg.header.stamp)] = msg
            while len(infos) > PENDING_IMAGES:
                infos.popitem(last=False)

    def on_people(msg) -> None:
        meters["people"].tick()
        now_ns = node.get_clock().now().nanoseconds
        key = stamp_ns(msg.header.stamp)
        latency_ms.append((now_ns - key) / 1e6)
        processing_ms.append(float(msg.processing_ms))
        people_count.append(len(msg.people))
        with lock:
            image = pending.pop(key, None)
            if image is None:
                early_people[key] = msg
                while len(early_people) > PENDING_IMAGES:
                    early_people.popitem(last=False)
                return
        enqueue(image, msg)

    def intrinsics_for(image_msg, width: int, height: int) -> np.ndarray:
        with lock:
            info = infos.get(stamp_ns(image_msg.header.stamp))
        if info is not None and info.k[0] > 0:
            return np.array([info.k[0], info.k[4], info.k[2], info.k[5]], np.float32)
        return default_intrinsics(width, height)

    def render(image_msg, people_msg) -> None:
        rgb = image_msg_to_rgb(image_msg)
        arrays = people_arrays(people_msg)
        vertices = None
        if len(arrays["track_ids"]):
            with torch.no_grad():
                out = body(torch.from_numpy(arrays["betas"]), torch.from_numpy(arrays["global_orient"]),
                           torch.from_numpy(arrays["body_pose"]), torch.from_numpy(arrays["transl"]))
            vertices = out.vertices.numpy()
        if state["renderer"] is None:
            state["renderer"] = VideoRenderer(video_path, params["fps"], faces, SMPL_PARENTS,
                                              side_view=params["side_view"],
                                              sheet_frames=params["contact_sheet_frames"],
                                              sheet_path=sheet_path)
            state["first_stamp"] = state["last_stamp"] = stamp_ns(image_msg.header.stamp)
        now = stamp_ns(image_msg.header.stamp)
        t = (now - state["first_stamp"]) / 1e9
        # Real-time playback: this frame stands for the time since the previous drawn one.
        gap_s = min(max((now - state["last_stamp"]) / 1e9, 0.0), MAX_REPEAT_S)
        state["last_stamp"] = now
        state["renderer"].add_arrays(rgb, intrinsics_for(image_msg, rgb.shape[1], rgb.shape[0]),
                                     arrays["track_ids"], arrays["joints"], vertices,
                                     arrays["valid"],
                                     label=f"t={t:5.2f} s  people {len(arrays['track_ids'])}",
                                     repeat=max(1, round(gap_s * params["fps"])))
        state["frames"] += 1

    def render_loop() -> None:
        while True:
            item = work.get()
            if item is None:
                return
            if state["frames"] >= params["max_frames"]:
                continue
            try:
                render(*item)
            except (ImageConversionError, ValueError, RuntimeError) as exc:
                log.warning(f"cannot draw a frame: {exc}", throttle_duration_sec=2.0)

    qos = QoSProfile(depth=30, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(Image, "image", on_image, qos)
    node.create_subscription(CameraInfo, "camera_info", on_info, qos)
    node.create_subscription(People, PEOPLE_TOPIC, on_people, QoSProfile(depth=30))
    renderer_thread = threading.Thread(target=render_loop, name="smplr-render", daemon=True)
    renderer_thread.start()
    log.info(f"recording to {video_path}")
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        work.put(None)
        renderer_thread.join()
        written = state["renderer"].close() if state["renderer"] is not None else []
        lat = np.array(latency_ms) if latency_ms else np.array([np.nan])
        proc = np.array(processing_ms) if processing_ms else np.array([np.nan])
        lines = [
            f"[{NODE_NAME}] topic rates: image {meters['image'].rate_hz():.1f} Hz "
            f"({len(meters['image'].times)} msgs), {PEOPLE_TOPIC} {meters['people'].rate_hz():.1f} Hz "
            f"({len(meters['people'].times)} msgs)",
            f"[{NODE_NAME}] latency image stamp -> people: p50 {np.nanpercentile(lat, 50):.1f} ms, "
            f"p95 {np.nanpercentile(lat, 95):.1f} ms; node processing p50 "
            f"{np.nanpercentile(proc, 50):.1f} ms; people per frame: "
            f"{(np.mean(people_count) if people_count else 0):.2f}",
            f"[{NODE_NAME}] rendered {state['frames']} frames"
            + (f" ({state['lost']} not drawn: render queue full)" if state["lost"] else ""),
        ]
        lines += [f"[{NODE_NAME}] wrote {p}" for p in written]
        if not written:
            lines.append(f"[{NODE_NAME}] nothing written: no People message matched an image")
        print("\n".join(lines), flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
