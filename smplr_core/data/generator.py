"""On-the-fly training and evaluation samples (DESIGN §4): pose × shape × camera -> clean 3D targets,
clean and detector-like 2D keypoints. Deterministic from a seed.

A sample, all batch-first, camera frame = OpenCV optical frame (x right, y down, z forward), metres:
- ``betas`` (B, 10); ``rotmats`` (B, 24, 3, 3) SMPL local rotations, joint 0 = orientation *in the
  camera frame* (so the body model's output is already in camera axes);
- ``points3d`` (B, 41, 3): the 23 non-root joints then the 18 landmarks, relative to the pelvis
  (the DAE's target and SMPLR's input);
- ``root_cam`` (B, 3): pelvis position in the camera frame; ``keypoints3d`` (B, 33, 3) root-relative;
- ``keypoints_clean`` / ``keypoints`` (B, 33, 2) pixels, ``visibility`` (B, 33) in [0, 1];
- ``intrinsics`` (B, 4) fx, fy, cx, cy; ``image_size`` (B, 2).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from smplr_core import geometry
from smplr_core.body.joint_names import SMPL_JOINT_NAMES
from smplr_core.body.keypoints import NUM_KEYPOINTS
from smplr_core.body.landmarks import NUM_LANDMARKS
from smplr_core.data import mocap, noise, sampling
from smplr_core.data.library import ClipSet
from smplr_core.data.point_body import PointBody, skinning_support


@dataclass(frozen=True)
class DataConfig:
    """Mixture and augmentation settings of the sampler."""
    mocap_fraction: float = 0.7  # rest: random poses within joint limits
    mirror_prob: float = 0.5
    perturb_std_rad: float = 0.08  # per-joint jitter of mocap poses
    camera: sampling.CameraConfig = field(default_factory=sampling.CameraConfig)
    shape: sampling.ShapeConfig = field(default_factory=sampling.ShapeConfig)
    noise: noise.NoiseConfig = field(default_factory=noise.NoiseConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def landmark_keypoint_points(out) -> torch.Tensor:
    """The points PointBody tracks for data generation: landmarks (18) then keypoints (33)."""
    return torch.cat([out.landmarks, out.keypoints], dim=1)


class SampleGenerator:
    """Draws samples from a set of clips: DeepMimic clip names (``mocap.TRAIN_CLIPS`` or
    ``mocap.HELD_OUT_CLIPS``) or a ``library.ClipSet`` (retargeted clips of any source, sampled
    by source weight)."""

    def __init__(self, body, clips=mocap.TRAIN_CLIPS, cfg: DataConfig = DataConfig(),
                 point_body: PointBody | None = None):
        self.cfg = cfg
        self.num_betas = int(body.num_betas)
        if isinstance(clips, ClipSet):
            self.clips = list(clips.clips)
            self.bank = sampling.MotionBank.from_clips(self.clips, clips.sources, clips.weights)
        else:
            parents = [int(p) for p in body.parents]
            rest = body.template_joints.detach().cpu().double().numpy()
            import numpy as np
            self.clips = mocap.retarget_clips(clips, rest, np.asarray(parents))
            self.bank = sampling.MotionBank.from_clips(self.clips)
        self.limits = sampling.limits_tensor(SMPL_JOINT_NAMES)
        self.point_body = point_body if point_body is not None else PointBody.fit(
            body, landmark_keypoint_points, support_mask=skinning_support(body, landmarks=True, keypoints=True))
        self.bias_pattern = noise.systematic_offsets(NUM_KEYPOINTS)

    # ------------------------------------------------------------------ poses
    def sample_world_poses(self, gen: torch.Generator, n: int) -> torch.Tensor:
        """(n, 24, 3, 3) local rotations, root in SMPL's y-up world with uniform yaw."""
        n_mocap = int(round(n * self.cfg.mocap_fraction))
        rot_m = sampling.sample_motion_poses(gen, self.bank, n_mocap, self.cfg.mirror_prob, self.cfg.perturb_std_rad)
        rot_r = sampling.sample_random_poses(gen, n - n_mocap, self.limits)
        rot_r[:, 0] = sampling.sample_upright_orientation(gen, n - n_mocap)
        rot = torch.cat([rot_m, rot_r])
        return rot[torch.randperm(n, generator=gen)]

    # ------------------------------------------------------------------ samples
    def render(self, gen: torch.Generator, world_rot: torch.Tensor, betas: torch.Tensor,
               noise_level: float | torch.Tensor = 1.0, camera: dict | None = None) -> dict[str, torch.Tensor]:
        """Place given poses/shapes in front of sampled cameras and make 2D observations."""
        n = world_rot.shape[0]
        cam = camera if camera is not None else sampling.sample_cameras(gen, n, self.cfg.camera)
        rot = world_rot.clone()
        rot[:, 0] = cam["rotation"] @ world_rot[:, 0]
        joints, pts = self.point_body(betas, rot)
        root = joints[:, :1]
        landmarks, kp3 = pts[:, :NUM_LANDMARKS] - root, pts[:, NUM_LANDMARKS:] - root
        points3d = torch.cat([joints[:, 1:] - root, landmarks], dim=1)
        kp_cam = kp3 + cam["root_cam"][:, None]
        clean = geometry.project_points(kp_cam, cam["intrinsics"])
        in_front = kp_cam[..., 2] > 0.05
        noisy, vis = noise.apply_noise(gen, clean, in_front, cam["image_size"], self.cfg.noise, noise_level,
                                       self.bias_pattern)
        return {
            "betas": betas, "rotmats": rot, "points3d": points3d, "keypoints3d": kp3,
            "root_cam": cam["root_cam"], "keypoints_clean": clean, "keypoints": noisy, "visibility": vis,
            "intrinsics": cam["intrinsics"], "image_size": cam["image_size"],
        }

    def sample(self, gen: torch.Generator, n: int, noise_level: float | torch.Tensor = 1.0) -> dict[str, torch.Tensor]:
        """n fresh training samples."""
        world_rot = self.sample_world_poses(gen, n)
        betas = sampling.sample_shapes(gen, n, self.num_betas, self.cfg.shape)
        return self.render(gen, world_rot, betas, noise_level)

    def evaluation_set(self, seed: int, repeats: int = 1, noise_level: float | torch.Tensor = 1.0,
                       camera_cfg: sampling.CameraConfig | None = None, stride: int = 1) -> dict[str, torch.Tensor]:
        """Every frame (every ``stride``-th) of this generator's clips (no interpolation, no
        perturbation) ``repeats`` times, each with its own shape (held-out: drawn from a separate
        seed) and camera."""
        gen = torch.Generator().manual_seed(seed)
        frames = self.bank.frames()[::stride].repeat(repeats, 1, 1, 1)
        n = frames.shape[0]
        yaw = sampling.uniform(gen, (n,), -torch.pi, torch.pi)
        frames[:, 0] = geometry.rotation_y(yaw) @ frames[:, 0]
        betas = sampling.sample_shapes(gen, n, self.num_betas, self.cfg.shape)
        cam = sampling.sample_cameras(gen, n, camera_cfg or self.cfg.camera)
        out = self.render(gen, frames, betas, noise_level, camera=cam)
        out["clip"] = self.bank.clip_of_frame[::stride].repeat(repeats)
        return out
