"""Networks: the DAE (2D -> 3D joints + landmarks) and SMPLR (3D -> SMPL shape and pose)."""
