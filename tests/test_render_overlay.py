"""smplr_core.render: the overlay drawing (projection, mesh, skeleton, side view, sheet, video)."""
import cv2
import numpy as np
import pytest

from smplr_core import render

INTR = np.array([200.0, 200.0, 160.0, 120.0])
PARENTS = [-1, 0, 1]


def _square(z: float, half: float = 0.3):
    """A square of two triangles facing the camera at depth z, centred on the optical axis."""
    vertices = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def test_project_is_the_pinhole_model_and_clamps_points_behind_the_camera():
    points = np.array([[0.0, 0.0, 2.0], [1.0, -0.5, 2.0], [1.0, 0.0, -1.0]])
    px = render.project(points, INTR)
    assert px[0].tolist() == [160.0, 120.0]
    assert px[1].tolist() == [160.0 + 200 * 0.5, 120.0 - 200 * 0.25]
    assert np.isfinite(px[2]).all() and px[2, 0] == 160.0 + 200 * 1.0 / 1e-3


def test_person_colours_are_stable_and_differ_between_neighbouring_ids():
    assert render.person_colour(3) == render.person_colour(3 + len(render.PERSON_COLOURS))
    assert len({render.person_colour(i) for i in range(len(render.PERSON_COLOURS))}) == len(render.PERSON_COLOURS)


def test_fill_mesh_covers_the_projected_square_and_nothing_else():
    vertices, faces = _square(2.0)
    canvas = np.zeros((240, 320, 3), np.uint8)
    render.fill_mesh(canvas, render.project(vertices, INTR), vertices[:, 2], vertices, faces, (255, 0, 0))
    drawn = canvas.any(axis=2)
    # the square spans 200 * 0.3 / 2 = 30 px each side of the principal point
    assert drawn[120, 160] and drawn[95, 135] and not drawn[120, 200] and not drawn[80, 160]
    assert abs(int((canvas[..., 0] > 127).sum()) - 60 * 60) < 150   # anti-aliased edges half-covered
    assert canvas[120, 160, 1] == 0 and canvas[120, 160, 0] > 200   # facing the camera: full brightness


def test_skeleton_draws_each_bone_between_its_joints():
    canvas = np.zeros((100, 100, 3), np.uint8)
    render.draw_skeleton(canvas, np.array([[10.0, 50.0], [50.0, 50.0], [50.0, 90.0]]), PARENTS, (0, 255, 0))
    assert canvas[50, 30, 1] == 255 and canvas[70, 50, 1] == 255       # on the bones
    assert not canvas[20, 20].any() and not canvas[80, 20].any()        # off them


def test_draw_people_leaves_the_input_alone_and_skips_people_without_an_estimate():
    rgb = np.full((240, 320, 3), 30, np.uint8)
    vertices, faces = _square(2.0)
    joints = np.array([[[0.0, -0.2, 2.0], [0.0, 0.0, 2.0], [0.0, 0.2, 2.0]]])
    drawn = render.draw_people(rgb, INTR, [0], joints, vertices[None], faces, PARENTS, valid=[True])
    skipped = render.draw_people(rgb, INTR, [0], joints, vertices[None], faces, PARENTS, valid=[False])
    assert (rgb == 30).all()
    assert (drawn != 30).any(axis=2)[120, 160]
    assert (skipped == rgb).all()


def test_side_view_puts_nearer_people_further_left():
    def column_of(z):
        vertices, faces = _square(z)
        joints = np.array([[[0.0, -0.2, z], [0.0, 0.0, z], [0.0, 0.2, z]]])
        view = render.side_view(240, 144, [0], joints, vertices[None], faces, PARENTS)
        colour = np.array(render.person_colour(0))
        mask = (np.abs(view.astype(int) - colour).sum(axis=2) < 60)
        return np.nonzero(mask.any(axis=0))[0].mean()

    view = render.side_view(240, 144, [], np.zeros((0, 3, 3)), None, None, PARENTS)
    assert view.shape == (240, 144, 3)
    # each alone is centred; together the nearer one is left of the farther one
    near, far = _square(2.0)[0], _square(4.0)[0]
    joints = np.stack([np.array([[0.0, -0.2, z], [0.0, 0.0, z], [0.0, 0.2, z]]) for z in (2.0, 4.0)])
    both = render.side_view(240, 144, [0, 1], joints, np.stack([near, far]), _square(2.0)[1], PARENTS)
    cols = [np.nonzero((np.abs(both.astype(int) - np.array(render.person_colour(i))).sum(axis=2) < 60).any(axis=0))[0]
            for i in (0, 1)]
    assert cols[0].mean() < cols[1].mean()
    assert column_of(2.0) == pytest.approx(72, abs=12)


def test_compose_adds_a_side_view_of_0_6_the_height():
    rgb = np.zeros((240, 320, 3), np.uint8)
    out = render.compose(rgb, INTR, [], np.zeros((0, 3, 3)), None, None, PARENTS)
    assert out.shape == (240, 320 + 144, 3)
    assert render.compose(rgb, INTR, [], np.zeros((0, 3, 3)), None, None, PARENTS,
                          with_side_view=False).shape == rgb.shape


def test_contact_sheet_tiles_rows_of_columns():
    frames = [np.full((100, 200, 3), k * 40, np.uint8) for k in range(5)]
    sheet = render.contact_sheet(frames, columns=2, tile_width=100)
    assert sheet.shape == (3 * 50, 2 * 100, 3)
    assert sheet[25, 150, 0] == 40 and sheet[125, 150, 0] == 255     # second tile; padding after the fifth


def test_video_renderer_writes_every_frame_and_a_contact_sheet(tmp_path):
    vertices, faces = _square(2.0)
    joints = np.zeros((1, 24, 3)) + np.array([0.0, 0.0, 2.0])
    writer = render.VideoRenderer(tmp_path / "out.mp4", fps=10, faces=faces)
    for k in range(3):
        writer.add_arrays(np.zeros((240, 320, 3), np.uint8), INTR, [0], joints,
                          vertices[None], repeat=2 if k == 1 else 1)
    written = writer.close()
    assert written == [str(tmp_path / "out.mp4"), str(tmp_path / "out_contact_sheet.png")]
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    assert cv2.imread(str(tmp_path / "out_contact_sheet.png")) is not None
