"""The reconstruct node in its own process over real DDS, with the real front-end and pipeline.

One node process serves the whole module (loading the models takes a while); each test feeds it
images from this process and checks what comes back on /human_pose/* and /diagnostics.
"""
import numpy as np
import pytest

from node_helpers import TEST_FRAME_ID, running_node, sample_frame, status_values
from ros_helpers import stop
from smplr_ros.params import RECONSTRUCT_PARAMS

pytestmark = pytest.mark.ros

FRAME_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def graph():
    # cy given as an integer (the test frames' centre row, so the intrinsics do not change): it
    # must stay a double.
    with running_node("-p", "max_people:=2", "-p", "marker_mesh_decimation:=8",
                      "-p", "cy:=135") as started:
        yield started


@pytest.fixture(scope="module")
def walking_frame():
    return sample_frame()


def assert_alive(node_proc):
    assert node_proc.poll() is None, "the node exited:\n" + stop(node_proc)


def send_good_frame(probe, rgb):
    msg = probe.send_until_answered(rgb, FRAME_TIMEOUT_S)
    assert msg is not None, "no People message answered a good frame"
    return msg


def test_outputs_appear_with_the_documented_types(graph, walking_frame):
    probe, _ = graph
    send_good_frame(probe, walking_frame)
    types = dict(probe.node.get_topic_names_and_types())
    assert types["/human_pose/people"] == ["smplr_ros/msg/People"]
    assert types["/human_pose/markers"] == ["visualization_msgs/msg/MarkerArray"]
    assert types["/human_pose/mesh"] == ["shape_msgs/msg/Mesh"]
    assert types["/diagnostics"] == ["diagnostic_msgs/msg/DiagnosticArray"]


def test_people_walking_get_finite_anatomically_ordered_3d_joints(graph, walking_frame):
    probe, _ = graph
    msg = send_good_frame(probe, walking_frame)
    assert msg.header.frame_id == TEST_FRAME_ID
    assert (msg.image_width, msg.image_height) == (walking_frame.shape[1], walking_frame.shape[0])
    assert len(msg.people) >= 1
    for person in msg.people:
        assert person.has_3d
        check_upright_person(person)


def check_upright_person(person):
    joints = {n: np.array([p.x, p.y, p.z]) for n, p in zip(person.joint_names, person.joints)}
    assert len(joints) == 24 and len(person.landmarks) == 18
    assert all(np.isfinite(v).all() for v in joints.values())
    # Camera optical frame: y points down, so "above" means a smaller y.
    y = {n: v[1] for n, v in joints.items()}
    assert y["head"] < y["neck"] < y["pelvis"]
    assert y["pelvis"] < y["left_knee"] < y["left_ankle"]
    assert y["pelvis"] < y["right_knee"] < y["right_ankle"]
    assert 0.5 < joints["pelvis"][2] < 30.0, "person should be in front of the camera"
    assert 1.0 < y["left_ankle"] - y["head"] + 0.2 < 2.4, "stature should be human-sized"
    assert len(person.keypoints_2d) == 66 and len(person.keypoint_visibility) == 33
    assert np.isfinite(person.betas).all() and np.isfinite(person.body_pose).all()


def test_markers_hold_mesh_and_skeleton_per_person_and_are_deleted_when_nobody_is_left(
        graph, walking_frame):
    from visualization_msgs.msg import Marker

    probe, _ = graph
    msg = send_good_frame(probe, walking_frame)
    probe.spin_until(lambda: any(m.markers and m.markers[0].header.stamp == msg.header.stamp
                                 for m in probe.markers), 10.0)
    (array,) = [m for m in probe.markers if m.markers and m.markers[0].header.stamp == msg.header.stamp]
    ids = {p.id for p in msg.people if p.has_3d}
    mesh = [m for m in array.markers if m.ns == "mesh"]
    skeleton = [m for m in array.markers if m.ns == "skeleton"]
    assert {m.id for m in mesh} == ids and {m.id for m in skeleton} == ids
    assert all(m.type == Marker.TRIANGLE_LIST and len(m.points) % 3 == 0 for m in mesh)
    assert all(m.type == Marker.LINE_LIST and len(m.points) == 46 for m in skeleton)
    assert all(m.header.frame_id == TEST_FRAME_ID for m in array.markers)

    nobody = probe.send_until_answered(np.zeros_like(walking_frame), FRAME_TIMEOUT_S)
    assert nobody is not None and len(nobody.people) == 0
    probe.spin_until(lambda: any(m.markers and m.markers[0].header.stamp == nobody.header.stamp
                                 for m in probe.markers), 10.0)
    (deleted,) = [m for m in probe.markers
                  if m.markers and m.markers[0].header.stamp == nobody.header.stamp]
    assert all(m.action == Marker.DELETE for m in deleted.markers)
    assert {(m.ns, m.id) for m in deleted.markers} == {(ns, i) for ns in ("mesh", "skeleton")
                                                       for i in ids}


