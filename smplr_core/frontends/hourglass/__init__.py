"""The paper's image network: a volumetric stacked hourglass predicting root-relative 3D joints and
the 18 body-surface landmarks from a root-centred crop (Madadi et al. 2020, Sec. 3.1)."""
from smplr_core.frontends.hourglass.network import CONFIGS, HourglassConfig, VolumetricHourglass

__all__ = ["CONFIGS", "HourglassConfig", "VolumetricHourglass"]
