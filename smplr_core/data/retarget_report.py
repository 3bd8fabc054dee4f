"""Check the retargeting of every clip of mocap folders: ``python -m smplr_core.data.retarget_report
--motions DIR [--json FILE] [--figure PNG]``.

Per source: the angle between each mapped limb of the body and the source limb it follows, on
every frame of every clip (max and 99th percentile, degrees); knees and elbows bent by more than
30° that bend the wrong way (a flipped limb); on walking clips (names matching ``--walking``), the
lowest foot's height spread while the root moves faster than 0.5 m/s (feet on the ground while
walking: 5th to 95th percentile around the clip's median, cm, the body placed on the source's pelvis
trajectory scaled by the body's leg length over the source's). The figure shows a few frames per
source: the source skeleton and the retargeted body's skeleton side by side.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from smplr_core.data import library, retarget
from smplr_core.data.mocap import matrix_log

BEND_MIN_DEG = 30.0
WALK_SPEED_M_S = 0.5
FOOT_JOINTS = (7, 8, 10, 11)
DEFAULT_WALKING = r"(?i)walk|jog|sneak"
# (SMPL joint, axis its flexion turns about): knees +x, left elbow -y, right elbow +y
FLEXION_AXES = {4: (1, 0, 0), 5: (1, 0, 0), 18: (0, -1, 0), 19: (0, 1, 0)}


def wrong_way_bends(clip) -> tuple[int, int]:
    """(frames x joints bent over BEND_MIN_DEG, of which bending against the joint's axis)."""
    aa = matrix_log(clip.rotations)
    bent = wrong = 0
    for j, axis in FLEXION_AXES.items():
        angle = np.degrees(np.linalg.norm(aa[:, j], axis=-1))
        m = angle > BEND_MIN_DEG
        bent += int(m.sum())
        wrong += int((aa[m, j] @ np.asarray(axis, float) < 0).sum())
    return bent, wrong


def foot_heights_while_moving(motion, clip, rest, parents, rig) -> np.ndarray:
    """Lowest foot joint's height (m) above the clip's median on frames where the root moves faster
    than WALK_SPEED_M_S, the body placed on the source's pelvis trajectory scaled to its legs."""
    _, src_rest = retarget.rest_pose(motion, rig)
    a = retarget.axes_to_smpl(motion, rig)
    src_h = (src_rest @ a.T)[:, 1]
    src_leg = src_h[motion.index(rig.root)] - min(src_h[motion.index(f)] for f in rig.feet)
    body_leg = rest[0, 1] - rest[list(FOOT_JOINTS), 1].min()
    root = clip.root_position_m * (body_leg / src_leg)
    pos = retarget.smpl_forward(clip.rotations, rest, parents, root)
    low = pos[:, list(FOOT_JOINTS), 1].min(axis=1)
    speed = np.linalg.norm(np.diff(clip.root_position_m[:, [0, 2]], axis=0), axis=-1) / clip.durations_s[1:]
    moving = np.concatenate([[False], speed > WALK_SPEED_M_S])
    return low[moving] - np.median(low[moving]) if moving.any() else np.zeros(0)


def report(dirs, rest: np.ndarray, parents: np.ndarray, figure: Path | None = None,
           walking: str = DEFAULT_WALKING) -> dict:
    out, examples = {}, []
    for d in dirs:
        for name, folder in library.source_folders(d):
            errs, heights, bent, wrong, frames, clips, skipped = [], [], 0, 0, 0, 0, 0
            asfs = sorted(folder.rglob("*.asf"))
            cache: dict = {}
            first = None
            for path in library._motion_files(folder):
                try:
                    motion = library.read_motion(path, asfs, cache)
                    rig = retarget.detect_rig(motion)
                    clip = retarget.retarget_motion(motion, rest, parents, rig, name=path.stem)
                except (ValueError, OSError, KeyError) as exc:
                    print(f"skipping {' '.join(str(exc).split())}", file=sys.stderr)
                    skipped += 1
                    continue
                e = retarget.limb_direction_errors_deg(motion, clip, rest, parents, rig)
                errs.append(np.concatenate(list(e.values())))
                if re.search(walking, path.stem):
                    heights.append(foot_heights_while_moving(motion, clip, rest, parents, rig))
                b, w = wrong_way_bends(clip)
                bent, wrong = bent + b, wrong + w
                frames += motion.num_frames
                clips += 1
                if first is None or motion.num_frames > first[0].num_frames:
                    first = (motion, clip, rig)
            if not clips:
                continue
            e = np.concatenate(errs)
            h = np.concatenate(heights) if heights else np.zeros(0)
            out[name] = {
                "rig": first[2].name, "clips": clips, "frames": frames, "skipped": skipped,
                "limb_direction_max_deg": float(e.max()), "limb_direction_p99_deg": float(np.percentile(e, 99)),
                "bent_joint_frames": bent, "wrong_way_bends": wrong,
                "walking_clips": len(heights), "moving_frames": int(h.size),
                "lowest_foot_spread_p5_p95_cm": ([float(np.percentile(h, 5)) * 100, float(np.percentile(h, 95)) * 100]
                                                 if h.size else None),
            }
            examples.append((name, *first))
    if figure is not None and examples:
        plot_examples(examples, rest, parents, Path(figure))
    return out


def plot_examples(examples, rest, parents, path: Path, frames_per_source: int = 3) -> None:
    """Front views of a few frames per source: source skeleton (grey) and the body (blue)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(examples), frames_per_source, figsize=(3.0 * frames_per_source, 3.2 * len(examples)),
                             squeeze=False)
    for row, (name, motion, clip, rig) in zip(axes, examples):
        a = retarget.axes_to_smpl(motion, rig)
        world, pos = motion.forward_kinematics()
        body = retarget.smpl_forward(clip.rotations, rest, parents)
        used = {motion.index(s) for s, _ in rig.joints.values()} | {motion.index(rig.root)}
        for ax, t in zip(row, np.linspace(0, motion.num_frames - 1, frames_per_source + 2)[1:-1].astype(int)):
            src = (pos[t] - pos[t, motion.index(rig.root)]) @ a.T
            for j, p in enumerate(motion.parents):
                if p >= 0 and (j in used or p in used):
                    ax.plot([src[p, 0], src[j, 0]], [src[p, 1], src[j, 1]], color="0.5", lw=2)
            root_pos = pos[t, motion.index(rig.root)]
            for j, end in motion.end_sites_m.items():
                if j in used:
                    e = (pos[t, j] + world[t, j] @ end - root_pos) @ a.T
                    ax.plot([src[j, 0], e[0]], [src[j, 1], e[1]], color="0.5", lw=2)
            b = body[t] - body[t, 0]
            b[:, 0] -= 0.9
            for j in range(1, 24):
                ax.plot([b[parents[j], 0], b[j, 0]], [b[parents[j], 1], b[j, 1]], color="tab:blue", lw=2)
            ax.set_aspect("equal")
            ax.set_xlim(-1.6, 0.7)
            ax.set_ylim(-1.2, 1.0)
            ax.invert_xaxis()  # SMPL x is the body's left: seen from the front, left is on the right
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}: {Path(motion.path).stem[:22]} #{t}", fontsize=7)
    fig.suptitle("source skeleton (grey, left) and retargeted body (blue, right), front view", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m smplr_core.data.retarget_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--motions", action="append", default=None, metavar="DIR",
                   help="mocap folder (repeatable; default: $SMPLR_MOCAP_DIR)")
    p.add_argument("--json", default=None, help="write the report here")
    p.add_argument("--figure", default=None, help="PNG with a few frames per source")
    p.add_argument("--walking", default=DEFAULT_WALKING,
                   help="regular expression: clips (file names without extension) checked for feet on the ground")
    args = p.parse_args(argv)
    dirs = library.mocap_dirs(args.motions)
    if not dirs:
        print("no mocap folder: pass --motions DIR or set $SMPLR_MOCAP_DIR", file=sys.stderr)
        return 2
    from smplr_core.body import load_body_model
    body = load_body_model()
    rest = body.template_joints.detach().double().numpy()
    parents = np.asarray([int(q) for q in body.parents])
    result = report(dirs, rest, parents, Path(args.figure) if args.figure else None, args.walking)
    print(f"{'source':<12} {'rig':<9} {'clips':>5} {'frames':>7} {'limb max':>9} {'limb p99':>9} "
          f"{'bent':>7} {'wrong':>6} {'walking: foot p5..p95 cm':>32}")
    for name, r in result.items():
        spread = r["lowest_foot_spread_p5_p95_cm"]
        s = f"{spread[0]:.1f} .. {spread[1]:.1f} ({r['walking_clips']} clips)" if spread else "-"
        print(f"{name:<12} {r['rig']:<9} {r['clips']:>5} {r['frames']:>7} {r['limb_direction_max_deg']:>9.4f} "
              f"{r['limb_direction_p99_deg']:>9.4f} {r['bent_joint_frames']:>7} {r['wrong_way_bends']:>6} {s:>32}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
