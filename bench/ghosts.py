#!/usr/bin/env python3
"""Ghosts and sizes: people found where nobody is, and how tall the people found come out.

    .venv/bin/python bench/ghosts.py [--threads 1]

Runs the frame path (``smplr_core.frame.Reconstructor``, the node's defaults, default intrinsics:
60 degree field of view) and prints one table; writes into bench/results/frontend.json (other
keys kept):
- false_people_per_blank_frame: people returned per frame on frames with nobody in them: black,
  grey, white, uniform and Gaussian noise at 640x480 and 1920x1080, each as a sequence of 10
  frames through one tracker (tracking mode) after a reset. Target 0.
- ghosts.vtest: on the hand-marked vtest frames (tests/data/vtest_counts.json, each from a reset
  tracker as in bench/frontend.py) the people returned that cover no marked person, per frame, with
  the ghost filters at their defaults and off, and the marked people still returned
  (a filter must not cost recall).
- ghosts.sample_video: the sample video at width 640 (as the demo), tracked: people per frame and
  the pelvis depth range, with the filters at their defaults and off.
- heights: stature of the body each person's betas give (zero pose, top of head to sole), median
  and 5-95 % range per video: an adult stands 1.5-2.0 m tall, and the depth of a person scales with
  the size the lift gives them.
- root_depth_error_pct_median: on the core's held-out synthetic evaluation set (held-out clips and
  shapes, cameras 1.5-8 m away, noise level 1; ``smplr_core.eval``), the pelvis depth error of
  DAE -> SMPLR -> translation fit in % of the true depth, median (target <= 5), with the median per
  distance bin, the signed median (the bias) and the same fit from the true 3D body (what the 2D
  alone leaves) in ``root_depth``; also the fit with the predicted pose on the true shape
  (``true_shape_predicted_pose_median_pct``: what the shape from 2D costs) and the median ratio of
  the predicted to the true skeleton's bone lengths (``skeleton_length_ratio_median``).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.frontend import COUNTS, match_people, sample_frames  # noqa: E402
from smplr_core.frame import FrameSettings, Reconstructor  # noqa: E402
from smplr_core.reconstruct import default_intrinsics  # noqa: E402
from tests.frontend_helpers import video_frames  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "frontend.json"
OFF = FrameSettings(min_person_height_px=0.0, max_distance_m=0.0)
BLANK_SIZES = ((640, 480), (1920, 1080))
BLANK_FRAMES = 10


def blank_frames(width: int, height: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    shape = (height, width, 3)
    return {
        "black": [np.zeros(shape, np.uint8)] * BLANK_FRAMES,
        "grey": [np.full(shape, 128, np.uint8)] * BLANK_FRAMES,
        "white": [np.full(shape, 255, np.uint8)] * BLANK_FRAMES,
        "uniform_noise": [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(BLANK_FRAMES)],
        "gaussian_noise": [np.clip(rng.normal(128, 40, shape), 0, 255).astype(np.uint8)
                           for _ in range(BLANK_FRAMES)],
    }


def statures(rec: Reconstructor, betas: np.ndarray) -> np.ndarray:
    """(N,) metres from the top of the head to the sole of the body of each betas (N, 10), zero pose."""
    if len(betas) == 0:
        return np.zeros(0)
    body = rec.lift.body
    b = torch.from_numpy(np.asarray(betas, np.float32))
    zeros = torch.zeros(len(b), 3)
    with torch.inference_mode():
        out = body(b, zeros, torch.zeros(len(b), 69), zeros)
    y = out.vertices[..., 1]
    return (y.amax(1) - y.amin(1)).numpy()


def run_sequence(rec: Reconstructor, frames, settings: FrameSettings, fps: float) -> list:
    rec.apply(settings)
    rec.reset()
    results = []
    for i, rgb in enumerate(frames):
        intr = default_intrinsics(rgb.shape[1], rgb.shape[0])
        results.append(rec(rgb, intr, stamp_s=i / fps))
    return results


def blank(rec: Reconstructor) -> dict:
    rows, total, frames = {}, 0, 0
    for w, h in BLANK_SIZES:
        for name, seq in blank_frames(w, h).items():
            people = [len(r) for r in run_sequence(rec, seq, FrameSettings(), 30.0)]
            rows[f"{name}_{w}x{h}"] = int(sum(people))
            total += sum(people)
            frames += len(people)
    return {"false_people_per_frame": total / frames, "frames": frames, "people_by_case": rows}


def vtest(rec: Reconstructor) -> dict:
    spec = json.loads(COUNTS.read_text())
    marked = {int(k): np.array(v, dtype=np.float64) for k, v in spec["people"].items()}
    frames = video_frames("vtest.avi", sorted(marked))
    out = {}
    for label, settings in (("defaults", FrameSettings()), ("filters_off", OFF)):
        found = returned = small = far = 0
        for idx, rgb in zip(sorted(marked), frames):
            r = run_sequence(rec, [rgb], settings, 10.0)[0]
            boxes = np.concatenate([r.keypoints_2d.min(1), r.keypoints_2d.max(1)], axis=1) if len(r) \
                else np.zeros((0, 4))
            found += match_people(marked[idx], boxes)
            returned += len(r)
            small += r.dropped_small
            far += r.dropped_far
        present = sum(len(v) for v in marked.values())
        out[label] = {"false_people_per_frame": (returned - found) / len(frames), "found": found,
                      "present": present, "returned": returned, "dropped_small": small, "dropped_far": far}
    return out


def sample_video(rec: Reconstructor, heights: dict) -> dict:
    frames = sample_frames()
    out = {}
    for label, settings in (("defaults", FrameSettings()), ("filters_off", OFF)):
        results = run_sequence(rec, frames, settings, 30.0)
        depth = np.concatenate([r.joints[r.valid, 0, 2] for r in results])
        out[label] = {"people_per_frame": float(np.mean([len(r) for r in results])),
                      "dropped_small": int(sum(r.dropped_small for r in results)),
                      "dropped_far": int(sum(r.dropped_far for r in results)),
                      "pelvis_depth_m_min": float(depth.min()), "pelvis_depth_m_max": float(depth.max())}
        if label == "defaults":
            heights["sample_video"] = np.concatenate([statures(rec, r.betas[r.valid]) for r in results])
    return out


def vtest_heights(rec: Reconstructor, heights: dict) -> None:
    frames = video_frames("vtest.avi", limit=200)
    results = run_sequence(rec, frames, FrameSettings(), 10.0)
    heights["vtest"] = np.concatenate([statures(rec, r.betas[r.valid]) for r in results])


@torch.no_grad()
def root_depth() -> dict:
    from smplr_core.body import SMPL_PARENTS, load_body_model
    from smplr_core.eval.evaluate import Evaluator, decode
    from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR

    ev = Evaluator(DEFAULT_WEIGHTS_DIR, load_body_model())
    out = ev.root_depth()
    j, _, _, kp = decode(ev.body, ev.data["betas"], ev.data["rotmats"])
    oracle = ev.root_depth(ev.root_fit(kp - j[:, :1], ev.data))
    out["true_3d_body_median_pct"] = oracle["median_pct"]
    # What the shape leaves: the predicted pose on the true shape, and the predicted body's size.
    outs = [ev.smplr_e2e(p) for p in ev.dae_points(ev.data).split(512)]
    betas, rot = torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])
    jt, _, _, kt = decode(ev.body, ev.data["betas"], rot)
    out["true_shape_predicted_pose_median_pct"] = ev.root_depth(ev.root_fit(kt - jt[:, :1], ev.data))["median_pct"]
    jp = decode(ev.body, betas, rot)[0]
    parents = torch.tensor([max(p, 0) for p in SMPL_PARENTS])

    def skeleton(x):
        return (x - x[:, parents]).norm(dim=-1)[:, 1:].sum(1)

    out["skeleton_length_ratio_median"] = float((skeleton(jp) / skeleton(j)).median())
    out["samples"] = int(ev.data["betas"].shape[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    start = time.perf_counter()
    rec = Reconstructor()
    heights: dict = {}
    result = {"blank": blank(rec), "vtest": vtest(rec), "sample_video": sample_video(rec, heights)}
    vtest_heights(rec, heights)
    result["root_depth"] = root_depth()
    result["heights"] = {name: {"people": int(len(h)), "median_m": float(np.median(h)),
                                "p5_m": float(np.percentile(h, 5)), "p95_m": float(np.percentile(h, 95)),
                                "adult_range_fraction": float(np.mean((h >= 1.5) & (h <= 2.0)))}
                         for name, h in heights.items()}
    result["settings"] = {"min_person_height_px": FrameSettings.min_person_height_px,
                          "max_distance_m": FrameSettings.max_distance_m}
    result["command"] = "bench/ghosts.py " + " ".join(sys.argv[1:])
    result["machine"] = f"{platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)"
    result["seconds"] = round(time.perf_counter() - start, 1)

    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data["false_people_per_blank_frame"] = result["blank"]["false_people_per_frame"]
    data["vtest_false_people_per_frame"] = result["vtest"]["defaults"]["false_people_per_frame"]
    data["root_depth_error_pct_median"] = result["root_depth"]["median_pct"]
    data["ghosts"] = result
    RESULTS.write_text(json.dumps(data, indent=1))

    v, s = result["vtest"], result["sample_video"]
    print(f"{'case':<44}{'defaults':>12}{'filters off':>13}")
    print(f"{'blank/noise frames: people per frame':<44}{result['blank']['false_people_per_frame']:>12.3f}{'':>13}")
    print(f"{'vtest marked frames: unmatched per frame':<44}{v['defaults']['false_people_per_frame']:>12.2f}"
          f"{v['filters_off']['false_people_per_frame']:>13.2f}")
    print(f"{'vtest marked people found':<44}{v['defaults']['found']:>9}/{v['defaults']['present']}"
          f"{v['filters_off']['found']:>10}/{v['filters_off']['present']}")
    print(f"{'sample video: people per frame':<44}{s['defaults']['people_per_frame']:>12.2f}"
          f"{s['filters_off']['people_per_frame']:>13.2f}")
    for name, h in result["heights"].items():
        print(f"{'stature ' + name + ' (m, median [5-95 %])':<44}{h['median_m']:>12.2f}  "
              f"[{h['p5_m']:.2f}-{h['p95_m']:.2f}], {h['adult_range_fraction']:.0%} in 1.5-2.0 m")
    rd = result["root_depth"]
    print(f"{'pelvis depth error, held-out synthetic (%)':<44}{rd['median_pct']:>12.2f}  median (bias "
          f"{rd['signed_median_pct']:+.1f} %; from the true 3D body {rd['true_3d_body_median_pct']:.2f})")
    print(f"{'  the predicted pose on the true shape (%)':<44}{rd['true_shape_predicted_pose_median_pct']:>12.2f}"
          f"  (predicted skeleton {rd['skeleton_length_ratio_median']:.3f} of the true one's length)")
    print("  by distance " + ", ".join(f"{lo:g}-{hi:g} m {v:.1f}" for lo, hi, v in
                                        zip(rd["bins_m"][:-1], rd["bins_m"][1:], rd["median_pct_by_bin"])))
    print(f"wrote {RESULTS} ({result['seconds']} s)")


if __name__ == "__main__":
    main()
