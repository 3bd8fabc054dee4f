"""Retargeting any skeleton read by ``motion_files`` to the body's 24 joints (documented in docs/core.md).

One named joint map (:class:`RigMap`) per source rig: ``asf`` (HDM05 and CMU's own ASF/AMC),
``cc_base`` (BVH on the ``CC_Base_*`` rig), ``blender`` (the ReActIdle rig) and ``deepmimic`` (the
pybullet humanoid, retargeted by ``mocap.py`` with the same rules). Steps, per clip:

1. the source's rest pose is measured from the file itself (BVH offsets, ASF directions and
   lengths), with the map's ``rest_rotations`` for rigs whose all-zero pose is not a standing pose
   (the ``CC_Base_*`` rig's bones all point up at zero rotation: its thighs turn 180° to stand);
2. axes: from that rest pose, up = root → head, left = right hip → left hip, forward = left × up,
   each snapped to the nearest file axis; ``A`` maps file axes to SMPL's (x left, y up, z forward);
3. each mapped SMPL joint takes the source joint's world rotation relative to its rest,
   ``A · G(t) · G_rest⁻¹ · Aᵀ``, times a fixed rest offset: the smallest rotation turning the body's
   T-pose limb direction onto the source's rest limb direction (both from their own rest poses);
   the pelvis takes the source root's (or pelvis joint's) rotation with no offset;
4. joints the source lacks keep the identity local rotation (their parent's world rotation), as
   for DeepMimic; SMPL's leaf joints (toes, hands, head) take the source's rotation where the map
   names one, with no offset;
5. root trajectory: ``A`` times the position of the joint driving the pelvis (metres).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from smplr_core.data import mocap
from smplr_core.data.mocap import RetargetedClip, global_to_local, matrix_log, rotation_between_np
from smplr_core.data.motion_files import Motion, euler_matrix

# SMPL joint -> (source joint whose rotation drives it, source joint its limb points to or
# "<end>" for the source joint's end site, or None for a leaf without a limb direction)
JointMap = dict[int, tuple[str, str | None]]

# SMPL joint -> the SMPL joint its limb points to (the body's rest direction of a mapped joint)
SMPL_LIMB_CHILD = {1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 9: 12, 12: 15, 13: 16, 14: 17,
                   16: 18, 17: 19, 18: 20, 19: 21, 20: 22, 21: 23}


@dataclass(frozen=True)
class RigMap:
    """A source rig's joint map and the names that fix its axes."""
    name: str
    joints: JointMap
    root: str  # source joint driving SMPL's pelvis orientation
    up: tuple[str, str]  # (lower, upper) joints: rest "up"
    left: tuple[str, str]  # (right, left) joints: rest "left"
    feet: tuple[str, str]  # (left, right) source joints at the feet, for the ground check
    rest_rotations: dict = field(default_factory=dict)  # joint -> (axes, degrees): standing rest pose
    description: str = ""


def _sided(table: dict, left: str, right: str) -> JointMap:
    """Expand a map written for the left side ('{s}' in names) to both sides."""
    out = {}
    for (jl, jr), (src, tgt) in table.items():
        out[jl] = (src.format(s=left), tgt.format(s=left) if tgt else tgt)
        out[jr] = (src.format(s=right), tgt.format(s=right) if tgt else tgt)
    return out


ASF = RigMap(
    name="asf",
    description="Acclaim ASF/AMC (HDM05, CMU): bones lfemur, ltibia, lfoot, lhumerus, ...",
    root="root",
    joints={3: ("lowerback", "upperback"), 6: ("upperback", "thorax"), 9: ("thorax", "lowerneck"),
            12: ("lowerneck", "upperneck"), 15: ("head", None),
            **_sided({(1, 2): ("{s}femur", "{s}tibia"), (4, 5): ("{s}tibia", "{s}foot"),
                      (7, 8): ("{s}foot", "{s}toes"), (13, 14): ("{s}clavicle", "{s}humerus"),
                      (16, 17): ("{s}humerus", "{s}radius"), (18, 19): ("{s}radius", "{s}wrist"),
                      (20, 21): ("{s}hand", "{s}fingers")}, "l", "r")},
    up=("root", "head"), left=("rfemur", "lfemur"), feet=("ltoes", "rtoes"),
)

