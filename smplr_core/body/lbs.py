"""Linear blend skinning for SMPL-layout bodies: small batch-first functions (maths apart from state)."""
from __future__ import annotations

from typing import NamedTuple

import torch

from smplr_core.geometry import axis_angle_to_matrix, constant

# smplx's name for Rodrigues' formula: (..., 3) axis-angle -> (..., 3, 3), smooth and finite at zero.
batch_rodrigues = axis_angle_to_matrix


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

    The local transforms are 4x4 homogeneous matrices and each level's parents are all in the level
    before, so a level is two index_selects and one product; the levels are put back in joint order
    once at the end (the batch-1 call is dominated by per-op cost).
    """
    B, J = rotmats.shape[:2]
    dtype, device = rotmats.dtype, rotmats.device
    index = lambda values: constant(values, torch.int64, device)  # noqa: E731
    own_parent = index([p if p >= 0 else j for j, p in enumerate(parents)])
    has_parent = constant([[float(p >= 0)] for p in parents], dtype, device)
    local_t = rest_joints - rest_joints.index_select(1, own_parent) * has_parent  # root: its own position
    bottom = constant([[0.0] * 4] * 3 + [[0.0, 0.0, 0.0, 1.0]], dtype, device)
    local = torch.nn.functional.pad(torch.cat([rotmats, local_t.unsqueeze(-1)], -1), (0, 0, 0, 1)) + bottom
    world = local.index_select(1, index(levels[0]))
    posed = [world]
    for prev, level in zip(levels, levels[1:]):
        slot = {j: i for i, j in enumerate(prev)}
        take = index([slot[parents[j]] for j in level])
        world = world.index_select(1, take) @ local.index_select(1, index(level))
        posed.append(world)
    order = [j for level in levels for j in level]
    back = [0] * J
    for i, j in enumerate(order):
        back[j] = i
    world = torch.cat(posed, 1).index_select(1, index(back))
    R_all, t_all = world[..., :3, :3], world[..., :3, 3]
    t_skin = t_all - (R_all @ rest_joints.unsqueeze(-1)).squeeze(-1)
    return t_all, torch.cat([R_all, t_skin.unsqueeze(-1)], -1)


def skin_vertices(rest_vertices: torch.Tensor, transforms: torch.Tensor, skin_weights: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning, plainly: the reference the fast paths below are tested against.

    rest_vertices (B, V, 3); transforms (B, J, 3, 4) from `forward_kinematics`;
    skin_weights (V, J) (rows sum to 1, at most a few non-zeros). Returns (B, V, 3).
    """
    B, J = transforms.shape[:2]
    V = rest_vertices.shape[1]
    blended = torch.matmul(skin_weights, transforms.reshape(B, J, 12)).reshape(B, V, 3, 4)
    return (blended[..., :3] @ rest_vertices.unsqueeze(-1)).squeeze(-1) + blended[..., 3]


class CoordMajorBody(NamedTuple):
    """The arrays of a body, coordinate-major (all x, then all y, then all z) for few-body skinning."""

    v_template: torch.Tensor  # (1, 3*V)
    shapedirs: torch.Tensor  # (3*V, K)
    skin_weights_t: torch.Tensor  # (J, V)
    posedirs: torch.Tensor | None  # (3*V, P) or None


def coord_major(v_template: torch.Tensor, shapedirs: torch.Tensor, skin_weights: torch.Tensor,
                posedirs: torch.Tensor | None = None) -> CoordMajorBody:
    """v_template (V, 3), shapedirs (V*3, K), skin_weights (V, J), posedirs (V*3, P) -> CoordMajorBody."""
    V = v_template.shape[0]
    cm = lambda d: d.reshape(V, 3, -1).transpose(0, 1).reshape(3 * V, -1).contiguous()  # noqa: E731
    return CoordMajorBody(v_template.t().reshape(1, -1).contiguous(), cm(shapedirs), skin_weights.t().contiguous(),
                          None if posedirs is None else cm(posedirs))


def shape_and_skin_small(betas: torch.Tensor, body: CoordMajorBody, transforms: torch.Tensor,
                         pose_feature: torch.Tensor | None = None) -> torch.Tensor:
    """Shape blend, pose correctives and skinning for a few bodies, coordinate-major.

    Same result as `skin_vertices` on the shaped rest mesh. With every vertex along the rows, the
    blend of the joints' transforms is one product (12, J) @ (J, V) per body and applying the
    blended [R | t] is three multiply-adds over rows of V values, instead of V separate 3x3
    products. Returns (B, V, 3).
    """
    B, J = transforms.shape[:2]
    V = body.skin_weights_t.shape[1]
    rest = torch.addmm(body.v_template, betas, body.shapedirs.t())
    if body.posedirs is not None:
        rest = rest.addmm(pose_feature, body.posedirs.t())
    rest = rest.view(B, 3, 1, V)
    blended = torch.matmul(transforms.reshape(B, J, 12).transpose(1, 2), body.skin_weights_t).view(B, 3, 4, V)
    posed = torch.addcmul(blended[:, :, 3], blended[:, :, 0], rest[:, 0])
    posed = posed.addcmul(blended[:, :, 1], rest[:, 1]).addcmul(blended[:, :, 2], rest[:, 2])
    return posed.transpose(1, 2).contiguous()


