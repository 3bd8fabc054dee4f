"""Pose, shape and camera sampling (DESIGN §4). Every function draws from a ``torch.Generator`` so a
seed fixes the data exactly.

Frames: poses are SMPL local rotations with joint 0 the orientation in SMPL's y-up world;
cameras are given as a world->camera rotation (OpenCV optical frame: x right, y down, z forward)
and the pelvis position in the camera frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from smplr_core import geometry

# Left/right joint pairs of the SMPL skeleton (indices into SMPL_JOINT_NAMES).
SMPL_MIRROR_PERMUTATION = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)
# Reflection x -> -x (SMPL's sagittal plane); a rotation R mirrors to M R M.
_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))

# Per-joint limits (degrees) for random poses: local axis-angle components (x, y, z) in SMPL's
# axes (x = body's left, y = up, z = forward). Signs follow SMPL: knee +x bends the shin back,
# hip -x lifts the thigh forward, left shoulder +z raises the arm, left elbow -y flexes forward.
JOINT_LIMITS_DEG: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "left_hip": ((-110, 30), (-35, 35), (-15, 50)),
    "right_hip": ((-110, 30), (-35, 35), (-50, 15)),
    "spine1": ((-20, 35), (-20, 20), (-15, 15)),
    "left_knee": ((0, 140), (-5, 5), (-5, 5)),
    "right_knee": ((0, 140), (-5, 5), (-5, 5)),
    "spine2": ((-15, 25), (-15, 15), (-10, 10)),
    "left_ankle": ((-25, 40), (-15, 15), (-15, 15)),
    "right_ankle": ((-25, 40), (-15, 15), (-15, 15)),
    "spine3": ((-15, 25), (-15, 15), (-10, 10)),
    "left_foot": ((-20, 20), (-5, 5), (-5, 5)),
    "right_foot": ((-20, 20), (-5, 5), (-5, 5)),
    "neck": ((-25, 35), (-35, 35), (-20, 20)),
    "left_collar": ((-10, 10), (-15, 15), (-10, 20)),
    "right_collar": ((-10, 10), (-15, 15), (-20, 10)),
    "head": ((-20, 25), (-30, 30), (-15, 15)),
    "left_shoulder": ((-60, 60), (-100, 40), (-85, 70)),
    "right_shoulder": ((-60, 60), (-40, 100), (-70, 85)),
    "left_elbow": ((-30, 30), (-145, 0), (-5, 5)),
    "right_elbow": ((-30, 30), (0, 145), (-5, 5)),
    "left_wrist": ((-40, 40), (-30, 30), (-50, 50)),
    "right_wrist": ((-40, 40), (-30, 30), (-50, 50)),
    "left_hand": ((-10, 10), (-10, 10), (-15, 15)),
    "right_hand": ((-10, 10), (-10, 10), (-15, 15)),
}


@dataclass(frozen=True)
class CameraConfig:
    """Camera distribution (DESIGN §4 / issue: focal 500-1500 px, distance 1.5-8 m, any yaw,
    pitch ±30°, roll ±10°, person anywhere in the image and partly outside)."""
    focal_px: tuple[float, float] = (500.0, 1500.0)
    distance_m: tuple[float, float] = (1.5, 8.0)
    pitch_deg: float = 30.0
    roll_deg: float = 10.0
    # image sizes (width, height) drawn uniformly
    image_sizes: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720), (1920, 1080), (480, 640), (1024, 1024))
    # pelvis pixel position as a fraction of the image, uniform; outside [0, 1] = partly cut off
    root_pixel_range: tuple[float, float] = (0.05, 0.95)
    principal_jitter: float = 0.02  # fraction of the image size


@dataclass(frozen=True)
class ShapeConfig:
    """Shape distribution: betas ~ N(0, std^2), and a fraction drawn uniformly over ±extreme to
    cover the shape space's edges."""
    std: float = 1.0
    extreme: float = 3.0
    extreme_fraction: float = 0.2


def limits_tensor(joint_names) -> torch.Tensor:
    """(24, 3, 2) radians; the root has no limits (its orientation is sampled separately)."""
    lim = torch.zeros(len(joint_names), 3, 2)
    for j, name in enumerate(joint_names):
        if name in JOINT_LIMITS_DEG:
            lim[j] = torch.tensor(JOINT_LIMITS_DEG[name], dtype=torch.float32)
    return lim * (math.pi / 180.0)


def uniform(gen: torch.Generator, shape, low, high) -> torch.Tensor:
    """Uniform samples in [low, high) (broadcast)."""
    return torch.rand(shape, generator=gen) * (high - low) + low