CC_BASE = RigMap(
    name="cc_base",
    description="Character Creator style BVH (CC_Base_Hip, CC_Base_L_Thigh, ...; twist, finger, toe "
                "and face bones ignored)",
    root="CC_Base_Pelvis",
    joints={3: ("CC_Base_Waist", "CC_Base_Spine01"), 6: ("CC_Base_Spine01", "CC_Base_Spine02"),
            9: ("CC_Base_Spine02", "CC_Base_NeckTwist01"), 12: ("CC_Base_NeckTwist01", "CC_Base_NeckTwist02"),
            15: ("CC_Base_Head", None),
            **_sided({(1, 2): ("CC_Base_{s}_Thigh", "CC_Base_{s}_Calf"),
                      (4, 5): ("CC_Base_{s}_Calf", "CC_Base_{s}_Foot"),
                      (7, 8): ("CC_Base_{s}_Foot", "CC_Base_{s}_ToeBase"),
                      (13, 14): ("CC_Base_{s}_Clavicle", "CC_Base_{s}_Upperarm"),
                      (16, 17): ("CC_Base_{s}_Upperarm", "CC_Base_{s}_Forearm"),
                      (18, 19): ("CC_Base_{s}_Forearm", "CC_Base_{s}_Hand"),
                      (20, 21): ("CC_Base_{s}_Hand", "CC_Base_{s}_Mid1")}, "L", "R")},
    up=("CC_Base_Hip", "CC_Base_Head"), left=("CC_Base_R_Thigh", "CC_Base_L_Thigh"),
    feet=("CC_Base_L_ToeBase", "CC_Base_R_ToeBase"),
    # every bone of this rig points along +y at zero rotation (legs up); the thighs turn about the
    # forward axis to stand, as the clips themselves do (thigh Z channel near ±180° when standing)
    rest_rotations={"CC_Base_L_Thigh": ("Z", 180.0), "CC_Base_R_Thigh": ("Z", 180.0)},
)

BLENDER = RigMap(
    name="blender",
    description="Blender-style BVH (ReActIdle): pelvis, spine, spine.001, neck, face, shoulder.L, "
                "upper_arm.L, forearm.L, thigh.L, shin.L, foot.L",
    root="pelvis",
    joints={3: ("spine", "spine.001"), 9: ("spine.001", "neck"), 12: ("neck", "face"), 15: ("face", None),
            **_sided({(1, 2): ("thigh.{s}", "shin.{s}"), (4, 5): ("shin.{s}", "foot.{s}"),
                      (7, 8): ("foot.{s}", "<end>"), (13, 14): ("shoulder.{s}", "upper_arm.{s}"),
                      (16, 17): ("upper_arm.{s}", "forearm.{s}"), (18, 19): ("forearm.{s}", "<end>")},
                     "L", "R")},
    up=("pelvis", "face"), left=("thigh.R", "thigh.L"), feet=("foot.L", "foot.R"),
)

# The DeepMimic humanoid, retargeted by mocap.retarget_frames (its own forward kinematics): listed
# here so every source rig has its named map.
DEEPMIMIC = RigMap(
    name="deepmimic",
    description="pybullet DeepMimic humanoid (mocap.py)",
    root="root",
    joints={j: (name, None) for j, name in mocap._SMPL_DIRECT.items() if j != 0},
    up=("root", "neck"), left=("right_hip", "left_hip"), feet=("left_ankle", "right_ankle"),
)

RIGS = {r.name: r for r in (ASF, CC_BASE, BLENDER, DEEPMIMIC)}


def detect_rig(motion: Motion) -> RigMap:
    """The map for a file's skeleton: ASF/AMC files use ``asf``; BVH files the map whose every
    mapped joint the file has."""
    if motion.format == "amc":
        return ASF
    names = set(motion.names)
    for rig in (CC_BASE, BLENDER):
        needed = {rig.root} | {s for s, t in rig.joints.values()} | {t for s, t in rig.joints.values()
                                                                    if t not in (None, "<end>")}
        if needed <= names:
            return rig
    raise ValueError(f"{motion.path}: no joint map fits this skeleton (joints: {', '.join(motion.names[:8])}, ...); "
                     f"known rigs: {', '.join(RIGS)}")


def rest_world_rotations(motion: Motion, rig: RigMap) -> np.ndarray:
    """(J, 3, 3) world rotations of the standing rest pose (identity unless ``rest_rotations``)."""
    local = np.broadcast_to(np.eye(3), (len(motion.names), 3, 3)).copy()
    for name, (axes, deg) in rig.rest_rotations.items():
        local[motion.index(name)] = euler_matrix(axes, np.array([deg]), intrinsic=True)
    world = np.empty_like(local)
    for j, p in enumerate(motion.parents):
        world[j] = local[j] if p < 0 else world[p] @ local[j]
    return world


def rest_pose(motion: Motion, rig: RigMap) -> tuple[np.ndarray, np.ndarray]:
    """Rest world rotations (J, 3, 3) and joint positions (J, 3) of the standing rest pose."""
    world = rest_world_rotations(motion, rig)
    pos = np.zeros((len(motion.names), 3))
    for j, p in enumerate(motion.parents):
        if p >= 0:
            pos[j] = pos[p] + world[p] @ motion.offsets_m[j]
    return world, pos


def _snap_axis(v: np.ndarray) -> np.ndarray:
    out = np.zeros(3)
    k = int(np.argmax(np.abs(v)))
    out[k] = np.sign(v[k])
    return out


def axes_to_smpl(motion: Motion, rig: RigMap) -> np.ndarray:
    """(3, 3) ``A``: file axes -> SMPL's (x left, y up, z forward), measured from the rest pose."""
    _, pos = rest_pose(motion, rig)
    up = _snap_axis(pos[motion.index(rig.up[1])] - pos[motion.index(rig.up[0])])
    left_raw = pos[motion.index(rig.left[1])] - pos[motion.index(rig.left[0])]
    left = _snap_axis(left_raw - np.dot(left_raw, up) * up)
    forward = np.cross(left, up)
    return np.stack([left, up, forward])


