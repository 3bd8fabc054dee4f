"""Body model: the free CC0 SMPL-layout body, its smplx reference path, landmarks and keypoints.

All tests use the committed model file (weights/body/smplr_free_body.npz); none needs Anny.
"""
from __future__ import annotations

import pickle
import shutil
import sys
import types

import numpy as np
import pytest
import torch

from smplr_core.body import (
    BLAZEPOSE_NAMES, LANDMARK_NAMES, SMPL_JOINT_NAMES, SMPL_PARENTS, BodyModel, BodyModelError, load_body_model,
)
from smplr_core.body import files
from smplr_core.body.landmarks import FREE_BODY_LANDMARK_VERTICES, landmark_index_array, select_landmark_vertices
from smplr_core.body.lbs import CHUNKED_SKINNING_MIN_BATCH, batch_rodrigues, forward_kinematics, skin_vertices

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
LM = {name: i for i, name in enumerate(LANDMARK_NAMES)}
KP = {name: i for i, name in enumerate(BLAZEPOSE_NAMES)}

# Tolerances against Anny's own T-posed meshes (shape-space truncation + joint regressor).
REF_VERTEX_MEAN_MM, REF_VERTEX_MAX_MM = 3.0, 25.0
REF_JOINT_MEAN_MM, REF_JOINT_MAX_MM = 4.0, 15.0
REF_POSED_VERTEX_MEAN_MM = 4.0
SMPLX_AGREEMENT_M = 1e-5  # float32 round-off of two implementations of the same maths


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body_model()


@pytest.fixture(scope="module")
def stored() -> dict:
    return files.read_npz(files.FREE_MODEL_PATH)


def zero_pose(batch: int = 1):
    return torch.zeros(batch, 10), torch.zeros(batch, 3), torch.zeros(batch, 23, 3)


def pose_with(joint: str, axis_angle) -> torch.Tensor:
    """(1,23,3) body pose rotating one joint."""
    pose = torch.zeros(1, 23, 3)
    pose[0, J[joint] - 1] = torch.tensor(axis_angle, dtype=torch.float32)
    return pose


def random_inputs(batch: int, seed: int, pose_std: float = 0.4):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 10, generator=g), torch.randn(batch, 3, generator=g) * pose_std,
            torch.randn(batch, 23, 3, generator=g) * pose_std, torch.randn(batch, 3, generator=g))


# -- loading -------------------------------------------------------------------------------
def test_interface_sizes(body):
    assert body.num_betas == 10 and body.num_vertices == 13718
    assert body.faces.shape == (27420, 3) and body.faces.dtype == torch.int64
    assert int(body.faces.max()) == body.num_vertices - 1
    assert tuple(body.parents.tolist()) == SMPL_PARENTS
    assert body.template_joints.shape == (24, 3)
    out = body(*zero_pose(2))
    assert out.vertices.shape == (2, 13718, 3)
    assert out.joints.shape == (2, 24, 3)
    assert out.landmarks.shape == (2, 18, 3)
    assert out.keypoints.shape == (2, 33, 3)


def test_loads_through_smplx(body):
    import smplx

    layer = body.smplx_layer()
    assert isinstance(layer, smplx.SMPL)
    out = layer(betas=torch.zeros(1, 10), global_orient=torch.zeros(1, 3), body_pose=torch.zeros(1, 69))
    assert out.vertices.shape == (1, body.num_vertices, 3)
    torch.testing.assert_close(out.joints[0, :24], body.template_joints, atol=1e-6, rtol=0)


def test_fast_path_matches_smplx(body):
    betas, orient, pose, transl = random_inputs(4, seed=1)
    fast = body(betas, orient, pose, transl)
    ref = body.forward_smplx(betas, orient, pose, transl)
    for name in fast._fields:
        err = (getattr(fast, name) - getattr(ref, name)).abs().max().item()
        assert err < SMPLX_AGREEMENT_M, f"{name}: fast path differs from smplx by {err} m"


def test_forward_rotmat_equals_axis_angle_forward(body):
    betas, orient, pose, transl = random_inputs(3, seed=2)
    rotmats = batch_rodrigues(torch.cat([orient[:, None], pose], 1))
    a = body(betas, orient, pose.reshape(3, 69), transl)
    b = body.forward_rotmat(betas, rotmats, transl)
    torch.testing.assert_close(a.vertices, b.vertices)


