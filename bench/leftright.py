#!/usr/bin/env python3
"""Left/right consistency benchmark (``smplr_core/frontends/leftright.py``): injected swaps on
synthetic 2D sequences, and mirrored frames on real video before and after the corrector.

    .venv/bin/python bench/leftright.py [--repeats 3] [--frames 230] [--vtest-frames 150] [--motions DIR]

Prints one table and adds its keys to bench/results/frontend.json (read-modify-write; the other
keys stay):
- synthetic: every DeepMimic clip (pybullet's; with ``--motions DIR`` or ``$SMPLR_MOCAP_DIR`` also
  up to ``--mocap-clips`` clips of those folders) resampled to 30 frames/s, ``--repeats`` times,
  each time with its own body shape, yaw and sampled camera (the training data's camera
  distribution, fixed over the sequence; the root moves as in the clip), projected with the body
  model's 33 keypoints, with the training data's detector-like noise at level 1 drawn per frame
  (its own random swaps switched off: the benchmark injects and knows every swap). Swaps are
  injected in runs of 1-30 frames 10-40 frames apart (whole body, both arms, both legs, the face),
  the last run of every third sequence kept to the sequence's end. ``synthetic_swap_corrected``:
  fraction of frames with a whole-body, arms or legs swap whose output has every label right
  again (face-only swaps are reported on their own in ``by_kind``); ``synthetic_swap_wrongly_
  corrected``: fraction of frames without any swap that the corrector changed.
- real: the sample video (sports2d demo resized to width 640, as scripts/demo.sh runs it; its
  first ``--frames`` frames) and vtest.avi (first ``--vtest-frames`` frames), through
  ``Reconstructor`` frame by frame (tracking, the blazepose lift, warmed up as the node does):
  lr_consistency off then on, both without the turn limit (the check's own effect), then
  ``node``: the node's defaults (the check and ``max_turn_deg_per_s``, which holds back a
  person-frame whose lifted body turned faster than a body can). ``lr_flips_per_100_track_frames``
  (from ``node``): how often the lifted body's facing direction (global_orient applied to the
  body's forward axis +z) turns by more than 90 degrees between consecutive published frames of
  the same track, per 100 such frame pairs; a criterion the check does not look at. The later
  passes replay the first pass's tracker output (the tracker is deterministic and does not see
  the check), which saves run time.
- ``leftright.corrector_ms_per_frame_4people``: the corrector's median time per frame on four people
  (random keypoints, 300 frames).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smplr_core.frontends.leftright import GROUP_NAMES, LeftRightConsistency, labelling_index  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "frontend.json"
FPS = 30.0
MAX_RUN = 30
TARGET_CORRECTED = 0.9
TARGET_WRONG = 0.01
TARGET_FLIPS = 0.5
FLIP_DEG = 90.0
# Injected swap kinds: groups of leftright.GROUP_NAMES exchanged.
KINDS = {"whole": GROUP_NAMES, "arms": ("arms",), "legs": ("legs",), "face": ("face",)}
# The headline figures count these kinds; face-only swaps are reported on their own (by_kind).
HEADLINE_KINDS = ("whole", "arms", "legs")
TURNING = ("spin", "cartwheel", "backflip", "spinkick", "roll", "walker/turn_left0", "walker/turn_left1",
           "walker/turn_right0", "walker/turn_right1")


# ------------------------------------------------------------------ synthetic
def resample(clip, fps: float = FPS) -> tuple[torch.Tensor, np.ndarray]:
    """A retargeted clip at ``fps``: local rotations (T, 24, 3, 3) and root positions (T, 3)."""
    from smplr_core import geometry

    times = np.concatenate([[0.0], np.cumsum(clip.durations_s[:-1])])
    t = np.arange(0.0, times[-1] + 1e-9, 1.0 / fps)
    i1 = np.clip(np.searchsorted(times, t, side="right"), 1, len(times) - 1)
    i0 = i1 - 1
    a = np.clip((t - times[i0]) / np.maximum(times[i1] - times[i0], 1e-9), 0, 1)
    q = geometry.matrix_to_quaternion(torch.as_tensor(clip.rotations, dtype=torch.float64))
    q0, q1 = q[i0], q[i1]
    q1 = torch.where((q0 * q1).sum(-1, keepdim=True) < 0, -q1, q1)
    at = torch.as_tensor(a)[:, None, None]
    qi = (1 - at) * q0 + at * q1
    rot = geometry.quaternion_to_matrix(qi / qi.norm(dim=-1, keepdim=True)).float()
    root = (1 - a)[:, None] * clip.root_position_m[i0] + a[:, None] * clip.root_position_m[i1]
    return rot, root


def render_sequence(gen, sample_gen, rot: torch.Tensor, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One clip seen by one sampled camera: noisy keypoints (T, 33, 2) and visibility (T, 33)."""
    from smplr_core import geometry
    from smplr_core.data import sampling

    t = rot.shape[0]
    yaw = geometry.rotation_y(sampling.uniform(gen, (1,), -torch.pi, torch.pi))[0]
    world = rot.clone()
    world[:, 0] = yaw @ rot[:, 0]
    root_w = torch.as_tensor(root, dtype=torch.float32) @ yaw.T
    cam = sampling.sample_cameras(gen, 1, sample_gen.cfg.camera)
    moved = (root_w - root_w[:1]) @ cam["rotation"][0].T
    camera = {"rotation": cam["rotation"].expand(t, 3, 3), "root_cam": cam["root_cam"] + moved,
              "intrinsics": cam["intrinsics"].expand(t, 4), "image_size": cam["image_size"].expand(t, 2)}
    betas = sampling.sample_shapes(gen, 1, sample_gen.num_betas, sample_gen.cfg.shape).expand(t, -1)
    out = sample_gen.render(gen, world, betas, 1.0, camera=camera)
    return out["keypoints"].numpy(), out["visibility"].numpy()