# Skinning runs over fixed chunks of consecutive vertices. The mesh's vertex order is spatially
# coherent, so a chunk of 512 vertices is moved by ~5.5 of the 24 joints on average: blending only
# those cuts the main matrix product ~4x, and one chunk's (n, B, 12) blended transforms stay in
# cache. Small batches skip the chunking: per-op overhead dominates there, and rows of B values
# are too short for the vertex-major element-wise work.
SKIN_CHUNK_VERTICES = 512
CHUNKED_SKINNING_MIN_BATCH = 8


class SkinChunk(NamedTuple):
    """Consecutive vertices [start, stop) and the only joints that move them."""

    start: int
    stop: int
    joints: torch.Tensor  # (k,) int64 joint indices
    weights: torch.Tensor  # (stop - start, k) skinning weights of those joints


def make_skin_chunks(skin_weights: torch.Tensor, size: int = SKIN_CHUNK_VERTICES) -> list[SkinChunk]:
    """Split (V, J) skinning weights into chunks of `size` vertices with their non-zero joint columns."""
    chunks = []
    for lo in range(0, skin_weights.shape[0], size):
        w = skin_weights[lo:lo + size]
        joints = torch.nonzero((w != 0).any(0)).flatten()
        chunks.append(SkinChunk(lo, lo + w.shape[0], joints, w[:, joints].contiguous()))
    return chunks


def shape_and_skin(
    betas: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    transforms: torch.Tensor,
    chunks: list[SkinChunk],
    small: CoordMajorBody,
    pose_feature: torch.Tensor | None = None,
    posedirs: torch.Tensor | None = None,
) -> torch.Tensor:
    """Shape blend + optional pose correctives + linear blend skinning, chunk by chunk (below
    `CHUNKED_SKINNING_MIN_BATCH` bodies: in one go, `shape_and_skin_small` on the `small` arrays).

    betas (B, K); v_template (V, 3); shapedirs (V*3, K); transforms (B, J, 3, 4); the skinning
    weights split by `make_skin_chunks` into chunks covering all V vertices, and all of the body's
    arrays coordinate-major (`coord_major`); pose_feature (B, P) with posedirs (V*3, P), or None.
    Returns posed vertices (B, V, 3), equal to `skin_vertices(rest, ...)`. Inside a chunk the
    work is vertex-major, so blending the transforms of all B bodies is one plain matrix
    product (n, k) @ (k, 12*B).
    """
    B, J = transforms.shape[:2]
    V = v_template.shape[0]
    if B < CHUNKED_SKINNING_MIN_BATCH:  # vertex-major rows of B values would be too short
        return shape_and_skin_small(betas, small, transforms, pose_feature)
    # (J, 12*B): per joint, each of the 12 transform entries for all bodies in a contiguous run,
    # so the element-wise work below runs along contiguous rows of B values.
    A = transforms.reshape(B, J, 12).permute(1, 2, 0).reshape(J, 12 * B)
    betas_t = betas.t()
    pose_t = pose_feature.t() if posedirs is not None else None
    out = torch.empty(B, V, 3, dtype=transforms.dtype, device=transforms.device)
    for lo, hi, joints, weights in chunks:
        n = hi - lo
        rest = torch.addmm(v_template[lo:hi].reshape(-1, 1), shapedirs[3 * lo:3 * hi], betas_t)
        if pose_t is not None:
            rest = rest.addmm(posedirs[3 * lo:3 * hi], pose_t)
        rest = rest.view(n, 3, 1, B)
        A_used = A if joints.numel() == J else A.index_select(0, joints)
        blended = (weights @ A_used).view(n, 3, 4, B)  # [R | t] rows per vertex, bodies innermost
        posed = torch.addcmul(blended[:, :, 3], blended[:, :, 0], rest[:, 0])
        posed = posed.addcmul(blended[:, :, 1], rest[:, 1]).addcmul(blended[:, :, 2], rest[:, 2])
        out[:, lo:hi] = posed.permute(2, 0, 1)
    return out
