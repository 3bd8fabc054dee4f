"""Synthetic training images for the volumetric hourglass (SURREAL-style, DESIGN §4).

A batch: poses and shapes -> body model -> camera-frame mesh -> the paper's root-centred crop
rendered directly (the crop is a virtual camera, see `volume.crop_intrinsics`) with the z-buffer
rasteriser over a real or procedural background -> ground truth for the 42 points (root + 23
joints + 18 landmarks) in camera metres and in volume coordinates.

Cameras follow the core's ranges (DESIGN §4): any yaw, pitch +-30 deg, roll +-10 deg, distance
1.5-8 m, person anywhere in the field of view. The crop makes the image independent of the focal
length, so only the root's viewing ray and depth matter.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from smplr_core.frontends.hourglass.volume import camera_to_volume, crop_intrinsics
from smplr_core.synth.appearance import (BodyParts, load_background_photos, sample_background,
                                          sample_vertex_colours)
from smplr_core.synth.raster import cluster_decimate, render_mesh

NUM_POINTS = 42  # 24 SMPL joints (index 0 = pelvis = root) + 18 landmarks

# Simple per-joint limits for random poses (used when no external pose source is given):
# standard deviation of each axis-angle component in radians, by SMPL joint index 1..23.
_POSE_STD = {1: 0.5, 2: 0.5, 3: 0.25, 4: 0.0, 5: 0.0, 6: 0.15, 7: 0.2, 8: 0.2, 9: 0.15,
             10: 0.1, 11: 0.1, 12: 0.25, 13: 0.15, 14: 0.15, 15: 0.3, 16: 0.6, 17: 0.6,
             18: 0.0, 19: 0.0, 20: 0.3, 21: 0.3, 22: 0.2, 23: 0.2}
KNEES, ELBOWS = (4, 5), (18, 19)
CAMERA_DISTANCE_M = (1.5, 8.0)
CAMERA_PITCH_RAD = math.radians(30.0)
CAMERA_ROLL_RAD = math.radians(10.0)
ROOT_RAY_RANGE = (0.35, 0.25)  # |x/z|, |y/z| of the root: person anywhere in a ~70 deg view
# The crop centre is the root moved by up to this much in the image plane (metres at the root's
# depth): at run time the crop comes from a detector box whose centre is near, not at, the pelvis.
CROP_CENTRE_JITTER_M = 0.2
# Sensor noise comes from a bank of unit-variance noise fields made once per renderer (drawing
# 3 x S x S fresh normals took ~1.5 ms a crop, a fifth of the whole render); each crop takes one
# field at random, flipped at random, times its own noise level.
NOISE_BANK_SIZE = 32
NOISE_BANK_SEED = 7
BETAS_STD = 1.5  # shapes across the whole space, extremes included (|beta| up to ~3-4)
RENDER_DECIMATION_CELL_M = 0.015  # vertex-clustering cell of the mesh that is rasterised


class SyntheticBatch(NamedTuple):
    images: np.ndarray        # (B, S, S, 3) uint8 RGB crops
    points_cam: torch.Tensor  # (B, 42, 3) camera frame metres (joints then landmarks)
    root_cam: torch.Tensor    # (B, 3) camera-frame root (pelvis)
    centre_cam: torch.Tensor  # (B, 3) the crop's centre point: root + a small in-plane offset
    volume_xyz: torch.Tensor  # (B, 42, 3) volume coordinates (a, b, d) metres about centre_cam
    vertices_rel: torch.Tensor  # (B, V, 3) root-relative camera-frame vertices (for PVE)
    betas: torch.Tensor       # (B, 10)
    rotmats_cam: torch.Tensor  # (B, 24, 3, 3) body rotations with the global one in camera frame


def random_body_pose(rng: np.random.Generator, batch: int) -> np.ndarray:
    """Random axis-angle body poses within simple per-joint limits: (B, 23, 3) float32.

    Used only when the core's limit-box sampler (`smplr_core.data.sampling`) is not available.
    """
    pose = np.zeros((batch, 23, 3), np.float32)
    for j, std in _POSE_STD.items():
        pose[:, j - 1] = rng.normal(0.0, std, (batch, 3))
    # Knees bend backwards only (+x), elbows bend forwards only (about y, sign by side).
    for j in KNEES:
        pose[:, j - 1, 0] = np.abs(rng.normal(0.0, 0.6, batch))
    pose[:, ELBOWS[0] - 1, 1] = -np.abs(rng.normal(0.0, 0.9, batch))
    pose[:, ELBOWS[1] - 1, 1] = np.abs(rng.normal(0.0, 0.9, batch))
    # Arms: mostly lowered from the T-pose towards the body (about z, sign by side).
    pose[:, 15, 2] += -rng.uniform(-0.3, 1.3, batch)
    pose[:, 16, 2] += rng.uniform(-0.3, 1.3, batch)
    return pose


def _axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) in ``aa``'s dtype (scipy's Rotation)."""
    matrices = Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix()
    return matrices.reshape(aa.shape[:-1] + (3, 3)).astype(aa.dtype)


