"""The paper's 18 body-surface landmarks (SMPLR, Madadi et al. 2020, §3.2), by name.

SMPLR lifts 23 joints plus 18 surface points (breasts, belly, hips, front and back of the
thighs, feet, hands, biceps, triceps, top of head) because joints alone do not pin down
shape. The paper fixes them as vertex numbers of the official SMPL mesh; our free body has
another mesh, so each landmark is defined here by anatomy: a geometric rule applied to the
rest T-pose (y up, body facing +z, arms along ±x, palms down). The builder applies the rule
to the mean free body once (table below, also stored in the model file); for licensed SMPL
files the same rule runs at load time, except where a widely used SMPL vertex number exists.
"""
from __future__ import annotations

import numpy as np

from smplr_core.body.joint_names import JOINT_INDEX

LANDMARK_NAMES: tuple[str, ...] = (
    "left_breast",
    "right_breast",
    "belly",
    "left_hip_side",
    "right_hip_side",
    "left_thigh_front",
    "right_thigh_front",
    "left_thigh_back",
    "right_thigh_back",
    "left_foot",
    "right_foot",
    "left_hand",
    "right_hand",
    "left_biceps",
    "right_biceps",
    "left_triceps",
    "right_triceps",
    "head_top",
)
NUM_LANDMARKS = len(LANDMARK_NAMES)

# How each landmark is chosen on a rest T-pose mesh (documentation of `select_landmark_vertices`).
LANDMARK_RULES: dict[str, str] = {
    "breast": "most anterior vertex with |x| in 25-75% of the shoulder joint's |x|, height between spine2 and halfway spine3->neck",
    "belly": "most anterior vertex within 1 cm of the midline at the height of spine1 (navel level)",
    "hip_side": "most lateral vertex of the pelvis/thigh skin within 1.5 cm of the hip joint's height",
    "thigh_front": "most anterior vertex of the thigh skin at mid-thigh height (halfway hip->knee)",
    "thigh_back": "most posterior vertex of the thigh skin at mid-thigh height",
    "foot": "highest vertex (instep) of the foot skin above the point halfway ankle->ball of foot",
    "hand": "highest vertex (back of the hand, palms face down) above the point halfway wrist->knuckles",
    "biceps": "most anterior vertex of the upper-arm skin halfway shoulder->elbow",
    "triceps": "most posterior vertex of the upper-arm skin halfway shoulder->elbow",
    "head_top": "highest vertex of the head skin",
}

# Vertex numbers on our free CC0 body (weights/body/smplr_free_body.npz), written by
# smplr_core.body.build from `select_landmark_vertices` on the mean shape; a test checks that the
# stored model and this table agree.
FREE_BODY_LANDMARK_VERTICES: dict[str, int] = {
    "left_breast": 8522,
    "right_breast": 1866,
    "belly": 4351,
    "left_hip_side": 10894,
    "right_hip_side": 4280,
    "left_thigh_front": 13319,
    "right_thigh_front": 6739,
    "left_thigh_back": 11056,
    "right_thigh_back": 4454,
    "left_foot": 12795,
    "right_foot": 6214,
    "left_hand": 9863,
    "right_hand": 3211,
    "left_biceps": 10398,
    "right_biceps": 3747,
    "left_triceps": 8358,
    "right_triceps": 1702,
    "head_top": 881,
}

# Widely used vertex numbers of the official SMPL mesh (6,890 vertices) for some of these points
# (SMPL anthropometry literature: nipples 3042/6489, navel 3501, head top 412). The paper's own
# numbers are not published with it; the other landmarks use `select_landmark_vertices` at load.
SMPL_KNOWN_LANDMARK_VERTICES: dict[str, int] = {
    "left_breast": 3042,
    "right_breast": 6489,
    "belly": 3501,
    "head_top": 412,
}

_SIDES = (("left", 1.0), ("right", -1.0))


def _pick(score: np.ndarray, mask: np.ndarray, what: str) -> int:
    """Index of the highest `score` among vertices where `mask` holds."""
    if not mask.any():
        raise ValueError(f"landmark rule for {what} found no candidate vertex")
    idx = np.flatnonzero(mask)
    return int(idx[np.argmax(score[idx])])


