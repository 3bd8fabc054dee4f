"""The default hourglass (``real``): the volumetric stacks on BlazePose's frozen real-image features.
Its features, its checkpoint (the trainable part only), held-out renders and a real frame."""
import numpy as np
import pytest
import torch

from node_helpers import sample_frame
from smplr_core.body import load_body_model
from smplr_core.frontends.blazepose.assets import load_converted
from smplr_core.frontends.blazepose.graph import TfliteGraphNet
from smplr_core.frontends.blazepose.networks import BlazePoseFeatures, feature_slots
from smplr_core.frontends.hourglass.evaluate import (NUM_JOINTS, facing_angle_deg, joint_errors_mm,
                                                     mean_pose_baseline, predict_root_relative, upright)
from smplr_core.frontends.hourglass.frontend import DEFAULT_WEIGHTS, REAL_WEIGHTS, shipped_weights
from smplr_core.frontends.hourglass.network import CONFIGS, VolumetricHourglass, load_hourglass
from smplr_core.synth.renderer import SyntheticRenderer
from smplr_core.train.hourglass import HELD_OUT_SEED, save_checkpoint


def test_features_are_the_landmark_networks_own_maps():
    torch.manual_seed(0)
    data = load_converted("full")
    decoder, heatmap, deep = feature_slots(data["graph"])
    shapes = data["graph"]["shapes"]
    assert shapes[heatmap] == [1, 64, 64, 39] and shapes[decoder][1:3] == [64, 64] and shapes[deep][1:3] == [8, 8]
    x = torch.rand(2, 3, 256, 256)
    feats = BlazePoseFeatures("full", optimise=False)(x)
    assert feats.decoder.shape == (2, 48, 64, 64) and feats.deep.shape == (2, 864, 8, 8)
    # The heat-map equals the one the whole landmark network outputs.
    whole = TfliteGraphNet(data["graph"], outputs=[3])
    wanted = whole.state_dict().keys()
    whole.load_state_dict({"convs." + k: v for k, v in data["state_dict"].items() if "convs." + k in wanted})
    with torch.no_grad():
        (reference,) = whole.eval()(x)
    torch.testing.assert_close(feats.heatmap, reference, atol=1e-4, rtol=1e-4)
    fused = BlazePoseFeatures("full")(x)  # the inference graph gives the same maps
    torch.testing.assert_close(fused.heatmap, reference, atol=1e-3, rtol=1e-3)


def test_checkpoint_holds_the_trainable_part_and_loads_back(tmp_path):
    torch.manual_seed(0)
    model = VolumetricHourglass(CONFIGS["real"]).eval()
    assert not any(k.startswith("stem.backbone") for k in model.state_dict())
    assert all(p.requires_grad for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) < 1_000_000  # BlazePose's 1.6 M are not among them
    path = tmp_path / "real.pt"
    save_checkpoint(path, model, {"step": 0})
    back, state = load_hourglass(path)
    assert state["config"]["backbone"] == "blazepose"
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        torch.testing.assert_close(back.predict_volume(x), model.predict_volume(x))
    grid = model(x)[-1]
    assert grid.shape == (1, 42, 16, 32, 32) and len(model(x)) == CONFIGS["real"].stacks


def test_a_checkpoint_without_a_backbone_field_is_the_papers_stem():
    _, state = load_hourglass(shipped_weights("small"))
    assert "backbone" not in state["config"]
    assert load_hourglass(shipped_weights("small"))[0].config.backbone == "image"
    with pytest.raises(ValueError, match="256"):
        CONFIGS["real"].__class__(stacks=1, features=8, input_size=128, depth_bins=4, backbone="blazepose")
    with pytest.raises(ValueError, match="backbone"):
        CONFIGS["real"].__class__(stacks=1, features=8, input_size=128, depth_bins=4, backbone="resnet")


def test_shipped_default_network_beats_the_mean_pose_on_held_out_renders():
    assert DEFAULT_WEIGHTS == REAL_WEIGHTS
    model, state = load_hourglass(REAL_WEIGHTS)
    assert state["config"]["backbone"] == "blazepose" and state["metrics"]["mpjpe_mm"] > 0
    renderer = SyntheticRenderer(load_body_model(), crop_size=256, workers=2)
    held_out = renderer.render(np.random.default_rng(HELD_OUT_SEED + 1), 24)
    target = held_out.points_cam - held_out.root_cam[:, None]
    pred = predict_root_relative(model, held_out.images, held_out.centre_cam)
    train_points, train_root, *_ = renderer.pose_bodies(np.random.default_rng(5), 256)
    trivial = joint_errors_mm(mean_pose_baseline(train_points - train_root[:, None], 24)[:, :NUM_JOINTS],
                              target[:, :NUM_JOINTS])
    ours = joint_errors_mm(pred[:, :NUM_JOINTS], target[:, :NUM_JOINTS])
    # ~0.53 of the mean pose's error on the benchmark's 128 renders (docs/hourglass.md).
    assert ours["mpjpe_mm"] < 0.7 * trivial["mpjpe_mm"], (ours, trivial)


def test_on_a_real_frame_the_default_network_faces_like_the_default_path_and_stands():
    from smplr_core.frame import FrameSettings, Reconstructor, to_numpy
    from smplr_core.frontends.hourglass.pipeline import HourglassPipeline
    from smplr_core.reconstruct import default_intrinsics

    rgb = sample_frame(120)
    intr = default_intrinsics(rgb.shape[1], rgb.shape[0])
    default = Reconstructor(settings=FrameSettings(max_distance_m=0.0))
    res = default(rgb, intr)
    assert len(res) >= 1
    boxes = np.stack([np.concatenate([k.min(0), k.max(0)]) for k in res.keypoints_2d]).astype(np.float32)
    lift = HourglassPipeline.load()
    with torch.inference_mode():
        ours = to_numpy(lift.lift(rgb, torch.from_numpy(res.keypoints_2d), torch.ones(len(res), 33),
                                  boxes, intr))
    assert ours["valid"].all() and upright(ours["joints"]).all()
    assert (facing_angle_deg(ours["joints"], res.joints) < 45.0).all()


def test_facing_angle_and_upright_check():
    from smplr_core.body.joint_names import JOINT_INDEX as J

    joints = np.zeros((1, 24, 3))
    # A body facing the camera in the optical frame (y down): its left is +x.
    for name, (x, y) in {"pelvis": (0, 0), "left_hip": (0.1, 0), "right_hip": (-0.1, 0), "neck": (0, -0.5),
                         "head": (0, -0.7), "left_shoulder": (0.2, -0.45), "right_shoulder": (-0.2, -0.45),
                         "left_knee": (0.1, 0.45), "right_knee": (-0.1, 0.45), "left_ankle": (0.1, 0.9),
                         "right_ankle": (-0.1, 0.9)}.items():
        joints[0, J[name]] = (x, y, 0.0)
    assert upright(joints).all() and not upright(-joints).any()
    yaw = np.radians(90.0)
    rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    np.testing.assert_allclose(facing_angle_deg(joints @ rot.T, joints), [90.0], atol=1e-6)
    mirrored = joints.copy()
    mirrored[..., 0] *= -1  # left and right swapped in place: the torso faces the other way
    np.testing.assert_allclose(facing_angle_deg(mirrored, joints), [180.0], atol=1e-6)
