"""The frame path: one RGB image -> everyone in it with 3D joints, SMPL parameters and a mesh.

    rgb ─► PoseTracker (BlazePose 2D keypoints, track ids, boxes) ─► Lift ─► PipelineOutput ─► FrameResult
                                         Lift: DAE -> SMPLR -> body model   (``pipeline.Pipeline``)
                                            or hourglass -> SMPLR -> body   (``frontends.hourglass.pipeline``)

Both lifts have one interface (:class:`Lift`) and one batched result type
(:class:`smplr_core.pipeline.PipelineOutput`, on the lift's device). :class:`Reconstructor` turns
that into the numpy :class:`FrameResult` with one host copy per frame. The ROS node and the
``smplr-reconstruct`` command are thin callers of :class:`Reconstructor`; settings that may change
between frames go through :meth:`Reconstructor.apply` (:class:`FrameSettings`). No ROS here.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, fields, replace
from typing import Protocol

import numpy as np
import torch

from smplr_core.body.keypoints import NUM_KEYPOINTS
from smplr_core.frontends.labelcheck import CHECK_MODEL, CheckSchedule, preset_problem
from smplr_core.frontends.leftright import LeftRightConsistency, labelling_index, reference_labelling
from smplr_core.frontends.smoothing import KeypointSmoother
from smplr_core.pipeline import PipelineOutput

# What lifts each detected person to 3D: "blazepose" = its 2D keypoints -> DAE -> SMPLR (default);
# "hourglass" = its box -> the paper's volumetric hourglass -> SMPLR.
FRONTENDS = ("blazepose", "hourglass")
# Hourglass weights for frontend "hourglass": real (the default: volumetric heads on BlazePose's
# frozen features), small (CPU-trained on renders) or medium (GPU-trained on renders); the files
# are frontends/hourglass/frontend.py MODEL_WEIGHTS, the figures docs/hourglass.md.
HOURGLASS_MODELS = ("real", "small", "medium")
# How long a person's last published facing is compared with (max_turn_deg_per_s): after a longer
# gap, or a run of dropped frames this long (a body that did turn, or stays mirrored), the new
# facing is taken as it comes.
TURN_MEMORY_S = 0.2


class Lift(Protocol):
    """2D detections of one image -> 3D people (both lifts implement it)."""
    faces: torch.Tensor  # (F, 3) mesh triangles

    def lift(self, rgb: np.ndarray, keypoints_2d: torch.Tensor, visibility: torch.Tensor,
             boxes: np.ndarray, intrinsics: np.ndarray) -> PipelineOutput:
        """rgb (H, W, 3) uint8; keypoints_2d (N, 33, 2) px; visibility (N, 33) 0/1 (the lift's
        threshold already applied); boxes (N, 4) x0, y0, x1, y1 px; intrinsics (4,) fx, fy, cx, cy."""
        ...


def forward_axes(global_orient: np.ndarray) -> np.ndarray:
    """(N, 3) axis-angle (SMPL's global_orient, camera frame) -> (N, 3) unit forward directions:
    the body's +z axis turned by each rotation (Rodrigues' formula)."""
    aa = np.asarray(global_orient, np.float64).reshape(-1, 3)
    angle = np.linalg.norm(aa, axis=1, keepdims=True)
    axis = aa / np.where(angle > 1e-12, angle, 1.0)
    z = np.array([0.0, 0.0, 1.0])
    cos, sin = np.cos(angle), np.sin(angle)
    return z * cos + np.cross(axis, z) * sin + axis * axis[:, 2:3] * (1.0 - cos)


class TurnFilter:
    """Which people turned faster than a body can (``max_turn_deg_per_s``): per track the facing
    (:func:`forward_axes`) of its last published frame is kept, and a person whose facing
    turned by more than ``max_deg_per_s`` times the time since then (if at most TURN_MEMORY_S) is
    flagged; their remembered facing stays. Tracks missing from a frame are forgotten."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._facings: dict[int, tuple[np.ndarray, float]] = {}

    def __call__(self, track_ids: np.ndarray, global_orient: np.ndarray, valid: np.ndarray,
                 stamp_s: float, max_deg_per_s: float) -> np.ndarray:
        """(N,) bool: the people to hold back in this frame (invalid people never are)."""
        forward = forward_axes(global_orient)
        turned = np.zeros(len(forward), bool)
        facings = {}
        for k, tid in enumerate(np.asarray(track_ids).reshape(-1).tolist()):
            last = self._facings.get(tid)
            facings[tid] = last
            if not valid[k]:
                continue
            if last is not None and 0.0 < stamp_s - last[1] <= TURN_MEMORY_S:
                cos = float(np.clip(np.dot(last[0], forward[k]), -1.0, 1.0))
                turned[k] = math.degrees(math.acos(cos)) > max_deg_per_s * (stamp_s - last[1])
            if not turned[k]:
                facings[tid] = (forward[k], stamp_s)
        self._facings = {t: f for t, f in facings.items() if f is not None}
        return turned


