"""Left/right consistency per track (smplr_core/frontends/leftright.py) and its place in the frame path."""
import cv2
import numpy as np
import pytest
import torch

from frontend_helpers import video_frames
from smplr_core.body.keypoints import BLAZEPOSE_LR_PAIRS, BLAZEPOSE_MIRROR, BLAZEPOSE_NAMES, NUM_KEYPOINTS
from smplr_core.frame import FrameSettings, Reconstructor
from smplr_core.frontends.leftright import GROUP_NAMES, LeftRightConsistency, labelling_index

FPS = 30.0
# A standing person, metres, x to the person's left, y up, z towards the viewer (facing the camera).
_SIDE = {"eye_inner": (0.015, 1.62, 0.09), "eye": (0.03, 1.62, 0.08), "eye_outer": (0.045, 1.62, 0.07),
         "ear": (0.075, 1.60, 0.0), "shoulder": (0.19, 1.42, 0.0), "elbow": (0.22, 1.15, 0.02),
         "wrist": (0.24, 0.90, 0.06), "pinky": (0.25, 0.82, 0.06), "index": (0.24, 0.81, 0.08),
         "thumb": (0.22, 0.84, 0.09), "hip": (0.11, 0.95, 0.0), "knee": (0.12, 0.52, 0.03),
         "ankle": (0.12, 0.09, 0.0), "heel": (0.12, 0.04, -0.05), "foot_index": (0.13, 0.02, 0.14)}


def body_points() -> np.ndarray:
    """(33, 3) a standing body; left points at +x (its left is the image's right when it faces us)."""
    pts = np.zeros((NUM_KEYPOINTS, 3))
    for i, name in enumerate(BLAZEPOSE_NAMES):
        if name == "nose":
            pts[i] = (0.0, 1.58, 0.11)
        elif name.startswith("mouth"):
            pts[i] = (0.025 if name.endswith("left") else -0.025, 1.53, 0.09)
        else:
            side, part = name.split("_", 1)
            x, y, z = _SIDE[part]
            pts[i] = (x if side == "left" else -x, y, z)
    return pts


def walk(frames: int, yaw_deg_per_s: float = 0.0, seed: int = 0) -> np.ndarray:
    """(T, 33, 2) pixels of the body walking on the spot (arms and legs swinging), turning about the
    vertical at ``yaw_deg_per_s``, seen by a 1000 px camera 4 m away, with 1.5 px of jitter."""
    rng = np.random.default_rng(seed)
    base = body_points()
    out = np.zeros((frames, NUM_KEYPOINTS, 2))
    legs = [i for i, n in enumerate(BLAZEPOSE_NAMES) if any(p in n for p in ("knee", "ankle", "heel", "foot"))]
    arms = [i for i, n in enumerate(BLAZEPOSE_NAMES) if any(p in n for p in ("elbow", "wrist", "pinky",
                                                                             "index", "thumb"))]
    for t in range(frames):
        pts = base.copy()
        phase = np.sin(2 * np.pi * 1.0 * t / FPS)
        for i in legs + arms:
            sign = 1.0 if BLAZEPOSE_NAMES[i].startswith("left") else -1.0
            sign = -sign if i in arms else sign
            hinge = 0.95 if i in legs else 1.42
            pts[i, 2] += 0.5 * sign * phase * (hinge - pts[i, 1])
        yaw = np.radians(yaw_deg_per_s * t / FPS)
        c, s = np.cos(yaw), np.sin(yaw)
        x, z = c * pts[:, 0] + s * pts[:, 2], -s * pts[:, 0] + c * pts[:, 2]
        depth = 4.0 - z
        out[t, :, 0] = 320 + 1000 * x / depth
        out[t, :, 1] = 400 - 1000 * (pts[:, 1] - 0.9) / depth
    return (out + rng.normal(0, 1.5, out.shape)).astype(np.float32)


def run(corrector, kps, swaps, vis=None):
    """Feed one track; returns the outputs (T, 33, 2) and the inputs as given (swapped)."""
    vis = np.ones(kps.shape[:2], np.float32) if vis is None else vis
    given, out = [], []
    for t in range(len(kps)):
        index = labelling_index(swaps[t])
        given.append(kps[t][index])
        k, v = corrector([7], kps[t][index][None], vis[t][index][None], t / FPS)
        assert np.isfinite(k).all() and np.isfinite(v).all()
        out.append(k[0])
    return np.array(out), np.array(given)


