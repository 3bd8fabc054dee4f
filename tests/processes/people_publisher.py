"""A separate process that publishes smplr_ros/People messages with one known person.

Used by tests/test_messages_dds.py to check that the package's own messages cross a process
boundary over real DDS with the loopback profile.
"""
import sys

from smplr_ros import environment

environment.apply()

import rclpy  # noqa: E402  (the environment must be set before rclpy starts)
from geometry_msgs.msg import Point  # noqa: E402
from rclpy.executors import ExternalShutdownException  # noqa: E402
from smplr_ros.msg import People, Person  # noqa: E402


def make_message(count: int) -> People:
    msg = People()
    msg.header.frame_id = "camera_optical"
    msg.header.stamp.sec = count
    msg.image_width, msg.image_height = 640, 480
    person = Person(id=7, confidence=0.9, has_3d=True)
    person.joint_names = ["pelvis", "left_hip"]
    person.joints = [Point(x=0.1, y=0.2, z=3.0), Point(x=0.2, y=0.3, z=3.1)]
    person.betas[0] = 1.5
    person.body_pose[68] = -0.25
    person.translation.z = 3.0
    msg.people = [person]
    return msg


def main() -> None:
    rclpy.init()
    node = rclpy.create_node("people_publisher")
    pub = node.create_publisher(People, sys.argv[1] if len(sys.argv) > 1 else "people", 10)
    count = [0]

    def tick():
        count[0] += 1
        pub.publish(make_message(count[0]))

    node.create_timer(0.05, tick)
    print("publisher ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
