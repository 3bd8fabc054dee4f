"""Benchmark of the paper's image front-end: render speed, network speed, held-out accuracy.

    .venv/bin/python bench/hourglass.py            # prints one table, writes bench/results/hourglass.json
    .venv/bin/python bench/hourglass.py --sections real_video   # one part; the JSON keeps the others

Speed (``speed``): render rates; forward times on the CPU, ``forward_ms_cpu_b1`` being the default
network (``real``) for one person.

Accuracy rows (``renders``) are computed on the same held-out synthetic renders (a seed training never uses),
root-relative over the 24 SMPL joints, in mm:
- mean pose: the trivial baseline (the mean root-relative pose of training renders);
- hourglass (real: two stacks on BlazePose's frozen real-image features, the default; small,
  CPU-trained; medium, GPU-trained): the volumetric hourglass's own 3D joints;
- hourglass -> SMPLR: those points through the core's SMPLR and the body model (PVE from the mesh);
- hourglass -> SMPLR end-to-end: after fine-tuning the two together (if those weights exist);
- hourglass (real) -> SMPLR joints only: the landmark ablation (the core's SMPLR trained without
  the 18 landmarks, on the same points);
- BlazePose -> DAE -> SMPLR: the default front-end and the core's pipeline on the same renders.
Rows whose weights or components are missing are listed with the reason.

Real video (``real_video``, see ``real_video``): every hourglass against the default path on the
sample video and vtest; ``real_video.orientation_agreement`` and ``real_video.upright`` are the
default network's, over the detections of both videos.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smplr_core.body import load_body_model  # noqa: E402
from smplr_core.frontends.hourglass.evaluate import (NUM_JOINTS, joint_errors_mm, mean_pose_baseline,  # noqa: E402
                                                     predict_root_relative, vertex_error_mm)
from smplr_core.frontends.hourglass.network import CONFIGS, VolumetricHourglass  # noqa: E402
from smplr_core.synth.renderer import SyntheticRenderer  # noqa: E402
from smplr_core.train.hourglass import HELD_OUT_SEED, load_hourglass  # noqa: E402

WEIGHTS = REPO / "weights" / "hourglass"
RESULTS = REPO / "bench" / "results" / "hourglass.json"
EVAL_COUNT = int(os.environ.get("HOURGLASS_BENCH_EVAL", "128"))
EVAL_CROP = 256  # held-out renders at the paper's crop size (BlazePose's input size too)


def render_rate(body, size: int, workers: int, count: int = 64, repeats: int = 3) -> float:
    """Images per second of the whole synthetic pipeline (pose, body model, outfit, background,
    rasterise, noise) at size x size, best of `repeats` batches."""
    torch.set_num_threads(workers)
    renderer = SyntheticRenderer(body, crop_size=size, workers=workers)
    rng = np.random.default_rng(0)
    renderer.render(rng, 4)  # compile / warm up
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        renderer.render(rng, count)
        best = max(best, count / (time.perf_counter() - t))
    return best


def forward_ms(model, size: int, threads: int, batch: int = 1, repeats: int = 10) -> float:
    torch.set_num_threads(threads)
    x = torch.rand(batch, 3, size, size)
    model.eval()
    with torch.no_grad():
        model.predict_volume(x)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model.predict_volume(x)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def rows_with_mesh(name, joints_rel, target, vertices=None, target_vertices=None) -> dict:
    row = {"row": name, **joint_errors_mm(joints_rel[:, :NUM_JOINTS], target[:, :NUM_JOINTS])}
    row["pve_mm"] = vertex_error_mm(vertices, target_vertices) if vertices is not None else None
    return row


def hourglass_rows(name: str, model, body, held_out, target) -> tuple[list[dict], torch.Tensor, np.ndarray]:
    """The network's own 3D joints and, through the core's SMPLR + body model, its mesh, on the
    held-out renders (rendered again natively when the network's input size differs; the same seed
    gives the same bodies, cameras and outfits). Returns (rows, prediction, images)."""
    images = held_out.images
    if model.config.input_size != images.shape[1]:
        native = SyntheticRenderer(body, crop_size=model.config.input_size, workers=2).render(
            np.random.default_rng(HELD_OUT_SEED), len(images))
        torch.testing.assert_close(native.points_cam, held_out.points_cam)
        images = native.images
    pred = predict_root_relative(model, images, held_out.centre_cam)
    rows = [rows_with_mesh(f"hourglass ({name})", pred, target)]
    from smplr_core.train.hourglass_smplr import default_smplr_path, load_smplr, reconstruct
    smplr_path = os.environ.get("SMPLR_WEIGHTS")
    smplr = load_smplr(Path(smplr_path) if smplr_path else default_smplr_path())
    with torch.no_grad():
        recon, verts = reconstruct(smplr, body, pred)
    rows.append(rows_with_mesh(f"hourglass ({name}) -> SMPLR", recon, target, verts, held_out.vertices_rel))
    return rows, pred, images


def blazepose_rows(held_out, size: int) -> dict:
    """BlazePose -> DAE -> SMPLR on the held-out renders (the default path of the node)."""
    from smplr_core.frontends import PoseTracker
    from smplr_core.frontends.hourglass.volume import crop_intrinsics
    from smplr_core.pipeline import Pipeline

    tracker = PoseTracker(max_people=1)
    pipeline = Pipeline.load()
    intr = crop_intrinsics(held_out.centre_cam, size)
    joints, verts, found = [], [], []
    for i, image in enumerate(held_out.images):
        tracker.reset()
        people = tracker(np.ascontiguousarray(image))
        if not people:
            found.append(False)
            continue
        p = people[0]
        out = pipeline(torch.as_tensor(p.keypoints[None], dtype=torch.float32),
                       torch.as_tensor(p.visibility[None], dtype=torch.float32), intr[i:i + 1])
        if not bool(out.valid[0]):
            found.append(False)
            continue
        found.append(True)
        j = torch.as_tensor(out.joints[0])
        joints.append(j - j[:1])
        verts.append(torch.as_tensor(out.vertices[0]) - j[:1])
    found = np.array(found)
    target = (held_out.points_cam - held_out.root_cam[:, None])[found]
    row = rows_with_mesh("BlazePose -> DAE -> SMPLR", torch.stack(joints), target, torch.stack(verts),
                         held_out.vertices_rel[found])
    row["detected_fraction"] = float(found.mean())
    row["note"] = "errors over the renders where BlazePose found the person"
    return row


class _Tee:
    """The default lift, keeping its last inputs so that a second lift sees the same people."""

    def __init__(self, lift):
        self.inner, self.faces, self.last = lift, lift.faces, None

    def lift(self, rgb, keypoints_2d, visibility, boxes, intrinsics):
        self.last = (rgb, keypoints_2d, visibility, boxes, intrinsics)
        return self.inner.lift(rgb, keypoints_2d, visibility, boxes, intrinsics)


REAL_VIDEOS = {  # name -> (frames, every how many frames the hourglass runs)
    "sample_video": (lambda: __import__("bench.frontend", fromlist=["sample_frames"]).sample_frames(), 2),
    "vtest": (lambda: __import__("tests.frontend_helpers", fromlist=["video_frames"]).video_frames(
        "vtest.avi", limit=300), 3),
}
ORIENTATION_TOLERANCE_DEG = 30.0


def real_video(models: list[str]) -> dict:
    """Each hourglass model against the default path on the real videos, person by person: the
    default node's tracker (left/right check on, live-stream detection) runs every frame and the
    default lift lifts its people; on every k-th frame each hourglass lifts the same people from
    their boxes. No 3D ground truth: ``orientation_agreement`` is the fraction of detections whose
    torso faces within 30 degrees of the default path's; ``upright`` the fraction that pass the
    standing-body check (``evaluate.upright``), with the default path's own fraction for
    comparison."""
    from smplr_core.frame import FrameSettings, Reconstructor, to_numpy
    from smplr_core.frontends.hourglass.evaluate import facing_angle_deg, upright
    from smplr_core.frontends.hourglass.frontend import shipped_weights
    from smplr_core.frontends.hourglass.pipeline import HourglassPipeline
    from smplr_core.reconstruct import default_intrinsics

    lifts = {m: HourglassPipeline.load(hourglass_weights=shipped_weights(m)) for m in models}
    out: dict = {}
    for video, (load, every) in REAL_VIDEOS.items():
        frames = load()
        h, w = frames[0].shape[:2]
        intr = default_intrinsics(w, h)
        # Every lifted person is compared (no distance filter, no turn limit): the hourglasses lift
        # the very people the default lift was given.
        rec = Reconstructor(settings=FrameSettings(max_distance_m=0.0, max_turn_deg_per_s=0.0), live_stream=True)
        tee = _Tee(rec.lift)
        rec.lift = tee
        base_joints, joints = [], {m: [] for m in models}
        for i, rgb in enumerate(frames):
            res = rec(rgb, intr, stamp_s=i / 30.0)
            if i % every or not len(res) or not res.valid.all():
                continue
            base_joints.append(res.joints)
            with torch.inference_mode():
                for m, lift in lifts.items():
                    joints[m].append(to_numpy(lift.lift(*tee.last))["joints"])
        base = np.concatenate(base_joints) if base_joints else np.zeros((0, 24, 3), np.float32)
        row = {"frames": len(frames), "hourglass_every": every, "detections": int(len(base)),
               "default_upright": float(upright(base).mean()) if len(base) else None, "models": {}}
        for m in models:
            ours = np.concatenate(joints[m]) if joints[m] else np.zeros((0, 24, 3), np.float32)
            angle = facing_angle_deg(ours, base)
            row["models"][m] = {
                "orientation_agreement": float((angle <= ORIENTATION_TOLERANCE_DEG).mean()) if len(base) else None,
                "facing_angle_deg_median": float(np.median(angle)) if len(base) else None,
                "upright": float(upright(ours).mean()) if len(base) else None}
        out[video] = row
    # Over both videos, weighted by detections.
    total = sum(r["detections"] for r in out.values())
    out["all"] = {m: {k: sum(r["models"][m][k] * r["detections"] for r in out.values()
                             if r["detections"]) / max(total, 1)
                      for k in ("orientation_agreement", "upright")} for m in models}
    out["all"]["detections"] = total
    out["orientation_tolerance_deg"] = ORIENTATION_TOLERANCE_DEG
    return out


SECTIONS = ("speed", "renders", "real_video")


def e2e_row(path: Path, name: str, body, images, held_out, target) -> dict:
    """The end-to-end fine-tuned copy of a network (hourglass and its own SMPLR) on the renders."""
    from smplr_core.models.smplr import SMPLR, SMPLRConfig
    from smplr_core.train.hourglass_smplr import reconstruct
    model, st = load_hourglass(path)
    smplr = SMPLR(SMPLRConfig.from_dict(st["smplr_config"]))
    smplr.load_state_dict(st["smplr_state_dict"])
    smplr.eval()
    pred = predict_root_relative(model, images, held_out.centre_cam)
    with torch.no_grad():
        recon, verts = reconstruct(smplr, body, pred)
    return rows_with_mesh(f"hourglass ({name}) -> SMPLR, end-to-end", recon, target, verts, held_out.vertices_rel)


def real_rows(body, held_out, target, result: dict, skipped: dict) -> list[dict]:
    """The default network (``real``): its own joints; through the core's SMPLR; through the
    core's joints-only SMPLR (the landmark ablation: the same points, the 18 landmarks unused);
    and end to end when ``real_e2e.pt`` is shipped."""
    from smplr_core.train.hourglass_smplr import load_smplr, reconstruct
    from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR, WEIGHT_FILES

    ckpt = WEIGHTS / "real.pt"
    if not ckpt.is_file():
        skipped["hourglass (real)"] = f"{ckpt} not found (python -m smplr_core.train.hourglass --config real)"
        return []
    model, state = load_hourglass(ckpt)
    result["real_train_seconds"] = round(float(state.get("train_seconds", 0.0)), 1)
    result["real_train_images"] = int(state.get("summary", {}).get("images_seen", 0))
    rows, pred, _ = hourglass_rows("real", model, body, held_out, target)
    jo_path = DEFAULT_WEIGHTS_DIR / WEIGHT_FILES["smplr_joints_only"]
    if jo_path.is_file():
        with torch.no_grad():
            recon, verts = reconstruct(load_smplr(jo_path), body, pred)
        rows.append(rows_with_mesh("hourglass (real) -> SMPLR joints only (ablation)", recon, target, verts,
                                   held_out.vertices_rel))
    else:
        skipped["landmark ablation"] = f"{jo_path} not found"
    e2e = WEIGHTS / "real_e2e.pt"
    if e2e.is_file():
        rows.append(e2e_row(e2e, "real", body, held_out.images, held_out, target))
    return rows


def main(argv=None) -> dict:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated parts out of {', '.join(SECTIONS)} (default: all); "
                             "hourglass.json keeps the entries of the others")
    args = parser.parse_args(argv)
    sections = [x for x in args.sections.split(",") if x]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    torch.manual_seed(0)
    body = load_body_model()
    result: dict = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    result.update({"machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
                   "eval_renders": EVAL_COUNT, "eval_seed": HELD_OUT_SEED})
    if "speed" in sections:
        speed(body, result)
    if "renders" in sections:
        renders(body, result)
    if "real_video" in sections:
        rv = real_video(["real", "small", "medium"])
        result["real_video"] = {"orientation_agreement": rv["all"]["real"]["orientation_agreement"],
                                "upright": rv["all"]["real"]["upright"], "model": "real", **rv}
    result["sections_in_last_invocation"] = sections
    result["targets"] = {"real_video.orientation_agreement": ">= 0.9", "real_video.upright": ">= 0.95",
                         "mpjpe_mm": "<= 169", "forward_ms_cpu_b1": "<= 30"}
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return result


def speed(body, result: dict) -> None:
    """Render rates and network forward times. The machine may be shared: the load average is
    recorded, and each figure is the better of 1 and 2 threads (two threads on a busy 2-core
    machine can be slower than one)."""
    result["load_average_1min_at_start"] = os.getloadavg()[0]
    rates = {w: render_rate(body, 256, workers=w) for w in (1, 2)}
    result["render_images_per_s"] = max(rates.values())
    result["render_images_per_s_1core"] = rates[1]
    result["render_images_per_s_2cores"] = rates[2]
    result["render_images_per_s_128px"] = max(render_rate(body, 128, workers=w) for w in (1, 2))
    real = VolumetricHourglass(CONFIGS["real"])
    # The default network, one person: BlazePose's frozen features (fused graph) + the two stacks.
    result["forward_ms_cpu_b1"] = min(forward_ms(real, 256, threads=t, repeats=20) for t in (1, 2))
    result["forward_ms_real_cpu_b4"] = min(forward_ms(real, 256, threads=t, batch=4) for t in (1, 2))
    small = VolumetricHourglass(CONFIGS["small"])
    size = CONFIGS["small"].input_size
    result["forward_ms_small_cpu"] = min(forward_ms(small, size, threads=t) for t in (1, 2))
    result["forward_ms_small_cpu_b8"] = min(forward_ms(small, size, threads=t, batch=8) for t in (1, 2))
    paper = VolumetricHourglass(CONFIGS["paper"])
    result["forward_ms_paper_cpu"] = min(forward_ms(paper, CONFIGS["paper"].input_size, threads=t, repeats=3)
                                         for t in (1, 2))
    del paper
    medium_ckpt = WEIGHTS / "medium.pt"
    if medium_ckpt.is_file():
        model, _ = load_hourglass(medium_ckpt)
        result["forward_ms_medium_cpu"] = min(forward_ms(model, model.config.input_size, threads=t, repeats=5)
                                              for t in (1, 2))
    result["load_average_1min_after_speed"] = os.getloadavg()[0]


def renders(body, result: dict) -> None:
    """Accuracy on the held-out renders, every front-end on the same ones."""
    torch.set_num_threads(2)
    renderer = SyntheticRenderer(body, crop_size=EVAL_CROP, workers=2)
    held_out = renderer.render(np.random.default_rng(HELD_OUT_SEED), EVAL_COUNT)
    target = held_out.points_cam - held_out.root_cam[:, None]
    train_like = renderer.pose_bodies(np.random.default_rng(12345), 512)
    rows, skipped = [], {}
    baseline = mean_pose_baseline(train_like[0] - train_like[1][:, None], EVAL_COUNT)
    rows.append(rows_with_mesh("mean pose (baseline)", baseline, target))
    rows.extend(real_rows(body, held_out, target, result, skipped))
    small_ckpt = WEIGHTS / "small.pt"
    if small_ckpt.is_file():
        model, state = load_hourglass(small_ckpt)
        result["small_train_seconds"] = round(float(state.get("train_seconds", 0.0)), 1)
        result["small_train_images"] = int(state.get("step", 0)) * 16
        try:
            small_rows, _, images = hourglass_rows("small", model, body, held_out, target)
            rows.extend(small_rows)
            e2e = WEIGHTS / "small_e2e.pt"
            if e2e.is_file():
                rows.append(e2e_row(e2e, "small", body, images, held_out, target))
            else:
                skipped["end-to-end"] = f"{e2e} not found"
        except (ImportError, FileNotFoundError, RuntimeError, ValueError) as exc:
            skipped["hourglass (small) -> SMPLR"] = f"SMPLR weights not available: {exc!r}"
    else:
        skipped["hourglass (small)"] = f"{small_ckpt} not found (python -m smplr_core.train.hourglass)"
    medium_ckpt = WEIGHTS / "medium.pt"
    if medium_ckpt.is_file():
        model, state = load_hourglass(medium_ckpt)
        result["medium_train_seconds_gpu"] = round(float(state.get("train_seconds", 0.0)), 1)
        try:
            rows.extend(hourglass_rows("medium", model, body, held_out, target)[0])
        except (ImportError, FileNotFoundError, RuntimeError, ValueError) as exc:
            skipped["hourglass (medium) -> SMPLR"] = f"SMPLR weights not available: {exc!r}"
    else:
        skipped["hourglass (medium)"] = f"{medium_ckpt} not found"
    try:
        rows.append(blazepose_rows(held_out, EVAL_CROP))
    except Exception as exc:  # the default path needs the front-end and the core's weights
        skipped["BlazePose -> DAE -> SMPLR"] = f"not available: {exc!r}"
    result["eval"] = rows
    result["skipped"] = skipped
    # The flat keys: the default network's (real) mesh row through SMPLR with landmarks,
    # end to end where shipped.
    default = [r for r in rows if r["row"] in ("hourglass (real) -> SMPLR", "hourglass (real) -> SMPLR, end-to-end")]
    if default:
        best = default[-1]
        result.update({"mpjpe_mm": best["mpjpe_mm"], "pa_mpjpe_mm": best["pa_mpjpe_mm"], "pve_mm": best["pve_mm"],
                       "eval_row": best["row"]})


def print_table(result: dict) -> None:
    print(f"{'speed':42s} value")
    for key in ("load_average_1min_at_start", "render_images_per_s", "render_images_per_s_1core",
                "render_images_per_s_2cores", "render_images_per_s_128px",
                "forward_ms_cpu_b1", "forward_ms_real_cpu_b4", "forward_ms_small_cpu", "forward_ms_small_cpu_b8",
                "forward_ms_medium_cpu", "forward_ms_paper_cpu", "node_fps"):
        if key in result:
            print(f"{key:42s} {result[key]:.1f}")
    print(f"\n{'held-out renders (' + str(result['eval_renders']) + ')':50s} {'MPJPE':>8s} {'PA-MPJPE':>9s} {'PVE':>8s}")
    for r in result.get("eval", []):
        pve = "-" if r["pve_mm"] is None else f"{r['pve_mm']:.1f}"
        print(f"{r['row']:50s} {r['mpjpe_mm']:8.1f} {r['pa_mpjpe_mm']:9.1f} {pve:>8s}")
    for k, v in result.get("skipped", {}).items():
        print(f"skipped {k}: {v}")
    rv = result.get("real_video")
    if rv:
        print(f"\n{'real video (vs the default path)':32s} {'detections':>10s} {'orientation':>12s} {'upright':>8s}")
        for video in REAL_VIDEOS:
            row = rv[video]
            print(f"{video + ' (default path)':32s} {row['detections']:10d} {'':>12s} {row['default_upright']:8.3f}")
            for m, r in row["models"].items():
                print(f"{'  ' + m:32s} {'':>10s} {r['orientation_agreement']:12.3f} {r['upright']:8.3f}")


if __name__ == "__main__":
    main()
