"""Launch the smplr graph: [video_source] -> reconstruct -> [recorder].

On a ROS 2 distro:
    ros2 launch smplr_ros reconstruct.launch.py image:=/camera/image_raw
    ros2 launch smplr_ros reconstruct.launch.py video:=walk.mp4 record:=out/demo
Without the ``launch`` package (PyPI wheels, DESIGN §3.1), the project's runner starts the same
graph from the data below:
    python -m smplr_ros.launch_graph launch/reconstruct.launch.py video:=walk.mp4 record:=out/demo

The graph is plain data (ARGUMENTS, NODES), read by both ``generate_launch_description`` and the
runner: one source of truth. Values may contain ``{argument}`` placeholders; ``{"python": "..."}``
is a Python expression evaluated after the placeholders are filled in; ``condition`` names an
argument that must be non-empty (and not false) for the node to start; ``required`` nodes end the
whole graph when they exit.
"""

# name: (default, description). "{share}" is this package's share (or source) folder.
ARGUMENTS = {
    "image": ("image", "Image topic the reconstruct node subscribes to"),
    "camera_info": ("camera_info", "CameraInfo topic (optional input of the reconstruct node)"),
    "video": ("", "Video file or image folder to publish as the camera ('' = no source node: "
                  "bring your own camera on image:=)"),
    "rate": ("0.0", "Source publishing rate in Hz (0 = the video's own rate)"),
    "width": ("0", "Resize source frames to this width (0 = native)"),
    "loop": ("false", "Loop the video instead of ending the graph after the last frame"),
    "record": ("", "Output folder of the recorder (video + contact sheet); '' = no recorder"),
    "params_file": ("{share}/config/params.yaml", "ROS 2 parameters file for all nodes"),
    "device": ("cpu", "Torch device of the reconstruct node: cpu or cuda"),
    "frontend": ("blazepose", "3D lift: blazepose (default, more accurate) or hourglass (the "
                              "paper's volumetric CNN on BlazePose's person boxes)"),
    "frontend_model": ("full", "BlazePose landmark network: lite, full or heavy"),
    "preset": ("fast", "Front-end preset: fast or accurate (heavy checks the left/right labels)"),
    "hourglass_model": ("real", "Hourglass weights for frontend:=hourglass: real (default), small or medium"),
}

NODES = [
    {
        "package": "smplr_ros", "executable": "video_source", "name": "video_source",
        "condition": "video", "required": True,
        "parameters": {"path": "{video}", "rate_hz": "{rate}", "width": "{width}",
                       "loop": "{loop}",
                       # Start publishing once the reconstruct node (and the recorder) listen.
                       "wait_for_subscribers": {"python": "2 if '{record}' else 1"}},
        "remappings": {"image": "{image}", "camera_info": "{camera_info}"},
    },
    {
        "package": "smplr_ros", "executable": "reconstruct", "name": "reconstruct",
        "condition": None, "required": True,
        "parameters": {"device": "{device}", "frontend": "{frontend}",
                       "frontend_model": "{frontend_model}", "hourglass_model": "{hourglass_model}",
                       "preset": "{preset}",
                       # Our own source publishes reliably: take its frames reliably too (large
                       # frames are often lost best effort, see docs/ros.md).
                       "image_reliable": {"python": "'{video}' != ''"}},
        "remappings": {"image": "{image}", "camera_info": "{camera_info}"},
    },
    {
        "package": "smplr_ros", "executable": "recorder", "name": "recorder",
        "condition": "record", "required": False,
        "parameters": {"output_dir": "{record}"},
        "remappings": {"image": "{image}", "camera_info": "{camera_info}"},
    },
]


def generate_launch_description():
    """The same graph through the standard launch / launch_ros API (ROS 2 distros)."""
    import re

    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
    from launch.conditions import IfCondition
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown
    from launch.substitutions import LaunchConfiguration, PythonExpression
    from launch_ros.actions import Node

    share = get_package_share_directory("smplr_ros")

    def subst(text):
        """'{a}/x' -> [LaunchConfiguration('a'), '/x'] (launch substitutions)."""
        text = text.replace("{share}", share)
        parts = []
        for piece in re.split(r"(\{[a-z_]+\})", text):
            if re.fullmatch(r"\{[a-z_]+\}", piece):
                parts.append(LaunchConfiguration(piece[1:-1]))
            elif piece:
                parts.append(piece)
        return parts

    def value(v):
        if isinstance(v, dict):
            return PythonExpression(subst(v["python"]))
        return subst(v) if isinstance(v, str) else v

    actions = [DeclareLaunchArgument(name, default_value=default.replace("{share}", share),
                                     description=text)
               for name, (default, text) in ARGUMENTS.items()]
    for spec in NODES:
        condition = None
        if spec["condition"]:
            condition = IfCondition(PythonExpression(
                ["'", LaunchConfiguration(spec["condition"]), "' not in ('', 'false', 'False')"]))
        node = Node(package=spec["package"], executable=spec["executable"], name=spec["name"],
                    output="screen", condition=condition,
                    parameters=[LaunchConfiguration("params_file"),
                                {k: value(v) for k, v in spec["parameters"].items()}],
                    remappings=[(k, value(v)) for k, v in spec["remappings"].items()])
        actions.append(node)
        if spec["required"]:
            actions.append(RegisterEventHandler(OnProcessExit(
                target_action=node, on_exit=[EmitEvent(event=Shutdown(reason=f"{spec['name']} exited"))])))
    return LaunchDescription(actions)
