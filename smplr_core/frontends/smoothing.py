"""Temporal smoothing of tracked 2D keypoints: a One Euro filter per track.

The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a first-order low-pass filter whose
cut-off frequency rises with the signal's speed: a still person's keypoints lose their jitter,
a fast movement keeps little lag. ``cutoff = min_cutoff + beta * speed``, with the speed of each
keypoint itself low-passed at ``d_cutoff``. Here the speed is measured in person heights per
second (the keypoints' box diagonal), so one ``beta`` suits people near and far.

Each track id has its own state; a track that is missing from a frame starts again when it comes
back, and a keypoint that is not visible passes through unfiltered and restarts its state, so a point that reappears elsewhere is not dragged from its old place.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass at ``cutoff_hz`` for a step of ``dt`` seconds."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau / dt)


@dataclass
class _TrackState:
    stamp: float
    value: np.ndarray  # (K, 2) filtered keypoints
    speed: np.ndarray  # (K, 2) filtered derivative, person heights per second


class KeypointSmoother:
    """``smoother(track_ids, keypoints, visible, stamp_s)`` -> smoothed keypoints.

    keypoints (N, K, 2) image pixels of N tracked people; visible (N, K) bool, which keypoints
    to filter (the others pass through); track_ids N ints; stamp_s the frame time in seconds (must increase between calls for a
    track; an equal or earlier stamp restarts that track). ``min_cutoff_hz`` > 0 and
    ``beta`` >= 0 set the filter (see the module docstring); ``min_cutoff_hz`` = 0 turns
    smoothing off (the keypoints are returned unchanged).
    """

    def __init__(self, min_cutoff_hz: float = 1.0, beta: float = 30.0, d_cutoff_hz: float = 1.0):
        if not (math.isfinite(min_cutoff_hz) and min_cutoff_hz >= 0):
            raise ValueError(f"min_cutoff_hz must be >= 0 (0 = off), got {min_cutoff_hz!r}")
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be >= 0, got {beta!r}")
        if not (math.isfinite(d_cutoff_hz) and d_cutoff_hz > 0):
            raise ValueError(f"d_cutoff_hz must be > 0, got {d_cutoff_hz!r}")
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.d_cutoff_hz = float(d_cutoff_hz)
        self._tracks: dict[int, _TrackState] = {}

    @property
    def enabled(self) -> bool:
        return self.min_cutoff_hz > 0

    def reset(self) -> None:
        self._tracks.clear()

    def __call__(self, track_ids, keypoints: np.ndarray, visible: np.ndarray,
                 stamp_s: float) -> np.ndarray:
        keypoints = np.asarray(keypoints, np.float32)
        if not self.enabled:
            self._tracks.clear()
            return keypoints
        out = keypoints.copy()
        seen: dict[int, _TrackState] = {}
        visible = np.asarray(visible, bool)
        for i, tid in enumerate(int(t) for t in track_ids):
            x = keypoints[i].astype(np.float64)
            shown = visible[i]  # (K,)
            state = self._tracks.get(tid)
            if state is None or not stamp_s > state.stamp or not shown.any():
                seen[tid] = _TrackState(stamp_s, x, np.zeros_like(x))
                continue
            dt = stamp_s - state.stamp
            pts = x[shown]
            height = max(float(np.linalg.norm(pts.max(0) - pts.min(0))), 1.0)
            raw_speed = (x - state.value) / (dt * height)
            a_d = _alpha(self.d_cutoff_hz, dt)
            speed = state.speed + a_d * (raw_speed - state.speed)
            cutoff = self.min_cutoff_hz + self.beta * np.linalg.norm(speed, axis=-1, keepdims=True)
            a = _alpha(cutoff, dt)
            value = state.value + a * (x - state.value)
            # Hidden points pass through and restart (no speed carried over).
            value = np.where(shown[:, None], value, x)
            speed = np.where(shown[:, None], speed, 0.0)
            seen[tid] = _TrackState(stamp_s, value, speed)
            out[i] = value.astype(np.float32)
        self._tracks = seen   # tracks missing from this frame are forgotten
        return out