def random_cameras(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """World->camera rotations (B, 3, 3) and camera-frame root positions (B, 3).

    SMPL's y-up world is flipped into the OpenCV optical frame (y down, z forward: a body facing
    +z faces the camera), then pitched and rolled; yaw comes from the body's own orientation.
    The root lies on a random viewing ray (person anywhere in a ~70 deg field of view).
    """
    pitch = rng.uniform(-CAMERA_PITCH_RAD, CAMERA_PITCH_RAD, batch)
    roll = rng.uniform(-CAMERA_ROLL_RAD, CAMERA_ROLL_RAD, batch)
    r_pitch = _axis_angle_to_matrix(np.stack([pitch, np.zeros(batch), np.zeros(batch)], -1))
    r_roll = _axis_angle_to_matrix(np.stack([np.zeros(batch), np.zeros(batch), roll], -1))
    flip = np.diag([1.0, -1.0, -1.0])
    rot = r_roll @ r_pitch @ flip
    depth = rng.uniform(*CAMERA_DISTANCE_M, batch)
    ray_x = rng.uniform(-ROOT_RAY_RANGE[0], ROOT_RAY_RANGE[0], batch)
    ray_y = rng.uniform(-ROOT_RAY_RANGE[1], ROOT_RAY_RANGE[1], batch)
    root = np.stack([ray_x * depth, ray_y * depth, depth], -1)
    return rot.astype(np.float32), root.astype(np.float32)


def _light(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A random light direction mostly from the camera side, and the ambient level."""
    d = rng.normal(size=3)
    d[2] = -abs(d[2]) - 0.5  # towards the camera (camera looks along +z)
    return (d / np.linalg.norm(d)).astype(np.float32), float(rng.uniform(0.25, 0.6))


# A pose source: (rng, batch) -> (rotmats (B, 24, 3, 3) SMPL local rotations, joint 0 the body's
# orientation in SMPL's y-up world; betas (B, 10)).
PoseSource = Callable[[np.random.Generator, int], tuple[torch.Tensor, torch.Tensor]]


def _simple_pose_source(rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    local = torch.as_tensor(_axis_angle_to_matrix(random_body_pose(rng, batch)))
    yaw = rng.uniform(-math.pi, math.pi, batch)
    root = _axis_angle_to_matrix(np.stack([np.zeros(batch), yaw, np.zeros(batch)], -1).astype(np.float32))
    betas = torch.as_tensor(rng.normal(0.0, BETAS_STD, (batch, 10)).astype(np.float32))
    return torch.cat([torch.as_tensor(root)[:, None], local], dim=1), betas


def random_pose_source(rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random poses and shapes, any yaw.

    Half of each batch comes from the core's limit-box sampler and shape distribution
    (`smplr_core.data.sampling`: covers unusual poses), half from simple per-joint Gaussians around
    a standing pose (covers everyday poses, which the uniform box rarely draws).
    """
    rotmats, betas = _simple_pose_source(rng, batch)
    try:
        from smplr_core.body.joint_names import SMPL_JOINT_NAMES
        from smplr_core.data import sampling
    except ImportError:
        return rotmats, betas
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    box = sampling.sample_random_poses(gen, batch, sampling.limits_tensor(SMPL_JOINT_NAMES)).float()
    box[:, 0] = sampling.sample_upright_orientation(gen, batch).float()
    box_betas = sampling.sample_shapes(gen, batch, 10, sampling.ShapeConfig()).float()
    use_box = torch.as_tensor(rng.random(batch) < 0.5)
    rotmats = torch.where(use_box[:, None, None, None], box, rotmats)
    betas = torch.where(use_box[:, None], box_betas, betas)
    return rotmats, betas


class SyntheticRenderer:
    """Renders batches of root-centred crops of random posed, shaped, clothed bodies.

    body_model: the project's BodyModel (`smplr_core.body.load_body_model()`); crop_size: S.
    pose_source: poses and shapes (default: random poses within simple limits, random betas;
    the core's sampler with real motion can be passed instead).
    """

    def __init__(self, body_model, crop_size: int = 256, pose_source: PoseSource | None = None,
                 use_photos: bool = True, workers: int = 1, centre_jitter: bool = True,
                 decimate_cell_m: float | None = RENDER_DECIMATION_CELL_M):
        self.workers = workers
        self.centre_jitter = float(centre_jitter)
        self._executor = None
        self.body = body_model.eval()
        self.crop_size = crop_size
        self.pose_source = pose_source or random_pose_source
        self.faces = body_model.faces.cpu().numpy().astype(np.int32)
        with torch.no_grad():
            rest = body_model.forward_rotmat(torch.zeros(1, 10), torch.eye(3).expand(1, 24, 3, 3), None)
        self.parts = BodyParts.from_rest(rest.vertices[0].numpy(), rest.joints[0].numpy(),
                                         np.asarray(body_model.parents))
        self.photos = load_background_photos() if use_photos else []
        self.noise_bank = np.random.default_rng(NOISE_BANK_SEED).standard_normal(
            (NOISE_BANK_SIZE, crop_size, crop_size, 3), dtype=np.float32)
        # Rasterise a vertex-clustered mesh: same silhouette (IoU 0.99 at 256 px), ~1.6x faster.
        self.render_faces = (cluster_decimate(self.parts.rest_vertices, self.faces, decimate_cell_m)[1]
                             .astype(np.int32) if decimate_cell_m else self.faces)

    def pose_bodies(self, rng: np.random.Generator, batch: int):
        """Sample bodies and cameras; returns camera-frame points, root, root-relative vertices,
        betas and rotations (global one in the camera frame)."""
        rotmats, betas = self.pose_source(rng, batch)
        rot, root = random_cameras(rng, batch)
        with torch.no_grad():
            out = self.body.forward_rotmat(betas, rotmats, None)
        rot_t, root_t = torch.as_tensor(rot), torch.as_tensor(root)
        pelvis = out.joints[:, :1]
        points = torch.cat([out.joints, out.landmarks], dim=1) - pelvis
        points_cam = points @ rot_t.transpose(1, 2) + root_t[:, None]
        vertices_rel = (out.vertices - pelvis) @ rot_t.transpose(1, 2)
        rotmats_cam = rotmats.clone()
        rotmats_cam[:, 0] = rot_t @ rotmats[:, 0]
        return points_cam, root_t, vertices_rel, betas, rotmats_cam

    def _render_one(self, seed: int, vertices_cam: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
        """One crop: outfit, background, light, rasterise, sensor gain and noise -> (S, S, 3) uint8."""
        rng = np.random.default_rng(seed)
        colours = sample_vertex_colours(self.parts, rng)
        background = sample_background(rng, self.photos, self.crop_size)
        light, ambient = _light(rng)
        img, _, _ = render_mesh(vertices_cam, self.render_faces, colours, intrinsics, background, light, ambient)
        # Global gain and sensor noise so the network does not rely on clean colours.
        img *= np.float32(255.0 * rng.uniform(0.7, 1.3))
        noise = self.noise_bank[rng.integers(NOISE_BANK_SIZE)]
        if rng.random() < 0.5:
            noise = noise[::-1]
        if rng.random() < 0.5:
            noise = noise[:, ::-1]
        img += noise * np.float32(255.0 * rng.uniform(0.0, 0.03))
        np.clip(img, 0.0, 255.0, out=img)
        return img.astype(np.uint8)

    def render(self, rng: np.random.Generator, batch: int) -> SyntheticBatch:
        """A batch of crops with ground truth. Crops are rendered on `self.workers` threads (the
        rasteriser releases the GIL); each crop draws from its own seed, so results do not depend
        on the number of threads."""
        points_cam, root, vertices_rel, betas, rotmats = self.pose_bodies(rng, batch)
        offset = rng.uniform(-CROP_CENTRE_JITTER_M, CROP_CENTRE_JITTER_M, (batch, 2)) * self.centre_jitter
        centre = root + torch.as_tensor(np.concatenate([offset, np.zeros((batch, 1))], 1), dtype=root.dtype)
        intr = crop_intrinsics(centre, self.crop_size).numpy()
        verts_cam = (vertices_rel + root[:, None]).numpy()
        seeds = rng.integers(2**62, size=batch)
        jobs = [(int(seeds[i]), verts_cam[i], intr[i]) for i in range(batch)]
        if self.workers > 1:
            crops = list(self._pool().map(lambda job: self._render_one(*job), jobs))
        else:
            crops = [self._render_one(*job) for job in jobs]
        volume = camera_to_volume(points_cam, centre)
        return SyntheticBatch(np.stack(crops), points_cam, root, centre, volume, vertices_rel, betas, rotmats)

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor
            self._executor = ThreadPoolExecutor(self.workers)
        return self._executor
