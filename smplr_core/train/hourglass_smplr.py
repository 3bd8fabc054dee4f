"""End-to-end fine-tuning: hourglass -> SMPLR -> body model, as in the paper (Sec. 3.4).

    python -m smplr_core.train.hourglass_smplr --minutes 5 --smplr weights/core/smplr.pt \
        --hourglass weights/hourglass/small.pt --out weights/hourglass/small_e2e.pt

The hourglass's 3D output (root-relative camera-frame joints + landmarks) feeds SMPLR, whose
betas and rotations go through the body model; the reconstructed joints, landmarks and vertices
are compared with the ground truth of the render. Gradients flow through SMPLR and the body
model into the CNN, so SMPLR regularises the CNN towards point sets that a body can explain,
while the voxel and coordinate losses keep it anchored to the image. SMPLR is fine-tuned with a
smaller learning rate and its batch-norm statistics frozen.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from smplr_core.frontends.hourglass.evaluate import (NUM_JOINTS, images_to_tensor, joint_errors_mm,
                                                     vertex_error_mm)
from smplr_core.frontends.hourglass.losses import hourglass_loss
from smplr_core.frontends.hourglass.volume import volume_to_root_relative
from smplr_core.models.checkpoint import load_checkpoint
from smplr_core.pipeline import load_smplr as core_load_smplr
from smplr_core.train.hourglass import HELD_OUT_SEED, load_hourglass, save_checkpoint

# Weight of the body reconstruction term (metres, L1) against the hourglass loss.
SMPLR_LOSS_WEIGHT = 10.0
SMPLR_LR_FACTOR = 0.1


def load_smplr(path: str | Path, device: str = "cpu"):
    """The core's SMPLR from its checkpoint; a checkpoint whose pose stage has not run yet is refused."""
    path = Path(path)
    if path.is_file():
        stages = load_checkpoint(path, kind="smplr").get("stages_done")
        if stages is not None and not any("pose" in s or "end" in s or "e2e" in s for s in stages):
            raise RuntimeError(f"{path} holds no trained SMPLR yet (stages done: {stages})")
    return core_load_smplr(path, device)


def default_smplr_path() -> Path:
    """The core's shipped SMPLR checkpoint."""
    from smplr_core.pipeline import DEFAULT_WEIGHTS_DIR, WEIGHT_FILES
    return Path(DEFAULT_WEIGHTS_DIR) / WEIGHT_FILES["smplr"]


def hourglass_points(stack_pred_volume: torch.Tensor, centre_cam: torch.Tensor) -> torch.Tensor:
    """Volume coordinates about the crop centre -> (B, 42, 3) root-relative camera metres."""
    rel = volume_to_root_relative(stack_pred_volume, centre_cam[:, 2], centre_cam[:, :2] / centre_cam[:, 2:])
    return rel - rel[:, :1]


def reconstruct(smplr, body, points_rel: torch.Tensor):
    """SMPLR + body model: (B, 42, 3) -> (joints+landmarks (B, 42, 3), vertices (B, V, 3)) root-relative."""
    betas, rotmats = smplr(points_rel[:, 1:])
    out = body.forward_rotmat(betas, rotmats, None)
    pelvis = out.joints[:, :1]
    return torch.cat([out.joints, out.landmarks], dim=1) - pelvis, out.vertices - pelvis


@torch.no_grad()
def evaluate_end_to_end(hourglass, smplr, body, held_out, batch_size: int = 32) -> dict[str, dict[str, float]]:
    """Rows for the evaluation table on held-out renders: the hourglass's own joints, and the
    mesh that SMPLR + the body model make from them (MPJPE, PA-MPJPE, PVE; mm)."""
    hourglass.eval()
    smplr.eval()
    preds, recons, verts = [], [], []
    for i in range(0, len(held_out.images), batch_size):
        images = images_to_tensor(held_out.images[i:i + batch_size])
        points = hourglass_points(hourglass.predict_volume(images), held_out.centre_cam[i:i + batch_size])
        recon, vertices = reconstruct(smplr, body, points)
        preds.append(points)
        recons.append(recon)
        verts.append(vertices)
    target = held_out.points_cam - held_out.root_cam[:, None]
    pred, recon, vertices = torch.cat(preds), torch.cat(recons), torch.cat(verts)
    rows = {"hourglass": joint_errors_mm(pred[:, :NUM_JOINTS], target[:, :NUM_JOINTS]),
            "hourglass_smplr": joint_errors_mm(recon[:, :NUM_JOINTS], target[:, :NUM_JOINTS])}
    rows["hourglass"]["pve_mm"] = None
    rows["hourglass_smplr"]["pve_mm"] = vertex_error_mm(vertices, held_out.vertices_rel)
    return rows