def inject(rng: np.random.Generator, t: int, persist: bool) -> np.ndarray:
    """(T, G) bool swapped groups per frame: runs of 1-30 frames of one kind, gaps of 10-40 frames;
    with ``persist`` a last run of 15-45 frames (starting at frame 10 at the earliest) lasts to the end."""
    swaps = np.zeros((t, len(GROUP_NAMES)), bool)
    kinds = list(KINDS)
    last = max(t - int(rng.integers(15, 46)), 10) if persist else t
    f = int(rng.integers(5, 20))
    while True:
        length = int(rng.integers(1, MAX_RUN + 1))
        if f + length + 10 > last:
            break
        cols = [GROUP_NAMES.index(g) for g in KINDS[kinds[int(rng.integers(len(kinds)))]]]
        swaps[f:f + length, cols] = True
        f += length + int(rng.integers(10, 41))
    if persist:
        swaps[last:, [GROUP_NAMES.index(g) for g in KINDS[kinds[int(rng.integers(len(kinds)))]]]] = True
    return swaps


def kind_of(row: np.ndarray) -> str:
    for name, groups in KINDS.items():
        if set(np.array(GROUP_NAMES)[row]) == set(groups):
            return name
    return "other"


def synthetic(args) -> dict:
    from smplr_core.body import load_body_model
    from smplr_core.data import mocap
    from smplr_core.data.generator import DataConfig, SampleGenerator
    from smplr_core.data.noise import NoiseConfig

    cfg = DataConfig(noise=NoiseConfig(swap_prob=0.0, full_swap_prob=0.0))
    sample_gen = SampleGenerator(load_body_model(), mocap.ALL_CLIPS, cfg)
    clips = list(sample_gen.clips)
    sources = ["deepmimic"] * len(clips)
    from smplr_core.data import library

    folders = library.mocap_dirs(args.motions)
    if folders:  # the held-out clips of the mocap folders (../shared/mocap), when given
        body = load_body_model()
        lib = library.load_library(body.template_joints.detach().cpu().double().numpy(),
                                   np.asarray([int(p) for p in body.parents]), folders)
        held = [(c, s) for c, s in zip(lib.held_out.clips, lib.held_out.sources) if s != library.DEEPMIMIC]
        clips += [c for c, _ in held[: args.mocap_clips]]
        sources += [s for _, s in held[: args.mocap_clips]]
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    corrector = LeftRightConsistency()
    stats = {"swapped_frames": 0, "restored": 0, "unswapped_frames": 0, "changed": 0}
    by_kind = {k: {"frames": 0, "restored": 0} for k in KINDS}
    by_clip = {}
    turning = {"unswapped_frames": 0, "changed": 0}
    sequences = 0
    for clip, source in zip(clips, sources):
        rot, root = resample(clip)
        for r in range(args.repeats):
            kps, vis = render_sequence(gen, sample_gen, rot, root)
            t = kps.shape[0]
            swaps = inject(rng, t, persist=sequences % 3 == 2)
            sequences += 1
            corrector.reset()
            row = by_clip.setdefault(clip.name, {"swapped_frames": 0, "restored": 0, "unswapped_frames": 0,
                                                 "changed": 0})
            for f in range(t):
                index = labelling_index(swaps[f])
                raw_k, raw_v = kps[f][index], vis[f][index]
                out_k, _ = corrector([0], raw_k[None], raw_v[None], f / FPS)
                if swaps[f].any():
                    ok = bool(np.array_equal(out_k[0], kps[f]))
                    kind = kind_of(swaps[f])
                    by_kind[kind]["frames"] += 1
                    by_kind[kind]["restored"] += ok
                    if kind not in HEADLINE_KINDS:
                        continue
                    stats["swapped_frames"] += 1
                    stats["restored"] += ok
                    row["swapped_frames"] += 1
                    row["restored"] += ok
                else:
                    changed = not np.array_equal(out_k[0], raw_k)
                    stats["unswapped_frames"] += 1
                    stats["changed"] += changed
                    row["unswapped_frames"] += 1
                    row["changed"] += changed
                    if clip.name in TURNING:
                        turning["unswapped_frames"] += 1
                        turning["changed"] += changed
    return {
        "corrected": stats["restored"] / max(stats["swapped_frames"], 1),
        "wrongly_corrected": stats["changed"] / max(stats["unswapped_frames"], 1),
        "turning_clips_wrongly_corrected": turning["changed"] / max(turning["unswapped_frames"], 1),
        "counts": stats, "sequences": sequences, "clips": len(clips),
        "headline_kinds": list(HEADLINE_KINDS),
        "by_kind": {k: dict(v, corrected=v["restored"] / max(v["frames"], 1)) for k, v in by_kind.items()},
        "by_clip": by_clip,
    }


