"""Markers and mesh serialised straight from numpy arrays read back as the messages they stand for."""
import numpy as np
import pytest

from smplr_core.frame import FrameResult


def frame_result(n: int, vertices: int = 50, seed: int = 0) -> FrameResult:
    rng = np.random.default_rng(seed)
    z = np.zeros
    return FrameResult(track_ids=np.arange(3, 3 + n), scores=np.ones(n, np.float32),
                       keypoints_2d=z((n, 33, 2), np.float32), visibility=z((n, 33), np.float32),
                       valid=np.ones(n, bool),
                       joints=rng.normal(size=(n, 24, 3)).astype(np.float32),
                       landmarks=z((n, 18, 3), np.float32),
                       vertices=rng.normal(size=(n, vertices, 3)).astype(np.float32),
                       betas=z((n, 10), np.float32), global_orient=z((n, 3), np.float32),
                       body_pose=z((n, 23, 3), np.float32), transl=z((n, 3), np.float32),
                       keypoints3d=z((n, 33, 3), np.float32), lift_points=z((n, 41, 3), np.float32),
                       intrinsics=z(4, np.float32))


def xyz(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points])


@pytest.fixture()
def faces():
    return np.random.default_rng(1).integers(0, 50, size=(97, 3))


@pytest.mark.parametrize("frame_id", ["", "cam", "camera_optical_frame_with_a_longer_name"])
@pytest.mark.parametrize("people", [1, 2, 4])
def test_marker_array_bytes_deserialise_to_the_markers_of_each_person(faces, frame_id, people):
    from rclpy.serialization import deserialize_message
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker, MarkerArray

    from smplr_core.body.joint_names import SMPL_PARENTS
    from smplr_ros.markers import MarkerTracks, bone_index, decimate_faces

    tracks = MarkerTracks(faces, SMPL_PARENTS)
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = 1234, 5678
    result = frame_result(people)
    array = deserialize_message(tracks.frame(header, result, 3), MarkerArray)
    assert len(array.markers) == 2 * people
    for i in range(people):
        mesh, skeleton = array.markers[2 * i], array.markers[2 * i + 1]
        assert (mesh.ns, mesh.id, mesh.type) == ("mesh", 3 + i, Marker.TRIANGLE_LIST)
        assert (skeleton.ns, skeleton.id, skeleton.type) == ("skeleton", 3 + i, Marker.LINE_LIST)
        for m in (mesh, skeleton):
            assert m.header.frame_id == frame_id and m.header.stamp.sec == 1234
            assert m.header.stamp.nanosec == 5678 and m.pose.orientation.w == 1.0
            assert m.lifetime.sec == 1 and m.action == Marker.ADD
        np.testing.assert_array_equal(
            xyz(mesh.points), result.vertices[i][decimate_faces(faces, 3).reshape(-1)])
        np.testing.assert_array_equal(xyz(skeleton.points),
                                      result.joints[i][bone_index(SMPL_PARENTS)])
        assert len(skeleton.points) == 46 and mesh.scale.x == 1.0 and skeleton.scale.x == 0.02
        assert mesh.color.a == pytest.approx(0.7) and skeleton.color.a == 1.0

    # One person leaves: the next array keeps the others and deletes the missing one's markers.
    fewer = deserialize_message(tracks.frame(header, frame_result(people - 1), None), MarkerArray)
    assert [(m.ns, m.id, m.action) for m in fewer.markers] == (
        [("skeleton", 3 + i, Marker.ADD) for i in range(people - 1)]
        + sorted([("mesh", 3 + i, Marker.DELETE) for i in range(people)]
                 + [("skeleton", 3 + people - 1, Marker.DELETE)]))


def test_mesh_bytes_deserialise_to_the_triangles_and_vertices(faces):
    from rclpy.serialization import deserialize_message
    from shape_msgs.msg import Mesh

    from smplr_ros.markers import MeshBuilder

    build = MeshBuilder(faces)
    for seed in (0, 1):   # the serialised triangles are reused from one call to the next
        vertices = frame_result(1, seed=seed).vertices[0]
        mesh = deserialize_message(build(vertices), Mesh)
        assert [list(t.vertex_indices) for t in mesh.triangles] == faces.tolist()
        np.testing.assert_array_equal(xyz(mesh.vertices), vertices)


def test_points_template_rejects_an_empty_point_field():
    from visualization_msgs.msg import Marker

    from smplr_ros.markers import PointsTemplate

    m = Marker()
    with pytest.raises(ValueError, match="at least one point"):
        PointsTemplate(m, [(m, "points")]).fill([np.zeros((0, 3))])
