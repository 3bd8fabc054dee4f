"""Train the volumetric hourglass on synthetic renders generated on the fly.

    python -m smplr_core.train.hourglass --config small --minutes 18 --out weights/hourglass/small.pt

Every step renders a fresh batch (no fixed dataset, so no overfitting); the learning rate follows a
cosine over the time budget so a run of any length ends annealed. A held-out set, rendered once
from a separate seed, is evaluated at the end and every `--eval-every` steps. The checkpoint carries
the config, metrics, the step count and the code version.

End-to-end fine-tuning with SMPLR in the loop lives in `smplr_core.train.hourglass_smplr`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from smplr_core.frontends.hourglass.evaluate import (NUM_JOINTS, images_to_tensor, joint_errors_mm,
                                                     predict_root_relative)
from smplr_core.frontends.hourglass.losses import hourglass_loss
from smplr_core.frontends.hourglass.network import CONFIGS, HourglassConfig, VolumetricHourglass, load_hourglass
from smplr_core.models.checkpoint import half_floats
from smplr_core.synth.renderer import SyntheticRenderer

HELD_OUT_SEED = 1_000_003  # training seeds never reach this stream


def code_version() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(path: Path, model: VolumetricHourglass, extra: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _write(path, {"format": "smplr-hourglass-1", "config": model.config.to_dict(), "state_dict": weights,
                  "code_version": code_version(), **extra})


def _write(path: Path, state: dict) -> None:
    """Atomic write: a temporary file, then a rename."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def store_half(path: str | Path) -> None:
    """Rewrite a trained checkpoint for shipping: weights as fp16, no optimiser state (``load_hourglass``
    gives an fp32 network back); config, metrics, history and commands are kept."""
    path = Path(path)
    _, state = load_hourglass(path)  # a clear error for a missing or corrupt file
    state.pop("optimizer", None)
    state["state_dict"] = half_floats(state["state_dict"])
    state["stored_dtype"] = "float16"
    _write(path, state)


def held_out_set(renderer: SyntheticRenderer, count: int, seed: int = HELD_OUT_SEED):
    """A fixed batch of renders from a seed that training never uses."""
    return renderer.render(np.random.default_rng(seed), count)


def evaluate(model: VolumetricHourglass, held_out) -> dict[str, float]:
    """MPJPE / PA-MPJPE (24 joints) and landmark error on the held-out renders."""
    root = held_out.root_cam
    pred = predict_root_relative(model, held_out.images, held_out.centre_cam)
    target = held_out.points_cam - root[:, None]
    metrics = joint_errors_mm(pred[:, :NUM_JOINTS], target[:, :NUM_JOINTS])
    metrics["landmark_mm"] = float((pred[:, NUM_JOINTS:] - target[:, NUM_JOINTS:]).norm(dim=-1).mean()) * 1000
    return metrics


def motion_pose_source(body, motions=None):
    """With mocap folders (``--motions`` or ``$SMPLR_MOCAP_DIR``): half of each rendered batch posed
    from the motion library's training clips (DeepMimic and the folders), the other half as
    without; None (the renderer's default random poses) when there is no folder."""
    from smplr_core.data import library
    if not library.mocap_dirs(motions):
        return None
    from smplr_core.synth.renderer import random_pose_source
    from smplr_core.train.trainer import motion_library
    return library.pose_source(motion_library(body, motions).train, random_pose_source)


