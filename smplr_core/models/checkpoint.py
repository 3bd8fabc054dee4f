"""Checkpoints of the DAE and SMPLR: weights plus the config that builds the network, training
metrics, the git commit and code version that produced them.

A file that cannot be read, is not one of ours, or holds another network than asked for raises
``CheckpointError`` naming the file.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import torch

from smplr_core.errors import describe, one_line
from smplr_core.locate import data_path

CHECKPOINT_FORMAT = "smplr-core-checkpoint"
CHECKPOINT_VERSION = 1
CODE_VERSION = "smplr_core 0.1.0"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS_DIR = data_path("weights", "core")
# smplr.pt: SMPLR trained stage-wise on ground-truth 3D (shape, then pose); smplr_end2end.pt: the same
# network after end-to-end fine-tuning behind the DAE (what the pipeline uses when present).
WEIGHT_FILES = {"dae": "dae.pt", "smplr": "smplr.pt", "smplr_joints_only": "smplr_joints_only.pt",
                "smplr_end2end": "smplr_end2end.pt"}


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or does not match what was asked for."""


def git_commit() -> str:
    """Commit of the working tree that runs this code ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(path: str | Path, kind: str, config: dict, state_dict: dict, metrics: dict | None = None,
                    extra: dict | None = None, half: bool = False) -> None:
    """Write a checkpoint atomically (temp file, then rename). half=True stores float tensors as fp16."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu() for k, v in state_dict.items()}
    if half:
        sd = half_floats(sd)
    payload = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "kind": kind, "config": config,
        "state_dict": sd, "metrics": metrics or {}, "git_commit": git_commit(), "code_version": CODE_VERSION,
    }
    if extra:
        payload.update(extra)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def half_floats(state_dict: dict) -> dict:
    """The state dict with its float tensors as fp16 (loading into an fp32 module casts them back)."""
    return {k: (v.half() if v.is_floating_point() else v) for k, v in state_dict.items()}


def load_checkpoint(path: str | Path, kind: str | None = None, map_location="cpu") -> dict:
    """Read a checkpoint; ``kind`` ("dae", "smplr") is checked when given. Float tensors come back fp32."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (train with `python -m smplr_core.train`)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for truncated/garbage files
        raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch file ({describe(exc, 160)}); "
                              f"restore it or train again") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an smplr_core checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {payload.get('version')}, "
                              f"this code reads {CHECKPOINT_VERSION}")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(f"checkpoint {path} holds a {payload.get('kind')!r} network, expected {kind!r}")
    payload["state_dict"] = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    return payload


def load_state(module: torch.nn.Module, payload: dict, path: str | Path) -> None:
    """Load a checkpoint's weights into a module built from its config; mismatch -> CheckpointError."""
    try:
        module.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match the network its config describes: "
                              f"{one_line(exc, 300)}") from exc


def store_half(path: str | Path) -> None:
    """Rewrite a checkpoint with its float weights stored as fp16 (half the size in the repository;
    ``load_checkpoint`` gives fp32 back). Everything else in the file is kept."""
    path = Path(path)
    payload = load_checkpoint(path)
    # everything but the weights is kept, the training commit included (``extra`` overrides the new one)
    extra = {k: v for k, v in payload.items() if k not in ("format", "version", "kind", "config", "state_dict",
                                                           "metrics", "code_version")}
    extra["stored_dtype"] = "float16"
    save_checkpoint(path, payload["kind"], payload["config"], payload["state_dict"], payload["metrics"], extra, half=True)


if __name__ == "__main__":  # python -m smplr_core.models.checkpoint --half FILE...
    import argparse

    ap = argparse.ArgumentParser(description="Store checkpoints' float weights as fp16.")
    ap.add_argument("--half", nargs="+", required=True, metavar="FILE")
    for f in ap.parse_args().half:
        before = Path(f).stat().st_size
        store_half(f)
        print(f"{f}: {before / 1e6:.1f} MB -> {Path(f).stat().st_size / 1e6:.1f} MB")
