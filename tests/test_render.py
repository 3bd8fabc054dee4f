"""The synthetic renderer: z-buffer correctness, silhouettes and the paper's crop geometry."""
import numpy as np
import torch

from smplr_core.frontends.hourglass.volume import (VOLUME_SIZE_M, camera_to_volume, crop_intrinsics,
                                                   crop_window, volume_to_root_relative)
from smplr_core.synth.raster import render_mesh

SIZE = 64
INTRINSICS = np.array([60.0, 60.0, 32.0, 32.0], np.float32)
UP = np.array([0.0, 0.0, -1.0], np.float32)  # light from the camera


def _triangle(z: float, half: float = 1.0) -> np.ndarray:
    """A large triangle facing the camera at depth z, covering the image centre."""
    return np.array([[-half, -half, z], [half, -half, z], [0.0, half, z]], np.float32)


def _render(vertices, faces, colours):
    background = np.zeros((SIZE, SIZE, 3), np.float32)
    return render_mesh(vertices, faces, colours, INTRINSICS, background, UP, ambient=1.0)


def test_nearer_triangle_occludes_farther_in_either_draw_order():
    near, far = _triangle(2.0, 0.5), _triangle(4.0, 2.0)
    red, blue = np.array([1.0, 0, 0], np.float32), np.array([0, 0, 1.0], np.float32)
    for order in ((near, far), (far, near)):
        vertices = np.concatenate(order)
        faces = np.array([[0, 1, 2], [3, 4, 5]])
        first_is_near = order[0] is near
        colours = np.concatenate([np.tile(red if first_is_near else blue, (3, 1)),
                                  np.tile(blue if first_is_near else red, (3, 1))])
        image, depth, face_ids = _render(vertices, faces, colours)
        centre = (SIZE // 2, SIZE // 2)
        np.testing.assert_allclose(image[centre], red, atol=1e-5)
        assert depth[centre] == np.float32(2.0)
        # Outside the near triangle but inside the far one, the far one shows.
        corner = (10, SIZE // 2)  # above the near triangle, inside the far one
        np.testing.assert_allclose(image[corner], blue, atol=1e-5)
        assert abs(depth[corner] - 4.0) < 1e-5
        assert face_ids[corner] == (1 if first_is_near else 0)


def test_depth_is_interpolated_exactly_on_a_slanted_plane():
    # Plane z = 3 + 0.5 x: the depth buffer must equal the plane depth under each pixel centre.
    vertices = np.array([[-2, -2, 2], [2, -2, 4], [2, 2, 4], [-2, 2, 2]], np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    _, depth, _ = _render(vertices, faces, np.ones((4, 3), np.float32))
    v, u = np.nonzero(np.isfinite(depth))
    ray_x = (u + 0.5 - INTRINSICS[2]) / INTRINSICS[0]
    expected = 3.0 / (1.0 - 0.5 * ray_x)  # z = 3 + 0.5 * ray_x * z
    np.testing.assert_allclose(depth[v, u], expected, rtol=1e-4)


def test_silhouette_matches_projected_vertices():
    rng = np.random.default_rng(0)
    # A random closed blob (perturbed icosphere-like fan) in front of the camera.
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    radius = 0.6 + 0.2 * rng.random(24)
    rim = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.full(24, 3.0)], -1)
    vertices = np.concatenate([[[0.0, 0.0, 2.8]], rim]).astype(np.float32)
    faces = np.array([[0, 1 + i, 1 + (i + 1) % 24] for i in range(24)])
    _, depth, _ = _render(vertices, faces, np.ones((25, 3), np.float32))
    mask = np.isfinite(depth)
    # Reference silhouette: pixel centres inside the projected rim polygon.
    import cv2
    proj = vertices[1:, :2] / vertices[1:, 2:] * INTRINSICS[:2] + INTRINSICS[2:]
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    inside = np.array([cv2.pointPolygonTest(proj.astype(np.float32), (float(x), float(y)), False) >= 0
                       for x, y in zip(xs.ravel(), ys.ravel())]).reshape(SIZE, SIZE)
    assert mask.sum() > 300
    assert (mask != inside).sum() <= 0.02 * inside.sum()  # only boundary pixels may differ


def test_lambert_shading_darkens_with_light_angle():
    vertices, faces = _triangle(3.0), np.array([[0, 1, 2]])
    white = np.ones((3, 3), np.float32)
    background = np.zeros((SIZE, SIZE, 3), np.float32)
    lit, _, _ = render_mesh(vertices, faces, white, INTRINSICS, background, UP, ambient=0.0)
    slanted = np.array([1.0, 0.0, -1.0], np.float32)
    half, _, _ = render_mesh(vertices, faces, white, INTRINSICS, background, slanted, ambient=0.0)
    c = (SIZE // 2, SIZE // 2)
    assert abs(lit[c][0] - 1.0) < 1e-4
    assert abs(half[c][0] - np.cos(np.pi / 4)) < 1e-3


def test_crop_puts_root_at_centre_with_a_2_5_m_window():
    root = torch.tensor([[0.7, -0.4, 5.0], [-1.2, 0.3, 2.5]])
    size = 128
    intr = crop_intrinsics(root, size)
    u = intr[:, 0] * root[:, 0] / root[:, 2] + intr[:, 2]
    v = intr[:, 1] * root[:, 1] / root[:, 2] + intr[:, 3]
    torch.testing.assert_close(u, torch.full((2,), size / 2.0))
    torch.testing.assert_close(v, torch.full((2,), size / 2.0))
    # A horizontal segment of 2.5 m at the root depth spans exactly the crop.
    left = root + torch.tensor([-VOLUME_SIZE_M / 2, 0, 0])
    right = root + torch.tensor([VOLUME_SIZE_M / 2, 0, 0])
    span = intr[:, 0] * (right[:, 0] - left[:, 0]) / root[:, 2]
    torch.testing.assert_close(span, torch.full((2,), float(size)))
    # In the original image the window is f * 2.5 / z pixels wide, centred on the root.
    cam = torch.tensor([[1000.0, 1000.0, 640.0, 360.0]]).expand(2, 4)
    window = crop_window(root, cam)
    torch.testing.assert_close(window[:, 2] - window[:, 0], 1000.0 * VOLUME_SIZE_M / root[:, 2])


def test_volume_coordinates_round_trip_to_root_relative_metres():
    torch.manual_seed(0)
    root = torch.tensor([[0.7, -0.4, 5.0], [-1.2, 0.3, 2.5]])
    points = root[:, None] + (torch.rand(2, 42, 3) - 0.5)
    volume = camera_to_volume(points, root)
    assert volume[:, :, 2].abs().max() <= 0.5
    back = volume_to_root_relative(volume, root[:, 2], root[:, :2] / root[:, 2:])
    torch.testing.assert_close(back, points - root[:, None], atol=1e-5, rtol=1e-5)