def mirror_rotations(rot: torch.Tensor) -> torch.Tensor:
    """Left/right mirror of SMPL local rotations (B, 24, 3, 3)."""
    m = _MIRROR.to(rot)
    return (m @ rot @ m)[:, list(SMPL_MIRROR_PERMUTATION)]


def sample_random_poses(gen: torch.Generator, n: int, limits: torch.Tensor) -> torch.Tensor:
    """Random local rotations within per-joint limits: (n, 24, 3, 3), root = identity.

    Each of the three axis-angle components is uniform in its range; this covers the limit box
    including unusual poses that mocap rarely shows.
    """
    lo, hi = limits[..., 0], limits[..., 1]
    aa = torch.rand((n,) + lo.shape, generator=gen) * (hi - lo) + lo
    return geometry.axis_angle_to_matrix(aa)


def sample_upright_orientation(gen: torch.Generator, n: int, tilt_deg: float = 15.0) -> torch.Tensor:
    """Root orientation in the world for random poses: any yaw, small tilt: (n, 3, 3)."""
    yaw = uniform(gen, (n,), -math.pi, math.pi)
    tilt = torch.randn((n, 3), generator=gen) * math.radians(tilt_deg) / 2.0
    tilt[:, 1] = 0.0
    return geometry.rotation_y(yaw) @ geometry.axis_angle_to_matrix(tilt)


def sample_shapes(gen: torch.Generator, n: int, num_betas: int, cfg: ShapeConfig) -> torch.Tensor:
    """(n, num_betas) shape coefficients."""
    normal = torch.randn((n, num_betas), generator=gen) * cfg.std
    extreme = uniform(gen, (n, num_betas), -cfg.extreme, cfg.extreme)
    use_extreme = torch.rand((n, 1), generator=gen) < cfg.extreme_fraction
    return torch.where(use_extreme, extreme, normal)


# OpenCV optical frame from SMPL's y-up world seen from the front: x stays, y and z flip, so a
# body facing +z faces the camera.
WORLD_TO_OPTICAL = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def sample_cameras(gen: torch.Generator, n: int, cfg: CameraConfig) -> dict[str, torch.Tensor]:
    """Cameras looking at a person: rotation world->camera (n, 3, 3), pelvis position in the
    camera frame ``root_cam`` (n, 3), ``intrinsics`` (n, 4) fx, fy, cx, cy, ``image_size`` (n, 2) w, h.

    Yaw is not sampled here: the body's world yaw is uniform, which is the same thing.
    """
    sizes = torch.tensor(cfg.image_sizes, dtype=torch.float32)
    size = sizes[torch.randint(len(cfg.image_sizes), (n,), generator=gen)]
    f = uniform(gen, (n,), *cfg.focal_px)
    c = size / 2.0 * (1.0 + cfg.principal_jitter * (2.0 * torch.rand((n, 2), generator=gen) - 1.0))
    intrinsics = torch.stack([f, f, c[:, 0], c[:, 1]], dim=-1)
    pitch = uniform(gen, (n,), -math.radians(cfg.pitch_deg), math.radians(cfg.pitch_deg))
    roll = uniform(gen, (n,), -math.radians(cfg.roll_deg), math.radians(cfg.roll_deg))
    rotation = geometry.rotation_z(roll) @ geometry.rotation_x(pitch) @ WORLD_TO_OPTICAL
    depth = uniform(gen, (n,), *cfg.distance_m)
    pix = uniform(gen, (n, 2), *cfg.root_pixel_range) * size
    xy = (pix - c) / f[:, None] * depth[:, None]
    root_cam = torch.cat([xy, depth[:, None]], dim=-1)
    return {"rotation": rotation, "root_cam": root_cam, "intrinsics": intrinsics, "image_size": size}


