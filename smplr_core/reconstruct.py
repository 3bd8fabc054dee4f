"""Offline reconstruction: video or image folder -> per frame and person 3D joints, landmarks, SMPL.

The same per-frame step (:class:`Reconstructor`) runs inside the ROS node; this module imports no
ROS. Command line (installed as ``smplr-reconstruct``)::

    smplr-reconstruct VIDEO_OR_FOLDER [--fx F --fy F --cx C --cy C] --out result.npz [--json]
                      [--max-people N] [--render overlay.mp4] [--device cpu|cuda]
                      [--frontend blazepose|hourglass]

Flow per frame (DESIGN §2): image -> front-end (BlazePose 2D keypoints + tracking) -> DAE ->
SMPLR -> body model, all inside :class:`smplr_core.pipeline.Pipeline`. With the ``hourglass``
front-end (the paper's volumetric CNN, docs/hourglass.md) BlazePose still detects and tracks the
people; their boxes go to :class:`HourglassPipeline` (hourglass -> SMPLR -> body model) instead of
the DAE. It is not the default: on held-out renders it is worse than the BlazePose path.

Camera intrinsics: pass the real ones when known. Otherwise they default to a pinhole camera with a
:data:`DEFAULT_FOV_DEG` field of view across the longer image side, principal point at the image
centre (:func:`default_intrinsics`); metric depth scales with the focal length, so a wrong focal
length mostly moves people nearer or farther.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from smplr_core.frontends.smoothing import KeypointSmoother

# Field of view assumed across the longer image side when no intrinsics are given (a typical
# webcam / phone main camera).
DEFAULT_FOV_DEG = 60.0
# Frame rate assumed for image folders (they carry no timing).
FOLDER_FPS = 10.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# What lifts each detected person to 3D: "blazepose" = its 2D keypoints -> DAE -> SMPLR (default);
# "hourglass" = its box -> the paper's volumetric hourglass -> SMPLR.
FRONTENDS = ("blazepose", "hourglass")
# Hourglass weights for frontend "hourglass": small (CPU-trained, fine-tuned end to end with SMPLR;
# the default, steadier on real video) or medium (GPU-trained, better on held-out renders).
HOURGLASS_MODELS = ("small", "medium")


def default_intrinsics(width: int, height: int, fx: float = 0.0, fy: float = 0.0,
                       cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    """(4,) fx, fy, cx, cy; zeros are filled in: fx from DEFAULT_FOV_DEG over max(width, height),
    fy = fx, cx, cy = image centre."""
    if fx <= 0:
        fx = 0.5 * max(width, height) / math.tan(math.radians(DEFAULT_FOV_DEG) / 2)
    if fy <= 0:
        fy = fx
    if cx <= 0:
        cx = width / 2.0
    if cy <= 0:
        cy = height / 2.0
    return np.array([fx, fy, cx, cy], dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# Media input
@dataclass
class MediaInfo:
    path: Path
    is_folder: bool
    fps: float
    frame_count: int
    width: int          # native size
    height: int


def _folder_images(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def media_info(path: str | Path) -> MediaInfo:
    """Frame rate, frame count and size of a video file or image folder; FileNotFoundError or
    ValueError (unreadable) with the path in the message."""
    import cv2

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such video file or image folder: {path}")
    if path.is_dir():
        images = _folder_images(path)
        if not images:
            raise ValueError(f"image folder {path} holds no {'/'.join(IMAGE_SUFFIXES)} files")
        first = cv2.imread(str(images[0]))
        if first is None:
            raise ValueError(f"cannot read image {images[0]}")
        return MediaInfo(path, True, FOLDER_FPS, len(images), first.shape[1], first.shape[0])
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"cannot open video {path} (not a video OpenCV can decode)")
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    if width <= 0 or height <= 0:
        # A single image file is accepted as a one-frame "video".
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"cannot read {path} as a video or an image")
        return MediaInfo(path, False, FOLDER_FPS, 1, image.shape[1], image.shape[0])
    return MediaInfo(path, False, fps if 0 < fps < 1000 else 30.0, count, width, height)


def resized_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """(w, h) after resizing to ``target_width`` keeping the aspect ratio (0 = unchanged)."""
    if target_width <= 0 or target_width == width:
        return width, height
    return target_width, max(1, int(round(height * target_width / width)))


def iter_frames(path: str | Path, width: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, (H, W, 3) uint8 RGB) from a video file, an image folder or an image."""
    import cv2

    info = media_info(path)

    def convert(bgr: np.ndarray) -> np.ndarray:
        w, h = resized_size(bgr.shape[1], bgr.shape[0], width)
        if (w, h) != (bgr.shape[1], bgr.shape[0]):
            bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    if info.is_folder:
        for index, image_path in enumerate(_folder_images(info.path)):
            bgr = cv2.imread(str(image_path))
            if bgr is None:
                raise ValueError(f"cannot read image {image_path}")
            yield index, convert(bgr)
        return
    cap = cv2.VideoCapture(str(info.path))
    index = 0
    try:
        if cap.isOpened():
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield index, convert(bgr)
                index += 1
    finally:
        cap.release()
    if index == 0:
        bgr = cv2.imread(str(info.path))
        if bgr is None:
            raise ValueError(f"cannot read any frame from {info.path}")
        yield 0, convert(bgr)


