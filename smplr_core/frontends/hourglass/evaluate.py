"""Held-out evaluation of the image front-ends on synthetic renders: MPJPE, PA-MPJPE, PVE.

Errors are root-relative (pelvis at the origin), over the 24 SMPL joints, in millimetres. The
hourglass predicts volume coordinates; the evaluation back-projects them with the ground-truth
root depth (as the paper does on SURREAL: the crop is built from the known root).
"""
from __future__ import annotations

import numpy as np
import torch

from smplr_core.body.joint_names import JOINT_INDEX, NUM_JOINTS
from smplr_core.frontends.hourglass.volume import volume_to_root_relative
from smplr_core.geometry import procrustes_align

__all__ = ["NUM_JOINTS", "images_to_tensor", "joint_errors_mm", "predict_root_relative"]


def joint_errors_mm(pred_rel: torch.Tensor, target_rel: torch.Tensor) -> dict[str, float]:
    """pred_rel, target_rel (B, J, 3) root-relative metres -> mpjpe_mm, pa_mpjpe_mm (means)."""
    mpjpe = (pred_rel - target_rel).norm(dim=-1).mean()
    aligned = procrustes_align(pred_rel.double(), target_rel.double()).to(pred_rel.dtype)
    pa = (aligned - target_rel).norm(dim=-1).mean()
    return {"mpjpe_mm": float(mpjpe) * 1000.0, "pa_mpjpe_mm": float(pa) * 1000.0}


def vertex_error_mm(pred_vertices_rel: torch.Tensor, target_vertices_rel: torch.Tensor) -> float:
    """Per-vertex error (PVE), root-relative, mean over vertices and batch, mm."""
    return float((pred_vertices_rel - target_vertices_rel).norm(dim=-1).mean()) * 1000.0


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def predict_root_relative(model, images: np.ndarray, centre_cam: torch.Tensor,
                          batch_size: int = 32) -> torch.Tensor:
    """Hourglass predictions on crops, back-projected with the known crop centre (its depth is the
    root's), then made relative to the predicted root (point 0).

    images (B, S, S, 3) uint8; centre_cam (B, 3) -> (B, 42, 3) root-relative camera-frame metres.
    """
    model.eval()
    device = next(model.parameters()).device
    outs = []
    for i in range(0, len(images), batch_size):
        volume = model.predict_volume(images_to_tensor(images[i:i + batch_size]).to(device)).cpu()
        centre = centre_cam[i:i + batch_size]
        rel = volume_to_root_relative(volume, centre[:, 2], centre[:, :2] / centre[:, 2:])
        outs.append(rel - rel[:, :1])
    return torch.cat(outs)


def mean_pose_baseline(train_points_rel: torch.Tensor, count: int) -> torch.Tensor:
    """The trivial baseline: the mean root-relative pose of training data, (count, K, 3)."""
    return train_points_rel.mean(dim=0, keepdim=True).expand(count, -1, -1)


# --- agreement with the default path on real video (no 3D ground truth there) -----------------


def facing_directions(joints: np.ndarray) -> np.ndarray:
    """(N, 24, 3) joints in any right-handed frame -> (N, 3) unit vectors the torso faces: across
    the body (the hips' and shoulders' right-to-left vectors) crossed with its up (pelvis -> neck)."""
    j = np.asarray(joints, np.float64)
    across = (j[:, JOINT_INDEX["left_hip"]] - j[:, JOINT_INDEX["right_hip"]]) + (j[:, JOINT_INDEX["left_shoulder"]] - j[:, JOINT_INDEX["right_shoulder"]])
    up = j[:, JOINT_INDEX["neck"]] - j[:, JOINT_INDEX["pelvis"]]
    forward = np.cross(across, up)
    return forward / np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)


def facing_angle_deg(joints_a: np.ndarray, joints_b: np.ndarray) -> np.ndarray:
    """(N,) angle in degrees between the facing directions of two estimates of the same N bodies."""
    cos = (facing_directions(joints_a) * facing_directions(joints_b)).sum(-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def upright(joints_cam: np.ndarray) -> np.ndarray:
    """(N, 24, 3) camera-frame joints (optical frame: y down) -> (N,) bool: head above neck above
    pelvis above both knees, each knee above its ankle (the node tests' check of a standing body)."""
    y, j = np.asarray(joints_cam)[..., 1], JOINT_INDEX
    return ((y[:, j["head"]] < y[:, j["neck"]]) & (y[:, j["neck"]] < y[:, j["pelvis"]])
            & (y[:, j["pelvis"]] < y[:, j["left_knee"]]) & (y[:, j["pelvis"]] < y[:, j["right_knee"]])
            & (y[:, j["left_knee"]] < y[:, j["left_ankle"]]) & (y[:, j["right_knee"]] < y[:, j["right_ankle"]]))
