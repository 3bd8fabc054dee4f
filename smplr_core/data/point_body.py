"""A fast, differentiable stand-in for the body model on a few points (joints, landmarks, the 33
keypoints, a vertex subset) — exact for linear blend skinning without pose correctives.

Why: the full mesh (13,718 vertices) is far too much work per sample to generate 20,000 training
samples per second or to put a vertex loss in every training step. Every point the body model
reports is a fixed linear combination of skinned vertices and joints, so under linear blend skinning
it equals ``sum_j T_j m_j(betas)``: the joints' rigid transforms ``T_j`` (3x4, rest space -> posed)
applied to per-joint homogeneous "moments" ``m_j`` that are linear in the betas. Those moments are
*fitted by least squares from the body model's own outputs* (``fit``), so this works for any body
model behind ``load_body_model`` without reading its internals; ``tests/test_core_data.py`` checks
it against the real forward pass.
"""
from __future__ import annotations

import torch

from smplr_core import geometry

# Joints per point kept after the first (dense) fit: skinning touches few joints per region.
MAX_JOINTS_PER_POINT = 14
# Batch x point-joint pairs up to which the gather path beats the dense GEMM path.
_GATHER_LIMIT = 400_000
# A joint belongs to a point's support when its moment is above this fraction of the largest.
_SUPPORT_THRESHOLD = 1e-5
# Probe poses for the fit: random rotations of this size (radians) and betas of this spread.
_PROBE_ROTATION_STD = 0.8
_PROBE_BETA_STD = 2.0


