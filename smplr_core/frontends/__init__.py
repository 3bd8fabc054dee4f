"""Image front-ends: image -> 2D keypoints of every person (BlazePose, ported to PyTorch)."""
from smplr_core.frontends.tracker import PersonKeypoints, PoseTracker, validate_image

__all__ = ["PersonKeypoints", "PoseTracker", "validate_image"]
