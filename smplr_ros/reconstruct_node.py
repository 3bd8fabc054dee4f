"""ROS 2 node ``reconstruct``: camera images in, people's 3D pose and shape out.

Subscribes
  ``image``        sensor_msgs/Image        sensor-data QoS (best effort, keep last 5; reliable
                                            keep last 1 with ``image_reliable``)
  ``camera_info``  sensor_msgs/CameraInfo   optional; otherwise intrinsics from parameters
Publishes
  ``/human_pose/people``   smplr_ros/People                every processed frame (empty when nobody)
  ``/human_pose/markers``  visualization_msgs/MarkerArray  mesh + skeleton per person (while subscribed)
  ``/human_pose/mesh``     shape_msgs/Mesh                 mesh of the first person (while subscribed)
  ``/diagnostics``         diagnostic_msgs/DiagnosticArray rate, latency, dropped frames, last error

The node is a thin adapter (image_pipeline style): message -> numpy -> smplr_core.frame.Reconstructor
(front-end -> DAE -> SMPLR -> body model, or with ``frontend:=hourglass`` the front-end's person
boxes -> the paper's hourglass -> SMPLR -> body model) -> messages. Parameter changes are taken in
the parameter callback (``Reconstructor.apply`` for the frame path's settings), not per frame. Inference runs on a worker
thread, never in the subscription callback: the callback only keeps the newest frame (a one-slot
mailbox) and counts the frames it replaced, so a fast camera never builds a backlog — latency
stays one frame deep.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import fields

import numpy as np

from smplr_core.errors import describe
from smplr_core.locate import prepare_command
from smplr_ros import environment

NODE_NAME = "reconstruct"
PEOPLE_TOPIC = "/human_pose/people"
MARKERS_TOPIC = "/human_pose/markers"
MESH_TOPIC = "/human_pose/mesh"
DIAGNOSTICS_TOPIC = "/diagnostics"
# How long an error keeps /diagnostics at WARN/ERROR after it happened.
ERROR_HOLD_S = 5.0
# Minimum seconds between two log lines of the same kind (bad input can arrive at camera rate).
LOG_THROTTLE_S = 2.0
# Latency statistics over this many recent frames.
STATS_WINDOW = 100
# Skipped frames are summed up in one log line per this many seconds (skipping is by design).
SKIP_SUMMARY_S = 60.0
# Focal lengths accepted from camera_info or the parameters, as multiples of the image's longer
# side: a field of view across that side from about 169 degrees down to about 1.1 degrees.
FOCAL_RANGE = (0.05, 50.0)
# The publisher's shared-memory segment bounds the frames that travel whole (docs/ros.md).
SHM_NOTE = "16 MiB with config/fastdds_localhost.xml, 512 KiB by Fast DDS's default"


class StartupError(RuntimeError):
    """The node cannot start; the message is one line naming what to fix."""


class Mailbox:
    """One-slot, newest-wins hand-over from the subscription callback to the worker thread."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self.received = 0
        self.dropped = 0
        self.closed = False

    def put(self, item) -> None:
        with self._cond:
            self.received += 1
            if self._item is not None:
                self.dropped += 1       # the worker never saw it: a newer frame replaces it
            self._item = item
            self._cond.notify()

    def take(self, timeout_s: float):
        """The newest item, or None after ``timeout_s`` or when closed."""
        with self._cond:
            if self._item is None and not self.closed:
                self._cond.wait(timeout_s)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class Stats:
    """Counters and recent latencies for /diagnostics and the exit summary (thread-safe enough:
    single writer, readers tolerate a torn read of a counter)."""

    def __init__(self):
        self.processed = 0
        self.bad_frames = 0
        self.errors = 0
        self.last_error = ""
        self.last_error_level = 0
        self.last_error_time = -1e9
        self.latency_ms = deque(maxlen=STATS_WINDOW)       # image stamp -> People published
        self.processing_ms = deque(maxlen=STATS_WINDOW)    # frame received -> People published
        self.inference_ms = deque(maxlen=STATS_WINDOW)     # front-end + 3D stages only
        self.done_times = deque(maxlen=STATS_WINDOW)
        self.first_done = None
        self.people_last = 0
        self.dropped_small = 0  # people the ghost filters removed, since start
        self.label_checks = 0   # people the accurate preset's heavy network checked, since start
        self.dropped_far = 0
        self.dropped_turned = 0
        self.lost = 0                    # samples DDS reported lost before they reached the node
        self.start = time.monotonic()

    def rate_hz(self) -> float:
        now = time.monotonic()
        recent = [t for t in self.done_times if now - t <= 2.0]
        if len(recent) < 2:
            return float(len(recent)) / 2.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


