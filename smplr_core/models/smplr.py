"""SMPLR (paper §3.2): root-relative 3D joints + landmarks -> SMPL shape and pose.

- shape net: bone lengths along a kinematic tree over joints and landmarks, minus the template's
  -> 10 betas;
- pose net: unit bone directions along the same tree (plus the betas) -> 24 rotations, here in the
  continuous 6D representation (Zhou et al. 2019) instead of the paper's tanh'd raw matrices,
  orthonormalised by Gram-Schmidt, predicted per joint in camera axes and converted to SMPL's
  parent-relative rotations;
- the body model is the decoder (outside this module: see ``smplr_core.pipeline``).
Point layout: index 0 the pelvis (origin), 1..23 the non-root SMPL joints, 24..41 the landmarks.
Each landmark hangs off the SMPL joint nearest to it on the template (``landmark_parents``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from smplr_core import geometry
from smplr_core.body.joint_names import NUM_JOINTS
from smplr_core.body.landmarks import NUM_LANDMARKS


@dataclass(frozen=True)
class SMPLRConfig:
    """Network widths and the point tree (filled from the body model by ``point_tree``)."""
    shape_widths: tuple[int, ...] = (256, 256)
    pose_widths: tuple[int, ...] = (1024, 1024)
    use_landmarks: bool = True
    num_betas: int = 10
    joint_parents: tuple[int, ...] = ()
    landmark_parents: tuple[int, ...] = ()
    template_points: tuple[tuple[float, float, float], ...] = field(default=())  # (42, 3) rest points

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SMPLRConfig":
        d = dict(d)
        for k in ("shape_widths", "pose_widths", "joint_parents", "landmark_parents"):
            d[k] = tuple(d[k])
        d["template_points"] = tuple(tuple(p) for p in d["template_points"])
        return cls(**d)


def point_tree(
    joint_parents, template_joints: torch.Tensor, template_landmarks: torch.Tensor
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Landmark parents (nearest template joint) and the (42, 3) template point list."""
    d = (template_landmarks[:, None] - template_joints[None]).norm(dim=-1)  # (18, 24)
    landmark_parents = tuple(int(i) for i in d.argmin(dim=1))
    points = torch.cat([template_joints - template_joints[:1], template_landmarks - template_joints[:1]])
    return landmark_parents, tuple(tuple(float(v) for v in p) for p in points)


def mlp(in_dim: int, widths, out_dim: int) -> nn.Sequential:
    """Linear-BatchNorm-ELU stack with a linear head."""
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Linear(in_dim, w), nn.BatchNorm1d(w), nn.ELU()]
        in_dim = w
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class SMPLR(nn.Module):
    """Shape and pose nets. forward(points (B, 41, 3)) -> (betas (B, 10), rotmats (B, 24, 3, 3))."""

    def __init__(self, cfg: SMPLRConfig):
        super().__init__()
        if len(cfg.joint_parents) != NUM_JOINTS or len(cfg.template_points) != NUM_JOINTS + NUM_LANDMARKS:
            raise ValueError("SMPLRConfig needs joint_parents (24) and template_points (42); see point_tree()")
        self.cfg = cfg
        child = list(range(1, NUM_JOINTS))
        parent = [cfg.joint_parents[j] for j in child]
        if cfg.use_landmarks:
            child += list(range(NUM_JOINTS, NUM_JOINTS + NUM_LANDMARKS))
            parent += list(cfg.landmark_parents)
        self.register_buffer("joint_parent_index", torch.tensor(cfg.joint_parents[1:]), persistent=False)
        self.register_buffer("child", torch.tensor(child), persistent=False)
        self.register_buffer("parent", torch.tensor(parent), persistent=False)
        template = torch.tensor(cfg.template_points, dtype=torch.float32)
        self.register_buffer("template_lengths", (template[self.child] - template[self.parent]).norm(dim=-1),
                             persistent=False)
        n_bones = len(child)
        self.shape_net = mlp(n_bones, cfg.shape_widths, cfg.num_betas)
        self.pose_net = mlp(n_bones * 3 + cfg.num_betas, cfg.pose_widths, NUM_JOINTS * 6)

    def bones(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, 41, 3) root-relative -> (lengths (B, E), unit directions (B, E, 3))."""
        full = torch.cat([torch.zeros_like(points[:, :1]), points], dim=1)
        vec = full[:, self.child] - full[:, self.parent]
        length = vec.norm(dim=-1)
        return length, vec / length.clamp(min=1e-6)[..., None]

    def forward_shape(self, points: torch.Tensor) -> torch.Tensor:
        """(B, 41, 3) -> betas (B, num_betas)."""
        length, _ = self.bones(points)
        return self.shape_net(length - self.template_lengths)

    def forward_pose(self, points: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        """(B, 41, 3), (B, num_betas) -> SMPL local rotmats (B, 24, 3, 3), joint 0 = global orientation.

        The net predicts each joint's rotation in camera axes (what a bone direction shows directly)
        and converts to SMPL's parent-relative rotations: R_local = R_parent^T R_joint. Predicting
        local rotations makes every error compound down the chain and trained about half as fast.
        """
        _, direction = self.bones(points)
        rot6d = self.pose_net(torch.cat([direction.flatten(1), betas], dim=1))
        world = geometry.rot6d_to_matrix(rot6d.view(-1, NUM_JOINTS, 6))
        parent_world = world[:, self.joint_parent_index]
        local = parent_world.transpose(-1, -2) @ world[:, 1:]
        return torch.cat([world[:, :1], local], dim=1)

    def forward(self, points: torch.Tensor, detach_shape: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        betas = self.forward_shape(points)
        rot = self.forward_pose(points, betas.detach() if detach_shape else betas)
        return betas, rot
