"""The frame path (smplr_core.frame): one interface for both lifts, one result, settings, host copies."""
import cv2
import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from node_helpers import sample_frame
from smplr_core.frame import FrameSettings, Reconstructor, to_numpy, undistort_points
from smplr_core.pipeline import PipelineOutput
from smplr_core.reconstruct import default_intrinsics


@pytest.fixture(scope="module")
def rec():
    torch.set_num_threads(1)
    return Reconstructor()


@pytest.fixture(scope="module")
def frame():
    rgb = sample_frame(120)
    return rgb, default_intrinsics(rgb.shape[1], rgb.shape[0])


class HostCopies(TorchFunctionMode):
    """Counts the tensor calls that hand data to the host (copies, reads, or waits on the device)."""
    HOST = {"cpu", "numpy", "tolist", "item", "__bool__", "__float__", "__int__", "__index__"}

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.HOST:
            self.calls.append(name)
        return func(*args, **(kwargs or {}))


def _people(rec, rgb):
    people = rec.tracker(rgb)
    assert people, "the sample frame has people"
    kp = np.stack([p.keypoints for p in people])
    vis = np.stack([p.visibility for p in people])
    boxes = np.stack([p.box for p in people])
    return np.arange(len(people)), np.ones(len(people), np.float32), kp, vis, boxes


def test_the_lift_hands_its_result_to_the_host_once(rec, frame):
    rgb, intr = frame
    args = _people(rec, rgb)
    rec.lift_people(rgb, *args, intr)  # graphs built
    with HostCopies() as copies:
        result = rec.lift_people(rgb, *args, intr)
    assert copies.calls == ["cpu", "numpy"], copies.calls   # one .cpu().numpy() of one packed tensor
    assert result.valid.any()


@pytest.mark.parametrize("lift", ["dae_eager", "hourglass"])
def test_the_eager_lifts_that_cuda_runs_hand_their_result_to_the_host_once(rec, frame, lift):
    """On CUDA the DAE lift runs eagerly (the frozen graph is CPU-only), as the hourglass lift does
    everywhere: no Python-level read of a device tensor before the one copy."""
    from smplr_core.frame import to_numpy
    from smplr_core.frontends.hourglass.pipeline import HourglassPipeline
    from smplr_core.pipeline import Pipeline

    rgb, intr = frame
    _, _, kp, vis, boxes = _people(rec, rgb)
    model = Pipeline.load(optimise=False) if lift == "dae_eager" else HourglassPipeline.load()
    kp, seen = torch.from_numpy(kp), torch.from_numpy((vis >= 0.5).astype(np.float32))
    with torch.inference_mode(), HostCopies() as copies:
        arrays = to_numpy(model.lift(rgb, kp, seen, boxes, intr))
    assert copies.calls == ["cpu", "numpy"], copies.calls
    assert arrays["joints"].shape == (len(kp), 24, 3)


def test_frame_result_has_every_field_for_each_person(rec, frame):
    rgb, intr = frame
    result = rec(rgb, intr)
    n = len(result)
    assert n >= 1
    assert result.keypoints3d.shape == (n, 33, 3) and result.lift_points.shape == (n, 41, 3)
    assert result.vertices.shape == (n, rec.lift.body.num_vertices, 3)
    assert result.joints.dtype == np.float32 and result.valid.dtype == bool
    # the DAE's points sit with the body: its joints near the body model's (same person, metres)
    assert np.abs(result.lift_points[:, :23] - result.joints[:, 1:]).max(axis=-1).mean() < 0.15


def test_nobody_gives_empty_fields_with_their_trailing_shapes(rec):
    rgb = np.zeros((240, 320, 3), np.uint8)
    result = rec(rgb, default_intrinsics(320, 240))
    assert len(result) == 0
    assert result.joints.shape == (0, 24, 3) and result.keypoints3d.shape == (0, 33, 3)
    assert result.vertices.shape == (0, rec.lift.body.num_vertices, 3) and result.valid.shape == (0,)


def test_to_numpy_splits_the_packed_copy_back_into_the_fields():
    shapes = PipelineOutput.empty(5)
    out = PipelineOutput(*(torch.rand((2,) + tuple(x.shape[1:])) for x in shapes))._replace(
        valid=torch.tensor([True, False]))
    arrays = to_numpy(out)
    assert arrays["valid"].tolist() == [True, False]
    for name in out._fields[1:]:
        assert np.allclose(arrays[name], getattr(out, name).numpy()), name