def intrinsics_problem(values: dict[str, float], width: int, height: int) -> str | None:
    """Why the intrinsics ``values`` ({name: value} for fx, fy, cx, cy in that order, named as the
    user knows them) cannot be used for a ``width`` x ``height`` image, or None when they can."""
    (fx_name, fx), (fy_name, fy), (cx_name, cx), (cy_name, cy) = values.items()
    for name, value in values.items():
        if not np.isfinite(value):
            return f"{name} is {value}"
    side = max(width, height)
    low, high = FOCAL_RANGE[0] * side, FOCAL_RANGE[1] * side
    for name, value in ((fx_name, fx), (fy_name, fy)):
        if not low <= value <= high:
            return (f"{name} = {value:g} px is outside [{low:g}, {high:g}] ({FOCAL_RANGE[0]:g} to "
                    f"{FOCAL_RANGE[1]:g} x the image's longer side, {side} px)")
    for name, value, size, axis in ((cx_name, cx, width, "width"), (cy_name, cy, height, "height")):
        if not 0.0 <= value <= size:
            return f"{name} = {value:g} px is outside the image ({axis} {size} px)"
    return None


def camera_info_problem(info, image_size: tuple[int, int] | None) -> str | None:
    """Why a sensor_msgs/CameraInfo cannot be used (naming the field), or None. ``image_size``
    (width, height) of the latest image, when one has arrived."""
    width, height = int(info.width), int(info.height)
    if width <= 0 or height <= 0:
        return f"width x height is {width}x{height}"
    if image_size is not None and (width, height) != tuple(image_size):
        return (f"its size {width}x{height} does not match the image's "
                f"{image_size[0]}x{image_size[1]}")
    k = [float(v) for v in info.k]
    return intrinsics_problem({"K[0] (fx)": k[0], "K[4] (fy)": k[4], "K[2] (cx)": k[2],
                               "K[5] (cy)": k[5]}, width, height)


