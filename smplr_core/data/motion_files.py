"""Readers for motion capture files: BVH and ASF/AMC, to one joint-tree form (documented in docs/core.md).

Both formats become a :class:`Motion`: a tree of joints (names, parents), each joint's rest offset
from its parent (metres, in the file's own world axes at rest), and per frame the joint's local
rotation relative to its rest pose and the root position. At rest (all rotations identity) every
joint's world rotation is the identity, so ``world_rotation @ rest direction`` is a bone's direction.

BVH: a joint's ``OFFSET`` is its rest position in the parent's frame; its ``CHANNELS`` give the order
of that file's values and rotations (``Zrotation Xrotation Yrotation`` means R = Rz Rx Ry, the
first named axis outermost). Position channels of any joint add to its offset (the root's then
holds the trajectory). BVH has no unit field: ``units_to_m`` says it, and ``"auto"`` takes
centimetres when the rest skeleton is taller than 10 units and metres otherwise.

ASF/AMC: the ASF names bones with a rest ``direction`` and ``length`` in world axes, a local frame
``axis ax ay az ORDER`` and the ``dof`` they move in; the AMC lists per frame each bone's values in
its ``dof`` order. A bone's world rotation is ``parent · C · E · C⁻¹`` with C the axis frame and E
the dof rotation, each an Euler rotation applied in the listed order (``axis ... XYZ`` and ``dof rx
ry rz`` mean R = Rz Ry Rx). Joints here are the bones' start points (a bone's end is where its
children start); lengths and root translations are in ``length`` units (×1/length inches, the
Acclaim convention), angles in ``deg`` or ``rad`` as the ``:units`` section and AMC header say.

A malformed file (truncated motion, wrong number of values, unknown bone, non-numeric value)
raises :class:`MotionFileError` naming the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

INCH_M = 0.0254


class MotionFileError(ValueError):
    """A motion file that cannot be read; the message names the file and, where known, the line."""

    def __init__(self, path, line: int | None, message: str):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path, self.line = str(path), line


@dataclass
class Motion:
    """One clip on its own skeleton.

    names, parents (-1 for the root); ``offsets_m`` (J, 3) rest offset of each joint from its parent
    in world axes at rest; ``end_sites_m`` {joint: (3,)} rest offset of a leaf's end point;
    ``rotations`` (T, J, 3, 3) local rotations relative to rest (world_rot[j] = world_rot[parent] @
    rotations[j]); ``translations_m`` (T, J, 3) per-frame local offsets (rest offset plus any
    position channel; the root's is its trajectory); ``frame_time_s``.
    """
    path: str
    format: str
    names: list[str]
    parents: np.ndarray
    offsets_m: np.ndarray
    end_sites_m: dict[int, np.ndarray]
    rotations: np.ndarray
    translations_m: np.ndarray
    frame_time_s: float
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions of the rest pose (root at the origin)."""
        pos = np.zeros((len(self.names), 3))
        for j, p in enumerate(self.parents):
            if p >= 0:
                pos[j] = pos[p] + self.offsets_m[j]
        return pos

    def forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotations (T, J, 3, 3) and joint positions (T, J, 3), the file's axes, metres."""
        t, j = self.rotations.shape[:2]
        rot = np.empty((t, j, 3, 3))
        pos = np.empty((t, j, 3))
        for k, p in enumerate(self.parents):  # parents come before children
            if p < 0:
                rot[:, k] = self.rotations[:, k]
                pos[:, k] = self.translations_m[:, k]
            else:
                rot[:, k] = rot[:, p] @ self.rotations[:, k]
                pos[:, k] = pos[:, p] + (rot[:, p] @ self.translations_m[:, k, :, None])[..., 0]
        return rot, pos


def euler_matrix(order: str, degrees_xyz: np.ndarray, degrees: bool = True, intrinsic: bool = True) -> np.ndarray:
    """Rotation matrices from Euler angles given in ``order`` (e.g. "ZXY"), (..., len(order)).

    intrinsic: the first axis outermost (R = R1 R2 R3, BVH); otherwise the first axis applied first
    (R = R3 R2 R1, ASF/AMC)."""
    angles = np.asarray(degrees_xyz, dtype=np.float64)
    shape = angles.shape[:-1]
    seq = order.upper() if intrinsic else order.lower()
    m = Rotation.from_euler(seq, angles.reshape(-1, len(order)), degrees=degrees).as_matrix()
    return m.reshape(shape + (3, 3))


def _float(path, line_no: int, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise MotionFileError(path, line_no, f"not a number: {text!r}") from None


# ------------------------------------------------------------------------------------------ BVH
_BVH_CHANNELS = {"Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"}


def read_bvh(path, units_to_m: float | str = "auto") -> Motion:
    """Read a BVH file (see the module docstring)."""
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise MotionFileError(path, None, f"cannot read: {exc}") from exc
    names, parents, offsets, channels, end_sites = [], [], [], [], {}
    stack: list[int] = []
    pending_end = False
    i = 0
    n_lines = len(lines)
    while i < n_lines:
        tok = lines[i].split()
        i += 1
        if not tok:
            continue
        key = tok[0]
        if key == "HIERARCHY":
            continue
        if key in ("ROOT", "JOINT"):
            if len(tok) < 2:
                raise MotionFileError(path, i, f"{key} without a name")
            if key == "ROOT" and names:
                raise MotionFileError(path, i, "a second ROOT (only one skeleton per file is read)")
            names.append(tok[1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(None)
            channels.append([])
            stack.append(len(names) - 1)
        elif key == "End":
            pending_end = True
            stack.append(-2)
        elif key == "{":
            continue
        elif key == "}":
            if not stack:
                raise MotionFileError(path, i, "unbalanced '}'")
            stack.pop()
        elif key == "OFFSET":
            if len(tok) != 4:
                raise MotionFileError(path, i, f"OFFSET needs 3 numbers, got {len(tok) - 1}")
            vec = np.array([_float(path, i, v) for v in tok[1:]])
            if stack and stack[-1] == -2 and pending_end:
                end_sites[stack[-2]] = vec
                pending_end = False
            elif stack and stack[-1] >= 0:
                offsets[stack[-1]] = vec
            else:
                raise MotionFileError(path, i, "OFFSET outside a joint")
        elif key == "CHANNELS":
            if not stack or stack[-1] < 0 or len(tok) < 2:
                raise MotionFileError(path, i, "CHANNELS outside a joint")
            try:
                count = int(tok[1])
            except ValueError:
                raise MotionFileError(path, i, f"channel count is not a number: {tok[1]!r}") from None
            chans = tok[2:]
            if count != len(chans):
                raise MotionFileError(path, i, f"CHANNELS says {count} but names {len(chans)}")
            bad = [c for c in chans if c not in _BVH_CHANNELS]
            if bad:
                raise MotionFileError(path, i, f"unknown channel(s) {bad}")
            channels[stack[-1]] = chans
        elif key == "MOTION":
            break
        else:
            raise MotionFileError(path, i, f"unexpected {key!r} in HIERARCHY")
    else:
        raise MotionFileError(path, None, "no MOTION section")
    if not names:
        raise MotionFileError(path, None, "no ROOT joint")
    if stack:
        raise MotionFileError(path, i, "HIERARCHY ends inside a joint (missing '}')")
    for j, off in enumerate(offsets):
        if off is None:
            raise MotionFileError(path, None, f"joint {names[j]!r} has no OFFSET")
    header = {}
    for key in ("Frames:", "Frame Time:"):
        while i < n_lines and not lines[i].strip():
            i += 1
        if i >= n_lines or not lines[i].strip().startswith(key):
            raise MotionFileError(path, i + 1, f"expected '{key}'")
        header[key] = lines[i].strip()[len(key):].strip()
        i += 1
    try:
        n_frames = int(header["Frames:"])
    except ValueError:
        raise MotionFileError(path, i - 1, f"frame count is not a number: {header['Frames:']!r}") from None
    frame_time = _float(path, i, header["Frame Time:"])
    width = sum(len(c) for c in channels)
    rows = []
    first_data_line = i + 1
    for k in range(i, n_lines):
        tok = lines[k].split()
        if not tok:
            continue
        if len(tok) != width:
            raise MotionFileError(path, k + 1, f"expected {width} values per frame, got {len(tok)}")
        try:
            rows.append(np.array(tok, dtype=np.float64))
        except ValueError:
            bad = next(t for t in tok if not _is_number(t))
            raise MotionFileError(path, k + 1, f"not a number: {bad!r}") from None
    if len(rows) != n_frames:
        raise MotionFileError(path, first_data_line + len(rows),
                              f"header says {n_frames} frames, file holds {len(rows)} (truncated?)")
    if n_frames == 0:
        raise MotionFileError(path, first_data_line, "no frames")
    data = np.stack(rows)
    offsets_arr = np.stack(offsets)
    rest = np.zeros_like(offsets_arr)
    parents_arr = np.asarray(parents)
    for j, p in enumerate(parents_arr):
        if p >= 0:
            rest[j] = rest[p] + offsets_arr[j]
    if units_to_m == "auto":
        height = float(np.ptp(rest[:, 1]) if len(names) > 1 else 0.0)
        extent = max(height, float(np.ptp(rest, axis=0).max()) if len(names) > 1 else 0.0)
        units_to_m = 0.01 if extent > 10.0 else 1.0
    scale = float(units_to_m)
    n_j = len(names)
    rotations = np.broadcast_to(np.eye(3), (n_frames, n_j, 3, 3)).copy()
    translations = np.broadcast_to(offsets_arr, (n_frames, n_j, 3)).copy()
    col = 0
    for j, chans in enumerate(channels):
        rot_axes, rot_cols = "", []
        for c in chans:
            if c.endswith("position"):
                axis = "XYZ".index(c[0])
                if parents_arr[j] < 0:  # the root's trajectory adds to its offset
                    translations[:, j, axis] += data[:, col]
                else:  # another joint's position channels are its local offset
                    translations[:, j, axis] = data[:, col]
            else:
                rot_axes += c[0]
                rot_cols.append(col)
            col += 1
        if rot_axes:
            rotations[:, j] = euler_matrix(rot_axes, data[:, rot_cols], intrinsic=True)
    return Motion(str(path), "bvh", names, parents_arr, offsets_arr * scale,
                  {j: v * scale for j, v in end_sites.items()}, rotations, translations * scale,
                  frame_time, {"units_to_m": scale, "channels": channels})


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# -------------------------------------------------------------------------------------- ASF/AMC
@dataclass
class _Bone:
    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: list[str]
    line: int


def read_asf(path) -> dict:
    """Parse an ASF skeleton: {'bones': {name: _Bone}, 'children': {name: [...]}, 'root_order': [...],
    'root_axis': str, 'length_unit': float, 'degrees': bool}."""
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise MotionFileError(path, None, f"cannot read: {exc}") from exc
    section = None
    bones: dict[str, _Bone] = {}
    children: dict[str, list[str]] = {}
    root_order = ["TX", "TY", "TZ", "RX", "RY", "RZ"]
    root_axis = "XYZ"
    length_unit, degrees = 1.0, True
    cur: dict | None = None
    in_limits = False
    for k, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            tok = line.split()
            section = tok[0][1:]
            in_limits = False
            continue
        tok = line.split()
        if section == "units":
            if tok[0] == "length":
                length_unit = _float(path, k, tok[1]) if len(tok) > 1 else 1.0
            elif tok[0] == "angle":
                degrees = len(tok) < 2 or tok[1].lower().startswith("deg")
        elif section == "root":
            if tok[0] == "order":
                root_order = [t.upper() for t in tok[1:]]
            elif tok[0] == "axis" and len(tok) > 1:
                root_axis = tok[1].upper()
        elif section == "bonedata":
            if tok[0] == "begin":
                cur = {"line": k}
                in_limits = False
            elif tok[0] == "end":
                if cur is None or "name" not in cur:
                    raise MotionFileError(path, k, "bone without a name")
                for req in ("direction", "length"):
                    if req not in cur:
                        raise MotionFileError(path, cur["line"], f"bone {cur['name']!r} has no {req}")
                axis = cur.get("axis", (np.zeros(3), "XYZ"))
                bones[cur["name"]] = _Bone(cur["name"], cur["direction"], cur["length"], axis[0], axis[1],
                                           cur.get("dof", []), cur["line"])
                cur = None
            elif cur is None:
                raise MotionFileError(path, k, f"{tok[0]!r} outside begin/end")
            elif tok[0] == "name":
                cur["name"] = tok[1]
            elif tok[0] == "direction":
                if len(tok) != 4:
                    raise MotionFileError(path, k, "direction needs 3 numbers")
                cur["direction"] = np.array([_float(path, k, v) for v in tok[1:]])
            elif tok[0] == "length":
                cur["length"] = _float(path, k, tok[1])
            elif tok[0] == "axis":
                if len(tok) != 5:
                    raise MotionFileError(path, k, "axis needs 3 angles and an order")
                cur["axis"] = (np.array([_float(path, k, v) for v in tok[1:4]]), tok[4].upper())
            elif tok[0] == "dof":
                dof = [t.lower() for t in tok[1:]]
                bad = [d for d in dof if d not in ("rx", "ry", "rz", "tx", "ty", "tz", "l")]
                if bad:
                    raise MotionFileError(path, k, f"unknown dof {bad}")
                cur["dof"] = dof
                in_limits = False
            elif tok[0] == "limits" or in_limits:
                in_limits = True
        elif section == "hierarchy":
            if tok[0] in ("begin", "end"):
                continue
            children.setdefault(tok[0], []).extend(tok[1:])
    if not bones:
        raise MotionFileError(path, None, "no bones (:bonedata missing or empty)")
    known = set(bones) | {"root"}
    for parent, kids in children.items():
        for name in [parent] + kids:
            if name not in known:
                raise MotionFileError(path, None, f"hierarchy names unknown bone {name!r}")
    return {"bones": bones, "children": children, "root_order": root_order, "root_axis": root_axis,
            "length_unit": length_unit, "degrees": degrees, "path": str(path)}


def read_amc(amc_path, asf) -> Motion:
    """Read an AMC motion on a parsed ASF skeleton (``read_asf``) or an ASF path."""
    if not isinstance(asf, dict):
        asf = read_asf(asf)
    path = Path(amc_path)
    bones: dict[str, _Bone] = asf["bones"]
    # joint tree: root, then bones in hierarchy order (parents first)
    names, parents = ["root"], [-1]
    order = ["root"]
    while order:
        parent = order.pop(0)
        for kid in asf["children"].get(parent, []):
            names.append(kid)
            parents.append(names.index(parent))
            order.append(kid)
    index = {n: i for i, n in enumerate(names)}
    unit_m = INCH_M / asf["length_unit"]
    offsets = np.zeros((len(names), 3))
    end_sites = {}
    for j, name in enumerate(names):
        if j == 0:
            continue
        p = names[parents[j]]
        if p != "root":
            b = bones[p]
            offsets[j] = b.direction * b.length * unit_m
    for j, name in enumerate(names):
        if j > 0 and not asf["children"].get(name):
            b = bones[name]
            end_sites[j] = b.direction * b.length * unit_m
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise MotionFileError(path, None, f"cannot read: {exc}") from exc
    degrees = asf["degrees"]
    frames: list[dict] = []
    frame_lines: list[int] = []
    cur: dict | None = None
    for k, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            if line.upper().startswith(":RADIANS"):
                degrees = False
            elif line.upper().startswith(":DEGREES"):
                degrees = True
            continue
        tok = line.split()
        if len(tok) == 1 and tok[0].isdigit():
            cur = {}
            frames.append(cur)
            frame_lines.append(k)
            continue
        if cur is None:
            raise MotionFileError(path, k, f"values before the first frame number: {line[:40]!r}")
        name = tok[0]
        if name == "root":
            want = len(asf["root_order"])
        elif name in bones:
            want = len(bones[name].dof)
        else:
            raise MotionFileError(path, k, f"unknown bone {name!r} (not in {asf['path']})")
        if len(tok) - 1 != want:
            raise MotionFileError(path, k, f"bone {name!r} needs {want} values, got {len(tok) - 1}")
        cur[name] = np.array([_float(path, k, v) for v in tok[1:]])
    if not frames:
        raise MotionFileError(path, None, "no frames")
    moving = [n for n in names[1:] if bones[n].dof]
    for f, (frame, line_no) in enumerate(zip(frames, frame_lines)):
        missing = [n for n in ["root"] + moving if n not in frame]
        if missing:
            raise MotionFileError(path, line_no, f"frame {f + 1} lacks {', '.join(missing[:3])}"
                                  + (" (truncated?)" if f == len(frames) - 1 else ""))
    t = len(frames)
    rotations = np.broadcast_to(np.eye(3), (t, len(names), 3, 3)).copy()
    translations = np.broadcast_to(offsets, (t, len(names), 3)).copy()
    # root: order like TX TY TZ RX RY RZ; axis frame from the root axis order (no angles)
    root_vals = np.stack([fr["root"] for fr in frames])
    ro = asf["root_order"]
    tcols = [ro.index(a) for a in ("TX", "TY", "TZ")]
    translations[:, 0] = root_vals[:, tcols] * unit_m
    rot_axes = "".join(a[1] for a in ro if a.startswith("R"))
    rcols = [i for i, a in enumerate(ro) if a.startswith("R")]
    rotations[:, 0] = euler_matrix(rot_axes, root_vals[:, rcols], degrees=degrees, intrinsic=False)
    for name in moving:
        b = bones[name]
        j = index[name]
        c = euler_matrix(b.axis_order, b.axis, degrees=asf["degrees"], intrinsic=False)
        vals = np.stack([fr[name] for fr in frames])
        axes = "".join(d[1] for d in b.dof if d.startswith("r"))
        cols = [i for i, d in enumerate(b.dof) if d.startswith("r")]
        if axes:
            e = euler_matrix(axes, vals[:, cols], degrees=degrees, intrinsic=False)
            rotations[:, j] = c @ e @ c.T
    frame_time = 1.0 / _frame_rate_from_name(path)
    return Motion(str(path), "amc", names, np.asarray(parents), offsets, end_sites, rotations, translations,
                  frame_time, {"units_to_m": unit_m, "asf": asf["path"]})


def _frame_rate_from_name(path: Path) -> float:
    """AMC files carry no frame rate: a trailing ``_<fps>`` in the name (HDM05's ``..._120``) gives
    it; otherwise the Acclaim default of 120."""
    m = re.search(r"_(\d{2,3})$", path.stem)
    return float(m.group(1)) if m else 120.0
