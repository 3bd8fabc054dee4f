"""The accurate preset (smplr_core/frontends/labelcheck.py): heavy's labels taken on a schedule,
the left/right check continuing from them, and the preset's validation in the frame path and CLI."""
import subprocess
import sys

import numpy as np
import pytest

from node_helpers import REPO
from test_leftright import FPS, walk
from smplr_core.frontends.labelcheck import CHECK_INTERVAL, CheckSchedule, preset_problem
from smplr_core.frontends.leftright import (GROUP_NAMES, LeftRightConsistency, labelling_index,
                                            reference_labelling)

WHOLE = np.ones(len(GROUP_NAMES), bool)


def test_reference_labelling_names_the_mirrored_groups_only():
    kps = walk(1)[0]
    vis = np.ones(33, np.float32)
    legs = np.array([g == "legs" for g in GROUP_NAMES])
    swapped, clear = reference_labelling(kps[labelling_index(legs)], vis, kps, vis)
    assert swapped.tolist() == legs.tolist() and clear[legs].all()
    swapped, clear = reference_labelling(kps, vis, kps, vis)
    assert not swapped.any()


def feed(corrector, truth, reference_frames):
    """One track whose labels are mirrored on every frame (the history alone cannot tell); the
    true labelling is given as the reference on ``reference_frames``. Returns, per frame, whether
    the output has the true labels."""
    vis = np.ones(33, np.float32)
    mirrored = labelling_index(WHOLE)
    right = []
    for t in range(len(truth)):
        ref = [(truth[t], vis)] if t in reference_frames else None
        out, _ = corrector([3], truth[t][mirrored][None], vis[None], t / FPS, ref)
        right.append(bool(np.array_equal(out[0], truth[t])))
    return np.array(right)


def test_a_track_mirrored_from_its_start_is_undone_from_the_first_reference_on():
    truth = walk(90)
    assert not feed(LeftRightConsistency(), truth, set()).any()  # the history sees no jump
    right = feed(LeftRightConsistency(), truth, {20})
    # A confirmed exchange outlasts max_swap_s (1 s), the limit of exchanges from the history alone.
    assert not right[:20].any() and right[20:].all()
    # When the raw labels turn right again, the history follows them.
    vis = np.ones(33, np.float32)
    corrector = LeftRightConsistency()
    feed(corrector, truth[:30], {20})
    out, _ = corrector([3], truth[30][None], vis[None], 30 / FPS)
    np.testing.assert_array_equal(out[0], truth[30])


def test_the_schedule_checks_one_track_per_interval_uncertain_first_then_the_stalest():
    schedule = CheckSchedule(interval=4)
    ids, calm = [1, 2, 3], [False, False, False]
    picks = []
    for frame in range(24):
        pick = schedule.pick(ids, calm, [0.99] * 3)
        picks.append(sorted(pick))
        schedule.done(pick)
    assert picks[0::4] == [[1], [2], [3], [1], [2], [3]]
    assert all(p == [] for k, p in enumerate(picks) if k % 4)
    schedule.pick(ids, calm, [0.99] * 3)  # frame 25: not due
    schedule.done([])
    schedule.pick(ids, calm, [0.99] * 3)
    schedule.done([])
    schedule.pick(ids, calm, [0.99] * 3)
    schedule.done([])
    assert schedule.pick(ids, [False, False, True], [0.99] * 3) == {3}  # uncertain labels first
    schedule.done([])  # the tracker skipped it (a detection frame): due again next frame
    assert schedule.pick(ids, calm, [0.99, 0.5, 0.99]) == {2}  # then a low pose score
    with pytest.raises(ValueError, match="interval"):
        CheckSchedule(interval=0)


@pytest.mark.parametrize("args, words", [
    (("slow", "blazepose", "full"), ["preset", "fast, accurate", "'slow'"]),
    (("accurate", "blazepose", "heavy"), ["preset", "frontend_model", "'fast'", "'full'"]),
    (("accurate", "hourglass", "full"), ["preset", "frontend", "'blazepose'"]),
])
def test_bad_presets_are_refused_naming_the_settings_and_the_fix(args, words):
    from smplr_core.frame import Reconstructor

    problem = preset_problem(*args)
    assert problem and all(w in problem for w in words), problem
    with pytest.raises(ValueError, match="preset"):
        Reconstructor(args[2], frontend=args[1], preset=args[0])
    assert preset_problem("accurate") is None and preset_problem("fast", "hourglass", "heavy") is None


