"""Camera-frame root translation from 2D keypoints, intrinsics and root-relative 3D (issue part 4).

For a pinhole camera, ``u = fx (X + tx) / (Z + tz) + cx`` is linear in t once multiplied out:
with the ray ``x = (u - cx) / fx``: ``(X + tx) - x (Z + tz) = 0`` (same for y). A visibility-weighted
linear least squares gives t; a few Gauss-Newton steps on the pixel reprojection error refine it
(the linear form weights far points more than the image does).
"""
from __future__ import annotations

import torch

from smplr_core.geometry import constant

MIN_DEPTH_M = 0.1
# Fewer usable keypoints than this and the fit is declared invalid.
MIN_POINTS = 4


def _normal_equations(rows: torch.Tensor, rhs: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted least squares of rows (B, K, 2, 3) . t = rhs (B, K, 2) with weights (B, K, 1, 1):
    returns (A^T W A (B, 3, 3), A^T W b (B, 3)) from one product of the augmented rows.
    (The batch-1 call is dominated by per-op cost, so this and `_solve3` keep the op count low.)"""
    aug = torch.cat([rows, rhs.unsqueeze(-1)], -1).flatten(1, 2)  # (B, 2K, 4)
    m = (aug * weights.flatten(1, 2)).transpose(1, 2) @ aug  # (B, 4, 4)
    return m[..., :3, :3], m[..., :3, 3]


def _solve3(a: torch.Tensor, b: torch.Tensor, ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Solves (B, 3, 3) a x = b (B, 3) by the adjugate: the rows of a's cofactor matrix are the
    cross products of a's other two rows, and each row dotted with its cofactors gives the
    determinant. Rows that are not ``ok`` or singular get x = 0 and ok False."""
    cof = torch.linalg.cross(a.roll(-1, 1), a.roll(-2, 1), dim=-1)
    det = (a * cof).sum((1, 2)) / 3.0
    ok = ok & (det > 1e-12)
    x = (cof * b.unsqueeze(-1)).sum(1) / torch.where(ok, det, 1.0).unsqueeze(-1)
    return torch.where(ok.unsqueeze(-1), x, 0.0), ok


def fit_translation(points_rel: torch.Tensor, keypoints_px: torch.Tensor, weights: torch.Tensor,
                    intrinsics: torch.Tensor, gauss_newton_steps: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """points_rel (B, K, 3) camera axes, root-relative; keypoints_px (B, K, 2); weights (B, K) >= 0
    (0 = unused); intrinsics (B, 4). Returns (t (B, 3), valid (B,) bool). Invalid rows get a finite t."""
    dtype, device = points_rel.dtype, points_rel.device
    w = torch.where(torch.isfinite(keypoints_px).all(-1), weights, 0.0).clamp(min=0)
    kp = torch.nan_to_num(keypoints_px, nan=0.0, posinf=0.0, neginf=0.0)
    w4 = w.reshape(*w.shape, 1, 1).expand(-1, -1, 2, 1)  # one weight per row of the (B, K, 2, 3) systems
    f = intrinsics[..., 0:2].unsqueeze(1)
    c = intrinsics[..., 2:4].unsqueeze(1)
    e_xy = torch.eye(2, 3, dtype=dtype, device=device)  # the t-coefficients of x and y: [1 0 .], [0 1 .]
    e_z = constant((0.0, 0.0, 1.0), dtype, device)
    eye = torch.eye(3, dtype=dtype, device=device)
    lowest = constant((-float("inf"), -float("inf"), MIN_DEPTH_M), dtype, device)
    xy, depth = points_rel.split([2, 1], -1)
    ray = (kp - c) / f  # (B, K, 2)
    # rows: [1, 0, -x] t = x Z - X ; [0, 1, -y] t = y Z - Y
    ata, atb = _normal_equations(e_xy - ray.unsqueeze(-1) * e_z, ray * depth - xy, w4)
    t, good = _solve3(ata + 1e-9 * eye, atb, (w > 0).sum(dim=1) >= MIN_POINTS)
    t = t.clamp(min=lowest)
    for _ in range(gauss_newton_steps):
        p_xy, p_z = (points_rel + t.unsqueeze(1)).split([2, 1], -1)
        z = p_z.clamp(min=MIN_DEPTH_M)
        q = p_xy / z  # (B, K, 2) projected rays
        # d proj / d t = (f / z) [[1, 0, -X/z], [0, 1, -Y/z]]; residual proj - kp
        jac = (f / z).unsqueeze(-1) * (e_xy - q.unsqueeze(-1) * e_z)
        jtj, jtr = _normal_equations(jac, q * f + c - kp, w4)
        lm = 1e-6 * jtj.diagonal(dim1=1, dim2=2).mean(-1).reshape(-1, 1, 1) * eye
        step, _ = _solve3(jtj + lm, jtr, good)
        step = torch.where(torch.isfinite(step).all(-1, keepdim=True), step, 0.0)
        t = (t - step).clamp(min=lowest)
    valid = good & torch.isfinite(t).all(-1)
    t = torch.where(valid.unsqueeze(-1), t, constant((0.0, 0.0, 1.0), dtype, device))
    return t, valid
