"""smplr_ros: the ROS 2 side of smplr (nodes, launch runner, message conversion).

The package's generated messages (``smplr_ros.msg``) are installed by the CMake build into the
environment's site-packages. When this source tree is imported directly (tests, development), the
installed copy is added to the package path so that ``smplr_ros.msg`` resolves there.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
