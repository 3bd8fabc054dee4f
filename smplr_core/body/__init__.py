"""Body model: SMPL-layout layer (free CC0 body by default, licensed SMPL files on request),
the paper's 18 surface landmarks and the 33 BlazePose keypoints on the body."""
from smplr_core.body.files import BodyModelError
from smplr_core.body.joint_names import SMPL_JOINT_NAMES, SMPL_PARENTS
from smplr_core.body.keypoints import BLAZEPOSE_NAMES
from smplr_core.body.landmarks import LANDMARK_NAMES
from smplr_core.body.model import BodyModel, BodyOutput, load_body_model

__all__ = [
    "BLAZEPOSE_NAMES", "LANDMARK_NAMES", "SMPL_JOINT_NAMES", "SMPL_PARENTS",
    "BodyModel", "BodyModelError", "BodyOutput", "load_body_model",
]
