"""Motion capture files: the BVH and ASF/AMC readers, retargeting any skeleton to the body, the
motion library. Every file here is written by the test itself (malformed ones included); the last
test runs over a real mocap folder only when SMPLR_MOCAP_DIR is set."""
import logging
import math
import os

import numpy as np
import pytest
import torch

from smplr_core.body.joint_names import SMPL_PARENTS
from smplr_core.data import library, motion_files, retarget
from smplr_core.data.motion_files import MotionFileError
from tests import core_helpers as H

PARENTS = np.array(SMPL_PARENTS)

# ---------------------------------------------------------------------------- small file writers
# A Blender-style rig (the ReActIdle names), metres, y up, facing +z, arms horizontal at rest.
# (name, parent, offset, channels)
BLENDER_RIG = [
    ("pelvis", None, (0.0, 0.9, 0.0), "Xposition Yposition Zposition Xrotation Yrotation Zrotation"),
    ("spine", "pelvis", (0.0, 0.0, 0.0), "Xrotation Yrotation Zrotation"),
    ("spine.001", "spine", (0.0, 0.24, 0.01), "Xrotation Yrotation Zrotation"),
    ("neck", "spine.001", (0.0, 0.24, -0.03), "Xrotation Yrotation Zrotation"),
    ("face", "neck", (0.0, 0.18, 0.0), "Xrotation Yrotation Zrotation"),
    ("shoulder.L", "spine.001", (0.0, 0.24, -0.03), "Yrotation Xrotation Zrotation"),
    ("upper_arm.L", "shoulder.L", (0.15, 0.0, 0.0), "Xrotation Yrotation Zrotation"),
    ("forearm.L", "upper_arm.L", (0.25, 0.0, 0.0), "Zrotation Xrotation Yrotation"),
    ("shoulder.R", "spine.001", (0.0, 0.24, -0.03), "Yrotation Xrotation Zrotation"),
    ("upper_arm.R", "shoulder.R", (-0.15, 0.0, 0.0), "Xrotation Yrotation Zrotation"),
    ("forearm.R", "upper_arm.R", (-0.25, 0.0, 0.0), "Zrotation Xrotation Yrotation"),
    ("thigh.L", "pelvis", (0.09, 0.0, 0.0), "Xrotation Yrotation Zrotation"),
    ("shin.L", "thigh.L", (0.01, -0.42, 0.0), "Xrotation Yrotation Zrotation"),
    ("foot.L", "shin.L", (0.0, -0.41, 0.0), "Xrotation Yrotation Zrotation"),
    ("thigh.R", "pelvis", (-0.09, 0.0, 0.0), "Xrotation Yrotation Zrotation"),
    ("shin.R", "thigh.R", (-0.01, -0.42, 0.0), "Xrotation Yrotation Zrotation"),
    ("foot.R", "shin.R", (0.0, -0.41, 0.0), "Xrotation Yrotation Zrotation"),
]
END_SITES = {"face": (0.0, 0.05, 0.02), "forearm.L": (0.24, 0.0, 0.0), "forearm.R": (-0.24, 0.0, 0.0),
             "foot.L": (0.0, -0.05, 0.14), "foot.R": (0.0, -0.05, 0.14)}


