"""The paper's image path as one call: image + person boxes -> hourglass -> SMPLR -> body model.

`HourglassPipeline(image, boxes, intrinsics)` returns the same fields as the core's
`Pipeline.__call__` (valid, joints, landmarks, vertices, betas, global_orient, body_pose, transl;
camera frame, metres), so a caller that already has the default detector's person boxes can swap
the BlazePose -> DAE -> SMPLR lift for this one (the node's `frontend:=hourglass`).
The root position comes from the crop window (see `frontend.py`): approximate in depth.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from smplr_core.frontends.hourglass.frontend import DEFAULT_WEIGHTS, HourglassFrontend
from smplr_core.geometry import matrix_to_axis_angle

DEFAULT_E2E_WEIGHTS = DEFAULT_WEIGHTS.with_name("small_e2e.pt")


class HourglassPipelineOutput(NamedTuple):
    valid: torch.Tensor          # (N,) bool
    joints: torch.Tensor         # (N, 24, 3) camera frame metres
    landmarks: torch.Tensor      # (N, 18, 3)
    vertices: torch.Tensor       # (N, V, 3)
    betas: torch.Tensor          # (N, 10)
    global_orient: torch.Tensor  # (N, 3) axis-angle, camera frame
    body_pose: torch.Tensor      # (N, 23, 3) axis-angle
    transl: torch.Tensor         # (N, 3): pelvis = body model's rest pelvis + transl


class HourglassPipeline:
    """Hourglass front-end + SMPLR + body model, batch-first over the people of one image."""

    def __init__(self, frontend: HourglassFrontend, smplr, body):
        self.frontend, self.smplr, self.body = frontend, smplr.eval(), body.eval()
        self.faces = body.faces

    @classmethod
    def load(cls, hourglass_weights: str | Path | None = None, smplr_weights: str | Path | None = None,
             body_model_path: str | None = None, device: str = "cpu") -> "HourglassPipeline":
        """Default: the end-to-end fine-tuned small hourglass and its SMPLR when shipped, else the
        hourglass alone with the core's shipped SMPLR (or the checkpoint given by `smplr_weights`).
        ``hourglass_weights=MEDIUM_WEIGHTS`` picks the GPU-trained medium network."""
        from smplr_core.body import load_body_model
        from smplr_core.models.smplr import SMPLR, SMPLRConfig
        from smplr_core.train.hourglass import load_checkpoint
        from smplr_core.train.hourglass_smplr import default_smplr_path, load_smplr

        path = Path(hourglass_weights) if hourglass_weights else (
            DEFAULT_E2E_WEIGHTS if DEFAULT_E2E_WEIGHTS.is_file() else DEFAULT_WEIGHTS)
        model, state = load_checkpoint(path, device)
        if smplr_weights is not None:
            smplr = load_smplr(smplr_weights, device)
        elif "smplr_state_dict" in state:
            smplr = SMPLR(SMPLRConfig.from_dict(state["smplr_config"]))
            smplr.load_state_dict(state["smplr_state_dict"])
        else:
            smplr = load_smplr(default_smplr_path(), device)
        return cls(HourglassFrontend(model, device), smplr.to(device), load_body_model(body_model_path, device))

    @torch.no_grad()
    def __call__(self, image: np.ndarray, boxes: np.ndarray, intrinsics) -> HourglassPipelineOutput:
        """image (H, W, 3) uint8 RGB, boxes (N, 4) x0, y0, x1, y1, intrinsics (4,)."""
        out = self.frontend(image, boxes, intrinsics)
        device = self.frontend.device
        n = len(out.joints)
        rel = torch.as_tensor(np.concatenate([out.joints, out.landmarks], axis=1), device=device)
        if n == 0:
            z = torch.zeros
            return HourglassPipelineOutput(z(0, dtype=torch.bool), z(0, 24, 3), z(0, 18, 3),
                                           z(0, self.body.num_vertices, 3), z(0, 10), z(0, 3), z(0, 23, 3), z(0, 3))
        betas, rotmats = self.smplr(rel[:, 1:])
        body = self.body.forward_rotmat(betas, rotmats, None)
        root = torch.as_tensor(out.root_cam, device=device)
        transl = root - body.joints[:, 0]
        aa = matrix_to_axis_angle(rotmats)
        valid = torch.isfinite(body.vertices).flatten(1).all(dim=1)
        return HourglassPipelineOutput(valid, body.joints + transl[:, None], body.landmarks + transl[:, None],
                                       body.vertices + transl[:, None], betas, aa[:, 0], aa[:, 1:], transl)
