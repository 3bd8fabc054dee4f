"""Training losses of the volumetric hourglass.

- `voxel_loss`: the paper's per-voxel L2 between the predicted heat-map and a Gaussian target.
  The prediction compared is the soft-argmax distribution (softmax over the volume), rescaled so
  that a perfect prediction equals the unit-peak target; this keeps the voxel loss and the
  soft-argmax coordinates consistent (one heat-map, one meaning).
- `coordinate_loss`: L1 between soft-argmax coordinates and the ground truth, in metres of the
  volume (integral regression, Sun et al. 2018), which gives sub-voxel precision.
- Limb channels (when the network has them): `voxel_loss` of each bone's volume against a Gaussian
  tube around the bone (`limb_targets`), weighted by `LIMB_LOSS_WEIGHT`, in every stack.
"""
from __future__ import annotations

import torch

from smplr_core.frontends.hourglass.volume import (SMPL_BONES, grid_to_volume, limb_targets, soft_argmax_3d,
                                                   volume_softmax, voxel_targets)

# Relative weight of the voxel term; the coordinate L1 (metres) dominates precision.
VOXEL_LOSS_WEIGHT = 1.0
COORDINATE_LOSS_WEIGHT = 10.0
# A bone's tube carries about twice a point's Gaussian mass (small config, real bodies), so its voxel
# loss is about twice as large: half weight puts the limb and point voxel terms on a par.
LIMB_LOSS_WEIGHT = 0.5
TARGET_SIGMA_BINS = 1.0


def voxel_loss(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """probs (B, K, D, H, W) softmax over each volume; targets same shape, unit peak -> scalar.

    Sum of squared differences over voxels, mean over batch and points.
    """
    mass = targets.sum(dim=(2, 3, 4), keepdim=True).clamp_min(1e-6)
    diff = probs * mass - targets
    return diff.pow(2).sum(dim=(2, 3, 4)).mean()


def coordinate_loss(pred_xyz: torch.Tensor, target_xyz: torch.Tensor,
                    weights: torch.Tensor | None = None) -> torch.Tensor:
    """L1 in metres. pred/target (B, K, 3); weights (K,) or None -> scalar."""
    err = (pred_xyz - target_xyz).abs().sum(-1)
    if weights is not None:
        err = err * weights
    return err.mean()


def hourglass_loss(stack_logits: list[torch.Tensor], target_volume_xyz: torch.Tensor,
                   grid_hwd: tuple[int, int, int], limb_logits: list[torch.Tensor] | None = None
                   ) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """Intermediate supervision over all stacks.

    stack_logits: list of (B, K, D, H, W); target_volume_xyz (B, K, 3) metres; limb_logits: None
    or a list (one per stack, may be empty) of (B, L, D, H, W) over `SMPL_BONES` ->
    (total loss, dict of float parts for logging, last stack's prediction (B, K, 3) metres).
    """
    targets = voxel_targets(target_volume_xyz, grid_hwd, TARGET_SIGMA_BINS)
    total = target_volume_xyz.new_zeros(())
    parts = {"voxel": 0.0, "coord": 0.0}
    pred = None
    for logits in stack_logits:
        grid, probs = soft_argmax_3d(logits)
        pred = grid_to_volume(grid, grid_hwd)
        lv = voxel_loss(probs, targets)
        lc = coordinate_loss(pred, target_volume_xyz)
        total = total + VOXEL_LOSS_WEIGHT * lv + COORDINATE_LOSS_WEIGHT * lc
        parts["voxel"] += float(lv.detach())
        parts["coord"] += float(lc.detach())
    if limb_logits:
        bones = torch.as_tensor(SMPL_BONES, device=target_volume_xyz.device)
        tubes = limb_targets(target_volume_xyz, bones, grid_hwd, TARGET_SIGMA_BINS)
        parts["limb"] = 0.0
        for logits in limb_logits:
            ll = voxel_loss(volume_softmax(logits), tubes)
            total = total + LIMB_LOSS_WEIGHT * ll
            parts["limb"] += float(ll.detach())
    return total, parts, pred