def test_rodrigues_matches_smplx():
    from smplx.lbs import batch_rodrigues as smplx_rodrigues

    aa = torch.randn(200, 3, dtype=torch.float64)
    aa[:5] *= 1e-5  # near-zero rotations take the series branch
    torch.testing.assert_close(batch_rodrigues(aa), smplx_rodrigues(aa), atol=1e-7, rtol=0)


@pytest.mark.parametrize("batch", [1, 2, CHUNKED_SKINNING_MIN_BATCH + 3])
def test_fast_skinning_paths_equal_plain_skinning(body, batch):
    """Few bodies take the coordinate-major path, many the chunked one: both equal the plain product."""
    betas, orient, pose, _ = random_inputs(batch, seed=3)
    rotmats = batch_rodrigues(torch.cat([orient[:, None], pose], 1))
    rest_v = body.rest_vertices(betas)
    _, transforms = forward_kinematics(rotmats, body.rest_joints(betas), list(SMPL_PARENTS), body._levels)
    plain = skin_vertices(rest_v, transforms, body.skin_weights)
    torch.testing.assert_close(body.forward_rotmat(betas, rotmats).vertices, plain, atol=1e-6, rtol=0)


def test_translation_semantics(body):
    betas, orient, pose, transl = random_inputs(2, seed=4)
    moved = body(betas, orient, pose, transl)
    still = body(betas, orient, pose)
    torch.testing.assert_close(moved.joints - still.joints, transl[:, None].expand(-1, 24, -1), atol=1e-5, rtol=0)
    # Without transl the pelvis stays at its rest position, whatever the pose (SMPL semantics).
    torch.testing.assert_close(still.joints[:, 0], body.rest_joints(betas)[:, 0], atol=1e-6, rtol=0)


def test_rest_joints_are_the_zero_pose_joints(body):
    betas = torch.randn(3, 10)
    torch.testing.assert_close(body(betas, torch.zeros(3, 3), torch.zeros(3, 69)).joints, body.rest_joints(betas), atol=1e-6, rtol=0)


# -- rest pose and shape -------------------------------------------------------------------
@pytest.mark.parametrize("beta_scale", [0.0, 2.0, -2.0])
def test_rest_pose_is_a_t_pose(body, beta_scale):
    betas = torch.full((1, 10), beta_scale)
    joints = body(betas, torch.zeros(1, 3), torch.zeros(1, 69)).joints[0]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        shoulder, elbow, wrist = (joints[J[f"{side}_{p}"]] for p in ("shoulder", "elbow", "wrist"))
        assert abs(float(wrist[1] - shoulder[1])) < 0.03, f"{side} wrist not at shoulder height"
        upper = (elbow - shoulder) / (elbow - shoulder).norm()
        angle = torch.rad2deg(torch.arccos(torch.clamp(upper[0] * sign, -1, 1)))
        assert angle < 5.0, f"{side} upper arm {angle:.1f} deg off the {'+' if sign > 0 else '-'}x axis"
    # y up, facing +z: head above pelvis above ankles, nose in front of the head joint.
    assert joints[J["head"], 1] > joints[J["pelvis"], 1] > joints[J["left_ankle"], 1]
    out = body(betas, torch.zeros(1, 3), torch.zeros(1, 69))
    assert out.keypoints[0, KP["nose"], 2] > joints[J["head"], 2]
    assert out.joints[0, J["left_shoulder"], 0] > 0  # the body's left is +x


def test_zero_pose_matches_anny_source(body, stored):
    """Anny's own T-posed meshes of 3 held-out shapes (stored at build time) vs our model."""
    out = body(torch.as_tensor(stored["ref_betas"]), torch.zeros(3, 3), torch.zeros(3, 69))
    ids = torch.as_tensor(stored["ref_vertex_ids"]).long()
    verr = (out.vertices[:, ids] - torch.as_tensor(stored["ref_vertices"])).norm(dim=-1) * 1e3
    jerr = (out.joints - torch.as_tensor(stored["ref_joints"])).norm(dim=-1) * 1e3
    assert verr.mean() < REF_VERTEX_MEAN_MM and verr.max() < REF_VERTEX_MAX_MM, (verr.mean(), verr.max())
    assert jerr.mean() < REF_JOINT_MEAN_MM and jerr.max() < REF_JOINT_MAX_MM, (jerr.mean(), jerr.max())


