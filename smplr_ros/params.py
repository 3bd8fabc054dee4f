"""Parameters of the smplr nodes as data: name, default, type, range or choices, description.

One table per node. The node declares its parameters from the table (with a
``ParameterDescriptor`` carrying the type, the description and the range or choices as its
``additional_constraints``), validates them at startup and on every ``set_parameters`` call with
:func:`check`, and the launch graph test compares the table with ``config/params.yaml``.
The range is not given to rclpy as an ``IntegerRange`` / ``FloatingPointRange``: rclpy checks
those before the node's own callback and rejects with its own wording, so the documented reason
("'max_people' must be in [1, 16], got 40") would never be seen.
This module imports no ROS so that it can be read anywhere.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smplr_core.errors import one_line
from smplr_core.frame import FRONTENDS, HOURGLASS_MODELS
from smplr_core.frontends.labelcheck import PRESETS


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    low: float | None = None          # inclusive range (int and float parameters)
    high: float | None = None
    choices: tuple = ()               # allowed values (string parameters)
    read_only: bool = False           # fixed after startup (changing it needs a restart)
    unit: str = ""

    @property
    def type_name(self) -> str:
        return type(self.default).__name__


def check(spec: ParamSpec, value: Any) -> str | None:
    """Why ``value`` is not acceptable for ``spec`` (one sentence), or None when it is."""
    expected = type(spec.default)
    value = coerced(spec, value)
    if type(value) is not expected:
        return (f"'{spec.name}' must be {_article(spec.type_name)} {spec.type_name}, got "
                f"{type(value).__name__} {value!r}")
    if expected is float and not math.isfinite(value):
        return f"'{spec.name}' must be finite, got {value!r}"
    if spec.choices and value not in spec.choices:
        return f"'{spec.name}' must be one of {', '.join(map(str, spec.choices))}, got {value!r}"
    if spec.low is not None and not spec.low <= value <= spec.high:
        return f"'{spec.name}' must be in {range_text(spec)}, got {value!r}"
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def range_text(spec: ParamSpec) -> str:
    """'[1, 16]', '[0, 1]': the range as the docs write it."""
    return f"[{spec.low:g}, {spec.high:g}]"


def coerced(spec: ParamSpec, value: Any) -> Any:
    """An integer given for a float parameter (``-p fx:=1000``) as a float; anything else as is."""
    if isinstance(spec.default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


# Fallback intrinsics: 0 means "derive from the image size" (smplr_core.reconstruct.default_intrinsics).
_INTRINSIC = dict(low=0.0, high=100000.0, unit="px")

RECONSTRUCT_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("device", "cpu", "Torch device for the front-end and SMPLR: cpu or cuda",
              choices=("cpu", "cuda"), read_only=True),
    ParamSpec("torch_threads", 1,
              "CPU threads torch uses for inference. 1 is fastest on 2 cores: the other core "
              "serves DDS, message building and other processes (bench/node.py); with 1, the "
              "front-end runs a batch of several crops as two halves on two threads",
              low=1, high=64, read_only=True),
    ParamSpec("frontend", "blazepose",
              "3D lift of each person: blazepose (its keypoints -> DAE -> SMPLR, more accurate) or "
              "hourglass (the paper's volumetric CNN on its box -> SMPLR)",
              choices=FRONTENDS, read_only=True),
    ParamSpec("hourglass_model", "real",
              "Weights for frontend hourglass: real (default; on BlazePose's real-image features), "
              "small or medium (the paper's stem, trained on renders only; see docs/hourglass.md)",
              choices=HOURGLASS_MODELS, read_only=True),
    ParamSpec("frontend_model", "full", "BlazePose landmark network: lite (fastest), full, heavy; "
              "it also finds the people for frontend hourglass",
              choices=("lite", "full", "heavy"), read_only=True),
    ParamSpec("preset", "fast",
              "fast: frontend_model on every person and frame; accurate: also BlazePose heavy on one "
              "tracked person every 4th frame, whose left/right labels are taken (mirrored bodies "
              "undone; frontend blazepose with frontend_model full or lite; docs/frontend.md)",
              choices=PRESETS, read_only=True),
    ParamSpec("max_people", 4, "Most people tracked and published per frame", low=1, high=16),
    ParamSpec("body_model_path", "", "Body model file; '' = the free CC0 model shipped in weights/body/, "
              "or a path to licensed official SMPL files", read_only=True),
    ParamSpec("weights_dir", "", "Folder of the DAE/SMPLR checkpoints; '' = the shipped weights/core "
              "(GPU-trained); <repo>/weights/core_cpu holds the CPU-trained set",
              read_only=True),
    ParamSpec("detection_score_threshold", 0.5,
              "People whose BlazePose pose score is below this are neither tracked nor published "
              "(low values keep tracks on people who have left)", low=0.0, high=1.0),
    ParamSpec("min_visibility", 0.5,
              "Keypoints less visible than this are hidden from the 3D lift (0.5: the DAE's "
              "training threshold)", low=0.0, high=1.0),
    ParamSpec("smoothing_min_cutoff_hz", 0.0,
              "One Euro filter on each track's 2D keypoints before the 3D lift: minimum cut-off "
              "frequency (0 = off; 1 removes most jitter of a still person, with some lag)",
              low=0.0, high=100.0, unit="Hz"),
    ParamSpec("smoothing_beta", 30.0,
              "How fast the filter's cut-off rises with keypoint speed (per person height per "
              "second); higher = less lag in fast moves, more jitter", low=0.0, high=1000.0),
    ParamSpec("lr_consistency", True,
              "Undo BlazePose's mirrored left/right labels (whole body, arms, legs) per track from "
              "its previous frames before the 3D lift (docs/frontend.md, Left/right consistency)"),
    ParamSpec("min_person_height_px", 40.0,
              "Ghost filter: people whose keypoint box's longer side is shorter than this are not "
              "lifted or published (0 = off)", low=0.0, high=100000.0, unit="px"),
    ParamSpec("max_distance_m", 20.0,
              "Ghost filter: people whose lifted pelvis is farther from the camera than this are "
              "not published (0 = off; distances scale with the focal length, so set fx or send "
              "camera_info)", low=0.0, high=1000.0, unit="m"),
    ParamSpec("max_turn_deg_per_s", 1500.0,
              "A person whose lifted body turned faster than this since their last published frame "
              "(at most 0.2 s before) is not published for the frame: one squeezed or mirrored 2D "
              "frame's lift (0 = off)", low=0.0, high=100000.0, unit="deg/s"),
    ParamSpec("publish_mesh", True, "Publish the body mesh (markers TRIANGLE_LIST and /human_pose/mesh)"),
    ParamSpec("marker_mesh_decimation", 4,
              "Keep every n-th mesh triangle in the RViz marker (1 = full mesh)", low=1, high=64),
    ParamSpec("fx", 0.0, "Fallback focal length x when no camera_info arrives (0 = from image size)",
              **_INTRINSIC),
    ParamSpec("fy", 0.0, "Fallback focal length y (0 = same as fx)", **_INTRINSIC),
    ParamSpec("cx", 0.0, "Fallback principal point x (0 = image centre)", **_INTRINSIC),
    ParamSpec("cy", 0.0, "Fallback principal point y (0 = image centre)", **_INTRINSIC),
    ParamSpec("frame_id", "", "Frame id of the outputs; '' = copy the image's frame id"),
    ParamSpec("image_reliable", False,
              "Subscribe to 'image' reliable (keep last 1) instead of best effort (sensor data); "
              "needs a reliable publisher. The launch file sets it with its own video source: "
              "frames above the DDS shared-memory segment (512 KiB) are often lost best effort",
              read_only=True),
    ParamSpec("diagnostics_period_s", 1.0, "Period of /diagnostics", low=0.1, high=60.0, unit="s",
              read_only=True),
    ParamSpec("min_rate_hz", 5.0,
              "/diagnostics turns WARN when fewer frames than this are processed per second while "
              "images arrive (skipping frames of a faster camera is normal and stays OK); 0 = never",
              low=0.0, high=1000.0, unit="Hz"),
)

VIDEO_SOURCE_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("path", "", "Video file or folder of images (sorted by name) to publish",
              read_only=True),
    ParamSpec("rate_hz", 0.0, "Publishing rate; 0 = the video's own frame rate (10 Hz for folders)",
              low=0.0, high=1000.0, unit="Hz", read_only=True),
    ParamSpec("loop", False, "Start again after the last frame instead of exiting"),
    ParamSpec("frame_id", "camera_optical_frame", "Frame id of the images and camera info"),
    ParamSpec("width", 0, "Resize to this width keeping the aspect ratio (0 = native size)",
              low=0, high=8192, unit="px", read_only=True),
    ParamSpec("fx", 0.0, "Focal length x in the published camera info (0 = from image size)",
              **_INTRINSIC, read_only=True),
    ParamSpec("fy", 0.0, "Focal length y (0 = same as fx)", **_INTRINSIC, read_only=True),
    ParamSpec("cx", 0.0, "Principal point x (0 = image centre)", **_INTRINSIC, read_only=True),
    ParamSpec("cy", 0.0, "Principal point y (0 = image centre)", **_INTRINSIC, read_only=True),
    ParamSpec("wait_for_subscribers", 0,
              "Before the first frame, wait until this many subscribers listen on 'image'",
              low=0, high=64, read_only=True),
    ParamSpec("wait_timeout_s", 120.0, "Longest wait for those subscribers", low=0.0, high=3600.0,
              unit="s", read_only=True),
    ParamSpec("max_frames", 0, "Stop after this many frames (0 = all)", low=0, high=10**9,
              read_only=True),
    ParamSpec("linger_s", 2.0, "Seconds to stay up after the last frame so that it is processed",
              low=0.0, high=60.0, unit="s", read_only=True),
)

RECORDER_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("output_dir", "out/demo", "Folder for the MP4 and the contact sheet", read_only=True),
    ParamSpec("video_name", "demo.mp4", "File name of the rendered video", read_only=True),
    ParamSpec("body_model_path", "", "Body model used to draw the mesh; '' = the shipped free model "
              "(must match the reconstruct node's)", read_only=True),
    ParamSpec("fps", 15.0, "Frame rate of the written video; each drawn frame is repeated to "
              "cover the time to the previous one, so the video plays at real speed",
              low=1.0, high=240.0, unit="Hz", read_only=True),
    ParamSpec("side_view", True, "Add the 3D side view next to each frame", read_only=True),
    ParamSpec("contact_sheet_frames", 12, "Frames on the contact sheet", low=1, high=64,
              read_only=True),
    ParamSpec("max_frames", 5000, "Most frames kept for the video", low=1, high=100000,
              read_only=True),
)

NODE_PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "reconstruct": RECONSTRUCT_PARAMS,
    "video_source": VIDEO_SOURCE_PARAMS,
    "recorder": RECORDER_PARAMS,
}


def spec_table(specs: tuple[ParamSpec, ...]) -> dict[str, ParamSpec]:
    return {s.name: s for s in specs}


class ParameterError(ValueError):
    """A parameter value the node cannot start with; the message names it and how to fix it."""


def _descriptor(spec: ParamSpec):
    from rcl_interfaces.msg import ParameterDescriptor, ParameterType

    kind = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
            float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    text = spec.description
    if spec.choices:
        text += f" (one of: {', '.join(spec.choices)})"
    if spec.unit:
        text += f" [{spec.unit}]"
    # Types and ranges are enforced by :func:`check` rather than rclpy (dynamic_typing, no range
    # fields) so that a bad value is rejected with a reason that names the parameter and what it
    # accepts; float parameters also accept integers (``-p fx:=500``), stored as floats.
    descriptor = ParameterDescriptor(name=spec.name, type=kind[type(spec.default)],
                                     description=text, read_only=spec.read_only,
                                     dynamic_typing=True)
    if spec.choices:
        descriptor.additional_constraints = "one of: " + ", ".join(spec.choices)
    elif spec.low is not None:
        descriptor.additional_constraints = f"in {range_text(spec)}" + (
            f" {spec.unit}" if spec.unit else "")
    return descriptor


def declare(node, specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
    """Declare ``specs`` on an rclpy node; return the values or raise ParameterError.

    Values come from the defaults, ``--params-file`` and ``-p name:=value``; a value of the wrong
    type or out of range raises ParameterError naming the parameter and the accepted values.
    A parameter-change callback then rejects bad runtime values with the same reason.
    """
    from rcl_interfaces.msg import SetParametersResult
    from rclpy.parameter import Parameter

    values = {}
    for spec in specs:
        hint = (f"fix it in the params file (config/params.yaml) or with "
                f"--ros-args -p {spec.name}:=<value>")
        # Check a value given on the command line / params file first: the reason then reads
        # the same as at runtime (rclpy's own range errors are longer and repeat themselves).
        overrides = getattr(node, "_parameter_overrides", {})
        override = overrides.get(spec.name)
        if override is not None:
            reason = check(spec, override.value)
            if reason:
                raise ParameterError(f"invalid parameter {reason}; {hint}")
            if coerced(spec, override.value) is not override.value:   # keep the declared type
                overrides[spec.name] = Parameter(spec.name, value=coerced(spec, override.value))
        try:
            param = node.declare_parameter(spec.name, spec.default, _descriptor(spec))
        except Exception as exc:  # rclpy raises several exception types for a bad override
            allowed = (", ".join(spec.choices) if spec.choices else
                       f"{_article(spec.type_name)} {spec.type_name} in {range_text(spec)}"
                       if spec.low is not None else f"{_article(spec.type_name)} {spec.type_name}")
            raise ParameterError(f"invalid parameter '{spec.name}': {one_line(exc)}; expected "
                                 f"{allowed}; {hint}") from None
        reason = check(spec, param.value)
        if reason:
            raise ParameterError(f"invalid parameter {reason}; {hint}")
        values[spec.name] = float(param.value) if isinstance(spec.default, float) else param.value

    table = spec_table(specs)

    def keep_types(parameters):
        return [Parameter(p.name, value=coerced(table[p.name], p.value))
                if p.name in table and coerced(table[p.name], p.value) is not p.value else p
                for p in parameters]

    def on_set(parameters):
        for p in parameters:
            spec = table.get(p.name)
            if spec is None:
                continue
            reason = check(spec, p.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    node.add_pre_set_parameters_callback(keep_types)
    node.add_on_set_parameters_callback(on_set)
    return values