# ------------------------------------------------------------------ real video
class _Replay:
    """Stands in for the tracker: returns recorded frames' people in order."""

    def __init__(self, tracker, recorded):
        self.recorded = iter(recorded)
        self.max_people, self.min_pose_score = tracker.max_people, tracker.min_pose_score

    def __call__(self, rgb):
        return next(self.recorded)

    def reset(self):
        pass


class _Record:
    def __init__(self, tracker):
        self.tracker, self.frames = tracker, []

    def __getattr__(self, name):
        return getattr(self.tracker, name)

    def __setattr__(self, name, value):
        if name in ("tracker", "frames"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.tracker, name, value)

    def __call__(self, rgb):
        people = self.tracker(rgb)
        self.frames.append(people)
        return people


def flips(results, fps: float) -> dict:
    """Facing turns of more than FLIP_DEG between consecutive frames of one track."""
    from smplr_core.frame import forward_axes

    prev, pairs, count = {}, 0, 0
    for res in results:
        cur = {}
        fwd = forward_axes(res.global_orient)
        for i, tid in enumerate(res.track_ids.tolist()):
            if not res.valid[i]:
                continue
            cur[tid] = fwd[i]
            if tid in prev:
                pairs += 1
                cos = float(np.clip(np.dot(prev[tid], fwd[i]), -1, 1))
                count += np.degrees(np.arccos(cos)) > FLIP_DEG
        prev = cur
    return {"flips": int(count), "track_frame_pairs": pairs, "per_100": 100.0 * count / max(pairs, 1)}


def real(args) -> dict:
    from bench.frontend import sample_frames
    from smplr_core.frame import FrameSettings, Reconstructor
    from tests.frontend_helpers import video_frames

    videos = {"sports2d_demo": (sample_frames()[: args.frames], 30.0),
              "vtest": (video_frames("vtest.avi", limit=args.vtest_frames), 10.0)}
    out = {}
    rec = None
    for name, (frames, fps) in videos.items():
        h, w = frames[0].shape[:2]
        intr = np.array([max(w, h), max(w, h), w / 2, h / 2], np.float32)
        row = {"frames": len(frames), "fps": fps, "size": [w, h]}
        recorded = None
        for mode, settings in (("off", FrameSettings(lr_consistency=False, max_turn_deg_per_s=0.0)),
                               ("on", FrameSettings(lr_consistency=True, max_turn_deg_per_s=0.0)),
                               ("node", FrameSettings())):
            on = settings.lr_consistency
            if rec is None:
                rec = Reconstructor(settings=settings)
                rec.warm_up()  # as the node does: the fused graphs from the first frame on
                real_tracker = rec.tracker
            rec.apply(settings)
            rec.tracker = real_tracker
            rec.reset()
            if recorded is None:
                rec.tracker = _Record(real_tracker)
            else:
                rec.tracker = _Replay(real_tracker, recorded)
            results, changed, by_group = [], 0, np.zeros(len(GROUP_NAMES), int)
            for i, frame in enumerate(frames):
                res = rec(frame, intr, stamp_s=i / fps)
                results.append(res)
                if on:
                    changed += int(rec.lr.last_swapped.any(axis=1).sum())
                    by_group += rec.lr.last_swapped.sum(axis=0)
                    if args.trace:
                        print(i, res.track_ids.tolist(), rec.lr.last_swapped.astype(int).tolist())
            if recorded is None:
                recorded = rec.tracker.frames
            row[mode] = dict(flips(results, fps), corrected_person_frames=changed,
                             **({"corrected_person_frames_by_group": dict(zip(GROUP_NAMES, by_group.tolist()))}
                                if on else {}),
                             held_back_turned=int(sum(r.dropped_turned for r in results)))
        out[name] = row
        rec.tracker = real_tracker
    return out


