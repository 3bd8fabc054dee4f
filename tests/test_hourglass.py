"""The volumetric hourglass: soft-argmax, voxel targets, losses, one training step."""
import torch

from smplr_core.frontends.hourglass.losses import hourglass_loss, voxel_loss
from smplr_core.frontends.hourglass.network import CONFIGS, HourglassConfig, VolumetricHourglass
from smplr_core.frontends.hourglass.volume import (VOLUME_SIZE_M, grid_to_volume, soft_argmax_3d,
                                                   volume_to_grid, voxel_targets)

TINY = HourglassConfig(stacks=2, features=16, input_size=32, depth_bins=4, num_points=5, levels=2)


def test_soft_argmax_recovers_a_known_peak():
    heat = torch.full((1, 2, 16, 32, 32), -30.0)
    heat[0, 0, 5, 20, 7] = 30.0   # depth bin 5, row 20, column 7
    heat[0, 1, 12, 3, 30] = 30.0
    grid, probs = soft_argmax_3d(heat)
    torch.testing.assert_close(grid[0, 0], torch.tensor([7.5, 20.5, 5.5]))
    torch.testing.assert_close(grid[0, 1], torch.tensor([30.5, 3.5, 12.5]))
    torch.testing.assert_close(probs.sum(dim=(2, 3, 4)), torch.ones(1, 2))


def test_soft_argmax_of_a_gaussian_target_returns_its_centre():
    hwd = (64, 64, 16)
    points = torch.tensor([[[0.31, -0.52, 0.17], [-0.8, 0.2, -0.4]]])
    target = voxel_targets(points, hwd)
    grid, _ = soft_argmax_3d(torch.log(target + 1e-12))
    torch.testing.assert_close(grid_to_volume(grid, hwd), points, atol=2e-3, rtol=0)


def test_voxel_targets_shape_peak_and_grid_round_trip():
    hwd = (32, 32, 8)
    points = (torch.rand(3, 42, 3) - 0.5) * 2.0
    target = voxel_targets(points, hwd)
    assert target.shape == (3, 42, 8, 32, 32)
    assert float(target.max()) <= 1.0 and float(target.max()) > 0.6
    torch.testing.assert_close(grid_to_volume(volume_to_grid(points, hwd), hwd), points)
    corner = volume_to_grid(torch.tensor([[[-VOLUME_SIZE_M / 2] * 3]]), hwd)
    torch.testing.assert_close(corner, torch.zeros(1, 1, 3))


def test_voxel_loss_is_zero_for_the_matching_distribution():
    target = voxel_targets(torch.zeros(1, 1, 3), (8, 8, 4))
    probs = target / target.sum()
    assert float(voxel_loss(probs, target)) < 1e-10
    assert float(voxel_loss(torch.full_like(probs, 1 / probs.numel()), target)) > 0.1


def test_network_output_shapes_for_named_configs():
    net = VolumetricHourglass(CONFIGS["small"]).eval()
    c = CONFIGS["small"]
    with torch.no_grad():
        outs = net(torch.rand(2, 3, c.input_size, c.input_size))
    assert len(outs) == c.stacks
    assert outs[-1].shape == (2, 42, c.depth_bins, c.heatmap_size, c.heatmap_size)
    paper = CONFIGS["paper"]
    assert (paper.stacks, paper.features, paper.input_size, paper.grid_hwd) == (5, 256, 256, (64, 64, 16))


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    net = VolumetricHourglass(TINY)
    images = torch.rand(4, 3, TINY.input_size, TINY.input_size)
    targets = (torch.rand(4, TINY.num_points, 3) - 0.5) * 1.5
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss, _, _ = hourglass_loss(net(images), targets, TINY.grid_hwd)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
