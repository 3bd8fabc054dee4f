"""Rotations, rigid alignment and camera projection: small batch-first tensor functions.

Conventions used across ``smplr_core``:
- rotation matrices act on column vectors (``x' = R @ x``); batches lead, ``(..., 3, 3)``;
- axis-angle vectors are ``axis * angle`` (radians), ``(..., 3)``;
- the 6D representation (Zhou et al., CVPR 2019) is the first two *columns* of the matrix,
  concatenated as ``(c0, c1)``: ``(..., 6)``;
- cameras are pinhole, OpenCV optical frame (x right, y down, z forward), intrinsics
  ``(fx, fy, cx, cy)`` in pixels.

The torch side's one rotation toolbox (the body model, its builder and SMPLR use these; numpy
code uses scipy's ``Rotation``). The ``roma`` package was measured in their place: at batch 1
(24 rotations, one CPU thread) it took 160 / 101 / 36 µs for matrix -> axis-angle, axis-angle ->
matrix and 6D -> matrix against 122 / 81 / 28 µs here, so these stay.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

# Below this angle (radians) the closed forms switch to their Taylor series, which keeps
# values and gradients finite at the identity.
_SMALL_ANGLE = 1e-4


def constant(values, dtype: torch.dtype | None, device: torch.device | str) -> torch.Tensor:
    """A small constant tensor made once per (values, dtype, device) and shared: on a GPU no
    host-to-device copy per call, and a traced graph holds it as a constant. Never modify it."""
    return _constant(_frozen(values), dtype, torch.device(device))


def _frozen(values):
    return tuple(_frozen(v) for v in values) if isinstance(values, (list, tuple)) else values


@functools.lru_cache(maxsize=256)
def _constant(values: tuple, dtype: torch.dtype | None, device: torch.device) -> torch.Tensor:
    with torch.inference_mode(False):  # a normal tensor, usable later with autograd too
        return torch.tensor(values, dtype=dtype, device=device)


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrices ``[v]_x``: (..., 3) -> (..., 3, 3)."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape[:-1] + (3, 3))


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: (..., 3) axis-angle -> (..., 3, 3) rotation matrices."""
    theta2 = (axis_angle * axis_angle).sum(-1, keepdim=True)
    small = theta2 < _SMALL_ANGLE**2
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    # sin(t)/t and (1-cos(t))/t^2 with series near zero (so the identity has finite gradients)
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / (theta * theta))
    k = skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand(k.shape)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle with angle in [0, pi].

    Goes through unit quaternions, which is stable for every angle including pi.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


# The symmetric 4x4 matrix K(R) with K = 4 q q^T for the unit quaternion q = (w, x, y, z) of R, as a
# linear map of R's nine entries (row-major) plus a constant: the diagonal holds 4 q_i^2
# (e.g. 1 + m00 + m11 + m22 = 4 w^2), the off-diagonal terms 4 q_i q_j (e.g. m21 - m12 = 4 w x).
_QUAT_TERMS = (  # (K row, K column, sign, R entry); the diagonal's constant 1 is added apart
    [(0, 0, 1, 0), (0, 0, 1, 4), (0, 0, 1, 8), (1, 1, 1, 0), (1, 1, -1, 4), (1, 1, -1, 8),
     (2, 2, -1, 0), (2, 2, 1, 4), (2, 2, -1, 8), (3, 3, -1, 0), (3, 3, -1, 4), (3, 3, 1, 8)]
    + [t for i, j, terms in ((0, 1, [(1, 7), (-1, 5)]), (0, 2, [(1, 2), (-1, 6)]), (0, 3, [(1, 3), (-1, 1)]),
                             (1, 2, [(1, 3), (1, 1)]), (1, 3, [(1, 2), (1, 6)]), (2, 3, [(1, 5), (1, 7)]))
       for sign, entry in terms for t in ((i, j, sign, entry), (j, i, sign, entry))]
)


def _quaternion_outer_rows() -> list[list[float]]:
    linear = [[0.0] * 16 for _ in range(9)]
    for i, j, sign, entry in _QUAT_TERMS:
        linear[entry][4 * i + j] += sign
    return linear