def swap_runs(frames: int) -> np.ndarray:
    swaps = np.zeros((frames, len(GROUP_NAMES)), bool)
    swaps[10:25] = True                                   # whole body, 15 frames
    swaps[40:41, GROUP_NAMES.index("arms")] = True        # arms, one frame
    swaps[60:80, GROUP_NAMES.index("legs")] = True        # legs, 20 frames
    swaps[100:, :] = True                                 # whole body, to the end
    return swaps


def test_the_pair_table_mirrors_every_side_point_once():
    names = [BLAZEPOSE_NAMES[i] for pair in BLAZEPOSE_LR_PAIRS for i in pair]
    assert len(names) == len(set(names)) == NUM_KEYPOINTS - 1          # all but the nose
    assert all(BLAZEPOSE_MIRROR[BLAZEPOSE_MIRROR[i]] == i for i in range(NUM_KEYPOINTS))
    assert BLAZEPOSE_MIRROR[BLAZEPOSE_NAMES.index("mouth_left")] == BLAZEPOSE_NAMES.index("mouth_right")


def test_injected_swaps_are_undone_and_other_frames_left_alone():
    kps = walk(130)
    swaps = swap_runs(len(kps))
    out, given = run(LeftRightConsistency(), kps, swaps)
    swapped = swaps.any(1)
    np.testing.assert_array_equal(out[swapped], kps[swapped])          # restored (not a no-op)
    np.testing.assert_array_equal(out[~swapped], given[~swapped])      # untouched (not always swapping)


def test_a_genuine_slow_turn_is_left_alone():
    kps = walk(120, yaw_deg_per_s=180.0)        # half a turn in 1 s: left and right cross over
    out, given = run(LeftRightConsistency(), kps, np.zeros((len(kps), len(GROUP_NAMES)), bool))
    np.testing.assert_array_equal(out, given)


def test_one_collapsed_frame_does_not_carry_a_mirror_into_the_frames_after_it():
    # As on the sample video: one frame where BlazePose squeezes the body to a side view (each
    # left/right pair at a third of its distance), then the body reported mirrored. The collapse's velocity
    # carries the prediction for the next frame past the body's midline, so the mirrored frame
    # alone looks continued; judged against the frame before the collapse too, it is undone.
    kps = walk(60)
    collapsed = kps[30].copy()
    for left, right in BLAZEPOSE_LR_PAIRS:
        mid = 0.5 * (kps[30, left] + kps[30, right])
        collapsed[left], collapsed[right] = mid + 0.3 * (kps[30, left] - mid), mid + 0.3 * (kps[30, right] - mid)
    kps[30] = collapsed
    swaps = np.zeros((len(kps), len(GROUP_NAMES)), bool)
    swaps[31:46] = True
    out, _ = run(LeftRightConsistency(), kps, swaps)
    np.testing.assert_array_equal(out[31:46], kps[31:46])
    np.testing.assert_array_equal(out[46:], kps[46:])


def test_a_hidden_keypoint_does_not_stop_the_correction():
    kps = walk(60)
    wrist = BLAZEPOSE_NAMES.index("left_wrist")
    kps[:, wrist] = 0.0                         # hidden: BlazePose's guess far off
    vis = np.ones(kps.shape[:2], np.float32)
    vis[:, wrist] = 0.0
    swaps = np.zeros((len(kps), len(GROUP_NAMES)), bool)
    swaps[20:35] = True
    out, _ = run(LeftRightConsistency(), kps, swaps, vis)
    np.testing.assert_array_equal(out[20:35], kps[20:35])


def test_tracks_are_forgotten_when_they_disappear_and_on_reset():
    kps = walk(20)
    lr = LeftRightConsistency()
    vis = np.ones((1, NUM_KEYPOINTS), np.float32)
    mirrored = kps[:, list(BLAZEPOSE_MIRROR)]
    for t in range(5):
        lr([3], kps[t][None], vis, t / FPS)
    k, _ = lr([3, 4], np.stack([mirrored[5], kps[5]]), np.ones((2, NUM_KEYPOINTS), np.float32), 5 / FPS)
    np.testing.assert_array_equal(k[0], kps[5])                         # track 3 corrected
    assert lr.last_swapped[0].all() and not lr.last_swapped[1].any()    # track 4 is new
    lr([4], kps[6][None], vis, 6 / FPS)                                 # track 3 missing: forgotten
    assert len(lr) == 1
    k, _ = lr([3], mirrored[7][None], vis, 7 / FPS)
    np.testing.assert_array_equal(k[0], mirrored[7])                    # starts again from its labels
    lr.reset()
    assert len(lr) == 0
    k, _ = lr([3], kps[8][None], vis, 8 / FPS)
    np.testing.assert_array_equal(k[0], kps[8])