@dataclass(frozen=True)
class FrameSettings:
    """What may change between frames (the node's runtime parameters)."""
    max_people: int = 4
    # A person is kept (and tracked) while BlazePose's pose score is at least this.
    detection_score_threshold: float = 0.5
    # Keypoints below this visibility are hidden from the lift (and from the keypoint filter). The
    # DAE was trained with 0.5.
    min_visibility: float = 0.5
    smoothing_min_cutoff_hz: float = 0.0  # One Euro filter on the 2D keypoints; 0 = off
    smoothing_beta: float = 30.0
    # Undo BlazePose's mirrored left/right labels per track from its history (frontends/leftright.py).
    lr_consistency: bool = True
    # Ghost filters (0 = off): people whose keypoint box's longer side is shorter than this many
    # pixels are dropped before the lift; people whose lifted pelvis lies farther from the camera
    # than this many metres are dropped after it.
    min_person_height_px: float = 40.0
    max_distance_m: float = 20.0
    # A person whose lifted body's facing turned faster than this (degrees per second) since their
    # last published frame (at most TURN_MEMORY_S before) is not published for this frame: no
    # body turns 50 degrees in 1/30 s, but a lift of one squeezed or mirrored 2D frame does. 0 = off.
    max_turn_deg_per_s: float = 1500.0

    def __post_init__(self):
        if int(self.max_people) < 1:
            raise ValueError(f"max_people must be >= 1, got {self.max_people}")
        for name in ("detection_score_threshold", "min_visibility"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        KeypointSmoother(self.smoothing_min_cutoff_hz, self.smoothing_beta)  # ValueError if invalid
        if not isinstance(self.lr_consistency, (bool, np.bool_)):
            raise ValueError(f"lr_consistency must be a bool, got {self.lr_consistency!r}")
        for name in ("min_person_height_px", "max_distance_m", "max_turn_deg_per_s"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0 (0 = off), got {value}")


@dataclass
class FrameResult:
    """Everything estimated in one frame for its N people (numpy, batch-first)."""
    track_ids: np.ndarray        # (N,) int
    scores: np.ndarray           # (N,) detection confidence in [0, 1]
    keypoints_2d: np.ndarray     # (N, 33, 2) pixels, BlazePose order, as lifted (filtered, undistorted)
    visibility: np.ndarray       # (N, 33) in [0, 1]
    valid: np.ndarray            # (N,) bool: the 3D fields hold an estimate
    joints: np.ndarray           # (N, 24, 3) camera frame, metres
    landmarks: np.ndarray        # (N, 18, 3) camera frame, metres
    vertices: np.ndarray         # (N, V, 3) camera frame, metres
    betas: np.ndarray            # (N, 10)
    global_orient: np.ndarray    # (N, 3) axis-angle, camera frame
    body_pose: np.ndarray        # (N, 23, 3) axis-angle
    transl: np.ndarray           # (N, 3) metres
    keypoints3d: np.ndarray      # (N, 33, 3) the body's 33 keypoints (BlazePose's definition), camera frame
    lift_points: np.ndarray      # (N, 41, 3) the lift's 23 non-root joints + 18 landmarks at the pelvis
    intrinsics: np.ndarray       # (4,) fx, fy, cx, cy used
    frontend_ms: float = 0.0
    lift_ms: float = 0.0
    dropped_small: int = 0       # people the tracker returned below min_person_height_px
    dropped_far: int = 0         # people lifted beyond max_distance_m
    dropped_turned: int = 0      # people whose lifted body turned faster than max_turn_deg_per_s
    label_checks: int = 0        # people whose labels the accurate preset's heavy network checked

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])

    def select(self, keep: np.ndarray) -> "FrameResult":
        """The people where ``keep`` (N,) bool is true (every per-person field indexed)."""
        per_person = [f.name for f in fields(self)
                      if isinstance(getattr(self, f.name), np.ndarray) and f.name != "intrinsics"]
        return replace(self, **{name: getattr(self, name)[keep] for name in per_person})