def _percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def make_node_class():
    """The Node subclass (built after environment.apply() so that rclpy is imported only then)."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from rclpy.node import Node
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image
    from shape_msgs.msg import Mesh
    from std_msgs.msg import Header
    from visualization_msgs.msg import MarkerArray

    from smplr_core.frontends.tracker import validate_image
    from smplr_core.frame import FrameSettings, Reconstructor, settings_from
    from smplr_core.frontends.labelcheck import preset_problem
    from smplr_core.reconstruct import default_intrinsics, name_tables
    from smplr_ros import markers
    from smplr_ros.image_conversion import ImageConversionError, image_msg_to_rgb
    from smplr_ros.msg import People
    from smplr_ros.params import RECONSTRUCT_PARAMS, declare

    FRAME_SETTINGS = {f.name for f in fields(FrameSettings)}

    class ReconstructNode(Node):
        def __init__(self):
            super().__init__(NODE_NAME)
            # The parameters' current values: read by the worker at the start of each frame,
            # replaced (never changed in place) by the parameter callback.
            self.params = declare(self, RECONSTRUCT_PARAMS)   # raises ParameterError
            self.reconstructor = self._load_models()
            self.add_post_set_parameters_callback(self._on_parameters_set)
            warm_s = self.reconstructor.warm_up()
            self.get_logger().info(f"models loaded; graphs built for up to "
                                   f"{self.params['max_people']} people in {warm_s:.1f} s")
            from smplr_core.body.joint_names import SMPL_PARENTS

            self.names = name_tables()
            faces = self.reconstructor.faces
            self.marker_tracks = markers.MarkerTracks(faces, [int(p) for p in SMPL_PARENTS])
            self.mesh_builder = markers.MeshBuilder(faces)
            self.camera_info = None        # last good one: (width, height, (fx, fy, cx, cy))
            self.info_rejection = ""       # why the latest camera_info was not used ("" = it was)
            self.info_rejection_time = -1e9
            self.info_rejected = 0
            self.param_rejection = ""      # why fx/fy/cx/cy are not used for the current images
            self.image_size = None
            self.mailbox = Mailbox()
            self.stats = Stats()
            self.diag_seen = {"dropped": 0, "received": 0, "time": time.monotonic()}
            self.summary_seen = {"dropped": 0, "received": 0, "processed": 0,
                                 "time": time.monotonic()}
            self.last_log = {}
            self.logged_once = {}

            self.people_pub = self.create_publisher(People, PEOPLE_TOPIC, QoSProfile(depth=10))
            self.markers_pub = self.create_publisher(MarkerArray, MARKERS_TOPIC, QoSProfile(depth=2))
            self.mesh_pub = self.create_publisher(Mesh, MESH_TOPIC, QoSProfile(depth=2))
            self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC,
                                                  QoSProfile(depth=10))
            # Subscribe only once the models are loaded: a source waiting for subscribers then
            # starts exactly when frames can be processed.
            # Newest frame wins in both cases: the reader keeps one frame, the worker takes it.
            image_qos = (QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
                         if self.params["image_reliable"] else qos_profile_sensor_data)
            self.image_sub = self.create_subscription(
                Image, "image", self._on_image, image_qos,
                event_callbacks=SubscriptionEventCallbacks(message_lost=self._on_lost))
            self.info_sub = self.create_subscription(CameraInfo, "camera_info", self._on_info,
                                                     qos_profile_sensor_data)
            self.diag_timer = self.create_timer(self.params["diagnostics_period_s"],
                                                self._publish_diagnostics)
            self.worker = threading.Thread(target=self._work, name="smplr-inference", daemon=True)
            self.worker.start()
            self.get_logger().info(
                f"ready: device={self.params['device']} frontend={self.params['frontend']} "
                f"frontend_model={self.params['frontend_model']} preset={self.params['preset']} "
                f"max_people={self.params['max_people']}; listening on "
                f"{self.image_sub.topic_name}")
            if not self.params["image_reliable"]:
                self.get_logger().info(
                    f"image subscription is best effort: frames larger than the DDS shared-"
                    f"memory segment of the publisher ({SHM_NOTE}) travel as UDP fragments and "
                    f"may be lost; lost ones are counted as frames_lost on /diagnostics "
                    f"(image_reliable:=true with a reliable publisher receives them)")

        # -- startup -------------------------------------------------------------------------
        def _load_models(self):
            from pathlib import Path

            p = self.params
            for name in ("body_model_path", "weights_dir"):
                if p[name] and not Path(p[name]).exists():
                    what = "body model file" if name == "body_model_path" else "weights folder"
                    raise StartupError(
                        f"{what} not found: {p[name]} (parameter '{name}'); fix the path or set "
                        f"{name}:='' for the shipped default")
            problem = preset_problem(p["preset"], p["frontend"], p["frontend_model"])
            if problem:
                raise StartupError(f"invalid parameters: {problem} (in the params file or with "
                                   f"--ros-args -p preset:=fast)")
            import torch

            torch.set_num_threads(p["torch_threads"])
            if p["device"] == "cuda":
                if not torch.cuda.is_available():
                    raise StartupError("parameter 'device' is 'cuda' but torch sees no CUDA "
                                       "device; set device:=cpu")
            try:
                # A live stream: no frame runs the detector on every tile at once (the first
                # frame would, 0.2 s; docs/ros.md, Startup).
                return Reconstructor(p["frontend_model"], p["device"], p["weights_dir"] or None,
                                     p["body_model_path"] or None, frontend=p["frontend"],
                                     hourglass_model=p["hourglass_model"], settings=settings_from(p),
                                     live_stream=True, preset=p["preset"])
            except Exception as exc:  # any loader failure becomes one line naming the inputs
                raise StartupError(
                    f"cannot load the models ({describe(exc)}); parameters "
                    f"weights_dir='{p['weights_dir']}' body_model_path='{p['body_model_path']}' "
                    f"frontend='{p['frontend']}' frontend_model='{p['frontend_model']}'; fix or "
                    f"clear them; shipped files in weights/ that are damaged are restored with "
                    f"'git checkout -- weights/' in a source checkout, setup-made files with "
                    f"{prepare_command()}") from None

        # -- callbacks (executor thread: cheap only) -------------------------------------------
        def _on_image(self, msg) -> None:
            self.mailbox.put((msg, time.monotonic()))

        def _on_info(self, msg) -> None:
            problem = camera_info_problem(msg, self.image_size)
            if problem is None:
                k = msg.k
                self.camera_info = (int(msg.width), int(msg.height),
                                    np.array([k[0], k[4], k[2], k[5]], np.float32))
                if self.info_rejection:
                    self.get_logger().info(f"camera_info accepted again ({self._info_text()})")
                self.info_rejection = ""
                self.logged_once.pop("camera_info", None)
            else:
                self._reject_info(problem)

        def _reject_info(self, problem: str, message: bool = True) -> None:
            """Keep the last good intrinsics; one WARN line per distinct reason. ``message``:
            a camera_info message was rejected (counted), not a stored one for another size."""
            self.info_rejection, self.info_rejection_time = problem, time.monotonic()
            self.info_rejected += int(message)
            using = ("the last good camera_info" if self.camera_info is not None
                     else "the parameters fx, fy, cx, cy")
            self._log_once("camera_info", f"camera_info rejected: {problem}; using {using}")

        def _on_lost(self, info) -> None:
            self.stats.lost = int(info.total_count)
            self._log_throttled(
                "lost", f"{info.total_count_change} image(s) lost before reaching the node "
                f"({info.total_count} in total): best-effort frames larger than the publisher's "
                f"DDS shared-memory segment travel as UDP fragments; publish reliably and set "
                f"image_reliable:=true, or send smaller frames (docs/ros.md, Image size and DDS)",
                level=1)

        # -- worker thread -------------------------------------------------------------------
        def _work(self) -> None:
            while not self.mailbox.closed:
                item = self.mailbox.take(timeout_s=0.5)
                if item is None:
                    continue
                try:
                    self._process(*item)
                except Exception as exc:  # keep serving: report and go on with the next frame
                    if not self.context.ok():
                        return   # shutting down (Ctrl-C): publishers are gone, nothing to report
                    self._report(2, f"processing failed: {describe(exc)}",
                                 key="processing")
                    self.stats.errors += 1

        def _on_parameters_set(self, parameters) -> None:
            """After a parameter change was accepted (params.declare checked it): the new values
            for the next frames; the frame path's settings go to the Reconstructor in one call."""
            changed = {p.name: p.value for p in parameters if p.name in self.params}
            if not changed:
                return
            self.params = {**self.params, **changed}
            if FRAME_SETTINGS.intersection(changed):
                self.reconstructor.apply(settings_from(self.params))

        def _intrinsics(self, width: int, height: int, p: dict) -> np.ndarray:
            """The last good camera_info when it is for this image size, else the parameters
            (checked the same way; the 60-degree default when they cannot be used)."""
            self.image_size = (width, height)
            info = self.camera_info
            if info is not None:
                if info[:2] == (width, height):
                    return info[2]
                self._reject_info(f"its size {info[0]}x{info[1]} does not match the image's "
                                  f"{width}x{height}", message=False)
            k = default_intrinsics(width, height, p["fx"], p["fy"], p["cx"], p["cy"])
            problem = intrinsics_problem(dict(zip(("fx", "fy", "cx", "cy"), map(float, k))),
                                         width, height)
            self.param_rejection = problem or ""
            if problem is None:
                self.logged_once.pop("parameters", None)
                return k
            self._log_once("parameters", f"parameters rejected for {width}x{height} images: "
                                         f"{problem}; using the default intrinsics")
            return default_intrinsics(width, height)

        def _info_text(self) -> str:
            if self.camera_info is None:
                return "none (parameters)"
            w, h, (fx, fy, cx, cy) = self.camera_info
            return f"{w}x{h} fx={fx:.1f} fy={fy:.1f} cx={cx:.1f} cy={cy:.1f}"

        def _process(self, msg, received_at: float) -> None:
            p = self.params
            try:
                rgb = image_msg_to_rgb(msg)
                validate_image(rgb)   # e.g. 1x1: too small for the front-end
            except (ImageConversionError, ValueError) as exc:
                self.stats.bad_frames += 1
                self._report(1, f"bad image on '{self.image_sub.topic_name}' "
                                f"({msg.width}x{msg.height} '{msg.encoding}'): {exc}", key="image")
                return
            stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            result = self.reconstructor(rgb, self._intrinsics(rgb.shape[1], rgb.shape[0], p), stamp_s=stamp)
            header = Header(stamp=msg.header.stamp, frame_id=p["frame_id"] or msg.header.frame_id)
            processing_ms = 1000.0 * (time.monotonic() - received_at)
            self.people_pub.publish(markers.people_message(
                header, result, self.names, rgb.shape[1], rgb.shape[0], processing_ms))
            self._record_latency(msg, processing_ms)
            self.stats.inference_ms.append(result.frontend_ms + result.lift_ms)
            if len(result) == 0 and self.stats.people_last > 0:
                self._log_throttled("nobody", "nobody in view: publishing empty People messages")
            self.stats.people_last = len(result)
            self.stats.dropped_small += result.dropped_small
            self.stats.label_checks += result.label_checks
            self.stats.dropped_far += result.dropped_far
            self.stats.dropped_turned += result.dropped_turned
            # Markers and meshes are large (tens of thousands of points): built only for someone
            # who listens, after People is out, and serialised straight from the arrays.
            if self.markers_pub.get_subscription_count() > 0:
                self.markers_pub.publish(self.marker_tracks.frame(
                    header, result, p["marker_mesh_decimation"] if p["publish_mesh"] else None))
            if p["publish_mesh"] and len(result) and result.valid[0] \
                    and self.mesh_pub.get_subscription_count() > 0:
                self.mesh_pub.publish(self.mesh_builder(result.vertices[0]))

        def _record_latency(self, msg, processing_ms: float) -> None:
            now_ns = self.get_clock().now().nanoseconds
            stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            s = self.stats
            s.processed += 1
            s.processing_ms.append(processing_ms)
            if stamp_ns > 0:
                s.latency_ms.append((now_ns - stamp_ns) / 1e6)
            s.done_times.append(time.monotonic())
            if s.first_done is None:
                s.first_done = s.done_times[-1]

        # -- reporting -----------------------------------------------------------------------
        def _log_throttled(self, key: str, line: str, level: int = 0) -> None:
            now = time.monotonic()
            if now - self.last_log.get(key, -1e9) < LOG_THROTTLE_S:
                return
            self.last_log[key] = now
            # rclpy pins one severity per call site, hence three separate calls.
            log = self.get_logger()
            if level == 0:
                log.info(line)
            elif level == 1:
                log.warning(line)
            else:
                log.error(line)

        def _log_once(self, key: str, line: str) -> None:
            """One WARN line per distinct ``line`` of this kind (it repeats at camera rate)."""
            if self.logged_once.get(key) != line:
                self.logged_once[key] = line
                self.get_logger().warning(line)

        def _report(self, level: int, line: str, key: str) -> None:
            """Remember an error for /diagnostics (level 1 WARN, 2 ERROR) and log it, throttled."""
            s = self.stats
            s.last_error, s.last_error_level, s.last_error_time = line, level, time.monotonic()
            self._log_throttled(key, line, level)

        def _since(self, seen: dict, **counts) -> dict:
            """Counts since the previous call with ``seen`` (and the seconds), updating ``seen``."""
            now = time.monotonic()
            delta = {k: v - seen[k] for k, v in counts.items()}
            delta["seconds"] = max(now - seen["time"], 1e-6)
            seen.update(counts, time=now)
            return delta

        def _publish_diagnostics(self) -> None:
            s, box = self.stats, self.mailbox
            now = time.monotonic()
            period = self._since(self.diag_seen, dropped=box.dropped, received=box.received)
            if now - self.summary_seen["time"] >= SKIP_SUMMARY_S:
                self._log_skip_summary()
            min_rate = float(self.params["min_rate_hz"])
            rate, input_rate = s.rate_hz(), period["received"] / period["seconds"]
            level, message = DiagnosticStatus.OK, "ok"
            if s.processed == 0 and box.received == 0:
                message = f"waiting for images on {self.image_sub.topic_name}"
            # Skipping frames is by design (newest frame wins): the level follows the rate only.
            if min_rate > 0 and period["received"] > 0 and s.first_done is not None \
                    and now - s.first_done >= 2.0 and rate < min_rate:
                level = DiagnosticStatus.WARN
                message = (f"processing {rate:.1f} frames/s, below min_rate_hz {min_rate:g} "
                           f"(input {input_rate:.1f} frames/s)")
            if self.param_rejection:
                level = DiagnosticStatus.WARN
                message = f"parameters fx, fy, cx, cy rejected: {self.param_rejection}"
            if self.info_rejection and now - self.info_rejection_time < ERROR_HOLD_S:
                level = DiagnosticStatus.WARN
                message = f"camera_info rejected: {self.info_rejection}"
            if now - s.last_error_time < ERROR_HOLD_S:
                level = max(level, DiagnosticStatus.WARN if s.last_error_level == 1
                            else DiagnosticStatus.ERROR)
                message = s.last_error
            values = {
                "rate_hz": f"{rate:.2f}",
                "input_rate_hz": f"{input_rate:.2f}",
                "min_rate_hz": f"{min_rate:g}",
                "skip_rate": (f"{period['dropped'] / period['received']:.2f}"
                              if period["received"] else "0.00"),
                "latency_ms_p50": f"{_percentile(s.latency_ms, 50):.1f}",
                "latency_ms_p95": f"{_percentile(s.latency_ms, 95):.1f}",
                "processing_ms_p50": f"{_percentile(s.processing_ms, 50):.1f}",
                "inference_ms_p50": f"{_percentile(s.inference_ms, 50):.1f}",
                "frames_received": str(box.received),
                "frames_processed": str(s.processed),
                "frames_dropped": str(box.dropped),
                "frames_lost": str(s.lost),
                "bad_frames": str(s.bad_frames),
                "errors": str(s.errors),
                "last_error": s.last_error,
                "people_last_frame": str(s.people_last),
                "people_dropped_small": str(s.dropped_small),
                "people_dropped_far": str(s.dropped_far),
                "people_dropped_turned": str(s.dropped_turned),
                "camera_info": (f"rejected: {self.info_rejection}" if self.info_rejection
                                else self._info_text()),
                "camera_info_rejected": str(self.info_rejected),
                "device": self.params["device"],
                "frontend": self.params["frontend"],
                "frontend_model": self.params["frontend_model"],
                "preset": self.params["preset"],
                "label_checks": str(s.label_checks),
            }
            status = DiagnosticStatus(level=level, name=f"smplr: {self.get_name()}",
                                      message=message, hardware_id="smplr_ros",
                                      values=[KeyValue(key=k, value=v) for k, v in values.items()])
            array = DiagnosticArray(status=[status])
            array.header.stamp = self.get_clock().now().to_msg()
            self.diag_pub.publish(array)

        def _log_skip_summary(self) -> None:
            """One INFO line a minute when frames were skipped (instead of one per period)."""
            s, box = self.stats, self.mailbox
            d = self._since(self.summary_seen, dropped=box.dropped, received=box.received,
                            processed=s.processed)
            if d["dropped"] > 0:
                self.get_logger().info(
                    f"last {d['seconds']:.0f} s: processed {d['processed']} of {d['received']} "
                    f"frames ({d['processed'] / d['seconds']:.1f}/s), skipped {d['dropped']} "
                    f"(input faster than processing; newest frame wins)")

        def summary(self) -> str:
            s, box = self.stats, self.mailbox
            elapsed = max(time.monotonic() - s.start, 1e-6)
            return (f"processed {s.processed} frames, skipped {box.dropped} of {box.received}, "
                    f"bad {s.bad_frames}, errors {s.errors}; latency p50 "
                    f"{_percentile(s.latency_ms, 50):.1f} ms p95 {_percentile(s.latency_ms, 95):.1f}"
                    f" ms over the last {len(s.latency_ms)} frames; up {elapsed:.0f} s")

        def close(self) -> None:
            self.mailbox.close()
            self.worker.join(timeout=5.0)

    return ReconstructNode


def main(argv: list[str] | None = None) -> int:
    environment.apply()
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from smplr_ros.params import ParameterError

    rclpy.init(args=sys.argv if argv is None else argv)
    node = None
    try:
        try:
            node = make_node_class()()
        except (ParameterError, StartupError) as exc:
            print(f"[{NODE_NAME}] error: {exc}", file=sys.stderr, flush=True)
            return 2
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
            print(f"[{NODE_NAME}] {node.summary()}", flush=True)
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
