"""Inference-time graphs: a module traced with ``torch.jit.trace`` and frozen.

Freezing folds the weights into the graph as constants (BatchNorm into the preceding layer, no
attribute look-ups) and runs the ops without Python in between; on the CPU
``optimize_for_inference`` also pre-packs the weights for oneDNN. For the small networks here the
Python overhead between ops is a large part of a batch-1 call, so this roughly halves it.

Tracing records one path through the code: the modules traced here have no data-dependent Python
control flow, and the graphs keep the batch dimension free (shapes are read from the inputs); the
tests compare traced and eager outputs at several batch sizes.

Convolutional networks on the CPU (the BlazePose networks) run through the oneDNN Graph fuser of
TorchScript instead (``FusedGraph`` and ``fusion``): convolutions with their activations and
residual additions become fused oneDNN partitions compiled once per input shape, which removes
most of the per-op cost (landmark network, batch 1, one thread: 13.3 -> 9.2 ms). The fuser is a
process-wide switch that TorchScript reads when it specialises a graph for a new input shape, and
not every graph can go through it (the core pipeline's graph fails there), so calls that want it
and calls that must not have it never overlap: ``fusion(True)`` / ``fusion(False)`` below.
"""
from __future__ import annotations

import contextlib
import threading
import warnings

import torch


def _on_cpu(example: tuple) -> bool:
    """Whether every tensor of ``example`` is on the CPU."""
    return all(t.device.type == "cpu" for t in example if isinstance(t, torch.Tensor))


def freeze(module: torch.nn.Module, example: tuple, optimise_cpu: bool = True) -> torch.jit.ScriptModule:
    """``module`` (in eval mode) traced on ``example`` inputs and frozen; on a CPU device also
    optimised for inference when ``optimise_cpu``."""
    module = module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # torch.jit.freeze is marked deprecated in favour of torch.compile, which needs a C++
        # toolchain at run time and minutes of compilation; freezing is still supported.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        frozen = torch.jit.freeze(torch.jit.trace(module, example, check_trace=False).eval())
        if optimise_cpu and _on_cpu(example):
            frozen = torch.jit.optimize_for_inference(frozen)
    return frozen


def onednn_fusion_available() -> bool:
    """Whether this torch build has TorchScript's oneDNN Graph fuser."""
    return hasattr(torch.jit, "enable_onednn_fusion") and torch.backends.mkldnn.is_available()


class _FusionSwitch:
    """The process-wide oneDNN Graph fuser switch, shared by concurrent callers of one setting.

    Any number of threads may run with the same setting at once (e.g. the two halves of a batch);
    a caller that needs the other setting waits until they are done."""

    def __init__(self):
        self._cond = threading.Condition()
        self._mode: bool | None = None
        self._users = 0

    @contextlib.contextmanager
    def __call__(self, enabled: bool):
        with self._cond:
            while self._users and self._mode != enabled:
                self._cond.wait()
            if not self._users:
                self._mode = enabled
                if onednn_fusion_available():
                    torch.jit.enable_onednn_fusion(enabled)
            self._users += 1
        try:
            yield
        finally:
            with self._cond:
                self._users -= 1
                if not self._users:
                    if enabled and onednn_fusion_available():
                        torch.jit.enable_onednn_fusion(False)
                    self._mode = None
                    self._cond.notify_all()


fusion = _FusionSwitch()
"""``with fusion(True):`` run graphs made for the fuser (``FusedGraph`` does it itself);
``with fusion(False):`` run other TorchScript graphs (they must not be specialised with the fuser on)."""


# The fuser compiles a graph's partitions during its first calls with a new input shape, and two
# threads doing that at once on the same graph corrupt memory (seen here: a crash on the next
# call). So the first calls of each shape run one at a time (one lock for all fused graphs);
# compiled graphs run concurrently fine.
COMPILE_CALLS = 3  # profiling run, optimising run, and one more for safety
_compile_lock = threading.Lock()


class FusedGraph:
    """``module`` traced and frozen for the oneDNN Graph fuser, called like the module.

    Without ``optimize_for_inference``: the fuser takes the plain frozen graph (convolutions,
    activations, additions) and makes its own fused partitions at the first calls of each input
    shape (tens of milliseconds per new shape). Every call runs inside ``fusion(True)``.
    Partitions compiled for one torch thread count run slowly with another (landmark network,
    one thread: 9 ms when compiled for one thread, 13 ms when compiled for two), so the graph is
    traced once per thread count it is called with."""

    def __init__(self, module: torch.nn.Module, example: tuple):
        self._module, self._example = module, example
        self._graphs: dict[int, torch.jit.ScriptModule] = {}
        self._calls: dict[tuple, int] = {}
        self._graph(torch.get_num_threads())

    def _graph(self, threads: int) -> torch.jit.ScriptModule:
        graph = self._graphs.get(threads)
        if graph is None:
            with _compile_lock:
                graph = self._graphs.get(threads)
                if graph is None:
                    graph = self._graphs[threads] = freeze(self._module, self._example, optimise_cpu=False)
        return graph

    def warm(self, *shapes: torch.Size) -> bool:
        """Whether calls with inputs of these shapes (on this thread count) are past compilation."""
        key = (torch.get_num_threads(),) + tuple(tuple(s) for s in shapes)
        return self._calls.get(key, 0) >= COMPILE_CALLS

    def __call__(self, *inputs: torch.Tensor):
        threads = torch.get_num_threads()
        key = (threads,) + tuple(tuple(x.shape) for x in inputs)
        graph = self._graph(threads)
        with fusion(True):
            if self._calls.get(key, 0) >= COMPILE_CALLS:
                return graph(*inputs)
            with _compile_lock:
                out = graph(*inputs)
                self._calls[key] = self._calls.get(key, 0) + 1
            return out


def optimised(module: torch.nn.Module, example: tuple) -> "FusedGraph | torch.jit.ScriptModule":
    """The fastest inference form of a convolutional ``module`` for the ``example`` inputs' device:
    a ``FusedGraph`` on a CPU whose torch has the fuser, else ``freeze`` (on CPU with
    ``optimize_for_inference``)."""
    if _on_cpu(example) and onednn_fusion_available():
        return FusedGraph(module, example)
    return freeze(module, example)
