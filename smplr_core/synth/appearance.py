"""Skin, clothing and background appearance for synthetic renders (SURREAL-style, DESIGN §4).

Clothing follows body parts: every vertex is labelled with the SMPL bone it lies closest to in the
rest pose, and bones are grouped into regions (skin, hair, shirt, sleeves, trousers, shoes) whose
extent varies per sample (short/long sleeves, shorts/trousers). Patterns (stripes, checks, noise)
modulate the garment colours by rest-pose vertex position so they move with the body.
Backgrounds are real photographs shipped with scikit-image (no people in them) or procedural
textures.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# SMPL joint indices grouped into the regions that clothing covers (bone named by its parent joint).
REGION_JOINTS = {
    "head": (12, 15),
    "torso": (3, 6, 9, 13, 14),
    "hips": (0,),
    "thigh": (1, 2),
    "shin": (4, 5),
    "foot": (7, 8, 10, 11),
    "upper_arm": (16, 17),
    "forearm": (18, 19),
    "hand": (20, 21, 22, 23),
}

SKIN_TONES = np.array([  # albedo, sRGB in [0, 1], light to dark
    [0.96, 0.80, 0.69], [0.90, 0.72, 0.60], [0.80, 0.60, 0.47], [0.67, 0.48, 0.36],
    [0.55, 0.38, 0.27], [0.42, 0.28, 0.20], [0.30, 0.20, 0.14]], np.float32)
HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.55, 0.40, 0.22],
                         [0.75, 0.65, 0.45], [0.45, 0.45, 0.45]], np.float32)

# scikit-image sample photographs without people (astronaut and camera show people: excluded,
# astronaut is also a qualitative test image).
BACKGROUND_IMAGES = ("coffee", "chelsea", "rocket", "motorcycle_left", "motorcycle_right",
                     "hubble_deep_field", "brick", "grass", "gravel", "coins", "moon", "page",
                     "text", "retina", "immunohistochemistry", "colorwheel", "logo", "horse")


def bone_labels(rest_vertices: np.ndarray, rest_joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Label each vertex with the joint whose bone (joint -> child) is nearest.

    rest_vertices (V, 3), rest_joints (24, 3), parents (24,) -> (V,) int joint index.
    Leaf joints (head, hands, feet) own a zero-length bone at their position.
    """
    starts, ends, owners = [], [], []
    children = {j: [c for c in range(len(parents)) if parents[c] == j] for j in range(len(parents))}
    for j in range(len(parents)):
        kids = children[j] or [j]
        for c in kids:
            starts.append(rest_joints[j])
            ends.append(rest_joints[c])
            owners.append(j)
    a, b = np.asarray(starts), np.asarray(ends)  # (S, 3)
    ab = b - a
    t = ((rest_vertices[:, None, :] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)
    t = np.clip(t, 0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    dist = np.linalg.norm(rest_vertices[:, None, :] - closest, axis=-1)
    return np.asarray(owners)[dist.argmin(axis=1)]


@dataclass
class BodyParts:
    """Per-vertex region masks of one body mesh. All arrays (V,)."""
    region: dict[str, np.ndarray]   # bool masks per REGION_JOINTS key
    hair: np.ndarray                # bool: head vertices above the hair line
    rest_vertices: np.ndarray       # (V, 3) for patterns that move with the body

    @staticmethod
    def from_rest(rest_vertices: np.ndarray, rest_joints: np.ndarray, parents: np.ndarray) -> "BodyParts":
        labels = bone_labels(rest_vertices, rest_joints, parents)
        region = {name: np.isin(labels, joints) for name, joints in REGION_JOINTS.items()}
        head_y = rest_joints[15, 1]
        hair = region["head"] & (rest_vertices[:, 1] > head_y + 0.02)
        return BodyParts(region, hair, rest_vertices.astype(np.float32))


def _pattern(rng: np.random.Generator, coords: np.ndarray) -> np.ndarray:
    """A garment pattern in [0, 1] per vertex from rest coordinates (V, 3)."""
    kind = rng.integers(4)
    if kind == 0:  # plain
        return np.zeros(len(coords), np.float32)
    freq = rng.uniform(10.0, 40.0)
    if kind == 1:  # horizontal stripes
        return (np.sin(coords[:, 1] * freq + rng.uniform(0, 6.3)) > 0).astype(np.float32)
    if kind == 2:  # checks
        return ((np.sin(coords[:, 0] * freq) > 0) ^ (np.sin(coords[:, 1] * freq) > 0)).astype(np.float32)
    return rng.random(len(coords)).astype(np.float32)  # speckle


def _garment_colour(rng: np.random.Generator) -> np.ndarray:
    return (rng.random(3) ** rng.uniform(0.6, 1.6)).astype(np.float32)


def sample_vertex_colours(parts: BodyParts, rng: np.random.Generator) -> np.ndarray:
    """One random outfit: (V, 3) float32 albedo in [0, 1]."""
    r = parts.region
    num = len(parts.rest_vertices)
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    colours = np.broadcast_to(skin, (num, 3)).copy()
    shirt = r["torso"] | r["upper_arm"] if rng.random() < 0.8 else r["torso"].copy()
    if rng.random() < 0.5:
        shirt = shirt | r["forearm"]
    trousers = r["hips"] | r["thigh"]
    if rng.random() < 0.6:
        trousers = trousers | r["shin"]
    if rng.random() < 0.25:  # one-piece outfit (dress, overall)
        trousers_colour = shirt_colour = _garment_colour(rng)
    else:
        shirt_colour, trousers_colour = _garment_colour(rng), _garment_colour(rng)
    for mask, base in ((shirt, shirt_colour), (trousers, trousers_colour)):
        second = _garment_colour(rng)
        pat = _pattern(rng, parts.rest_vertices[mask])[:, None]
        colours[mask] = base * (1 - pat) + second * pat
    colours[r["foot"]] = _garment_colour(rng) * 0.5
    if rng.random() < 0.85:
        colours[parts.hair] = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]
    return np.clip(colours, 0.0, 1.0)


def load_background_photos(max_side: int = 512) -> list[np.ndarray]:
    """scikit-image's bundled photographs as float32 RGB in [0, 1], longest side <= max_side.

    Returns an empty list when scikit-image is not installed (procedural backgrounds still work).
    """
    try:
        from skimage import data as skdata
    except ImportError:
        return []
    photos = []
    for name in BACKGROUND_IMAGES:
        loader = getattr(skdata, name, None)
        if loader is None:
            continue
        try:
            img = np.asarray(loader())
        except Exception:  # a missing optional data file: skip that photo
            continue
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=-1)
        img = img[..., :3].astype(np.float32)
        img = img / 255.0 if img.max() > 1.0 else img
        scale = max_side / max(img.shape[:2])
        if scale < 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        photos.append(np.ascontiguousarray(img))
    return photos


