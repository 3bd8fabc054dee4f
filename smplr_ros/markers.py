"""Messages built from a frame's results: People, RViz markers, shape_msgs/Mesh.

Pure functions from numpy arrays (smplr_core.reconstruct.FrameResult) to ROS messages; the node
only decides when to publish them.

Markers (``/human_pose/markers``): per person two markers with stable ids derived from the track id,
namespace ``mesh`` (TRIANGLE_LIST, every ``decimation``-th triangle) and ``skeleton`` (LINE_LIST of
the 24 SMPL bones), coloured by track id (the same colours as the rendered video). When a track
disappears, :class:`MarkerTracks` emits DELETE markers for its ids.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from shape_msgs.msg import Mesh, MeshTriangle
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from smplr_core.render import person_colour
from smplr_ros.msg import People, Person

MESH_NS = "mesh"
SKELETON_NS = "skeleton"
MESH_ALPHA = 0.7
SKELETON_WIDTH_M = 0.02
# Markers vanish on their own if the node stops publishing (e.g. it is killed).
MARKER_LIFETIME_S = 1.0


def points(array: np.ndarray) -> list[Point]:
    """(N, 3) -> list of geometry_msgs/Point."""
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(array, np.float64).tolist()]


def people_message(header, result, names: dict[str, list[str]], image_width: int,
                   image_height: int, processing_ms: float) -> People:
    """smplr_ros/People for one frame. ``result``: smplr_core.reconstruct.FrameResult."""
    msg = People(header=header, image_width=int(image_width), image_height=int(image_height),
                 processing_ms=float(processing_ms))
    for i in range(len(result)):
        person = Person(id=int(result.track_ids[i]), confidence=float(result.scores[i]),
                        has_3d=bool(result.valid[i]))
        person.keypoints_2d = result.keypoints_2d[i].astype(np.float32).reshape(-1).tolist()
        person.keypoint_visibility = result.visibility[i].astype(np.float32).tolist()
        person.joint_names = names["joint_names"]
        person.joints = points(result.joints[i])
        person.landmark_names = names["landmark_names"]
        person.landmarks = points(result.landmarks[i])
        person.betas = result.betas[i, :10].astype(np.float32).tolist()
        person.global_orient = result.global_orient[i].astype(np.float32).tolist()
        person.body_pose = result.body_pose[i].astype(np.float32).reshape(-1).tolist()
        tx, ty, tz = (float(v) for v in result.transl[i])
        person.translation = Vector3(x=tx, y=ty, z=tz)
        msg.people.append(person)
    return msg


def _colour(track_id: int, alpha: float) -> ColorRGBA:
    r, g, b = person_colour(track_id)
    return ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=alpha)


def mesh_marker(header, track_id: int, vertices: np.ndarray, faces: np.ndarray) -> Marker:
    """TRIANGLE_LIST marker. vertices (V, 3), faces (F, 3) already decimated."""
    m = Marker(header=header, ns=MESH_NS, id=int(track_id), type=Marker.TRIANGLE_LIST,
               action=Marker.ADD, lifetime=Duration(sec=int(MARKER_LIFETIME_S)))
    m.pose.orientation.w = 1.0
    m.scale = Vector3(x=1.0, y=1.0, z=1.0)
    m.color = _colour(track_id, MESH_ALPHA)
    m.points = points(vertices[faces.reshape(-1)])
    return m


def skeleton_marker(header, track_id: int, joints: np.ndarray, parents) -> Marker:
    """LINE_LIST marker: one segment per bone (parent, child). joints (24, 3)."""
    m = Marker(header=header, ns=SKELETON_NS, id=int(track_id), type=Marker.LINE_LIST,
               action=Marker.ADD, lifetime=Duration(sec=int(MARKER_LIFETIME_S)))
    m.pose.orientation.w = 1.0
    m.scale = Vector3(x=SKELETON_WIDTH_M, y=0.0, z=0.0)
    m.color = _colour(track_id, 1.0)
    pairs = [(p, c) for c, p in enumerate(parents) if p >= 0]
    m.points = points(joints[np.array(pairs).reshape(-1)])
    return m


def delete_marker(header, ns: str, marker_id: int) -> Marker:
    return Marker(header=header, ns=ns, id=int(marker_id), action=Marker.DELETE)


def decimate_faces(faces: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th triangle (F, 3) -> (ceil(F / step), 3): a lighter mesh for RViz."""
    return np.ascontiguousarray(faces[:: max(1, int(step))])


class MarkerTracks:
    """Builds each frame's MarkerArray and deletes the markers of tracks that disappeared."""

    def __init__(self):
        self.live: set[tuple[str, int]] = set()

    def frame(self, header, result, faces: np.ndarray | None, parents) -> MarkerArray:
        """faces None = no mesh markers (publish_mesh false)."""
        array = MarkerArray()
        now = set()
        for i in range(len(result)):
            if not result.valid[i]:
                continue
            tid = int(result.track_ids[i])
            if faces is not None:
                array.markers.append(mesh_marker(header, tid, result.vertices[i], faces))
                now.add((MESH_NS, tid))
            array.markers.append(skeleton_marker(header, tid, result.joints[i], parents))
            now.add((SKELETON_NS, tid))
        for ns, tid in sorted(self.live - now):
            array.markers.append(delete_marker(header, ns, tid))
        self.live = now
        return array


class MeshBuilder:
    """shape_msgs/Mesh of one person; the triangle list is built once and reused."""

    def __init__(self, faces: np.ndarray):
        self.triangles = [MeshTriangle(vertex_indices=[int(a), int(b), int(c)])
                          for a, b, c in np.asarray(faces).tolist()]

    def __call__(self, vertices: np.ndarray) -> Mesh:
        return Mesh(triangles=self.triangles, vertices=points(vertices))
