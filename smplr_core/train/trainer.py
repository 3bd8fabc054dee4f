"""Stage-wise and end-to-end training of the DAE and SMPLR (paper §4: DAE, then shape, then pose, then
everything fine-tuned end to end with the body model in the loop).

Data is generated on the fly from the training clips: ``mocap.TRAIN_CLIPS``, plus the training
clips of every mocap folder of ``--motions`` / ``$SMPLR_MOCAP_DIR`` (``data/library.py``). Under ``torchrun``
every rank draws its own sample stream (seed + rank, the role DistributedSampler plays for a
dataset) and gradients are averaged by DistributedDataParallel; only rank 0 writes files.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from smplr_core import geometry
from smplr_core.data import mocap
from smplr_core.data.generator import SampleGenerator
from smplr_core.data.library import MotionLibrary, load_library
from smplr_core.data.point_body import PointBody, skinning_support
from smplr_core.models.checkpoint import (
    WEIGHT_FILES, CheckpointError, load_checkpoint, load_state, save_checkpoint,
)
from smplr_core.models.dae import DAE, DAEConfig, metric_state_to_box
from smplr_core.models.smplr import SMPLR, SMPLRConfig, point_tree
from smplr_core.train import distributed
from smplr_core.train.config import STAGES, TrainConfig

STATE_FILE = "train_state.pt"
GENERATION_CHUNK = 4096


def make_smplr(body, cfg: TrainConfig, use_landmarks: bool) -> SMPLR:
    """An SMPLR whose point tree and template come from the body model."""
    lp, template = point_tree(list(int(p) for p in body.parents), body.template_joints.float().cpu(),
                              body.rest_vertices(torch.zeros(1, body.num_betas))[0, body.landmark_vertices].float().cpu())
    return SMPLR(SMPLRConfig(shape_widths=cfg.smplr_shape_widths, pose_widths=cfg.smplr_pose_widths,
                             use_landmarks=use_landmarks, num_betas=int(body.num_betas),
                             joint_parents=tuple(int(p) for p in body.parents), landmark_parents=lp,
                             template_points=template))


def motion_library(body, dirs=None, weights: dict | None = None) -> MotionLibrary:
    """The motion library on this body's skeleton: DeepMimic plus the folders of ``dirs`` or
    ``$SMPLR_MOCAP_DIR``."""
    rest = body.template_joints.detach().cpu().double().numpy()
    parents = np.asarray([int(p) for p in body.parents])
    return load_library(rest, parents, dirs, weights)


def decoder_points(out) -> torch.Tensor:
    """Points of the training decoder: the 18 landmarks (vertex subset appended by ``fit_decoder``)."""
    return out.landmarks


def fit_decoder(body, num_vertices: int, seed: int = 0) -> tuple[PointBody, torch.Tensor]:
    """PointBody over landmarks + a fixed random vertex subset; returns it and the vertex ids."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randperm(int(body.num_vertices), generator=gen)[:num_vertices].sort().values
    pb = PointBody.fit(body, lambda out: torch.cat([out.landmarks, out.vertices[:, ids.to(out.vertices.device)]], 1),
                       support_mask=skinning_support(body, vertex_ids=ids, landmarks=True))
    return pb, ids


def mean_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance over all points: (B, P, 3) x2 -> scalar."""
    return (a - b).norm(dim=-1).mean()


class DecodedLoss(nn.Module):
    """Loss on what the body model makes of (betas, rotations): root-relative joints, landmarks and
    mesh vertices (a fixed subset), plus parameter terms."""

    def __init__(self, decoder: PointBody, cfg: TrainConfig):
        super().__init__()
        self.decoder = decoder
        self.cfg = cfg

    def decode(self, betas: torch.Tensor, rot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        joints, pts = self.decoder(betas, rot)
        root = joints[:, :1]
        return joints - root, pts[:, :18] - root, pts[:, 18:] - root

    def forward(self, betas, rot, gt_betas, gt_rot, gt=None) -> tuple[torch.Tensor, dict]:
        c = self.cfg
        j, l, v = self.decode(betas, rot)
        if gt is None:
            with torch.no_grad():
                gt = self.decode(gt_betas, gt_rot)
        lj, ll, lv = mean_distance(j, gt[0]), mean_distance(l, gt[1]), mean_distance(v, gt[2])
        lr = ((rot - gt_rot) ** 2).mean()
        lb = ((betas - gt_betas) ** 2).mean()
        loss = c.w_joints * lj + c.w_landmarks * ll + c.w_vertices * lv + c.w_rotations * lr + c.w_betas * lb
        return loss, {"joints_mm": lj.item() * 1e3, "landmarks_mm": ll.item() * 1e3, "vertices_mm": lv.item() * 1e3,
                      "rot": lr.item(), "betas": lb.item()}


class DAEStage(nn.Module):
    def __init__(self, dae: DAE):
        super().__init__()
        self.dae = dae

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        pred = self.dae(batch["keypoints"], batch["visibility"], batch["intrinsics"])
        loss = mean_distance(pred, batch["points3d"])
        return loss, {"points_mm": loss.item() * 1e3}


class _SMPLRStage(nn.Module):
    """Common part of the SMPLR stages: the nets (main and optional joints-only), the decoded
    loss, and inputs = ground-truth 3D points + small Gaussian noise."""

    def __init__(self, smplrs: nn.ModuleList, loss: DecodedLoss, input_noise_m: float):
        super().__init__()
        self.smplrs = smplrs
        self.loss = loss
        self.input_noise_m = input_noise_m

    def inputs(self, batch: dict) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Noisy 3D input points and the decoded ground truth of ``batch``."""
        x = batch["points3d"] + self.input_noise_m * torch.randn_like(batch["points3d"])
        with torch.no_grad():
            gt = self.loss.decode(batch["betas"], batch["rotmats"])
        return x, gt


