"""Drawing results over images with numpy + OpenCV (no ROS, no GL): mesh, skeleton, 3D side view.

Used by the ROS recorder node and by ``smplr-reconstruct --render``. Images are RGB uint8
(H, W, 3); 3D points are in the camera's optical frame (x right, y down, z forward, metres).

The mesh is drawn with the painter's algorithm: triangles sorted far to near and filled in chunks,
each chunk grouped into a few shading levels (one ``cv2.fillPoly`` call per level) — exact
ordering inside a chunk does not matter at this size and it keeps a 27k-triangle body at a few
tens of milliseconds per frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Distinct colours by track id (RGB, 0..255), shared with the RViz markers (as 0..1 floats).
PERSON_COLOURS = np.array([
    (66, 135, 245), (245, 130, 48), (60, 180, 75), (230, 25, 75), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 190), (0, 128, 128),
    (170, 110, 40), (128, 0, 0), (128, 128, 0), (0, 0, 128), (255, 225, 25), (128, 128, 128),
], dtype=np.uint8)

MESH_ALPHA = 0.6            # mesh opacity over the image
SHADE_LEVELS = 6            # distinct brightness levels of the flat shading
PAINTER_CHUNK = 1024        # triangles per depth-sorted chunk
SIDE_VIEW_HALF_HEIGHT_M = 1.3   # the side view shows at least +-this around the people
SIDE_VIEW_GRID_STEPS_M = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 1e9)
SIDE_VIEW_MIN_GRID_PX = 60      # grid lines (and their labels) at least this far apart


def font_scale(image_height: int) -> float:
    """OpenCV font scale that reads the same on small and large frames."""
    return max(0.45, image_height / 600.0)


def person_colour(track_id: int) -> tuple[int, int, int]:
    """RGB 0..255 colour of a track id (the same in the video and in RViz)."""
    return tuple(int(c) for c in PERSON_COLOURS[int(track_id) % len(PERSON_COLOURS)])


def project(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """points (N, 3) camera frame, intrinsics (4,) fx, fy, cx, cy -> (N, 2) pixels.
    Points at or behind the camera get depth clamped to 1 mm."""
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    z = np.maximum(points[:, 2], 1e-3)
    return np.stack([fx * points[:, 0] / z + cx, fy * points[:, 1] / z + cy], axis=1)


def fill_mesh(canvas: np.ndarray, points_2d: np.ndarray, depth: np.ndarray, vertices: np.ndarray,
              faces: np.ndarray, colour, view_dirs: np.ndarray | None = None) -> np.ndarray:
    """Draw a flat-shaded mesh in place; returns the (H, W) bool mask of drawn pixels' bbox area.

    points_2d (V, 2) pixel positions, depth (V,) larger = farther, vertices (V, 3) for normals,
    faces (F, 3), colour RGB, view_dirs (3,) light/view direction or None (per-face direction from
    the origin, i.e. a pinhole camera).
    """
    import cv2

    tri_3d = vertices[faces]                                   # (F, 3, 3)
    normals = np.cross(tri_3d[:, 1] - tri_3d[:, 0], tri_3d[:, 2] - tri_3d[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    if view_dirs is None:
        centres = tri_3d.mean(axis=1)
        view = centres / (np.linalg.norm(centres, axis=1, keepdims=True) + 1e-12)
    else:
        view = np.broadcast_to(np.asarray(view_dirs, np.float64), normals.shape)
    shade = 0.35 + 0.65 * np.abs((normals * view).sum(axis=1))
    level = np.clip((shade * SHADE_LEVELS).astype(int), 0, SHADE_LEVELS)
    order = np.argsort(-depth[faces].mean(axis=1))             # far first
    # Sub-pixel precision: cv2 fills with coordinates scaled by 2**shift.
    shift = 2
    tri_2d = np.round(points_2d[faces] * (1 << shift)).astype(np.int32)  # (F, 3, 2)
    base = np.asarray(colour, np.float64)
    for start in range(0, len(order), PAINTER_CHUNK):
        chunk = order[start:start + PAINTER_CHUNK]
        for lv in np.unique(level[chunk]):
            sel = chunk[level[chunk] == lv]
            rgb = tuple(int(c) for c in np.clip(base * lv / SHADE_LEVELS, 0, 255))
            cv2.fillPoly(canvas, list(tri_2d[sel]), rgb, lineType=cv2.LINE_AA, shift=shift)
    return canvas


def draw_skeleton(canvas: np.ndarray, joints_2d: np.ndarray, parents, colour,
                  thickness: int = 2) -> np.ndarray:
    """Bones (parent -> child lines) and joint dots in place. joints_2d (J, 2) pixels."""
    import cv2

    pts = np.round(joints_2d).astype(int)
    dark = tuple(int(c * 0.5) for c in colour)
    for child, parent in enumerate(parents):
        if parent >= 0:
            cv2.line(canvas, tuple(pts[parent]), tuple(pts[child]), (255, 255, 255), thickness + 2,
                     cv2.LINE_AA)
            cv2.line(canvas, tuple(pts[parent]), tuple(pts[child]), colour, thickness, cv2.LINE_AA)
    for p in pts:
        cv2.circle(canvas, tuple(p), thickness + 1, dark, -1, cv2.LINE_AA)
    return canvas


def draw_people(rgb: np.ndarray, intrinsics: np.ndarray, track_ids, joints: np.ndarray,
                vertices: np.ndarray | None, faces: np.ndarray | None, parents,
                valid=None) -> np.ndarray:
    """The input image with each person's mesh (translucent) and skeleton drawn over it.

    rgb (H, W, 3), joints (N, 24, 3) and vertices (N, V, 3) in the camera frame.
    """
    import cv2

    out = rgb.copy()
    n = len(track_ids)
    valid = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    if vertices is not None and faces is not None and n:
        overlay = out.copy()
        # Far people first so that nearer ones cover them.
        for i in np.argsort([-float(np.median(joints[k, :, 2])) for k in range(n)]):
            if valid[i]:
                fill_mesh(overlay, project(vertices[i], intrinsics), vertices[i][:, 2], vertices[i],
                          faces, person_colour(track_ids[i]))
        out = cv2.addWeighted(overlay, MESH_ALPHA, out, 1 - MESH_ALPHA, 0)
    for i in range(n):
        if not valid[i]:
            continue
        colour = person_colour(track_ids[i])
        j2d = project(joints[i], intrinsics)
        draw_skeleton(out, j2d, parents, colour)
        head = j2d[int(np.argmin(j2d[:, 1]))]
        scale = font_scale(out.shape[0])
        cv2.putText(out, f"id {int(track_ids[i])}", (int(head[0]) - int(30 * scale),
                                                     int(head[1]) - int(20 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 2, cv2.LINE_AA)
    return out


def side_view(height: int, width: int, track_ids, joints: np.ndarray, vertices: np.ndarray | None,
              faces: np.ndarray | None, parents, valid=None) -> np.ndarray:
    """A 3D view from the camera's right (orthographic): depth z to the right, y down.

    Returns (height, width, 3) RGB with a depth grid and the camera at the left edge, so a person
    walking towards the camera moves left. joints (N, 24, 3), vertices (N, V, 3) camera frame.
    """
    import cv2

    canvas = np.full((height, width, 3), 245, np.uint8)
    n = len(track_ids)
    valid = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    keep = [i for i in range(n) if valid[i]]
    if keep:
        pts = np.concatenate([joints[i] for i in keep])
        z_lo, z_hi = float(pts[:, 2].min()), float(pts[:, 2].max())
        y_lo, y_hi = float(pts[:, 1].min()), float(pts[:, 1].max())
    else:
        z_lo, z_hi, y_lo, y_hi = 2.0, 4.0, -1.0, 1.0
    y_mid = 0.5 * (y_lo + y_hi)
    # Fit everyone: the taller of the people's height span and their depth span (at the
    # panel's aspect ratio), with a margin for the mesh around the joints.
    half_h = max(SIDE_VIEW_HALF_HEIGHT_M, 0.5 * (y_hi - y_lo) + 0.3,
                 0.5 * (z_hi - z_lo + 1.0) * height / width)
    scale = height / (2 * half_h)                 # pixels per metre
    z0 = 0.5 * (z_lo + z_hi) - 0.5 * width / scale

    def to_px(p: np.ndarray) -> np.ndarray:
        return np.stack([(p[:, 2] - z0) * scale, (p[:, 1] - y_mid) * scale + height / 2], axis=1)

    # Grid labelled with depth: 0.5 m, or coarser when people are spread far apart.
    step = next(s for s in SIDE_VIEW_GRID_STEPS_M if s * scale >= SIDE_VIEW_MIN_GRID_PX)
    for z in np.arange(np.ceil(z0 / step) * step, z0 + width / scale, step):
        x = int((z - z0) * scale)
        cv2.line(canvas, (x, 0), (x, height - 1), (220, 220, 220), 1)
        cv2.putText(canvas, f"{z:g} m", (x + 2, height - 6), cv2.FONT_HERSHEY_SIMPLEX,
                    0.7 * font_scale(height),
                    (120, 120, 120), 1, cv2.LINE_AA)
    for y in np.arange(np.ceil((y_mid - half_h) / step) * step, y_mid + half_h, step):
        yy = int((y - y_mid) * scale + height / 2)
        cv2.line(canvas, (0, yy), (width - 1, yy), (220, 220, 220), 1)
    for i in sorted(keep, key=lambda k: float(joints[k, :, 0].mean())):   # far side (-x... +x) last
        colour = person_colour(track_ids[i])
        if vertices is not None and faces is not None:
            # Seen from +x: farther = smaller x.
            fill_mesh(canvas, to_px(vertices[i]), -vertices[i][:, 0], vertices[i], faces, colour,
                      view_dirs=(1.0, 0.0, 0.0))
        draw_skeleton(canvas, to_px(joints[i]), parents, colour, thickness=1)
    scale = 0.8 * font_scale(height)
    cv2.putText(canvas, "side view (camera at left)", (6, int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                scale, (60, 60, 60), 1, cv2.LINE_AA)
    return canvas


def compose(rgb: np.ndarray, intrinsics, track_ids, joints, vertices, faces, parents, valid=None,
            with_side_view: bool = True, label: str = "") -> np.ndarray:
    """Overlay image, plus the side view to its right (same height, 0.6 x height wide)."""
    import cv2

    frame = draw_people(rgb, intrinsics, track_ids, joints, vertices, faces, parents, valid)
    if label:
        scale = font_scale(frame.shape[0])
        origin = (int(10 * scale), int(32 * scale))
        cv2.putText(frame, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 4,
                    cv2.LINE_AA)
        cv2.putText(frame, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1,
                    cv2.LINE_AA)
    if not with_side_view:
        return frame
    h = frame.shape[0]
    side = side_view(h, int(round(0.6 * h)) // 2 * 2, track_ids, joints, vertices, faces, parents,
                     valid)
    return np.concatenate([frame, side], axis=1)


def contact_sheet(frames: list[np.ndarray], labels: list[str] | None = None, columns: int = 4,
                  tile_width: int = 480) -> np.ndarray:
    """Tile frames (RGB, any sizes) into one RGB image, `columns` wide, each `tile_width` wide."""
    import cv2

    if not frames:
        return np.full((120, tile_width, 3), 255, np.uint8)
    tiles = []
    for k, frame in enumerate(frames):
        h = int(round(frame.shape[0] * tile_width / frame.shape[1]))
        tile = cv2.resize(frame, (tile_width, h), interpolation=cv2.INTER_AREA)
        if labels and labels[k]:
            cv2.putText(tile, labels[k], (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 255), 2, cv2.LINE_AA)
        tiles.append(tile)
    tile_h = max(t.shape[0] for t in tiles)
    rows = []
    for r in range(0, len(tiles), columns):
        row = [np.pad(t, ((0, tile_h - t.shape[0]), (0, 0), (0, 0)), constant_values=255)
               for t in tiles[r:r + columns]]
        row += [np.full((tile_h, tile_width, 3), 255, np.uint8)] * (columns - len(row))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


class VideoRenderer:
    """Writes composed frames to an MP4 (mp4v) and, on close, a PNG contact sheet next to it."""

    def __init__(self, path: str | Path, fps: float, faces: np.ndarray | None, parents=None,
                 side_view: bool = True, sheet_frames: int = 12, sheet_path: str | Path | None = None,
                 max_width: int = 1280):
        if parents is None:
            from smplr_core.body.joint_names import SMPL_PARENTS
            parents = SMPL_PARENTS
        self.path = Path(path)
        self.sheet_path = Path(sheet_path) if sheet_path else \
            self.path.with_name(self.path.stem + "_contact_sheet.png")
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.faces = None if faces is None else np.asarray(faces, np.int64)
        self.parents = [int(p) for p in parents]
        self.side_view = side_view
        self.max_width = int(max_width)
        self.sheet_frames = sheet_frames
        self.writer = None
        self.count = 0
        self.thumbs: list[tuple[str, np.ndarray]] = []   # small copies for the contact sheet
        self.thumb_stride = 1

    def add_arrays(self, rgb, intrinsics, track_ids, joints, vertices, valid=None,
                   label: str = "", repeat: int = 1) -> np.ndarray:
        """Draw one frame and write it ``repeat`` times (to keep real-time playback when frames
        were skipped). rgb (H, W, 3), joints (N, 24, 3), vertices (N, V, 3) or None."""
        import cv2

        if rgb.shape[1] > self.max_width:
            # Drawing cost grows with the pixel count: render large videos at max_width.
            s = self.max_width / rgb.shape[1]
            rgb = cv2.resize(rgb, (self.max_width, int(round(rgb.shape[0] * s))),
                             interpolation=cv2.INTER_AREA)
            intrinsics = np.asarray(intrinsics, np.float64) * s
        frame = compose(rgb, intrinsics, track_ids, joints, vertices, self.faces, self.parents,
                        valid, self.side_view, label)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.size = (frame.shape[1] // 2 * 2, frame.shape[0] // 2 * 2)
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"),
                                          self.fps, self.size)
            if not self.writer.isOpened():
                raise OSError(f"cannot open {self.path} for writing (OpenCV mp4v)")
        frame = frame[: self.size[1], : self.size[0]]
        bgr = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
        for _ in range(max(1, int(repeat))):
            self.writer.write(bgr)
        if self.count % self.thumb_stride == 0:
            small = cv2.resize(frame, (480, int(round(frame.shape[0] * 480 / frame.shape[1]))),
                               interpolation=cv2.INTER_AREA)
            # A label drawn on the frame already names it; otherwise the sheet numbers it.
            self.thumbs.append(("" if label else f"frame {self.count}", small))
            # Bounded memory on long videos: keep every other thumbnail and halve the rate.
            if len(self.thumbs) >= 4 * self.sheet_frames:
                self.thumbs = self.thumbs[::2]
                self.thumb_stride *= 2
        self.count += 1
        return frame

    def add(self, rgb, result, label: str = "") -> np.ndarray:
        """Add a frame with a smplr_core.reconstruct.FrameResult."""
        return self.add_arrays(rgb, result.intrinsics, result.track_ids, result.joints,
                               result.vertices, result.valid, label)

    def close(self) -> list[str]:
        """Finish the video, write the contact sheet; return the written paths."""
        import cv2

        written = []
        if self.writer is not None:
            self.writer.release()
            self.writer = None
            written.append(str(self.path))
        if self.thumbs:
            idx = np.unique(np.linspace(0, len(self.thumbs) - 1,
                                        min(self.sheet_frames, len(self.thumbs))).round().astype(int))
            sheet = contact_sheet([self.thumbs[i][1] for i in idx],
                                  [self.thumbs[i][0] for i in idx], columns=4)
            self.sheet_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(self.sheet_path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
            written.append(str(self.sheet_path))
        return written
