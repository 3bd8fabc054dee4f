"""The body model: an SMPL-layout layer with a fast forward path and the smplx reference path.

`BodyModel.forward` runs our own skinning (no pose correctives when the model has none, one
matrix product for the blended transforms); `BodyModel.smplx_layer()` builds the same model as
an unmodified `smplx.SMPL` (the reference the fast path is tested against).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from smplr_core.body import files
from smplr_core.body.joint_names import NUM_JOINTS, SMPL_PARENTS
from smplr_core.body.keypoints import NUM_KEYPOINTS, combine_keypoints, smpl_keypoint_table, split_keypoint_table
from smplr_core.body.landmarks import (
    NUM_LANDMARKS, SMPL_KNOWN_LANDMARK_VERTICES, landmark_index_array, select_landmark_vertices,
)
from smplr_core.body.lbs import (
    CoordMajorBody, SkinChunk, batch_rodrigues, coord_major, forward_kinematics, kinematic_levels, make_skin_chunks,
    shape_and_skin,
)

NUM_BETAS = 10
SMPL_NUM_VERTICES = 6890
NUM_POSE_BASIS = (NUM_JOINTS - 1) * 9


class BodyOutput(NamedTuple):
    """Posed body, metres, SMPL frame (y up, body faces +z)."""

    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, 24, 3) SMPL joints
    landmarks: torch.Tensor  # (B, 18, 3) landmarks.LANDMARK_NAMES
    keypoints: torch.Tensor  # (B, 33, 3) keypoints.BLAZEPOSE_NAMES


class ModelData(NamedTuple):
    """Arrays defining an SMPL-layout body (numpy, float64/int64)."""

    kind: str  # "free" or "official"
    path: Path
    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, 10)
    posedirs: np.ndarray | None  # (V, 3, 207), None when all zero
    joint_regressor: np.ndarray  # (24, V) dense
    skin_weights: np.ndarray  # (V, 24) dense
    faces: np.ndarray  # (F, 3)
    landmark_vertices: np.ndarray  # (18,)
    keypoint_index: np.ndarray  # (33, K) into concat(vertices, joints)
    keypoint_weight: np.ndarray  # (33, K)


def _dense_from_sparse(index: np.ndarray, weight: np.ndarray, rows: int, cols: int) -> np.ndarray:
    dense = np.zeros((rows, cols))
    np.add.at(dense, (np.repeat(np.arange(rows), index.shape[1]), index.reshape(-1).astype(np.int64)), weight.reshape(-1))
    return dense


def _free_model_data(path: Path, raw: dict[str, np.ndarray]) -> ModelData:
    V = raw["v_template"].shape[0]
    return ModelData(
        kind="free", path=path,
        v_template=raw["v_template"].astype(np.float64),
        shapedirs=raw["shapedirs"].astype(np.float64),
        posedirs=None,
        joint_regressor=_regressor_rows(raw["jreg_index"], raw["jreg_weight"], V),
        skin_weights=_dense_from_sparse(raw["skin_index"], raw["skin_weight"].astype(np.float64), V, NUM_JOINTS),
        faces=raw["faces"].astype(np.int64),
        landmark_vertices=raw["landmark_vertices"].astype(np.int64),
        keypoint_index=raw["keypoint_index"].astype(np.int64),
        keypoint_weight=raw["keypoint_weight"].astype(np.float64),
    )


def _regressor_rows(index: np.ndarray, weight: np.ndarray, V: int) -> np.ndarray:
    """(24, K) sparse rows -> (24, V) dense regressor."""
    dense = np.zeros((index.shape[0], V))
    for j in range(index.shape[0]):
        np.add.at(dense[j], index[j].astype(np.int64), weight[j].astype(np.float64))
    return dense


def _official_model_data(path: Path, raw: dict[str, np.ndarray]) -> ModelData:
    v_template = raw["v_template"].astype(np.float64)
    V = v_template.shape[0]
    shapedirs = raw["shapedirs"].astype(np.float64)
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (V, 3) or shapedirs.shape[2] < NUM_BETAS:
        raise files.BodyModelError(f"body model file {path}: shapedirs has shape {shapedirs.shape}, expected ({V}, 3, >={NUM_BETAS})")
    posedirs = raw["posedirs"].astype(np.float64).reshape(V, 3, -1)
    jreg = raw["J_regressor"].astype(np.float64)
    weights = raw["weights"].astype(np.float64)
    if jreg.shape != (NUM_JOINTS, V) or weights.shape != (V, NUM_JOINTS) or posedirs.shape[2] != NUM_POSE_BASIS:
        raise files.BodyModelError(f"body model file {path}: not a 24-joint SMPL model "
                                   f"(J_regressor {jreg.shape}, weights {weights.shape}, posedirs {posedirs.shape})")
    parents = raw["kintree_table"][0].astype(np.int64)
    if not np.array_equal(parents[1:], np.array(SMPL_PARENTS[1:])):
        raise files.BodyModelError(f"body model file {path}: kinematic tree differs from SMPL's")
    rest_joints = jreg @ v_template
    free = files.read_npz(files.FREE_MODEL_PATH) if files.FREE_MODEL_PATH.is_file() else None
    if V == SMPL_NUM_VERTICES:  # the official mesh: its well-known vertex numbers apply
        hip_weights = free["smpl_hip_weights"].astype(np.float64) if free is not None else np.array([1.0, 0.0, 0.0])
        kp_index, kp_weight = smpl_keypoint_table(v_template, rest_joints, hip_weights, k=4)
    elif free is not None and free["v_template"].shape[0] == V:  # our free mesh in SMPL's file format
        kp_index, kp_weight = free["keypoint_index"].astype(np.int64), free["keypoint_weight"]
    else:
        raise files.BodyModelError(f"body model file {path}: a mesh of {V} vertices is neither official SMPL's "
                                   f"({SMPL_NUM_VERTICES}) nor the free body's, so the BlazePose keypoints are undefined")
    try:
        table = select_landmark_vertices(v_template, rest_joints, weights.argmax(1))
    except ValueError as err:
        raise files.BodyModelError(f"body model file {path}: {err} (is the rest pose a T-pose, y up, facing +z?)") from err
    if V == SMPL_NUM_VERTICES:
        table.update(SMPL_KNOWN_LANDMARK_VERTICES)
    return ModelData(
        kind="official", path=path, v_template=v_template, shapedirs=shapedirs[:, :, :NUM_BETAS],
        posedirs=posedirs if np.any(posedirs) else None, joint_regressor=jreg, skin_weights=weights,
        faces=raw["f"].astype(np.int64), landmark_vertices=landmark_index_array(table),
        keypoint_index=kp_index, keypoint_weight=kp_weight.astype(np.float64),
    )


def read_model_data(path: str | Path | None = None) -> ModelData:
    """Model arrays from `path` (None: the committed free model). Errors name the file."""
    resolved, _ = files.resolve_model_path(path)
    kind, raw = files.read_model_file(resolved)
    try:
        return _free_model_data(resolved, raw) if kind == "free" else _official_model_data(resolved, raw)
    except KeyError as err:
        raise files.BodyModelError(f"body model file {resolved} lacks {err}: incomplete or from another version") from err


class BodyModel(torch.nn.Module):
    """SMPL-layout body: betas (B,10) + 24 joint rotations -> mesh, joints, landmarks, keypoints."""

    def __init__(self, data: ModelData, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.data = data
        self.kind = data.kind
        V = data.v_template.shape[0]
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)  # noqa: E731
        self.register_buffer("v_template", t(data.v_template))
        # (V*3, 10) and (V*3, 207): vertex-major, as the chunked skinning reads them.
        self.register_buffer("shapedirs", t(data.shapedirs.reshape(V * 3, NUM_BETAS)))
        # The regressor is linear, so rest joints = J_template + betas @ J_shapedirs exactly.
        self.register_buffer("template_joints", t(data.joint_regressor @ data.v_template))
        self.register_buffer("joint_shapedirs", t(np.einsum("jv,vck->kjc", data.joint_regressor, data.shapedirs).reshape(NUM_BETAS, -1)))
        self.register_buffer("skin_weights", t(data.skin_weights))
        # Chunked skinning tables (see lbs.make_skin_chunks), kept as buffers so .to() moves them.
        self._chunk_bounds = []
        for i, chunk in enumerate(make_skin_chunks(self.skin_weights)):
            self.register_buffer(f"_chunk_joints_{i}", chunk.joints, persistent=False)
            self.register_buffer(f"_chunk_weights_{i}", chunk.weights, persistent=False)
            self._chunk_bounds.append((chunk.start, chunk.stop))
        self.register_buffer("posedirs", t(data.posedirs.reshape(V * 3, -1)) if data.posedirs is not None else None)
        # The same arrays coordinate-major, for skinning a few bodies (lbs.shape_and_skin_small).
        small = coord_major(self.v_template, self.shapedirs, self.skin_weights, self.posedirs)
        for name, value in small._asdict().items():
            self.register_buffer(f"_cm_{name}", value, persistent=False)
        self.register_buffer("faces", torch.as_tensor(data.faces, dtype=torch.int64))
        self.register_buffer("parents", torch.as_tensor(SMPL_PARENTS, dtype=torch.int64))
        self.register_buffer("landmark_vertices", torch.as_tensor(data.landmark_vertices, dtype=torch.int64))
        self.register_buffer("keypoint_index", torch.as_tensor(data.keypoint_index, dtype=torch.int64))
        self.register_buffer("keypoint_weight", t(data.keypoint_weight))
        kp_v_index, kp_v_weight, kp_j_weight = split_keypoint_table(data.keypoint_index, data.keypoint_weight, V)
        self.register_buffer("_kp_vertex_index", torch.as_tensor(kp_v_index, dtype=torch.int64))
        self.register_buffer("_kp_vertex_weight", t(kp_v_weight))
        self.register_buffer("_kp_joint_weight", t(kp_j_weight))
        self._parents = list(SMPL_PARENTS)
        self._levels = kinematic_levels(self._parents)
        self.num_betas = NUM_BETAS
        self.num_vertices = V
        self.num_joints = NUM_JOINTS
        self.num_landmarks = NUM_LANDMARKS
        self.num_keypoints = NUM_KEYPOINTS
        self._smplx = None

    # -- shape --------------------------------------------------------------------------
    def _betas(self, betas: torch.Tensor, batch: int) -> torch.Tensor:
        betas = torch.as_tensor(betas, dtype=self.v_template.dtype, device=self.v_template.device)
        if betas.ndim != 2 or betas.shape[1] > self.num_betas:
            raise ValueError(f"betas must be (B, <= {self.num_betas}), got {tuple(betas.shape)}")
        if betas.shape[1] < self.num_betas:
            betas = torch.nn.functional.pad(betas, (0, self.num_betas - betas.shape[1]))
        return betas.expand(batch, -1) if betas.shape[0] == 1 and batch > 1 else betas

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """T-pose joints for shapes betas (B,10) -> (B,24,3)."""
        betas = self._betas(betas, betas.shape[0])
        return self.template_joints + (betas @ self.joint_shapedirs).reshape(-1, NUM_JOINTS, 3)

    def rest_vertices(self, betas: torch.Tensor) -> torch.Tensor:
        """T-pose mesh for shapes betas (B,10) -> (B,V,3)."""
        betas = self._betas(betas, betas.shape[0])
        return self.v_template + (betas @ self.shapedirs.t()).reshape(-1, self.num_vertices, 3)

    # -- forward ------------------------------------------------------------------------
    def forward(self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor,
                transl: torch.Tensor | None = None) -> BodyOutput:
        """betas (B,10), global_orient (B,3) and body_pose (B,23,3) or (B,69) axis-angle, transl (B,3)."""
        B = global_orient.shape[0]
        pose = torch.cat([global_orient.reshape(B, 1, 3), body_pose.reshape(B, NUM_JOINTS - 1, 3)], 1)
        rotmats = batch_rodrigues(pose.to(self.v_template.dtype))
        return self.forward_rotmat(betas, rotmats, transl)

    def forward_rotmat(self, betas: torch.Tensor, rotmats: torch.Tensor, transl: torch.Tensor | None = None) -> BodyOutput:
        """betas (B,10), rotmats (B,24,3,3) (index 0: global orientation), transl (B,3) or None."""
        rotmats = rotmats.to(self.v_template.dtype)
        B = rotmats.shape[0]
        betas = self._betas(betas, B)
        rest_j = self.template_joints + (betas @ self.joint_shapedirs).reshape(B, NUM_JOINTS, 3)
        joints, transforms = forward_kinematics(rotmats, rest_j, self._parents, self._levels)
        pose_feature = None
        if self.posedirs is not None:  # licensed SMPL: pose correctives (ours has none)
            eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
            pose_feature = (rotmats[:, 1:] - eye).reshape(B, -1)
        vertices = shape_and_skin(betas, self.v_template, self.shapedirs, transforms, self._skin_chunks(),
                                  self._coord_major(), pose_feature, self.posedirs)
        if transl is not None:
            transl = transl.to(vertices.dtype).reshape(B, 1, 3)
            vertices = vertices + transl
            joints = joints + transl
        return self._output(vertices, joints)

    def _coord_major(self) -> CoordMajorBody:
        return CoordMajorBody(*(getattr(self, f"_cm_{name}") for name in CoordMajorBody._fields))

    def _skin_chunks(self) -> list[SkinChunk]:
        return [SkinChunk(lo, hi, getattr(self, f"_chunk_joints_{i}"), getattr(self, f"_chunk_weights_{i}"))
                for i, (lo, hi) in enumerate(self._chunk_bounds)]

    def _output(self, vertices: torch.Tensor, joints: torch.Tensor) -> BodyOutput:
        landmarks = vertices[:, self.landmark_vertices]
        keypoints = combine_keypoints(vertices, joints, self._kp_vertex_index, self._kp_vertex_weight, self._kp_joint_weight)
        return BodyOutput(vertices, joints, landmarks, keypoints)

    # -- smplx reference path -----------------------------------------------------------
    def smplx_layer(self):
        """The same body as an unmodified `smplx.SMPL` (built from arrays: smplx cannot read .npz)."""
        if self._smplx is None:
            import smplx

            d = self.data
            V = d.v_template.shape[0]
            posedirs = d.posedirs if d.posedirs is not None else np.zeros((V, 3, NUM_POSE_BASIS))
            kintree = np.stack([np.array(SMPL_PARENTS, np.int64), np.arange(NUM_JOINTS)])
            struct = smplx.utils.Struct(
                v_template=d.v_template, shapedirs=d.shapedirs, posedirs=posedirs,
                J_regressor=d.joint_regressor, weights=d.skin_weights, kintree_table=kintree, f=d.faces,
            )
            layer = smplx.SMPL(model_path=str(d.path), data_struct=struct, num_betas=NUM_BETAS,
                               dtype=self.v_template.dtype)
            self._smplx = layer.to(self.v_template.device)
        return self._smplx

    def forward_smplx(self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor,
                      transl: torch.Tensor | None = None) -> BodyOutput:
        """Reference forward through smplx (slow: dense pose-corrective product). Same arguments as forward."""
        B = global_orient.shape[0]
        out = self.smplx_layer()(betas=self._betas(betas, B), global_orient=global_orient.reshape(B, 3),
                                 body_pose=body_pose.reshape(B, -1), transl=transl)
        # smplx appends 21 extra joints chosen by SMPL vertex numbers: only the first 24 are ours.
        return self._output(out.vertices, out.joints[:, :NUM_JOINTS])


def load_body_model(path: str | Path | None = None, device: str | torch.device = "cpu") -> BodyModel:
    """The body model: None = the committed free CC0 model; a path = official SMPL (.pkl/.npz or a folder).

    Raises FileNotFoundError (naming the file and how to get it) or files.BodyModelError.
    """
    return BodyModel(read_model_data(path)).to(device)
