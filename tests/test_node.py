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
    with running_node("-p", "max_people:=2", "-p", "marker_mesh_decimation:=8") as started:
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
    assert status.level in (DiagnosticStatus.WARN, DiagnosticStatus.ERROR)
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
    for _ in range(10):  # take in what was answered while the burst was sent
        probe.rclpy.spin_once(probe.node, timeout_sec=0.0)
    answered_during_burst = len(probe.people)
    # Newest frame wins: one of the last frames of the burst is answered (best effort may lose
    # the very last one).
    newest = stamps[-20:]
    assert probe.spin_until(lambda: any(m.header.stamp in newest for m in probe.people),
                            FRAME_TIMEOUT_S), "none of the newest burst frames was processed"
    probe.spin_for(1.0)
    # Whatever the machine's speed: once the burst ends, only the frame being processed and the one
    # in the mailbox are left to answer (a queue would still answer its backlog), and frames are
    # answered in the order they were sent.
    late = len(probe.people) - answered_during_burst
    assert late <= 3, f"{late} frames answered after the burst ended: a backlog was built"
    sent = {(t.sec, t.nanosec): i for i, t in enumerate(stamps)}
    order = [sent[key] for m in probe.people[before:]
             if (key := (m.header.stamp.sec, m.header.stamp.nanosec)) in sent]
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
    ("max_people", 40, "max_people"),
    ("detection_score_threshold", 1.5, "detection_score_threshold"),
    ("device", "gpu", "read-only"),
    ("marker_mesh_decimation", "many", "marker_mesh_decimation"),
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
