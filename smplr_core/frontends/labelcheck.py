"""Presets of the image front-end, and the accurate preset's schedule of ``heavy`` label checks.

``fast`` (the default): BlazePose ``frontend_model`` on every tracked person, every frame.
``accurate``: the same, and on one tracked person every ``CHECK_INTERVAL`` frames the ``heavy``
landmark network runs on the same crop as a second opinion on the left/right labels: where its
labelling of a group (face, torso, arms, legs) is clearly the mirror of the first network's, the
group is exchanged, and the per-track left/right check (``leftright.py``) continues from that
labelling (``LeftRightConsistency``'s ``references``). Only the labels are taken from ``heavy``;
the points, the boxes and the tracking stay the first network's, so the people found are the
same as with ``fast`` (the turn limit, ``max_turn_deg_per_s``, acts on the lift, whose facing
follows the labels: it can hold back a person-frame in one preset and not in the other). Why labels only and why this budget: docs/frontend.md, *Accurate preset*.

:class:`CheckSchedule` picks the person: among the tracks of the previous frame, those whose
labels were uncertain there (the left/right check exchanged a group or had no clear evidence for
one, or the track is new) or whose pose score was below ``UNCERTAIN_SCORE`` come first; among
equals, the one checked longest ago (never checked first). Frames that run the detector skip the
check (``PoseTracker``), the schedule then tries again on the next frame.
"""
from __future__ import annotations

import numpy as np

PRESETS = ("fast", "accurate")
# The accurate preset's second landmark network.
CHECK_MODEL = "heavy"
# One check (one person) every this many frames: heavy costs about four times full per crop
# (42.7 vs 9.1 ms at batch 1, one thread, docs/frontend.md), so a check on every frame would halve
# the node's rate; at a 30 Hz input a check frame takes about two input frames' time, so one check
# in 4 frames leaves about 30 * 4/5 = 24 fps (measured: docs/frontend.md, Accurate preset).
CHECK_INTERVAL = 4
# People whose pose score was below this are checked before the others.
UNCERTAIN_SCORE = 0.8


def preset_problem(preset: str, frontend: str = "blazepose", frontend_model: str = "full",
                   names: tuple[str, str, str] = ("preset", "frontend", "frontend_model")) -> str | None:
    """Why ``preset`` cannot run with this front-end (one sentence naming the fix), or None.
    ``names``: how the caller calls the three settings (parameters, command-line options)."""
    p, f, m = names
    if preset not in PRESETS:
        return f"{p} must be one of {', '.join(PRESETS)}, got {preset!r}"
    if preset == "accurate" and frontend != "blazepose":
        return (f"{p} 'accurate' checks the keypoints that {f} 'blazepose' lifts, but {f} is "
                f"{frontend!r}: set {p} to 'fast' or {f} to 'blazepose'")
    if preset == "accurate" and frontend_model == CHECK_MODEL:
        return (f"{p} 'accurate' checks the labels of {m} 'full' or 'lite' with '{CHECK_MODEL}', but "
                f"{m} is already '{CHECK_MODEL}': set {p} to 'fast' or {m} to 'full'")
    return None


class CheckSchedule:
    """Which track the check network looks at in the next frame (see the module docstring).

    ``schedule.pick(track_ids, uncertain, scores)`` with the previous frame's people -> the set of
    track ids to check (at most one; empty between checks); ``schedule.done(checked_ids)`` after
    the frame with the ids the tracker did check.
    """

    def __init__(self, interval: int = CHECK_INTERVAL, uncertain_score: float = UNCERTAIN_SCORE):
        if int(interval) < 1:
            raise ValueError(f"interval must be >= 1, got {interval}")
        self.interval = int(interval)
        self.uncertain_score = float(uncertain_score)
        self.reset()

    def reset(self) -> None:
        self._frame = 0
        self._last_check_frame = -10**9  # the frame of the last check that ran
        self._checked_at: dict[int, int] = {}  # track id -> frame it was last checked

    def pick(self, track_ids, uncertain, scores) -> set[int]:
        self._frame += 1
        ids = [int(i) for i in np.asarray(track_ids).reshape(-1)]
        if not ids or self._frame - self._last_check_frame < self.interval:
            return set()
        unsure = np.asarray(uncertain, bool).reshape(-1) | (np.asarray(scores, float).reshape(-1)
                                                           < self.uncertain_score)
        never = -10**9
        best = min(range(len(ids)), key=lambda k: (not unsure[k], self._checked_at.get(ids[k], never), ids[k]))
        return {ids[best]}

    def done(self, checked_ids) -> None:
        checked = [int(i) for i in checked_ids]
        if checked:
            self._last_check_frame = self._frame
        for tid in checked:
            self._checked_at[tid] = self._frame
        if len(self._checked_at) > 256:  # forget long-gone tracks (ids only grow)
            for tid in sorted(self._checked_at)[:-128]:
                del self._checked_at[tid]
