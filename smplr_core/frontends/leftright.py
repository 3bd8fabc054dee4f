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
body's size (the diagonal of the previous keypoints' box); from a track's third frame on it is the
mean of that gain and the same against the frame before the previous one (its corrected points,
no velocity), so one frame BlazePose got wrong neither hands on its labels alone nor, through its
jump's velocity, mispredicts the next one. A whole-body labelling costs the sum of
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
labels. A frame can also bring a reference labelling of a person, from a second landmark network
run on the same crop (the accurate preset, ``smplr_core/frontends/labelcheck.py``): its clear
decisions replace the history's for that frame, and the following frames continue from them.
Tracks missing from a frame are forgotten; :meth:`reset` forgets all. Numpy only (about 0.5 ms per
frame for four people on the 2-core development machine, ``bench/leftright.py``).
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


def body_size(keypoints: np.ndarray, visibility: np.ndarray) -> float:
    """The diagonal of the box of the visible points (all of them when fewer than two are), px."""
    seen = visibility > 0.5
    box = keypoints[seen] if seen.sum() >= 2 else keypoints
    return max(float(np.linalg.norm(box.max(0) - box.min(0))), 1.0)


def exchange_gain(keypoints: np.ndarray, visibility: np.ndarray, ref_keypoints: np.ndarray,
                  ref_visibility: np.ndarray, size: float | None = None) -> np.ndarray:
    """(G,) per group of GROUP_NAMES: the mean distance per point (in body sizes, ``size`` px;
    default :func:`body_size` of the reference) that exchanging the group's pairs in ``keypoints``
    saves against ``ref_keypoints`` (both (33, 2), compared relative to their torso's centre).
    Positive: the exchanged labelling lies nearer the reference."""
    kps = keypoints - _centre(keypoints)
    ref = ref_keypoints - _centre(ref_keypoints)
    size = body_size(ref_keypoints, ref_visibility) if size is None else size
    left, right = _PAIRS[:, 0], _PAIRS[:, 1]
    # One weight per pair for both labellings: the least visible of its points in either set.
    weight = (0.2 + np.minimum(visibility[left], visibility[right])) \
        * (0.2 + np.minimum(ref_visibility[left], ref_visibility[right]))
    keep = np.linalg.norm(kps[left] - ref[left], axis=-1) + np.linalg.norm(kps[right] - ref[right], axis=-1)
    swap = np.linalg.norm(kps[right] - ref[left], axis=-1) + np.linalg.norm(kps[left] - ref[right], axis=-1)
    groups = len(GROUP_NAMES)
    gain = np.bincount(_PAIR_GROUP, weight * (keep - swap), groups)
    total = np.bincount(_PAIR_GROUP, 2.0 * weight, groups)
    return gain / (total * size)


