"""Detector-like noise on 2D keypoints (DESIGN §4): what a real 2D detector does to clean
projections. All magnitudes scale with the person's size in the image and with one ``level``
(0 = clean, 1 = the training/evaluation default), so error-vs-noise curves sweep one number.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from smplr_core.body.keypoints import BLAZEPOSE_LR_PAIRS as _ALL_LR_PAIRS
from smplr_core.body.keypoints import BLAZEPOSE_NAMES, mirror_permutation

# The left/right pairs the noise swaps (body/keypoints.py's table without the mouth corners, which
# the noise has never swapped: the training data stays as it was), and their mirror permutation.
BLAZEPOSE_LR_PAIRS: tuple[tuple[int, int], ...] = tuple(
    p for p in _ALL_LR_PAIRS if BLAZEPOSE_NAMES[p[0]].startswith("left_"))
BLAZEPOSE_MIRROR = list(mirror_permutation(BLAZEPOSE_LR_PAIRS))

_pairs_by_part = {}
for _l, _r in BLAZEPOSE_LR_PAIRS:
    _part = BLAZEPOSE_NAMES[_l][len("left_"):]
    _pairs_by_part[_part] = (_l, _r)
# Limb chains a detector confuses as a whole (left <-> right), and groups it loses together.
SWAP_GROUPS: tuple[tuple[str, ...], ...] = (
    ("shoulder",), ("elbow", "wrist", "pinky", "index", "thumb"), ("wrist", "pinky", "index", "thumb"),
    ("knee", "ankle", "heel", "foot_index"), ("ankle", "heel", "foot_index"), ("hip",),
)
DROP_GROUPS: tuple[tuple[int, ...], ...] = tuple(
    tuple(BLAZEPOSE_NAMES.index(f"{side}_{p}") for p in parts)
    for side in ("left", "right")
    for parts in (("elbow", "wrist", "pinky", "index", "thumb"), ("wrist", "pinky", "index", "thumb"),
                  ("knee", "ankle", "heel", "foot_index"), ("ankle", "heel", "foot_index"))
)


@dataclass(frozen=True)
class NoiseConfig:
    """Noise magnitudes at level 1 (fractions of the person's size = bounding-box diagonal)."""
    jitter: float = 0.012  # Gaussian std per coordinate
    outlier_prob: float = 0.03  # a point gets a large error
    outlier_scale: float = 0.08
    bias: float = 0.01  # systematic per-keypoint offset (a detector's definition differs)
    bias_spread: float = 0.5  # per-sample variation of that offset, as a fraction of it
    swap_prob: float = 0.02  # per left/right group
    full_swap_prob: float = 0.01  # whole body left <-> right (front/back confusion)
    drop_prob: float = 0.04  # per point
    group_drop_prob: float = 0.03  # per limb group
    visible_confidence: tuple[float, float] = (0.55, 1.0)
    hidden_confidence: tuple[float, float] = (0.0, 0.45)


def systematic_offsets(num_points: int, seed: int = 1234) -> torch.Tensor:
    """A fixed per-keypoint offset direction and magnitude pattern (num_points, 2), unit-scale.

    Fixed by its own seed: it models *one* detector's definition bias, the same in every sample.
    """
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((num_points, 2), generator=gen)


def _swap_index(gen: torch.Generator, n: int, num_points: int, prob: float, full_prob: float) -> torch.Tensor:
    """Per-sample gather index (n, K) that applies random left/right swaps."""
    index = torch.arange(num_points).repeat(n, 1)
    mirror = torch.tensor(BLAZEPOSE_MIRROR)
    for group in SWAP_GROUPS:
        hit = torch.rand(n, generator=gen) < prob
        if not hit.any():
            continue
        cols = [i for part in group for i in _pairs_by_part[part]]
        index[hit.nonzero()[:, 0][:, None], torch.tensor(cols)[None]] = mirror[torch.tensor(cols)][None]
    full = torch.rand(n, generator=gen) < full_prob
    index[full] = mirror[index[full]]
    return index


def person_size(points: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Bounding-box diagonal of the visible points (B,) from points (B, K, 2), visible (B, K) bool.

    Falls back to all points where none is visible.
    """
    any_vis = visible.any(dim=1, keepdim=True)
    mask = torch.where(any_vis, visible, torch.ones_like(visible))
    big = torch.finfo(points.dtype).max
    lo = torch.where(mask[..., None], points, torch.full_like(points, big)).amin(dim=1)
    hi = torch.where(mask[..., None], points, torch.full_like(points, -big)).amax(dim=1)
    return (hi - lo).norm(dim=-1).clamp(min=1.0)


def apply_noise(
    gen: torch.Generator,
    keypoints_px: torch.Tensor,
    in_front: torch.Tensor,
    image_size: torch.Tensor,
    cfg: NoiseConfig,
    level: float | torch.Tensor = 1.0,
    bias_pattern: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean projections -> detector-like keypoints and visibility.

    keypoints_px (B, K, 2) clean pixels; in_front (B, K) bool (depth > 0); image_size (B, 2) w, h;
    level: scalar or (B,) noise level. Returns (noisy (B, K, 2) px, visibility (B, K) in [0, 1]).
    Points outside the image (truncation) or dropped get visibility < 0.5; their coordinates are
    still returned (a caller decides whether to trust them: the DAE zeroes them).
    """
    b, k, _ = keypoints_px.shape
    level = torch.as_tensor(level, dtype=keypoints_px.dtype).expand(b)
    inside = (
        in_front
        & (keypoints_px[..., 0] >= 0) & (keypoints_px[..., 0] < image_size[:, None, 0])
        & (keypoints_px[..., 1] >= 0) & (keypoints_px[..., 1] < image_size[:, None, 1])
    )
    size = person_size(keypoints_px, inside)[:, None, None] * level[:, None, None]
    if bias_pattern is None:
        bias_pattern = systematic_offsets(k)
    spread = 1.0 + cfg.bias_spread * torch.randn((b, k, 1), generator=gen)
    noisy = keypoints_px + cfg.bias * size * bias_pattern[None] * spread
    noisy = noisy + cfg.jitter * size * torch.randn((b, k, 2), generator=gen)
    outlier = torch.rand((b, k, 1), generator=gen) < cfg.outlier_prob * level[:, None, None]
    noisy = noisy + outlier * cfg.outlier_scale * size * torch.randn((b, k, 2), generator=gen)
    swap = _swap_index(gen, b, k, cfg.swap_prob, cfg.full_swap_prob)
    swap = torch.where((level > 0)[:, None], swap, torch.arange(k).expand(b, k))
    noisy = torch.gather(noisy, 1, swap[..., None].expand(b, k, 2))
    dropped = torch.rand((b, k), generator=gen) < cfg.drop_prob * level[:, None]
    for group in DROP_GROUPS:
        hit = torch.rand((b, 1), generator=gen) < cfg.group_drop_prob * level[:, None]
        cols = torch.zeros(k, dtype=torch.bool)
        cols[list(group)] = True
        dropped = dropped | (hit & cols[None])
    visible = inside & ~dropped
    lo_v, hi_v = cfg.visible_confidence
    lo_h, hi_h = cfg.hidden_confidence
    u = torch.rand((b, k), generator=gen)
    visibility = torch.where(visible, lo_v + (hi_v - lo_v) * u, lo_h + (hi_h - lo_h) * u)
    return noisy, visibility