def test_posed_body_matches_anny_posing_its_own_mesh(body, stored):
    """Hips, knees, shoulders and elbows rotated by SMPL parameters vs Anny's 104-bone skinning
    of the same rotations (stored at build time): merged, truncated skin weights and the shape
    space stay within a few millimetres."""
    pose = torch.as_tensor(stored["ref_body_pose"])[None].expand(3, -1, -1)
    assert (pose.norm(dim=-1) > 0).sum() >= 6
    out = body(torch.as_tensor(stored["ref_betas"]), torch.zeros(3, 3), pose)
    ids = torch.as_tensor(stored["ref_vertex_ids"]).long()
    verr = (out.vertices[:, ids] - torch.as_tensor(stored["ref_posed_vertices"])).norm(dim=-1) * 1e3
    jerr = (out.joints - torch.as_tensor(stored["ref_posed_joints"])).norm(dim=-1) * 1e3
    assert verr.mean() < REF_POSED_VERTEX_MEAN_MM and verr.max() < REF_VERTEX_MAX_MM, (verr.mean(), verr.max())
    assert jerr.mean() < REF_JOINT_MEAN_MM and jerr.max() < REF_JOINT_MAX_MM, (jerr.mean(), jerr.max())
    rest = body(torch.as_tensor(stored["ref_betas"]), torch.zeros(3, 3), torch.zeros(3, 23, 3))
    assert (out.vertices[:, ids] - rest.vertices[:, ids]).norm(dim=-1).max() > 0.3  # really posed


def test_first_shape_component_changes_stature_monotonically(body):
    betas = torch.zeros(9, 10)
    betas[:, 0] = torch.linspace(-3, 3, 9)
    y = body(betas, torch.zeros(9, 3), torch.zeros(9, 69)).vertices[..., 1]
    stature = y.max(1).values - y.min(1).values
    assert torch.all(stature[1:] > stature[:-1]), stature
    assert 1.4 < float(stature[4]) < 1.9  # the mean adult body


def test_random_poses_give_finite_vertices(body):
    betas, orient, pose, transl = random_inputs(32, seed=5, pose_std=1.5)
    out = body(betas * 2, orient, pose, transl)
    for name in out._fields:
        assert torch.isfinite(getattr(out, name)).all(), name


def test_gradients_flow_to_all_parameters(body):
    betas, orient, pose, transl = (t.requires_grad_() for t in random_inputs(2, seed=6))
    out = body(betas, orient, pose, transl)
    (out.vertices.square().mean() + out.keypoints.square().mean()).backward()
    for t in (betas, orient, pose, transl):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


# -- SMPL pose conventions -----------------------------------------------------------------
def test_knee_positive_x_bends_the_shin_backwards(body):
    rest = body(*zero_pose()).joints[0]
    for side in ("left", "right"):
        bent = body(torch.zeros(1, 10), torch.zeros(1, 3), pose_with(f"{side}_knee", [1.2, 0, 0])).joints[0]
        ankle = J[f"{side}_ankle"]
        assert bent[ankle, 2] < rest[ankle, 2] - 0.2, "the ankle must move behind the body (-z)"
        assert bent[ankle, 1] > rest[ankle, 1] + 0.1
        torch.testing.assert_close(bent[J[f"{side}_knee"]], rest[J[f"{side}_knee"]])


def test_shoulder_z_rotation_raises_the_arm(body):
    rest = body(*zero_pose()).joints[0]
    left = body(torch.zeros(1, 10), torch.zeros(1, 3), pose_with("left_shoulder", [0, 0, 1.0])).joints[0]
    right = body(torch.zeros(1, 10), torch.zeros(1, 3), pose_with("right_shoulder", [0, 0, -1.0])).joints[0]
    assert left[J["left_wrist"], 1] > rest[J["left_wrist"], 1] + 0.2
    assert right[J["right_wrist"], 1] > rest[J["right_wrist"], 1] + 0.2


def test_elbow_rotation_moves_only_the_forearm_side(body):
    rest = body(*zero_pose()).joints[0]
    bent = body(torch.zeros(1, 10), torch.zeros(1, 3), pose_with("left_elbow", [0, -1.5, 0])).joints[0]
    moved = (bent - rest).norm(dim=-1) > 1e-4
    expected = {J["left_wrist"], J["left_hand"]}
    assert set(torch.nonzero(moved).flatten().tolist()) == expected