def reference_labelling(keypoints: np.ndarray, visibility: np.ndarray, ref_keypoints: np.ndarray,
                        ref_visibility: np.ndarray, margins: dict[str, float] | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Which groups of ``keypoints`` (33, 2) to exchange so that their labels agree with another
    network's keypoints of the same person in the same frame (``ref_keypoints``; the accurate
    preset's ``heavy`` check). Returns (swapped, clear), (G,) bool each: clear where one labelling
    is nearer the reference by more than the group's margin (``MARGINS``); swapped only there."""
    margin = np.array([dict(MARGINS, **(margins or {}))[g] for g in GROUP_NAMES])
    gain = exchange_gain(keypoints, visibility, ref_keypoints, ref_visibility)
    return gain > margin, np.abs(gain) > margin


def labelling_index(swapped) -> np.ndarray:
    """(33,) gather index that applies a labelling: ``swapped`` (G,) bool per group of GROUP_NAMES."""
    index = np.arange(NUM_KEYPOINTS)
    pairs = _PAIRS[np.asarray(swapped, bool)[_PAIR_GROUP]]
    index[pairs[:, 0]], index[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    return index


def clear_of(reference: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """(G,) bool: the groups a :func:`reference_labelling` decided (none without one)."""
    return np.zeros(len(GROUP_NAMES), bool) if reference is None else reference[1]


def _body_rules(decision: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """The per-group decisions (G,) with the rules for groups without clear evidence applied."""
    decision = decision.copy()
    # A torso without clear evidence of its own (shoulders and hips overlap in a side view)
    # goes with the arms and the legs when both are clear and agree (a whole-body mirror).
    if not clear[_TORSO_GROUP] and clear[_ARMS] and clear[_LEGS] and decision[_ARMS] == decision[_LEGS]:
        decision[_TORSO_GROUP] = decision[_ARMS]
    # The face's points lie close to their mirror partners (eyes, mouth corners): unless its
    # own evidence is clear, it goes with the torso (a mirrored body has a mirrored face).
    if not clear[_FACE]:
        decision[_FACE] = decision[_TORSO_GROUP]
    return decision


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
    before: tuple[np.ndarray, np.ndarray] | None = None  # the frame before's corrected (keypoints, visibility)


class LeftRightConsistency:
    """Per-track left/right label correction (see the module docstring).

    ``corrector(track_ids (N,), keypoints (N, 33, 2) px, visibility (N, 33), stamp_s)`` -> the
    corrected ``(keypoints, visibility)`` (new arrays; the inputs are not changed).
    ``last_swapped`` (N, G) bool holds the decision per person and group (GROUP_NAMES) of the last
    call; ``last_uncertain`` (N,) bool the people whose labels it was unsure of (a group exchanged,
    a group without clear evidence, or no history yet).

    ``references``: per person None or (keypoints (33, 2), visibility (33,)) of a second network
    on the same crop (the accurate preset's ``heavy`` check). Where its labelling is clearly
    nearer one way (:func:`reference_labelling`) that decision is taken for the group whatever
    the history says, and the history continues from it.

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
        self.reset()

    def reset(self) -> None:
        """Forget every track."""
        self._tracks = {}
        self.last_swapped = np.zeros((0, len(GROUP_NAMES)), bool)
        self.last_uncertain = np.zeros(0, bool)

    def __len__(self) -> int:
        return len(self._tracks)

    def _decide(self, track: _Track, kps: np.ndarray, vis: np.ndarray, stamp_s: float,
                reference: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(decision, clear), (G,) bool each: which groups to exchange in this frame's raw labels,
        and which of them had clear evidence. ``reference``: the (swapped, clear) of
        :func:`reference_labelling` for this frame, when there is one."""
        dt = stamp_s - track.stamp_s
        # The body's own motion in the image does not enter (exchange_gain compares positions
        # relative to the torso's centre); the velocity predicts the rest.
        pred = track.keypoints + (self.velocity_weight * dt) * track.velocity
        size = body_size(track.keypoints, track.visibility)
        gain = exchange_gain(kps, vis, pred, track.visibility, size)
        if track.before is not None:
            # One frame BlazePose got wrong (a body squeezed towards a side view, limbs crossed)
            # must not carry its labels, and its jump's velocity, into the frames after it: the
            # frame before it speaks too, each with half the weight.
            gain = 0.5 * (gain + exchange_gain(kps, vis, *track.before, size))
        decision = gain > self._margin
        clear = np.abs(gain) > self._margin
        hold = ~clear & (stamp_s - track.clear_s <= self.hold_s)
        decision = np.where(hold, track.swapped, decision)
        since = np.where(track.swapped, track.swapped_since, stamp_s)
        if reference is not None:  # the reference's clear decisions stand, whatever the history says
            decision = np.where(reference[1], reference[0], decision)
            clear = clear | reference[1]
        decision = _body_rules(decision, clear)
        if reference is not None:  # a confirmed group (or one that follows it): no max_swap_s limit
            since = np.where(_body_rules(reference[1], clear), np.inf, since)
        # BlazePose's labels are right most of the time: a group exchanged for longer than
        # max_swap_s on end is taken as reported again (the track had started, or got, mirrored),
        # unless a reference confirmed the exchange (``since`` inf: it lasts while the raw labels
        # stay as they are; the check schedule looks at exchanged tracks first).
        decision &= stamp_s - since <= self.max_swap_s
        track.swapped_since = np.where(decision, since, np.inf)
        track.clear_s = np.where(clear, stamp_s, track.clear_s)
        return decision, clear

    def __call__(self, track_ids, keypoints: np.ndarray, visibility: np.ndarray,
                 stamp_s: float, references: list | None = None) -> tuple[np.ndarray, np.ndarray]:
        ids = [int(i) for i in np.asarray(track_ids).reshape(-1)]
        kps = np.asarray(keypoints, np.float32).reshape(len(ids), NUM_KEYPOINTS, 2)
        vis = np.asarray(visibility, np.float32).reshape(len(ids), NUM_KEYPOINTS)
        stamp_s = float(stamp_s)
        out_k, out_v = kps.copy(), vis.copy()
        groups = len(GROUP_NAMES)
        swapped = np.zeros((len(ids), groups), bool)
        uncertain = np.zeros(len(ids), bool)
        tracks: dict[int, _Track] = {}
        for n, tid in enumerate(ids):
            ref = None if references is None or references[n] is None else \
                reference_labelling(kps[n], vis[n], *references[n], self.margins)
            track = self._tracks.get(tid)
            fresh = track is None or not (0.0 < stamp_s - track.stamp_s <= self.max_gap_s) \
                or not np.isfinite(kps[n]).all()
            if not fresh:
                swapped[n], clear = self._decide(track, kps[n], vis[n], stamp_s, ref)
                uncertain[n] = bool(swapped[n].any() or not clear.all())
                # A young track's history is not trusted over a jump: BlazePose's first frames of a
                # person can be mirrored. The track starts again from this frame's labels (and
                # from the reference's clear decisions, when there is one).
                if track.age < self.min_track_frames and bool((swapped[n] & ~clear_of(ref)).any()):
                    fresh, track = True, None
            if fresh:
                uncertain[n] = True  # no history yet
                if ref is not None:
                    swapped[n] = _body_rules(ref[0] & ref[1], ref[1])
                    uncertain[n] = not bool(ref[1].all())
                else:
                    swapped[n] = False
            if swapped[n].any():
                index = labelling_index(swapped[n])
                out_k[n], out_v[n] = kps[n][index], vis[n][index]
            if not fresh:
                velocity = ((out_k[n] - _centre(out_k[n])) - (track.keypoints - _centre(track.keypoints))) \
                    / (stamp_s - track.stamp_s)
                tracks[tid] = _Track(out_k[n].copy(), out_v[n].copy(), velocity, stamp_s, swapped[n].copy(),
                                     track.clear_s, track.swapped_since, track.age + 1,
                                     (track.keypoints, track.visibility))
            else:
                tracks[tid] = _Track(out_k[n].copy(), out_v[n].copy(), np.zeros((NUM_KEYPOINTS, 2), np.float32),
                                     stamp_s, swapped[n].copy(), np.full(groups, stamp_s),
                                     np.where(swapped[n], stamp_s, np.inf), 1)
        self._tracks = tracks  # tracks missing from this frame are forgotten
        self.last_swapped = swapped
        self.last_uncertain = uncertain
        return out_k, out_v
