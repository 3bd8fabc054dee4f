"""Real motion capture: the DeepMimic humanoid clips shipped in the ``pybullet`` wheel, retargeted to
the 24-joint SMPL skeleton.

Clip format (``pybullet_data/data/motions/*.txt``): JSON ``{"Loop": ..., "Frames": [[44 numbers]]}``;
per frame: duration, root position (3, metres, y up, ground y = 0), then quaternions stored
**w, x, y, z** (often not unit: always normalised) for root, chest, neck, right hip, a right-knee
angle, right ankle, right shoulder, a right-elbow angle, then the left side in the same order.
Knee and elbow angles turn about the joint's local z. The humanoid's axes are y up, +x forward,
+z the character's right; its rest pose stands with the arms hanging down.

Retargeting (documented in docs/core.md):
1. numpy forward kinematics of the humanoid gives every body's world rotation ``G_dm``;
2. change of axes to SMPL's (x = left, y = up, z = forward): ``p_smpl = C p_dm`` with
   ``C`` mapping DeepMimic (x, y, z) to SMPL (-z, y, x); rotations become ``C G C^T``;
3. directly matched joints (pelvis, hips, knees, ankles, shoulders, elbows) take the DeepMimic
   world rotation, times a fixed rest offset where the two rest poses differ: the SMPL rest
   limb direction (from the body's template joints; arms horizontal in SMPL's T-pose) is turned
   onto the humanoid's rest direction (limbs hanging straight down);
4. derived joints: the chest rotation is split equally (geodesically) over spine1, spine2, spine3;
   the neck rotation half to the neck and half to the head; collars, wrists, hands and the toe
   joints (SMPL "foot") keep the identity local rotation (the humanoid has none of them).
Output: SMPL local rotation matrices (T, 24, 3, 3), rotation 0 = global orientation in SMPL's
y-up world, and the root position in that world.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

# Scaled (globalScaling 0.25) joint offsets of pybullet_data/humanoid/humanoid.urdf, metres,
# DeepMimic axes, each relative to its parent joint.
DEEPMIMIC_OFFSETS_M = {
    "chest": (0.0, 0.236151, 0.0),
    "neck": (0.0, 0.223894, 0.0),
    "right_hip": (0.0, 0.0, 0.084887),
    "right_knee": (0.0, -0.421546, 0.0),
    "right_ankle": (0.0, -0.409870, 0.0),
    "right_shoulder": (-0.024050, 0.243500, 0.183110),
    "right_elbow": (0.0, -0.274788, 0.0),
    "right_wrist": (0.0, -0.258947, 0.0),
    "left_hip": (0.0, 0.0, -0.084887),
    "left_knee": (0.0, -0.421546, 0.0),
    "left_ankle": (0.0, -0.409870, 0.0),
    "left_shoulder": (-0.024050, 0.243500, -0.183110),
    "left_elbow": (0.0, -0.274788, 0.0),
    "left_wrist": (0.0, -0.258947, 0.0),
}
DEEPMIMIC_PARENTS = {
    "root": None, "chest": "root", "neck": "chest",
    "right_hip": "root", "right_knee": "right_hip", "right_ankle": "right_knee",
    "right_shoulder": "chest", "right_elbow": "right_shoulder", "right_wrist": "right_elbow",
    "left_hip": "root", "left_knee": "left_hip", "left_ankle": "left_knee",
    "left_shoulder": "chest", "left_elbow": "left_shoulder", "left_wrist": "left_elbow",
}
DEEPMIMIC_HEAD_ABOVE_NECK_M = 0.175
DEEPMIMIC_SOLE_BELOW_ANKLE_M = 0.05

# Layout of one 44-number frame: (name, kind, start index); "q" quaternion wxyz, "a" angle about z.
FRAME_LAYOUT = (
    ("root", "q", 4), ("chest", "q", 8), ("neck", "q", 12),
    ("right_hip", "q", 16), ("right_knee", "a", 20), ("right_ankle", "q", 21),
    ("right_shoulder", "q", 25), ("right_elbow", "a", 29),
    ("left_hip", "q", 30), ("left_knee", "a", 34), ("left_ankle", "q", 35),
    ("left_shoulder", "q", 39), ("left_elbow", "a", 43),
)
FRAME_LENGTH = 44
ROOT_POSITION_SLICE = slice(1, 4)

# DeepMimic (x fwd, y up, z right) -> SMPL (x left, y up, z fwd): smpl = C @ dm
DEEPMIMIC_TO_SMPL = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

# Clip names (file stem without the "humanoid3d_" prefix; walker clips as "walker/<stem>").
ALL_CLIPS = (
    "backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup",
    "jump", "kick", "punch", "roll", "run", "spin", "spinkick", "walk",
    "walker/0walk_forward", "walker/turn_left0", "walker/turn_left1", "walker/turn_right0",
    "walker/turn_right1",
)
# Whole clips never used in training: evaluation motions.
HELD_OUT_CLIPS = ("dance_b", "kick", "jump", "walker/turn_left1")
TRAIN_CLIPS = tuple(c for c in ALL_CLIPS if c not in HELD_OUT_CLIPS)

# SMPL joint index -> DeepMimic body whose world rotation drives it (rest offset applied for limbs).
_SMPL_DIRECT = {
    0: "root", 1: "left_hip", 2: "right_hip", 4: "left_knee", 5: "right_knee",
    7: "left_ankle", 8: "right_ankle", 16: "left_shoulder", 17: "right_shoulder",
    18: "left_elbow", 19: "right_elbow",
}
# Limb joints whose SMPL rest direction (joint -> child) differs from the humanoid's (straight down).
_REST_OFFSET_LIMBS = {1: 4, 2: 5, 4: 7, 5: 8, 16: 18, 17: 19, 18: 20, 19: 21}
_SPINE_SPLIT = ((3, 1.0 / 3.0), (6, 1.0 / 3.0), (9, 1.0 / 3.0))
_NECK_SPLIT = ((12, 0.5), (15, 0.5))


MOTIONS_DIR_ENV = "SMPLR_MOTIONS_DIR"


def motions_dir() -> Path:
    """Folder of the DeepMimic clips: ``$SMPLR_MOTIONS_DIR`` (a copy of ``pybullet_data/data/motions``,
    e.g. on a training machine without the pybullet wheel) or the installed pybullet_data package."""
    env = os.environ.get(MOTIONS_DIR_ENV)
    if env:
        path = Path(env)
        if not (path / "humanoid3d_walk.txt").is_file():
            raise FileNotFoundError(f"${MOTIONS_DIR_ENV}={env} holds no DeepMimic clips (humanoid3d_walk.txt "
                                    "missing); point it at a copy of pybullet_data/data/motions or unset it")
        return path
    try:
        import pybullet_data
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "the motion clips come from the 'pybullet' package (pip install pybullet==3.2.7)"
        ) from exc
    return Path(pybullet_data.getDataPath()) / "data" / "motions"


def clip_path(name: str) -> Path:
    """File of a named clip (see ALL_CLIPS)."""
    if name not in ALL_CLIPS:
        raise ValueError(f"unknown clip {name!r}; known: {', '.join(ALL_CLIPS)}")
    if name.startswith("walker/"):
        return motions_dir() / f"{name}.txt"
    return motions_dir() / f"humanoid3d_{name}.txt"


def load_frames(name: str) -> np.ndarray:
    """Raw frames of a clip: (T, 44) float64."""
    path = clip_path(name)
    data = json.loads(path.read_text())
    frames = np.asarray(data["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != FRAME_LENGTH:
        raise ValueError(f"{path}: expected frames of {FRAME_LENGTH} numbers, got {frames.shape}")
    return frames


# ---------------------------------------------------------------- numpy rotation helpers (scipy's Rotation)
def _batched(fn, x: np.ndarray, tail: int) -> np.ndarray:
    """Apply a scipy ``Rotation`` conversion over any leading shape: x (..., *tail dims)."""
    lead = x.shape[:x.ndim - tail]
    out = fn(np.asarray(x, dtype=np.float64).reshape((-1,) + x.shape[x.ndim - tail:]))
    return out.reshape(lead + out.shape[1:])


def quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) w, x, y, z (normalised here) -> (..., 3, 3)."""
    return _batched(lambda v: Rotation.from_quat(v, scalar_first=True).as_matrix(), q, 1)


