"""Train the DAE and SMPLR: ``python -m smplr_core.train --stages all`` (also ``smplr-train``).

Stages: dae, smplr-shape, smplr-pose, end2end (``all`` = that order). Multi-GPU:
``torchrun --nproc_per_node N -m smplr_core.train --device cuda ...``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR, REPO_ROOT, CheckpointError
from smplr_core.train import distributed
from smplr_core.train.config import NAMED_CONFIGS, STAGES


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="smplr-train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stages", default="all", help=f"comma list of {', '.join(STAGES)}, or 'all'")
    p.add_argument("--config", default="paper", choices=sorted(NAMED_CONFIGS),
                   help="named configuration (paper = the paper's architecture; cpu = the shipped weights)")
    p.add_argument("--out", default=str(DEFAULT_WEIGHTS_DIR), help="folder for dae.pt / smplr.pt")
    p.add_argument("--state-dir", default=None, help="folder for the resumable training state "
                   "(default: .work/train/<name of --out>)")
    p.add_argument("--init", default=None, help="start from the weights in this folder")
    p.add_argument("--resume", action="store_true", help="continue from the training state")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--workers", type=int, default=0,
                   help="DataLoader processes generating samples while the model trains (0: generate in "
                        "the training process; use several with --device cuda)")
    p.add_argument("--minutes", type=float, default=None,
                   help="time budget per stage: the learning-rate schedule follows the steps or this budget, "
                        "whichever ends first, and the stage stops when it is spent")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply every stage's steps")
    p.add_argument("--body-model", default=None, help="official SMPL file (default: the free body model)")
    p.add_argument("--curves", default=None, help="training curves PNG (default: <out>/training_curves.png)")
    p.add_argument("--motions", action="append", default=None, metavar="DIR",
                   help="BVH or ASF/AMC folder to train on besides the DeepMimic clips (repeatable; default: "
                        "the folders of $SMPLR_MOCAP_DIR); each subfolder holding motion files is one source")
    p.add_argument("--motion-weight", action="append", default=[], metavar="SOURCE=W",
                   help="sampling weight of a motion source (default: data/library.py DEFAULT_WEIGHTS)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def parse_weights(items) -> dict:
    """["cmu=0.3", ...] -> {"cmu": 0.3}."""
    out = {}
    for item in items or []:
        name, _, value = item.partition("=")
        try:
            out[name.strip().lower()] = float(value)
        except ValueError:
            raise SystemExit(f"smplr-train: --motion-weight wants SOURCE=NUMBER, got {item!r}") from None
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    stages = list(STAGES) if args.stages == "all" else [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        print(f"smplr-train: unknown stage(s) {unknown}; known: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("smplr-train: --device cuda requested but no CUDA device is available", file=sys.stderr)
        return 2
    from smplr_core.body import load_body_model
    from smplr_core.train.trainer import Trainer

    device = distributed.init(args.device)
    cfg = NAMED_CONFIGS[args.config]
    if args.steps_scale != 1.0:
        cfg = cfg.scaled(args.steps_scale)
    out = Path(args.out)
    state_dir = Path(args.state_dir) if args.state_dir else REPO_ROOT / ".work" / "train" / out.name
    t0 = time.time()
    try:
        body = load_body_model(args.body_model)
        trainer = Trainer(cfg, body, out, state_dir, seed=args.seed, device=device, progress=not args.no_progress,
                          workers=args.workers, stage_minutes=args.minutes, motion_dirs=args.motions,
                          motion_weights=parse_weights(args.motion_weight))
        if trainer.rank == 0:
            print(json.dumps({"motions": trainer.motions.summary()}, default=float))
        if args.init:
            trainer.load_weights(Path(args.init))
        if args.resume and trainer.resume():
            print(f"resumed: done {trainer.state.stages_done}, in {trainer.state.stage} at step {trainer.state.step}")
        result = trainer.run(stages, Path(args.curves) if args.curves else out / "training_curves.png")
    except CheckpointError as exc:
        print(f"smplr-train: {exc}", file=sys.stderr)
        return 1
    finally:
        distributed.shutdown()
    result["wall_seconds"] = round(time.time() - t0, 1)
    if trainer.rank == 0:
        print(json.dumps({"out": str(out), **result}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