class ShapeStage(_SMPLRStage):
    """SMPLR shape nets (main and optional joints-only) from clean 3D (+ small noise), GT pose decoding."""

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        x, gt = self.inputs(batch)
        total, logs = 0.0, {}
        for i, m in enumerate(self.smplrs):
            betas = m.forward_shape(x)
            loss, lg = self.loss(betas, batch["rotmats"], batch["betas"], batch["rotmats"], gt)
            total = total + loss
            logs.update({(f"{k}" if i == 0 else f"jo_{k}"): v for k, v in lg.items() if k in ("vertices_mm", "betas")})
        return total, logs


class PoseStage(_SMPLRStage):
    """SMPLR pose nets on top of their (frozen) shape nets."""

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        x, gt = self.inputs(batch)
        total, logs = 0.0, {}
        for i, m in enumerate(self.smplrs):
            with torch.no_grad():
                betas = m.forward_shape(x)
            rot = m.forward_pose(x, betas)
            loss, lg = self.loss(betas, rot, batch["betas"], batch["rotmats"], gt)
            total = total + loss
            logs.update({(k if i == 0 else f"jo_{k}"): v for k, v in lg.items() if k in ("joints_mm", "vertices_mm")})
        return total, logs


class EndToEndStage(nn.Module):
    """DAE -> SMPLR -> body model, fine-tuned together from noisy 2D."""

    def __init__(self, dae: DAE, smplr: SMPLR, loss: DecodedLoss, w_dae: float):
        super().__init__()
        self.dae = dae
        self.smplr = smplr
        self.loss = loss
        self.w_dae = w_dae

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        pred = self.dae(batch["keypoints"], batch["visibility"], batch["intrinsics"])
        ld = mean_distance(pred, batch["points3d"])
        betas, rot = self.smplr(pred)
        loss, lg = self.loss(betas, rot, batch["betas"], batch["rotmats"])
        return loss + self.w_dae * ld, {"dae_mm": ld.item() * 1e3, "joints_mm": lg["joints_mm"],
                                        "vertices_mm": lg["vertices_mm"]}


class SampleStream(torch.utils.data.IterableDataset):
    """Endless chunks of training samples for DataLoader workers. Worker k draws from its own
    generator (seed, k) and the DataLoader hands chunks out in worker order, so for a given seed and
    number of workers the stream is reproducible."""

    def __init__(self, sampler: SampleGenerator, seed: int, noise_level: tuple[float, float], chunk: int):
        super().__init__()
        self.sampler, self.seed, self.noise_level, self.chunk = sampler, seed, noise_level, chunk

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        gen = torch.Generator().manual_seed(self.seed * 101 + (info.id if info is not None else 0))
        lo, hi = self.noise_level
        while True:
            level = torch.rand(self.chunk, generator=gen) * (hi - lo) + lo
            yield self.sampler.sample(gen, self.chunk, noise_level=level)


@dataclass
class TrainState:
    """What --resume needs: finished stages, progress in the current one, models, optimiser, RNG."""
    stages_done: list = field(default_factory=list)
    stage: str | None = None
    step: int = 0
    optimizer: dict | None = None
    generator: torch.Tensor | None = None
    history: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


