"""The 33 BlazePose keypoints expressed on the body model.

The image front-end (BlazePose, DESIGN §3.3) reports 33 points whose definition differs from
SMPL's joints (e.g. its hips are annotated on the body's outline rather than at the hip joint
centres, its "index" is the index knuckle). To train later stages on exactly what the front-end produces, each BlazePose
point is a fixed weighted combination of body points: the mesh vertices followed by the 24
posed joints, i.e. rows of `concat([vertices (V,3), joints (24,3)])`. The combination moves
with the skinned mesh, so it holds in every pose.
"""
from __future__ import annotations

import numpy as np
import torch

from smplr_core.body.joint_names import JOINT_INDEX

BLAZEPOSE_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
NUM_KEYPOINTS = len(BLAZEPOSE_NAMES)
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLAZEPOSE_NAMES)}
# BlazePose left/right pairs, as index pairs (left, right): every "left_*" point with its "right_*"
# point, then the mouth corners ("mouth_left", "mouth_right"). BLAZEPOSE_MIRROR: the permutation of
# the 33 keypoints that exchanges every pair (the nose maps to itself).
BLAZEPOSE_LR_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (i, BLAZEPOSE_NAMES.index("right_" + n[len("left_"):]))
    for i, n in enumerate(BLAZEPOSE_NAMES)
    if n.startswith("left_")
) + ((BLAZEPOSE_NAMES.index("mouth_left"), BLAZEPOSE_NAMES.index("mouth_right")),)


def mirror_permutation(pairs) -> tuple[int, ...]:
    """The permutation of the 33 keypoints that exchanges the two points of every (left, right) pair."""
    perm = list(range(NUM_KEYPOINTS))
    for left, right in pairs:
        perm[left], perm[right] = right, left
    return tuple(perm)


BLAZEPOSE_MIRROR: tuple[int, ...] = mirror_permutation(BLAZEPOSE_LR_PAIRS)

# Where each point comes from on the free body (see smplr_core.body.build):
#   coco:<label>   Anny's own COCO-WholeBody-style vertex regressor (Apache-2.0, anny/data/keypoints),
#                  refitted as a sparse combination of nearby vertices;
#   bone:<label>   the head of an Anny bone (a finger knuckle), as a sparse vertex combination;
#   near:<point>:dx,dy,dz  the surface vertex nearest to another keypoint plus an offset in metres
#                  (left side; x mirrors for the right side), on the mean T-pose.
# BlazePose's knuckles: pinky and index "#1 knuckle" = MCP joint, thumb "#2 knuckle" = IP joint.
FREE_BODY_KEYPOINT_SOURCES: dict[str, str] = {
    "nose": "coco:nose",
    "left_eye_inner": "near:left_eye:-0.015,0.0,-0.004",
    "left_eye": "coco:left_eye",
    "left_eye_outer": "near:left_eye:0.017,0.0,-0.010",
    "right_eye_inner": "near:right_eye:0.015,0.0,-0.004",
    "right_eye": "coco:right_eye",
    "right_eye_outer": "near:right_eye:-0.017,0.0,-0.010",
    "left_ear": "coco:left_ear",
    "right_ear": "coco:right_ear",
    "mouth_left": "near:nose:0.024,-0.035,-0.022",
    "mouth_right": "near:nose:-0.024,-0.035,-0.022",
    "left_shoulder": "coco:left_shoulder",
    "right_shoulder": "coco:right_shoulder",
    "left_elbow": "coco:left_elbow",
    "right_elbow": "coco:right_elbow",
    "left_wrist": "coco:left_wrist",
    "right_wrist": "coco:right_wrist",
    "left_pinky": "bone:finger5-1.L",
    "right_pinky": "bone:finger5-1.R",
    "left_index": "bone:finger2-1.L",
    "right_index": "bone:finger2-1.R",
    "left_thumb": "bone:finger1-3.L",
    "right_thumb": "bone:finger1-3.R",
    "left_hip": "coco:left_hip",
    "right_hip": "coco:right_hip",
    "left_knee": "coco:left_knee",
    "right_knee": "coco:right_knee",
    "left_ankle": "coco:left_ankle",
    "right_ankle": "coco:right_ankle",
    "left_heel": "coco:left_heel",
    "right_heel": "coco:right_heel",
    "left_foot_index": "coco:left_big_toe",
    "right_foot_index": "coco:right_big_toe",
}

