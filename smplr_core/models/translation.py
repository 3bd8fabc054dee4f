"""Camera-frame root translation from 2D keypoints, intrinsics and root-relative 3D (issue part 4).

For a pinhole camera, ``u = fx (X + tx) / (Z + tz) + cx`` is linear in t once multiplied out:
with the ray ``x = (u - cx) / fx``: ``(X + tx) - x (Z + tz) = 0`` (same for y). A visibility-weighted
linear least squares gives t; a few Gauss-Newton steps on the pixel reprojection error refine it
(the linear form weights far points more than the image does).
"""
from __future__ import annotations

import torch

MIN_DEPTH_M = 0.1
# Fewer usable keypoints than this and the fit is declared invalid.
MIN_POINTS = 4


def _det3(m: torch.Tensor) -> torch.Tensor:
    """Determinants of (B, 3, 3) by the explicit formula (much cheaper than LAPACK for tiny batches)."""
    return (m[:, 0, 0] * (m[:, 1, 1] * m[:, 2, 2] - m[:, 1, 2] * m[:, 2, 1])
            - m[:, 0, 1] * (m[:, 1, 0] * m[:, 2, 2] - m[:, 1, 2] * m[:, 2, 0])
            + m[:, 0, 2] * (m[:, 1, 0] * m[:, 2, 1] - m[:, 1, 1] * m[:, 2, 0]))


def fit_translation(points_rel: torch.Tensor, keypoints_px: torch.Tensor, weights: torch.Tensor,
                    intrinsics: torch.Tensor, gauss_newton_steps: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """points_rel (B, K, 3) camera axes, root-relative; keypoints_px (B, K, 2); weights (B, K) >= 0
    (0 = unused); intrinsics (B, 4). Returns (t (B, 3), valid (B,) bool). Invalid rows get a finite t."""
    dtype = points_rel.dtype
    w = torch.where(torch.isfinite(keypoints_px).all(-1), weights, torch.zeros_like(weights)).clamp(min=0)
    kp = torch.nan_to_num(keypoints_px, nan=0.0, posinf=0.0, neginf=0.0)
    f = intrinsics[:, None, 0:2]
    c = intrinsics[:, None, 2:4]
    ray = (kp - c) / f  # (B, K, 2)
    X, Y, Z = points_rel.unbind(-1)
    zeros, ones = torch.zeros_like(X), torch.ones_like(X)
    # rows: [1, 0, -x] t = x Z - X ; [0, 1, -y] t = y Z - Y
    a = torch.stack([torch.stack([ones, zeros, -ray[..., 0]], -1), torch.stack([zeros, ones, -ray[..., 1]], -1)], 2)
    b = torch.stack([ray[..., 0] * Z - X, ray[..., 1] * Z - Y], 2)  # (B, K, 2)
    a = a.reshape(a.shape[0], -1, 3)
    b = b.reshape(b.shape[0], -1)
    ww = w.repeat_interleave(2, dim=1)
    aw = a * ww[..., None]  # plain products: 3-operand einsums cost more than the algebra here
    ata = aw.transpose(1, 2) @ a
    atb = (aw * b[..., None]).sum(dim=1)
    count = (w > 0).sum(dim=1)
    eye = torch.eye(3, dtype=dtype, device=a.device)
    reg = 1e-9 * eye
    good = (count >= MIN_POINTS) & (_det3(ata) > 1e-12)
    ata = torch.where(good[:, None, None], ata, eye) + reg
    atb = torch.where(good[:, None], atb, torch.zeros_like(atb))
    t = torch.linalg.solve(ata, atb[..., None])[..., 0]
    t = torch.cat([t[:, :2], t[:, 2:].clamp(min=MIN_DEPTH_M)], dim=1)
    for _ in range(gauss_newton_steps):
        p = points_rel + t[:, None]
        z = p[..., 2].clamp(min=MIN_DEPTH_M)
        proj = p[..., :2] / z[..., None] * f + c
        r = (proj - kp).reshape(p.shape[0], -1)  # (B, 2K)
        # d proj / d t: [[fx/z, 0, -fx X/z^2], [0, fy/z, -fy Y/z^2]]
        jx = torch.stack([f[..., 0] / z, zeros, -f[..., 0] * p[..., 0] / z**2], -1)
        jy = torch.stack([zeros, f[..., 1] / z, -f[..., 1] * p[..., 1] / z**2], -1)
        jac = torch.stack([jx, jy], 2).reshape(p.shape[0], -1, 3)
        jw = jac * ww[..., None]
        jtj = jw.transpose(1, 2) @ jac
        jtr = (jw * r[..., None]).sum(dim=1)
        lm = 1e-6 * jtj.diagonal(dim1=1, dim2=2).mean(-1, keepdim=True)[..., None] * eye
        step = torch.linalg.solve(torch.where(good[:, None, None], jtj + lm, eye), jtr[..., None])[..., 0]
        step = torch.where(good[:, None] & torch.isfinite(step).all(-1, keepdim=True), step, torch.zeros_like(step))
        t = t - step
        t = torch.cat([t[:, :2], t[:, 2:].clamp(min=MIN_DEPTH_M)], dim=1)
    valid = good & torch.isfinite(t).all(-1)
    t = torch.where(valid[:, None], t, torch.tensor([0.0, 0.0, 1.0], dtype=dtype, device=t.device).expand_as(t))
    return t, valid