def corrector_time(n_people: int = 4, frames: int = 300) -> float:
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 400, (n_people, 33, 2)).astype(np.float32)
    vis = np.ones((n_people, 33), np.float32)
    lr = LeftRightConsistency()
    ids = list(range(n_people))
    times = []
    for f in range(frames):
        kps = base + rng.normal(0, 2, base.shape).astype(np.float32)
        t0 = time.perf_counter()
        lr(ids, kps, vis, f / FPS)
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times[10:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="synthetic sequences per clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=230, help="sample video frames (it has 230)")
    parser.add_argument("--vtest-frames", type=int, default=150)
    parser.add_argument("--motions", action="append", default=None, help="mocap folder (also $SMPLR_MOCAP_DIR)")
    parser.add_argument("--mocap-clips", type=int, default=40, help="held-out clips used from those folders")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-real", action="store_true", help="synthetic part only (JSON not written)")
    parser.add_argument("--trace", action="store_true", help="print the corrector's decisions per video frame")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    syn = synthetic(args)
    syn_s = time.perf_counter() - t0
    ms = corrector_time()
    print(f"{'synthetic':<34}{'value':>10}")
    print(f"{'swapped frames restored':<34}{syn['corrected']:>10.3f}   (target >= {TARGET_CORRECTED})")
    print(f"{'unswapped frames changed':<34}{syn['wrongly_corrected']:>10.4f}   (target <= {TARGET_WRONG})")
    print(f"{'  of them on turning clips':<34}{syn['turning_clips_wrongly_corrected']:>10.4f}")
    for k, v in syn["by_kind"].items():
        print(f"{'  restored, ' + k:<34}{v['corrected']:>10.3f}   ({v['frames']} frames)")
    print(f"{'corrector ms / frame, 4 people':<34}{ms:>10.3f}")
    print(f"synthetic: {syn['sequences']} sequences in {syn_s:.0f} s")
    worst = sorted(syn["by_clip"].items(), key=lambda kv: -kv[1]["changed"])[:4]
    print("most unswapped frames changed: " + ", ".join(f"{k} {v['changed']}/{v['unswapped_frames']}" for k, v in worst))
    if args.skip_real:
        return
    vid = real(args)
    print(f"{'video':<16}{'flips/100 off':>14}{'flips/100 on':>14}{'node':>8}{'pairs':>8}{'corrected':>11}"
          f"{'held back':>11}")
    for name, row in vid.items():
        print(f"{name:<16}{row['off']['per_100']:>14.2f}{row['on']['per_100']:>14.2f}{row['node']['per_100']:>8.2f}"
              f"{row['node']['track_frame_pairs']:>8}{row['on']['corrected_person_frames']:>11}"
              f"{row['node']['held_back_turned']:>11}")

    result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result.update({
        "synthetic_swap_corrected": syn["corrected"],
        "synthetic_swap_wrongly_corrected": syn["wrongly_corrected"],
        "lr_flips_per_100_track_frames": vid["sports2d_demo"]["node"]["per_100"],
        "leftright": {
            "synthetic": syn, "real": vid, "corrector_ms_per_frame_4people": ms,
            "targets": {"synthetic_swap_corrected": TARGET_CORRECTED,
                        "synthetic_swap_wrongly_corrected": TARGET_WRONG,
                        "lr_flips_per_100_track_frames": TARGET_FLIPS},
            "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
            "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
        },
    })
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"targets: restored >= {TARGET_CORRECTED}, changed <= {TARGET_WRONG}, sample video flips/100 <= "
          f"{TARGET_FLIPS}. Written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
