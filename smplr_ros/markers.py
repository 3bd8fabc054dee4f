"""Messages built from a frame's results: People, RViz markers, shape_msgs/Mesh.

Pure functions from numpy arrays (smplr_core.frame.FrameResult) to ROS messages; the node
only decides when to publish them.

Markers (``/human_pose/markers``): per person two markers with stable ids derived from the track id,
namespace ``mesh`` (TRIANGLE_LIST, every ``decimation``-th triangle) and ``skeleton`` (LINE_LIST of
the 24 SMPL bones), coloured by track id (the same colours as the rendered video). When a track
disappears, :class:`MarkerTracks` emits DELETE markers for its ids.

The marker array and the mesh are handed to the publisher already serialised (rclpy publishes
``bytes`` as they are): a ``geometry_msgs/Point[]`` field is, in CDR, a count followed by the
points' float64 triples, i.e. the bytes of an (N, 3) float64 array. :func:`serialize_with_points`
serialises the message once with a one-point stand-in per point field and puts each array's bytes
in its place, so no Python object is made per vertex (about 100 ms per person for the mesh marker
when every point was a ``Point``, under 1 ms this way).
"""
from __future__ import annotations

import struct

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from rclpy.serialization import serialize_message
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
    """(N, 3) -> list of geometry_msgs/Point (for the few points of a People message)."""
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(array, np.float64).tolist()]


# Stand-in point values: x and y mark the place of a point field in the serialised bytes, z
# numbers the field.
_MARK_X, _MARK_Y = 7.25e307, -3.5e-307
_POINT = struct.Struct("<3d")
_COUNT = struct.Struct("<I")


class PointsTemplate:
    """A message serialised once with stand-in points, into which (N, 3) arrays are filled.

    ``fields``: (message, attribute) pairs naming ``geometry_msgs/Point[]`` fields of ``msg`` (or
    of messages inside it); their contents are replaced by stand-ins. :meth:`fill` returns the
    serialised message (what ``serialize_message`` would give) with each field holding its array.
    A point is 24 bytes, a multiple of the CDR alignment, so the fields after each array keep
    their alignment whatever its length.
    """

    def __init__(self, msg, fields: list[tuple[object, str]]):
        def serialised(copies: int) -> bytes:
            for j, (owner, attribute) in enumerate(fields):
                setattr(owner, attribute, [Point(x=_MARK_X, y=_MARK_Y, z=float(j))] * copies)
            return serialize_message(msg)

        one, two = serialised(1), serialised(2)
        if one[:2] != b"\x00\x01":
            raise ValueError(f"expected little-endian CDR (encapsulation 0x0001), got 0x{one[:2].hex()}")
        self.pieces: list[bytes] = []
        at = 0
        for j in range(len(fields)):
            mark = one.find(_POINT.pack(_MARK_X, _MARK_Y, float(j)), at)
            if mark < 0:
                raise ValueError(f"point field {fields[j][1]!r} not found in the serialised message")
            # The count precedes the points, with 4 bytes of padding when the points need them to
            # reach an 8-byte boundary; in ``two`` the earlier fields hold one more point each.
            count = next((c for c in (mark - 4, mark - 8)
                          if _COUNT.unpack_from(one, c)[0] == 1
                          and _COUNT.unpack_from(two, c + 24 * j)[0] == 2), None)
            if count is None:
                raise ValueError(f"count of point field {fields[j][1]!r} not found")
            self.pieces += [one[at:count], one[count + 4:mark]]
            at = mark + _POINT.size
        self.pieces.append(one[at:])

    def fill(self, arrays: list[np.ndarray]) -> bytes:
        """The serialised message with field j holding ``arrays[j]`` ((N, 3), N >= 1)."""
        out = []
        for j, array in enumerate(arrays):
            array = np.ascontiguousarray(array, dtype="<f8").reshape(-1, 3)
            if len(array) == 0:
                raise ValueError("a point field needs at least one point")
            out += [self.pieces[2 * j], _COUNT.pack(len(array)), self.pieces[2 * j + 1],
                    array.tobytes()]
        out.append(self.pieces[-1])
        return b"".join(out)


