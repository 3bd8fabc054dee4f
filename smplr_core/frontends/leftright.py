"""Left/right consistency per track: undo BlazePose's mirrored labellings from the track's history.

BlazePose sometimes labels a body mirrored for a stretch of frames: the whole body (it takes the
front for the back) or single limbs (the left leg reported as the right one and the other way
round). Neither the 2D configuration nor the body's facing turns within one video frame, so a
swap shows as a jump of a group's points to where their mirror partners were.

:class:`LeftRightConsistency` keeps, per track, the previous frame's corrected keypoints and their
velocity, both relative to the torso's centre (the mean of shoulders and hips, which no exchange
of labels moves). For each new frame it predicts every point (constant velocity) and, for each
group of left/right pairs (``GROUPS``: face, torso, arms, legs), compares two labellings of the
raw points with the prediction: as reported (identity) and with the group's pairs exchanged. The
gain of the exchange is the visibility-weighted mean distance per point it saves, in units of the
body's size (the diagonal of the previous keypoints' box). A whole-body labelling costs the sum of
its groups, so deciding each group picks the best of all 2^4 labellings (identity, whole swap,
arms only, legs only, ...):

* the exchange saves more than the group's margin (``MARGINS``): the group is swapped back;
* identity wins by more than the margin: the group stays as reported;
* otherwise (ambiguous: the two sides overlap in the image, e.g. a side view) the group keeps its
  previous frame's decision for at most ``hold_s`` after its last clear one, then stays as
  reported; an ambiguous torso goes with the arms and legs when both are clear and agree, an
  ambiguous face with the torso (its points lie close to their partners, so its own evidence
  is seldom clear: face-only swaps are mostly left as reported);
* a group exchanged for more than ``max_swap_s`` on end is taken as reported again (BlazePose's
  labels are right most of the time; the track itself may have been mirrored);
* a track younger than ``min_track_frames`` that jumps starts again from the new frame's labels
  (BlazePose's first frame of a person can be mirrored).

A track seen for the first time, or again after more than ``max_gap_s``, starts from its reported
labels. Tracks missing from a frame are forgotten; :meth:`reset` forgets all. Numpy only (about
0.3 ms per frame for four people on the 2-core development machine, ``bench/leftright.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smplr_core.body.keypoints import BLAZEPOSE_LR_PAIRS, BLAZEPOSE_NAMES, NUM_KEYPOINTS

# Groups of left/right pairs that are decided together (by the part name after "left_"/"right_";
# the mouth corners are "mouth_left"/"mouth_right").
GROUP_PARTS: dict[str, tuple[str, ...]] = {
    "face": ("eye_inner", "eye", "eye_outer", "ear", "mouth"),
    "torso": ("shoulder", "hip"),
    "arms": ("elbow", "wrist", "pinky", "index", "thumb"),
    "legs": ("knee", "ankle", "heel", "foot_index"),
}


def _part(name: str) -> str:
    for side in ("left", "right"):
        name = name.replace(f"{side}_", "").replace(f"_{side}", "")
    return name


def _group_pairs() -> dict[str, np.ndarray]:
    out = {}
    for group, parts in GROUP_PARTS.items():
        out[group] = np.array([p for p in BLAZEPOSE_LR_PAIRS if _part(BLAZEPOSE_NAMES[p[0]]) in parts], np.int64)
    return out


# group name -> (P, 2) int: its (left, right) keypoint index pairs.
GROUPS: dict[str, np.ndarray] = _group_pairs()
GROUP_NAMES: tuple[str, ...] = tuple(GROUPS)
# Every left/right pair, grouped: (P, 2) and the group number of each pair (P,).
_PAIRS = np.concatenate([GROUPS[g] for g in GROUP_NAMES])
_PAIR_GROUP = np.concatenate([np.full(len(GROUPS[g]), k) for k, g in enumerate(GROUP_NAMES)])
assert len(_PAIRS) == len(BLAZEPOSE_LR_PAIRS), "every left/right pair belongs to one group"


# How much better (mean distance per point, body sizes) the exchanged labelling of a group must
# continue the track to be used, and identity to be kept outright. The torso's points are where
# the prediction is least sure (the centre is their mean, so their own jitter moves it).
MARGINS: dict[str, float] = {"face": 0.05, "torso": 0.05, "arms": 0.02, "legs": 0.02}
_TORSO = GROUPS["torso"].reshape(-1)
_FACE, _TORSO_GROUP, _ARMS, _LEGS = (GROUP_NAMES.index(g) for g in ("face", "torso", "arms", "legs"))


def _centre(points: np.ndarray) -> np.ndarray:
    """(1, 2) mean of the torso points (shoulders and hips): unchanged by any exchange of labels."""
    return points[_TORSO].mean(0, keepdims=True)


def labelling_index(swapped) -> np.ndarray:
    """(33,) gather index that applies a labelling: ``swapped`` (G,) bool per group of GROUP_NAMES."""
    index = np.arange(NUM_KEYPOINTS)
    pairs = _PAIRS[np.asarray(swapped, bool)[_PAIR_GROUP]]
    index[pairs[:, 0]], index[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    return index


@dataclass
class _Track:
    keypoints: np.ndarray  # (33, 2) corrected, last frame
    visibility: np.ndarray  # (33,) corrected, last frame
    velocity: np.ndarray  # (33, 2) px / s, relative to the torso's centre
    stamp_s: float
    swapped: np.ndarray  # (G,) bool: last frame's decision per group
    clear_s: np.ndarray  # (G,) time of the last clear decision per group
    swapped_since: np.ndarray  # (G,) start of the group's current run of exchanges (inf: none)
    age: int  # frames since the track started (or started again)


class LeftRightConsistency:
    """Per-track left/right label correction (see the module docstring).

    ``corrector(track_ids (N,), keypoints (N, 33, 2) px, visibility (N, 33), stamp_s)`` -> the
    corrected ``(keypoints, visibility)`` (new arrays; the inputs are not changed).
    ``last_swapped`` (N, G) bool holds the decision per person and group (GROUP_NAMES) of the last
    call.

    margins: per group of GROUP_NAMES, how much the exchanged labelling must save (mean distance
    per point, fraction of the body size) to be used, and identity to be kept outright (defaults:
    ``MARGINS``). hold_s: how long after its last clear decision a group keeps it through
    ambiguous frames. velocity_weight: 1 = constant-velocity prediction, 0 = the previous frame's
    points. max_gap_s: a track whose previous frame is older than this starts again from its
    labels. max_swap_s: the longest run of exchanges of one group. min_track_frames: a track with
    fewer frames that jumps starts again from its labels.
    """

    def __init__(self, margins: dict[str, float] | None = None, hold_s: float = 0.5,
                 velocity_weight: float = 1.0, max_gap_s: float = 0.5, max_swap_s: float = 1.0,
                 min_track_frames: int = 3):
        margins = dict(MARGINS, **(margins or {}))
        if set(margins) != set(GROUP_NAMES):
            raise ValueError(f"margins are per group of {', '.join(GROUP_NAMES)}, got {sorted(margins)}")
        for name, value in [("hold_s", hold_s), ("velocity_weight", velocity_weight),
                            ("max_gap_s", max_gap_s), ("max_swap_s", max_swap_s)] + [(f"margins[{g!r}]", v) for g, v in margins.items()]:
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        self.margins = {g: float(margins[g]) for g in GROUP_NAMES}
        self._margin = np.array([self.margins[g] for g in GROUP_NAMES])
        self.hold_s = float(hold_s)
        self.velocity_weight = float(velocity_weight)
        self.max_gap_s = float(max_gap_s)
        self.max_swap_s = float(max_swap_s)
        if int(min_track_frames) < 1:
            raise ValueError(f"min_track_frames must be >= 1, got {min_track_frames}")
        self.min_track_frames = int(min_track_frames)
        self._tracks: dict[int, _Track] = {}
        self.last_swapped = np.zeros((0, len(GROUP_NAMES)), bool)

    def reset(self) -> None:
        """Forget every track."""
        self._tracks = {}
        self.last_swapped = np.zeros((0, len(GROUP_NAMES)), bool)

    def __len__(self) -> int:
        return len(self._tracks)

    def _decide(self, track: _Track, kps: np.ndarray, vis: np.ndarray, stamp_s: float) -> np.ndarray:
        """(G,) bool: which groups to exchange in this frame's raw labels."""
        dt = stamp_s - track.stamp_s
        # Positions relative to the torso's centre (the same under every labelling), so that the
        # body's own motion in the image does not enter; the velocity predicts the rest.
        pred = track.keypoints - _centre(track.keypoints) + (self.velocity_weight * dt) * track.velocity
        kps = kps - _centre(kps)
        prev = track.visibility
        seen = prev > 0.5
        ref = track.keypoints[seen] if seen.sum() >= 2 else track.keypoints
        size = max(float(np.linalg.norm(ref.max(0) - ref.min(0))), 1.0)
        left, right = _PAIRS[:, 0], _PAIRS[:, 1]
        # One weight per pair for both labellings: the least visible of its points, now and before.
        weight = (0.2 + np.minimum(vis[left], vis[right])) * (0.2 + np.minimum(prev[left], prev[right]))
        keep = (np.linalg.norm(kps[left] - pred[left], axis=-1) + np.linalg.norm(kps[right] - pred[right], axis=-1))
        swap = (np.linalg.norm(kps[right] - pred[left], axis=-1) + np.linalg.norm(kps[left] - pred[right], axis=-1))
        groups = len(GROUP_NAMES)
        gain = np.bincount(_PAIR_GROUP, weight * (keep - swap), groups)
        total = np.bincount(_PAIR_GROUP, 2.0 * weight, groups)
        gain = gain / (total * size)  # mean distance saved per point by exchanging, body sizes
        decision = gain > self._margin
        clear = np.abs(gain) > self._margin
        hold = ~clear & (stamp_s - track.clear_s <= self.hold_s)
        decision = np.where(hold, track.swapped, decision)
        # A torso without clear evidence of its own (shoulders and hips overlap in a side view)
        # goes with the arms and the legs when both are clear and agree (a whole-body mirror).
        if not clear[_TORSO_GROUP] and clear[_ARMS] and clear[_LEGS] and decision[_ARMS] == decision[_LEGS]:
            decision[_TORSO_GROUP] = decision[_ARMS]
        # The face's points lie close to their mirror partners (eyes, mouth corners): unless its
        # own evidence is clear, it goes with the torso (a mirrored body has a mirrored face).
        if not clear[_FACE]:
            decision[_FACE] = decision[_TORSO_GROUP]
        # BlazePose's labels are right most of the time: a group exchanged for longer than
        # max_swap_s on end is taken as reported again (the track had started, or got, mirrored).
        since = np.where(track.swapped, track.swapped_since, stamp_s)
        decision &= stamp_s - since <= self.max_swap_s
        track.swapped_since = np.where(decision, since, np.inf)
        track.clear_s = np.where(clear, stamp_s, track.clear_s)
        return decision

    def __call__(self, track_ids, keypoints: np.ndarray, visibility: np.ndarray,
                 stamp_s: float) -> tuple[np.ndarray, np.ndarray]:
        ids = [int(i) for i in np.asarray(track_ids).reshape(-1)]
        kps = np.asarray(keypoints, np.float32).reshape(len(ids), NUM_KEYPOINTS, 2)
        vis = np.asarray(visibility, np.float32).reshape(len(ids), NUM_KEYPOINTS)
        stamp_s = float(stamp_s)
        out_k, out_v = kps.copy(), vis.copy()
        swapped = np.zeros((len(ids), len(GROUP_NAMES)), bool)
        tracks: dict[int, _Track] = {}
        for n, tid in enumerate(ids):
            track = self._tracks.get(tid)
            fresh = track is None or not (0.0 < stamp_s - track.stamp_s <= self.max_gap_s) \
                or not np.isfinite(kps[n]).all()
            if not fresh:
                swapped[n] = self._decide(track, kps[n], vis[n], stamp_s)
                # A young track's history is not trusted over a jump: BlazePose's first frames of a
                # person can be mirrored. The track starts again from this frame's labels.
                fresh = track.age < self.min_track_frames and bool(swapped[n].any())
                if fresh:
                    swapped[n] = False
            if not fresh:
                if swapped[n].any():
                    index = labelling_index(swapped[n])
                    out_k[n], out_v[n] = kps[n][index], vis[n][index]
                velocity = ((out_k[n] - _centre(out_k[n])) - (track.keypoints - _centre(track.keypoints))) \
                    / (stamp_s - track.stamp_s)
                tracks[tid] = _Track(out_k[n].copy(), out_v[n].copy(), velocity, stamp_s, swapped[n].copy(),
                                     track.clear_s, track.swapped_since, track.age + 1)
            else:
                groups = len(GROUP_NAMES)
                tracks[tid] = _Track(out_k[n].copy(), out_v[n].copy(), np.zeros((NUM_KEYPOINTS, 2), np.float32),
                                     stamp_s, np.zeros(groups, bool), np.full(groups, stamp_s),
                                     np.full(groups, np.inf), 1)
        self._tracks = tracks  # tracks missing from this frame are forgotten
        self.last_swapped = swapped
        return out_k, out_v
