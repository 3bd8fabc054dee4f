"""Test session setup shared by every suite.

DDS safety: before any test imports rclpy, the environment is set through the project's one
place for it (smplr_ros.environment): loopback-only Fast DDS profile, localhost discovery, logs in
.work/, and a domain id of the test run's own so tests never meet another ROS graph.
Child processes started by tests inherit these variables.
"""
import os

from smplr_ros import environment

TEST_DOMAIN_ID = int(os.environ.get("SMPLR_TEST_DOMAIN_ID", str(100 + os.getpid() % 100)))
environment.apply(domain_id=TEST_DOMAIN_ID)