# ------------------------------------------------------------------------------------------------
# One frame
@dataclass
class FrameResult:
    """Everything estimated in one frame for its N people (arrays are numpy, batch-first)."""
    track_ids: np.ndarray        # (N,) int
    scores: np.ndarray           # (N,) detection confidence in [0, 1]
    keypoints_2d: np.ndarray     # (N, 33, 2) pixels, BlazePose order
    visibility: np.ndarray       # (N, 33) in [0, 1]
    valid: np.ndarray            # (N,) bool: the 3D fields hold an estimate
    joints: np.ndarray           # (N, 24, 3) camera frame, metres
    landmarks: np.ndarray        # (N, 18, 3) camera frame, metres
    vertices: np.ndarray         # (N, V, 3) camera frame, metres
    betas: np.ndarray            # (N, 10)
    global_orient: np.ndarray    # (N, 3) axis-angle, camera frame
    body_pose: np.ndarray        # (N, 23, 3) axis-angle
    transl: np.ndarray           # (N, 3) metres
    intrinsics: np.ndarray       # (4,) fx, fy, cx, cy used
    frontend_ms: float = 0.0
    lift_ms: float = 0.0

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


class Reconstructor:
    """Image -> :class:`FrameResult`: the front-end's tracker followed by the SMPLR pipeline.

    ``frontend`` (one of FRONTENDS) picks the 3D lift: ``blazepose`` (the tracker's keypoints ->
    DAE -> SMPLR) or ``hourglass`` (the tracker's person boxes -> the paper's hourglass -> SMPLR;
    ``weights_dir`` is then unused, the hourglass ships its own SMPLR). ``frontend_model`` is the
    BlazePose variant in both cases. ``detection_score_threshold`` drops low-confidence people;
    keypoints whose visibility is below ``min_visibility`` are passed to the 3D stages as
    invisible. Settings can be changed between frames (the ROS node does so when its parameters
    change).
    """

    def __init__(self, frontend_model: str = "full", max_people: int = 4, device: str = "cpu",
                 weights_dir: str | None = None, body_model_path: str | None = None,
                 detection_score_threshold: float = 0.5, min_visibility: float = 0.3,
                 frontend: str = "blazepose", hourglass_model: str = "small",
                 smoothing_min_cutoff_hz: float = 0.0, smoothing_beta: float = 30.0):
        from smplr_core.frontends import PoseTracker

        if frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {', '.join(FRONTENDS)}, got {frontend!r}")
        if hourglass_model not in HOURGLASS_MODELS:
            raise ValueError(f"hourglass_model must be one of {', '.join(HOURGLASS_MODELS)}, "
                             f"got {hourglass_model!r}")
        self.device = device
        self.frontend = frontend
        self.max_people = int(max_people)
        self.detection_score_threshold = float(detection_score_threshold)
        self.min_visibility = float(min_visibility)
        # Exactly one lift is loaded; both give the core Pipeline's output fields.
        self.pipeline = None
        self.lift = None
        if frontend == "hourglass":
            from smplr_core.frontends.hourglass.frontend import MEDIUM_WEIGHTS
            from smplr_core.frontends.hourglass.pipeline import HourglassPipeline

            self.lift = HourglassPipeline.load(
                hourglass_weights=MEDIUM_WEIGHTS if hourglass_model == "medium" else None,
                body_model_path=body_model_path or None, device=device)
        else:
            from smplr_core.pipeline import Pipeline

            self.pipeline = Pipeline.load(weights_dir=weights_dir or None,
                                          body_model_path=body_model_path or None, device=device)
        # BlazePose finds and tracks the people for either lift (the hourglass crops its boxes).
        self.tracker = PoseTracker(model=frontend_model, max_people=self.max_people, device=device)
        # One Euro filter on each track's 2D keypoints before the 3D lift (off at min cutoff 0).
        self.smoother = KeypointSmoother(smoothing_min_cutoff_hz, smoothing_beta)

    @staticmethod
    def _empty(intrinsics: np.ndarray, frontend_ms: float) -> FrameResult:
        z = np.zeros
        return FrameResult(z((0,), np.int64), z((0,), np.float32), z((0, 33, 2), np.float32),
                           z((0, 33), np.float32), z((0,), bool), z((0, 24, 3), np.float32),
                           z((0, 18, 3), np.float32), z((0, 0, 3), np.float32),
                           z((0, 10), np.float32), z((0, 3), np.float32), z((0, 23, 3), np.float32),
                           z((0, 3), np.float32), intrinsics, frontend_ms, 0.0)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int mesh triangles of the body model."""
        return _numpy((self.lift or self.pipeline).faces).astype(np.int64)

    def reset(self) -> None:
        """Forget tracks (e.g. when the video loops or the camera changes)."""
        self.tracker.reset()
        self.smoother.reset()

    def set_smoothing(self, min_cutoff_hz: float, beta: float) -> None:
        """Change the keypoint filter between frames (min_cutoff_hz 0 = off); ValueError if invalid."""
        if (min_cutoff_hz, beta) != (self.smoother.min_cutoff_hz, self.smoother.beta):
            self.smoother = KeypointSmoother(min_cutoff_hz, beta)

    def warm_up(self) -> float:
        """Run every stage on blank input at the batch sizes a frame can bring, so that the first
        frames do not pay for building and compiling the CPU graphs (``PoseTracker.warm_up``; the
        core pipeline's frozen graph is built at its first call). Returns the seconds it took."""
        import torch

        start = time.perf_counter()
        self.tracker.warm_up()
        if self.pipeline is not None:
            intr = torch.tensor([[500.0, 500.0, 320.0, 240.0]], device=self.device)
            for n in range(1, self.max_people + 1):
                for _ in range(2):  # TorchScript specialises a graph at its second call of a shape
                    self.pipeline(torch.zeros(n, 33, 2, device=self.device),
                                  torch.zeros(n, 33, device=self.device), intr.expand(n, 4))
        return time.perf_counter() - start

    def __call__(self, rgb: np.ndarray, intrinsics: np.ndarray, stamp_s: float | None = None) -> FrameResult:
        """rgb (H, W, 3) uint8, intrinsics (4,) fx, fy, cx, cy -> FrameResult. ``stamp_s``: the
        frame's time in seconds for the keypoint filter (default: now)."""
        import torch

        start = time.perf_counter()
        stamp_s = time.monotonic() if stamp_s is None else float(stamp_s)
        people = self.tracker(rgb)
        people = [p for p in people if float(p.score) >= self.detection_score_threshold]
        people = sorted(people, key=lambda p: -float(p.score))[: self.max_people]
        frontend_done = time.perf_counter()
        n = len(people)
        keypoints = np.zeros((n, 33, 2), np.float32)
        visibility = np.zeros((n, 33), np.float32)
        for i, person in enumerate(people):
            keypoints[i] = person.keypoints
            visibility[i] = person.visibility
        if self.smoother.enabled:
            keypoints = self.smoother([p.track_id for p in people], keypoints,
                                      visibility >= self.min_visibility, stamp_s)
        lifted_vis = np.where(visibility >= self.min_visibility, visibility, 0.0).astype(np.float32)
        intr = np.asarray(intrinsics, np.float32).reshape(4)
        if n == 0:   # nobody: nothing to lift (and no batch of size 0 through the stages)
            return self._empty(intr, 1000 * (frontend_done - start))
        with torch.no_grad():
            if self.lift is not None:
                boxes = np.stack([np.asarray(p.box, np.float32) for p in people])
                out = self.lift(rgb, boxes, intr)
            else:
                out = self.pipeline(torch.from_numpy(keypoints).to(self.device),
                                    torch.from_numpy(lifted_vis).to(self.device),
                                    torch.from_numpy(np.tile(intr, (n, 1))).to(self.device))
        done = time.perf_counter()
        return FrameResult(
            track_ids=np.array([int(p.track_id) for p in people], np.int64),
            scores=np.array([float(p.score) for p in people], np.float32),
            keypoints_2d=keypoints, visibility=visibility,
            valid=_numpy(out.valid).astype(bool).reshape(n),
            joints=_numpy(out.joints).astype(np.float32).reshape(n, -1, 3),
            landmarks=_numpy(out.landmarks).astype(np.float32).reshape(n, -1, 3),
            vertices=_numpy(out.vertices).astype(np.float32).reshape(n, -1, 3),
            betas=_numpy(out.betas).astype(np.float32).reshape(n, -1),
            global_orient=_numpy(out.global_orient).astype(np.float32).reshape(n, 3),
            body_pose=_numpy(out.body_pose).astype(np.float32).reshape(n, 23, 3),
            transl=_numpy(out.transl).astype(np.float32).reshape(n, 3),
            intrinsics=intr,
            frontend_ms=1000 * (frontend_done - start), lift_ms=1000 * (done - frontend_done))


# ------------------------------------------------------------------------------------------------
# Output files
RECORD_FIELDS = ("frame_index", "track_id", "score", "valid", "joints", "landmarks", "betas",
                 "global_orient", "body_pose", "transl", "keypoints_2d", "visibility")


def collect_rows(frame_index: int, result: FrameResult) -> dict[str, np.ndarray]:
    """One row per person of a frame, keyed by RECORD_FIELDS."""
    n = len(result)
    return {"frame_index": np.full((n,), frame_index, np.int64), "track_id": result.track_ids,
            "score": result.scores, "valid": result.valid, "joints": result.joints,
            "landmarks": result.landmarks, "betas": result.betas,
            "global_orient": result.global_orient, "body_pose": result.body_pose,
            "transl": result.transl, "keypoints_2d": result.keypoints_2d,
            "visibility": result.visibility}


def stack_rows(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-frame rows; the empty shapes keep their trailing dimensions."""
    empty = {"frame_index": (0,), "track_id": (0,), "score": (0,), "valid": (0,),
             "joints": (0, 24, 3), "landmarks": (0, 18, 3), "betas": (0, 10),
             "global_orient": (0, 3), "body_pose": (0, 23, 3), "transl": (0, 3),
             "keypoints_2d": (0, 33, 2), "visibility": (0, 33)}
    out = {}
    for key in RECORD_FIELDS:
        parts = [r[key] for r in rows if len(r[key])]
        out[key] = np.concatenate(parts) if parts else np.zeros(empty[key],
                                                                 bool if key == "valid" else np.float32)
    return out


def name_tables() -> dict[str, list[str]]:
    from smplr_core.body.joint_names import SMPL_JOINT_NAMES
    from smplr_core.body.keypoints import BLAZEPOSE_NAMES
    from smplr_core.body.landmarks import LANDMARK_NAMES

    return {"joint_names": list(SMPL_JOINT_NAMES), "landmark_names": list(LANDMARK_NAMES),
            "keypoint_names": list(BLAZEPOSE_NAMES)}


def to_json(table: dict[str, np.ndarray], names: dict[str, list[str]], meta: dict) -> dict:
    """The npz table as JSON: frames -> people -> named joints/landmarks/keypoints."""
    frames: dict[int, list] = {}
    for i in range(len(table["frame_index"])):
        person = {
            "track_id": int(table["track_id"][i]), "score": float(table["score"][i]),
            "has_3d": bool(table["valid"][i]),
            "joints": {n: table["joints"][i, j].tolist() for j, n in enumerate(names["joint_names"])},
            "landmarks": {n: table["landmarks"][i, j].tolist()
                          for j, n in enumerate(names["landmark_names"])},
            "keypoints_2d": {n: table["keypoints_2d"][i, j].tolist() + [float(table["visibility"][i, j])]
                             for j, n in enumerate(names["keypoint_names"])},
            "smpl": {"betas": table["betas"][i].tolist(),
                     "global_orient": table["global_orient"][i].tolist(),
                     "body_pose": table["body_pose"][i].tolist(),
                     "transl": table["transl"][i].tolist()},
        }
        frames.setdefault(int(table["frame_index"][i]), []).append(person)
    return {**meta, "units": "metres, camera frame (x right, y down, z forward)",
            "keypoints_2d_format": "[u, v, visibility] pixels",
            "frames": [{"frame_index": k, "people": v} for k, v in sorted(frames.items())]}


# ------------------------------------------------------------------------------------------------
# Command line
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smplr-reconstruct",
        description="3D joints, landmarks and SMPL parameters of every person in a video or "
                    "image folder (no ROS needed).")
    p.add_argument("input", help="video file, image file or folder of images (sorted by name)")
    p.add_argument("--out", required=True, help="output .npz (and .json next to it with --json)")
    p.add_argument("--json", action="store_true", help="also write the results as JSON")
    p.add_argument("--fx", type=float, default=0.0,
                   help=f"focal length x in pixels (default: {DEFAULT_FOV_DEG:g} deg field of view "
                        "across the longer image side)")
    p.add_argument("--fy", type=float, default=0.0, help="focal length y (default: fx)")
    p.add_argument("--cx", type=float, default=0.0, help="principal point x (default: image centre)")
    p.add_argument("--cy", type=float, default=0.0, help="principal point y (default: image centre)")
    p.add_argument("--max-people", type=int, default=4, help="most people per frame (default 4)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
    p.add_argument("--frontend", default="blazepose", choices=FRONTENDS,
                   help="3D lift: blazepose (keypoints -> DAE -> SMPLR, default, more accurate) or "
                        "hourglass (the paper's volumetric CNN on the person boxes -> SMPLR)")
    p.add_argument("--hourglass-model", default="small", choices=HOURGLASS_MODELS,
                   help="weights for --frontend hourglass: small (default, steadier on real video) or "
                        "medium (GPU-trained, better on held-out renders; docs/hourglass.md)")
    p.add_argument("--frontend-model", default="full", choices=("lite", "full", "heavy"),
                   help="BlazePose variant (it also finds the people for --frontend hourglass)")
    p.add_argument("--device", default="cpu", help="torch device: cpu or cuda (default cpu)")
    p.add_argument("--weights-dir", default="", help="checkpoint folder (default: shipped weights/)")
    p.add_argument("--body-model", default="",
                   help="body model file (default: the free model; or official SMPL files)")
    p.add_argument("--score-threshold", type=float, default=0.5)
    p.add_argument("--smoothing", type=float, default=0.0, metavar="HZ",
                   help="One Euro filter on each person's 2D keypoints: its minimum cut-off in Hz "
                        "(default 0 = off; 1 removes most jitter; docs/frontend.md)")
    p.add_argument("--smoothing-beta", type=float, default=30.0,
                   help="how fast the filter's cut-off rises with speed (default 30)")
    p.add_argument("--render", default="", help="also write an overlay video (mesh, skeleton, side view)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> dict[str, np.ndarray]:
    from tqdm import tqdm

    info = media_info(args.input)
    if args.max_people < 1:
        raise ValueError(f"--max-people must be >= 1, got {args.max_people}")
    try:  # before the models load
        KeypointSmoother(args.smoothing, args.smoothing_beta)
    except ValueError as exc:
        raise ValueError(f"--smoothing / --smoothing-beta: {exc}") from None
    intrinsics = default_intrinsics(info.width, info.height, args.fx, args.fy, args.cx, args.cy)
    reconstructor = Reconstructor(args.frontend_model, args.max_people, args.device,
                                  args.weights_dir or None, args.body_model or None,
                                  args.score_threshold, frontend=args.frontend,
                                  hourglass_model=args.hourglass_model,
                                  smoothing_min_cutoff_hz=args.smoothing, smoothing_beta=args.smoothing_beta)
    renderer = None
    if args.render:
        from smplr_core.render import VideoRenderer

        renderer = VideoRenderer(args.render, fps=info.fps, faces=reconstructor.faces)
    total = info.frame_count if not args.max_frames else min(info.frame_count, args.max_frames)
    rows = []
    start = time.perf_counter()
    frames_done = 0
    for index, rgb in tqdm(iter_frames(info.path), total=total or None, unit="frame",
                           disable=args.quiet, desc="smplr-reconstruct"):
        if args.max_frames and index >= args.max_frames:
            break
        result = reconstructor(rgb, intrinsics, stamp_s=index / info.fps)
        rows.append(collect_rows(index, result))
        if renderer is not None:
            renderer.add(rgb, result)
        frames_done += 1
    elapsed = time.perf_counter() - start
    table = stack_rows(rows)
    names = name_tables()
    meta = {"input": str(info.path), "frames": frames_done, "fps": info.fps,
            "image_width": info.width, "image_height": info.height,
            "intrinsics": intrinsics.tolist(), "frontend": args.frontend, "seconds": elapsed}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **table, **{k: np.array(v) for k, v in names.items()},
                        intrinsics=intrinsics, image_size=np.array([info.width, info.height]),
                        fps=np.float32(info.fps), frame_count=np.int64(frames_done),
                        frontend=np.array(args.frontend))
    written = [str(out)]
    if args.json:
        json_path = out.with_suffix(".json")
        json_path.write_text(json.dumps(to_json(table, names, meta)))
        written.append(str(json_path))
    if renderer is not None:
        written += renderer.close()
    people = len(table["frame_index"])
    print(f"smplr-reconstruct: {frames_done} frames, {people} person detections, "
          f"{frames_done / max(elapsed, 1e-9):.1f} fps; wrote {', '.join(written)}")
    return table


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        print(f"smplr-reconstruct: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
