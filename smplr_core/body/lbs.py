"""Linear blend skinning for SMPL-layout bodies: small batch-first functions (maths apart from state)."""
from __future__ import annotations

import torch


def batch_rodrigues(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle (..., 3) -> rotation matrices (..., 3, 3); smooth and finite at zero."""
    aa = axis_angle
    theta2 = (aa * aa).sum(-1, keepdim=True)
    theta = torch.sqrt(theta2 + 1e-16)
    small = theta < 1e-3
    # sin(t)/t and (1-cos t)/t^2, with their Taylor series near zero where float32 cancels.
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta.clamp_min(1e-3) ** 2)
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)
    return eye + a[..., None] * K + b[..., None] * (K @ K)


def kinematic_levels(parents: list[int]) -> list[list[int]]:
    """Joints grouped by depth in the tree: [[root], [children of root], ...]."""
    depth = [0] * len(parents)
    for j, p in enumerate(parents):
        depth[j] = 0 if p < 0 else depth[p] + 1
    return [[j for j in range(len(parents)) if depth[j] == d] for d in range(max(depth) + 1)]


def forward_kinematics(
    rotmats: torch.Tensor, rest_joints: torch.Tensor, parents: list[int], levels: list[list[int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose the joint tree, one tree level at a time (SMPL: G_j = G_parent · [R_j | J_j - J_parent]).

    rotmats (B, J, 3, 3) local rotations (index 0: global orientation); rest_joints (B, J, 3).
    Returns posed joints (B, J, 3) and skinning transforms (B, J, 3, 4) that map rest-pose
    points to posed points for each joint's segment: [R_world | t_world - R_world J_rest].
    """
    B, J = rotmats.shape[:2]
    rot_w: list[torch.Tensor | None] = [None] * J
    pos_w: list[torch.Tensor | None] = [None] * J
    root = levels[0][0]
    rot_w[root] = rotmats[:, root]
    pos_w[root] = rest_joints[:, root]
    for level in levels[1:]:
        par = [parents[j] for j in level]
        R_par = torch.stack([rot_w[p] for p in par], 1)  # (B, n, 3, 3)
        t_par = torch.stack([pos_w[p] for p in par], 1)
        offset = rest_joints[:, level] - rest_joints[:, par]
        R = R_par @ rotmats[:, level]
        t = t_par + (R_par @ offset.unsqueeze(-1)).squeeze(-1)
        for i, j in enumerate(level):
            rot_w[j], pos_w[j] = R[:, i], t[:, i]
    R_all = torch.stack(rot_w, 1)
    t_all = torch.stack(pos_w, 1)
    t_skin = t_all - (R_all @ rest_joints.unsqueeze(-1)).squeeze(-1)
    return t_all, torch.cat([R_all, t_skin.unsqueeze(-1)], -1)


def skin_vertices(rest_vertices: torch.Tensor, transforms: torch.Tensor, skin_weights: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning.

    rest_vertices (B, V, 3); transforms (B, J, 3, 4) from `forward_kinematics`;
    skin_weights (V, J) (rows sum to 1, at most a few non-zeros). Returns (B, V, 3).
    """
    B, J = transforms.shape[:2]
    V = rest_vertices.shape[1]
    blended = torch.matmul(skin_weights, transforms.reshape(B, J, 12)).reshape(B, V, 3, 4)
    return (blended[..., :3] @ rest_vertices.unsqueeze(-1)).squeeze(-1) + blended[..., 3]


# Vertices per chunk are chosen so the blended transforms of one chunk, (B, n, 12) floats,
# stay around this many bytes: small enough for the CPU caches, large enough to keep the
# per-chunk overhead of a few tensor ops negligible.
SKIN_CHUNK_BYTES = 1 << 20
MIN_SKIN_CHUNK = 512


def shape_and_skin(
    betas: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    transforms: torch.Tensor,
    skin_weights: torch.Tensor,
    pose_feature: torch.Tensor | None = None,
    posedirs: torch.Tensor | None = None,
) -> torch.Tensor:
    """Shape blend + optional pose correctives + linear blend skinning, chunked over vertices.

    betas (B, K); v_template (V, 3); shapedirs (K, V*3); transforms (B, J, 3, 4);
    skin_weights (V, J); pose_feature (B, P) with posedirs (P, V*3), or None.
    Returns posed vertices (B, V, 3); equals `skin_vertices(rest, ...)` without materialising
    the (B, V, 12) blended transforms at once (the memory traffic dominates at large B).
    """
    B, J = transforms.shape[:2]
    V = v_template.shape[0]
    A = transforms.reshape(B, J, 12)
    chunk = max(MIN_SKIN_CHUNK, SKIN_CHUNK_BYTES // (B * 12 * transforms.element_size()))
    out = torch.empty(B, V, 3, dtype=transforms.dtype, device=transforms.device)
    for lo in range(0, V, chunk):
        hi = min(lo + chunk, V)
        rest = torch.addmm(v_template[lo:hi].reshape(1, -1), betas, shapedirs[:, 3 * lo:3 * hi])
        if posedirs is not None:
            rest = rest.addmm_(pose_feature, posedirs[:, 3 * lo:3 * hi])
        rest = rest.reshape(B, hi - lo, 3)
        blended = torch.matmul(skin_weights[lo:hi], A)  # (B, n, 12): rows of [R | t]
        part = out[:, lo:hi]
        part.copy_(blended[..., 3::4])
        part.addcmul_(blended[..., 0::4], rest[..., 0:1])
        part.addcmul_(blended[..., 1::4], rest[..., 1:2])
        part.addcmul_(blended[..., 2::4], rest[..., 2:3])
    return out