# -- landmarks and keypoints ---------------------------------------------------------------
def test_landmark_table_is_named_and_stored(body, stored):
    assert len(LANDMARK_NAMES) == 18 and len(set(LANDMARK_NAMES)) == 18
    assert list(stored["landmark_vertices"]) == list(landmark_index_array(FREE_BODY_LANDMARK_VERTICES))
    out = body(*zero_pose())
    torch.testing.assert_close(out.landmarks, out.vertices[:, body.landmark_vertices])


def test_landmark_rules_reproduce_the_stored_table(body):
    segment = body.skin_weights.argmax(1).numpy()
    table = select_landmark_vertices(body.v_template.numpy(), body.template_joints.numpy(), segment)
    assert table == FREE_BODY_LANDMARK_VERTICES


def test_landmarks_lie_where_their_names_say(body):
    lm = body(*zero_pose()).landmarks[0]
    j = body.template_joints
    for side, sign in (("left", 1.0), ("right", -1.0)):
        assert sign * lm[LM[f"{side}_hip_side"], 0] > sign * j[J[f"{side}_hip"], 0]
        assert lm[LM[f"{side}_thigh_front"], 2] > lm[LM[f"{side}_thigh_back"], 2]
        assert lm[LM[f"{side}_biceps"], 2] > lm[LM[f"{side}_triceps"], 2]
        assert lm[LM[f"{side}_breast"], 2] > j[J["spine3"], 2]
        assert sign * lm[LM[f"{side}_hand"], 0] > sign * j[J[f"{side}_wrist"], 0]
        assert lm[LM[f"{side}_foot"], 1] < j[J[f"{side}_knee"], 1]
    assert lm[LM["head_top"], 1] == body.v_template[:, 1].max()
    assert abs(float(lm[LM["belly"], 0])) < 0.01 and lm[LM["belly"], 2] > 0


def test_landmarks_move_with_the_mesh(body):
    rest = body(*zero_pose()).landmarks[0]
    bent = body(torch.zeros(1, 10), torch.zeros(1, 3), pose_with("left_knee", [1.2, 0, 0])).landmarks[0]
    moved = {LANDMARK_NAMES[i] for i in torch.nonzero((bent - rest).norm(dim=-1) > 1e-3).flatten().tolist()}
    assert moved == {"left_foot"}
    lifted = body(torch.zeros(1, 10), torch.zeros(1, 3), pose_with("left_shoulder", [0, 0, 1.0])).landmarks[0]
    moved = {LANDMARK_NAMES[i] for i in torch.nonzero((lifted - rest).norm(dim=-1) > 1e-3).flatten().tolist()}
    assert moved == {"left_hand", "left_biceps", "left_triceps"}


def test_keypoints_are_named_and_follow_the_joints(body):
    assert len(BLAZEPOSE_NAMES) == 33 and BLAZEPOSE_NAMES[0] == "nose" and BLAZEPOSE_NAMES[32] == "right_foot_index"
    betas, orient, pose, transl = random_inputs(8, seed=7, pose_std=0.6)
    out = body(betas, orient, pose, transl)
    # BlazePose points are surface-defined: near, not on, the joints (wider where skin stretches).
    near = {"shoulder": 0.08, "elbow": 0.04, "wrist": 0.04, "hip": 0.09, "knee": 0.04, "ankle": 0.04}
    for side in ("left", "right"):
        for part, tol in near.items():
            d = (out.keypoints[:, KP[f"{side}_{part}"]] - out.joints[:, J[f"{side}_{part}"]]).norm(dim=-1)
            assert d.max() < tol, f"{side}_{part}: {d.max():.3f} m from the joint"
        hand = (out.keypoints[:, [KP[f"{side}_{p}"] for p in ("pinky", "index", "thumb")]] - out.joints[:, J[f"{side}_hand"], None]).norm(dim=-1)
        assert hand.max() < 0.11  # the thumb's IP joint lies ~9 cm from SMPL's hand joint
        foot = (out.keypoints[:, [KP[f"{side}_heel"], KP[f"{side}_foot_index"]]] - out.joints[:, J[f"{side}_ankle"], None]).norm(dim=-1)
        assert foot.max() < 0.25
    face = out.keypoints[:, :11] - out.joints[:, J["head"], None]
    assert face.norm(dim=-1).max() < 0.15


