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
from smplr_core.inference import freeze, fusion
from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR, WEIGHT_FILES, load_checkpoint, load_state
from smplr_core.body.joint_names import NUM_JOINTS
from smplr_core.body.keypoints import NUM_KEYPOINTS
from smplr_core.body.landmarks import NUM_LANDMARKS
from smplr_core.models.dae import DAE, VISIBILITY_THRESHOLD, DAEConfig
from smplr_core.models.smplr import SMPLR, SMPLRConfig
from smplr_core.models.translation import MIN_POINTS, fit_translation


class PipelineOutput(NamedTuple):
    """What either lift (DAE -> SMPLR here, hourglass -> SMPLR in ``frontends/hourglass``) gives for
    the N people of a frame, batch-first, on the lift's device. Every float is finite; ``valid``
    False means "no estimate" for that person."""
    valid: torch.Tensor  # (N,) bool
    joints: torch.Tensor  # (N, 24, 3) camera frame, metres
    landmarks: torch.Tensor  # (N, 18, 3)
    vertices: torch.Tensor  # (N, V, 3)
    betas: torch.Tensor  # (N, 10)
    global_orient: torch.Tensor  # (N, 3) axis-angle, camera frame
    body_pose: torch.Tensor  # (N, 23, 3) axis-angle
    transl: torch.Tensor  # (N, 3) SMPL translation: body(betas, pose, transl) reproduces the outputs
    keypoints3d: torch.Tensor  # (N, 33, 3) the body's 33 keypoints (BlazePose's definition), camera frame
    lift_points: torch.Tensor  # (N, 41, 3) what SMPLR was given (the DAE's or the hourglass's 23
    #                            non-root joints then 18 landmarks), placed at the output pelvis

    @classmethod
    def empty(cls, num_vertices: int, device=None, dtype=torch.float32) -> "PipelineOutput":
        """The output for nobody: every field with N = 0 and its trailing shape."""
        z = lambda *s: torch.zeros((0,) + s, dtype=dtype, device=device)  # noqa: E731
        return cls(torch.zeros(0, dtype=torch.bool, device=device), z(NUM_JOINTS, 3), z(NUM_LANDMARKS, 3),
                   z(num_vertices, 3), z(10), z(3), z(NUM_JOINTS - 1, 3), z(3), z(NUM_KEYPOINTS, 3),
                   z(NUM_JOINTS - 1 + NUM_LANDMARKS, 3))


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


class _Core(torch.nn.Module):
    """Everything of a call after the input checks: hidden/non-finite points, DAE, SMPLR, body
    model, translation fit, camera-frame outputs and the per-person finiteness check. One module,
    so that on the CPU it can run as one traced, frozen graph."""

    def __init__(self, dae: torch.nn.Module, smplr: torch.nn.Module, body):
        super().__init__()
        self.dae, self.smplr, self.body = dae, smplr, _BodyDecode(body)

    def forward(self, kp: torch.Tensor, vis: torch.Tensor, k: torch.Tensor):
        finite = torch.isfinite(kp).all(-1) & torch.isfinite(vis)
        usable = finite & (vis >= VISIBILITY_THRESHOLD)
        vis = torch.where(finite, vis, torch.zeros_like(vis))
        kp = torch.where(finite[..., None], kp, torch.zeros_like(kp))
        points = self.dae(kp, vis, k)
        betas, rotmats = self.smplr(points)
        joints, landmarks, vertices, keypoints = self.body(betas, rotmats)
        root = joints[:, :1]
        t, fit_ok = fit_translation(keypoints - root, kp, usable.to(kp.dtype), k)
        valid = (usable.sum(dim=1) >= MIN_POINTS) & fit_ok
        shift = t[:, None] - root
        aa = geometry.matrix_to_axis_angle(rotmats)
        pelvis = t[:, None]
        outputs = (joints + shift, landmarks + shift, vertices + shift, betas, aa[:, 0], aa[:, 1:],
                   t - root[:, 0], keypoints + shift, points + pelvis)
        # Never hand out NaN: row sums propagate NaN/inf, one check over the sum of all fields'
        # sums; the zeroing runs on the device either way (no host round trip to decide).
        finite_rows = torch.isfinite(sum(x.flatten(1).sum(dim=1) for x in outputs))
        outputs = tuple(torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) for x in outputs)
        return (valid & finite_rows,) + outputs


class Pipeline(torch.nn.Module):
    """DAE -> SMPLR -> body model -> translation. Batch-first, same code on CPU and CUDA.

    With ``optimise`` (default) on a CPU the work runs as traced, frozen graphs built at the first
    call (``smplr_core.inference.freeze``; same numbers to ~1e-6): below batch 8 the whole call is
    one graph; from batch 8, where the body model skins in chunks (a path a small-batch trace does
    not take), only the DAE and SMPLR are frozen.
    """

    def __init__(self, dae: DAE, smplr: SMPLR, body, optimise: bool = True):
        super().__init__()
        self.dae = dae.eval()
        self.smplr = smplr.eval()
        self.body = body
        self.optimise = optimise
        self._frozen: tuple | None = None  # (small-batch graph, large-batch core): not submodules

    def _core(self, kp: torch.Tensor, vis: torch.Tensor, k: torch.Tensor) -> torch.nn.Module:
        """What runs this call: the eager core, or (CPU, ``optimise``) a frozen one."""
        if not self.optimise or kp.device.type != "cpu":
            return _Core(self.dae, self.smplr, self.body)
        if self._frozen is None:
            with torch.inference_mode(False):  # tracing records ops on normal tensors
                kp1, vis1, k1 = (x[:1].clone() for x in (kp, vis, k))
                small = freeze(_Core(self.dae, self.smplr, self.body), (kp1, vis1, k1), optimise_cpu=False)
                dae = freeze(self.dae, (kp1, vis1, k1))
                smplr = freeze(self.smplr, (dae(kp1, vis1, k1),))
            self._frozen = (small, _Core(dae, smplr, self.body))
        return self._frozen[0] if kp.shape[0] < CHUNKED_SKINNING_MIN_BATCH else self._frozen[1]

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
        kp, vis, k = self._tensors(keypoints_2d, visibility, intrinsics)
        _check_inputs(kp, vis, k)
        return self._run(kp, vis, k)

    @torch.inference_mode()
    def lift(self, rgb, keypoints_2d, visibility, boxes, intrinsics) -> PipelineOutput:
        """The frame path's lift interface (``smplr_core.frame.Lift``): the DAE lifts the 2D
        keypoints (N, 33, 2) with visibility (N, 33); the image and the boxes are not needed.
        intrinsics (4,) fx, fy, cx, cy of the image, checked by the caller on the host (so that no
        check waits for the device)."""
        n = len(keypoints_2d)
        kp, vis, k = self._tensors(keypoints_2d, visibility, intrinsics)
        return self._run(kp, vis, k.reshape(1, 4).expand(n, 4))

    def _tensors(self, *arrays) -> tuple[torch.Tensor, ...]:
        dev, dt = self.device, self.body.v_template.dtype
        return tuple(torch.as_tensor(a, dtype=dt, device=dev) for a in arrays)

    def _run(self, kp: torch.Tensor, vis: torch.Tensor, k: torch.Tensor) -> PipelineOutput:
        if kp.shape[0] == 0:
            return self._empty()
        with fusion(False):  # the frozen core graph must not meet the oneDNN Graph fuser
            return PipelineOutput(*self._core(kp, vis, k)(kp, vis, k))

    def _empty(self) -> PipelineOutput:
        return PipelineOutput.empty(self.body.num_vertices, self.device, self.body.v_template.dtype)