def train(args: argparse.Namespace) -> dict:
    from smplr_core.body import load_body_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = CONFIGS[args.config]
    if args.limbs is not None:
        config = dataclasses.replace(config, limbs=args.limbs)
    device = torch.device(args.device)
    body = load_body_model(args.body_model)
    renderer = SyntheticRenderer(body, crop_size=config.input_size, workers=args.render_workers,
                                 pose_source=motion_pose_source(body, args.motions))
    held_out = held_out_set(renderer, args.eval_size)
    model = VolumetricHourglass(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    out = Path(args.out)
    start_step, elapsed_before = 0, 0.0
    history: list[dict] = []
    if args.resume and out.is_file():
        model, state = load_hourglass(out, args.device)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        optimizer.load_state_dict(state["optimizer"])
        start_step, elapsed_before = state["step"], state["train_seconds"]
        history = state.get("history", [])
    if args.init and not (args.resume and out.is_file()):
        model = load_hourglass(args.init, args.device)[0].train()  # new run from trained weights
        if model.config != config:
            raise SystemExit(f"--init {args.init} holds a {model.config} network, not --config {args.config}")
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    budget = args.minutes * 60.0
    t0 = time.perf_counter()
    step, render_s = start_step, 0.0
    model.train()
    while True:
        elapsed = elapsed_before + time.perf_counter() - t0
        if elapsed >= budget or (args.max_steps and step >= args.max_steps):
            break
        lr = args.lr * 0.5 * (1.0 + math.cos(math.pi * min(elapsed / budget, 1.0)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        tr = time.perf_counter()
        batch = renderer.render(rng, args.batch)
        render_s += time.perf_counter() - tr
        images = images_to_tensor(batch.images).to(device)
        points, limbs = model.forward_with_limbs(images)
        loss, parts, _ = hourglass_loss(points, batch.volume_xyz.to(device), config.grid_hwd, limbs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % args.log_every == 0:
            row = {"step": step, "seconds": round(elapsed, 1), "lr": lr, "loss": float(loss.detach()), **parts}
            history.append(row)
            print(json.dumps(row), flush=True)
        if args.eval_every and step % args.eval_every == 0:
            metrics = evaluate(model, held_out)
            model.train()
            history.append({"step": step, "seconds": round(elapsed, 1), **metrics})
            print(json.dumps({"step": step, **metrics}), flush=True)
            save_checkpoint(out, model, {"step": step, "train_seconds": elapsed, "history": history,
                                         "optimizer": optimizer.state_dict(), "metrics": metrics})
    train_seconds = elapsed_before + time.perf_counter() - t0
    metrics = evaluate(model, held_out)
    summary = {"step": step, "train_seconds": round(train_seconds, 1), "batch": args.batch,
               "images_seen": step * args.batch, "render_seconds": round(render_s, 1),
               "threads": args.threads, "command": args.command, "metrics": metrics}
    print(json.dumps(summary), flush=True)
    save_checkpoint(out, model, {"step": step, "train_seconds": train_seconds, "history": history,
                                 "optimizer": optimizer.state_dict(), "metrics": metrics, "summary": summary})
    return summary


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="small")
    p.add_argument("--minutes", type=float, default=18.0, help="wall-clock training budget")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--limbs", action=argparse.BooleanOptionalAction, default=None,
                   help="limb channels (one volume per SMPL bone) on or off; default: the configuration's "
                        "(on for paper only); kept in the checkpoint's config")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (keep 1 on a shared CPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--render-workers", type=int, default=1, help="threads rendering each batch")
    p.add_argument("--body-model", default=None, help="official SMPL file; default: the free body")
    p.add_argument("--eval-size", type=int, default=128)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--motions", action="append", default=None, metavar="DIR",
                   help="mocap folder: half of the renders take poses from the motion library (repeatable; "
                        "default: $SMPLR_MOCAP_DIR; without one, random poses only)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", default=None, help="start a new run (fresh optimiser and schedule) from these weights")
    p.add_argument("--out", default="weights/hourglass/small.pt")
    p.add_argument("--store-half", nargs="+", metavar="FILE", default=None,
                   help="instead of training: rewrite these checkpoints for shipping (fp16 weights, "
                        "no optimiser state)")
    args = p.parse_args(argv)
    args.command = "python -m smplr_core.train.hourglass " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.store_half:
        for f in args.store_half:
            before = Path(f).stat().st_size
            store_half(f)
            print(f"{f}: {before / 1e6:.1f} MB -> {Path(f).stat().st_size / 1e6:.1f} MB")
        return
    train(args)


if __name__ == "__main__":
    main()
