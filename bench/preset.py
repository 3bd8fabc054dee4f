#!/usr/bin/env python3
"""The front-end presets (``smplr_core/frontends/labelcheck.py``) measured: fast, accurate, and
BlazePose ``heavy`` on every person and frame for reference.

    .venv/bin/python bench/preset.py [--renders 128] [--frames 230] [--vtest-frames 150]

Adds ``presets`` to bench/results/frontend.json (read-modify-write; the other keys stay):
- ``renders``: the held-out synthetic renders of bench/hourglass.py (seed ``HELD_OUT_SEED``, 256 px
  crops, one person each), each shown twice as a still video (the first frame finds the person,
  the second tracks them, which is where the accurate preset checks), through ``Reconstructor``
  (BlazePose -> left/right check -> DAE -> SMPLR); MPJPE / PA-MPJPE / PVE of the second frame,
  root-relative over the 24 joints, over the renders where every run found the person; and
  ``mirrored``: the fraction of them whose joints fit the ground truth with its left and right
  joints exchanged better than the ground truth itself (PA-MPJPE).
- ``sports2d_demo`` (the sample video at width 640, first ``--frames`` frames) and ``vtest``
  (first ``--vtest-frames`` frames), frame by frame in tracking mode: ``lr_flips_per_100`` (as
  bench/leftright.py counts them: the lifted body's facing turning by more than 90 degrees between
  consecutive frames of a track), ``mirrored_vs_heavy_per_100``: person-frames whose torso, arms
  or legs are clearly labelled the other way round from the ``heavy`` run's person on the same
  spot (box IoU >= 0.5; ``leftright.reference_labelling``), per 100 matched person-frames;
  ``label_checks`` per frame; ``same_boxes_as_fast`` (the accurate preset takes only labels from
  heavy, so the people found, and the recall, are the fast preset's); and the frame path's time
  per frame (front-end and lift, p50 and mean) with the 1-min load average: timings on a busy
  machine are high, the node's rate is bench/node.py's (``--runs accurate``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smplr_core.body.joint_names import SMPL_JOINT_NAMES  # noqa: E402
from smplr_core.frame import FrameSettings, Reconstructor  # noqa: E402
from smplr_core.frontends.leftright import GROUP_NAMES, reference_labelling  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "frontend.json"
# name -> (frontend_model, preset)
RUNS = {"fast": ("full", "fast"), "accurate": ("full", "accurate"), "heavy": ("heavy", "fast")}
BODY_GROUPS = [GROUP_NAMES.index(g) for g in ("torso", "arms", "legs")]
SMPL_MIRROR = [SMPL_JOINT_NAMES.index(n.replace("left_", "right_") if n.startswith("left_")
                                      else n.replace("right_", "left_")) for n in SMPL_JOINT_NAMES]


def renders(count: int) -> dict:
    from smplr_core.body import load_body_model
    from smplr_core.frontends.hourglass.evaluate import joint_errors_mm, vertex_error_mm
    from smplr_core.frontends.hourglass.volume import crop_intrinsics
    from smplr_core.synth.renderer import SyntheticRenderer
    from smplr_core.train.hourglass import HELD_OUT_SEED

    size = 256
    held = SyntheticRenderer(load_body_model(), crop_size=size, workers=2).render(
        np.random.default_rng(HELD_OUT_SEED), count)
    intr = crop_intrinsics(held.centre_cam, size).numpy()
    target = (held.points_cam - held.root_cam[:, None])[:, :24]
    preds = {}
    for name, (model, preset) in RUNS.items():
        # A still shown twice is not a video: the turn limit (max_turn_deg_per_s) would hold back
        # the second frame whenever the tracking crop's labels differ from the detection crop's.
        rec = Reconstructor(model, preset=preset, settings=FrameSettings(max_turn_deg_per_s=0.0))
        joints, verts, checks = [], [], 0
        for i, image in enumerate(held.images):
            rec.reset()
            rgb = np.ascontiguousarray(image)
            rec(rgb, intr[i], stamp_s=0.0)
            res = rec(rgb, intr[i], stamp_s=1 / 30)
            checks += res.label_checks
            if len(res) and res.valid[0]:
                j = torch.as_tensor(res.joints[0])
                joints.append(j - j[:1])
                verts.append(torch.as_tensor(res.vertices[0]) - j[:1])
            else:
                joints.append(None)
                verts.append(None)
        preds[name] = (joints, verts, checks)
    found = np.array([all(preds[n][0][i] is not None for n in RUNS) for i in range(count)])
    out = {"renders": count, "found_by_every_run": int(found.sum()), "seed": HELD_OUT_SEED}
    for name, (joints, verts, checks) in preds.items():
        j = torch.stack([x for x, f in zip(joints, found) if f])
        v = torch.stack([x for x, f in zip(verts, found) if f])
        t = target[found]
        row = joint_errors_mm(j, t)
        row["pve_mm"] = vertex_error_mm(v, held.vertices_rel[found])
        per = [joint_errors_mm(j[k:k + 1], t[k:k + 1])["pa_mpjpe_mm"] for k in range(len(j))]
        per_mirror = [joint_errors_mm(j[k:k + 1], t[k:k + 1, SMPL_MIRROR])["pa_mpjpe_mm"] for k in range(len(j))]
        row["mirrored"] = float(np.mean(np.array(per_mirror) < np.array(per)))
        row["label_checks"] = checks
        row["found"] = int(sum(x is not None for x in joints))
        out[name] = row
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    union = float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)
    return inter / max(union, 1e-9)


def _boxes(res) -> np.ndarray:
    kp = res.keypoints_2d
    return np.concatenate([kp.min(1), kp.max(1)], axis=1) if len(res) else np.zeros((0, 4))


def video(frames: list[np.ndarray], fps: float) -> dict:
    from bench.leftright import flips

    h, w = frames[0].shape[:2]
    intr = np.array([max(w, h), max(w, h), w / 2, h / 2], np.float32)
    results, times = {}, {}
    for name, (model, preset) in RUNS.items():
        rec = Reconstructor(model, preset=preset)
        rec.warm_up()
        runs, t = [], []
        for i, frame in enumerate(frames):
            start = time.perf_counter()
            runs.append(rec(frame, intr, stamp_s=i / fps))
            t.append(1000 * (time.perf_counter() - start))
        results[name], times[name] = runs, np.array(t)
    out = {"frames": len(frames), "fps": fps, "size": [w, h]}
    for name in RUNS:
        mirrored = matched = 0
        for res, ref in zip(results[name], results["heavy"]):
            rb = _boxes(ref)
            for k, box in enumerate(_boxes(res)):
                ious = [_iou(box, b) for b in rb]
                if not ious or max(ious) < 0.5:
                    continue
                j = int(np.argmax(ious))
                matched += 1
                swapped, _ = reference_labelling(res.keypoints_2d[k], res.visibility[k],
                                                 ref.keypoints_2d[j], ref.visibility[j])
                mirrored += bool(swapped[BODY_GROUPS].any())
        same = all(np.array_equal(_boxes(a), _boxes(b)) and np.array_equal(a.track_ids, b.track_ids)
                   for a, b in zip(results[name], results["fast"]))
        out[name] = {
            "lr_flips_per_100": flips(results[name], fps)["per_100"],
            "mirrored_vs_heavy_per_100": 100.0 * mirrored / max(matched, 1),
            "matched_person_frames": matched,
            "person_frames": int(sum(len(r) for r in results[name])),
            "label_checks_per_frame": float(np.mean([r.label_checks for r in results[name]])),
            "dropped_far": int(sum(r.dropped_far for r in results[name])),
            "same_boxes_as_fast": bool(same),
            "frame_ms_p50": float(np.median(times[name][10:])),
            "frame_ms_mean": float(np.mean(times[name][10:])),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=128)
    parser.add_argument("--frames", type=int, default=230, help="sample video frames (it has 230)")
    parser.add_argument("--vtest-frames", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the node's default: 1)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from bench.frontend import sample_frames
    from tests.frontend_helpers import video_frames

    load = os.getloadavg()[0]
    result = {"renders": renders(args.renders) if args.renders else None}
    result["sports2d_demo"] = video(sample_frames()[: args.frames], 30.0)
    result["vtest"] = video(video_frames("vtest.avi", limit=args.vtest_frames), 10.0)
    result.update({"load_average_1min_before": round(load, 2),
                   "load_average_1min_after": round(os.getloadavg()[0], 2), "torch_threads": args.threads,
                   "cpu_count": os.cpu_count(),
                   "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])})
    print(json.dumps({k: v for k, v in result.items()}, indent=1))
    if not args.no_write:
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        data["presets"] = result
        RESULTS.write_text(json.dumps(data, indent=2) + "\n")
        print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
