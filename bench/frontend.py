#!/usr/bin/env python3
"""Image front-end benchmark: PyTorch BlazePose tracker vs the reference TFLite runtime, vtest recall.

    .venv/bin/python bench/frontend.py [--threads 2] [--device cpu] [--frames 60] [--rounds 3] [--recall-only]

Prints one table and writes its keys into bench/results/frontend.json (bench/leftright.py's keys stay):
- latency_ms_single: median time of ``PoseTracker(max_people=1)`` per 640x480 frame in tracking
  mode (the sports2d demo video letterboxed to 640x480; the detection frame is excluded), with
  torch at the better of ``--threads`` and one thread (the row used is named in the JSON). Every
  row is timed ``--rounds`` times in turn and its frames pooled, so that a burst of load from
  elsewhere does not fall on one runtime only.
- reference_latency_ms_single: the same pipeline and frames with the two networks run by
  ai-edge-litert (XNNPACK) instead of PyTorch, in the same run, likewise the better of the two
  thread counts.
- latency_ms_4people: median per 640x480 frame with four people tracked (vtest.avi frames
  690-750 resized to 640x480, ``max_people=4``), landmark passes batched; the better of the two
  thread counts, for the reference too (reference_latency_ms_4people).
- rows *_1thread: the single-person case again with one thread for both runtimes.
- sample_video_recall: tracking mode as the ROS node runs it (the sample video resized to width
  640, one tracker over every frame in order, ``max_people=4``, no world landmarks, the first
  detection spread like the later ones): per person in tests/data/sports2d_marks.json (hand marks
  on every 10th frame), the fraction of their marked frames where a returned box covers the mark;
  the figure is the lowest person's. ``sample_video`` also holds each marked frame and the mean
  time of frames with and without detection over the video.
- vtest_recall: people found / people present over the frames listed in
  tests/data/vtest_counts.json (hand-made counts); each frame is processed from a reset tracker
  (whole-image + tile detection, ``max_people=10``); a person is found when a returned box
  (enlarged by 20 %) covers the hand-marked point on them, one box per person.

OpenMP runs with its defaults unless the caller sets OMP_WAIT_POLICY or GOMP_SPINCOUNT: an idle
worker spins briefly before it sleeps, so a second thread is worth having at batch 1 (with
OMP_WAIT_POLICY=PASSIVE every parallel op wakes a sleeping worker, and 2 threads are slower than
one here). Run it on a quiet machine: with a busy core the 2-thread rows are slower than the
1-thread rows, and the headline figures then come from those (docs/frontend.md).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smplr_core.frontends import PoseTracker  # noqa: E402
from smplr_core.frontends.blazepose.assets import MODELS, model_dir  # noqa: E402
from smplr_core.frontends.blazepose.networks import DetectorOutput, LandmarkOutput  # noqa: E402
from tests.frontend_helpers import video_frames  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "frontend.json"
COUNTS = ROOT / "tests" / "data" / "vtest_counts.json"
TARGET_SINGLE_MS = 15.0
TARGET_RECALL = 0.8
CROWD_FIRST_FRAME = 690  # vtest frames 690-750 hold six to eight people: four are always tracked
BOX_MARGIN = 0.2  # a marked point may lie this fraction of the box size outside a returned box
SAMPLE_MARKS = ROOT / "tests" / "data" / "sports2d_marks.json"
SAMPLE_WIDTH = 640  # scripts/demo.sh: the video source resizes the sample video to this width
SAMPLE_SOURCE_WIDTH = 1768  # the marks are in the video's own pixels
SAMPLE_MAX_PEOPLE = 4  # the node's default max_people
TARGET_SAMPLE_RECALL = 0.9


def letterbox(frame: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """Resize keeping the aspect ratio and pad with black to width x height."""
    h, w = frame.shape[:2]
    s = min(width / w, height / h)
    nw, nh = round(w * s), round(h * s)
    out = np.zeros((height, width, 3), np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


class _Reference:
    """One ai-edge-litert interpreter used as a drop-in for a network of the tracker."""

    def __init__(self, name: str, threads: int):
        from ai_edge_litert.interpreter import Interpreter
        self.interp = Interpreter(model_path=str(model_dir() / MODELS[name].filename), num_threads=threads)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]["index"]
        self.outs = [d["index"] for d in self.interp.get_output_details()]

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        results = []
        for item in x.permute(0, 2, 3, 1).contiguous().cpu().numpy():  # batch 1 models
            self.interp.set_tensor(self.inp, item[None])
            self.interp.invoke()
            results.append([self.interp.get_tensor(i).copy() for i in self.outs])
        return [torch.from_numpy(np.concatenate(r)).to(x.device) for r in zip(*results)]


class ReferenceDetector(_Reference):
    def __call__(self, x: torch.Tensor) -> DetectorOutput:
        reg, scores = self.run(x)
        return DetectorOutput(reg, scores[..., 0])


class ReferenceLandmarks(_Reference):
    def __call__(self, x: torch.Tensor) -> LandmarkOutput:
        lm, flag, _, _, world = self.run(x)
        b = lm.shape[0]
        return LandmarkOutput(lm.reshape(b, 39, 5), flag.reshape(b), world.reshape(b, 39, 3))


def frame_times(tracker, frames: list[np.ndarray]) -> tuple[list[float], list[int]]:
    """Per-frame wall times (ms) after the first (detection) frame, and the people counts."""
    tracker.reset()
    tracker(frames[0])
    times, counts = [], []
    for f in frames[1:]:
        t0 = time.perf_counter()
        people = tracker(f)
        times.append((time.perf_counter() - t0) * 1e3)
        counts.append(len(people))
    return times, counts


def summary(times: list[float], counts: list[int]) -> dict:
    t = np.array(times)
    return {"median_ms": float(np.median(t)), "mean_ms": float(t.mean()), "p90_ms": float(np.percentile(t, 90)),
            "frames": len(t), "mean_people": float(np.mean(counts))}


def reference_tracker(model: str, max_people: int, threads: int) -> PoseTracker:
    """The tracker with both networks run by the reference runtime on ``threads`` threads."""
    trk = PoseTracker(model=model, max_people=max_people, device="cpu", optimise=False)
    trk.detector = ReferenceDetector("detector", threads)
    trk.landmarks = ReferenceLandmarks(model, threads)
    return trk


def time_rows(cases: dict, rounds: int) -> dict:
    """Each case is (tracker, frames, torch threads), timed ``rounds`` times in turn (one pass over
    all cases per round, so a burst of load from elsewhere falls on every row alike rather than
    on one); a row's figures pool its frames over the rounds. The first round starts each case
    with a warm-up (allocations, oneDNN primitives compiled per shape and thread count)."""
    pooled = {name: ([], []) for name in cases}
    for r in range(rounds):
        for name, (trk, frames, threads) in cases.items():
            torch.set_num_threads(threads)
            if r == 0:
                frame_times(trk, frames[:6])
            times, counts = frame_times(trk, frames)
            pooled[name][0].extend(times)
            pooled[name][1].extend(counts)
    return {name: summary(*v) for name, v in pooled.items()}


def matched_points(points: np.ndarray, boxes: np.ndarray, margin: float = BOX_MARGIN) -> set[int]:
    """Indices of the hand-marked points (P, 2) covered by distinct returned boxes (R, 4): a point
    matches a box that contains it once enlarged by ``margin`` of its size on each side; greedy
    by distance to the box centre."""
    if len(points) == 0 or len(boxes) == 0:
        return set()
    size = boxes[:, 2:] - boxes[:, :2]
    lo, hi = boxes[:, :2] - margin * size, boxes[:, 2:] + margin * size
    inside = np.all((points[:, None] >= lo[None]) & (points[:, None] <= hi[None]), axis=-1)  # (P, R)
    dist = np.linalg.norm(points[:, None] - (boxes[None, :, :2] + boxes[None, :, 2:]) / 2, axis=-1)
    pairs = sorted((dist[a, b], a, b) for a, b in zip(*np.nonzero(inside)))
    used_p, used_b = set(), set()
    for _, a, b in pairs:
        if a not in used_p and b not in used_b:
            used_p.add(a)
            used_b.add(b)
    return {int(a) for a in used_p}


def match_people(points: np.ndarray, boxes: np.ndarray, margin: float = BOX_MARGIN) -> int:
    """How many hand-marked points (P, 2) are covered by distinct returned boxes (R, 4)
    (:func:`matched_points`)."""
    return len(matched_points(points, boxes, margin))


def vtest_recall(tracker) -> dict:
    """Recall over the hand-marked vtest frames; each frame from a reset tracker."""
    spec = json.loads(COUNTS.read_text())
    marked = {int(k): np.array(v, dtype=np.float64) for k, v in spec["people"].items()}
    frames = video_frames("vtest.avi", sorted(marked))
    found = returned = 0
    per_frame = {}
    for idx, frame in zip(sorted(marked), frames):
        tracker.reset()
        people = tracker(frame)
        boxes = np.array([p.box for p in people], dtype=np.float64).reshape(-1, 4)
        hit = match_people(marked[idx], boxes)
        per_frame[str(idx)] = {"present": len(marked[idx]), "found": hit, "returned": len(people)}
        found += hit
        returned += len(people)
    present = sum(len(v) for v in marked.values())
    return {"recall": found / present, "found": found, "present": present, "returned": returned,
            "unmatched_returned": returned - found, "per_frame": per_frame}


def sample_tracker(model: str = "full", device: str = "cpu") -> PoseTracker:
    """The tracker as the ROS node builds it (``frame.Reconstructor`` with ``live_stream``): four
    people, no world landmarks, the first detection spread over frames like every later one."""
    trk = PoseTracker(model=model, max_people=SAMPLE_MAX_PEOPLE, device=device, world=False)
    trk.spread_first_detection = True
    return trk


def sample_frames(width: int = SAMPLE_WIDTH) -> list[np.ndarray]:
    """Every frame of the sample video, resized to ``width`` as scripts/demo.sh has the video
    source do (INTER_AREA, RGB)."""
    from smplr_core.reconstruct import iter_frames
    from smplr_core.frontends.blazepose.assets import media_path
    return [rgb for _, rgb in iter_frames(media_path("sports2d_demo.mp4"), width)]


def sample_video_recall(tracker: PoseTracker, frames: list[np.ndarray] | None = None) -> dict:
    """Tracking-mode recall over the hand-marked frames of the sample video
    (tests/data/sports2d_marks.json): one tracker runs over every frame in order, never reset, and
    at each marked frame a person counts as found when a returned box covers their mark
    (:func:`matched_points`). Also the time of every frame, split by whether it ran detection."""
    spec = json.loads(SAMPLE_MARKS.read_text())
    frames = sample_frames() if frames is None else frames
    scale = frames[0].shape[1] / SAMPLE_SOURCE_WIDTH
    tracker.reset()
    per_person: dict[str, list[int]] = {}
    per_frame = {}
    det_ms, track_ms = [], []
    for idx, frame in enumerate(frames):
        t0 = time.perf_counter()
        people = tracker(frame)
        ms = (time.perf_counter() - t0) * 1e3
        (det_ms if tracker.last_detected else track_ms).append(ms)
        marks = spec["people"].get(str(idx))
        if marks is None:
            continue
        names = sorted(marks)
        points = np.array([marks[n] for n in names], dtype=np.float64).reshape(-1, 2) * scale
        boxes = np.array([p.box for p in people], dtype=np.float64).reshape(-1, 4)
        hit = matched_points(points, boxes)
        for k, name in enumerate(names):
            per_person.setdefault(name, [0, 0])
            per_person[name][0] += k in hit
            per_person[name][1] += 1
        per_frame[str(idx)] = {"found": [names[k] for k in sorted(hit)],
                               "missed": [n for k, n in enumerate(names) if k not in hit],
                               "returned": len(people)}
    recall = {name: f / m for name, (f, m) in per_person.items()}
    timing = lambda t: {"frames": len(t), "mean_ms": float(np.mean(t)) if t else 0.0,  # noqa: E731
                        "median_ms": float(np.median(t)) if t else 0.0}
    return {"recall": min(recall.values()), "per_person": {n: {"found": f, "marked": m, "recall": f / m}
                                                           for n, (f, m) in sorted(per_person.items())},
            "per_frame": per_frame, "width": int(frames[0].shape[1]),
            "timing": {"all": timing(det_ms + track_ms), "detection_frames": timing(det_ms),
                       "tracking_frames": timing(track_ms)}}


def recall_results(model: str, device: str) -> dict:
    """vtest_recall (per-frame reset) and sample_video_recall (tracking mode), for the JSON."""
    vtest = vtest_recall(PoseTracker(model=model, max_people=10, device=device))
    sample = sample_video_recall(sample_tracker(model, device))
    return {"vtest_recall": vtest["recall"], "vtest": vtest,
            "sample_video_recall": sample["recall"], "sample_video": sample}


def print_recall(result: dict) -> None:
    v, s = result["vtest"], result["sample_video"]
    print(f"{'vtest recall':<28}{v['recall']:>10.3f}  ({v['found']}/{v['present']} found, "
          f"{v['returned']} returned, {v['unmatched_returned']} not on a marked person)")
    people = ", ".join(f"{n} {p['found']}/{p['marked']}" for n, p in s["per_person"].items())
    t = s["timing"]
    print(f"{'sample video recall':<28}{s['recall']:>10.3f}  ({people}; frames with detection "
          f"{t['detection_frames']['mean_ms']:.1f} ms, without {t['tracking_frames']['mean_ms']:.1f} ms, "
          f"all {t['all']['mean_ms']:.1f} ms mean)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="full", choices=["lite", "full", "heavy"])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="timing passes over all rows, pooled")
    parser.add_argument("--recall-only", action="store_true",
                        help="only the two recall measures; the JSON's other keys are kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    if args.recall_only:
        result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        result.update(recall_results(args.model, args.device))
        result.setdefault("targets", {})["sample_video_recall"] = TARGET_SAMPLE_RECALL
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print_recall(result)
        return

    single = [letterbox(f) for f in video_frames("sports2d_demo.mp4", limit=args.frames + 1)]
    crowd = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_AREA)
             for f in video_frames("vtest.avi", list(range(CROWD_FIRST_FRAME, CROWD_FIRST_FRAME + args.frames + 1)))]

    ours_1 = PoseTracker(model=args.model, max_people=1, device=args.device)
    ours_4 = PoseTracker(model=args.model, max_people=4, device=args.device)
    # The reference trackers' torch work is only the small pre/post-processing ops: torch runs one
    # thread there, so that no idle torch worker spins on a core the reference's threads need.
    cases = {"single": (ours_1, single, args.threads),
             "reference_single": (reference_tracker(args.model, 1, args.threads), single, 1),
             "4people": (ours_4, crowd, args.threads),
             "reference_4people": (reference_tracker(args.model, 4, args.threads), crowd, 1)}
    if args.device == "cpu":
        # One thread: less exposed to other processes on a busy machine (a descheduled OpenMP
        # worker stalls every parallel op), and the per-core cost of both runtimes. Four people
        # with torch on one thread: the landmark batch then runs as two halves on two threads
        # (what the ROS node does with its default torch_threads=1).
        cases.update({"single_1thread": (ours_1, single, 1),
                      "reference_single_1thread": (reference_tracker(args.model, 1, 1), single, 1),
                      "4people_1thread": (ours_4, crowd, 1),
                      "reference_4people_1thread": (reference_tracker(args.model, 4, 1), crowd, 1)})
    rows = time_rows(cases, args.rounds)
    torch.set_num_threads(args.threads)
    recalls = recall_results(args.model, args.device)
    recall = recalls["vtest"]

    # Headline single-person figures: each runtime at its better thread count on these 2 cores (as
    # bench/core.py and bench/hourglass.py do); both counts stay in `rows`.
    best = {name: min((name, f"{name}_1thread"), key=lambda r: rows[r]["median_ms"] if r in rows else float("inf"))
            for name in ("single", "reference_single", "4people", "reference_4people")}
    result = {
        "latency_ms_single": rows[best["single"]]["median_ms"],
        "latency_ms_single_row": best["single"],
        "latency_ms_4people": rows[best["4people"]]["median_ms"],
        "latency_ms_4people_row": best["4people"],
        "reference_latency_ms_single": rows[best["reference_single"]]["median_ms"],
        "reference_latency_ms_single_row": best["reference_single"],
        "reference_latency_ms_4people": rows[best["reference_4people"]]["median_ms"],
        "reference_latency_ms_4people_row": best["reference_4people"],
        **recalls,
        "rows": rows,
        "config": {"load_average_1min": os.getloadavg()[0], "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                   "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
                   "model": args.model, "device": args.device, "threads": args.threads,
                   "frames": args.frames, "rounds": args.rounds, "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                   "single_frames": "sports2d demo.mp4 letterboxed to 640x480, max_people=1, tracking mode",
                   "4people_frames": "vtest.avi frames 690-750 resized to 640x480, max_people=4, tracking mode"},
        "targets": {"latency_ms_single": TARGET_SINGLE_MS, "vtest_recall": TARGET_RECALL,
                    "sample_video_recall": TARGET_SAMPLE_RECALL,
                    "single_not_slower_than_reference": True},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # Keys of the other benchmark writing this file (bench/leftright.py) are kept.
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**kept, **result}, indent=2) + "\n")

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'case':<28}{'median ms':>10}{'mean ms':>10}{'p90 ms':>10}{'people':>8}")
    for name, r in rows.items():
        print(f"{name:<28}{r['median_ms']:>10.1f}{r['mean_ms']:>10.1f}{r['p90_ms']:>10.1f}{r['mean_people']:>8.2f}")
    print_recall(result)
    print(f"targets: single <= {TARGET_SINGLE_MS} ms and <= reference; recall >= {TARGET_RECALL}. "
          f"Written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