def test_min_visibility_is_the_lift_threshold(rec, frame):
    rgb, intr = frame
    ids, scores, kp, _, boxes = _people(rec, rgb)
    vis = np.full(kp.shape[:2], 0.4, np.float32)
    try:
        rec.apply(FrameSettings(min_visibility=0.3))
        seen = rec.lift_people(rgb, ids, scores, kp, vis, boxes, intr)
        rec.apply(FrameSettings(min_visibility=0.5))
        hidden = rec.lift_people(rgb, ids, scores, kp, vis, boxes, intr)
    finally:
        rec.apply(FrameSettings())
    assert seen.valid.all() and not hidden.valid.any()


def test_detection_score_threshold_is_the_trackers_pose_score(rec, frame):
    rgb, intr = frame
    try:
        for threshold in (0.1, 0.9):
            rec.apply(FrameSettings(detection_score_threshold=threshold))
            rec.reset()
            result = rec(rgb, intr)
            assert rec.tracker.min_pose_score == threshold
            assert (result.scores >= threshold).all()
        rec.apply(FrameSettings(detection_score_threshold=1.0))
        rec.reset()
        assert len(rec(rgb, intr)) == 0
    finally:
        rec.apply(FrameSettings())
        rec.reset()


def test_max_people_applies_to_the_tracker(rec, frame):
    rgb, intr = frame
    try:
        rec.apply(FrameSettings(max_people=1))
        assert rec.tracker.max_people == 4, "settings wait for the next frame"
        assert len(rec(rgb, intr)) <= 1 and rec.tracker.max_people == 1
    finally:
        rec.apply(FrameSettings())


def test_bad_settings_are_refused():
    for bad in (dict(max_people=0), dict(min_visibility=1.5), dict(detection_score_threshold=-0.1),
                dict(smoothing_min_cutoff_hz=-1.0), dict(min_person_height_px=-1.0),
                dict(max_distance_m=float("nan")), dict(max_turn_deg_per_s=-1.0)):
        with pytest.raises(ValueError):
            FrameSettings(**bad)


def test_ghost_filters_drop_small_and_far_people_and_count_them(rec, frame):
    rgb, intr = frame
    try:
        rec.apply(FrameSettings(min_person_height_px=0.0, max_distance_m=0.0))
        rec.reset()
        everyone = rec(rgb, intr)
        assert len(everyone) >= 1 and everyone.dropped_small == everyone.dropped_far == 0
        depth = everyone.joints[:, 0, 2]
        long_side = (everyone.keypoints_2d.max(1) - everyone.keypoints_2d.min(1)).max(1)
        # The defaults keep the people of the sample video (about 6 m away, over 100 px tall).
        rec.apply(FrameSettings())
        rec.reset()
        assert len(rec(rgb, intr)) == len(everyone)
        # A distance limit between the nearest and the farthest person keeps exactly the near ones.
        limit = float(depth.min()) + 0.01
        rec.apply(FrameSettings(min_person_height_px=0.0, max_distance_m=limit))
        rec.reset()
        near = rec(rgb, intr)
        assert len(near) == int((depth <= limit).sum()) and near.dropped_far == len(everyone) - len(near)
        assert (near.joints[:, 0, 2] <= limit).all()
        assert near.joints.shape[0] == near.vertices.shape[0] == near.track_ids.shape[0] == len(near)
        # A height limit above everyone drops them all before the lift.
        rec.apply(FrameSettings(min_person_height_px=float(long_side.max()) + 1.0, max_distance_m=0.0))
        rec.reset()
        none = rec(rgb, intr)
        assert len(none) == 0 and none.dropped_small == len(everyone)
    finally:
        rec.apply(FrameSettings())
        rec.reset()


def test_world_landmarks_are_not_computed(rec, frame):
    assert all(p.world is None for p in rec.tracker(frame[0]))


