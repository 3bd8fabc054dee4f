"""2D keypoints of N people -> 3D joints, landmarks, SMPL parameters and meshes in the camera frame.

    keypoints (N, 33, 2) px ──► DAE ──► 41 root-relative points ──► SMPLR ──► betas, 24 rotations
        ──► body model (decoder) ──► mesh, joints, landmarks, keypoints ──► root translation fit

Camera frame: OpenCV optical (x right, y down, z forward), metres. The networks predict the global
orientation directly in camera axes, so the body model (y-up in its own rest frame) needs no extra
conversion; ``global_orient`` is therefore the body's orientation *in the camera frame*.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from smplr_core import geometry
from smplr_core.body import load_body_model
from smplr_core.body.lbs import CHUNKED_SKINNING_MIN_BATCH
from smplr_core.inference import freeze
from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR, WEIGHT_FILES, load_checkpoint, load_state
from smplr_core.models.dae import DAE, VISIBILITY_THRESHOLD, DAEConfig
from smplr_core.models.smplr import SMPLR, SMPLRConfig
from smplr_core.models.translation import MIN_POINTS, fit_translation

NUM_KEYPOINTS = 33


class PipelineOutput(NamedTuple):
    """Per person; every float is finite; ``valid`` False means "no estimate" for that person."""
    valid: torch.Tensor  # (N,) bool
    joints: torch.Tensor  # (N, 24, 3) camera frame, metres
    landmarks: torch.Tensor  # (N, 18, 3)
    vertices: torch.Tensor  # (N, V, 3)
    betas: torch.Tensor  # (N, 10)
    global_orient: torch.Tensor  # (N, 3) axis-angle, camera frame
    body_pose: torch.Tensor  # (N, 23, 3) axis-angle
    transl: torch.Tensor  # (N, 3) SMPL translation: body(betas, pose, transl) reproduces the outputs
    keypoints3d: torch.Tensor  # (N, 33, 3) the body's 33 keypoints, camera frame


def load_dae(path: str | Path, device="cpu") -> DAE:
    """A DAE from its checkpoint, in eval mode."""
    payload = load_checkpoint(path, kind="dae")
    model = DAE(DAEConfig.from_dict(payload["config"]))
    load_state(model, payload, path)
    return model.to(device).eval()


def load_smplr(path: str | Path, device="cpu") -> SMPLR:
    """An SMPLR from its checkpoint, in eval mode."""
    payload = load_checkpoint(path, kind="smplr")
    model = SMPLR(SMPLRConfig.from_dict(payload["config"]))
    load_state(model, payload, path)
    return model.to(device).eval()


def _check_inputs(keypoints_2d, visibility, intrinsics) -> None:
    if keypoints_2d.ndim != 3 or keypoints_2d.shape[1:] != (NUM_KEYPOINTS, 2):
        raise ValueError(f"keypoints_2d must be (N, {NUM_KEYPOINTS}, 2), got {tuple(keypoints_2d.shape)}")
    n = keypoints_2d.shape[0]
    if visibility.shape != (n, NUM_KEYPOINTS):
        raise ValueError(f"visibility must be (N, {NUM_KEYPOINTS}) = ({n}, {NUM_KEYPOINTS}), got {tuple(visibility.shape)}")
    if intrinsics.shape != (n, 4):
        raise ValueError(f"intrinsics must be (N, 4) fx, fy, cx, cy = ({n}, 4), got {tuple(intrinsics.shape)}")
    if not torch.isfinite(intrinsics).all():
        raise ValueError("intrinsics must be finite")
    if (intrinsics[:, :2] <= 0).any():
        raise ValueError("intrinsics fx and fy must be positive (pixels)")


class _BodyDecode(torch.nn.Module):
    """The body model as the decoder: (betas, rotations) -> joints, landmarks, vertices, keypoints."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, betas: torch.Tensor, rotmats: torch.Tensor):
        out = self.body.forward_rotmat(betas, rotmats, None)
        return out.joints, out.landmarks, out.vertices, out.keypoints


class _Translation(torch.nn.Module):
    def forward(self, points_rel, keypoints_px, weights, intrinsics):
        return fit_translation(points_rel, keypoints_px, weights, intrinsics)


class _Stages(NamedTuple):
    dae: torch.nn.Module
    smplr: torch.nn.Module
    body: torch.nn.Module
    translation: torch.nn.Module


