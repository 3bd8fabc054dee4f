"""Training data: retargeted mocap, sampler determinism, the fast point body, noise properties."""
import numpy as np
import pytest
import torch

from smplr_core import geometry
from smplr_core.body.joint_names import JOINT_INDEX, SMPL_PARENTS
from smplr_core.data import mocap, noise, sampling
from smplr_core.data.generator import landmark_keypoint_points
from tests import core_helpers as H

LIMB_PAIRS = (  # (smpl parent, smpl child, deepmimic parent, deepmimic child)
    ("left_hip", "left_knee", "left_hip", "left_knee"), ("left_knee", "left_ankle", "left_knee", "left_ankle"),
    ("right_hip", "right_knee", "right_hip", "right_knee"), ("left_shoulder", "left_elbow", "left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist", "left_elbow", "left_wrist"), ("right_elbow", "right_wrist", "right_elbow", "right_wrist"),
)


def test_clip_lists_are_disjoint_and_complete():
    assert set(mocap.TRAIN_CLIPS).isdisjoint(mocap.HELD_OUT_CLIPS)
    assert set(mocap.TRAIN_CLIPS) | set(mocap.HELD_OUT_CLIPS) == set(mocap.ALL_CLIPS)
    assert len(mocap.ALL_CLIPS) == 20


@pytest.mark.parametrize("name", ["walk", "cartwheel", "dance_b", "walker/turn_left1"])
def test_retargeted_limbs_follow_the_mocap(name):
    """Limb directions of the SMPL skeleton posed by the retargeted rotations match the humanoid's."""
    body = H.body()
    rest = body.template_joints.double().numpy()
    clip = mocap.retarget_clip(name, rest, np.array(SMPL_PARENTS))
    assert np.isfinite(clip.rotations).all()
    rot = torch.as_tensor(clip.rotations, dtype=torch.float32)
    out = body.forward_rotmat(torch.zeros(len(rot), 10), rot, None)
    _, dm = mocap.deepmimic_forward_kinematics(mocap.load_frames(name))
    c = mocap.DEEPMIMIC_TO_SMPL
    for sp, sc, dp, dc in LIMB_PAIRS:
        a = (out.joints[:, JOINT_INDEX[sc]] - out.joints[:, JOINT_INDEX[sp]]).double().numpy()
        b = (dm[dc] - dm[dp]) @ c.T
        cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 2.0, (name, sp, sc)


def test_retargeted_skeleton_is_plausible():
    """Bone lengths stay those of the body, the humanoid's feet touch the ground while walking."""
    body = H.body()
    rest = body.template_joints.double().numpy()
    clip = mocap.retarget_clip("walk", rest, np.array(SMPL_PARENTS))
    rot = torch.as_tensor(clip.rotations, dtype=torch.float32)
    out = body.forward_rotmat(torch.zeros(len(rot), 10), rot, None)
    parents = torch.tensor(SMPL_PARENTS[1:])
    lengths = (out.joints[:, 1:] - out.joints[:, parents]).norm(dim=-1)
    rest_len = (body.template_joints[1:] - body.template_joints[parents]).norm(dim=-1)
    assert torch.allclose(lengths, rest_len.expand_as(lengths), atol=1e-4)
    _, dm = mocap.deepmimic_forward_kinematics(mocap.load_frames("walk"))
    sole = np.minimum(dm["left_sole"][:, 1], dm["right_sole"][:, 1])
    assert np.abs(sole).max() < 0.05  # one foot on the ground at every frame
    head = out.joints[:, JOINT_INDEX["head"], 1] - out.joints[:, 0, 1]
    assert (head > 0.4).all()  # upright while walking


def test_quaternions_are_normalised():
    frames = mocap.load_frames("backflip")
    m = mocap.quat_wxyz_to_matrix(frames[:, 4:8] * 3.0)
    assert np.allclose(m @ np.swapaxes(m, -1, -2), np.eye(3), atol=1e-9)


def test_point_body_matches_the_body_model():
    body = H.body()
    gen = H.train_generator()
    g = torch.Generator().manual_seed(7)
    betas = torch.randn(16, 10, generator=g) * 2
    rot = geometry.axis_angle_to_matrix(torch.randn(16, 24, 3, generator=g))
    out = body.forward_rotmat(betas, rot, None)
    joints, pts = gen.point_body(betas, rot)
    assert (joints - out.joints).norm(dim=-1).max() < 1e-4
    assert (pts - landmark_keypoint_points(out)).norm(dim=-1).max() < 1e-4
    # large-batch path gives the same points
    big_b, big_r = betas.repeat(256, 1), rot.repeat(256, 1, 1, 1)
    _, big = gen.point_body(big_b, big_r)
    assert torch.allclose(big[:16], pts, atol=1e-5)


def test_sampler_is_deterministic_by_seed():
    gen = H.train_generator()
    a = gen.sample(torch.Generator().manual_seed(3), 64)
    b = gen.sample(torch.Generator().manual_seed(3), 64)
    c = gen.sample(torch.Generator().manual_seed(4), 64)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(a["keypoints"], c["keypoints"])


