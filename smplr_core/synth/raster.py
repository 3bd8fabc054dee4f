"""A z-buffer triangle rasteriser on the CPU, compiled with numba.

Every triangle is scanned over its pixel bounding box with edge functions; a pixel is written only
when its interpolated depth is nearer than what the depth buffer holds (a real per-pixel depth
test, so self-occlusion of limbs is correct). Colours and normals are interpolated with
perspective-correct barycentric weights and shaded with a Lambert term per pixel.

Coordinates: pixel centres at integer + 0.5 (pixel (0, 0) covers [0, 1) x [0, 1)); depth is the
camera-frame z in metres (positive in front of the camera, OpenCV optical frame).
"""
from __future__ import annotations

import numba
import numpy as np

# Triangles closer than this to the camera plane are dropped: their projection is unstable.
NEAR_PLANE_M = 1e-3


@numba.njit(cache=True, fastmath=True, nogil=True)
def vertex_normals(vertices, faces):
    """Area-weighted unit vertex normals.

    vertices (V, 3) float32, faces (F, 3) int -> (V, 3) float32.
    """
    normals = np.zeros_like(vertices)
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        ax = vertices[i1, 0] - vertices[i0, 0]
        ay = vertices[i1, 1] - vertices[i0, 1]
        az = vertices[i1, 2] - vertices[i0, 2]
        bx = vertices[i2, 0] - vertices[i0, 0]
        by = vertices[i2, 1] - vertices[i0, 1]
        bz = vertices[i2, 2] - vertices[i0, 2]
        nx = ay * bz - az * by
        ny = az * bx - ax * bz
        nz = ax * by - ay * bx
        for i in (i0, i1, i2):
            normals[i, 0] += nx
            normals[i, 1] += ny
            normals[i, 2] += nz
    for v in range(vertices.shape[0]):
        n = np.sqrt(normals[v, 0] ** 2 + normals[v, 1] ** 2 + normals[v, 2] ** 2) + 1e-12
        normals[v, 0] /= n
        normals[v, 1] /= n
        normals[v, 2] /= n
    return normals


@numba.njit(cache=True, fastmath=True, nogil=True)
def rasterize(pixels, depth, colors, normals, faces, light_dir, ambient, image, zbuffer, face_ids):
    """Draw shaded triangles into `image` in place with a per-pixel depth test.

    pixels (V, 2) float32 projected vertex positions in pixels; depth (V,) float32 camera z (m);
    colors (V, 3) float32 albedo in [0, 1]; normals (V, 3) float32 camera-frame unit normals;
    faces (F, 3) int32; light_dir (3,) float32 unit vector pointing from the surface to the light;
    ambient: float, light reaching every surface; image (H, W, 3) float32, pre-filled with the
    background; zbuffer (H, W) float32, pre-filled with +inf; face_ids (H, W) int32, pre-filled
    with -1, receives the index of the visible face per pixel.
    Both-sided lighting: a normal facing away from the camera is flipped, so the inside of a thin
    part still looks lit.
    """
    height, width = zbuffer.shape
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        z0, z1, z2 = depth[i0], depth[i1], depth[i2]
        if z0 < NEAR_PLANE_M or z1 < NEAR_PLANE_M or z2 < NEAR_PLANE_M:
            continue
        x0, y0 = pixels[i0, 0], pixels[i0, 1]
        x1, y1 = pixels[i1, 0], pixels[i1, 1]
        x2, y2 = pixels[i2, 0], pixels[i2, 1]
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        if abs(area) < 1e-9:
            continue
        xmin = max(int(np.floor(min(x0, min(x1, x2)))), 0)
        xmax = min(int(np.ceil(max(x0, max(x1, x2)))), width - 1)
        ymin = max(int(np.floor(min(y0, min(y1, y2)))), 0)
        ymax = min(int(np.ceil(max(y0, max(y1, y2)))), height - 1)
        if xmin > xmax or ymin > ymax:
            continue
        inv_area = 1.0 / area
        iz0, iz1, iz2 = 1.0 / z0, 1.0 / z1, 1.0 / z2
        for py in range(ymin, ymax + 1):
            cy = py + 0.5
            for px in range(xmin, xmax + 1):
                cx = px + 0.5
                # Barycentric weights from edge functions (sign-independent of winding).
                w0 = ((x1 - cx) * (y2 - cy) - (x2 - cx) * (y1 - cy)) * inv_area
                w1 = ((x2 - cx) * (y0 - cy) - (x0 - cx) * (y2 - cy)) * inv_area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                # 1/z is linear in screen space: the exact depth of the surface under the pixel.
                inv_z = w0 * iz0 + w1 * iz1 + w2 * iz2
                z = 1.0 / inv_z
                if z >= zbuffer[py, px]:
                    continue
                zbuffer[py, px] = z
                face_ids[py, px] = f
                # Perspective-correct attribute weights.
                p0 = w0 * iz0 * z
                p1 = w1 * iz1 * z
                p2 = w2 * iz2 * z
                nx = p0 * normals[i0, 0] + p1 * normals[i1, 0] + p2 * normals[i2, 0]
                ny = p0 * normals[i0, 1] + p1 * normals[i1, 1] + p2 * normals[i2, 1]
                nz = p0 * normals[i0, 2] + p1 * normals[i1, 2] + p2 * normals[i2, 2]
                norm = np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12
                if nz > 0.0:  # facing away from the camera (camera looks along +z)
                    nx, ny, nz = -nx, -ny, -nz
                lambert = (nx * light_dir[0] + ny * light_dir[1] + nz * light_dir[2]) / norm
                shade = ambient + (1.0 - ambient) * max(lambert, 0.0)
                for c in range(3):
                    albedo = p0 * colors[i0, c] + p1 * colors[i1, c] + p2 * colors[i2, c]
                    image[py, px, c] = albedo * shade