def rigid_transforms(rotmats: torch.Tensor, rest_joints: torch.Tensor, parents: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward kinematics. rotmats (B, J, 3, 3) local, rest_joints (B, J, 3) ->
    (transforms (B, J, 3, 4) mapping rest-space points to posed space, posed joints (B, J, 3)).

    The root joint stays at its rest position (SMPL semantics without transl). A plain loop over
    joints: measured faster here than batching per tree depth (index_put on strided slices).
    """
    offsets = rest_joints[:, 1:] - rest_joints[:, parents[1:]]
    rots = [rotmats[:, 0]]
    pos = [rest_joints[:, 0]]
    for i in range(1, len(parents)):
        p = parents[i]
        rots.append(rots[p] @ rotmats[:, i])
        pos.append(pos[p] + (rots[p] @ offsets[:, i - 1, :, None])[..., 0])
    g = torch.stack(rots, dim=1)
    posed = torch.stack(pos, dim=1)
    t = posed - (g @ rest_joints[..., None])[..., 0]
    return torch.cat([g, t[..., None]], dim=-1), posed


def _least_squares(a: torch.Tensor, b: torch.Tensor, ridge: float = 1e-10) -> torch.Tensor:
    """min |a x - b|^2 by normal equations (float64; columns never used get ~0 through the ridge)."""
    ata = a.T @ a
    ata = ata + ridge * ata.diagonal().mean() * torch.eye(ata.shape[0], dtype=a.dtype)
    return torch.linalg.solve(ata, a.T @ b)


class PointBody(torch.nn.Module):
    """Posed points from (betas (B, nb), rotmats (B, 24, 3, 3)): forward -> (joints (B, 24, 3), points (B, P, 3)).

    Buffers: joint_template (24, 3), joint_dirs (24, 3, nb); per point the joint support
    ``support`` (P, S), moments ``moment`` (P, S, 4) and their shape directions ``moment_dirs`` (P, S, 4, nb).
    """

    def __init__(self, parents, joint_template, joint_dirs, support, moment, moment_dirs):
        super().__init__()
        self.parents = [int(p) for p in parents]
        self.register_buffer("joint_template", joint_template)
        self.register_buffer("joint_dirs", joint_dirs)
        self.register_buffer("support", support)
        self.register_buffer("moment", moment)
        self.register_buffer("moment_dirs", moment_dirs)
        # Dense layout for the forward pass: (24*4, (1+nb)*P), zero off each point's support.
        p, nb = support.shape[0], moment_dirs.shape[-1]
        dense = torch.zeros(p, 24, 4, 1 + nb, dtype=moment.dtype)
        rows = torch.arange(p)[:, None].expand_as(support)
        dense[rows, support] = torch.cat([moment[..., None], moment_dirs], dim=-1)
        self.register_buffer("moment_matrix", dense.permute(1, 2, 3, 0).reshape(24 * 4, -1).contiguous(),
                             persistent=False)

    @property
    def num_points(self) -> int:
        return self.support.shape[0]

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """(B, nb) -> (B, 24, 3)."""
        return self.joint_template + torch.einsum("jcn,bn->bjc", self.joint_dirs, betas)

    def forward(self, betas: torch.Tensor, rotmats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        transforms, joints = rigid_transforms(rotmats, self.rest_joints(betas), self.parents)
        b = betas.shape[0]
        if b * self.support.numel() <= _GATHER_LIMIT:
            # small batches: each point's own joints only
            m = self.moment + (self.moment_dirs @ betas.T).permute(3, 0, 1, 2)  # (B, P, S, 4)
            t = transforms[:, self.support]  # (B, P, S, 3, 4)
            return joints, (t * m[:, :, :, None, :]).sum(dim=(2, 4))
        # large batches: one GEMM over (joint, homogeneous coordinate), then the betas
        t = transforms.permute(0, 2, 1, 3).reshape(b * 3, -1)  # (B*3, 24*4)
        y = (t @ self.moment_matrix).view(b, 3, -1, self.num_points)  # (B, 3, 1+nb, P)
        beta1 = torch.cat([torch.ones_like(betas[:, :1]), betas], dim=1)
        points = (y * beta1[:, None, :, None]).sum(dim=2)  # (B, 3, P); faster than einsum here
        return joints, points.transpose(1, 2)

    @classmethod
    @torch.no_grad()
    def fit(cls, body, point_fn, num_probes: int = 500, seed: int = 0, chunk: int = 100,
            support_mask: torch.Tensor | None = None) -> "PointBody":
        """Fit the moments of the points ``point_fn(body_output) -> (B, P, 3)`` from probe poses.

        body: a BodyModel (forward_rotmat, rest_joints, parents, num_betas). support_mask (P, 24) bool:
        the joints that skin each point (``skinning_support``); without it a dense fit picks each
        point's strongest joints (the dense problem is rank-deficient, so that is only a heuristic).
        The final fit per point is restricted to its support and checked against the probes.
        """
        gen = torch.Generator().manual_seed(seed)
        nb = int(body.num_betas)
        parents = [int(p) for p in body.parents]
        dev = next(iter(body.buffers())).device if any(True for _ in body.buffers()) else torch.device("cpu")
        # rest joints are linear in the betas: template + dirs
        eye = torch.cat([torch.zeros(1, nb), torch.eye(nb)]).to(dev)
        rj = body.rest_joints(eye).double().cpu()
        joint_template = rj[0]
        joint_dirs = (rj[1:] - rj[:1]).permute(1, 2, 0)  # (24, 3, nb)

        betas = torch.randn(num_probes, nb, generator=gen, dtype=torch.float64) * _PROBE_BETA_STD
        aa = torch.randn(num_probes, 24, 3, generator=gen, dtype=torch.float64) * _PROBE_ROTATION_STD
        rot = geometry.axis_angle_to_matrix(aa)
        targets = []
        for s in range(0, num_probes, chunk):
            out = body.forward_rotmat(betas[s:s + chunk].float().to(dev), rot[s:s + chunk].float().to(dev), None)
            targets.append(point_fn(out).double().cpu())
        target = torch.cat(targets)  # (N, P, 3)
        rest = joint_template + torch.einsum("jcn,bn->bjc", joint_dirs, betas)
        transforms, _ = rigid_transforms(rot, rest, parents)  # (N, 24, 3, 4)
        beta1 = torch.cat([torch.ones(num_probes, 1, dtype=torch.float64), betas], dim=1)  # (N, 1+nb)

        def design(joint_ids: torch.Tensor) -> torch.Tensor:
            # rows (N*3), columns (len(joint_ids)*4*(1+nb)) for: point_r = sum T[j,r,c] * beta1[n] * w[j,c,n]
            t = transforms[:, joint_ids]  # (N, S, 3, 4)
            a = torch.einsum("nsrc,nk->nrsck", t, beta1)
            return a.reshape(num_probes * 3, -1)

        p_count = target.shape[1]
        all_joints = torch.arange(24)
        dense = _least_squares(design(all_joints), target.permute(0, 2, 1).reshape(num_probes * 3, p_count))
        dense = dense.T.reshape(p_count, 24, 4, 1 + nb)
        strength = dense[:, :, :, 0].abs().sum(-1)  # (P, 24)
        if support_mask is not None:
            strength = support_mask.double().cpu() + 1e-3 * strength / strength.amax(dim=1, keepdim=True)
            needed = support_mask.sum(dim=1)
        else:
            needed = (strength > _SUPPORT_THRESHOLD * strength.amax(dim=1, keepdim=True)).sum(dim=1)
        width = int(min(MAX_JOINTS_PER_POINT, int(needed.max())))
        support = strength.topk(width, dim=1).indices.sort(dim=1).values
        moment = torch.zeros(p_count, width, 4, 1 + nb, dtype=torch.float64)
        for p in range(p_count):
            sol = _least_squares(design(support[p]), target[:, p].reshape(-1, 1))
            moment[p] = sol.reshape(width, 4, 1 + nb)
        return cls(parents, joint_template.float(), joint_dirs.float(), support,
                   moment[..., 0].float().contiguous(), moment[..., 1:].float().contiguous())


def skinning_support(body, vertex_ids: torch.Tensor | None = None, landmarks: bool = False,
                     keypoints: bool = False) -> torch.Tensor:
    """(P, 24) bool: joints whose transforms move each point, in the order landmarks, keypoints,
    vertices (whichever are asked for), from the body's skinning weights and keypoint table."""
    skin = body.skin_weights.detach().cpu() > 0  # (V, 24)
    joint_rows = torch.eye(24, dtype=torch.bool)
    both = torch.cat([skin, joint_rows])  # rows of concat(vertices, joints)
    rows = []
    if landmarks:
        rows.append(skin[body.landmark_vertices.cpu()])
    if keypoints:
        idx = body.keypoint_index.cpu()
        used = body.keypoint_weight.cpu() != 0
        rows.append((both[idx] & used[..., None]).any(dim=1))
    if vertex_ids is not None:
        rows.append(skin[vertex_ids.cpu()])
    return torch.cat(rows)