def test_samples_are_consistent_and_finite():
    gen = H.train_generator()
    s = gen.sample(torch.Generator().manual_seed(5), 512)
    for k, v in s.items():
        assert torch.isfinite(v.float()).all(), k
    cam_kp = s["keypoints3d"] + s["root_cam"][:, None]
    assert torch.allclose(geometry.project_points(cam_kp, s["intrinsics"]), s["keypoints_clean"], atol=1e-2)
    depth = s["root_cam"][:, 2]
    assert depth.min() >= 1.5 and depth.max() <= 8.0
    f = s["intrinsics"][:, 0]
    assert f.min() >= 500 and f.max() <= 1500
    # SMPL pelvis-relative targets: head above pelvis in most mocap-like frames (camera y points down)
    body = H.body()
    out = body.forward_rotmat(s["betas"], s["rotmats"], None)
    root = out.joints[:, :1]
    assert torch.allclose(torch.cat([out.joints[:, 1:] - root, out.landmarks - root], 1), s["points3d"], atol=1e-4)


def test_camera_pitch_and_roll_limits():
    cams = sampling.sample_cameras(torch.Generator().manual_seed(0), 2000, sampling.CameraConfig())
    up_world = torch.tensor([0.0, 1.0, 0.0])
    up_cam = cams["rotation"] @ up_world  # world up in camera axes (image up is -y)
    tilt = torch.rad2deg(torch.acos((-up_cam[:, 1]).clamp(-1, 1)))
    assert tilt.max() <= 30.0 + 10.0 + 1e-3
    assert tilt.max() > 20.0


def test_noise_properties():
    g = torch.Generator().manual_seed(1)
    n, k = 4000, 33
    clean = torch.rand(n, k, 2, generator=g) * torch.tensor([300.0, 500.0]) + torch.tensor([100.0, 50.0])
    size = torch.tensor([[640.0, 640.0]]).expand(n, 2)
    front = torch.ones(n, k, dtype=torch.bool)
    cfg = noise.NoiseConfig()
    zero_kp, zero_vis = noise.apply_noise(g, clean, front, size, cfg, level=0.0)
    assert torch.equal(zero_kp, clean) and (zero_vis >= 0.5).all()
    kp, vis = noise.apply_noise(g, clean, front, size, cfg, level=1.0)
    err = (kp - clean).norm(dim=-1)
    person = noise.person_size(clean, front)
    assert 0.005 < float((err / person[:, None]).median()) < 0.05  # jitter scales with the person
    hidden = (vis < 0.5).float().mean()
    assert 0.02 < hidden < 0.2  # dropped points
    big_kp, _ = noise.apply_noise(g, clean * 2, front, size * 2, cfg, level=1.0)
    assert (big_kp - clean * 2).norm(dim=-1).median() > 1.5 * err.median()
    # truncation: points outside the image become invisible
    out = clean.clone()
    out[:, :5, 0] = -10.0
    _, vis_t = noise.apply_noise(g, out, front, size, cfg, level=0.0)
    assert (vis_t[:, :5] < 0.5).all() and (vis_t[:, 5:] >= 0.5).all()
    # points behind the camera are invisible
    _, vis_b = noise.apply_noise(g, clean, torch.zeros_like(front), size, cfg, level=0.0)
    assert (vis_b < 0.5).all()


def test_left_right_swaps_happen():
    g = torch.Generator().manual_seed(2)
    n = 5000
    clean = torch.arange(33, dtype=torch.float32)[None, :, None].expand(n, 33, 2) * 5 + 100
    cfg = noise.NoiseConfig(jitter=0.0, outlier_prob=0.0, bias=0.0, drop_prob=0.0, group_drop_prob=0.0)
    kp, _ = noise.apply_noise(g, clean, torch.ones(n, 33, dtype=torch.bool), torch.full((n, 2), 1000.0), cfg, 1.0)
    l, r = noise.BLAZEPOSE_LR_PAIRS[0]
    swapped = (kp[:, l] == clean[:, r]).all(-1).float().mean()
    assert 0.005 < swapped < 0.2


def test_mirror_is_an_involution():
    rot = geometry.axis_angle_to_matrix(torch.randn(10, 24, 3))
    assert torch.allclose(sampling.mirror_rotations(sampling.mirror_rotations(rot)), rot, atol=1e-6)


def test_random_poses_respect_limits():
    limits = sampling.limits_tensor(tuple(JOINT_INDEX))
    rot = sampling.sample_random_poses(torch.Generator().manual_seed(0), 1000, limits)
    aa = geometry.matrix_to_axis_angle(rot)
    knee = aa[:, JOINT_INDEX["left_knee"]]
    assert (knee[:, 0] >= -1e-4).all() and (knee[:, 0] <= np.radians(140) + 1e-4).all()