def bvh_text(rig, frames: np.ndarray, frame_time=1 / 30, scale=1.0, frame_count=None) -> str:
    """A BVH file of ``rig`` (offsets × scale) with the given frame rows."""
    children = {}
    for name, parent, _, _ in rig:
        children.setdefault(parent, []).append(name)
    info = {name: (off, ch) for name, _, off, ch in rig}
    lines = ["HIERARCHY"]

    def emit(name, depth):
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {name}")
        lines.append(pad + "{")
        off, ch = info[name]
        lines.append(f"{pad}  OFFSET {' '.join(f'{v * scale:.6f}' for v in off)}")
        lines.append(f"{pad}  CHANNELS {len(ch.split())} {ch}")
        for kid in children.get(name, []):
            emit(kid, depth + 1)
        if name in END_SITES:
            lines.extend([f"{pad}  End Site", pad + "  {",
                          f"{pad}    OFFSET {' '.join(f'{v * scale:.6f}' for v in END_SITES[name])}", pad + "  }"])
        lines.append(pad + "}")

    emit(children[None][0], 0)
    lines += ["MOTION", f"Frames: {len(frames) if frame_count is None else frame_count}",
              f"Frame Time: {frame_time:.6f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in frames]
    return "\n".join(lines) + "\n"


def blender_frames(n: int, seed: int = 0, knee_deg: float = 0.0, elbow_deg: float = 0.0) -> np.ndarray:
    """Random frames for BLENDER_RIG (degrees, ±25° everywhere), the knees and elbows bent by the
    given angles (shin about +x: backwards; left forearm about -y, right about +y: forwards)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        row = []
        for name, parent, _, ch in BLENDER_RIG:
            for c in ch.split():
                if c.endswith("position"):
                    row.append({"X": rng.uniform(-1, 1), "Y": 0.9, "Z": rng.uniform(-1, 1)}[c[0]])
                    continue
                v = rng.uniform(-25, 25) if name not in ("pelvis",) else rng.uniform(-10, 10)
                if name.startswith("shin") and c == "Xrotation":
                    v = knee_deg + rng.uniform(-5, 5)
                elif name.startswith("shin") or name.startswith("forearm"):
                    v = rng.uniform(-5, 5)
                if name == "forearm.L" and c == "Yrotation":
                    v = -elbow_deg
                if name == "forearm.R" and c == "Yrotation":
                    v = elbow_deg
                row.append(v)
        rows.append(row)
    return np.array(rows)


# ASF skeleton: (bone, parent, direction, length (ASF units), axis, dof)
ASF_BONES = [
    ("lhipjoint", "root", (1, -1, 0.3), 1.0, (0, 0, 0), ""),
    ("lfemur", "lhipjoint", (0.34, -0.94, 0), 7.0, (0, 0, 20), "rx ry rz"),
    ("ltibia", "lfemur", (0.34, -0.94, 0), 7.0, (0, 0, 20), "rx"),
    ("lfoot", "ltibia", (0.1, -0.3, 0.9), 2.0, (-90, 0, 20), "rx rz"),
    ("ltoes", "lfoot", (0, 0, 1), 1.0, (-90, 0, 20), "rx"),
    ("rhipjoint", "root", (-1, -1, 0.3), 1.0, (0, 0, 0), ""),
    ("rfemur", "rhipjoint", (-0.34, -0.94, 0), 7.0, (0, 0, -20), "rx ry rz"),
    ("rtibia", "rfemur", (-0.34, -0.94, 0), 7.0, (0, 0, -20), "rx"),
    ("rfoot", "rtibia", (-0.1, -0.3, 0.9), 2.0, (-90, 0, -20), "rx rz"),
    ("rtoes", "rfoot", (0, 0, 1), 1.0, (-90, 0, -20), "rx"),
    ("lowerback", "root", (0, 1, 0), 2.0, (0, 0, 0), "rx ry rz"),
    ("upperback", "lowerback", (0, 1, 0), 2.0, (0, 0, 0), "rx ry rz"),
    ("thorax", "upperback", (0, 1, 0), 2.0, (0, 0, 0), "rx ry rz"),
    ("lowerneck", "thorax", (0, 1, 0), 1.5, (0, 0, 0), "rx ry rz"),
    ("upperneck", "lowerneck", (0, 1, 0), 1.5, (0, 0, 0), "rx ry rz"),
    ("head", "upperneck", (0, 1, 0), 1.5, (0, 0, 0), "rx ry rz"),
    ("lclavicle", "thorax", (1, 0.2, 0), 3.0, (0, 0, 0), "ry rz"),
    ("lhumerus", "lclavicle", (1, 0, 0), 5.0, (0, 0, 180), "rx ry rz"),
    ("lradius", "lhumerus", (1, 0, 0), 4.0, (0, 0, 180), "rx"),
    ("lwrist", "lradius", (1, 0, 0), 1.0, (0, 0, 180), "ry"),
    ("lhand", "lwrist", (1, 0, 0), 1.0, (0, 0, 180), "rx rz"),
    ("lfingers", "lhand", (1, 0, 0), 1.0, (0, 0, 180), "rx"),
    ("rclavicle", "thorax", (-1, 0.2, 0), 3.0, (0, 0, 0), "ry rz"),
    ("rhumerus", "rclavicle", (-1, 0, 0), 5.0, (0, 0, 0), "rx ry rz"),
    ("rradius", "rhumerus", (-1, 0, 0), 4.0, (0, 0, 0), "rx"),
    ("rwrist", "rradius", (-1, 0, 0), 1.0, (0, 0, 0), "ry"),
    ("rhand", "rwrist", (-1, 0, 0), 1.0, (0, 0, 0), "rx rz"),
    ("rfingers", "rhand", (-1, 0, 0), 1.0, (0, 0, 0), "rx"),
]


def asf_text(bones=ASF_BONES) -> str:
    lines = [":version 1.10", ":name test", ":units", "  mass 1.0", "  length 0.45", "  angle deg",
             ":root", "   order TX TY TZ RX RY RZ", "   axis XYZ", "   position 0 0 0", "   orientation 0 0 0",
             ":bonedata"]
    for i, (name, _, d, length, axis, dof) in enumerate(bones, start=1):
        d = np.asarray(d, float) / np.linalg.norm(d)
        lines += ["  begin", f"     id {i}", f"     name {name}", f"     direction {d[0]:.6f} {d[1]:.6f} {d[2]:.6f}",
                  f"     length {length}", f"     axis {axis[0]} {axis[1]} {axis[2]}  XYZ"]
        if dof:
            lines.append(f"    dof {dof}")
            lines.append("    limits " + "\n           ".join("(-180.0 180.0)" for _ in dof.split()))
        lines.append("  end")
    lines.append(":hierarchy")
    lines.append("  begin")
    kids = {}
    for name, parent, *_ in bones:
        kids.setdefault(parent, []).append(name)
    for parent, names in kids.items():
        lines.append(f"    {parent} {' '.join(names)}")
    lines.append("  end")
    return "\n".join(lines) + "\n"


def amc_text(n: int, seed: int = 0, bones=ASF_BONES, knee_deg: float = 0.0) -> str:
    rng = np.random.default_rng(seed)
    lines = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", ":DEGREES"]
    for f in range(1, n + 1):
        lines.append(str(f))
        lines.append("root " + " ".join(f"{v:.4f}" for v in [rng.uniform(-5, 5), 38.0, rng.uniform(-5, 5)]
                                        + list(rng.uniform(-10, 10, 3))))
        for name, _, _, _, _, dof in bones:
            if not dof:
                continue
            vals = rng.uniform(-25, 25, len(dof.split()))
            if name.endswith("tibia"):
                vals[:] = knee_deg + rng.uniform(-5, 5)
            lines.append(name + " " + " ".join(f"{v:.4f}" for v in vals))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def rest():
    return H.body().template_joints.double().numpy()


# --------------------------------------------------------------------------------- readers
def test_bvh_euler_order_follows_the_channels(tmp_path):
    """Zrotation Xrotation Yrotation = Rz Rx Ry (first named axis outermost), offsets in the parent frame."""
    rig = [("a", None, (0, 0, 0), "Xposition Yposition Zposition Zrotation Xrotation Yrotation"),
           ("b", "a", (0, 1, 0), "Zrotation Xrotation Yrotation"), ("c", "b", (0, 1, 0), "Zrotation Xrotation Yrotation")]
    frames = np.array([[1, 2, 3, 90, 90, 0, 0, 0, 0, 0, 0, 0]], float)
    path = tmp_path / "order.bvh"
    path.write_text(bvh_text(rig, frames))
    m = motion_files.read_bvh(path, units_to_m=1.0)
    _, pos = m.forward_kinematics()
    np.testing.assert_allclose(pos[0, 0], [1, 2, 3], atol=1e-9)
    # Rz(90) Rx(90) takes (0, 1, 0) to (0, 0, 1); the other order would give (-1, 0, 0)
    np.testing.assert_allclose(pos[0, 1] - pos[0, 0], [0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(pos[0, 2] - pos[0, 1], [0, 0, 1], atol=1e-9)


def test_bvh_units_and_blender_rig(tmp_path, rest):
    """Centimetre files are read in metres; the frame time and the root trajectory come through."""
    frames = blender_frames(5, seed=1)
    for scale, name in ((1.0, "m.bvh"), (100.0, "cm.bvh")):
        f = frames.copy()
        f[:, :3] *= scale
        (tmp_path / name).write_text(bvh_text(BLENDER_RIG, f, frame_time=1 / 12, scale=scale))
    a, b = motion_files.read_bvh(tmp_path / "m.bvh"), motion_files.read_bvh(tmp_path / "cm.bvh")
    assert a.meta["units_to_m"] == 1.0 and b.meta["units_to_m"] == 0.01
    np.testing.assert_allclose(a.forward_kinematics()[1], b.forward_kinematics()[1], atol=1e-5)
    assert a.frame_time_s == pytest.approx(1 / 12, abs=1e-6)
    np.testing.assert_allclose(a.translations_m[:, 0, 1], 0.9 + 0.9, atol=1e-6)  # offset + channel


def test_asf_axis_and_dof_order(tmp_path):
    """ASF world rotation = parent · C · E · C⁻¹: a bone with axis (0, 0, 90) turning about its
    local x turns about world y; lengths are in 1/0.45 inches."""
    bones = [("a", "root", (1, 0, 0), 0.45, (0, 0, 90), "rx"), ("b", "a", (1, 0, 0), 0.45, (0, 0, 0), "rx")]
    (tmp_path / "s.asf").write_text(asf_text(bones))
    (tmp_path / "s_1.amc").write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\na 90\nb 0\n")
    m = motion_files.read_amc(tmp_path / "s_1.amc", tmp_path / "s.asf")
    _, pos = m.forward_kinematics()
    bone = pos[0, m.index("b")] - pos[0, m.index("a")]
    np.testing.assert_allclose(bone, [0, 0, -motion_files.INCH_M], atol=1e-9)  # (1,0,0) about +y by 90°


@pytest.mark.parametrize("case, expect", [
    ("truncated", "truncated"), ("columns", "values per frame"), ("number", "not a number"),
    ("channels", "CHANNELS says")])
def test_malformed_bvh_names_file_and_line(tmp_path, case, expect):
    text = bvh_text(BLENDER_RIG, blender_frames(4))
    lines = text.splitlines()
    if case == "truncated":
        lines = lines[:-2]
        want_line = None
    elif case == "columns":
        lines[-2] = lines[-2] + " 1.0"
        want_line = len(lines) - 1
    elif case == "number":
        lines[-1] = lines[-1].replace(lines[-1].split()[5], "abc", 1)
        want_line = len(lines)
    else:
        k = next(i for i, l in enumerate(lines) if "CHANNELS 3" in l)
        lines[k] = lines[k].replace("CHANNELS 3", "CHANNELS 4")
        want_line = k + 1
    path = tmp_path / f"bad_{case}.bvh"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MotionFileError) as err:
        motion_files.read_bvh(path)
    msg = str(err.value)
    assert str(path) in msg and expect in msg
    if want_line is not None:
        assert f"{path}:{want_line}:" in msg


@pytest.mark.parametrize("case, expect", [
    ("unknown", "unknown bone 'lwing'"), ("count", "needs 3 values"), ("number", "not a number"),
    ("truncated", "truncated")])
def test_malformed_amc_names_file_and_line(tmp_path, case, expect):
    (tmp_path / "t.asf").write_text(asf_text())
    lines = amc_text(3).splitlines()
    k = next(i for i, l in enumerate(lines) if l.startswith("lfemur"))
    if case == "unknown":
        lines[k] = lines[k].replace("lfemur", "lwing")
    elif case == "count":
        lines[k] = lines[k] + " 1.0"
    elif case == "number":
        lines[k] = "lfemur 1.0 x2 3.0"
    else:
        lines = lines[:-5]
    path = tmp_path / f"t_{case}.amc"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MotionFileError) as err:
        motion_files.read_amc(path, tmp_path / "t.asf")
    msg = str(err.value)
    assert str(path) in msg and expect in msg
    if case != "truncated":
        assert f"{path}:{k + 1}:" in msg


# ------------------------------------------------------------------------------ retargeting
def _check_retarget(motion, rest, rig_name):
    rig = retarget.detect_rig(motion)
    assert rig.name == rig_name
    np.testing.assert_allclose(retarget.axes_to_smpl(motion, rig), np.eye(3))
    clip = retarget.retarget_motion(motion, rest, PARENTS)
    assert np.isfinite(clip.rotations).all()
    errors = retarget.limb_direction_errors_deg(motion, clip, rest, PARENTS)
    assert len(errors) >= 10
    assert max(float(e.max()) for e in errors.values()) < 0.01
    return clip


def test_retarget_blender_rig_limbs_and_bends(tmp_path, rest):
    """Every mapped limb of the body points where the source's does on every frame, and a knee or
    elbow bent in the source bends the same way on the body (no flipped limb)."""
    frames = blender_frames(20, seed=2, knee_deg=60.0, elbow_deg=70.0)
    (tmp_path / "idle.bvh").write_text(bvh_text(BLENDER_RIG, frames))
    clip = _check_retarget(motion_files.read_bvh(tmp_path / "idle.bvh"), rest, "blender")
    flex = retarget.knee_elbow_flexion_deg(clip)
    for name, angle in flex.items():
        assert (angle > 30).all(), name
    np.testing.assert_allclose(clip.root_position_m[:, 1], 1.8, atol=1e-6)


def test_retarget_asf_limbs_and_bends(tmp_path, rest):
    (tmp_path / "HDM_xx.asf").write_text(asf_text())
    (tmp_path / "HDM_xx_walk_001_30.amc").write_text(amc_text(20, seed=3, knee_deg=50.0))
    m = motion_files.read_amc(tmp_path / "HDM_xx_walk_001_30.amc", tmp_path / "HDM_xx.asf")
    assert m.frame_time_s == pytest.approx(1 / 30)
    clip = _check_retarget(m, rest, "asf")
    flex = retarget.knee_elbow_flexion_deg(clip)
    assert (flex["left_knee"] > 20).all() and (flex["right_knee"] > 20).all()


def test_unknown_rig_is_refused(tmp_path):
    rig = [("Hips", None, (0, 1, 0), "Xposition Yposition Zposition Zrotation Xrotation Yrotation"),
           ("Spine", "Hips", (0, 0.3, 0), "Zrotation Xrotation Yrotation")]
    (tmp_path / "x.bvh").write_text(bvh_text(rig, np.zeros((2, 9))))
    with pytest.raises(ValueError, match="no joint map fits"):
        retarget.detect_rig(motion_files.read_bvh(tmp_path / "x.bvh"))


# ---------------------------------------------------------------------------------- library
def _write_sources(root):
    """Two sources: 'hdm05' (ASF/AMC, actors bd and mm) and 'idle' (BVH), plus a malformed file."""
    h = root / "hdm05"
    (h / "asf").mkdir(parents=True)
    (h / "amc").mkdir()
    for actor in ("bd", "mm"):
        (h / "asf" / f"HDM_{actor}.asf").write_text(asf_text())
        (h / "amc" / f"HDM_{actor}_kick_001_30.amc").write_text(amc_text(30, seed=len(actor)))
    (h / "amc" / "HDM_bd_broken_001_30.amc").write_text(amc_text(3).replace("lfemur", "lwing", 1))
    i = root / "idle"
    i.mkdir()
    (i / "take_1.bvh").write_text(bvh_text(BLENDER_RIG, blender_frames(60, seed=5), frame_time=1 / 12))


def test_library_scan_holdout_and_weights(tmp_path, rest, caplog):
    _write_sources(tmp_path)
    with caplog.at_level(logging.WARNING, logger="smplr_core.data.library"):
        lib = library.load_library(rest, PARENTS, [tmp_path], weights={"idle": 0.5})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "HDM_bd_broken_001_30.amc" in warnings[0].getMessage()
    assert "lwing" in warnings[0].getMessage() and len(warnings[0].getMessage().splitlines()) == 1
    assert len(lib.skipped) == 1
    # hdm05 actor mm is held out, bd trains; the user's own folder trains on everything
    train = dict(zip([c.name for c in lib.train.clips], lib.train.sources))
    held = dict(zip([c.name for c in lib.held_out.clips], lib.held_out.sources))
    assert train["HDM_bd_kick_001_30"] == "hdm05" and held["HDM_mm_kick_001_30"] == "hdm05"
    assert train["take_1"] == "idle" and "take_1" not in held
    assert lib.train.weights == {"deepmimic": 0.2, "hdm05": 0.3, "idle": 0.5}
    summary = lib.summary()
    assert summary["train_minutes"]["idle"] == pytest.approx(60 / 12 / 60, abs=0.005)
    # samples come from each source in proportion to its weight, whatever its length
    from smplr_core.data.sampling import MotionBank
    bank = MotionBank.from_clips(lib.train.clips, lib.train.sources, lib.train.weights)
    idx = bank.sample_indices(torch.Generator().manual_seed(0), 20000)
    starts = bank.source_ranges[:, 0].contiguous()
    share = torch.bincount(torch.bucketize(idx, starts, right=True) - 1, minlength=3).float() / 20000
    np.testing.assert_allclose(share.numpy(), [0.2, 0.3, 0.5], atol=0.02)
    assert bank.source_names == ("deepmimic", "hdm05", "idle")


def test_library_feeds_the_sampler(tmp_path):
    """A mocap folder's clips drive the training sampler: samples are finite and deterministic."""
    from smplr_core.data.generator import SampleGenerator
    from smplr_core.train.trainer import motion_library
    _write_sources(tmp_path)
    body = H.body()
    gen = SampleGenerator(body, motion_library(body, [tmp_path]).train)
    a = gen.sample(torch.Generator().manual_seed(4), 64)
    b = gen.sample(torch.Generator().manual_seed(4), 64)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.isfinite(a["points3d"]).all()


def test_environment_variable_registers_folders(tmp_path, monkeypatch):
    monkeypatch.setenv(library.MOCAP_DIR_ENV, os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert library.mocap_dirs() == [tmp_path / "a", tmp_path / "b"]
    assert library.mocap_dirs([tmp_path]) == [tmp_path]
    monkeypatch.delenv(library.MOCAP_DIR_ENV)
    assert library.mocap_dirs() == []


def test_actor_names():
    assert library.actor_of("hdm05", "HDM_tr_kick_003_30.amc") == "tr"
    assert library.actor_of("cmu", "007_12.bvh") == "7"
    assert library.actor_of("reactidle", "genuine_002_genuine.bvh") == "genuine_002"
    assert library.actor_of("mine", "my_take.bvh") == "my_take"


@pytest.mark.skipif(not os.environ.get(library.MOCAP_DIR_ENV), reason="needs SMPLR_MOCAP_DIR (a real mocap folder)")
def test_real_mocap_folder(rest):
    """Over a real folder: every file reads, limbs follow the source within 0.1° on every frame."""
    for d in library.mocap_dirs():
        for name, folder in library.source_folders(d):
            files = library._motion_files(folder)
            asfs = sorted(folder.rglob("*.asf"))
            cache = {}
            for path in files[:: max(1, len(files) // 8)]:
                m = library.read_motion(path, asfs, cache)
                clip = retarget.retarget_motion(m, rest, PARENTS)
                errors = retarget.limb_direction_errors_deg(m, clip, rest, PARENTS)
                assert max(float(e.max()) for e in errors.values()) < 0.1, path
                assert not math.isnan(float(clip.root_position_m.sum()))


def test_synthetic_renders_draw_poses_from_the_library(tmp_path, monkeypatch):
    """The hourglass's renderer poses about half of each batch from the library's clips."""
    from smplr_core.synth.renderer import random_pose_source
    from smplr_core.train.hourglass import motion_pose_source
    _write_sources(tmp_path)
    body = H.body()
    source = motion_pose_source(body, [tmp_path])
    rot, betas = source(np.random.default_rng(0), 64)
    base, _ = random_pose_source(np.random.default_rng(0), 64)
    assert rot.shape == (64, 24, 3, 3) and betas.shape == (64, 10)
    replaced = (rot - base).abs().amax(dim=(1, 2, 3)) > 1e-6
    assert 16 < int(replaced.sum()) < 48
    monkeypatch.delenv(library.MOCAP_DIR_ENV, raising=False)
    assert motion_pose_source(body, None) is None  # no folder: the renderer keeps its random poses
