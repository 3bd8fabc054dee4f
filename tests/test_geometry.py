"""Geometry: rotation conversions round-trip, Procrustes recovers a similarity, projection is a pinhole."""
import math

import torch

from smplr_core import geometry as g


def _random_rotations(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=gen, dtype=torch.float64) * math.pi
    return axis * angle


def test_axis_angle_matrix_round_trip():
    aa = _random_rotations(1000)
    m = g.axis_angle_to_matrix(aa)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(m @ m.transpose(-1, -2), eye.expand_as(m), atol=1e-12)
    assert torch.allclose(torch.linalg.det(m), torch.ones(1000, dtype=torch.float64), atol=1e-12)
    back = g.matrix_to_axis_angle(m)
    assert torch.allclose(g.axis_angle_to_matrix(back), m, atol=1e-9)
    inner = aa.norm(dim=-1) < math.pi - 1e-3  # away from the pi ambiguity the vector itself returns
    assert torch.allclose(back[inner], aa[inner], atol=1e-8)


def test_identity_and_small_angles_have_finite_gradients():
    aa = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    m = g.axis_angle_to_matrix(aa)
    assert torch.allclose(m, torch.eye(3, dtype=torch.float64).expand(4, 3, 3))
    m.sum().backward()
    assert torch.isfinite(aa.grad).all()
    tiny = torch.tensor([[1e-7, -2e-7, 3e-7]], dtype=torch.float64)
    assert torch.allclose(g.matrix_to_axis_angle(g.axis_angle_to_matrix(tiny)), tiny, atol=1e-12)


def test_angle_pi_round_trip():
    aa = torch.tensor([[math.pi, 0.0, 0.0], [0.0, 0.0, -math.pi]], dtype=torch.float64)
    m = g.axis_angle_to_matrix(aa)
    assert torch.allclose(g.axis_angle_to_matrix(g.matrix_to_axis_angle(m)), m, atol=1e-9)


def test_rot6d_round_trip_and_orthonormalisation():
    m = g.axis_angle_to_matrix(_random_rotations(500, seed=1))
    assert torch.allclose(g.rot6d_to_matrix(g.matrix_to_rot6d(m)), m, atol=1e-12)
    noisy = g.matrix_to_rot6d(m) + 0.1 * torch.randn(500, 6, dtype=torch.float64)
    r = g.rot6d_to_matrix(noisy)
    eye = torch.eye(3, dtype=torch.float64).expand_as(r)
    assert torch.allclose(r @ r.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(500, dtype=torch.float64), atol=1e-12)


def test_quaternion_round_trip():
    m = g.axis_angle_to_matrix(_random_rotations(300, seed=2))
    q = g.matrix_to_quaternion(m)
    assert torch.allclose(q.norm(dim=-1), torch.ones(300, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(g.quaternion_to_matrix(q), m, atol=1e-10)


def test_procrustes_recovers_similarity():
    gen = torch.Generator().manual_seed(3)
    target = torch.randn(8, 41, 3, generator=gen, dtype=torch.float64)
    rot = g.axis_angle_to_matrix(_random_rotations(8, seed=4))
    pred = 0.7 * target @ rot.transpose(1, 2) + torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    aligned = g.procrustes_align(pred, target)
    assert torch.allclose(aligned, target, atol=1e-9)


def test_procrustes_never_reflects():
    target = torch.randn(2, 20, 3, dtype=torch.float64)
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    aligned = g.procrustes_align(mirrored, target)
    # a reflection cannot be undone by a rotation: a residual must remain
    assert (aligned - target).norm(dim=-1).mean() > 1e-3


def test_project_points_pinhole():
    pts = torch.tensor([[[0.0, 0.0, 2.0], [1.0, -0.5, 4.0]]])
    k = torch.tensor([[1000.0, 900.0, 320.0, 240.0]])
    uv = g.project_points(pts, k)
    assert torch.allclose(uv, torch.tensor([[[320.0, 240.0], [570.0, 127.5]]]))


def test_rotation_between_maps_directions():
    a = torch.nn.functional.normalize(torch.randn(100, 3, dtype=torch.float64), dim=-1)
    b = torch.nn.functional.normalize(torch.randn(100, 3, dtype=torch.float64), dim=-1)
    r = g.rotation_between(a, b)
    assert torch.allclose((r @ a[..., None])[..., 0], b, atol=1e-9)
    r2 = g.rotation_between(a, -a)
    assert torch.allclose((r2 @ a[..., None])[..., 0], -a, atol=1e-9)