def _band(values: np.ndarray, centre: float, half_width: float, base: np.ndarray) -> np.ndarray:
    """Mask of `base` vertices with |values - centre| < half_width, widened until non-empty."""
    for _ in range(6):
        mask = base & (np.abs(values - centre) < half_width)
        if mask.any():
            return mask
        half_width *= 2.0
    return mask


def select_landmark_vertices(
    vertices: np.ndarray, joints: np.ndarray, segment: np.ndarray
) -> dict[str, int]:
    """Apply the anatomical landmark rules to a rest T-pose mesh.

    vertices (V, 3) metres, y up, facing +z, arms along ±x; joints (24, 3) in SMPL order;
    segment (V,) index of the joint that dominates each vertex's skinning weights.
    Returns {landmark name: vertex index} in LANDMARK_NAMES order.
    """
    v = np.asarray(vertices, dtype=np.float64)
    j = np.asarray(joints, dtype=np.float64)
    seg = np.asarray(segment)
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    J = {name: j[i] for name, i in JOINT_INDEX.items()}
    out: dict[str, int] = {}

    def in_segments(*names: str) -> np.ndarray:
        return np.isin(seg, [JOINT_INDEX[n] for n in names])

    for side, sign in _SIDES:
        shoulder_x = abs(J[f"{side}_shoulder"][0])
        lo_y = J["spine2"][1]
        hi_y = 0.5 * (J["spine3"][1] + J["neck"][1])
        chest = (sign * x > 0.25 * shoulder_x) & (sign * x < 0.75 * shoulder_x) & (y > lo_y) & (y < hi_y)
        out[f"{side}_breast"] = _pick(z, chest, f"{side}_breast")
    midline = np.abs(x) < 0.01
    out["belly"] = _pick(z, _band(y, J["spine1"][1], 0.01, midline & (z > 0)), "belly")
    for side, sign in _SIDES:
        hip = J[f"{side}_hip"]
        pelvis_skin = in_segments("pelvis", f"{side}_hip") & (sign * x > 0)
        out[f"{side}_hip_side"] = _pick(sign * x, _band(y, hip[1], 0.015, pelvis_skin), f"{side}_hip_side")
    for side, _ in _SIDES:
        mid_y = 0.5 * (J[f"{side}_hip"][1] + J[f"{side}_knee"][1])
        thigh = _band(y, mid_y, 0.01, in_segments(f"{side}_hip"))
        out[f"{side}_thigh_front"] = _pick(z, thigh, f"{side}_thigh_front")
        out[f"{side}_thigh_back"] = _pick(-z, thigh, f"{side}_thigh_back")
    for side, _ in _SIDES:
        mid = 0.5 * (J[f"{side}_ankle"] + J[f"{side}_foot"])
        foot = in_segments(f"{side}_ankle", f"{side}_foot")
        near = _band(np.hypot(x - mid[0], z - mid[2]), 0.0, 0.01, foot)
        out[f"{side}_foot"] = _pick(y, near, f"{side}_foot")
    for side, _ in _SIDES:
        mid = 0.5 * (J[f"{side}_wrist"] + J[f"{side}_hand"])
        hand = in_segments(f"{side}_wrist", f"{side}_hand")
        near = _band(np.hypot(x - mid[0], z - mid[2]), 0.0, 0.01, hand)
        out[f"{side}_hand"] = _pick(y, near, f"{side}_hand")
    for side, _ in _SIDES:
        mid_x = 0.5 * (J[f"{side}_shoulder"][0] + J[f"{side}_elbow"][0])
        arm = _band(x, mid_x, 0.01, in_segments(f"{side}_shoulder"))
        out[f"{side}_biceps"] = _pick(z, arm, f"{side}_biceps")
        out[f"{side}_triceps"] = _pick(-z, arm, f"{side}_triceps")
    out["head_top"] = _pick(y, in_segments("head"), "head_top")
    return {name: out[name] for name in LANDMARK_NAMES}


def landmark_index_array(table: dict[str, int]) -> np.ndarray:
    """{name: vertex} -> (18,) int64 vertex indices in LANDMARK_NAMES order."""
    return np.array([table[name] for name in LANDMARK_NAMES], dtype=np.int64)