def people_message(header, result, names: dict[str, list[str]], image_width: int,
                   image_height: int, processing_ms: float) -> People:
    """smplr_ros/People for one frame. ``result``: smplr_core.frame.FrameResult."""
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


def _marker(header, ns: str, track_id: int, kind: int, alpha: float, scale: Vector3) -> Marker:
    m = Marker(header=header, ns=ns, id=int(track_id), type=kind, action=Marker.ADD,
               lifetime=Duration(sec=int(MARKER_LIFETIME_S)), scale=scale,
               color=_colour(track_id, alpha))
    m.pose.orientation.w = 1.0
    return m


def mesh_marker(header, track_id: int) -> Marker:
    """TRIANGLE_LIST marker without its points (three per triangle, filled in serialised)."""
    return _marker(header, MESH_NS, track_id, Marker.TRIANGLE_LIST, MESH_ALPHA,
                   Vector3(x=1.0, y=1.0, z=1.0))


def skeleton_marker(header, track_id: int) -> Marker:
    """LINE_LIST marker without its points (one segment per bone, filled in serialised)."""
    return _marker(header, SKELETON_NS, track_id, Marker.LINE_LIST, 1.0,
                   Vector3(x=SKELETON_WIDTH_M, y=0.0, z=0.0))


def bone_index(parents) -> np.ndarray:
    """(2 * bones,) joint indices: (parent, child) of each bone, for a LINE_LIST."""
    return np.array([(p, c) for c, p in enumerate(parents) if p >= 0], np.int64).reshape(-1)


def delete_marker(header, ns: str, marker_id: int) -> Marker:
    return Marker(header=header, ns=ns, id=int(marker_id), action=Marker.DELETE)


def decimate_faces(faces: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th triangle (F, 3) -> (ceil(F / step), 3): a lighter mesh for RViz."""
    return np.ascontiguousarray(faces[:: max(1, int(step))])


class MarkerTracks:
    """Builds each frame's MarkerArray (serialised) and deletes the markers of tracks that
    disappeared. The vertex index of the decimated mesh is computed once per decimation."""

    def __init__(self, faces: np.ndarray, parents):
        self.faces = np.asarray(faces)
        self.bones = bone_index(parents)
        self._corners: dict[int, np.ndarray] = {}
        self.live: set[tuple[str, int]] = set()

    def corners(self, decimation: int) -> np.ndarray:
        """(3 * triangles,) vertex index of the TRIANGLE_LIST for this decimation (cached)."""
        if decimation not in self._corners:
            self._corners[decimation] = decimate_faces(self.faces, decimation).reshape(-1)
        return self._corners[decimation]

    def frame(self, header, result, decimation: int | None) -> bytes:
        """Serialised MarkerArray; decimation None = no mesh markers (publish_mesh false)."""
        array = MarkerArray()
        fields, arrays = [], []
        now = set()
        corners = self.corners(decimation) if decimation is not None else None
        for i in range(len(result)):
            if not result.valid[i]:
                continue
            tid = int(result.track_ids[i])
            if corners is not None:
                array.markers.append(mesh_marker(header, tid))
                fields.append((array.markers[-1], "points"))
                arrays.append(result.vertices[i][corners])
                now.add((MESH_NS, tid))
            array.markers.append(skeleton_marker(header, tid))
            fields.append((array.markers[-1], "points"))
            arrays.append(result.joints[i][self.bones])
            now.add((SKELETON_NS, tid))
        for ns, tid in sorted(self.live - now):
            array.markers.append(delete_marker(header, ns, tid))
        self.live = now
        if not fields:
            return serialize_message(array)
        return PointsTemplate(array, fields).fill(arrays)


class MeshBuilder:
    """Serialised shape_msgs/Mesh of one person: the triangles (constant for a body model) are
    serialised once; each call only fills in the vertices."""

    def __init__(self, faces: np.ndarray):
        mesh = Mesh(triangles=[MeshTriangle(vertex_indices=[int(a), int(b), int(c)])
                               for a, b, c in np.asarray(faces).tolist()])
        self.template = PointsTemplate(mesh, [(mesh, "vertices")])

    def __call__(self, vertices: np.ndarray) -> bytes:
        return self.template.fill([vertices])