def test_keypoint_face_layout_in_rest_pose(body):
    kp = body(*zero_pose()).keypoints[0]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        inner, centre, outer = (kp[KP[f"{side}_eye{s}"], 0] * sign for s in ("_inner", "", "_outer"))
        assert 0 < inner < centre < outer
        assert kp[KP[f"mouth_{side}"], 0] * sign > 0
        assert kp[KP[f"mouth_{side}"], 1] < kp[KP["nose"], 1] < kp[KP[f"{side}_eye"], 1]
        assert kp[KP[f"{side}_heel"], 2] < kp[KP[f"{side}_foot_index"], 2]


# -- files ----------------------------------------------------------------------------------
def test_missing_official_file_names_it_and_says_how_to_get_it(tmp_path):
    missing = tmp_path / "SMPL_NEUTRAL.pkl"
    with pytest.raises(FileNotFoundError) as err:
        load_body_model(missing)
    assert str(missing) in str(err.value) and "smpl.is.tue.mpg.de" in str(err.value)


def test_missing_free_model_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "FREE_MODEL_PATH", tmp_path / "smplr_free_body.npz")
    with pytest.raises(FileNotFoundError) as err:
        load_body_model()
    assert "smplr_free_body.npz" in str(err.value) and "scripts/build_body_model.py" in str(err.value)


@pytest.mark.parametrize("name,content", [
    ("garbage.npz", b"this is not a zip archive"),
    ("garbage.pkl", b"\x80\x02 definitely not a pickle"),
    ("empty.pkl", b""),
])
def test_corrupt_file_gives_a_clear_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BodyModelError) as err:
        load_body_model(path)
    assert str(path) in str(err.value)


def test_truncated_model_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "smplr_free_body.npz"
    data = files.FREE_MODEL_PATH.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BodyModelError) as err:
        load_body_model(path)
    assert str(path) in str(err.value)


def test_pickle_with_foreign_classes_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": shutil.rmtree}))
    with pytest.raises(BodyModelError, match="refusing"):
        load_body_model(path)


def test_npz_copy_of_free_model_loads(tmp_path, body):
    path = tmp_path / "copy.npz"
    shutil.copy(files.FREE_MODEL_PATH, path)
    other = load_body_model(path)
    torch.testing.assert_close(other.v_template, body.v_template)


# -- licensed (official-format) files --------------------------------------------------------
def _official_dict(body: BodyModel, wrap) -> dict:
    d = body.data
    V = d.v_template.shape[0]
    return {
        "v_template": wrap(d.v_template), "shapedirs": wrap(d.shapedirs), "posedirs": wrap(np.zeros((V, 3, 207))),
        "J_regressor": d.joint_regressor, "weights": wrap(d.skin_weights),
        "kintree_table": np.stack([np.array([4294967295] + list(SMPL_PARENTS[1:])), np.arange(24)]),
        "f": d.faces.astype(np.uint32), "bs_type": "lrotmin", "bs_style": "lbs",
    }


@pytest.fixture
def fake_chumpy():
    """A stand-in `chumpy` module, so the test can write a pickle like the official SMPL files."""
    pkg, mod = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:  # chumpy pickles its arrays as objects whose state holds the values under "x"
        def __init__(self, x):
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    mod.Ch = Ch
    pkg.ch = mod
    sys.modules.update({"chumpy": pkg, "chumpy.ch": mod})
    yield Ch
    del sys.modules["chumpy"], sys.modules["chumpy.ch"]


def test_official_pickle_with_chumpy_arrays_loads_without_chumpy(tmp_path, body, fake_chumpy):
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    data = _official_dict(body, fake_chumpy)
    scipy_sparse = pytest.importorskip("scipy.sparse")
    data["J_regressor"] = scipy_sparse.csc_matrix(data["J_regressor"])  # as in the official files
    path.write_bytes(pickle.dumps(data, protocol=2))
    del sys.modules["chumpy"], sys.modules["chumpy.ch"]  # loading must not need it
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = types.ModuleType("chumpy.ch")

    licensed = load_body_model(tmp_path)  # a folder holding SMPL_NEUTRAL.pkl works too
    assert licensed.kind == "official" and licensed.posedirs is None
    betas, orient, pose, transl = random_inputs(2, seed=8)
    a, b = licensed(betas, orient, pose, transl), body(betas, orient, pose, transl)
    torch.testing.assert_close(a.vertices, b.vertices, atol=1e-6, rtol=0)
    torch.testing.assert_close(a.joints, b.joints, atol=1e-6, rtol=0)
    # Same mesh, so the landmark rules and keypoint table give the same points.
    torch.testing.assert_close(a.landmarks, b.landmarks, atol=1e-6, rtol=0)
    torch.testing.assert_close(a.keypoints, b.keypoints, atol=1e-6, rtol=0)