def test_undistort_inverts_the_lens_model():
    intr = np.array([500.0, 480.0, 320.0, 240.0])
    dist = np.array([-0.3, 0.1, 0.001, -0.002, 0.0])
    k = np.array([[500.0, 0, 320], [0, 480, 240], [0, 0, 1]])
    rays = np.array([[0.0, 0.0, 1.0], [0.3, -0.2, 1.0], [-0.4, 0.35, 1.0]])
    distorted, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), k, dist)
    pinhole, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), k, None)
    out = undistort_points(distorted.reshape(-1, 2), intr, dist)
    assert np.abs(out - pinhole.reshape(-1, 2)).max() < 0.05
    assert np.abs(distorted - pinhole).max() > 5  # the lens moved them
    with pytest.raises(ValueError):
        undistort_points(out, intr, [0.1, 0.2])


def test_both_lifts_give_the_same_result_type(frame):
    rgb, intr = frame
    hourglass = Reconstructor(frontend="hourglass")
    result = hourglass(rgb, intr)
    assert len(result) >= 1
    assert result.keypoints3d.shape == (len(result), 33, 3) and result.lift_points.shape == (len(result), 41, 3)


def test_inference_imports_no_training_code():
    import subprocess
    import sys

    from node_helpers import REPO

    code = ("import sys; from smplr_core.frame import Reconstructor; Reconstructor(); "
            "Reconstructor(frontend='hourglass'); "
            "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
            "(['smplr_core', 'train'], ['smplr_core', 'data'], ['smplr_core', 'eval'])))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_body_turning_faster_than_a_body_can_is_held_back_for_the_frame():
    from smplr_core.frame import TURN_MEMORY_S, TurnFilter, forward_axes

    def yaw(deg):  # axis-angle about the camera's vertical
        return np.array([[0.0, np.radians(deg), 0.0]])

    np.testing.assert_allclose(forward_axes(yaw(90.0)), [[1.0, 0.0, 0.0]], atol=1e-12)
    turns, one = TurnFilter(), np.array([True])
    dt = 1 / 30
    assert not turns([5], yaw(0.0), one, 0.0, 1500.0).any()
    assert not turns([5], yaw(30.0), one, dt, 1500.0).any()          # 900 deg/s: a fast turn, kept
    assert turns([5], yaw(130.0), one, 2 * dt, 1500.0).all()         # 3000 deg/s: held back
    assert not turns([5], yaw(40.0), one, 3 * dt, 1500.0).any()      # compared with the kept 30 deg
    assert not turns([5], yaw(40.0), np.array([False]), 4 * dt, 1500.0).any()  # no estimate: never held
    # A body that stays turned is taken once its last kept frame is TURN_MEMORY_S old.
    t = 4 * dt
    held = []
    while t < 4 * dt + TURN_MEMORY_S + 2 * dt:
        t += dt
        held.append(bool(turns([5], yaw(220.0), one, t, 1500.0)[0]))
    assert held[0] and not held[-1] and held == sorted(held, reverse=True)
    # Other tracks and a track seen for the first time are not held back; missing tracks are forgotten.
    assert not turns([6], yaw(180.0), one, t + dt, 1500.0).any()
    assert not turns([5], yaw(0.0), one, t + 2 * dt, 1500.0).any()   # 5 was missing: forgotten


def test_the_turn_limit_holds_back_people_in_the_frame_path_and_counts_them(rec, frame):
    rgb, intr = frame
    try:
        rec.apply(FrameSettings(max_turn_deg_per_s=0.0))
        rec.reset()
        first = rec(rgb, intr, stamp_s=0.0)
        assert len(first) >= 1 and first.dropped_turned == 0
        # The same frame again: nobody turned, everyone is kept.
        rec.apply(FrameSettings())
        rec.reset()
        rec(rgb, intr, stamp_s=0.0)
        again = rec(rgb, intr, stamp_s=1 / 30)
        assert len(again) == len(first) and again.dropped_turned == 0
        # A limit no lift can meet (any change of facing in 1 ms is too fast) holds back whoever
        # turned at all, and counts them.
        rec.apply(FrameSettings(max_turn_deg_per_s=1e-6))
        later = rec(sample_frame(121), intr, stamp_s=1 / 30 + 0.001)
        assert later.dropped_turned == len(first) - len(later) > 0
    finally:
        rec.apply(FrameSettings())
        rec.reset()
