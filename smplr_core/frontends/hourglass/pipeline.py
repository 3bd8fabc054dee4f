"""The paper's lift: image + person boxes -> hourglass -> SMPLR -> body model.

`HourglassPipeline.lift(image, keypoints, visibility, boxes, intrinsics)` is the frame path's lift
interface (``smplr_core.frame.Lift``) and returns the core's `PipelineOutput` (camera frame,
metres), so the frame path swaps the BlazePose -> DAE -> SMPLR lift for this one (the node's
`frontend:=hourglass`). The root position comes from the crop window (see `frontend.py`):
approximate in depth. Everything stays on the device; this module imports no training code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from smplr_core.frontends.hourglass.frontend import HourglassFrontend, shipped_weights
from smplr_core.frontends.hourglass.network import load_hourglass
from smplr_core.geometry import matrix_to_axis_angle
from smplr_core.pipeline import PipelineOutput


class HourglassPipeline:
    """Hourglass front-end + SMPLR + body model, batch-first over the people of one image."""

    def __init__(self, frontend: HourglassFrontend, smplr, body):
        self.frontend, self.smplr, self.body = frontend, smplr.eval(), body.eval()
        self.faces = body.faces

    @property
    def device(self) -> torch.device:
        return self.frontend.device

    @classmethod
    def load(cls, hourglass_weights: str | Path | None = None, smplr_weights: str | Path | None = None,
             body_model_path: str | None = None, device: str = "cpu") -> "HourglassPipeline":
        """Default: the default hourglass (``real``; its end-to-end fine-tuned copy with its own
        SMPLR when shipped, see ``shipped_weights``), else the hourglass alone with the core's
        shipped SMPLR (or the checkpoint given by `smplr_weights`). ``hourglass_weights`` takes
        another file, e.g. ``shipped_weights("medium")``."""
        from smplr_core.body import load_body_model
        from smplr_core.models.checkpoint import DEFAULT_WEIGHTS_DIR, WEIGHT_FILES
        from smplr_core.models.smplr import SMPLR, SMPLRConfig
        from smplr_core.pipeline import load_smplr

        path = Path(hourglass_weights) if hourglass_weights else shipped_weights("real")
        model, state = load_hourglass(path, device)
        if smplr_weights is None and "smplr_state_dict" in state:
            smplr = SMPLR(SMPLRConfig.from_dict(state["smplr_config"]))
            smplr.load_state_dict(state["smplr_state_dict"])
        else:
            smplr = load_smplr(smplr_weights or DEFAULT_WEIGHTS_DIR / WEIGHT_FILES["smplr"], device)
        return cls(HourglassFrontend(model, device), smplr.to(device), load_body_model(body_model_path, device))

    @torch.no_grad()
    def __call__(self, image: np.ndarray, boxes: np.ndarray, intrinsics) -> PipelineOutput:
        """image (H, W, 3) uint8 RGB, boxes (N, 4) x0, y0, x1, y1, intrinsics (4,)."""
        rel, root, _, _ = self.frontend.predict(image, boxes, intrinsics)
        if len(rel) == 0:
            return PipelineOutput.empty(self.body.num_vertices, self.device)
        points = rel[:, 1:]
        betas, rotmats = self.smplr(points)
        body = self.body.forward_rotmat(betas, rotmats, None)
        transl = root - body.joints[:, 0]
        aa = matrix_to_axis_angle(rotmats)
        valid = torch.isfinite(body.vertices).flatten(1).all(dim=1)
        shift = transl[:, None]
        return PipelineOutput(valid, body.joints + shift, body.landmarks + shift, body.vertices + shift,
                              betas, aa[:, 0], aa[:, 1:], transl, body.keypoints + shift, points + root[:, None])

    def lift(self, rgb, keypoints_2d, visibility, boxes, intrinsics) -> PipelineOutput:
        """The frame path's lift interface: the hourglass lifts each box of the image; the 2D
        keypoints are not needed."""
        return self(rgb, boxes, intrinsics)
