"""Limb channels of the volumetric hourglass: tube targets, network outputs, loss, checkpoints."""
import dataclasses

import pytest
import torch

from smplr_core.body import SMPL_PARENTS
from smplr_core.frontends.hourglass.losses import LIMB_LOSS_WEIGHT, hourglass_loss
from smplr_core.frontends.hourglass.network import CONFIGS, HourglassConfig, VolumetricHourglass
from smplr_core.frontends.hourglass.volume import (SMPL_BONES, grid_to_volume, limb_targets, volume_to_grid,
                                                   voxel_targets)
from smplr_core.train.hourglass import load_hourglass, parse_args, save_checkpoint

HWD = (32, 32, 8)
TINY_LIMBS = HourglassConfig(stacks=2, features=16, input_size=32, depth_bins=4, num_points=24, levels=2,
                             limbs=True)


def _bone(start_grid, end_grid, hwd=HWD):
    """One bone given in voxel indices -> (volume coordinates (1, 2, 3), bones (1, 2))."""
    grid = torch.tensor([[start_grid, end_grid]], dtype=torch.float32)
    return grid_to_volume(grid, hwd), torch.tensor([[0, 1]])


def test_bones_are_the_smpl_tree():
    assert len(SMPL_BONES) == 23 and CONFIGS["paper"].num_limbs == 23
    assert [j for _, j in SMPL_BONES] == list(range(1, 24))
    assert all(SMPL_PARENTS[j] == p for p, j in SMPL_BONES)


def test_tube_is_one_on_the_segment_and_falls_off_away_from_it():
    # From column 5 to column 20 in row 10, depth bin 2 (voxel centres).
    volume, bones = _bone([5.5, 10.5, 2.5], [20.5, 10.5, 2.5])
    tube = limb_targets(volume, bones, HWD)[0, 0]
    assert tube.shape == (8, 32, 32)
    torch.testing.assert_close(tube[2, 10, 5:21], torch.ones(16))
    assert float(tube.max()) <= 1.0 + 1e-6
    # Two bins away across the bone, and two bins beyond its end: exp(-2).
    expected = torch.exp(torch.tensor(-2.0))
    torch.testing.assert_close(tube[2, 12, 5:21], expected.expand(16))
    torch.testing.assert_close(tube[4, 10, 5:21], expected.expand(16))
    torch.testing.assert_close(tube[2, 10, 22], expected)
    torch.testing.assert_close(tube[2, 10, 3], expected)
    assert float(tube[2, 10, 28]) < 1e-5 and float(tube[2, 25, 12]) < 1e-5
    # Strictly decreasing away from the bone.
    across = tube[2, 10:16, 12]
    assert bool((across[1:] < across[:-1]).all())


def test_zero_length_bone_is_the_point_target():
    volume = (torch.rand(2, 1, 3) - 0.5) * 2.0
    both = torch.cat([volume, volume], dim=1)
    tube = limb_targets(both, torch.tensor([[0, 1]]), HWD, sigma_bins=1.5)
    torch.testing.assert_close(tube, voxel_targets(volume, HWD, 1.5), atol=1e-6, rtol=0)


def test_random_bone_matches_a_direct_distance_and_peaks_on_the_segment():
    torch.manual_seed(3)
    hwd = (16, 16, 8)
    volume = (torch.rand(3, 24, 3) - 0.5) * 2.0
    bones = torch.as_tensor(SMPL_BONES)
    tube = limb_targets(volume, bones, hwd)
    assert tube.shape == (3, 23, 8, 16, 16)
    # Every voxel centre against the segment, point by point in 3D.
    grid = volume_to_grid(volume, hwd)
    d, h, w = torch.meshgrid(torch.arange(8.0), torch.arange(16.0), torch.arange(16.0), indexing="ij")
    centres = torch.stack([w, h, d], dim=-1) + 0.5                          # (D, H, W, 3)
    a = grid[:, bones[:, 0]][:, :, None, None, None]                       # (B, L, 1, 1, 1, 3)
    b = grid[:, bones[:, 1]][:, :, None, None, None]
    t = (((centres - a) * (b - a)).sum(-1) / (b - a).pow(2).sum(-1)).clamp(0, 1)
    nearest = a + t[..., None] * (b - a)
    reference = torch.exp(-0.5 * (centres - nearest).pow(2).sum(-1))
    torch.testing.assert_close(tube, reference, atol=1e-5, rtol=0)
    # The maximum of each tube is at a voxel whose centre is within half a voxel diagonal of its segment.
    flat = tube.flatten(2).argmax(-1)                                       # (B, L)
    best = centres.reshape(-1, 3)[flat]                                     # (B, L, 3)
    dist = (best[:, :, None, None, None] - nearest).pow(2).sum(-1).flatten(2).min(-1).values.sqrt()
    assert float(dist.max()) <= 3 ** 0.5 / 2 + 1e-4
    assert float(tube.amax(dim=(2, 3, 4)).min()) > 0.6


