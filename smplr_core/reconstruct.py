"""Offline reconstruction: video or image folder -> per frame and person 3D joints, landmarks, SMPL.

The command line and media I/O only: each frame goes through :class:`smplr_core.frame.Reconstructor`,
the same frame path the ROS node calls; this module imports no ROS. Installed as
``smplr-reconstruct`` (``smplr-reconstruct --help`` lists every option)::

    smplr-reconstruct VIDEO_OR_FOLDER --out result.npz [--json] [--fx F --fy F --cx C --cy C]
                      [--dist k1 k2 p1 p2 [k3]] [--width W] [--fps F] [--max-people N]
                      [--render overlay.mp4] [--device cpu|cuda] [--frontend blazepose|hourglass]

Camera intrinsics: pass the real ones when known (for the frames as read, before ``--width``
resizes them: they are scaled with the frames). Otherwise they default to a pinhole camera with a
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

from smplr_core.frame import FRONTENDS, HOURGLASS_MODELS, FrameResult, FrameSettings, Reconstructor
from smplr_core.frontends.labelcheck import PRESETS, preset_problem
from smplr_core.frontends.smoothing import KeypointSmoother

# Field of view assumed across the longer image side when no intrinsics are given (a typical
# webcam / phone main camera).
DEFAULT_FOV_DEG = 60.0
# Frame rate assumed for image folders (they carry no timing).
FOLDER_FPS = 10.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


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
# Output files
# Output name -> FrameResult field, one row per person. keypoints3d: the body's 33 keypoints in
# BlazePose's definition (keypoint_names); dae_points: the 41 points the lift gave SMPLR
# (joint_names[1:] then landmark_names; the hourglass's with --frontend hourglass), placed at the
# body's pelvis. Both camera frame, metres.
RECORD_FIELDS = {"track_id": "track_ids", "score": "scores", "valid": "valid", "joints": "joints",
                 "landmarks": "landmarks", "betas": "betas", "global_orient": "global_orient",
                 "body_pose": "body_pose", "transl": "transl", "keypoints3d": "keypoints3d",
                 "dae_points": "lift_points", "keypoints_2d": "keypoints_2d", "visibility": "visibility"}


def collect_rows(frame_index: int, result: FrameResult) -> dict[str, np.ndarray]:
    """One row per person of a frame: frame_index and the RECORD_FIELDS."""
    rows = {key: getattr(result, field) for key, field in RECORD_FIELDS.items()}
    return {"frame_index": np.full((len(result),), frame_index, np.int64), **rows}


def stack_rows(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-frame rows (at least one frame's; a frame with nobody gives rows of length 0
    with the trailing shapes)."""
    return {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}


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
            "keypoints3d": {n: table["keypoints3d"][i, j].tolist()
                            for j, n in enumerate(names["keypoint_names"])},
            "dae_points": {  # the npz's rows: joint_names[1:] then landmark_names
                "joints": {n: table["dae_points"][i, j].tolist() for j, n in enumerate(names["joint_names"][1:])},
                "landmarks": {n: table["dae_points"][i, len(names["joint_names"]) - 1 + j].tolist()
                              for j, n in enumerate(names["landmark_names"])}},
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
        description="3D joints, landmarks, BlazePose keypoints and SMPL parameters of every person in "
                    "a video or image folder (no ROS needed). Writes one row per frame and person "
                    "into an .npz (and .json with --json); 3D points are metres in the camera frame "
                    "(x right, y down, z forward).")
    p.add_argument("input", help="video file, image file or folder of images (sorted by name)")
    p.add_argument("--out", required=True, help="output .npz (and .json next to it with --json)")
    p.add_argument("--json", action="store_true", help="also write the results as JSON")
    p.add_argument("--fx", type=float, default=0.0,
                   help=f"focal length x in pixels of the frames as read (default: {DEFAULT_FOV_DEG:g} "
                        "deg field of view across the longer image side)")
    p.add_argument("--fy", type=float, default=0.0, help="focal length y in pixels (default: fx)")
    p.add_argument("--cx", type=float, default=0.0, help="principal point x in pixels (default: image centre)")
    p.add_argument("--cy", type=float, default=0.0, help="principal point y in pixels (default: image centre)")
    p.add_argument("--dist", type=float, nargs="+", default=None, metavar="K",
                   help="lens distortion k1 k2 p1 p2 [k3] (OpenCV's model, as in CameraInfo's D); "
                        "the 2D keypoints are undistorted before the DAE lifts them, and keypoints_2d holds "
                        "the undistorted ones; --frontend hourglass crops the image as it is (default: none)")
    p.add_argument("--width", type=int, default=0,
                   help="resize the frames to this width in pixels, keeping the aspect ratio, before "
                        "everything else (default 0: native size); intrinsics are scaled with them")
    p.add_argument("--fps", type=float, default=0.0,
                   help=f"frame rate of an image folder (default {FOLDER_FPS:g}); videos use their own "
                        "unless this is given. Sets the keypoint filter's time step and the --render video")
    p.add_argument("--max-people", type=int, default=4, help="most people per frame (default 4)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
    p.add_argument("--frontend", default="blazepose", choices=FRONTENDS,
                   help="3D lift: blazepose (keypoints -> DAE -> SMPLR, the default) or hourglass (the "
                        "paper's volumetric CNN on the person boxes -> SMPLR; docs/hourglass.md)")
    p.add_argument("--hourglass-model", default="real", choices=HOURGLASS_MODELS,
                   help="weights for --frontend hourglass: real (default; on BlazePose's real-image "
                        "features: on the real videos 79%% of its bodies face within 30 degrees of "
                        "blazepose's), small or medium (trained on renders only: 20%% and 10%%; "
                        "docs/hourglass.md)")
    p.add_argument("--frontend-model", default="full", choices=("lite", "full", "heavy"),
                   help="BlazePose variant (it also finds the people for --frontend hourglass)")
    p.add_argument("--preset", default="fast", choices=PRESETS,
                   help="fast (default): --frontend-model on every person and frame; accurate: also "
                        "BlazePose heavy on one tracked person every 4th frame, whose left/right labels "
                        "are taken (mirrored bodies undone; with --frontend blazepose and --frontend-model "
                        "full or lite; docs/frontend.md)")
    p.add_argument("--device", default="cpu", help="torch device: cpu or cuda (default cpu)")
    p.add_argument("--weights-dir", default="", help="checkpoint folder (default: shipped weights/)")
    p.add_argument("--body-model", default="",
                   help="body model file (default: the free model; or official SMPL files)")
    p.add_argument("--score-threshold", type=float, default=FrameSettings.detection_score_threshold,
                   help="keep (and track) a person while BlazePose's pose score is at least this, in "
                        f"[0, 1] (default {FrameSettings.detection_score_threshold:g})")
    p.add_argument("--min-visibility", type=float, default=FrameSettings.min_visibility,
                   help="keypoints less visible than this, in [0, 1], are hidden from the 3D lift "
                        f"(default {FrameSettings.min_visibility:g}, the DAE's training threshold)")
    p.add_argument("--smoothing", type=float, default=0.0, metavar="HZ",
                   help="One Euro filter on each person's 2D keypoints: its minimum cut-off in Hz "
                        "(default 0 = off; 1 removes most jitter; docs/frontend.md)")
    p.add_argument("--smoothing-beta", type=float, default=30.0,
                   help="how fast the filter's cut-off rises with speed (default 30)")
    p.add_argument("--no-lr-consistency", dest="lr_consistency", action="store_false",
                   help="keep BlazePose's left/right labels as reported (default: mirrored labels are "
                        "undone per track from its history; docs/frontend.md)")
    p.add_argument("--min-height", type=float, default=FrameSettings.min_person_height_px, metavar="PX",
                   help="ghost filter: skip people whose keypoint box's longer side is shorter than "
                        f"this (default {FrameSettings.min_person_height_px:g} px; 0 = off)")
    p.add_argument("--max-distance", type=float, default=FrameSettings.max_distance_m, metavar="M",
                   help="ghost filter: skip people whose pelvis is farther from the camera than this "
                        f"(default {FrameSettings.max_distance_m:g} m; 0 = off; scales with --fx)")
    p.add_argument("--max-turn", type=float, default=FrameSettings.max_turn_deg_per_s, metavar="DEG_PER_S",
                   help="skip a person for a frame when their body turned faster than this since their "
                        f"last kept frame (default {FrameSettings.max_turn_deg_per_s:g} deg/s; 0 = off)")
    p.add_argument("--render", default="", help="also write an overlay video (mesh, skeleton, side view)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


# The command-line option of each frame setting, by the name its ValueError starts with.
SETTING_OPTIONS = {"max_people": "--max-people", "detection_score_threshold": "--score-threshold",
                   "min_visibility": "--min-visibility", "min_cutoff_hz": "--smoothing",
                   "beta": "--smoothing-beta", "min_person_height_px": "--min-height",
                   "max_distance_m": "--max-distance", "max_turn_deg_per_s": "--max-turn"}


def _settings_option(message: str) -> str:
    """The option a FrameSettings error is about (all of them when it names none)."""
    name = message.split(" ", 1)[0]
    return SETTING_OPTIONS.get(name, " / ".join(SETTING_OPTIONS.values()))


def run(args: argparse.Namespace) -> dict[str, np.ndarray]:
    from tqdm import tqdm

    info = media_info(args.input)
    if args.width < 0:
        raise ValueError(f"--width must be >= 0, got {args.width}")
    if args.fps < 0 or not math.isfinite(args.fps):
        raise ValueError(f"--fps must be > 0 (0 = default), got {args.fps}")
    if args.dist is not None and len(args.dist) not in (4, 5):
        raise ValueError(f"--dist takes 4 or 5 numbers k1 k2 p1 p2 [k3], got {len(args.dist)}")
    fps = args.fps or info.fps
    try:  # before the models load
        settings = FrameSettings(args.max_people, args.score_threshold, args.min_visibility,
                                 args.smoothing, args.smoothing_beta,
                                 lr_consistency=args.lr_consistency,
                                 min_person_height_px=args.min_height, max_distance_m=args.max_distance,
                                 max_turn_deg_per_s=args.max_turn)
    except ValueError as exc:
        raise ValueError(f"{_settings_option(str(exc))}: {exc}") from None
    problem = preset_problem(args.preset, args.frontend, args.frontend_model,
                             names=("--preset", "--frontend", "--frontend-model"))
    if problem:
        raise ValueError(problem)
    width, height = resized_size(info.width, info.height, args.width)
    scale = width / info.width
    intrinsics = default_intrinsics(info.width, info.height, args.fx, args.fy, args.cx, args.cy) * scale
    distortion = None if args.dist is None else np.asarray(args.dist, np.float64)
    reconstructor = Reconstructor(args.frontend_model, args.device, args.weights_dir or None,
                                  args.body_model or None, frontend=args.frontend,
                                  hourglass_model=args.hourglass_model, settings=settings,
                                  preset=args.preset)
    renderer = None
    if args.render:
        from smplr_core.render import VideoRenderer

        renderer = VideoRenderer(args.render, fps=fps, faces=reconstructor.faces)
    total = info.frame_count if not args.max_frames else min(info.frame_count, args.max_frames)
    rows = []
    start = time.perf_counter()
    frames_done = 0
    for index, rgb in tqdm(iter_frames(info.path, args.width), total=total or None, unit="frame",
                           disable=args.quiet, desc="smplr-reconstruct"):
        if args.max_frames and index >= args.max_frames:
            break
        result = reconstructor(rgb, intrinsics, stamp_s=index / fps, distortion=distortion)
        rows.append(collect_rows(index, result))
        if renderer is not None:
            renderer.add(rgb, result)
        frames_done += 1
    elapsed = time.perf_counter() - start
    table = stack_rows(rows)
    names = name_tables()
    meta = {"input": str(info.path), "frames": frames_done, "fps": fps,
            "image_width": width, "image_height": height,
            "intrinsics": intrinsics.tolist(), "distortion": None if distortion is None else distortion.tolist(),
            "frontend": args.frontend, "preset": args.preset, "seconds": elapsed}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **table, **{k: np.array(v) for k, v in names.items()},
                        intrinsics=intrinsics, image_size=np.array([width, height]),
                        fps=np.float32(fps), frame_count=np.int64(frames_done),
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