def test_the_cli_refuses_a_bad_preset_in_one_line_naming_its_options(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "000.png"), np.zeros((64, 64, 3), np.uint8))
    proc = subprocess.run([sys.executable, "-m", "smplr_core.reconstruct", str(tmp_path), "--out",
                           str(tmp_path / "r.npz"), "--preset", "accurate", "--frontend-model", "heavy"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "--preset 'accurate'" in line and "--frontend-model" in line, line


class _Record:
    """The tracker's people of every frame (the references included), passed through unchanged."""

    def __init__(self, tracker):
        object.__setattr__(self, "tracker", tracker)
        object.__setattr__(self, "frames", [])

    def __getattr__(self, name):
        return getattr(self.tracker, name)

    def __setattr__(self, name, value):
        setattr(self.tracker, name, value)

    def __call__(self, rgb):
        people = self.tracker(rgb)
        self.frames.append(people)
        return people


@pytest.fixture(scope="module")
def sample():
    from smplr_core.frontends.blazepose.assets import media_path
    from smplr_core.reconstruct import iter_frames

    # The sample video at the demo's width (bench/frontend.sample_frames), its first 120 frames.
    return [rgb for i, rgb in iter_frames(media_path("sports2d_demo.mp4"), 640) if i < 120]


def run_preset(frames, preset, interval=None, settings=None):
    from smplr_core.frame import FrameSettings, Reconstructor

    rec = Reconstructor("full", preset=preset, settings=settings or FrameSettings())
    if interval is not None:
        rec.checks.interval = interval
    rec.tracker = _Record(rec.tracker)
    h, w = frames[0].shape[:2]
    intr = np.array([w, w, w / 2, h / 2], np.float32)
    results = [rec(f, intr, stamp_s=i / 30.0) for i, f in enumerate(frames)]
    return results, rec.tracker.frames


def test_the_accurate_preset_takes_heavys_labels_and_finds_the_same_people(sample):
    from smplr_core.frame import FrameSettings

    # The turn limit is off: it acts on the lift, whose facing follows the labels, so with it a
    # person-frame one preset's labels turn too fast can be held back in that preset alone.
    off = FrameSettings(max_turn_deg_per_s=0.0)
    fast, _ = run_preset(sample, "fast", settings=off)
    accurate, people = run_preset(sample, "accurate", interval=1, settings=off)
    checked = disagreed = 0
    for res_fast, res, frame_people in zip(fast, accurate, people):
        # Only labels change: the same tracks with the same points (as sets per left/right pair).
        assert res.track_ids.tolist() == res_fast.track_ids.tolist()
        np.testing.assert_array_equal(np.sort(res.keypoints_2d, axis=1), np.sort(res_fast.keypoints_2d, axis=1))
        refs = {p.track_id: p.reference for p in frame_people if p.reference is not None}
        assert res.label_checks == len(refs)
        for k, tid in enumerate(res.track_ids.tolist()):
            if tid not in refs:
                continue
            checked += 1
            swapped, _ = reference_labelling(res.keypoints_2d[k], res.visibility[k], *refs[tid])
            assert not swapped.any(), (tid, swapped)  # the output has heavy's labels
            fast_swapped, _ = reference_labelling(res_fast.keypoints_2d[k], res_fast.visibility[k], *refs[tid])
            disagreed += bool(fast_swapped.any())
    assert checked > 60
    assert disagreed >= 1, "no frame where full's labels differ from heavy's: the test shows nothing"


def test_by_default_one_person_is_checked_every_interval_frames_off_the_detection_frames(sample):
    results, _ = run_preset(sample[:60], "accurate")
    checks = np.array([r.label_checks for r in results])
    assert checks.max() == 1
    frames = np.flatnonzero(checks)
    assert len(frames) >= 60 // CHECK_INTERVAL - 3
    assert np.all(np.diff(frames) >= CHECK_INTERVAL)


@pytest.mark.ros
def test_the_node_runs_the_accurate_preset_and_counts_its_checks():
    """Over DDS: preset:=accurate publishes people, and /diagnostics shows the preset and a
    growing label_checks count (one check every 4th tracked frame)."""
    from node_helpers import running_node, sample_frame, status_values

    rgb = sample_frame()
    with running_node("-p", "preset:=accurate", "-p", "max_people:=2") as (probe, _):
        assert probe.send_until_answered(rgb, 120.0) is not None
        for _ in range(12):
            probe.send_until_answered(rgb, 60.0)
        status = probe.wait_status(lambda s: int(status_values(s).get("label_checks", "0")) >= 2, 20.0)
        assert status is not None, "no label checks counted on /diagnostics"
        values = status_values(status)
        assert values["preset"] == "accurate" and values["frontend_model"] == "full"