def test_empty_frames_and_bad_arguments():
    lr = LeftRightConsistency()
    k, v = lr([], np.zeros((0, NUM_KEYPOINTS, 2), np.float32), np.zeros((0, NUM_KEYPOINTS), np.float32), 0.0)
    assert k.shape == (0, NUM_KEYPOINTS, 2) and v.shape == (0, NUM_KEYPOINTS)
    assert lr.last_swapped.shape == (0, len(GROUP_NAMES))
    with pytest.raises(ValueError):
        LeftRightConsistency(margins={"arms": -1.0})
    with pytest.raises(ValueError):
        LeftRightConsistency(margins={"tail": 0.1})
    with pytest.raises(ValueError):
        FrameSettings(lr_consistency="yes")


class _MirrorOneFrame:
    """The real tracker, with the left/right labels of every person exchanged on one frame (what
    BlazePose sometimes does); the frame path runs as it is."""

    def __init__(self, tracker, frame: int):
        self.tracker, self.frame, self.calls, self.reported = tracker, frame, 0, []

    def __getattr__(self, name):
        return getattr(self.__dict__["tracker"], name)

    def __setattr__(self, name, value):
        if name in ("tracker", "frame", "calls", "reported"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.tracker, name, value)

    def __call__(self, rgb):
        people = self.tracker(rgb)
        if self.calls == self.frame:
            for p in people:
                p.keypoints, p.visibility = p.keypoints[list(BLAZEPOSE_MIRROR)], p.visibility[list(BLAZEPOSE_MIRROR)]
        self.calls += 1
        self.reported.append({p.track_id: p.keypoints.copy() for p in people})
        return people

    def reset(self):
        self.tracker.reset()


@pytest.fixture(scope="module")
def rec():
    torch.set_num_threads(1)
    return Reconstructor()


def run_with_one_mirrored_frame(rec, settings):
    """The sample video's frames 8-14 (the person tracked) through the frame path with
    ``settings``, the tracker reporting frame 4 mirrored; returns (results, the mirroring tracker)."""
    frames = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA)
              for f in video_frames("sports2d_demo.mp4", limit=15)[8:]]
    intr = np.array([640.0, 640.0, 320.0, 180.0], np.float32)
    real = rec.tracker
    rec.apply(settings)
    rec.tracker = wrapper = _MirrorOneFrame(real, frame=4)
    try:
        rec.reset()
        results = [rec(f, intr, stamp_s=i / 30.0) for i, f in enumerate(frames)]
    finally:
        rec.tracker = real
        rec.apply(FrameSettings())
    return results, wrapper


@pytest.mark.parametrize("on", [False, True])
def test_the_frame_path_corrects_only_when_lr_consistency_is_on(rec, on):
    # The check alone (no turn limit).
    results, wrapper = run_with_one_mirrored_frame(rec, FrameSettings(lr_consistency=on, max_turn_deg_per_s=0.0))
    assert all(len(r) for r in results) and results[4].valid.all()
    for i, res in enumerate(results):
        reported = np.stack([wrapper.reported[i][t] for t in res.track_ids.tolist()])
        if not on:
            np.testing.assert_array_equal(res.keypoints_2d, reported)          # untouched
        elif i == 4:
            np.testing.assert_array_equal(res.keypoints_2d, reported[:, list(BLAZEPOSE_MIRROR)])  # undone


def test_without_the_check_the_turn_limit_holds_back_the_mirrored_frame(rec):
    results, _ = run_with_one_mirrored_frame(rec, FrameSettings(lr_consistency=False))
    # The mirrored frame's lift faces the other way: that person is not published then, and the
    # frames before and after are.
    assert results[4].dropped_turned >= 1
    assert sum(r.dropped_turned for i, r in enumerate(results) if i != 4) == 0
    assert all(len(r) for i, r in enumerate(results) if i != 4)
