"""Denoising autoencoder (SMPLR paper §3.3): noisy 2D keypoints -> root-relative 3D joints + landmarks.

Paper: 123 -> 1024 -> 1024 -> 512 -> 1024 -> 1024 -> 123, BatchNorm + ELU, two skip connections,
residual output, input dropout and noise in training. Here the input is the 33 BlazePose-definition
2D keypoints that the image front-end produces (not the CNN's 3D), so:
- input features: per keypoint the camera ray (x-cx)/fx, (y-cy)/fy, centred on the visible
  points' box centre and divided by its size, zeroed where invisible, plus the visibility; and the
  box centre's ray (2 numbers) so the perspective of an off-centre person is learnable;
- the residual output becomes a linear lift of the input added to the deep path's output;
- output: the 23 non-root SMPL joints then the 18 landmarks, root-relative, metres, axes of the
  camera (OpenCV: x right, y down, z forward).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from smplr_core.body.joint_names import NUM_JOINTS
from smplr_core.body.keypoints import NUM_KEYPOINTS as NUM_KEYPOINTS_2D
from smplr_core.body.landmarks import NUM_LANDMARKS

NUM_OUTPUT_POINTS = NUM_JOINTS - 1 + NUM_LANDMARKS  # the non-root joints, then the landmarks
VISIBILITY_THRESHOLD = 0.5
OUTPUT_SCALES = ("metric", "box")
TYPICAL_BOX_SIZE_LOG_M = 0.5  # log of ~1.65 m, the box (larger side) of a standing adult


@dataclass(frozen=True)
class DAEConfig:
    """Widths of the five hidden layers (paper: 1024, 1024, 512, 1024, 1024)."""
    widths: tuple[int, int, int, int, int] = (1024, 1024, 512, 1024, 1024)
    input_dropout: float = 0.1  # probability a visible keypoint is hidden in training
    input_noise: float = 0.01  # std of extra Gaussian noise on normalised coordinates in training
    dropout: float = 0.0
    # "metric": the network outputs metres directly (the first shipped weights). "box": it outputs the
    # points in units of the person's 2D box size (then x, y are nearly a linear function of the
    # normalised input, which is divided by that size) plus one log-scale, the box size in metres; the
    # output is their product. A plain MLP learns that product poorly when it has to output metres.
    output_scale: str = "box"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DAEConfig":
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        d.setdefault("output_scale", "metric")  # checkpoints made before the option existed
        return cls(**d)


def metric_state_to_box(state: dict) -> dict:
    """State dict of an ``output_scale="metric"`` DAE -> one of the same widths with ``"box"`` output
    that computes exactly the same function (the log-scale row starts at zero: size 1 m), so a trained
    metric DAE can be fine-tuned as a box-scale one."""
    out = dict(state)
    for layer in ("head", "lift"):
        w, b = state[f"{layer}.weight"], state[f"{layer}.bias"]
        out[f"{layer}.weight"] = torch.cat([w, torch.zeros_like(w[:1])])
        out[f"{layer}.bias"] = torch.cat([b, torch.zeros_like(b[:1])])
    return out


def normalise_keypoints(
    keypoints_px: torch.Tensor, visibility: torch.Tensor, intrinsics: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-person normalisation of 2D keypoints.

    keypoints_px (B, 33, 2), visibility (B, 33) in [0, 1], intrinsics (B, 4) fx, fy, cx, cy.
    Returns (coords (B, 33, 2) centred/scaled rays, zero where hidden; mask (B, 33) float;
    centre (B, 2) ray of the visible box centre). Non-finite points count as hidden.
    """
    finite = torch.isfinite(keypoints_px).all(-1) & torch.isfinite(visibility)
    mask = finite & (visibility >= VISIBILITY_THRESHOLD)
    kp = torch.where(finite[..., None], keypoints_px, torch.zeros_like(keypoints_px))
    rays = (kp - intrinsics[:, None, 2:4]) / intrinsics[:, None, 0:2]
    m = mask[..., None]
    big = 1e6
    lo = torch.where(m, rays, torch.full_like(rays, big)).amin(dim=1)
    hi = torch.where(m, rays, torch.full_like(rays, -big)).amax(dim=1)
    any_vis = mask.any(dim=1, keepdim=True)
    lo = torch.where(any_vis, lo, torch.zeros_like(lo))
    hi = torch.where(any_vis, hi, torch.zeros_like(hi))
    centre = (lo + hi) / 2.0
    scale = (hi - lo).amax(dim=-1, keepdim=True).clamp(min=1e-4)
    coords = torch.where(m, (rays - centre[:, None]) / scale[:, None], torch.zeros_like(rays))
    return coords, mask.to(keypoints_px.dtype), centre


class DAE(nn.Module):
    """The paper's DAE with skips a->e and b->d (a..e the five hidden layers)."""

    def __init__(self, cfg: DAEConfig = DAEConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        in_dim = NUM_KEYPOINTS_2D * 3 + 2
        if cfg.output_scale not in OUTPUT_SCALES:
            raise ValueError(f"DAEConfig.output_scale must be one of {OUTPUT_SCALES}, not {cfg.output_scale!r}")
        self.box_scale = cfg.output_scale == "box"
        out_dim = NUM_OUTPUT_POINTS * 3 + (1 if self.box_scale else 0)

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(i, o), nn.BatchNorm1d(o), nn.ELU(), nn.Dropout(cfg.dropout))

        self.a = block(in_dim, w[0])
        self.b = block(w[0], w[1])
        self.c = block(w[1], w[2])
        self.d = block(w[2], w[3])
        self.e = block(w[3], w[4])
        self.skip_ae = nn.Identity() if w[0] == w[4] else nn.Linear(w[0], w[4])
        self.skip_bd = nn.Identity() if w[1] == w[3] else nn.Linear(w[1], w[3])
        self.head = nn.Linear(w[4], out_dim)
        self.lift = nn.Linear(in_dim, out_dim)  # residual path from the input
        if self.box_scale:  # start the log-scale at a typical box size
            with torch.no_grad():
                self.head.bias[-1] += TYPICAL_BOX_SIZE_LOG_M

    def features(
        self, keypoints_px: torch.Tensor, visibility: torch.Tensor, intrinsics: torch.Tensor
    ) -> torch.Tensor:
        """(B, 101) network input; training adds the paper's input dropout and noise here."""
        coords, mask, centre = normalise_keypoints(keypoints_px, visibility, intrinsics)
        if self.training and (self.cfg.input_dropout > 0 or self.cfg.input_noise > 0):
            keep = (torch.rand_like(mask) >= self.cfg.input_dropout).to(mask.dtype)
            mask = mask * keep
            coords = (coords + self.cfg.input_noise * torch.randn_like(coords)) * mask[..., None]
        return torch.cat([coords.flatten(1), mask, centre], dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 101) features -> (B, 41, 3) root-relative points, metres."""
        a = self.a(x)
        b = self.b(a)
        c = self.c(b)
        d = self.d(c) + self.skip_bd(b)
        e = self.e(d) + self.skip_ae(a)
        out = self.head(e) + self.lift(x)
        if self.box_scale:
            size_m = torch.exp(out[:, -1:].clamp(-3.0, 3.0))  # box size in metres, bounded
            out = out[:, :-1] * size_m
        return out.reshape(-1, NUM_OUTPUT_POINTS, 3)

    def forward(self, keypoints_px: torch.Tensor, visibility: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
        """keypoints_px (B, 33, 2), visibility (B, 33), intrinsics (B, 4) -> (B, 41, 3)."""
        return self.forward_features(self.features(keypoints_px, visibility, intrinsics))