def procedural_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random colour noise, gradients or stripes: (size, size, 3) float32 in [0, 1]."""
    kind = rng.integers(3)
    if kind == 0:
        cells = int(rng.integers(2, 12))
        noise = rng.random((cells, cells, 3)).astype(np.float32)
        return cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    c0, c1 = rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)
    if kind == 1:
        t = ramp[:, None] if rng.random() < 0.5 else ramp[None, :]
        t = np.broadcast_to(t, (size, size))
    else:
        freq = rng.uniform(4, 30)
        t = (np.sin(ramp[None, :] * freq + ramp[:, None] * freq * rng.uniform(-1, 1)) > 0).astype(np.float32)
    return c0 * (1 - t[..., None]) + c1 * t[..., None]


def sample_background(rng: np.random.Generator, photos: list[np.ndarray], size: int) -> np.ndarray:
    """A random crop of a photo (random scale, flip, tint) or a procedural texture."""
    if not photos or rng.random() < 0.3:
        return procedural_background(rng, size)
    photo = photos[rng.integers(len(photos))]
    h, w = photo.shape[:2]
    side = int(rng.uniform(0.3, 1.0) * min(h, w))
    y0, x0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(photo[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    tint = rng.uniform(0.7, 1.2, 3).astype(np.float32)
    return np.clip(crop * tint, 0, 1).astype(np.float32)
