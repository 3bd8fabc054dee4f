"""Qualitative figures of the hourglass front-end on real images and on held-out renders.

    python -m smplr_core.frontends.hourglass.figures   # writes docs/figures/hourglass_*.png

Real images: scikit-image's astronaut, OpenCV's messi5 and a frame of vtest.avi (from the media
cache that setup prepares). Boxes come from the default detector (BlazePose's person boxes); each
panel shows the crop with the predicted skeleton projected into it and a side view of the 3D
joints (root-relative, camera frame seen from the right).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from smplr_core.body.joint_names import SMPL_PARENTS
from smplr_core.frontends.hourglass.frontend import HourglassFrontend

REPO = Path(__file__).resolve().parents[3]
FIGURES = REPO / "docs" / "figures"
MEDIA = REPO / ".work" / "assets" / "media"
PANEL = 256


def draw_skeleton(image: np.ndarray, points_2d: np.ndarray, colour=(255, 60, 60)) -> np.ndarray:
    """Draw the 24-joint SMPL tree (points_2d (>=24, 2) pixels) and the landmarks (green)."""
    out = image.copy()
    for j, p in enumerate(SMPL_PARENTS):
        if p >= 0:
            a, b = points_2d[j], points_2d[p]
            cv2.line(out, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, 2, cv2.LINE_AA)
    for q in points_2d[24:]:
        cv2.circle(out, (int(q[0]), int(q[1])), 2, (60, 220, 60), -1, cv2.LINE_AA)
    return out


def side_view(joints_rel: np.ndarray, size: int = PANEL) -> np.ndarray:
    """The 24 joints seen from the camera's right (z to the right, y down), 2.5 m across."""
    canvas = np.full((size, size, 3), 245, np.uint8)
    scale = size / 2.5
    pts = np.stack([joints_rel[:, 2] * scale + size / 2, joints_rel[:, 1] * scale + size / 2], -1)
    return draw_skeleton(canvas, pts)


def person_boxes(image: np.ndarray, max_people: int = 4) -> np.ndarray:
    """Person boxes from the default detector (BlazePose), (N, 4)."""
    from smplr_core.frontends import PoseTracker

    people = PoseTracker(max_people=max_people)(image)
    if not people:
        return np.zeros((0, 4), np.float32)
    return np.stack([p.box for p in people]).astype(np.float32)


def panels_for_image(frontend: HourglassFrontend, image: np.ndarray, boxes: np.ndarray,
                     focal_px: float | None = None) -> list[np.ndarray]:
    """One (crop with skeleton | side view) panel per person."""
    h, w = image.shape[:2]
    f = focal_px or 1.2 * max(h, w)  # a typical field of view when the camera is unknown
    out = frontend(image, boxes, (f, f, w / 2, h / 2))
    panels = []
    for i, (x0, y0, x1, y1) in enumerate(out.windows):
        s = PANEL / (x1 - x0)
        m = np.array([[s, 0, -s * x0], [0, s, -s * y0]], np.float32)
        crop = cv2.warpAffine(image, m, (PANEL, PANEL), borderValue=(0, 0, 0))
        pts = (out.keypoints_2d[i] - [x0, y0]) * s
        panels.append(np.concatenate([draw_skeleton(crop, pts), side_view(out.joints[i])], axis=1))
    return panels


def real_images() -> dict[str, np.ndarray]:
    """RGB uint8 test images that are present on this machine."""
    images = {}
    try:
        from skimage import data
        images["astronaut"] = data.astronaut()
    except ImportError:
        pass
    messi = MEDIA / "messi5.jpg"
    if messi.is_file():
        images["messi5"] = cv2.imread(str(messi))[..., ::-1].copy()
    vtest = MEDIA / "vtest.avi"
    if vtest.is_file():
        cap = cv2.VideoCapture(str(vtest))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
        ok, frame = cap.read()
        cap.release()
        if ok:
            images["vtest"] = frame[..., ::-1].copy()
    return images


def write_real_figure(frontend: HourglassFrontend, path: Path) -> list[str]:
    rows, names = [], []
    for name, image in real_images().items():
        boxes = person_boxes(image)
        for panel in panels_for_image(frontend, image, boxes)[:2]:
            cv2.putText(panel, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1, cv2.LINE_AA)
            rows.append(panel)
            names.append(name)
    if rows:
        grid = [np.concatenate(rows[i:i + 2] + [np.zeros_like(rows[0])] * (2 - len(rows[i:i + 2])), axis=1)
                for i in range(0, len(rows), 2)]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.concatenate(grid, axis=0)[..., ::-1])
    return names


def write_render_figure(frontend: HourglassFrontend, path: Path, count: int = 6) -> None:
    """Held-out renders: predicted (red) vs ground-truth (blue) skeleton."""
    from smplr_core.body import load_body_model
    from smplr_core.synth.renderer import SyntheticRenderer
    from smplr_core.train.hourglass import HELD_OUT_SEED

    size = frontend.crop_size
    batch = SyntheticRenderer(load_body_model(), crop_size=size).render(np.random.default_rng(HELD_OUT_SEED), count)
    from smplr_core.frontends.hourglass.evaluate import images_to_tensor
    from smplr_core.frontends.hourglass.volume import VOLUME_SIZE_M
    import torch
    with torch.no_grad():
        pred = frontend.model.predict_volume(images_to_tensor(batch.images)).numpy()
    tiles = []
    for i in range(count):
        img = cv2.resize(batch.images[i], (PANEL, PANEL), interpolation=cv2.INTER_LINEAR)
        to_px = lambda v: (v[:, :2] / VOLUME_SIZE_M + 0.5) * PANEL  # noqa: E731
        img = draw_skeleton(img, to_px(batch.volume_xyz[i].numpy()), colour=(60, 60, 255))
        tiles.append(draw_skeleton(img, to_px(pred[i])))
    grid = np.concatenate([np.concatenate(tiles[:3], 1), np.concatenate(tiles[3:6], 1)], 0)
    cv2.imwrite(str(path), grid[..., ::-1])


def main() -> None:
    """Figures of the shipped small network, and of the GPU-trained medium one (``*_medium.png``)."""
    from smplr_core.frontends.hourglass.frontend import MEDIUM_WEIGHTS

    for suffix, weights in (("", None), ("_medium", MEDIUM_WEIGHTS)):
        frontend = HourglassFrontend.load(weights)
        real, renders = FIGURES / f"hourglass_real{suffix}.png", FIGURES / f"hourglass_renders{suffix}.png"
        names = write_real_figure(frontend, real)
        write_render_figure(frontend, renders)
        print(f"wrote {real} ({', '.join(names) or 'no real images found'}) and {renders}")


if __name__ == "__main__":
    main()
