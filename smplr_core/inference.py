"""Inference-time graphs: a module traced with ``torch.jit.trace`` and frozen.

Freezing folds the weights into the graph as constants (BatchNorm into the preceding layer, no
attribute look-ups) and runs the ops without Python in between; on the CPU
``optimize_for_inference`` also pre-packs the weights for oneDNN. For the small networks here the
Python overhead between ops is a large part of a batch-1 call, so this roughly halves it.

Tracing records one path through the code: the modules traced here have no data-dependent Python
control flow, and the graphs keep the batch dimension free (shapes are read from the inputs); the
tests compare traced and eager outputs at several batch sizes.
"""
from __future__ import annotations

import warnings

import torch


def freeze(module: torch.nn.Module, example: tuple, optimise_cpu: bool = True) -> torch.jit.ScriptModule:
    """``module`` (in eval mode) traced on ``example`` inputs and frozen; on a CPU device also
    optimised for inference when ``optimise_cpu``."""
    module = module.eval()
    on_cpu = all(t.device.type == "cpu" for t in example if isinstance(t, torch.Tensor))
    with torch.no_grad(), warnings.catch_warnings():
        # torch.jit.freeze is marked deprecated in favour of torch.compile, which needs a C++
        # toolchain at run time and minutes of compilation; freezing is still supported.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        frozen = torch.jit.freeze(torch.jit.trace(module, example, check_trace=False).eval())
        if optimise_cpu and on_cpu:
            frozen = torch.jit.optimize_for_inference(frozen)
    return frozen
