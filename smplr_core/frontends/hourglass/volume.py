"""The paper's root-centred crop and 2.5 m voxel volume, as pure batch-first functions.

Paper (Madadi et al. 2020, Sec. 3.1): the image is cropped around the projected root with a window
of f * 2.5 / z_root pixels, resized to S x S, and every point is predicted in a voxel grid of
H x W x D bins spanning 2.5 m around the root (image plane) and 2.5 m of depth around the root.

Inside the crop the projection no longer depends on the focal length: with the virtual crop camera
f' = S * z_root / VOLUME_SIZE_M and principal point shifted so the root lands at the centre,

    u' = S/2 + f' * (x / z - x_root / z_root)

Points are represented in "volume coordinates" (a, b, d) in metres:
    a = (u' - S/2) * VOLUME_SIZE_M / S,  b = (v' - S/2) * VOLUME_SIZE_M / S,  d = z - z_root,
each in [-VOLUME_SIZE_M/2, VOLUME_SIZE_M/2] for a point inside the volume. The network predicts
(a, b, d); `volume_to_root_relative` turns them back into metric root-relative camera-frame 3D
given the root depth and the root's viewing ray (known from the crop centre and the intrinsics).
"""
from __future__ import annotations

import torch

from smplr_core.body.joint_names import SMPL_PARENTS

VOLUME_SIZE_M = 2.5  # paper: the voxel volume spans 2.5 m around the root in x, y and depth

# The bones of SMPL's kinematic tree over the 24 joints (the first 24 points): (parent, joint) for
# every joint but the root, in joint order. One limb channel each.
SMPL_BONES: tuple[tuple[int, int], ...] = tuple((p, j) for j, p in enumerate(SMPL_PARENTS) if p >= 0)