def test_limb_config_outputs_extra_channels_and_its_loss_reaches_the_heads():
    torch.manual_seed(0)
    c = TINY_LIMBS
    net = VolumetricHourglass(c)
    assert all(h.out_channels == (24 + 23) * c.depth_bins for h in net.heads)
    assert all(m.in_channels == (24 + 23) * c.depth_bins for m in net.merge_heads)
    images = torch.rand(2, 3, c.input_size, c.input_size)
    points, limbs = net.forward_with_limbs(images)
    hw = c.heatmap_size
    assert [p.shape for p in points] == [(2, 24, c.depth_bins, hw, hw)] * c.stacks
    assert [limb.shape for limb in limbs] == [(2, 23, c.depth_bins, hw, hw)] * c.stacks
    for a, b in zip(net(images), points):
        torch.testing.assert_close(a, b)
    target = (torch.rand(2, 24, 3) - 0.5) * 1.5
    total, parts, pred = hourglass_loss(points, target, c.grid_hwd, limbs)
    without, parts_without, pred_without = hourglass_loss(points, target, c.grid_hwd)
    assert "limb" in parts and "limb" not in parts_without and parts["limb"] > 0
    torch.testing.assert_close(pred, pred_without)
    limb_term = total - without
    torch.testing.assert_close(float(limb_term.detach()), LIMB_LOSS_WEIGHT * parts["limb"], rtol=1e-4, atol=1e-6)
    limb_term.backward()
    k_d = 24 * c.depth_bins
    for head in net.heads:  # every stack's limb channels get a gradient
        assert float(head.weight.grad[k_d:].abs().sum()) > 0
    assert float(net.heads[-1].weight.grad[:k_d].abs().sum()) == 0  # the last stack's points: none
    # Through the merge, the first stack's limb output also shapes the second stack.
    assert float(net.merge_heads[0].weight.grad[:, k_d:].abs().sum()) > 0


def test_limb_free_config_keeps_the_previous_network():
    c = CONFIGS["small"]
    assert not c.limbs and c.num_limbs == 0 and not CONFIGS["medium"].limbs
    net = VolumetricHourglass(c)
    assert all(h.out_channels == 42 * c.depth_bins for h in net.heads)
    assert all(m.in_channels == 42 * c.depth_bins for m in net.merge_heads)
    tiny = dataclasses.replace(TINY_LIMBS, limbs=False, num_points=5)
    net = VolumetricHourglass(tiny).eval()
    with torch.no_grad():
        points, limbs = net.forward_with_limbs(torch.rand(1, 3, 32, 32))
    assert limbs == [] and [p.shape for p in points] == [(1, 5, 4, 8, 8)] * 2
    with pytest.raises(ValueError):
        HourglassConfig(stacks=1, features=16, input_size=32, depth_bins=4, num_points=5, limbs=True)


def test_old_checkpoint_config_without_the_field_loads(tmp_path):
    old = {"stacks": 2, "features": 16, "input_size": 32, "depth_bins": 4, "num_points": 42, "levels": 2}
    assert HourglassConfig(**old).limbs is False
    net = VolumetricHourglass(HourglassConfig(**old))
    path = tmp_path / "old.pt"
    save_checkpoint(path, net, {})
    state = torch.load(path, weights_only=False)
    del state["config"]["limbs"]  # as written before limb channels existed
    torch.save(state, path)
    loaded, _ = load_hourglass(path)
    assert loaded.config == HourglassConfig(**old)


def test_limb_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    net = VolumetricHourglass(TINY_LIMBS).eval()
    save_checkpoint(tmp_path / "limbs.pt", net, {})
    loaded, state = load_hourglass(tmp_path / "limbs.pt")
    assert state["config"]["limbs"] is True and loaded.config == TINY_LIMBS
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.forward_with_limbs(x)[1][-1], net.forward_with_limbs(x)[1][-1])
        torch.testing.assert_close(loaded.predict_volume(x), net.predict_volume(x))


def test_training_option():
    assert parse_args([]).limbs is None
    assert parse_args(["--limbs"]).limbs is True
    assert parse_args(["--config", "paper", "--no-limbs"]).limbs is False


def test_a_few_training_steps_with_limbs_lower_the_loss():
    torch.manual_seed(0)
    c = TINY_LIMBS
    net = VolumetricHourglass(c)
    images = torch.rand(4, 3, c.input_size, c.input_size)
    targets = (torch.rand(4, c.num_points, 3) - 0.5) * 1.5
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses, limb_parts = [], []
    for _ in range(20):
        points, limbs = net.forward_with_limbs(images)
        loss, parts, _ = hourglass_loss(points, targets, c.grid_hwd, limbs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        limb_parts.append(parts["limb"])
    assert losses[-1] < 0.85 * losses[0]
    assert limb_parts[-1] < 0.85 * limb_parts[0]