def test_mesh_topic_carries_the_first_persons_body(graph, walking_frame):
    probe, _ = graph
    before = len(probe.meshes)
    send_good_frame(probe, walking_frame)
    assert probe.spin_until(lambda: len(probe.meshes) > before, 10.0)
    mesh = probe.meshes[-1]
    assert len(mesh.triangles) > 1000 and len(mesh.vertices) > 1000
    assert max(max(t.vertex_indices) for t in mesh.triangles[:2000]) < len(mesh.vertices)


BAD_FRAMES = {
    "wrong encoding": (lambda: (b"\0" * 320 * 240 * 2, 240, 320, 640, "16UC1"),
                       "not a colour image"),
    "empty data": (lambda: (b"", 240, 320, 960, "rgb8"), "empty"),
    "truncated data": (lambda: (b"\0" * 1000, 240, 320, 960, "rgb8"), "truncated"),
    "step/size mismatch": (lambda: (b"\0" * 240 * 500, 240, 320, 500, "rgb8"),
                           "step 500 is smaller"),
    "1x1 image": (lambda: (b"\0" * 3, 1, 1, 3, "rgb8"), "too small"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_frame_is_reported_on_diagnostics_and_later_frames_still_work(graph, walking_frame,
                                                                          case):
    from diagnostic_msgs.msg import DiagnosticStatus

    probe, node_proc = graph
    make, reason = BAD_FRAMES[case]
    status = None
    for _ in range(5):   # best effort, like a camera: send again if this copy was lost
        probe.send_raw(*make())
        status = probe.wait_status(lambda s: reason in s.message, timeout_s=3.0)
        if status is not None:
            break
    assert status is not None, f"/diagnostics never reported '{reason}'"
    assert status.level == DiagnosticStatus.WARN, status.message   # bad input, not a failure
    assert status.message.startswith("bad image"), status.message
    assert int(status_values(status)["bad_frames"]) >= 1
    assert_alive(node_proc)
    assert send_good_frame(probe, walking_frame).people


def test_burst_of_200_frames_at_200_hz_is_skipped_not_queued(graph, walking_frame):
    import time

    probe, node_proc = graph
    before = len(probe.people)
    stamps = []
    for _ in range(200):
        stamps.append(probe.send_rgb(walking_frame).stamp)
        probe.rclpy.spin_once(probe.node, timeout_sec=0.0)
        time.sleep(0.005)
    # Newest frame wins: one of the last frames of the burst is answered (best effort may lose
    # the very last one).
    newest = stamps[-20:]
    assert probe.spin_until(lambda: any(m.header.stamp in newest for m in probe.people),
                            FRAME_TIMEOUT_S), "none of the newest burst frames was processed"
    probe.spin_for(1.0)
    # Whatever the machine's speed: once the burst ends, only the frame being processed and the one
    # in the mailbox are left to answer (a queue would still answer its backlog), and frames are
    # answered in the order they were sent. An answer's publication time is its image's stamp (the
    # send time, on this machine's clock) plus the node's received -> published time.
    def seconds(t) -> float:
        return t.sec + 1e-9 * t.nanosec

    sent = {(t.sec, t.nanosec): i for i, t in enumerate(stamps)}
    answers = [m for m in probe.people[before:] if (m.header.stamp.sec, m.header.stamp.nanosec) in sent]
    burst_end = seconds(stamps[-1]) + 0.005
    late = [m for m in answers if seconds(m.header.stamp) + m.processing_ms / 1000 > burst_end]
    assert len(late) <= 2, f"{len(late)} frames answered after the burst ended: a backlog was built"
    order = [sent[(m.header.stamp.sec, m.header.stamp.nanosec)] for m in answers]
    assert order == sorted(order), "burst frames were answered out of order"

    def accounted(status) -> bool:  # every frame received was processed, skipped, bad or failed
        v = {k: int(status_values(status)[k]) for k in ("frames_received", "frames_processed",
                                                         "frames_dropped", "bad_frames", "errors")}
        return v["frames_received"] == v["frames_processed"] + v["frames_dropped"] + v["bad_frames"] + v["errors"]
    status = probe.wait_status(accounted, 5.0)
    assert status is not None, "/diagnostics does not account for every burst frame (processed or skipped)"
    assert_alive(node_proc)
    assert send_good_frame(probe, walking_frame).people


def _parameter_client(probe, service_type, name):
    client = probe.node.create_client(service_type, f"/reconstruct/{name}")
    assert client.wait_for_service(timeout_sec=10.0)
    return client


def _call(probe, client, request):
    future = client.call_async(request)
    probe.spin_until(future.done, 10.0)
    return future.result()


def test_declared_parameters_are_the_documented_table(graph):
    from rcl_interfaces.srv import ListParameters

    probe, _ = graph
    client = _parameter_client(probe, ListParameters, "list_parameters")
    names = set(_call(probe, client, ListParameters.Request()).result.names)
    assert {s.name for s in RECONSTRUCT_PARAMS} <= names
    assert names - {s.name for s in RECONSTRUCT_PARAMS} <= {"use_sim_time", "start_type_description_service"}


@pytest.mark.parametrize("name, value, reason", [
    ("max_people", 40, "'max_people' must be in [1, 16], got 40"),
    ("detection_score_threshold", 1.5, "'detection_score_threshold' must be in [0, 1], got 1.5"),
    ("fx", -3, "'fx' must be in [0, 100000], got -3.0"),
    ("device", "gpu", "read-only"),
    ("marker_mesh_decimation", "many", "'marker_mesh_decimation' must be an int, got str 'many'"),
])
def test_bad_runtime_parameter_is_rejected_with_a_reason(graph, name, value, reason):
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    probe, node_proc = graph
    client = _parameter_client(probe, SetParameters, "set_parameters")
    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    (result,) = _call(probe, client, request).results
    assert not result.successful
    assert reason in result.reason
    assert_alive(node_proc)


def test_good_runtime_parameter_is_accepted(graph):
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    probe, _ = graph
    client = _parameter_client(probe, SetParameters, "set_parameters")
    request = SetParameters.Request(parameters=[Parameter("marker_mesh_decimation", value=4)
                                                .to_parameter_msg()])
    (result,) = _call(probe, client, request).results
    assert result.successful, result.reason


def test_integer_for_a_double_parameter_keeps_it_a_double(graph):
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import GetParameters, SetParameters
    from rclpy.parameter import Parameter

    probe, _ = graph
    setter = _parameter_client(probe, SetParameters, "set_parameters")
    getter = _parameter_client(probe, GetParameters, "get_parameters")
    (value,) = _call(probe, getter, GetParameters.Request(names=["cy"])).values   # -p cy:=135
    assert value.type == ParameterType.PARAMETER_DOUBLE and value.double_value == 135.0
    try:
        request = SetParameters.Request(parameters=[Parameter("fx", value=1000).to_parameter_msg()])
        (result,) = _call(probe, setter, request).results
        assert result.successful, result.reason
        (value,) = _call(probe, getter, GetParameters.Request(names=["fx"])).values
        assert value.type == ParameterType.PARAMETER_DOUBLE and value.double_value == 1000.0
    finally:
        _set(probe, "fx", 0.0)


def _set(probe, name, value):
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    client = _parameter_client(probe, SetParameters, "set_parameters")
    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    (result,) = _call(probe, client, request).results
    assert result.successful, result.reason


def _stream(probe, rgb, rate_hz, seconds, predicate, copies=1):
    """Send ``copies`` of ``rgb`` back to back ``rate_hz`` times a second until a reconstruct
    status satisfies ``predicate`` (or the time is up); return that status."""
    import time

    start, found = len(probe.diagnostics), {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not found:
        for _ in range(copies):
            probe.send_rgb(rgb)
        next_send = time.monotonic() + 1.0 / rate_hz
        while time.monotonic() < next_send:
            probe.rclpy.spin_once(probe.node, timeout_sec=0.0)
            time.sleep(0.002)
        for array in probe.diagnostics[start:]:
            for status in array.status:
                if status.name.endswith("reconstruct") and predicate(status):
                    found["s"] = status
    return found.get("s")


def test_diagnostics_level_follows_the_processed_rate_not_the_skipped_frames(graph, walking_frame):
    from diagnostic_msgs.msg import DiagnosticStatus

    probe, node_proc = graph
    send_good_frame(probe, walking_frame)
    # Faster than the node (three frames at once, 15 times a second: the node can take only the
    # newest of each three), and far above 1 Hz processed: OK, with the skip rate shown.
    _set(probe, "min_rate_hz", 1.0)
    status = _stream(probe, walking_frame, 15.0, 20.0,
                     lambda s: float(status_values(s)["skip_rate"]) > 0
                     and s.level == DiagnosticStatus.OK, copies=3)
    assert status is not None, "no OK status while frames were skipped"
    assert status.message == "ok" and float(status_values(status)["rate_hz"]) > 1.0
    # The same stream with a minimum rate the node cannot reach: WARN naming the rates.
    _set(probe, "min_rate_hz", 1000.0)
    try:
        status = _stream(probe, walking_frame, 15.0, 20.0,
                         lambda s: s.level == DiagnosticStatus.WARN and "min_rate_hz" in s.message)
        assert status is not None, "no WARN while processing below min_rate_hz"
        assert status.message.startswith("processing ") and "below min_rate_hz 1000" in status.message
        assert status_values(status)["min_rate_hz"] == "1000"
    finally:
        _set(probe, "min_rate_hz", 5.0)
    assert_alive(node_proc)


def test_large_frame_is_processed_or_counted_as_lost(graph, walking_frame):
    """A 3840x2160 rgb8 frame (24.9 MB, above the 16 MiB shared-memory segment) over the best-effort
    subscription: every copy either reaches the node or is counted in frames_lost."""
    import cv2

    probe, node_proc = graph
    big = cv2.resize(walking_frame, (3840, 2160))
    send_good_frame(probe, walking_frame)
    probe.spin_for(1.5)
    before = status_values(probe.latest_status())
    sent = []
    for _ in range(6):   # 2.5 Hz: the node keeps up, so none is skipped for a newer one
        sent.append(probe.send_rgb(big).stamp)
        probe.spin_for(0.4)
    send_good_frame(probe, walking_frame)   # a later sample lets DDS notice a lost one
    probe.spin_for(2.5)
    after = status_values(probe.latest_status())
    received = int(after["frames_received"]) - int(before["frames_received"])
    lost = int(after["frames_lost"]) - int(before["frames_lost"])
    answered = [m for m in probe.people if m.header.stamp in sent]
    assert answered or lost, "large frames vanished without a trace"
    assert all(m.image_width == 3840 and m.image_height == 2160 for m in answered)
    # Every large copy is accounted for: received by the node or counted lost (the good frame
    # after them is received too).
    assert received - 1 + lost >= len(sent), (received, lost, len(sent))
    assert_alive(node_proc)


def _camera_info(width, height, fx, fy, cx, cy):
    from sensor_msgs.msg import CameraInfo

    return CameraInfo(width=width, height=height, distortion_model="plumb_bob",
                      k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0])


def _depth_with_info(probe, rgb, info):
    """Pelvis depth of the first person in the frame answered after ``info`` was published."""
    info.header = probe.header()
    probe.info_pub.publish(info)
    probe.spin_for(0.3)
    msg = send_good_frame(probe, rgb)
    return msg.people[0].translation.z


BAD_CAMERA_INFO = {
    "NaN cx": (dict(cx=float("nan")), "K[2] (cx) is nan"),
    "NaN cy": (dict(cy=float("nan")), "K[5] (cy) is nan"),
    "infinite fx": (dict(fx=float("inf")), "K[0] (fx) is inf"),
    "tiny fx": (dict(fx=1e-6), "K[0] (fx) = 1e-06 px is outside"),
    "zero K": (dict(fx=0.0, fy=0.0, cx=0.0, cy=0.0), "K[0] (fx) = 0 px is outside"),
    "principal point outside": (dict(cx=5000.0), "K[2] (cx) = 5000 px is outside the image"),
    "other image size": (dict(width=1280, height=720), "does not match the image's 480x270"),
}


@pytest.mark.parametrize("case", list(BAD_CAMERA_INFO))
def test_bad_camera_info_is_rejected_and_the_last_good_one_kept(graph, walking_frame, case):
    from diagnostic_msgs.msg import DiagnosticStatus

    probe, node_proc = graph
    h, w = walking_frame.shape[:2]
    good = dict(width=w, height=h, fx=900.0, fy=900.0, cx=w / 2, cy=h / 2)
    z_good = _depth_with_info(probe, walking_frame, _camera_info(**good))
    change, reason = BAD_CAMERA_INFO[case]
    start = len(probe.diagnostics)
    z_after = _depth_with_info(probe, walking_frame, _camera_info(**{**good, **change}))
    # No frame lost, and the last good intrinsics still in use (depth scales with the focal length:
    # the default 60-degree camera would give about half of it).
    assert z_after == pytest.approx(z_good, rel=0.1)
    status = probe.wait_status(lambda s: s.message.startswith("camera_info rejected"), 5.0)
    assert status is not None, "/diagnostics does not say the camera_info was rejected"
    assert reason in status.message and status.level == DiagnosticStatus.WARN
    assert status_values(status)["camera_info"].startswith("rejected: ")
    assert probe.diagnostics[start:], "no diagnostics during the test"
    assert_alive(node_proc)


def test_good_camera_info_sets_the_depth_scale(graph, walking_frame):
    probe, _ = graph
    h, w = walking_frame.shape[:2]
    near = _depth_with_info(probe, walking_frame, _camera_info(w, h, 400.0, 400.0, w / 2, h / 2))
    far = _depth_with_info(probe, walking_frame, _camera_info(w, h, 1200.0, 1200.0, w / 2, h / 2))
    assert far / near == pytest.approx(3.0, rel=0.15)
    status = probe.wait_status(lambda s: s.message == "ok" or "rejected" not in s.message, 5.0)
    assert status is not None and "rejected" not in status_values(status)["camera_info"]
    assert status_values(status)["camera_info"].startswith(f"{w}x{h} fx=1200.0")


def test_a_runtime_change_of_a_frame_setting_reaches_the_next_frames(graph, walking_frame):
    """detection_score_threshold 1.0: nobody passes; back to 0.5: the people return."""
    probe, node_proc = graph
    assert send_good_frame(probe, walking_frame).people
    try:
        _set(probe, "detection_score_threshold", 1.0)
        assert send_good_frame(probe, walking_frame).people == []
    finally:
        _set(probe, "detection_score_threshold", 0.5)
    assert send_good_frame(probe, walking_frame).people
    assert_alive(node_proc)


def test_ghost_filter_drops_people_beyond_max_distance_and_diagnostics_count_them(graph, walking_frame):
    """max_distance_m 1 m: the walkers (several metres away) are not published and the drop shows
    on /diagnostics; back to the default: they return."""
    probe, node_proc = graph
    assert send_good_frame(probe, walking_frame).people
    try:
        _set(probe, "max_distance_m", 1.0)
        assert send_good_frame(probe, walking_frame).people == []
        status = _stream(probe, walking_frame, 10.0, 20.0,
                         lambda s: int(status_values(s).get("people_dropped_far", "0")) > 0)
        assert status is not None, "people_dropped_far never counted the dropped people"
    finally:
        _set(probe, "max_distance_m", 20.0)
    assert send_good_frame(probe, walking_frame).people
    assert_alive(node_proc)