def _limb_target(motion: Motion, name: str, target: str) -> tuple[int, np.ndarray | None]:
    """Index of the limb's end joint, or -1 with the end-site offset."""
    j = motion.index(name)
    if target == "<end>":
        return -1, motion.end_sites_m[j]
    return motion.index(target), None


def _rest_limb_direction(motion: Motion, rig: RigMap, rest_rot, rest_pos, name: str, target: str) -> np.ndarray:
    j = motion.index(name)
    k, end = _limb_target(motion, name, target)
    return rest_rot[j] @ end if k < 0 else rest_pos[k] - rest_pos[j]


def retarget_motion(motion: Motion, rest_joints: np.ndarray, smpl_parents: np.ndarray,
                    rig: RigMap | None = None, name: str | None = None) -> RetargetedClip:
    """A clip read by ``motion_files`` -> SMPL local rotations (T, 24, 3, 3) and root trajectory."""
    rig = rig or detect_rig(motion)
    a = axes_to_smpl(motion, rig)
    rest_rot, rest_pos = rest_pose(motion, rig)
    world, pos = motion.forward_kinematics()
    t = motion.num_frames
    rel = world @ np.swapaxes(rest_rot, -1, -2)[None]  # rotation from the rest pose, file axes
    rel_smpl = a @ rel @ a.T

    def driven(source: str) -> np.ndarray:
        return rel_smpl[:, motion.index(source)]

    globals_ = np.empty((t, 24, 3, 3))
    globals_[:, 0] = driven(rig.root)
    for j in range(1, 24):
        if j in rig.joints:
            source, target = rig.joints[j]
            g = driven(source)
            if target is not None and j in SMPL_LIMB_CHILD:
                d_src = a @ _rest_limb_direction(motion, rig, rest_rot, rest_pos, source, target)
                d_smpl = rest_joints[SMPL_LIMB_CHILD[j]] - rest_joints[j]
                g = g @ rotation_between_np(d_smpl, d_src)
            globals_[:, j] = g
        else:
            globals_[:, j] = globals_[:, smpl_parents[j]]
    local = global_to_local(globals_, smpl_parents)
    root = pos[:, motion.index(rig.root)] @ a.T
    return RetargetedClip(name=name or motion.path, rotations=local, root_position_m=root,
                          durations_s=np.full(t, motion.frame_time_s))


# ------------------------------------------------------------------------------- checks
def smpl_forward(local: np.ndarray, rest_joints: np.ndarray, smpl_parents: np.ndarray,
                 root: np.ndarray | None = None) -> np.ndarray:
    """Joint positions (T, 24, 3) of the body's rest skeleton posed by local rotations (numpy)."""
    t = local.shape[0]
    g = np.empty_like(local)
    p = np.zeros((t, 24, 3))
    g[:, 0] = local[:, 0]
    if root is not None:
        p[:, 0] = root
    for j in range(1, 24):
        q = smpl_parents[j]
        g[:, j] = g[:, q] @ local[:, j]
        p[:, j] = p[:, q] + g[:, q] @ (rest_joints[j] - rest_joints[q])
    return p


def limb_direction_errors_deg(motion: Motion, clip: RetargetedClip, rest_joints: np.ndarray,
                              smpl_parents: np.ndarray, rig: RigMap | None = None) -> dict[int, np.ndarray]:
    """Angle (degrees, per frame) between each mapped SMPL limb and the source limb it follows,
    both in SMPL axes: {smpl joint: (T,)}. The source side comes from the file's own forward
    kinematics (joint positions), the SMPL side from the body's rest skeleton posed by the clip."""
    rig = rig or detect_rig(motion)
    a = axes_to_smpl(motion, rig)
    world, pos = motion.forward_kinematics()
    smpl = smpl_forward(clip.rotations, rest_joints, smpl_parents)
    out = {}
    for j, (source, target) in rig.joints.items():
        if target is None or j not in SMPL_LIMB_CHILD:
            continue
        s = motion.index(source)
        k, end = _limb_target(motion, source, target)
        d_src = (world[:, s] @ end) if k < 0 else pos[:, k] - pos[:, s]
        d_src = d_src @ a.T
        d_smpl = smpl[:, SMPL_LIMB_CHILD[j]] - smpl[:, j]
        cos = np.sum(d_src * d_smpl, -1) / (np.linalg.norm(d_src, axis=-1) * np.linalg.norm(d_smpl, axis=-1) + 1e-12)
        out[j] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def knee_elbow_flexion_deg(clip: RetargetedClip) -> dict[str, np.ndarray]:
    """Signed flexion angles (degrees, per frame) of the knees and elbows, SMPL's conventions: knee
    about +x (bends the shin back), left elbow about -y, right elbow about +y (bend the forearm
    forward). A limb whose twist were flipped would bend the other way (negative angles)."""
    aa = np.degrees(matrix_log(clip.rotations))
    return {"left_knee": aa[:, 4, 0], "right_knee": aa[:, 5, 0],
            "left_elbow": -aa[:, 18, 1], "right_elbow": aa[:, 19, 1]}