class MotionBank:
    """Retargeted mocap frames as quaternions, sampled with interpolation between neighbours.

    quats: (N, 24, 4) w, x, y, z local rotations; next_index: (N,) index of the following frame
    (itself at a clip's end when it does not loop).
    """

    def __init__(self, quats: torch.Tensor, next_index: torch.Tensor, clip_of_frame: torch.Tensor, clip_names,
                 source_ranges: torch.Tensor | None = None, source_weights: torch.Tensor | None = None,
                 source_names=()):
        self.quats = quats
        self.next_index = next_index
        self.clip_of_frame = clip_of_frame
        self.clip_names = tuple(clip_names)
        # weighted sources (None: every frame equally likely): frames of source k are
        # source_ranges[k, 0] .. source_ranges[k, 0] + source_ranges[k, 1] - 1
        self.source_ranges = source_ranges
        self.source_weights = source_weights
        self.source_names = tuple(source_names)

    @classmethod
    def from_clips(cls, clips, sources=None, weights: dict | None = None) -> "MotionBank":
        """Build from mocap.RetargetedClip objects (loops are not known here: ends repeat).

        sources: the source name of each clip; weights: {source: sampling weight}. With both, a
        sample's source is drawn by weight, then a frame uniformly within it; clips are reordered
        so each source's frames are contiguous."""
        clips = list(clips)
        ranges = weight_t = None
        names = ()
        if sources is not None and weights:
            names = tuple(dict.fromkeys(sources))
            order = sorted(range(len(clips)), key=lambda i: names.index(sources[i]))
            clips = [clips[i] for i in order]
            counts = [sum(c.rotations.shape[0] for c, s in zip(clips, [sources[i] for i in order]) if s == n)
                      for n in names]
            starts = [sum(counts[:k]) for k in range(len(counts))]
            ranges = torch.tensor(list(zip(starts, counts)), dtype=torch.long)
            weight_t = torch.tensor([float(weights.get(n, 0.0)) for n in names])
        quats, nxt, clip_ids = [], [], []
        offset = 0
        for i, clip in enumerate(clips):
            t = clip.rotations.shape[0]
            q = geometry.matrix_to_quaternion(torch.as_tensor(clip.rotations, dtype=torch.float64)).float()
            quats.append(q)
            idx = torch.arange(t) + 1
            idx[-1] = t - 1
            nxt.append(idx + offset)
            clip_ids.append(torch.full((t,), i))
            offset += t
        return cls(torch.cat(quats), torch.cat(nxt), torch.cat(clip_ids), [c.name for c in clips], ranges, weight_t,
                   names)

    def __len__(self) -> int:
        return self.quats.shape[0]

    def sample(self, gen: torch.Generator, n: int, interpolate: bool = True) -> torch.Tensor:
        """(n, 24, 3, 3) local rotations, normalised-lerp between a frame and the next."""
        idx = self.sample_indices(gen, n)
        q0 = self.quats[idx]
        if interpolate:
            q1 = self.quats[self.next_index[idx]]
            q1 = torch.where((q0 * q1).sum(-1, keepdim=True) < 0, -q1, q1)  # same hemisphere
            a = torch.rand((n, 1, 1), generator=gen)
            q0 = (1.0 - a) * q0 + a * q1
        return geometry.quaternion_to_matrix(q0)

    def sample_indices(self, gen: torch.Generator, n: int) -> torch.Tensor:
        """(n,) frame indices: uniform over all frames, or by source weight then uniform within it."""
        if self.source_weights is None:
            return torch.randint(len(self), (n,), generator=gen)
        src = torch.multinomial(self.source_weights, n, replacement=True, generator=gen)
        start, count = self.source_ranges[src, 0], self.source_ranges[src, 1]
        return start + (torch.rand(n, generator=gen) * count).long().clamp_max(count - 1)

    def frames(self) -> torch.Tensor:
        """All frames (N, 24, 3, 3), in order."""
        return geometry.quaternion_to_matrix(self.quats)


def sample_motion_poses(gen: torch.Generator, bank: MotionBank, n: int, mirror_prob: float,
                        perturb_std_rad: float) -> torch.Tensor:
    """(n, 24, 3, 3) mocap poses: interpolated frames of ``bank``, mirrored left/right with
    ``mirror_prob``, jittered per joint, turned to a uniform yaw (root in SMPL's y-up world)."""
    rot = bank.sample(gen, n)
    mirror = torch.rand(n, generator=gen) < mirror_prob
    rot = torch.where(mirror[:, None, None, None], mirror_rotations(rot), rot)
    rot = perturb_rotations(gen, rot, perturb_std_rad)
    yaw = uniform(gen, (n,), -torch.pi, torch.pi)
    rot[:, 0] = geometry.rotation_y(yaw) @ rot[:, 0]
    return rot


def perturb_rotations(gen: torch.Generator, rot: torch.Tensor, std_rad: float) -> torch.Tensor:
    """Small random rotation on every non-root joint: (B, 24, 3, 3) -> same."""
    if std_rad <= 0:
        return rot
    aa = torch.randn(rot.shape[:2] + (3,), generator=gen) * std_rad
    aa[:, 0] = 0.0
    return rot @ geometry.axis_angle_to_matrix(aa)


def as_numpy_seed(gen: torch.Generator) -> np.random.Generator:
    """A numpy generator derived from a torch generator (for the rare numpy-side draws)."""
    return np.random.default_rng(int(torch.randint(2**62, (1,), generator=gen)))
