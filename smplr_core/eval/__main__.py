"""Evaluate the DAE and SMPLR on held-out clips and shapes: ``python -m smplr_core.eval`` (``smplr-eval``).

Prints one table, writes JSON and PNG plots (error per joint, vs. noise level, vs. distance).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR, REPO_ROOT, CheckpointError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="smplr-eval", description=__doc__)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS_DIR), help="folder with dae.pt, smplr.pt")
    p.add_argument("--json", default=str(DEFAULT_WEIGHTS_DIR / "eval.json"), help="output JSON")
    p.add_argument("--figures", default=str(REPO_ROOT / "docs" / "figures"), help="folder for the PNG plots")
    p.add_argument("--repeats", type=int, default=6, help="passes over the held-out frames (new shape and camera each)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--motions", action="append", default=None, metavar="DIR",
                   help="BVH or ASF/AMC folder whose held-out actors get their own rows (repeatable; default: "
                        "the folders of $SMPLR_MOCAP_DIR, none when unset)")
    p.add_argument("--breakdown", action="store_true",
                   help="also break the DAE's noisy-2D error down by noise component, held-out clip and "
                        "seen vs. new motions (JSON key 'breakdown', plot core_error_breakdown.png)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from smplr_core.body import load_body_model
    from smplr_core.eval.evaluate import (EVAL_SEED, Evaluator, format_breakdown, format_source_table,
                                          format_table, plot, plot_breakdown, save_json)

    t0 = time.time()
    try:
        ev = Evaluator(Path(args.weights), load_body_model(), repeats=args.repeats,
                       seed=args.seed if args.seed is not None else EVAL_SEED, motion_dirs=args.motions)
    except CheckpointError as exc:
        print(f"smplr-eval: {exc}", file=sys.stderr)
        return 1
    result = ev.run()
    if args.breakdown:
        result["breakdown"] = ev.breakdown()
    result["seconds"] = round(time.time() - t0, 1)
    print(f"held-out clips: {', '.join(result['held_out_clips'])}; {result['samples']} samples; noise level 1")
    print(format_table(result["rows"]))
    if "source_rows" in result:
        print("held-out actors and subjects per source: "
              + "; ".join(f"{k}: {', '.join(v)}" for k, v in result["held_out_actors"].items()))
        print(format_source_table(result["source_rows"]))
    if args.breakdown:
        print(format_breakdown(result["breakdown"]))
    save_json(result, Path(args.json))
    print(f"wrote {args.json}")
    if not args.no_plots:
        paths = plot(result, Path(args.figures))
        if args.breakdown:
            paths.append(plot_breakdown(result["breakdown"], Path(args.figures)))
        for path in paths:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