class Pipeline(torch.nn.Module):
    """DAE -> SMPLR -> body model -> translation. Batch-first, same code on CPU and CUDA.

    With ``optimise`` (default) on a CPU the four stages are traced and frozen at the first call
    (``smplr_core.inference.freeze``): same numbers to ~1e-6, about a third less time at batch 1.
    """

    def __init__(self, dae: DAE, smplr: SMPLR, body, optimise: bool = True):
        super().__init__()
        self.dae = dae.eval()
        self.smplr = smplr.eval()
        self.body = body
        self.optimise = optimise
        self._frozen: _Stages | None = None  # a tuple attribute: not registered as submodules

    def _stages(self, kp: torch.Tensor, vis: torch.Tensor, weights: torch.Tensor, k: torch.Tensor) -> _Stages:
        """The stages to run: eager modules, or (CPU, ``optimise``) frozen graphs traced on these inputs."""
        eager = _Stages(self.dae, self.smplr, _BodyDecode(self.body), _Translation())
        if not self.optimise or kp.device.type != "cpu":
            return eager
        if self._frozen is None:
            with torch.inference_mode(False):  # tracing records ops on normal tensors
                kp, vis, weights, k = (x.clone() for x in (kp, vis, weights, k))
                dae = freeze(self.dae, (kp, vis, k))
                points = dae(kp, vis, k)
                smplr = freeze(self.smplr, (points,))
                betas, rotmats = smplr(points)
                body = freeze(eager.body, (betas, rotmats), optimise_cpu=False)
                joints, _, _, keypoints = body(betas, rotmats)
                translation = freeze(eager.translation, (keypoints - joints[:, :1], kp, weights, k),
                                     optimise_cpu=False)
            self._frozen = _Stages(dae, smplr, body, translation)
        if kp.shape[0] >= CHUNKED_SKINNING_MIN_BATCH:
            # the body model skins larger batches chunk by chunk, a path the batch-1 trace did not take
            return self._frozen._replace(body=eager.body)
        return self._frozen

    @classmethod
    def load(cls, weights_dir: str | None = None, body_model_path: str | None = None, device="cpu",
             optimise: bool = True) -> "Pipeline":
        """Shipped weights (``weights/core``) and the free body model by default. Uses the SMPLR that was
        fine-tuned end to end behind the DAE (``smplr_end2end.pt``) when the folder has one."""
        wdir = Path(weights_dir) if weights_dir is not None else DEFAULT_WEIGHTS_DIR
        body = load_body_model(body_model_path, device=device)
        smplr = wdir / WEIGHT_FILES["smplr_end2end"]
        if not smplr.is_file():
            smplr = wdir / WEIGHT_FILES["smplr"]
        return cls(load_dae(wdir / WEIGHT_FILES["dae"], device), load_smplr(smplr, device), body,
                   optimise=optimise).to(device)

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) int64 triangle indices of the output meshes."""
        return self.body.faces

    @property
    def device(self) -> torch.device:
        return self.body.v_template.device

    @torch.inference_mode()
    def __call__(self, keypoints_2d, visibility, intrinsics) -> PipelineOutput:
        """keypoints_2d (N, 33, 2) px, visibility (N, 33) in [0, 1], intrinsics (N, 4) fx, fy, cx, cy."""
        dev, dt = self.device, self.body.v_template.dtype
        kp = torch.as_tensor(keypoints_2d, dtype=dt, device=dev)
        vis = torch.as_tensor(visibility, dtype=dt, device=dev)
        k = torch.as_tensor(intrinsics, dtype=dt, device=dev)
        _check_inputs(kp, vis, k)
        n = kp.shape[0]
        finite = torch.isfinite(kp).all(-1) & torch.isfinite(vis)
        usable = finite & (vis >= VISIBILITY_THRESHOLD)
        vis = torch.where(finite, vis, torch.zeros_like(vis))
        kp = torch.where(finite[..., None], kp, torch.zeros_like(kp))
        if n == 0:
            return self._empty()
        weights = usable.to(dt)
        stages = self._stages(kp, vis, weights, k)
        points = stages.dae(kp, vis, k)
        betas, rotmats = stages.smplr(points)
        joints, landmarks, vertices, keypoints = stages.body(betas, rotmats)
        root = joints[:, :1]
        t, fit_ok = stages.translation(keypoints - root, kp, weights, k)
        valid = (usable.sum(dim=1) >= MIN_POINTS) & fit_ok
        shift = t[:, None] - root
        aa = geometry.matrix_to_axis_angle(rotmats)
        result = PipelineOutput(
            valid=valid,
            joints=joints + shift,
            landmarks=landmarks + shift,
            vertices=vertices + shift,
            betas=betas,
            global_orient=aa[:, 0],
            body_pose=aa[:, 1:],
            transl=t - root[:, 0],
            keypoints3d=keypoints + shift,
        )
        # never hand out NaN: a person whose numbers are not finite has no estimate (sums propagate
        # NaN/inf, one cheap check per field)
        finite_rows = torch.ones(n, dtype=torch.bool, device=dev)
        for x in result[1:]:
            finite_rows &= torch.isfinite(x.reshape(n, -1).sum(dim=1))
        if bool(finite_rows.all()):
            return result._replace(valid=valid)
        return PipelineOutput(valid & finite_rows, *(torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) for x in result[1:]))

    def _empty(self) -> PipelineOutput:
        dev, dt = self.device, self.body.v_template.dtype
        z = lambda *s: torch.zeros(s, dtype=dt, device=dev)  # noqa: E731
        return PipelineOutput(torch.zeros(0, dtype=torch.bool, device=dev), z(0, 24, 3), z(0, 18, 3),
                              z(0, self.body.num_vertices, 3), z(0, 10), z(0, 3), z(0, 23, 3), z(0, 3), z(0, NUM_KEYPOINTS, 3))
