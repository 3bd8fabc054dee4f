"""Evaluation on held-out motions and shapes: one table, JSON, plots (DESIGN §5).

Data: every frame of the held-out clips (``mocap.HELD_OUT_CLIPS``, never seen in training), each
``repeats`` times with a shape and camera from a fixed evaluation seed (shapes are continuous draws
from the full shape space, extremes included, none of them a training sample), detector-like 2D
noise at level 1 (the training distribution's middle).

With mocap folders (``--motions DIR`` or ``$SMPLR_MOCAP_DIR``, ``data/library.py``) every source's
held-out actors or subjects get their own rows too (``by_source``), at most ``SOURCE_SAMPLES``
samples each (every k-th held-out frame, each with a held-out shape and camera), and the
``*_heldout_actors`` rows are the mean of the per-source errors.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from smplr_core.body.joint_names import SMPL_JOINT_NAMES
from smplr_core.data import mocap
from smplr_core.data.generator import DataConfig, SampleGenerator
from smplr_core.eval import metrics
from smplr_core.models.checkpoint import WEIGHT_FILES
from smplr_core.models.translation import fit_translation
from smplr_core.pipeline import load_dae, load_smplr

EVAL_SEED = 20_200_601
SOURCE_SAMPLES = 2000
# rows computed per held-out source (SMPLR from ground-truth 3D; DAE -> SMPLR from noisy 2D)
SOURCE_ROWS = ("smplr_gt3d", "dae_smplr_noisy2d")
NOISE_LEVELS = (0.0, 0.5, 1.0, 1.5, 2.0)
DISTANCE_BINS_M = (1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 8.0)
ROWS = {
    "smplr_gt3d": "SMPLR from ground-truth 3D joints + landmarks",
    "smplr_joints_only_gt3d": "SMPLR from ground-truth 3D joints only (ablation)",
    "dae_noisy2d": "DAE from noisy 2D",
    "dae_smplr_noisy2d": "DAE -> SMPLR from noisy 2D (end to end)",
    "dae_smplr_clean2d": "DAE -> SMPLR from clean 2D",
}


# What limits the DAE from noisy 2D (``Evaluator.breakdown``): each component of the detector-like
# noise (data.noise.NoiseConfig fields) alone at level 1, every other one off.
NOISE_COMPONENTS = {
    "jitter": ("jitter",),
    "systematic offsets": ("bias",),
    "outliers": ("outlier_prob",),
    "left/right swaps": ("swap_prob", "full_swap_prob"),
    "dropped points": ("drop_prob", "group_drop_prob"),
}


def _chunks(n: int, size: int):
    for s in range(0, n, size):
        yield slice(s, min(n, s + size))


@torch.no_grad()
def decode(body, betas: torch.Tensor, rot: torch.Tensor, chunk: int = 256):
    """Full body model in chunks -> (joints, landmarks, vertices, keypoints)."""
    outs = [body.forward_rotmat(betas[s], rot[s], None) for s in _chunks(betas.shape[0], chunk)]
    return tuple(torch.cat([getattr(o, k) for o in outs]) for k in ("joints", "landmarks", "vertices", "keypoints"))


def _with_pelvis(points41: torch.Tensor) -> torch.Tensor:
    """(B, 41, 3) DAE output -> (B, 24, 3) joints with the pelvis at the origin."""
    return torch.cat([torch.zeros_like(points41[:, :1]), points41[:, :23]], dim=1)


def _summary(per_sample: dict) -> dict:
    return {k: (float(v.mean()) if v is not None else None) for k, v in per_sample.items()}


class Evaluator:
    """Holds the networks, the body model and the held-out data; computes rows and curves."""

    def __init__(self, weights_dir: Path, body, repeats: int = 6, seed: int = EVAL_SEED, motion_dirs=None):
        self.body = body
        wdir = Path(weights_dir)
        self.dae = load_dae(wdir / WEIGHT_FILES["dae"])
        self.smplr = load_smplr(wdir / WEIGHT_FILES["smplr"])  # stage-wise: the SMPLR-from-3D rows
        e2e = wdir / WEIGHT_FILES["smplr_end2end"]
        self.smplr_e2e = load_smplr(e2e) if e2e.is_file() else self.smplr  # behind the DAE, as the pipeline
        jo = wdir / WEIGHT_FILES["smplr_joints_only"]
        self.smplr_jo = load_smplr(jo) if jo.is_file() else None
        self.gen = SampleGenerator(body, mocap.HELD_OUT_CLIPS)
        self.repeats, self.seed = repeats, seed
        self.data = self.gen.evaluation_set(seed, repeats, noise_level=1.0)
        self.gt = self._ground_truth(self.data)
        self.sources = self._held_out_sources(motion_dirs)

    def _ground_truth(self, data: dict) -> dict:
        j, l, v, _ = decode(self.body, data["betas"], data["rotmats"])
        return {"joints": j, "landmarks": l, "vertices": v}

    def _held_out_sources(self, motion_dirs) -> dict:
        """{source: (generator, evaluation data, ground truth)} for every mocap folder's held-out
        clips (none without folders)."""
        from smplr_core.data.library import DEEPMIMIC, mocap_dirs
        dirs = mocap_dirs(motion_dirs)
        if not dirs:
            return {}
        from smplr_core.train.trainer import motion_library
        self.library = motion_library(self.body, dirs)
        out = {}
        for name in sorted(set(self.library.held_out.sources) - {DEEPMIMIC}):
            gen = SampleGenerator(self.body, self.library.held_out.only(name), point_body=self.gen.point_body)
            frames = len(gen.bank)
            stride = max(1, -(-frames // SOURCE_SAMPLES))
            repeats = max(1, SOURCE_SAMPLES // -(-frames // stride))
            data = gen.evaluation_set(self.seed, repeats, noise_level=1.0, stride=stride)
            out[name] = (gen, data, self._ground_truth(data), stride, repeats)
        return out

    def smplr_metrics(self, model, points41: torch.Tensor, gt: dict | None = None) -> dict:
        betas, rot = [], []
        for s in _chunks(points41.shape[0], 512):
            b, r = model(points41[s])
            betas.append(b)
            rot.append(r)
        j, l, v, kp = decode(self.body, torch.cat(betas), torch.cat(rot))
        g = self.gt if gt is None else gt
        return {
            "mpjpe_mm": metrics.mpjpe_mm(j, g["joints"]),
            "pa_mpjpe_mm": metrics.pa_mpjpe_mm(j, g["joints"]),
            "pve_mm": metrics.aligned_points_error_mm(v, g["vertices"], j[:, 0], g["joints"][:, 0]),
            "landmark_mm": metrics.aligned_points_error_mm(l, g["landmarks"], j[:, 0], g["joints"][:, 0]),
            "per_joint_mm": metrics.per_joint_error_mm(j, g["joints"]),
            "_keypoints3d": kp - j[:, :1],
        }

    def dae_points(self, data: dict) -> torch.Tensor:
        return torch.cat([self.dae(data["keypoints"][s], data["visibility"][s], data["intrinsics"][s])
                          for s in _chunks(data["keypoints"].shape[0], 1024)])

    def dae_metrics(self, points41: torch.Tensor) -> dict:
        g = self.gt
        j = _with_pelvis(points41)
        gl = g["landmarks"] - g["joints"][:, :1]
        return {
            "mpjpe_mm": metrics.mpjpe_mm(j, g["joints"]),
            "pa_mpjpe_mm": metrics.pa_mpjpe_mm(j, g["joints"]),
            "pve_mm": None,
            "landmark_mm": (points41[:, 23:] - gl).norm(dim=-1).mean(dim=1) * metrics.MM,
            "per_joint_mm": metrics.per_joint_error_mm(j, g["joints"]),
        }

    def root_fit(self, kp3: torch.Tensor, data: dict) -> torch.Tensor:
        """(B, 3) camera-frame pelvis of the translation fit from the noisy 2D keypoints."""
        w = (data["visibility"] >= 0.5).float()
        t, _ = fit_translation(kp3, data["keypoints"], w, data["intrinsics"])
        return t

    @torch.no_grad()
    def root_depth(self, root: torch.Tensor | None = None) -> dict:
        """The pelvis depth error of a translation fit (``root`` (B, 3); default: DAE -> SMPLR ->
        fit from the noisy 2D) in % of the true depth: median and mean overall and per distance
        bin (DISTANCE_BINS_M)."""
        d = self.data
        if root is None:
            root = self.root_fit(self.smplr_metrics(self.smplr_e2e, self.dae_points(d))["_keypoints3d"], d)
        z = d["root_cam"][:, 2]
        signed = (root[:, 2] - z) / z * 100.0
        pct = signed.abs()
        out = {"median_pct": float(pct.median()), "mean_pct": float(pct.mean()),
               "signed_median_pct": float(signed.median()), "bins_m": list(DISTANCE_BINS_M),
               "median_pct_by_bin": [], "count": []}
        for m in self._distance_bins():
            out["count"].append(int(m.sum()))
            out["median_pct_by_bin"].append(float(pct[m].median()) if m.any() else None)
        return out

    @torch.no_grad()
    def run(self) -> dict:
        d = self.data
        rows, per = {}, {}
        per["smplr_gt3d"] = self.smplr_metrics(self.smplr, d["points3d"])
        if self.smplr_jo is not None:
            per["smplr_joints_only_gt3d"] = self.smplr_metrics(self.smplr_jo, d["points3d"])
        dae_pts = self.dae_points(d)
        per["dae_noisy2d"] = self.dae_metrics(dae_pts)
        per["dae_smplr_noisy2d"] = self.smplr_metrics(self.smplr_e2e, dae_pts)
        root = self.root_fit(per["dae_smplr_noisy2d"]["_keypoints3d"], d)
        per["dae_smplr_noisy2d"]["root_mm"] = (root - d["root_cam"]).norm(dim=-1) * metrics.MM
        clean = dict(d, keypoints=d["keypoints_clean"],
                     visibility=torch.where(self._inside(d), torch.ones_like(d["visibility"]), torch.zeros_like(d["visibility"])))
        per["dae_smplr_clean2d"] = self.smplr_metrics(self.smplr_e2e, self.dae_points(clean))
        for name, p in per.items():
            rows[name] = {"description": ROWS[name],
                          **_summary({k: v for k, v in p.items() if not k.startswith("_") and k != "per_joint_mm"})}
        curves = {
            "per_joint_mm": {name: [float(x) for x in per[name]["per_joint_mm"].mean(0)]
                             for name in ("smplr_gt3d", "dae_noisy2d", "dae_smplr_noisy2d")},
            "joint_names": list(SMPL_JOINT_NAMES),
            "noise": self.noise_curve(),
            "distance": self.distance_curve(per["dae_smplr_noisy2d"]),
            "root_depth": self.root_depth(root),
        }
        out = {"rows": rows, "curves": curves, "samples": int(d["betas"].shape[0]),
               "held_out_clips": list(mocap.HELD_OUT_CLIPS), "seed": self.seed, "repeats": self.repeats,
               "noise_level": 1.0}
        if self.sources:
            out.update(self.run_sources())
        return out

    @torch.no_grad()
    def run_sources(self) -> dict:
        """Per-source held-out rows and their means (the ``*_heldout_actors`` rows)."""
        by_source = {row: {} for row in SOURCE_ROWS}
        for name, (gen, data, gt, stride, repeats) in self.sources.items():
            rows = {"smplr_gt3d": self.smplr_metrics(self.smplr, data["points3d"], gt),
                    "dae_smplr_noisy2d": self.smplr_metrics(self.smplr_e2e, self.dae_points(data), gt)}
            for row, m in rows.items():
                by_source[row][name] = {**_summary({k: v for k, v in m.items()
                                                    if not k.startswith("_") and k != "per_joint_mm"}),
                                        "samples": int(data["betas"].shape[0]), "frame_stride": stride,
                                        "repeats": repeats}
        keys = ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "landmark_mm")
        held = {f"{row}_heldout_actors": {"description": f"{ROWS[row]}, mean over the held-out actors' sources",
                                          **{k: sum(r[k] for r in by_source[row].values()) / len(by_source[row])
                                             for k in keys}}
                for row in SOURCE_ROWS}
        return {"source_rows": {**held, **{f"{row}_by_source": v for row, v in by_source.items()}},
                "motions": self.library.summary(),
                "held_out_actors": {k: list(v) for k, v in _held_out_table().items() if k in self.sources}}

    def _dae_errors(self, data: dict) -> dict:
        """DAE from the 2D of ``data`` against its own ground truth: MPJPE, PA-MPJPE and MPJPE after
        a scale-only alignment (the part a wrong body size explains), per sample, mm."""
        j = _with_pelvis(self.dae_points(data))
        gt = _with_pelvis(data["points3d"])
        return {"mpjpe_mm": metrics.mpjpe_mm(j, gt), "pa_mpjpe_mm": metrics.pa_mpjpe_mm(j, gt),
                "scale_aligned_mpjpe_mm": metrics.scale_aligned_mpjpe_mm(j, gt)}

    @torch.no_grad()
    def breakdown(self) -> dict:
        """What the DAE's error from noisy 2D is made of, on the same held-out frames, shapes and
        cameras (DAE alone; SMPLR behind it changes the figures by under 1 mm):
        - ``noise``: no noise (level 0: only the points outside the image are hidden), every
          component, and each component of the detector-like noise alone at level 1;
        - ``per_clip``: each held-out clip at level 1;
        - ``seen_motions``: the *training* clips (every frame once, the evaluation's shape and camera
          draws) at levels 0 and 1 — the error left when the motion is not new;
        - ``scale_aligned_mpjpe_mm`` in every row: MPJPE after the one scale factor that fits best.
        """
        summary = lambda e: {k: float(v.mean()) for k, v in e.items()}  # noqa: E731
        full = self._dae_errors(self.data)
        noise_rows = self._noise_rows(mocap.HELD_OUT_CLIPS, self.gen, self.data)
        clip = self.data["clip"]
        per_clip = {name: {**summary({k: v[clip == i] for k, v in full.items()}), "samples": int((clip == i).sum())}
                    for i, name in enumerate(self.gen.bank.clip_names)}
        seen = SampleGenerator(self.body, mocap.TRAIN_CLIPS, point_body=self.gen.point_body)
        seen_rows = {f"level {lv:g}": summary(self._dae_errors(seen.evaluation_set(self.seed, 1, noise_level=lv)))
                     for lv in (0.0, 1.0)}
        out = {"noise": noise_rows, "per_clip": per_clip, "seen_motions": seen_rows,
               "seen_motion_samples": len(seen.bank)}
        if self.sources:
            out["per_source"] = {name: self._noise_rows(self.library.held_out.only(name), gen, data, stride, repeats)
                                 for name, (gen, data, gt, stride, repeats) in self.sources.items()}
        return out

    def _noise_rows(self, clips, gen: SampleGenerator, data: dict, stride: int = 1,
                    repeats: int | None = None) -> dict:
        """DAE errors on one held-out set (``clips`` as SampleGenerator takes them, ``gen`` its
        generator, ``data`` its level-1 evaluation set) with no noise, all of it, and each noise
        component alone; same frames, shapes and cameras in every row."""
        summary = lambda e: {k: float(v.mean()) for k, v in e.items()}  # noqa: E731
        repeats = self.repeats if repeats is None else repeats
        rows = {"none (level 0)": summary(self._dae_errors(
                    gen.evaluation_set(self.seed, repeats, noise_level=0.0, stride=stride))),
                "all (level 1)": summary(self._dae_errors(data))}
        every = [f for fields in NOISE_COMPONENTS.values() for f in fields]
        for name, fields in NOISE_COMPONENTS.items():
            alone = replace(gen.cfg.noise, **{f: 0.0 for f in every if f not in fields})
            g = SampleGenerator(self.body, clips, DataConfig(noise=alone), point_body=self.gen.point_body)
            rows[f"{name} only"] = summary(self._dae_errors(
                g.evaluation_set(self.seed, repeats, noise_level=1.0, stride=stride)))
        return rows

    def _inside(self, d: dict) -> torch.Tensor:
        kp, size = d["keypoints_clean"], d["image_size"]
        return ((kp >= 0) & (kp < size[:, None])).all(-1)

    def noise_curve(self) -> dict:
        out = {"levels": list(NOISE_LEVELS), "dae_mpjpe_mm": [], "dae_smplr_mpjpe_mm": [], "dae_smplr_pa_mpjpe_mm": []}
        for level in NOISE_LEVELS:
            data = self.gen.evaluation_set(self.seed, self.repeats, noise_level=level)
            pts = self.dae_points(data)
            out["dae_mpjpe_mm"].append(float(metrics.mpjpe_mm(_with_pelvis(pts), self.gt["joints"]).mean()))
            m = self.smplr_metrics(self.smplr_e2e, pts)
            out["dae_smplr_mpjpe_mm"].append(float(m["mpjpe_mm"].mean()))
            out["dae_smplr_pa_mpjpe_mm"].append(float(m["pa_mpjpe_mm"].mean()))
        return out

    def _distance_bins(self):
        """One (B,) bool mask per bin of DISTANCE_BINS_M: the samples whose pelvis depth lies in it."""
        depth = self.data["root_cam"][:, 2]
        for lo, hi in zip(DISTANCE_BINS_M[:-1], DISTANCE_BINS_M[1:]):
            yield (depth >= lo) & (depth < hi)

    def distance_curve(self, per: dict) -> dict:
        out = {"bins_m": list(DISTANCE_BINS_M), "mpjpe_mm": [], "pa_mpjpe_mm": [], "root_mm": [], "count": []}
        for m in self._distance_bins():
            out["count"].append(int(m.sum()))
            for k in ("mpjpe_mm", "pa_mpjpe_mm", "root_mm"):
                out[k].append(float(per[k][m].mean()) if m.any() else None)
        return out


def _held_out_table() -> dict:
    from smplr_core.data.library import HELD_OUT
    return HELD_OUT


def format_table(rows: dict) -> str:
    """One text table of the rows."""
    width = max([26] + [len(n) for n in rows])
    head = f"{'row':<{width}} {'MPJPE':>8} {'PA-MPJPE':>9} {'PVE':>8} {'landmarks':>10} {'root':>8}  (mm)"
    lines = [head, "-" * len(head)]
    f = lambda v: f"{v:8.1f}" if v is not None else f"{'-':>8}"  # noqa: E731
    for name, r in rows.items():
        lines.append(f"{name:<{width}} {f(r['mpjpe_mm'])} {f(r['pa_mpjpe_mm']):>9} {f(r['pve_mm'])} "
                     f"{f(r['landmark_mm']):>10} {f(r.get('root_mm'))}")
    return "\n".join(lines)


def format_source_table(source_rows: dict) -> str:
    """One text table of the per-source held-out rows and their means."""
    rows = {}
    for row in SOURCE_ROWS:
        rows.update({f"{row} {name}": r for name, r in source_rows[f"{row}_by_source"].items()})
        rows[f"{row}_heldout_actors"] = source_rows[f"{row}_heldout_actors"]
    return format_table(rows)


def _breakdown_rows(b: dict) -> list[tuple[str, dict]]:
    """(label, row) of every row of ``Evaluator.breakdown``, in table order."""
    sections = (("", b["noise"]), ("clip ", b["per_clip"]), ("training clips, noise ", b["seen_motions"]))
    sections += tuple((f"{src}: ", rows) for src, rows in b.get("per_source", {}).items())
    return [(prefix + name, row) for prefix, rows in sections for name, row in rows.items()]


def format_breakdown(b: dict) -> str:
    """One text table of ``Evaluator.breakdown``."""
    head = f"{'DAE from 2D, held-out unless noted':<40} {'MPJPE':>7} {'PA-MPJPE':>9} {'scale-aligned':>14}  (mm)"
    lines = [head, "-" * len(head)]
    for label, r in _breakdown_rows(b):
        lines.append(f"{label:<40} {r['mpjpe_mm']:7.1f} {r['pa_mpjpe_mm']:9.1f} {r['scale_aligned_mpjpe_mm']:14.1f}")
    return "\n".join(lines)


def plot_breakdown(b: dict, figures_dir: Path, prefix: str = "core_") -> Path:
    """Bar chart of the breakdown -> PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _breakdown_rows(b)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.18 * len(rows)))
    y = list(range(len(rows)))[::-1]
    ax.barh([v + 0.2 for v in y], [r["mpjpe_mm"] for _, r in rows], 0.4, label="MPJPE")
    ax.barh([v - 0.2 for v in y], [r["pa_mpjpe_mm"] for _, r in rows], 0.4, label="PA-MPJPE")
    ax.set_yticks(y)
    ax.set_yticklabels([n for n, _ in rows], fontsize=8)
    for x, style, colour, label in ((75.0, "--", "k", "target MPJPE, DeepMimic clips (DAE -> SMPLR, level 1)"),
                                    (55.0, ":", "k", "target PA-MPJPE, DeepMimic clips"),
                                    (65.0, "--", "tab:red", "target MPJPE, held-out actors (mean of sources)"),
                                    (45.0, ":", "tab:red", "target PA-MPJPE, held-out actors")):
        ax.axvline(x, color=colour, linestyle=style, linewidth=1, label=label)
    ax.set_xlabel("DAE error from 2D keypoints (mm)")
    ax.set_title("What the DAE's error is made of (held-out clips and actors unless noted)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(figures_dir) / f"{prefix}error_breakdown.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot(result: dict, figures_dir: Path, prefix: str = "core_") -> list[Path]:
    """Error per joint, error vs noise level, error vs distance -> PNG files."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    c = result["curves"]
    paths = []
    fig, ax = plt.subplots(figsize=(11, 3.8))
    names = c["joint_names"]
    width = 0.27
    for i, (row, vals) in enumerate(c["per_joint_mm"].items()):
        ax.bar([x + (i - 1) * width for x in range(len(names))], vals, width, label=ROWS[row])
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("error (mm, pelvis-aligned)")
    ax.set_title("Error per joint, held-out clips and shapes")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    paths.append(figures_dir / f"{prefix}error_per_joint.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    n = c["noise"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(n["levels"], n["dae_mpjpe_mm"], "o-", label="DAE MPJPE")
    ax.plot(n["levels"], n["dae_smplr_mpjpe_mm"], "s-", label="DAE->SMPLR MPJPE")
    ax.plot(n["levels"], n["dae_smplr_pa_mpjpe_mm"], "^-", label="DAE->SMPLR PA-MPJPE")
    ax.set_xlabel("2D noise level (1 = evaluation default)")
    ax.set_ylabel("mm")
    ax.set_title("Error vs. 2D noise level")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(figures_dir / f"{prefix}error_vs_noise.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    d = c["distance"]
    centres = [(a + b) / 2 for a, b in zip(d["bins_m"][:-1], d["bins_m"][1:])]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(centres, d["mpjpe_mm"], "o-", label="DAE->SMPLR MPJPE")
    ax.plot(centres, d["pa_mpjpe_mm"], "s-", label="DAE->SMPLR PA-MPJPE")
    ax2 = ax.twinx()
    ax2.plot(centres, [v / 10 if v is not None else None for v in d["root_mm"]], "k--", label="root position error (cm, right axis)")
    ax.set_xlabel("camera distance of the pelvis (m)")
    ax.set_ylabel("mm")
    ax2.set_ylabel("root error (cm)")
    ax.set_title("Error vs. distance")
    ax.grid(alpha=0.3)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8)
    fig.tight_layout()
    paths.append(figures_dir / f"{prefix}error_vs_distance.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def save_json(result: dict, path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=1))