@dataclass(frozen=True)
class _Seen:
    """A person of the previous frame, as the accurate preset's check schedule sees them."""
    track_id: int
    score: float
    uncertain: bool


def to_numpy(out: PipelineOutput) -> dict[str, np.ndarray]:
    """The lift's output as float32 / bool numpy arrays with ONE device-to-host copy: every field is
    packed into one (N, C) tensor on its device, copied, and split into views."""
    n = out.valid.shape[0]
    dtype = out.joints.dtype
    parts = [out.valid.to(dtype)[:, None]] + [x.reshape(n, math.prod(x.shape[1:])).to(dtype) for x in out[1:]]
    host = torch.cat(parts, dim=1).cpu().numpy().astype(np.float32, copy=False)
    arrays, start = {"valid": host[:, 0] > 0.5}, 1
    for name, x in zip(out._fields[1:], out[1:]):
        width = math.prod(x.shape[1:])
        arrays[name] = host[:, start:start + width].reshape((n,) + tuple(x.shape[1:]))
        start += width
    return arrays


def undistort_points(points_px: np.ndarray, intrinsics: np.ndarray, distortion) -> np.ndarray:
    """(..., 2) pixels of a camera with lens distortion k1, k2, p1, p2[, k3] -> the pixels the same
    rays hit in the ideal pinhole camera of ``intrinsics`` (4,) fx, fy, cx, cy."""
    import cv2

    d = np.asarray(distortion, np.float64).reshape(-1)
    if d.size not in (4, 5) or not np.isfinite(d).all():
        raise ValueError(f"distortion must be 4 or 5 finite numbers k1 k2 p1 p2 [k3], got {d.tolist()}")
    fx, fy, cx, cy = (float(v) for v in np.asarray(intrinsics, np.float64).reshape(4))
    k = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], np.float64)
    pts = np.asarray(points_px, np.float64).reshape(-1, 1, 2)
    out = cv2.undistortPoints(pts, k, d, P=k)
    return out.reshape(np.shape(points_px)).astype(np.float32)


def settings_from(values: dict) -> FrameSettings:
    """The :class:`FrameSettings` in a mapping that holds at least its field names (e.g. the node's
    parameters); ValueError if one is invalid."""
    return FrameSettings(**{f.name: values[f.name] for f in fields(FrameSettings)})


