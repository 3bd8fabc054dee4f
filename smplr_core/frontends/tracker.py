"""``PoseTracker``: every person in an RGB image -> 33 BlazePose keypoints with a stable track id.

Per frame (all on ``device``; numpy only at the API boundary):

1. **Detection** (first frame, whenever nobody is tracked, and every ``redetect_interval`` frames
   while fewer than ``max_people`` are tracked): the detector runs on the whole image
   (letterboxed) and on overlapping tiles, batched, so that small people are found too (all tiles
   on the first frame after a reset, then ``tiles_per_detection`` of them at a time, round-robin;
   with ``spread_first_detection`` the first frame too takes only ``tiles_per_detection`` tiles:
   the 21 detector crops of a full pass cost about 0.16 s on this CPU, a live stream's first
   frame then costs about as much as any detection frame). With ``medium_scale`` (default) every
   detection also covers the image with two squares of its short side, so that a person of a
   third to a half of the frame's height is found at once wherever they stand (too small for the
   whole-image pass, too large for a tile). Weighted NMS merges the detections of each pass; each
   one gives a rotated ROI from its two alignment keypoints.
2. **Landmarks**: all ROIs (tracked + new) are cropped with one ``grid_sample`` and go through the
   landmark network in one batch. A person is kept while the pose flag is >= ``min_pose_score``.
3. **Tracking**: the next frame's ROI of each person comes from this frame's alignment landmarks,
   so a track keeps its id without matching. New detections that fall on a tracked person are
   ignored; duplicate tracks (same keypoints) are merged, keeping the older id.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from smplr_core.body.keypoints import BLAZEPOSE_NAMES, NUM_KEYPOINTS
from smplr_core.frontends.blazepose import processing as P
from smplr_core.inference import COMPILE_CALLS
from smplr_core.frontends.blazepose.networks import (DETECTOR_INPUT_SIZE, LANDMARK_INPUT_SIZE,
                                                     BlazePoseDetector, BlazePoseLandmarks)

# The 33 points the landmark network outputs, in its order (BlazePose's definition).
KEYPOINT_NAMES = BLAZEPOSE_NAMES
# Tiles look only for people whose ROI is at most this fraction of the tile (see decode_detections).
TILE_MAX_PERSON_FRACTION = 1.0
# A new detection whose ROI centre lies within this fraction of a tracked ROI's side from the
# tracked centre belongs to that person.
SAME_PERSON_CENTRE_FRACTION = 0.12
# Two tracks are the same person when this fraction of their keypoints lie within
# DUPLICATE_DISTANCE_FRACTION of the person's size of each other.
DUPLICATE_KEYPOINT_FRACTION = 0.5
DUPLICATE_DISTANCE_FRACTION = 0.1
# New detections beyond the free places that still get a landmark pass on a detection frame:
# the landmark network's pose flag picks the real people among them.
CANDIDATE_SURPLUS = 4
# Detections in the medium squares need at least this score: at 0.4-0.6 a ghost in skimage's
# rocket image passed the pose flag (0.74-0.88); at 0.7 the sample video lost one marked frame.
MEDIUM_MIN_DETECTION_SCORE = 0.7
# A new candidate whose keypoint box lies more than this fraction inside a tracked person's box
# is a duplicate of that person (not applied between new candidates: in a crowd, a person
# partly behind another is a new candidate inside the other's box).
CONTAINED_FRACTION = 0.7


@dataclass
class PersonKeypoints:
    """One person in one frame. Pixels are in the input image (x right, y down)."""
    track_id: int
    score: float  # pose presence in [0, 1]
    keypoints: np.ndarray  # (33, 2) float32 pixels, BlazePose order
    visibility: np.ndarray  # (33,) float32 in [0, 1]: visible and inside the image
    world: np.ndarray | None  # (33, 3) float32 metres, hip-centred, image axes (y down)
    box: np.ndarray  # (4,) float32 x0, y0, x1, y1 pixels (keypoint bounds)
    # The check network's (33, 2) keypoints and (33,) visibility on the same crop, when this track
    # was in ``PoseTracker.check_ids`` (the accurate preset's second opinion on the labels).
    reference: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class _Frame:
    array: np.ndarray | None  # (H, W, 3) uint8, CPU path
    tensor: torch.Tensor | None  # (1, 3, H, W) float in [0, 1] on the device, other devices
    height: int
    width: int


@dataclass
class _Tracks:
    ids: list[int] = field(default_factory=list)
    rois: torch.Tensor | None = None  # (T, 4)


def _visibility(landmarks: torch.Tensor) -> torch.Tensor:
    """(B, 33) in [0, 1] from the landmark network's (B, 39, 5): visible and inside the image."""
    return torch.sigmoid(landmarks[:, :NUM_KEYPOINTS, 3]) * torch.sigmoid(landmarks[:, :NUM_KEYPOINTS, 4])