_QUAT_LINEAR = _quaternion_outer_rows()  # (9, 16): R (row-major) -> K, less the diagonal's 1
_QUAT_CONST = [float(i == j) for i in range(4) for j in range(4)]


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0.

    Forms K = 4 q q^T from the matrix (one linear map) and takes its best-conditioned row, the one
    with the largest diagonal term (at least 1), normalised. A handful of ops, so cheap at batch 1.
    """
    linear = constant(_QUAT_LINEAR, matrix.dtype, matrix.device)
    const = constant(_QUAT_CONST, matrix.dtype, matrix.device)
    k = (matrix.flatten(-2) @ linear + const).unflatten(-1, (4, 4))
    best = k.diagonal(dim1=-2, dim2=-1).argmax(dim=-1)
    row = torch.gather(k, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = F.normalize(row, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3)."""
    w, x, y, z = F.normalize(quaternion, dim=-1).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(quaternion.shape[:-1] + (3, 3))


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions (w, x, y, z) -> (..., 3) axis-angle, angle in [0, pi]."""
    q = F.normalize(quaternion, dim=-1)
    q = torch.where(q[..., :1] < 0, -q, q)
    xyz = q[..., 1:]
    s = xyz.norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(s, q[..., :1])
    small = s < 1e-6
    # angle / sin(angle/2) -> 2 near zero
    scale = torch.where(small, 2.0 / q[..., :1].clamp(min=1e-6), angle / torch.where(small, 1.0, s))
    return xyz * scale


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt of the two 6D columns: (..., 6) -> (..., 3, 3) (Zhou et al. 2019)."""
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = F.normalize(a1, dim=-1, eps=1e-8)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-8)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns."""
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def procrustes_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Similarity-align ``pred`` to ``target`` (rotation, uniform scale, translation).

    pred, target: (B, J, 3) -> aligned pred (B, J, 3). Used for PA-MPJPE (Umeyama 1991).
    """
    mu_p = pred.mean(dim=1, keepdim=True)
    mu_t = target.mean(dim=1, keepdim=True)
    p = pred - mu_p
    t = target - mu_t
    cov = p.transpose(1, 2) @ t  # (B, 3, 3)
    u, s, vh = torch.linalg.svd(cov)
    # reflection guard: flip the last singular direction when det(R) would be -1
    d = torch.sign(torch.linalg.det(vh.transpose(1, 2) @ u.transpose(1, 2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    ones = torch.ones_like(d)
    diag = torch.stack([ones, ones, d], dim=-1)
    rot = vh.transpose(1, 2) @ torch.diag_embed(diag) @ u.transpose(1, 2)  # maps p -> t
    var_p = (p * p).sum(dim=(1, 2)).clamp(min=1e-12)
    scale = (s * diag).sum(-1) / var_p
    return scale[:, None, None] * (p @ rot.transpose(1, 2)) + mu_t


def project_points(points: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """Pinhole projection. points (B, J, 3) camera frame, intrinsics (B, 4) fx, fy, cx, cy -> (B, J, 2) px.

    Depths are clamped to 1 mm so points at or behind the camera stay finite.
    """
    z = points[..., 2:3].clamp(min=1e-3)
    xy = points[..., :2] / z
    f = intrinsics[:, None, 0:2]
    c = intrinsics[:, None, 2:4]
    return xy * f + c


def rotation_x(angle: torch.Tensor) -> torch.Tensor:
    """(...,) radians -> (..., 3, 3) rotation about x."""
    return axis_angle_to_matrix(torch.stack([angle, torch.zeros_like(angle), torch.zeros_like(angle)], -1))


def rotation_y(angle: torch.Tensor) -> torch.Tensor:
    """(...,) radians -> (..., 3, 3) rotation about y."""
    return axis_angle_to_matrix(torch.stack([torch.zeros_like(angle), angle, torch.zeros_like(angle)], -1))


def rotation_z(angle: torch.Tensor) -> torch.Tensor:
    """(...,) radians -> (..., 3, 3) rotation about z."""
    return axis_angle_to_matrix(torch.stack([torch.zeros_like(angle), torch.zeros_like(angle), angle], -1))


def rotation_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Smallest rotation taking unit direction ``a`` onto ``b``: (..., 3), (..., 3) -> (..., 3, 3)."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    axis = torch.cross(a, b, dim=-1)
    sin = axis.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(-1, keepdim=True)
    angle = torch.atan2(sin, cos)
    # antiparallel: any axis perpendicular to a
    perp = torch.cross(a, torch.tensor([1.0, 0.0, 0.0], dtype=a.dtype, device=a.device).expand_as(a), dim=-1)
    perp = torch.where(perp.norm(dim=-1, keepdim=True) < 1e-6,
                       torch.cross(a, torch.tensor([0.0, 1.0, 0.0], dtype=a.dtype, device=a.device).expand_as(a), dim=-1),
                       perp)
    unit = torch.where(sin > 1e-8, axis / sin.clamp(min=1e-12), F.normalize(perp, dim=-1))
    return axis_angle_to_matrix(unit * angle)