def crop_intrinsics(root_cam: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Intrinsics of the virtual camera that sees the root-centred crop.

    root_cam (B, 3) camera-frame root, metres (z > 0); crop_size S pixels ->
    (B, 4) fx, fy, cx, cy of the S x S crop image.
    """
    z_root = root_cam[:, 2]
    focal = crop_size * z_root / VOLUME_SIZE_M
    cx = crop_size / 2 - focal * root_cam[:, 0] / z_root
    cy = crop_size / 2 - focal * root_cam[:, 1] / z_root
    return torch.stack([focal, focal, cx, cy], dim=-1)


def crop_window(root_cam: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """The paper's square crop window in the original image.

    root_cam (B, 3), intrinsics (B, 4) fx, fy, cx, cy -> (B, 4) x0, y0, x1, y1 pixels:
    centred on the projected root, side f * 2.5 / z_root (fx horizontally, fy vertically).
    """
    fx, fy, cx, cy = intrinsics.unbind(-1)
    x, y, z = root_cam.unbind(-1)
    u, v = fx * x / z + cx, fy * y / z + cy
    half_w, half_h = fx * VOLUME_SIZE_M / z / 2, fy * VOLUME_SIZE_M / z / 2
    return torch.stack([u - half_w, v - half_h, u + half_w, v + half_h], dim=-1)


def camera_to_volume(points_cam: torch.Tensor, root_cam: torch.Tensor) -> torch.Tensor:
    """Camera-frame points to volume coordinates (a, b, d).

    points_cam (B, K, 3) camera frame metres, root_cam (B, 3) -> (B, K, 3) metres.
    """
    z_root = root_cam[:, None, 2]
    z = points_cam[..., 2].clamp_min(1e-3)
    a = z_root * (points_cam[..., 0] / z - root_cam[:, None, 0] / z_root)
    b = z_root * (points_cam[..., 1] / z - root_cam[:, None, 1] / z_root)
    return torch.stack([a, b, points_cam[..., 2] - z_root], dim=-1)


def volume_to_root_relative(volume_xyz: torch.Tensor, root_depth_m: torch.Tensor,
                            root_ray: torch.Tensor) -> torch.Tensor:
    """Invert `camera_to_volume`: volume coordinates to root-relative camera-frame metres.

    volume_xyz (B, K, 3) (a, b, d); root_depth_m (B,) z_root; root_ray (B, 2) x_root/z_root,
    y_root/z_root -> (B, K, 3) point minus root, camera frame.
    Exact for a pinhole camera: x = (a / z_root + x_root / z_root) * z with z = z_root + d.
    """
    z_root = root_depth_m[:, None]
    d = volume_xyz[..., 2]
    scale = 1.0 + d / z_root
    x = volume_xyz[..., 0] * scale + root_ray[:, None, 0] * d
    y = volume_xyz[..., 1] * scale + root_ray[:, None, 1] * d
    return torch.stack([x, y, d], dim=-1)


def volume_to_grid(volume_xyz: torch.Tensor, grid_hwd: tuple[int, int, int]) -> torch.Tensor:
    """Volume coordinates to continuous voxel indices (column, row, depth bin).

    volume_xyz (B, K, 3) metres -> (B, K, 3) with bin i covering [i, i + 1); grid_hwd (H, W, D).
    """
    height, width, depth = grid_hwd
    sizes = volume_xyz.new_tensor([width, height, depth])
    return (volume_xyz / VOLUME_SIZE_M + 0.5) * sizes


def grid_to_volume(grid_xyz: torch.Tensor, grid_hwd: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of `volume_to_grid`. (B, K, 3) voxel indices -> (B, K, 3) metres."""
    height, width, depth = grid_hwd
    sizes = grid_xyz.new_tensor([width, height, depth])
    return (grid_xyz / sizes - 0.5) * VOLUME_SIZE_M


def voxel_targets(volume_xyz: torch.Tensor, grid_hwd: tuple[int, int, int],
                  sigma_bins: float = 1.0) -> torch.Tensor:
    """Gaussian voxel heat-maps with unit peak at each point (the paper's voxel targets).

    volume_xyz (B, K, 3) metres -> (B, K, D, H, W). Separable: the product of three 1-D Gaussians
    over bin centres, sigma in bins. A point outside the volume gets a (partly) empty map.
    """
    height, width, depth = grid_hwd
    grid = volume_to_grid(volume_xyz, grid_hwd)

    def axis(n: int, centre: torch.Tensor) -> torch.Tensor:
        bins = torch.arange(n, device=centre.device, dtype=centre.dtype) + 0.5
        return torch.exp(-0.5 * ((bins - centre[..., None]) / sigma_bins) ** 2)

    gx = axis(width, grid[..., 0])   # (B, K, W)
    gy = axis(height, grid[..., 1])  # (B, K, H)
    gd = axis(depth, grid[..., 2])   # (B, K, D)
    return gd[..., :, None, None] * gy[..., None, :, None] * gx[..., None, None, :]


def limb_targets(volume_xyz: torch.Tensor, bones: torch.Tensor, grid_hwd: tuple[int, int, int],
                 sigma_bins: float = 1.0) -> torch.Tensor:
    """Gaussian "tube" voxel heat-maps with unit peak along each bone (the limb channels' targets).

    volume_xyz (B, K, 3) metres; bones (L, 2) point indices (start, end) -> (B, L, D, H, W): the
    Gaussian of each voxel centre's distance to the segment, in bins (same grid and sigma as
    `voxel_targets`, so a zero-length bone gives that point's target). Built from per-axis offsets
    broadcast over the grid, never a (B, L, D, H, W, 3) tensor.
    """
    height, width, depth = grid_hwd
    grid = volume_to_grid(volume_xyz, grid_hwd)
    start, end = grid[:, bones[:, 0]], grid[:, bones[:, 1]]   # (B, L, 3)
    along = end - start
    length2 = along.pow(2).sum(-1).clamp_min(1e-12)[..., None, None, None]

    def offsets(n: int, k: int, shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Bin centres minus the bone's start along axis k, and the bone's extent along it."""
        bins = torch.arange(n, device=grid.device, dtype=grid.dtype) + 0.5
        rel = bins - start[..., k, None]                         # (B, L, n)
        return rel.view(*rel.shape[:2], *shape), along[..., k, None, None, None]

    axes = [offsets(width, 0, (1, 1, width)), offsets(height, 1, (1, height, 1)),
            offsets(depth, 2, (depth, 1, 1))]
    # t: position along the bone of the point nearest each voxel centre, clamped to the segment.
    t = (sum(rel * ext for rel, ext in axes) / length2).clamp(0.0, 1.0)   # (B, L, D, H, W)
    dist2 = sum((rel - t * ext).pow(2) for rel, ext in axes)
    return torch.exp(-0.5 * dist2 / sigma_bins ** 2)


def volume_softmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, C, D, H, W) logits -> probabilities, a softmax over each volume."""
    batch, channels = heatmaps.shape[:2]
    return torch.softmax(heatmaps.reshape(batch, channels, -1), dim=-1).reshape(heatmaps.shape)


def soft_argmax_3d(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-argmax over voxel heat-map logits.

    heatmaps (B, K, D, H, W) logits -> (coordinates (B, K, 3) continuous voxel indices
    (column, row, depth bin) with bin centres at i + 0.5, probabilities (B, K, D, H, W)).
    """
    batch, points, depth, height, width = heatmaps.shape
    probs = volume_softmax(heatmaps)
    dev, dt = heatmaps.device, heatmaps.dtype
    xs = torch.arange(width, device=dev, dtype=dt) + 0.5
    ys = torch.arange(height, device=dev, dtype=dt) + 0.5
    ds = torch.arange(depth, device=dev, dtype=dt) + 0.5
    x = (probs.sum(dim=(2, 3)) * xs).sum(-1)
    y = (probs.sum(dim=(2, 4)) * ys).sum(-1)
    d = (probs.sum(dim=(3, 4)) * ds).sum(-1)
    return torch.stack([x, y, d], dim=-1), probs
