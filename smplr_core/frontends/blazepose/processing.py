"""BlazePose pre- and post-processing as batch-first torch functions (CPU or CUDA alike).

Coordinates are image pixels with pixel centres at ``i + 0.5``. A region of interest (ROI) is a
rotated square ``(cx, cy, side, angle)``: crop pixel ``(u, v)`` of an ``S x S`` crop samples the
image at ``c + R(angle) @ (((u, v) + 0.5) / S - 0.5) * side`` with ``R = [[cos, -sin], [sin, cos]]``
(the rotation convention of the reference graphs, y pointing down).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor

# SSD anchor layout of the pose detector (reference graph's SsdAnchorsCalculator options):
# feature maps of stride 8, 16, 32 on a 224 input, fixed-size anchors at cell centres;
# consecutive layers with equal stride share one feature map (2 anchors per layer).
DETECTOR_STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2
# Decoding (TensorsToDetectionsCalculator options): regressors are in 224-px units per anchor.
DETECTOR_SCALE = 224.0
SCORE_CLIP = 100.0
NUM_DETECTOR_KEYPOINTS = 4  # 0 hip centre, 1 full-body scale point, 2 shoulder centre, 3 upper-body point
NMS_IOU = 0.3
# ROI from two alignment points: rotate so that centre -> scale point points up; the square's
# side is twice their distance, enlarged by 1.25 (reference AlignmentPointsRects + RectTransformation).
ROI_TARGET_ANGLE = math.pi / 2
ROI_SIDE_FROM_DISTANCE = 2.0
ROI_ENLARGE = 1.25
ALIGN_CENTER, ALIGN_SCALE = 33, 34  # landmark indices of the alignment points


def ssd_anchors(input_size: int = 224, strides: tuple[int, ...] = DETECTOR_STRIDES) -> Tensor:
    """Anchor centres (A, 2) in [0, 1], in the detector's output order (2254 for the defaults)."""
    centres = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        n = (j - i) * ANCHORS_PER_LAYER
        size = math.ceil(input_size / strides[i])
        ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        grid = torch.stack([(xs + 0.5) / size, (ys + 0.5) / size], dim=-1).reshape(-1, 1, 2)
        centres.append(grid.expand(-1, n, 2).reshape(-1, 2))
        i = j
    return torch.cat(centres).float()


class Detections(NamedTuple):
    """Per detection, in image pixels: box (D, 4) x0, y0, x1, y1; keypoints (D, 4, 2); score (D,)."""
    box: Tensor
    keypoints: Tensor
    score: Tensor


def decode_detections(regressors: Tensor, score_logits: Tensor, anchors: Tensor, rois: Tensor,
                      min_score: float, max_person_fraction: Tensor | None = None) -> Detections:
    """Decode the detector's raw outputs of B crops into one set of image-pixel detections.

    regressors (B, A, 12), score_logits (B, A), anchors (A, 2), rois (B, 4) the axis-aligned
    square each crop was taken from (angle 0). Returns the detections above ``min_score``.
    max_person_fraction (B,): drop detections whose person ROI (from the alignment keypoints) is
    larger than this fraction of the crop; tiles only look for people smaller than themselves,
    because a tile cut through a large person gives a poor partial detection of them.
    """
    scores = torch.sigmoid(score_logits.clamp(-SCORE_CLIP, SCORE_CLIP))  # (B, A)
    ok = scores >= min_score
    if max_person_fraction is not None:
        kp = regressors[..., 4:8] / DETECTOR_SCALE  # centre and scale-point offsets (B, A, 4)
        dist = torch.linalg.norm(kp[..., 2:4] - kp[..., 0:2], dim=-1)
        ok &= dist * ROI_SIDE_FROM_DISTANCE * ROI_ENLARGE <= max_person_fraction[:, None]
    b_idx, a_idx = torch.nonzero(ok, as_tuple=True)
    reg = regressors[b_idx, a_idx] / DETECTOR_SCALE  # (D, 12) crop-normalised
    anc = anchors[a_idx]
    centre = reg[:, 0:2] + anc
    half = reg[:, 2:4] / 2
    kps = reg[:, 4:4 + 2 * NUM_DETECTOR_KEYPOINTS].reshape(-1, NUM_DETECTOR_KEYPOINTS, 2) + anc[:, None]
    roi = rois[b_idx]
    box_n = torch.cat([centre - half, centre + half], dim=-1).reshape(-1, 2, 2)
    to_img = lambda p: roi[:, None, 0:2] + (p - 0.5) * roi[:, None, 2:3]  # noqa: E731
    return Detections(to_img(box_n).reshape(-1, 4), to_img(kps), scores[b_idx, a_idx])


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU matrix (N, M) of boxes a (N, 4) and b (M, 4), x0, y0, x1, y1."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).clamp(min=0).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter).clamp(min=1e-9)


def weighted_nms(det: Detections, iou_threshold: float = NMS_IOU, max_out: int | None = None) -> Detections:
    """Weighted non-maximum suppression: every cluster of overlapping detections becomes one
    detection whose box and keypoints are the score-weighted mean of the cluster, scored by its best."""
    if det.score.numel() == 0:
        return det
    order = torch.argsort(det.score, descending=True)
    box, kps, score = det.box[order], det.keypoints[order], det.score[order]
    iou = box_iou(box, box)
    remaining = torch.ones(len(score), dtype=torch.bool, device=score.device)
    out_box, out_kps, out_score = [], [], []
    for i in range(len(score)):  # clusters are few: a handful of people per frame
        if not bool(remaining[i]):
            continue
        member = remaining & (iou[i] > iou_threshold)
        member[i] = True
        w = score * member
        w = w / w.sum()
        out_box.append((box * w[:, None]).sum(0))
        out_kps.append((kps * w[:, None, None]).sum(0))
        out_score.append(score[i])
        remaining &= ~member
        if max_out is not None and len(out_score) >= max_out:
            break
    return Detections(torch.stack(out_box), torch.stack(out_kps), torch.stack(out_score))