def validate_image(image: np.ndarray) -> None:
    """Raise ValueError unless ``image`` is a non-empty HxWx3 uint8 array."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 RGB, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image is empty or too small: {image.shape}")


class PoseTracker:
    """Multi-person BlazePose with tracking. ``tracker(image HxWx3 uint8 RGB) -> list[PersonKeypoints]``.

    model: landmark network "lite" | "full" | "heavy"; device: "cpu" | "cuda" | torch.device;
    tile_grid: (rows, cols) of overlapping detector tiles added to the whole-image pass
    (None: whole image only); optimise: trace + freeze the networks (faster on CPU);
    crop: "auto" | "opencv" | "torch" (how ROIs are cropped; both sample the same points);
    medium_scale: every detection also looks at two squares of the image's short side (people
    too small for the whole-image pass and too large for a tile; docs/frontend.md).
    check_model: a second landmark network ("heavy" in the accurate preset; None: none) run on
    the crops of the tracks the caller puts in ``check_ids`` before a call; their people carry its
    keypoints as ``reference``. Frames that run the detector skip the check (they are the slow
    ones); ``last_checked`` lists the track ids checked in the last call.
    """

    def __init__(self, model: str = "full", max_people: int = 4, device: str | torch.device = "cpu",
                 min_detection_score: float = 0.4, min_pose_score: float = 0.5,
                 redetect_interval: int = 8, tile_grid: tuple[int, int] | None = (4, 5),
                 tiles_per_detection: int = 4, optimise: bool = True, world: bool = True,
                 crop: str = "auto", medium_scale: bool = True, check_model: str | None = None):
        if max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        if redetect_interval < 1:
            raise ValueError(f"redetect_interval must be >= 1, got {redetect_interval}")
        self.device = torch.device(device)
        self.max_people = int(max_people)
        self.min_detection_score = float(min_detection_score)
        self.min_pose_score = float(min_pose_score)
        self.redetect_interval = int(redetect_interval)
        self.tile_grid = tile_grid
        self.tiles_per_detection = int(tiles_per_detection)
        self.with_world = world
        if crop not in ("auto", "opencv", "torch"):
            raise ValueError(f"crop must be 'auto', 'opencv' or 'torch', got {crop!r}")
        # auto: OpenCV on the uint8 frame on CPU, batched grid_sample on other devices.
        self.crop_with_opencv = crop == "opencv" or (crop == "auto" and self.device.type == "cpu")
        self.detector = BlazePoseDetector(self.device, optimise=optimise)
        self.landmarks = BlazePoseLandmarks(model, self.device, optimise=optimise)
        self.check_landmarks = None if check_model is None else \
            BlazePoseLandmarks(check_model, self.device, optimise=optimise)
        self.check_ids: set[int] = set()
        self.anchors = P.ssd_anchors(DETECTOR_INPUT_SIZE).to(self.device)
        self.spread_first_detection = False
        self.medium_scale = medium_scale
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (next frame runs full detection; ids restart at 0)."""
        self._tracks = _Tracks()
        self._next_id = 0
        self._frames_since_detection = 0
        self._tile_cursor = 0
        self._first_frame = True
        self.last_detected = False  # whether the last call ran the detector
        self.last_checked: list[int] = []  # the track ids the check network ran on in the last call

    def warm_up(self) -> float:
        """Run both networks on blank crops at every batch size tracking uses, so that the first
        frames (and the first frame with more people) do not pay for compiling the fused CPU
        graphs (50-100 ms per new batch size; see ``smplr_core.inference.FusedGraph``).
        Returns the seconds it took (about 2 s on 2 cores with the defaults)."""
        start = time.perf_counter()
        tiles = 0 if self.tile_grid is None else self.tile_grid[0] * self.tile_grid[1]
        medium = self._n_medium
        detector_batches = sorted({1 + medium + tiles, 1 + medium + min(tiles, self.tiles_per_detection)})
        landmark_batches = range(1, self.max_people + CANDIDATE_SURPLUS + 1)
        dev = self.device
        with torch.inference_mode():
            for _ in range(COMPILE_CALLS):
                for b in detector_batches:
                    self.detector(torch.zeros(b, 3, DETECTOR_INPUT_SIZE, DETECTOR_INPUT_SIZE, device=dev))
                for b in landmark_batches:
                    self.landmarks(torch.zeros(b, 3, LANDMARK_INPUT_SIZE, LANDMARK_INPUT_SIZE, device=dev))
                if self.check_landmarks is not None:  # one track per check (labelcheck's budget)
                    self.check_landmarks(torch.zeros(1, 3, LANDMARK_INPUT_SIZE, LANDMARK_INPUT_SIZE, device=dev))
        return time.perf_counter() - start

    # -- stages -------------------------------------------------------------------------------
    def _frame(self, image: np.ndarray) -> "_Frame":
        if self.crop_with_opencv:
            return _Frame(image, None, image.shape[0], image.shape[1])
        t = torch.from_numpy(np.ascontiguousarray(image)).to(self.device, non_blocking=True)
        return _Frame(None, t.permute(2, 0, 1)[None].float().div_(255.0), image.shape[0], image.shape[1])

    def _crop(self, frame: "_Frame", rois: torch.Tensor, size: int) -> torch.Tensor:
        """Crops (B, 3, size, size) in [0, 1]. On CPU OpenCV warps the uint8 frame (no float copy of
        the whole frame); elsewhere one batched grid_sample. Both sample the same points."""
        if frame.array is not None:
            crops = P.crop_rois_cv2(frame.array, rois.cpu().numpy(), size)
            return torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        return P.crop_rois(frame.tensor, rois, size)

    @property
    def _n_medium(self) -> int:
        """How many medium squares a detection adds (``_medium_rois``)."""
        return 2 if self.medium_scale else 0

    def _medium_rois(self, h: int, w: int) -> torch.Tensor:
        """Squares of the image's short side along its long side (two for 16:9 and 4:3), for
        people too small for the whole image and too large for the tiles."""
        if not self.medium_scale:
            return torch.zeros(0, 4, device=self.device)
        grid = (1, self._n_medium) if w >= h else (self._n_medium, 1)
        return P.tile_rois(h, w, grid, overlap=0.0, device=self.device)

    def _detection_rois(self, h: int, w: int, all_tiles: bool) -> torch.Tensor:
        rois = torch.cat([P.letterbox_roi(h, w, self.device), self._medium_rois(h, w)])
        if self.tile_grid is None:
            return rois
        tiles = P.tile_rois(h, w, self.tile_grid, device=self.device)
        if not all_tiles and self.tiles_per_detection < len(tiles):
            idx = (torch.arange(self.tiles_per_detection) + self._tile_cursor) % len(tiles)
            self._tile_cursor = int((self._tile_cursor + self.tiles_per_detection) % len(tiles))
            tiles = tiles[idx.to(self.device)]
        return torch.cat([rois, tiles])

    def detect(self, frame: "_Frame", all_tiles: bool = True) -> P.Detections:
        """Person detections in image pixels."""
        rois = self._detection_rois(frame.height, frame.width, all_tiles)
        crops = self._crop(frame, rois, DETECTOR_INPUT_SIZE) * 2 - 1
        out = self.detector(crops)
        whole = P.weighted_nms(P.decode_detections(out.regressors[:1], out.score_logits[:1], self.anchors,
                                                   rois[:1], self.min_detection_score))
        passes = [whole]
        n_medium = self._n_medium
        for lo, hi, min_score in ((1, 1 + n_medium, max(self.min_detection_score, MEDIUM_MIN_DETECTION_SCORE)),
                                  (1 + n_medium, len(rois), self.min_detection_score)):
            if hi > lo:
                limit = torch.full((hi - lo,), TILE_MAX_PERSON_FRACTION, device=self.device)
                passes.append(P.weighted_nms(P.decode_detections(
                    out.regressors[lo:hi], out.score_logits[lo:hi], self.anchors, rois[lo:hi], min_score, limit)))
        # Whole-image, medium-square and tile detections are not merged with each other (a
        # tile's partial view would corrupt the whole-image keypoints): all go to the landmark
        # network, whose pose flag and the keypoint de-duplication decide.
        return P.Detections(*(torch.cat(parts) for parts in zip(*passes)))

    def _new_rois(self, det: P.Detections, tracked: torch.Tensor | None, room: int) -> torch.Tensor:
        rois = P.roi_from_alignment(det.keypoints[:, 0], det.keypoints[:, 1])
        if tracked is not None and len(tracked) and len(rois):
            dist = torch.cdist(rois[:, :2], tracked[:, :2])  # (D, T)
            near = (dist < SAME_PERSON_CENTRE_FRACTION * tracked[None, :, 2]).any(1)
            rois = rois[~near]
        return rois[:room]

    @staticmethod
    def _dedupe(kps: torch.Tensor, keep: torch.Tensor, priority: list[tuple]) -> torch.Tensor:
        """keep (N,) bool with the duplicates of better candidates switched off.

        kps (N, 33, 2) image keypoints; priority: one sortable key per candidate, lower is better
        (existing tracks by age, then new candidates by pose score)."""
        n = kps.shape[0]
        if n < 2:
            return keep
        size = (kps.amax(1) - kps.amin(1)).norm(dim=-1).clamp(min=1.0)  # (N,)
        close = (kps[:, None] - kps[None]).norm(dim=-1) < DUPLICATE_DISTANCE_FRACTION * size[:, None, None]
        dup = close.float().mean(-1) > DUPLICATE_KEYPOINT_FRACTION  # (N, N)
        # A new candidate whose keypoint box lies mostly inside a tracked person's is a partial
        # view of that person (a detection at another scale fitted to part of the body).
        box = torch.cat([kps.amin(1), kps.amax(1)], dim=-1)  # (N, 4)
        lt = torch.maximum(box[:, None, :2], box[None, :, :2])
        rb = torch.minimum(box[:, None, 2:], box[None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)  # (N, N)
        area = (box[:, 2:] - box[:, :2]).clamp(min=1.0).prod(-1)
        new = torch.tensor([p[0] == 1 for p in priority], dtype=torch.bool, device=kps.device)
        dup |= (inter / area[None, :] > CONTAINED_FRACTION) & new[None, :] & ~new[:, None]
        dup = dup.cpu().tolist()
        keep_list = keep.cpu().tolist()
        for i in sorted(range(n), key=lambda k: priority[k]):
            if keep_list[i]:
                for j in range(n):
                    if j != i and dup[i][j]:
                        keep_list[j] = False
        return torch.tensor(keep_list, dtype=torch.bool, device=keep.device)

    def _check(self, crops: torch.Tensor, rois: torch.Tensor, rows: list[int],
               ids: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The check network's keypoints and visibility on the given rows' crops, by track id."""
        sel = torch.tensor(rows, dtype=torch.long, device=self.device)
        out = self.check_landmarks(crops[sel])
        kp = P.crop_to_image(out.landmarks[..., :2], rois[sel], LANDMARK_INPUT_SIZE)[:, :NUM_KEYPOINTS]
        vis = _visibility(out.landmarks)
        packed = torch.cat([kp.reshape(len(rows), -1), vis], dim=1).float().cpu().numpy()
        self.last_checked = [ids[i] for i in rows]
        return {ids[i]: (row[:2 * NUM_KEYPOINTS].reshape(NUM_KEYPOINTS, 2).copy(), row[2 * NUM_KEYPOINTS:].copy())
                for i, row in zip(rows, packed)}

    # -- public API ---------------------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> list[PersonKeypoints]:
        validate_image(image)
        h, w = image.shape[:2]
        frame = self._frame(image)
        first, self._first_frame = self._first_frame, False
        tracked = self._tracks.rois
        n_tracked = 0 if tracked is None else len(tracked)
        self._frames_since_detection += 1
        need = n_tracked == 0 or (n_tracked < self.max_people
                                  and self._frames_since_detection >= self.redetect_interval)
        rois, ids = (tracked, list(self._tracks.ids)) if n_tracked else (
            torch.zeros(0, 4, device=self.device), [])
        self.last_detected = need
        self.last_checked = []
        if need:
            self._frames_since_detection = 0
            # Every tile on the first frame; later a few per detection, round-robin, so that an
            # empty scene does not cost a full tiled detection on every frame.
            det = self.detect(frame, all_tiles=first and not self.spread_first_detection)
            if det.score.numel():
                room = self.max_people - n_tracked
                new = self._new_rois(det, tracked if n_tracked else None, room + CANDIDATE_SURPLUS)
                rois = torch.cat([rois, new])
                ids = ids + [-1] * len(new)
        if len(rois) == 0:
            self._tracks = _Tracks()
            return []
        crops = self._crop(frame, rois, LANDMARK_INPUT_SIZE)
        out = self.landmarks(crops)
        points = P.crop_to_image(out.landmarks[..., :2], rois, LANDMARK_INPUT_SIZE)  # (N, 39, 2)
        keep = out.pose_flag >= self.min_pose_score
        # Older tracks first, then new candidates by pose score.
        flags = out.pose_flag.tolist()
        priority = [(0, i, 0.0) if i >= 0 else (1, 0, -f) for i, f in zip(ids, flags)]
        keep_list = self._dedupe(points[:, :NUM_KEYPOINTS], keep, priority).tolist()
        kept = [i for i in sorted(range(len(ids)), key=lambda k: priority[k]) if keep_list[i]]
        idx = torch.tensor(kept[: self.max_people], dtype=torch.long, device=self.device)
        references = {}
        if self.check_landmarks is not None and self.check_ids and not need:
            rows = [i for i in kept[: self.max_people] if ids[i] in self.check_ids]
            if rows:
                references = self._check(crops, rois, rows, ids)
        next_rois = P.roi_from_alignment(points[idx, P.ALIGN_CENTER], points[idx, P.ALIGN_SCALE])
        new_ids = []
        for i in idx.tolist():
            if ids[i] < 0:
                ids[i] = self._next_id
                self._next_id += 1
            new_ids.append(ids[i])
        self._tracks = _Tracks(new_ids, next_rois if len(new_ids) else None)
        if not new_ids:
            return []
        vis = _visibility(out.landmarks[idx])
        kp = points[idx, :NUM_KEYPOINTS]
        box = torch.cat([kp.amin(1), kp.amax(1)], dim=-1)
        world = P.rotate_world(out.world[idx, :NUM_KEYPOINTS], rois[idx]) if self.with_world else None
        # One transfer to the host at the API boundary.
        packed = torch.cat([kp.reshape(len(idx), -1), vis, box, out.pose_flag[idx, None]]
                           + ([world.reshape(len(idx), -1)] if world is not None else []), dim=1)
        arr = packed.float().cpu().numpy()
        people = []
        for row, tid in zip(arr, new_ids):
            o = 0
            kpa = row[o:o + 66].reshape(33, 2); o += 66
            va = row[o:o + 33]; o += 33
            bx = row[o:o + 4]; o += 4
            sc = float(row[o]); o += 1
            wa = row[o:o + 99].reshape(33, 3) if world is not None else None
            people.append(PersonKeypoints(tid, sc, kpa.copy(), va.copy(), None if wa is None else wa.copy(), bx.copy(),
                                          references.get(tid)))
        people.sort(key=lambda p: p.track_id)
        return people
