"""Inference wrapper: image + person boxes -> root-relative 3D joints and landmarks.

The person box comes from the default detector (BlazePose's, `PersonKeypoints.box`). On a real
image the root and its depth are unknown, so the paper's crop (centred on the root, side
f * 2.5 / z_root) is approximated from the box: centred on the box, with the person's extent
taking `PERSON_FRACTION_OF_WINDOW` of the 2.5 m window (as a standing adult does in training).
The root depth implied by that window, f * 2.5 / side, back-projects the volume coordinates.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch

from smplr_core.body.joint_names import NUM_JOINTS
from smplr_core.body.landmarks import NUM_LANDMARKS
from smplr_core.frontends.hourglass.network import load_hourglass
from smplr_core.frontends.hourglass.volume import VOLUME_SIZE_M, volume_to_root_relative
from smplr_core.locate import data_path

WEIGHTS_DIR = data_path("weights", "hourglass")
# Two stacks on BlazePose's frozen real-image features, CPU-trained: the default (docs/hourglass.md).
REAL_WEIGHTS = WEIGHTS_DIR / "real.pt"
# The paper's stem on the pixels, CPU-trained on renders only.
SMALL_WEIGHTS = WEIGHTS_DIR / "small.pt"
# trained on one GPU: far better on held-out renders, not on real images (docs/hourglass.md)
MEDIUM_WEIGHTS = WEIGHTS_DIR / "medium.pt"
DEFAULT_WEIGHTS = REAL_WEIGHTS
# The names the node and the CLI take (``hourglass_model``), default first.
MODEL_WEIGHTS = {"real": REAL_WEIGHTS, "small": SMALL_WEIGHTS, "medium": MEDIUM_WEIGHTS}


def shipped_weights(model: str) -> Path:
    """The file ``hourglass_model`` names: its end-to-end fine-tuned copy (hourglass and SMPLR
    together, ``<name>_e2e.pt``) where one is shipped, else the hourglass alone."""
    if model not in MODEL_WEIGHTS:
        raise ValueError(f"hourglass_model must be one of {', '.join(MODEL_WEIGHTS)}, got {model!r}")
    plain = MODEL_WEIGHTS[model]
    e2e = plain.with_name(plain.stem + "_e2e.pt")
    return e2e if e2e.is_file() else plain
# A standing adult (~1.7 m incl. the box margin) spans this fraction of the 2.5 m crop window.
PERSON_FRACTION_OF_WINDOW = 0.7


class HourglassOutput(NamedTuple):
    joints: np.ndarray        # (N, 24, 3) root-relative camera-frame metres (pelvis = 0)
    landmarks: np.ndarray     # (N, 18, 3) root-relative camera-frame metres
    keypoints_2d: np.ndarray  # (N, 42, 2) pixels in the input image (joints then landmarks)
    root_cam: np.ndarray      # (N, 3) camera-frame root implied by the crop window (approximate)
    windows: np.ndarray       # (N, 4) x0, y0, x1, y1 crop windows in the image


def windows_from_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) person boxes -> (N, 4) square crop windows around their centres."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / PERSON_FRACTION_OF_WINDOW
    side = np.maximum(side, 8.0)
    return np.concatenate([centre - side[:, None] / 2, centre + side[:, None] / 2], axis=1)


def crop_windows(image: np.ndarray, windows: np.ndarray, size: int) -> np.ndarray:
    """Affine crops (zero padding outside the image): (N, size, size, 3) uint8."""
    crops = np.zeros((len(windows), size, size, 3), np.uint8)
    for i, (x0, y0, x1, y1) in enumerate(windows):
        s = size / (x1 - x0)
        m = np.array([[s, 0, -s * x0], [0, s, -s * y0]], np.float32)
        crops[i] = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crops


class HourglassFrontend:
    """`frontend(image, boxes, intrinsics) -> HourglassOutput` for every box in one forward pass."""

    def __init__(self, model, device: str = "cpu"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.crop_size = model.config.input_size

    @classmethod
    def load(cls, weights: str | Path | None = None, device: str = "cpu") -> "HourglassFrontend":
        model, _ = load_hourglass(weights or DEFAULT_WEIGHTS, device)
        return cls(model, device)

    @torch.no_grad()
    def predict(self, image: np.ndarray, boxes: np.ndarray, intrinsics):
        """The network's answer, kept on the device: (points (N, 42, 3) root-relative camera-frame
        metres, joints then landmarks; root (N, 3) camera-frame root implied by the crop window;
        volume (N, 42, 3) the volume coordinates; windows (N, 4) numpy crop windows)."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 \
                or image.size == 0:
            raise ValueError("image must be a non-empty (H, W, 3) uint8 RGB array")
        fx, fy, cx, cy = (float(v) for v in np.asarray(intrinsics, np.float64).reshape(4))
        if fx <= 0 or fy <= 0:
            raise ValueError(f"intrinsics need positive focal lengths, got fx={fx}, fy={fy}")
        windows = windows_from_boxes(boxes)
        crops = crop_windows(image, windows, self.crop_size)
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255.0).to(self.device)
        volume = self.model.predict_volume(x).double() if len(windows) else \
            torch.zeros(0, NUM_JOINTS + NUM_LANDMARKS, 3, dtype=torch.float64, device=self.device)
        side = windows[:, 2] - windows[:, 0]
        centre = (windows[:, :2] + windows[:, 2:]) / 2
        depth = fx * VOLUME_SIZE_M / side
        ray = np.stack([(centre[:, 0] - cx) / fx, (centre[:, 1] - cy) / fy], -1)
        depth_t, ray_t = (torch.as_tensor(a, dtype=torch.float64, device=self.device) for a in (depth, ray))
        rel = volume_to_root_relative(volume, depth_t, ray_t)
        # Training jitters the crop centre about the pelvis, so the network predicts the root too.
        root = torch.cat([ray_t * depth_t[:, None], depth_t[:, None]], dim=1) + rel[:, 0]
        return (rel - rel[:, :1]).float(), root.float(), volume, windows

    def __call__(self, image: np.ndarray, boxes: np.ndarray, intrinsics) -> HourglassOutput:
        """image (H, W, 3) uint8 RGB; boxes (N, 4) x0, y0, x1, y1; intrinsics (4,) fx, fy, cx, cy."""
        rel, root, volume, windows = self.predict(image, boxes, intrinsics)
        rel, root, volume = (t.cpu().numpy() for t in (rel, root, volume))
        # Volume (a, b) are crop-plane metres: crop pixels = a * S / 2.5 + S / 2, then to the image.
        side = windows[:, 2] - windows[:, 0]
        centre = (windows[:, :2] + windows[:, 2:]) / 2
        pix = volume[..., :2] / VOLUME_SIZE_M * side[:, None, None] + centre[:, None, :]
        return HourglassOutput(rel[:, :NUM_JOINTS], rel[:, NUM_JOINTS:], pix.astype(np.float32), root,
                               windows.astype(np.float32))