def normalise_angle(angle: Tensor) -> Tensor:
    return angle - 2 * math.pi * torch.floor((angle + math.pi) / (2 * math.pi))


def roi_from_alignment(centre: Tensor, scale_point: Tensor) -> Tensor:
    """ROIs (N, 4) cx, cy, side, angle from alignment points centre (N, 2) and scale_point (N, 2)."""
    d = scale_point - centre
    side = ROI_SIDE_FROM_DISTANCE * torch.linalg.norm(d, dim=-1) * ROI_ENLARGE
    angle = normalise_angle(ROI_TARGET_ANGLE - torch.atan2(-d[:, 1], d[:, 0]))
    return torch.stack([centre[:, 0], centre[:, 1], side, angle], dim=-1)


def letterbox_roi(height: int, width: int, device: torch.device | str = "cpu") -> Tensor:
    """The whole image as one square ROI (1, 4) (padding the short side), as the detector sees it."""
    return torch.tensor([[width / 2, height / 2, max(width, height), 0.0]], device=device)


def tile_rois(height: int, width: int, grid: tuple[int, int], overlap: float = 0.25,
              device: torch.device | str = "cpu") -> Tensor:
    """Square ROIs (rows*cols, 4) tiling the image with the given overlap, for small people."""
    rows, cols = grid
    side = max(height / (rows - (rows - 1) * overlap), width / (cols - (cols - 1) * overlap))
    side = min(side, max(height, width))
    cy = torch.linspace(side / 2, height - side / 2, rows) if rows > 1 else torch.tensor([height / 2])
    cx = torch.linspace(side / 2, width - side / 2, cols) if cols > 1 else torch.tensor([width / 2])
    yy, xx = torch.meshgrid(cy, cx, indexing="ij")
    n = rows * cols
    return torch.stack([xx.reshape(n), yy.reshape(n), torch.full((n,), side), torch.zeros(n)], -1).to(device)


def crop_rois(image: Tensor, rois: Tensor, size: int) -> Tensor:
    """Bilinear crops (B, C, size, size) of image (1, C, H, W) at rois (B, 4); zeros outside."""
    _, c, h, w = image.shape
    if rois.shape[0] == 0:
        return image.new_zeros(0, c, size, size)
    cos, sin = torch.cos(rois[:, 3]), torch.sin(rois[:, 3])
    half = rois[:, 2] / 2
    # affine_grid maps output coords in [-1, 1] to input coords in [-1, 1] (align_corners=False).
    theta = torch.stack([
        torch.stack([cos * half * 2 / w, -sin * half * 2 / w, 2 * rois[:, 0] / w - 1], -1),
        torch.stack([sin * half * 2 / h, cos * half * 2 / h, 2 * rois[:, 1] / h - 1], -1),
    ], dim=1)
    grid = F.affine_grid(theta, [rois.shape[0], image.shape[1], size, size], align_corners=False)
    return F.grid_sample(image.expand(rois.shape[0], -1, -1, -1), grid, mode="bilinear",
                         padding_mode="zeros", align_corners=False)


def crop_rois_cv2(image: np.ndarray, rois: np.ndarray, size: int) -> np.ndarray:
    """CPU twin of :func:`crop_rois` on the uint8 image (H, W, C) -> (B, size, size, C) uint8.

    OpenCV's SIMD warp on uint8 avoids converting the whole frame to float; it samples the same
    points as ``crop_rois`` (OpenCV puts pixel centres at integers, hence the 0.5 shifts)."""
    out = np.empty((len(rois), size, size, image.shape[2]), np.uint8)
    for k, (cx, cy, side, angle) in enumerate(np.asarray(rois, dtype=np.float64)):
        c, s_ = math.cos(angle), math.sin(angle)
        r = np.array([[c, -s_], [s_, c]]) * (side / size)
        t = np.array([cx, cy]) - 0.5 + r @ np.array([0.5 - size / 2, 0.5 - size / 2])
        m = np.concatenate([r, t[:, None]], axis=1)
        out[k] = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def crop_to_image(points: Tensor, rois: Tensor, size: int) -> Tensor:
    """Points (B, P, 2) in crop pixels of ``size`` -> image pixels, for rois (B, 4)."""
    cos, sin = torch.cos(rois[:, 3])[:, None], torch.sin(rois[:, 3])[:, None]
    rel = (points / size - 0.5) * rois[:, None, 2:3]
    x = cos * rel[..., 0] - sin * rel[..., 1] + rois[:, None, 0]
    y = sin * rel[..., 0] + cos * rel[..., 1] + rois[:, None, 1]
    return torch.stack([x, y], dim=-1)


def rotate_world(world: Tensor, rois: Tensor) -> Tensor:
    """World landmarks (B, P, 3) from the crop's rotated frame back to the image's axes."""
    cos, sin = torch.cos(rois[:, 3])[:, None], torch.sin(rois[:, 3])[:, None]
    x = cos * world[..., 0] - sin * world[..., 1]
    y = sin * world[..., 0] + cos * world[..., 1]
    return torch.stack([x, y, world[..., 2]], dim=-1)