def test_official_npz_with_pose_correctives_uses_them(tmp_path, body):
    data = _official_dict(body, np.asarray)
    rng = np.random.default_rng(0)
    data["posedirs"] = rng.normal(scale=1e-3, size=data["posedirs"].shape)
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, **{k: v for k, v in data.items() if isinstance(v, np.ndarray)})
    licensed = load_body_model(path)
    assert licensed.posedirs is not None
    betas, orient, pose, transl = random_inputs(2, seed=9)
    fast = licensed(betas, orient, pose, transl)
    ref = licensed.forward_smplx(betas, orient, pose, transl)
    assert (fast.vertices - ref.vertices).abs().max() < SMPLX_AGREEMENT_M
    assert (fast.vertices - body(betas, orient, pose, transl).vertices).abs().max() > 1e-3


def test_official_file_missing_arrays_is_rejected(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, v_template=np.zeros((10, 3)))
    with pytest.raises(BodyModelError) as err:
        load_body_model(path)
    assert str(path) in str(err.value) and "shapedirs" in str(err.value)


def test_split_keypoint_table_gives_the_same_points(body):
    betas, orient, pose, transl = random_inputs(2, seed=10)
    out = body(betas, orient, pose, transl)
    from smplr_core.body.keypoints import gather_keypoints

    ref = gather_keypoints(out.vertices, out.joints, body.keypoint_index, body.keypoint_weight)
    torch.testing.assert_close(out.keypoints, ref, atol=1e-6, rtol=0)


def test_official_sized_mesh_uses_smpl_vertex_tables(tmp_path, body):
    """A 6,890-vertex model in SMPL's npz layout (made from a subset of our mesh) takes the
    official-SMPL branch: known vertex numbers, rule-based landmarks, joints for limb keypoints."""
    from smplr_core.body.keypoints import SMPL_KEYPOINT_VERTICES
    from smplr_core.body.landmarks import SMPL_KNOWN_LANDMARK_VERTICES

    d = body.data
    keep = np.sort(np.random.default_rng(0).choice(body.num_vertices, 6890, replace=False))
    v = d.v_template[keep]
    joints = d.joint_regressor @ d.v_template
    jreg = np.zeros((24, 6890))
    jreg[np.arange(24), [int(np.argmin(np.linalg.norm(v - j, axis=1))) for j in joints]] = 1.0
    weights = d.skin_weights[keep]
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, v_template=v, shapedirs=d.shapedirs[keep], posedirs=np.zeros((6890, 3, 207)),
             J_regressor=jreg, weights=weights / weights.sum(1, keepdims=True),
             kintree_table=np.stack([np.array([-1] + list(SMPL_PARENTS[1:])), np.arange(24)]),
             f=np.array([[0, 1, 2]]))
    smpl = load_body_model(path)
    out = smpl(*random_inputs(2, seed=11)[:3])
    assert all(torch.isfinite(t).all() for t in out)
    for name, vid in SMPL_KNOWN_LANDMARK_VERTICES.items():
        torch.testing.assert_close(out.landmarks[:, LM[name]], out.vertices[:, vid])
    torch.testing.assert_close(out.keypoints[:, KP["nose"]], out.vertices[:, SMPL_KEYPOINT_VERTICES["nose"]])
    torch.testing.assert_close(out.keypoints[:, KP["left_elbow"]], out.joints[:, J["left_elbow"]])


def test_unknown_mesh_in_smpl_format_is_rejected(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    V = 100
    np.savez(path, v_template=np.zeros((V, 3)), shapedirs=np.zeros((V, 3, 10)), posedirs=np.zeros((V, 3, 207)),
             J_regressor=np.full((24, V), 1.0 / V), weights=np.full((V, 24), 1.0 / 24),
             kintree_table=np.stack([np.array([-1] + list(SMPL_PARENTS[1:])), np.arange(24)]), f=np.array([[0, 1, 2]]))
    with pytest.raises(BodyModelError) as err:
        load_body_model(path)
    assert str(path) in str(err.value)