def rot_z(angle: np.ndarray) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) rotation about z."""
    angle = np.asarray(angle, dtype=np.float64)
    return _batched(lambda v: Rotation.from_rotvec(v).as_matrix(),
                    np.stack([np.zeros_like(angle), np.zeros_like(angle), angle], -1), 1)


def matrix_log(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) axis-angle."""
    return _batched(lambda v: Rotation.from_matrix(v).as_rotvec(), m, 2)


def matrix_exp(v: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3)."""
    return _batched(lambda x: Rotation.from_rotvec(x).as_matrix(), v, 1)


def rotation_between_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction a onto b (both (3,), not antiparallel) -> (3, 3)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-9:
        return np.eye(3)
    return matrix_exp(axis / s * np.arctan2(s, c))


# ---------------------------------------------------------------- DeepMimic forward kinematics
def deepmimic_local_rotations(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-body local rotations (T, 3, 3) in DeepMimic axes (root: world orientation)."""
    local = {}
    for name, kind, start in FRAME_LAYOUT:
        if kind == "q":
            local[name] = quat_wxyz_to_matrix(frames[:, start:start + 4])
        else:
            local[name] = rot_z(frames[:, start])
    return local


def deepmimic_forward_kinematics(frames: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """World rotations (T, 3, 3) and joint positions (T, 3) of every humanoid joint, DeepMimic axes.

    Positions include "head" (head centre) and "left_sole"/"right_sole" (below the ankles).
    """
    local = deepmimic_local_rotations(frames)
    world_rot: dict[str, np.ndarray] = {}
    world_pos: dict[str, np.ndarray] = {}
    for name, parent in DEEPMIMIC_PARENTS.items():  # parents come before children in this table
        if parent is None:
            world_rot[name] = local[name]
            world_pos[name] = frames[:, ROOT_POSITION_SLICE]
            continue
        offset = np.asarray(DEEPMIMIC_OFFSETS_M[name])
        world_pos[name] = world_pos[parent] + world_rot[parent] @ offset
        world_rot[name] = world_rot[parent] @ local[name] if name in local else world_rot[parent]
    world_pos["head"] = world_pos["neck"] + world_rot["neck"] @ np.array([0.0, DEEPMIMIC_HEAD_ABOVE_NECK_M, 0.0])
    for side in ("left", "right"):
        world_pos[f"{side}_sole"] = world_pos[f"{side}_ankle"] + world_rot[f"{side}_ankle"] @ np.array(
            [0.0, -DEEPMIMIC_SOLE_BELOW_ANKLE_M, 0.0])
    return world_rot, world_pos


# ---------------------------------------------------------------- retargeting
@dataclass(frozen=True)
class RetargetedClip:
    """One clip on the SMPL skeleton: local rotations (T, 24, 3, 3), root position (T, 3) in SMPL's
    y-up world (DeepMimic scale), frame durations (T,) seconds."""
    name: str
    rotations: np.ndarray
    root_position_m: np.ndarray
    durations_s: np.ndarray


def global_to_local(globals_: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """World rotations (T, J, 3, 3) along a tree -> local rotations (joint 0 keeps its world rotation)."""
    local = np.empty_like(globals_)
    local[:, 0] = globals_[:, 0]
    for j in range(1, globals_.shape[1]):
        local[:, j] = np.swapaxes(globals_[:, parents[j]], -1, -2) @ globals_[:, j]
    return local


def rest_offsets(rest_joints: np.ndarray) -> dict[int, np.ndarray]:
    """Fixed per-limb rotation from the SMPL rest direction to the humanoid's (straight down).

    rest_joints: (24, 3) the body's T-pose joints. Returns {smpl joint: (3, 3)}.
    """
    down = np.array([0.0, -1.0, 0.0])
    return {j: rotation_between_np(rest_joints[c] - rest_joints[j], down) for j, c in _REST_OFFSET_LIMBS.items()}


def retarget_frames(frames: np.ndarray, rest_joints: np.ndarray, smpl_parents: np.ndarray) -> np.ndarray:
    """DeepMimic frames (T, 44) -> SMPL local rotations (T, 24, 3, 3) (see the module docstring)."""
    world_rot, _ = deepmimic_forward_kinematics(frames)
    c = DEEPMIMIC_TO_SMPL
    to_smpl = {k: c @ v @ c.T for k, v in world_rot.items()}
    t = frames.shape[0]
    offsets = rest_offsets(rest_joints)
    globals_ = np.empty((t, 24, 3, 3))
    # derived local rotations, composed below along the tree
    chest_local = c @ (np.swapaxes(world_rot["root"], -1, -2) @ world_rot["chest"]) @ c.T
    neck_local = c @ (np.swapaxes(world_rot["chest"], -1, -2) @ world_rot["neck"]) @ c.T
    derived_local = {j: np.broadcast_to(np.eye(3), (t, 3, 3)) for j in range(24)}
    for j, frac in _SPINE_SPLIT:
        derived_local[j] = matrix_exp(frac * matrix_log(chest_local))
    for j, frac in _NECK_SPLIT:
        derived_local[j] = matrix_exp(frac * matrix_log(neck_local))
    for j in range(24):
        if j in _SMPL_DIRECT:
            g = to_smpl[_SMPL_DIRECT[j]]
            globals_[:, j] = g @ offsets[j] if j in offsets else g
        else:
            globals_[:, j] = globals_[:, smpl_parents[j]] @ derived_local[j]
    local = global_to_local(globals_, smpl_parents)
    return local


def retarget_clip(name: str, rest_joints: np.ndarray, smpl_parents: np.ndarray) -> RetargetedClip:
    """Load and retarget one named clip."""
    frames = load_frames(name)
    return RetargetedClip(
        name=name,
        rotations=retarget_frames(frames, rest_joints, smpl_parents),
        root_position_m=frames[:, ROOT_POSITION_SLICE] @ DEEPMIMIC_TO_SMPL.T,
        durations_s=frames[:, 0].copy(),
    )


def retarget_clips(names, rest_joints: np.ndarray, smpl_parents: np.ndarray) -> list[RetargetedClip]:
    """Retarget several clips (a few ms each)."""
    return [retarget_clip(n, rest_joints, smpl_parents) for n in names]