class Reconstructor:
    """Image -> :class:`FrameResult`: BlazePose's tracker, then one of the two lifts.

    ``frontend`` (one of FRONTENDS) picks the lift: ``blazepose`` (the tracker's keypoints -> DAE
    -> SMPLR) or ``hourglass`` (the tracker's person boxes -> the paper's hourglass -> SMPLR;
    ``weights_dir`` is then unused, the hourglass ships its own SMPLR). ``frontend_model`` is the
    BlazePose variant in both cases. ``settings`` (:class:`FrameSettings`) can be changed between
    frames with :meth:`apply`. ``live_stream``: no frame runs the detector on every tile at once,
    the first one included (a camera should not stall for it; a video file gets the full first
    detection). ``preset`` (one of ``labelcheck.PRESETS``): ``fast``, or ``accurate``: ``heavy``
    checks one person's left/right labels every few frames (``frontends/labelcheck.py``).
    """

    def __init__(self, frontend_model: str = "full", device: str = "cpu", weights_dir: str | None = None,
                 body_model_path: str | None = None, frontend: str = "blazepose",
                 hourglass_model: str = "real", settings: FrameSettings = FrameSettings(),
                 live_stream: bool = False, preset: str = "fast"):
        from smplr_core.frontends import PoseTracker

        problem = preset_problem(preset, frontend, frontend_model)
        if problem:
            raise ValueError(problem)
        if frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {', '.join(FRONTENDS)}, got {frontend!r}")
        if hourglass_model not in HOURGLASS_MODELS:
            raise ValueError(f"hourglass_model must be one of {', '.join(HOURGLASS_MODELS)}, "
                             f"got {hourglass_model!r}")
        self.device = torch.device(device)
        self.frontend = frontend
        self.lift: Lift
        if frontend == "hourglass":
            from smplr_core.frontends.hourglass.frontend import shipped_weights
            from smplr_core.frontends.hourglass.pipeline import HourglassPipeline

            self.lift = HourglassPipeline.load(
                hourglass_weights=shipped_weights(hourglass_model),
                body_model_path=body_model_path or None, device=device)
        else:
            from smplr_core.pipeline import Pipeline

            self.lift = Pipeline.load(weights_dir=weights_dir or None,
                                      body_model_path=body_model_path or None, device=device)
        # BlazePose finds and tracks the people for either lift (the hourglass crops their boxes);
        # its world landmarks are not used, so they are not computed.
        self.preset = preset
        self.tracker = PoseTracker(model=frontend_model, max_people=settings.max_people, device=device,
                                   world=False, check_model=CHECK_MODEL if preset == "accurate" else None)
        self.checks = CheckSchedule() if preset == "accurate" else None
        self._last_people: list[_Seen] = []  # the previous frame's people (the check schedule's input)
        self.turns = TurnFilter()
        self.tracker.spread_first_detection = bool(live_stream)
        self.settings = FrameSettings()
        self.smoother = KeypointSmoother(0.0)
        self.lr = LeftRightConsistency()
        self._lock = threading.Lock()
        self._pending: FrameSettings | None = None
        self._use(settings)

    def apply(self, settings: FrameSettings) -> None:
        """Use ``settings`` from the next frame on. Safe to call from another thread than the one
        running the frames (the node calls it from its parameter callback): a frame in progress
        keeps the settings it started with."""
        if not isinstance(settings, FrameSettings):
            raise TypeError(f"settings must be a FrameSettings, got {type(settings).__name__}")
        with self._lock:
            self._pending = settings

    def _take_pending(self) -> None:
        """At the start of a frame: the settings given to :meth:`apply` since the last one."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._use(pending)

    def _use(self, settings: FrameSettings) -> None:
        self.tracker.max_people = int(settings.max_people)
        self.tracker.min_pose_score = float(settings.detection_score_threshold)
        old = self.settings
        if (settings.smoothing_min_cutoff_hz, settings.smoothing_beta) != \
                (old.smoothing_min_cutoff_hz, old.smoothing_beta):
            self.smoother = KeypointSmoother(settings.smoothing_min_cutoff_hz, settings.smoothing_beta)
        if not settings.lr_consistency:
            self.lr.reset()  # switched back on, it starts from the labels as reported
        self.settings = settings

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int mesh triangles of the body model."""
        return self.lift.faces.cpu().numpy().astype(np.int64)

    def reset(self) -> None:
        """Forget tracks (e.g. when the video loops or the camera changes)."""
        self.tracker.reset()
        self.smoother.reset()
        self.lr.reset()
        if self.checks is not None:
            self.checks.reset()
        self._last_people = []
        self.turns.reset()

    def warm_up(self) -> float:
        """Run every stage on blank input at the batch sizes a frame can bring (either lift, through
        its interface), so that the first frames do not pay for building and compiling the CPU
        graphs (``PoseTracker.warm_up``; the core pipeline's frozen graph is built at its first
        call). Returns the seconds it took."""
        start = time.perf_counter()
        self.tracker.warm_up()
        rgb = np.zeros((8, 8, 3), np.uint8)
        intr = np.array([500.0, 500.0, 320.0, 240.0], np.float32)
        with torch.inference_mode():
            for n in range(1, self.settings.max_people + 1):
                for _ in range(2):  # TorchScript specialises a graph at its second call of a shape
                    self.lift.lift(rgb, torch.zeros(n, NUM_KEYPOINTS, 2, device=self.device),
                                   torch.zeros(n, NUM_KEYPOINTS, device=self.device),
                                   np.zeros((n, 4), np.float32), intr)
        return time.perf_counter() - start

    def __call__(self, rgb: np.ndarray, intrinsics: np.ndarray, stamp_s: float | None = None,
                 distortion: np.ndarray | None = None) -> FrameResult:
        """rgb (H, W, 3) uint8, intrinsics (4,) fx, fy, cx, cy -> FrameResult. ``stamp_s``: the
        frame's time in seconds for the keypoint filter (default: now). ``distortion``: the lens's
        k1, k2, p1, p2[, k3] (OpenCV's model); the 2D keypoints are undistorted before the lift."""
        self._take_pending()
        start = time.perf_counter()
        stamp_s = time.monotonic() if stamp_s is None else float(stamp_s)
        if self.checks is not None:
            last = self._last_people
            self.tracker.check_ids = self.checks.pick([p.track_id for p in last],
                                                      [p.uncertain for p in last], [p.score for p in last])
        people = self.tracker(rgb)  # kept while pose score >= detection_score_threshold
        if self.checks is not None:
            self.checks.done(self.tracker.last_checked)
        people = sorted(people, key=lambda p: -float(p.score))[: self.settings.max_people]
        min_px = self.settings.min_person_height_px
        tall = [min_px <= 0 or float(np.max(p.box[2:] - p.box[:2])) >= min_px for p in people]
        dropped_small = len(people) - sum(tall)
        people = [p for p, ok in zip(people, tall) if ok]
        frontend_ms = 1000 * (time.perf_counter() - start)
        n = len(people)
        keypoints = np.zeros((n, NUM_KEYPOINTS, 2), np.float32)
        visibility = np.zeros((n, NUM_KEYPOINTS), np.float32)
        boxes = np.zeros((n, 4), np.float32)
        for i, person in enumerate(people):
            keypoints[i], visibility[i], boxes[i] = person.keypoints, person.visibility, person.box
        ids = np.array([int(p.track_id) for p in people], np.int64)
        references = [p.reference for p in people]
        uncertain = np.ones(n, bool)
        if self.settings.lr_consistency:  # mirrored labels undone per track, in the tracker's pixels
            keypoints, visibility = self.lr(ids, keypoints, visibility, stamp_s, references)
            uncertain = self.lr.last_uncertain
        else:  # only the accurate preset's checks change labels
            for i, ref in enumerate(references):
                if ref is not None:
                    swapped, clear = reference_labelling(keypoints[i], visibility[i], *ref)
                    index = labelling_index(swapped & clear)
                    keypoints[i], visibility[i] = keypoints[i][index], visibility[i][index]
        self._last_people = [_Seen(int(t), float(p.score), bool(u)) for t, p, u in zip(ids, people, uncertain)]
        if distortion is not None and n:
            keypoints = undistort_points(keypoints, intrinsics, distortion)
        seen = visibility >= self.settings.min_visibility
        if self.smoother.enabled:
            keypoints = self.smoother(ids, keypoints, seen, stamp_s)
        scores = np.array([float(p.score) for p in people], np.float32)
        result = self.lift_people(rgb, ids, scores, keypoints, visibility, boxes, intrinsics, frontend_ms)
        result.dropped_small = dropped_small
        result.label_checks = sum(r is not None for r in references)
        max_m = self.settings.max_distance_m
        if max_m > 0 and len(result):
            far = result.valid & (result.joints[:, 0, 2] > max_m)  # pelvis depth
            if far.any():
                result = result.select(~far)
                result.dropped_far = int(far.sum())
        if self.settings.max_turn_deg_per_s > 0:
            turned = self.turns(result.track_ids, result.global_orient, result.valid, stamp_s,
                                self.settings.max_turn_deg_per_s)
            if turned.any():
                result = result.select(~turned)
                result.dropped_turned = int(turned.sum())
        return result

    @torch.inference_mode()
    def lift_people(self, rgb: np.ndarray, track_ids: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                    visibility: np.ndarray, boxes: np.ndarray, intrinsics: np.ndarray,
                    frontend_ms: float = 0.0) -> FrameResult:
        """The lift of N tracked people (numpy in, numpy out) with one device-to-host copy."""
        self._take_pending()
        start = time.perf_counter()
        intr = np.asarray(intrinsics, np.float32).reshape(4)
        if not (np.isfinite(intr).all() and intr[0] > 0 and intr[1] > 0):
            raise ValueError(f"intrinsics must be finite with positive fx, fy, got {intr.tolist()}")
        # The lift sees a 0/1 visibility: min_visibility is its threshold.
        seen = (visibility >= self.settings.min_visibility).astype(np.float32)
        out = self.lift.lift(rgb, torch.from_numpy(keypoints).to(self.device),
                             torch.from_numpy(seen).to(self.device), boxes, intr)
        arrays = to_numpy(out)
        return FrameResult(track_ids=track_ids, scores=scores, keypoints_2d=keypoints, visibility=visibility,
                           intrinsics=intr, frontend_ms=frontend_ms,
                           lift_ms=1000 * (time.perf_counter() - start), **arrays)