# Official SMPL (6,890 vertices): vertex numbers used by smplx's own keypoint selector
# (smplx/vertex_ids.py, 'smplh'), and joints for the limb points.
SMPL_KEYPOINT_VERTICES: dict[str, int] = {
    "nose": 332,
    "left_eye": 2800,
    "right_eye": 6260,
    "left_ear": 583,
    "right_ear": 4071,
    "left_heel": 3387,
    "right_heel": 6787,
    "left_foot_index": 3216,
    "right_foot_index": 6617,
}
SMPL_KEYPOINT_JOINTS: dict[str, str] = {
    f"{side}_{part}": f"{side}_{part}"
    for side in ("left", "right")
    for part in ("shoulder", "elbow", "wrist", "knee", "ankle")
}


def gather_keypoints(
    vertices: torch.Tensor, joints: torch.Tensor, index: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Weighted combinations of body points.

    vertices (B, V, 3), joints (B, 24, 3); index (P, K) into concat(vertices, joints) and
    weight (P, K) (rows sum to 1, padding has weight 0). Returns (B, P, 3).
    """
    points = torch.cat([vertices, joints], dim=1)
    picked = points[:, index.reshape(-1)].reshape(points.shape[0], *index.shape, 3)
    return torch.einsum("bpkc,pk->bpc", picked, weight.to(points.dtype))


def split_keypoint_table(index: np.ndarray, weight: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a `gather_keypoints` table into a vertex part and a dense joint part.

    Returns vertex index (P, K) and weight (P, K) (joint entries zeroed) and joint weights (P, 24),
    so `combine_keypoints` never concatenates the (B, V, 3) vertices with the joints.
    """
    index = np.asarray(index, np.int64)
    weight = np.asarray(weight, np.float64)
    is_joint = index >= num_vertices
    joint_weight = np.zeros((index.shape[0], len(JOINT_INDEX)))
    rows, cols = np.nonzero(is_joint)
    np.add.at(joint_weight, (rows, index[rows, cols] - num_vertices), weight[rows, cols])
    return np.where(is_joint, 0, index), np.where(is_joint, 0.0, weight), joint_weight


def combine_keypoints(vertices: torch.Tensor, joints: torch.Tensor, vertex_index: torch.Tensor,
                      vertex_weight: torch.Tensor, joint_weight: torch.Tensor) -> torch.Tensor:
    """Same result as `gather_keypoints` from a `split_keypoint_table` table. Returns (B, P, 3)."""
    B = vertices.shape[0]
    picked = vertices[:, vertex_index.reshape(-1)].reshape(B, *vertex_index.shape, 3)
    return torch.einsum("bpkc,pk->bpc", picked, vertex_weight) + torch.einsum("pj,bjc->bpc", joint_weight, joints)


def smpl_keypoint_table(
    vertices: np.ndarray, joints: np.ndarray, hip_weights: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose mapping for the official SMPL mesh, built at load time.

    vertices (6890, 3) and joints (24, 3): rest T-pose of the licensed model; hip_weights (3,)
    weights of (hip joint, pelvis, spine1) that give a BlazePose hip (fitted on the free body);
    k: padding width. Returns index (33, k) int64 and weight (33, k) float32 in the
    `gather_keypoints` layout. Points without a standard SMPL vertex are the nearest vertex to
    the same offsets the free body uses, or a joint (hand points: a blend of wrist and hand).
    """
    V = vertices.shape[0]
    index = np.zeros((NUM_KEYPOINTS, k), np.int64)
    weight = np.zeros((NUM_KEYPOINTS, k), np.float32)

    def set_row(name: str, idx: list[int], w: list[float]) -> None:
        row = KEYPOINT_INDEX[name]
        index[row, : len(idx)] = idx
        weight[row, : len(w)] = w

    pos: dict[str, np.ndarray] = {}
    for name, vid in SMPL_KEYPOINT_VERTICES.items():
        set_row(name, [vid], [1.0])
        pos[name] = vertices[vid]
    for name, jname in SMPL_KEYPOINT_JOINTS.items():
        set_row(name, [V + JOINT_INDEX[jname]], [1.0])
    for name, source in FREE_BODY_KEYPOINT_SOURCES.items():
        if not source.startswith("near:"):
            continue
        _, base, offset = source.split(":")
        target = pos[base] + np.array([float(t) for t in offset.split(",")])
        set_row(name, [int(np.argmin(np.linalg.norm(vertices - target, axis=1)))], [1.0])
    for side in ("left", "right"):
        hip, pelvis, spine1 = (V + JOINT_INDEX[n] for n in (f"{side}_hip", "pelvis", "spine1"))
        set_row(f"{side}_hip", [hip, pelvis, spine1], list(map(float, hip_weights)))
        wrist, hand = V + JOINT_INDEX[f"{side}_wrist"], V + JOINT_INDEX[f"{side}_hand"]
        set_row(f"{side}_index", [wrist, hand], [0.1, 0.9])
        set_row(f"{side}_pinky", [wrist, hand], [0.2, 0.8])
        set_row(f"{side}_thumb", [wrist, hand], [0.6, 0.4])
    return index, weight
