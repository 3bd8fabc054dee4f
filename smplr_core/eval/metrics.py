"""The paper's metrics, batch-first, millimetres.

- MPJPE: mean Euclidean distance over the 24 SMPL joints after aligning the pelvis;
- PA-MPJPE: the same after a similarity (Procrustes) alignment of the 24 joints;
- scale-aligned MPJPE: after the pelvis and one scale factor (a diagnostic of body-size error);
- PVE: mean per-vertex distance of the mesh after aligning the pelvis;
- landmark error: mean distance over the 18 landmarks after aligning the pelvis.
"""
from __future__ import annotations

import torch

from smplr_core import geometry

MM = 1000.0


def per_joint_error_mm(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root-aligned per-point error, pred/target (B, J, 3) with the pelvis at index 0 -> (B, J) mm."""
    return ((pred - pred[:, :1]) - (target - target[:, :1])).norm(dim=-1) * MM


def mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) x2, pelvis first -> (B,) mm."""
    return per_joint_error_mm(pred, target).mean(dim=1)


def scale_aligned_mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) x2, pelvis first -> (B,) mm after the pelvis and then the one least-squares scale
    factor of the prediction (the part of MPJPE a wrong body size explains is what this removes)."""
    p, t = pred - pred[:, :1], target - target[:, :1]
    s = (p * t).sum(dim=(1, 2)) / (p * p).sum(dim=(1, 2)).clamp(min=1e-12)
    return (s[:, None, None] * p - t).norm(dim=-1).mean(dim=1) * MM


def pa_mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) x2 -> (B,) mm after Procrustes alignment."""
    aligned = geometry.procrustes_align(pred.double(), target.double()).to(pred.dtype)
    return (aligned - target).norm(dim=-1).mean(dim=1) * MM


def aligned_points_error_mm(pred: torch.Tensor, target: torch.Tensor, pred_root: torch.Tensor,
                            target_root: torch.Tensor) -> torch.Tensor:
    """Mean distance of points (B, P, 3) after subtracting each side's root (B, 3) -> (B,) mm (PVE, landmarks)."""
    return ((pred - pred_root[:, None]) - (target - target_root[:, None])).norm(dim=-1).mean(dim=1) * MM
