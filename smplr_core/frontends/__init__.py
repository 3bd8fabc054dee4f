"""Image front-ends: image -> 2D keypoints of every person (BlazePose, ported to PyTorch)."""
from smplr_core.frontends.tracker import KEYPOINT_NAMES, PersonKeypoints, PoseTracker, validate_image

__all__ = ["KEYPOINT_NAMES", "PersonKeypoints", "PoseTracker", "validate_image"]
