"""ROS 2 node ``video_source``: a video file or image folder published as a camera.

Publishes ``image`` (sensor_msgs/Image, rgb8) and ``camera_info`` (sensor_msgs/CameraInfo, plumb
bob with zero distortion) with the same stamp (the wall-clock time of publishing) and ``frame_id``,
at the video's own rate or ``rate_hz``. Without ``loop`` it exits after the last frame (after
``linger_s``, so the graph can finish the last frame), which ends a launch graph that marks it
required. Images are published reliable, keep-last 5: compatible with best-effort subscribers
(the reconstruct node) and reliable ones (the recorder).
"""
from __future__ import annotations

import sys
import time

from smplr_ros import environment

NODE_NAME = "video_source"


def camera_info_msg(header, width: int, height: int, intrinsics):
    """sensor_msgs/CameraInfo for a distortion-free pinhole camera; intrinsics (4,) fx fy cx cy."""
    from sensor_msgs.msg import CameraInfo

    fx, fy, cx, cy = (float(v) for v in intrinsics)
    return CameraInfo(header=header, width=int(width), height=int(height),
                      distortion_model="plumb_bob", d=[0.0] * 5,
                      k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def run(node, params: dict, counter: dict) -> int:
    """Publish every frame at the chosen rate; returns the number of frames published (also kept
    in ``counter['sent']`` so that an interrupted run can report it)."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    from smplr_core.reconstruct import default_intrinsics, iter_frames, media_info
    from smplr_ros.image_conversion import rgb_to_image_msg

    info = media_info(params["path"])
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = node.create_publisher(Image, "image", qos)
    info_pub = node.create_publisher(CameraInfo, "camera_info", qos)
    log = node.get_logger()
    want = params["wait_for_subscribers"]
    if want > 0:
        deadline = time.monotonic() + params["wait_timeout_s"]
        while image_pub.get_subscription_count() < want and time.monotonic() < deadline:
            time.sleep(0.1)
        if image_pub.get_subscription_count() < want:
            log.warning(f"only {image_pub.get_subscription_count()} of {want} subscribers after "
                        f"{params['wait_timeout_s']} s; starting anyway")
        time.sleep(0.5)   # let the new subscribers' discovery complete on both sides
    rate = params["rate_hz"] if params["rate_hz"] > 0 else info.fps
    period = 1.0 / rate
    log.info(f"publishing {info.path} ({info.frame_count} frames, {info.width}x{info.height}"
             f"{', resized to width ' + str(params['width']) if params['width'] else ''}) at "
             f"{rate:.1f} Hz on {image_pub.topic_name}{', looping' if params['loop'] else ''}")
    sent = 0
    next_time = time.monotonic()
    intrinsics = None
    while True:
        for _, rgb in iter_frames(info.path, params["width"]):
            if params["max_frames"] and sent >= params["max_frames"]:
                return sent
            next_time += period
            delay = next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_time = time.monotonic()   # running late: don't burst to catch up
            if intrinsics is None:
                h, w = rgb.shape[:2]
                scale = w / info.width
                intrinsics = default_intrinsics(w, h, params["fx"] * scale, params["fy"] * scale,
                                                params["cx"] * scale, params["cy"] * scale)
            header = Header(stamp=node.get_clock().now().to_msg(), frame_id=node.get_parameter(
                "frame_id").value)
            image_pub.publish(rgb_to_image_msg(rgb, header))
            info_pub.publish(camera_info_msg(header, rgb.shape[1], rgb.shape[0], intrinsics))
            sent += 1
            counter["sent"] = sent
        if not node.get_parameter("loop").value:
            return sent


def main(argv: list[str] | None = None) -> int:
    environment.apply()
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from smplr_ros.params import VIDEO_SOURCE_PARAMS, ParameterError, declare

    rclpy.init(args=sys.argv if argv is None else argv)
    node = rclpy.create_node(NODE_NAME)
    counter = {"sent": 0}
    start = time.monotonic()
    executor = spinner = None
    try:
        try:
            params = declare(node, VIDEO_SOURCE_PARAMS)
            if not params["path"]:
                raise ParameterError("parameter 'path' is empty; set it to a video file or image "
                                     "folder: --ros-args -p path:=/path/to/video.mp4")
            from smplr_core.reconstruct import media_info
            media_info(params["path"])
        except (ParameterError, FileNotFoundError, ValueError) as exc:
            print(f"[{NODE_NAME}] error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
            return 2
        # Parameters (e.g. loop) can change while publishing: spin the executor on the side.
        import threading

        from rclpy.executors import SingleThreadedExecutor

        executor = SingleThreadedExecutor()
        executor.add_node(node)
        def spin() -> None:  # Ctrl-C shuts the context down under the spinning thread: not an error
            try:
                executor.spin()
            except ExternalShutdownException:
                pass

        spinner = threading.Thread(target=spin, daemon=True)
        spinner.start()
        sent = run(node, params, counter)
        elapsed = time.monotonic() - start
        print(f"[{NODE_NAME}] published {sent} frames in {elapsed:.1f} s; end of input",
              flush=True)
        time.sleep(params["linger_s"])
    except (KeyboardInterrupt, ExternalShutdownException):
        print(f"[{NODE_NAME}] stopped after {counter['sent']} frames", flush=True)
    except Exception as exc:  # publishing after shutdown (Ctrl-C in the middle of a frame)
        if rclpy.ok():
            raise
        del exc
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
            spinner.join(timeout=2.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