def render_mesh(vertices_cam: np.ndarray, faces: np.ndarray, colors: np.ndarray,
                intrinsics: np.ndarray, background: np.ndarray, light_dir: np.ndarray,
                ambient: float = 0.35) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one mesh over a background.

    vertices_cam (V, 3) camera frame metres (OpenCV: x right, y down, z forward); faces (F, 3);
    colors (V, 3) in [0, 1]; intrinsics (4,) fx, fy, cx, cy in pixels of the output image;
    background (H, W, 3) float32 in [0, 1]; light_dir (3,) towards the light.
    Returns image (H, W, 3) float32 in [0, 1], depth (H, W) float32 (+inf where empty), face_ids
    (H, W) int32 (-1 where empty).
    """
    vertices_cam = np.ascontiguousarray(vertices_cam, dtype=np.float32)
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    z = vertices_cam[:, 2]
    safe_z = np.where(np.abs(z) < NEAR_PLANE_M, NEAR_PLANE_M, z)
    pixels = np.empty((vertices_cam.shape[0], 2), np.float32)
    pixels[:, 0] = fx * vertices_cam[:, 0] / safe_z + cx
    pixels[:, 1] = fy * vertices_cam[:, 1] / safe_z + cy
    faces32 = np.ascontiguousarray(faces, dtype=np.int32)
    normals = vertex_normals(vertices_cam, faces32)
    image = np.array(background, dtype=np.float32, copy=True)
    height, width = image.shape[:2]
    zbuffer = np.full((height, width), np.inf, np.float32)
    face_ids = np.full((height, width), -1, np.int32)
    light = np.asarray(light_dir, np.float32)
    light = light / (np.linalg.norm(light) + 1e-12)
    rasterize(pixels, np.ascontiguousarray(z, np.float32), np.ascontiguousarray(colors, np.float32),
              normals, faces32, light, np.float32(ambient), image, zbuffer, face_ids)
    return image, zbuffer, face_ids


def cluster_decimate(rest_vertices: np.ndarray, faces: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex-clustering decimation for rendering small crops.

    rest_vertices (V, 3) in the rest pose; faces (F, 3); cell_m: grid cell size in metres.
    Each grid cell keeps one existing vertex (the first one in it), so the decimated mesh is posed
    by indexing the full posed vertices: returns (keep (K,) vertex indices into the full mesh,
    faces (F', 3) indexing the full mesh's vertices), with collapsed and duplicate faces removed.
    """
    cells = np.floor(rest_vertices / cell_m).astype(np.int64)
    _, first, inverse = np.unique(cells, axis=0, return_index=True, return_inverse=True)
    representative = first[inverse.reshape(-1)]
    mapped = representative[faces]
    ok = (mapped[:, 0] != mapped[:, 1]) & (mapped[:, 1] != mapped[:, 2]) & (mapped[:, 0] != mapped[:, 2])
    mapped = mapped[ok]
    _, unique_rows = np.unique(np.sort(mapped, axis=1), axis=0, return_index=True)
    mapped = mapped[np.sort(unique_rows)]
    return np.unique(mapped), mapped
