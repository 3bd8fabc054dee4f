"""Synthetic training images for the image front-end: a numba z-buffer rasteriser, SURREAL-style
appearance (skin, clothing, photographs as backgrounds) and the paper's root-centred crops."""
from smplr_core.synth.raster import render_mesh, vertex_normals

__all__ = ["render_mesh", "vertex_normals"]