def train(args: argparse.Namespace) -> dict:
    from smplr_core.body import load_body_model
    from smplr_core.synth.renderer import SyntheticRenderer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    body = load_body_model(args.body_model)
    hourglass, hg_state = load_hourglass(args.hourglass)
    args.smplr = args.smplr or default_smplr_path()
    smplr = load_smplr(args.smplr)
    config = hourglass.config
    renderer = SyntheticRenderer(body, crop_size=config.input_size)
    held_out = renderer.render(np.random.default_rng(HELD_OUT_SEED), args.eval_size)
    before = evaluate_end_to_end(hourglass, smplr, body, held_out)
    print(json.dumps({"before": before}), flush=True)
    optimizer = torch.optim.Adam([{"params": hourglass.parameters(), "lr": args.lr},
                                  {"params": smplr.parameters(), "lr": args.lr * SMPLR_LR_FACTOR}])
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    rng = np.random.default_rng(args.seed + 1)  # a stream the hourglass stage did not use
    budget, t0, step = args.minutes * 60.0, time.perf_counter(), 0
    hourglass.train()
    smplr.eval()  # keep SMPLR's batch-norm statistics from its own training
    while time.perf_counter() - t0 < budget:
        frac = (time.perf_counter() - t0) / budget
        for g, lr in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * frac))
        batch = renderer.render(rng, args.batch)
        stack_points, stack_limbs = hourglass.forward_with_limbs(images_to_tensor(batch.images))
        loss_hg, parts, pred_volume = hourglass_loss(stack_points, batch.volume_xyz, config.grid_hwd, stack_limbs)
        points = hourglass_points(pred_volume, batch.centre_cam)
        recon, vertices = reconstruct(smplr, body, points)
        target = batch.points_cam - batch.root_cam[:, None]
        loss_body = (recon - target).abs().sum(-1).mean() + (vertices - batch.vertices_rel).abs().sum(-1).mean()
        loss = loss_hg + SMPLR_LOSS_WEIGHT * loss_body
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % args.log_every == 0:
            print(json.dumps({"step": step, "loss": float(loss.detach()), "body": float(loss_body.detach()),
                              **parts}), flush=True)
    after = evaluate_end_to_end(hourglass, smplr, body, held_out)
    summary = {"step": step, "train_seconds": round(time.perf_counter() - t0, 1), "batch": args.batch,
               "threads": args.threads, "before": before, "after": after,
               "hourglass_checkpoint": str(args.hourglass), "smplr_checkpoint": str(args.smplr)}
    print(json.dumps(summary), flush=True)
    save_checkpoint(Path(args.out), hourglass, {"step": hg_state.get("step", 0) + step, "end_to_end": summary,
                                                "smplr_state_dict": smplr.state_dict(),
                                                "smplr_config": smplr.cfg.to_dict(),
                                                "train_seconds": hg_state.get("train_seconds", 0) + summary["train_seconds"],
                                                "metrics": after["hourglass"]})
    return summary


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hourglass", default="weights/hourglass/small.pt")
    p.add_argument("--smplr", default=None, help="the core's SMPLR checkpoint (default: the shipped one)")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--body-model", default=None)
    p.add_argument("--eval-size", type=int, default=128)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--out", default="weights/hourglass/small_e2e.pt")
    return p.parse_args(argv)


def main(argv=None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
