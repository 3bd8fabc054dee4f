"""Shared fixtures of the core test suites: the real body model and samplers, built once per module."""
from __future__ import annotations

import functools

import torch

from smplr_core.body import load_body_model
from smplr_core.data import mocap
from smplr_core.data.generator import SampleGenerator


@functools.lru_cache(maxsize=1)
def body():
    torch.set_num_threads(1)
    return load_body_model()


@functools.lru_cache(maxsize=1)
def train_generator() -> SampleGenerator:
    return SampleGenerator(body(), mocap.TRAIN_CLIPS)


@functools.lru_cache(maxsize=1)
def heldout_generator() -> SampleGenerator:
    return SampleGenerator(body(), mocap.HELD_OUT_CLIPS, point_body=train_generator().point_body)