class Trainer:
    """Runs the stages; owns the models, the sampler, the decoder and the files."""

    def __init__(self, cfg: TrainConfig, body, out_dir: Path, state_dir: Path, seed: int = 0,
                 device: str = "cpu", progress: bool = True, log=print, workers: int = 0,
                 stage_minutes: float | None = None, motion_dirs=None, motion_weights: dict | None = None):
        self.cfg = cfg
        self.workers = int(workers)
        self.stage_seconds = stage_minutes * 60.0 if stage_minutes else None
        self.body = body
        self.out_dir = Path(out_dir)
        self.state_dir = Path(state_dir)
        self.seed = seed
        self.device = torch.device(device)
        self.progress = progress
        self.log = log
        self.rank, self.world = distributed.rank_and_world()
        torch.manual_seed(seed * 1000 + self.rank)
        cpu_body = body.to("cpu")
        self.motions = motion_library(cpu_body, motion_dirs, motion_weights)
        self.sampler = SampleGenerator(cpu_body, self.motions.train if self.motions.folders else mocap.TRAIN_CLIPS)
        decoder, self.vertex_ids = fit_decoder(cpu_body, cfg.num_vertex_samples)
        self.decoded_loss = DecodedLoss(decoder.to(self.device), cfg)
        self.dae = DAE(cfg.dae).to(self.device)
        self.smplr = make_smplr(cpu_body, cfg, use_landmarks=True).to(self.device)
        self.smplr_jo = make_smplr(cpu_body, cfg, use_landmarks=False).to(self.device) if cfg.train_joints_only_ablation else None
        # end-to-end fine-tuning works on a copy, so smplr.pt stays the stage-wise network (the
        # SMPLR-from-3D rows and the joints-only ablation compare like with like)
        self.smplr_e2e = make_smplr(cpu_body, cfg, use_landmarks=True).to(self.device)
        self.state = TrainState()
        self.gen = torch.Generator().manual_seed(seed * 1000 + self.rank)
        self._pool, self._pool_size, self._pool_used = {}, 0, 0
        self._stream = None

    # ----------------------------------------------------------------- files
    def _smplr_list(self) -> list:
        return [self.smplr] + ([self.smplr_jo] if self.smplr_jo is not None else [])

    def save_weights(self, metrics: dict) -> None:
        """The deliverables: dae.pt, smplr.pt (and smplr_joints_only.pt), fp32 state dicts."""
        if self.rank != 0:
            return
        common = {"train_config": self.cfg.to_dict(), "seed": self.seed, "stages_done": list(self.state.stages_done),
                  "train_seconds": dict(self.state.seconds), "motions": self.motions.summary()}
        save_checkpoint(self.out_dir / WEIGHT_FILES["dae"], "dae", self.cfg.dae.to_dict(), self.dae.state_dict(),
                        metrics, common)
        save_checkpoint(self.out_dir / WEIGHT_FILES["smplr"], "smplr", self.smplr.cfg.to_dict(),
                        self.smplr.state_dict(), metrics, common)
        if self.smplr_jo is not None:
            save_checkpoint(self.out_dir / WEIGHT_FILES["smplr_joints_only"], "smplr", self.smplr_jo.cfg.to_dict(),
                            self.smplr_jo.state_dict(), metrics, common)
        if "end2end" in self.state.stages_done:
            save_checkpoint(self.out_dir / WEIGHT_FILES["smplr_end2end"], "smplr", self.smplr_e2e.cfg.to_dict(),
                            self.smplr_e2e.state_dict(), metrics, common)

    def save_state(self) -> None:
        if self.rank != 0:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        s = self.state
        payload = {
            "format": "smplr-core-train-state", "config": self.cfg.to_dict(), "seed": self.seed,
            "stages_done": s.stages_done, "stage": s.stage, "step": s.step, "optimizer": s.optimizer,
            "generator": self.gen.get_state(), "history": s.history, "seconds": s.seconds,
            "dae": self.dae.state_dict(), "smplr": self.smplr.state_dict(),
            "smplr_jo": self.smplr_jo.state_dict() if self.smplr_jo is not None else None,
            "smplr_e2e": self.smplr_e2e.state_dict(),
        }
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(self.state_dir / STATE_FILE)

    def resume(self) -> bool:
        """Load the training state if there is one; False when starting fresh."""
        path = self.state_dir / STATE_FILE
        if not path.is_file():
            return False
        try:
            p = torch.load(path, map_location=self.device, weights_only=False)
        except Exception as exc:
            raise CheckpointError(f"training state {path} is corrupt: {exc.__class__.__name__}: {exc}") from exc
        if not isinstance(p, dict) or p.get("format") != "smplr-core-train-state":
            raise CheckpointError(f"training state {path} is not an smplr_core training state")
        if p["config"] != self.cfg.to_dict():
            raise CheckpointError(f"training state {path} was made with another configuration; "
                                  "start fresh (without --resume) or pass the same --config")
        for name, module in (("dae", self.dae), ("smplr", self.smplr), ("smplr_jo", self.smplr_jo),
                             ("smplr_e2e", self.smplr_e2e)):
            if module is not None and p.get(name) is not None:
                try:
                    module.load_state_dict(p[name])
                except RuntimeError as exc:
                    raise CheckpointError(f"training state {path}: {name} does not match: {exc}") from exc
        self.state = TrainState(p["stages_done"], p["stage"], p["step"], p["optimizer"], None, p["history"],
                                p.get("seconds", {}))
        self.gen.set_state(p["generator"])
        return True

    def load_weights(self, weights_dir: Path) -> None:
        """Start from existing weights (e.g. to run only end2end on shipped weights)."""
        for name, module in (("dae", self.dae), ("smplr", self.smplr), ("smplr_joints_only", self.smplr_jo),
                             ("smplr_end2end", self.smplr_e2e)):
            path = Path(weights_dir) / WEIGHT_FILES[name]
            if module is None or not path.is_file():
                continue
            payload = load_checkpoint(path, "dae" if name == "dae" else "smplr")
            if (name == "dae" and self.cfg.dae.output_scale == "box"
                    and DAEConfig.from_dict(payload["config"]).output_scale == "metric"):
                payload["state_dict"] = metric_state_to_box(payload["state_dict"])  # same function, new head
            load_state(module, payload, path)

    # ----------------------------------------------------------------- stages
    def _stage_module(self, stage: str) -> tuple[nn.Module, list]:
        cfg = self.cfg
        smplrs = nn.ModuleList(self._smplr_list())
        if stage == "dae":
            mod = DAEStage(self.dae)
            params = list(self.dae.parameters())
        elif stage == "smplr-shape":
            mod = ShapeStage(smplrs, self.decoded_loss, cfg.smplr_input_noise_m)
            params = [p for m in smplrs for p in m.shape_net.parameters()]
        elif stage == "smplr-pose":
            mod = PoseStage(smplrs, self.decoded_loss, cfg.smplr_input_noise_m)
            params = [p for m in smplrs for p in m.pose_net.parameters()]
        elif stage == "end2end":
            if self.state.stage != "end2end":  # fresh start of the stage: from the stage-wise SMPLR
                self.smplr_e2e.load_state_dict(self.smplr.state_dict())
            mod = EndToEndStage(self.dae, self.smplr_e2e, self.decoded_loss, cfg.w_dae_in_end2end)
            params = list(self.dae.parameters()) + list(self.smplr_e2e.parameters())
        else:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        return mod, params

    def _set_modes(self, stage: str) -> None:
        for m in [self.dae, self.smplr_e2e] + self._smplr_list():
            m.train()
            for p in m.parameters():
                p.requires_grad_(True)
        if stage == "smplr-pose":  # frozen shape nets: no grads, fixed BatchNorm statistics
            for m in self._smplr_list():
                m.shape_net.eval()
                for p in m.shape_net.parameters():
                    p.requires_grad_(False)
        if stage in ("smplr-shape", "smplr-pose"):
            self.dae.eval()

    def _next_chunk(self, size: int) -> dict:
        """``size`` fresh samples: drawn here from ``self.gen``, or (``workers`` > 0) taken from
        DataLoader worker processes that generate while the accelerator trains."""
        if self.workers <= 0:
            lo, hi = self.cfg.noise_level
            level = torch.rand(size, generator=self.gen) * (hi - lo) + lo
            return self.sampler.sample(self.gen, size, noise_level=level)
        if self._stream is None:
            # a resumed run starts new streams (offset by the steps done) rather than replaying old ones
            offset = len(self.state.stages_done) * 1_000_000 + self.state.step
            stream = SampleStream(self.sampler, (self.seed * 1000 + self.rank) * 1009 + offset,
                                  self.cfg.noise_level, size)
            loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=self.workers,
                                                 pin_memory=self.device.type == "cuda", prefetch_factor=4,
                                                 persistent_workers=True)
            self._stream = iter(loader)
        return next(self._stream)

    def batch(self, n: int) -> dict:
        """n fresh samples. Drawn in chunks of ``GENERATION_CHUNK``: per-call overheads dominate small
        batches, so one large draw sliced over several steps is several times cheaper."""
        if self._pool_used + n > self._pool_size:
            size = max(n, GENERATION_CHUNK)
            chunk = self._next_chunk(size)
            self._pool = {k: v.to(self.device, non_blocking=True) for k, v in chunk.items()}
            self._pool_size, self._pool_used = next(iter(chunk.values())).shape[0], 0
        s = slice(self._pool_used, self._pool_used + n)
        self._pool_used += n
        return {k: v[s] for k, v in self._pool.items()}

    def run_stage(self, stage: str) -> dict:
        cfg = self.cfg
        steps, bs, lr = cfg.steps[stage], cfg.batch_size[stage], cfg.lr[stage]
        self._set_modes(stage)
        mod, params = self._stage_module(stage)
        runner = distributed.wrap(mod, self.device)
        opt = torch.optim.Adam(params, lr=lr)
        start = 0
        if self.state.stage == stage and self.state.optimizer is not None:
            opt.load_state_dict(self.state.optimizer)
            start = self.state.step
        self.state.stage = stage
        hist = self.state.history.setdefault(stage, [])
        t0 = time.time()
        seconds_before = self.state.seconds.get(stage, 0.0)
        bar = tqdm(range(start, steps), desc=stage, disable=not self.progress or self.rank != 0, mininterval=2.0,
                   initial=start, total=steps)
        running: dict = {}
        for step in bar:
            # warm-up then cosine decay to 2% of lr, over the steps or the time budget, whichever ends first
            progress = min(step, steps) / steps
            if self.stage_seconds:
                spent = distributed.rank0_value(seconds_before + time.time() - t0, self.device)
                if spent >= self.stage_seconds:
                    self.log(f"stage {stage}: time budget of {self.stage_seconds / 60:.1f} min reached "
                             f"at step {step} of {steps}")
                    break
                progress = max(progress, spent / self.stage_seconds)
            for group in opt.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / 100) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))
            batch = self.batch(bs)
            loss, logs = runner(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            logs["loss"] = loss.item()
            for k, v in logs.items():
                running[k] = running.get(k, 0.0) + v
            if (step + 1) % cfg.log_every == 0 or step + 1 == steps:
                n = cfg.log_every if (step + 1) % cfg.log_every == 0 else (step + 1) % cfg.log_every
                avg = {k: v / n for k, v in running.items()}
                hist.append({"step": step + 1, **avg})
                running = {}
                bar.set_postfix({k: f"{v:.1f}" if k.endswith("_mm") else f"{v:.4f}" for k, v in avg.items()})
            if (step + 1) % cfg.save_every == 0 and step + 1 < steps:
                self.state.step, self.state.optimizer = step + 1, opt.state_dict()
                self.state.seconds[stage] = seconds_before + time.time() - t0
                self.save_state()
        bar.close()
        self.state.seconds[stage] = seconds_before + time.time() - t0
        self.state.stages_done.append(stage)
        self.state.stage, self.state.step, self.state.optimizer = None, 0, None
        return hist[-1] if hist else {}

    def run(self, stages, curves_png: Path | None = None) -> dict:
        metrics = {}
        for stage in stages:
            if stage in self.state.stages_done:
                self.log(f"stage {stage}: already done (resumed)")
                continue
            metrics[stage] = self.run_stage(stage)
            self.save_state()
            self.save_weights({"last": metrics, "history": self.state.history})
            if self.rank == 0:
                self.log(f"stage {stage} done in {self.state.seconds[stage]:.0f} s: "
                         + ", ".join(f"{k}={v:.2f}" for k, v in metrics[stage].items() if k != "step"))
        if curves_png is not None and self.rank == 0:
            plot_curves(self.state.history, curves_png)
        return {"stages": metrics, "seconds": self.state.seconds}


def plot_curves(history: dict, path: Path) -> None:
    """Training curves, one panel per stage (loss and the headline distance)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in STAGES if history.get(s)]
    if not stages:
        return
    fig, axes = plt.subplots(1, len(stages), figsize=(4.2 * len(stages), 3.4), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        h = history[stage]
        steps = [r["step"] for r in h]
        keys = [k for k in h[-1] if k.endswith("_mm") and not k.startswith("jo_")]
        for k in keys:
            ax.plot(steps, [r.get(k, float("nan")) for r in h], label=k)
        jo = [k for k in h[-1] if k.startswith("jo_") and k.endswith("_mm")]
        for k in jo:
            ax.plot(steps, [r.get(k, float("nan")) for r in h], "--", label=k)
        ax.set_title(stage)
        ax.set_xlabel("step")
        ax.set_ylabel("mm (training batch)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def geodesic_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle between rotations (..., 3, 3) in degrees."""
    return geometry.matrix_to_axis_angle(a.transpose(-1, -2) @ b).norm(dim=-1) * (180.0 / math.pi)
