"""Synthetic renders of the body model: determinism, ground truth that matches the pixels."""
import cv2
import numpy as np
import pytest
import torch

from smplr_core.body import load_body_model
from smplr_core.frontends.hourglass.volume import VOLUME_SIZE_M, crop_intrinsics
from smplr_core.synth.raster import render_mesh
from smplr_core.synth.renderer import CROP_CENTRE_JITTER_M, SyntheticRenderer

SIZE = 96


@pytest.fixture(scope="module")
def renderer():
    return SyntheticRenderer(load_body_model(), crop_size=SIZE)


def test_batch_shapes_and_determinism(renderer):
    a = renderer.render(np.random.default_rng(7), 3)
    b = renderer.render(np.random.default_rng(7), 3)
    assert a.images.shape == (3, SIZE, SIZE, 3) and a.images.dtype == np.uint8
    assert a.points_cam.shape == (3, 42, 3) and a.volume_xyz.shape == (3, 42, 3)
    np.testing.assert_array_equal(a.images, b.images)
    torch.testing.assert_close(a.points_cam, b.points_cam)
    # The whole body lies inside the 2.5 m volume; the pelvis near the crop centre.
    assert float(a.volume_xyz.abs().max()) < VOLUME_SIZE_M / 2
    assert float(a.volume_xyz[:, 0, :2].abs().max()) <= CROP_CENTRE_JITTER_M * 1.01


def test_threaded_rendering_gives_the_same_images():
    body = load_body_model()
    one = SyntheticRenderer(body, crop_size=SIZE, workers=1).render(np.random.default_rng(3), 4)
    two = SyntheticRenderer(body, crop_size=SIZE, workers=2).render(np.random.default_rng(3), 4)
    np.testing.assert_array_equal(one.images, two.images)


def test_projected_vertices_fall_on_the_rendered_silhouette(renderer):
    points, root, vertices_rel, _, _ = renderer.pose_bodies(np.random.default_rng(11), 2)
    intr = crop_intrinsics(root, SIZE).numpy()
    for i in range(2):
        verts = (vertices_rel[i] + root[i]).numpy()
        background = np.zeros((SIZE, SIZE, 3), np.float32)
        _, depth, _ = render_mesh(verts, renderer.faces, np.ones_like(verts), intr[i], background,
                                  np.array([0, 0, -1.0], np.float32))
        mask = np.isfinite(depth)
        u = intr[i, 0] * verts[:, 0] / verts[:, 2] + intr[i, 2]
        v = intr[i, 1] * verts[:, 1] / verts[:, 2] + intr[i, 3]
        inside = (u >= 0) & (u < SIZE) & (v >= 0) & (v < SIZE)
        assert inside.all()
        # Pixels are sampled at their centres: a vertex of a sub-pixel part (a finger) may land
        # one pixel off the covered area, so compare against the silhouette grown by one pixel.
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        hit = grown[v.astype(int), u.astype(int)]
        assert hit.mean() > 0.995
        # The silhouette is no larger than the vertices' footprint (1-pixel dilation).
        footprint = np.zeros_like(mask)
        for du in (-1, 0, 1):
            for dv in (-1, 0, 1):
                footprint[np.clip(v.astype(int) + dv, 0, SIZE - 1), np.clip(u.astype(int) + du, 0, SIZE - 1)] = True
        assert (mask & ~footprint).sum() <= 0.02 * mask.sum()
        # The pelvis projects onto the crop centre (the crop is built around the root).
        pu = intr[i, 0] * points[i, 0, 0] / points[i, 0, 2] + intr[i, 2]
        assert abs(float(pu) - SIZE / 2) < 1e-3


def test_decimated_render_mesh_keeps_the_silhouette(renderer):
    assert len(renderer.render_faces) < 0.5 * len(renderer.faces)
    _, root, vertices_rel, _, _ = renderer.pose_bodies(np.random.default_rng(4), 1)
    intr = crop_intrinsics(root, 256).numpy()[0]
    verts = (vertices_rel[0] + root[0]).numpy()
    background = np.zeros((256, 256, 3), np.float32)
    masks = []
    for faces in (renderer.faces, renderer.render_faces):
        _, depth, _ = render_mesh(verts, faces, np.ones_like(verts), intr, background,
                                  np.array([0, 0, -1.0], np.float32))
        masks.append(np.isfinite(depth))
    iou = (masks[0] & masks[1]).sum() / (masks[0] | masks[1]).sum()
    assert iou > 0.97
