"""A PyTorch network built from a converted TFLite op list (see ``convert.read_tflite``).

The detector and the three landmark networks (lite, full, heavy) are all MobileNet-style stacks
of the same few ops, so one module family runs them all: each op becomes a standard layer
(``nn.Conv2d``, ``F.pad``, ``F.max_pool2d``, ``F.interpolate``) in PyTorch's NCHW layout. Ops whose
meaning depends on the memory layout (``RESHAPE``, ``DEPTH_TO_SPACE``, ``CONCATENATION`` and
``PAD`` axes) are translated from TF's NHWC explicitly. The batch dimension is free, so several
people go through the landmark network in one forward.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor

# NHWC axis -> NCHW axis for 4-D tensors.
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}


def _activation(name: str) -> Callable[[Tensor], Tensor]:
    if name == "relu6":
        return F.relu6  # hardtanh(0, 6): the form that frozen-graph passes fuse into convolutions
    if name == "relu":
        return torch.relu
    return lambda x: x


def depth_to_space_tf(x: Tensor, block: int) -> Tensor:
    """TF ``DEPTH_TO_SPACE`` on an NCHW tensor: (N, b*b*C, H, W) -> (N, C, H*b, W*b).

    TF reads the input channels as (row offset, column offset, channel), whereas
    ``nn.PixelShuffle`` reads them as (channel, row offset, column offset).
    """
    n, c, h, w = x.shape
    out_c = c // (block * block)
    x = x.reshape(n, block, block, out_c, h, w)
    return x.permute(0, 3, 4, 1, 5, 2).reshape(n, out_c, h * block, w * block)


def needed_ops(ops: list[dict], output_slots: list[int]) -> list[dict]:
    """The ops (in order) that the given output slots depend on."""
    wanted = set(output_slots)
    kept = []
    for node in reversed(ops):
        if node["output"] in wanted:
            kept.append(node)
            wanted.update(node["inputs"])
    return kept[::-1]


def fold_pads(ops: list[dict]) -> list[dict]:
    """Merge each spatial ``PAD`` that feeds exactly one unpadded convolution into that
    convolution's own padding (zero padding either way), saving a copy of the activation."""
    consumers: dict[int, int] = {}
    for node in ops:
        for i in node["inputs"]:
            consumers[i] = consumers.get(i, 0) + 1
    pads = {n["output"]: n for n in ops if n["kind"] == "PAD"}
    folded, out = set(), []
    for node in ops:
        src = node["inputs"][0]
        pad = pads.get(src)
        if (node["kind"] in ("CONV_2D", "DEPTHWISE_CONV_2D") and pad is not None
                and consumers.get(src) == 1 and node["pad"] == [0, 0, 0, 0]
                and pad["paddings"][0] == [0, 0] and pad["paddings"][3] == [0, 0]):
            (top, bottom), (left, right) = pad["paddings"][1], pad["paddings"][2]
            node = dict(node, inputs=[pad["inputs"][0]] + node["inputs"][1:], pad=[top, bottom, left, right])
            folded.add(pad["output"])
        out.append(node)
    return [n for n in out if n["output"] not in folded]


class TfliteGraphNet(nn.Module):
    """Runs a converted BlazePose graph.

    forward(x (B, 3, H, W) float) -> list of output tensors in the model's output order; 4-D
    outputs are NCHW (e.g. heatmap (B, 39, 64, 64)), others keep TF's shape with batch B.
    """

    def __init__(self, graph: dict, outputs: list[int] | None = None, slots: list[int] | None = None):
        """``outputs``: indices into the model's outputs to compute (default all). Ops that
        feed none of them are dropped, e.g. the 256x256 segmentation decoder of the landmark
        network, which is a large part of its cost and which pose estimation does not use.
        ``slots``: instead, these tensors of the graph (inner ones too, e.g. a feature map)."""
        super().__init__()
        self.input_slot = graph["input"]
        keep = range(len(graph["outputs"])) if outputs is None else outputs
        self.output_slots = list(slots) if slots is not None else [graph["outputs"][i] for i in keep]
        shapes = graph["shapes"]
        self.convs = nn.ModuleDict()
        self._steps: list[Callable[[dict], None]] = []
        for node in fold_pads(needed_ops(graph["ops"], self.output_slots)):
            self._steps.append(self._make_step(node, shapes))
        in_shape = shapes[self.input_slot]
        self.input_hw = (int(in_shape[1]), int(in_shape[2]))

    def _make_step(self, node: dict, shapes: dict) -> Callable[[dict], None]:
        kind, ins, out = node["kind"], node["inputs"], node["output"]
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            top, bottom, left, right = node["pad"]
            symmetric = top == bottom and left == right
            conv = nn.Conv2d(node["in_channels"], node["out_channels"], tuple(node["kernel"]),
                             stride=tuple(node["stride"]), dilation=tuple(node["dilation"]),
                             groups=node["groups"], bias=True,
                             padding=(top, left) if symmetric else 0)
            self.convs[node["name"]] = conv
            act = _activation(node["act"])
            pre_pad = None if symmetric else (left, right, top, bottom)
            src = ins[0]

            def step(t: dict) -> None:
                x = t[src]
                if pre_pad is not None:
                    x = F.pad(x, pre_pad)
                t[out] = act(conv(x))
            return step
        if kind == "ADD":
            a, b = ins
            act = _activation(node["act"])

            def step(t: dict) -> None:
                t[out] = act(t[a] + t[b])
            return step
        if kind == "PAD":
            p = node["paddings"]
            if len(p) != 4 or p[0] != [0, 0]:
                raise ValueError("PAD is supported on NHWC tensors without batch padding")
            pad = (p[2][0], p[2][1], p[1][0], p[1][1], p[3][0], p[3][1])
            src = ins[0]

            def step(t: dict) -> None:
                t[out] = F.pad(t[src], pad)
            return step
        if kind == "MAX_POOL_2D":
            top, bottom, left, right = node["pad"]
            if (top, bottom, left, right) != (0, 0, 0, 0):
                raise ValueError("padded max pooling is unsupported")
            k, s = tuple(node["kernel"]), tuple(node["stride"])
            act = _activation(node["act"])
            src = ins[0]

            def step(t: dict) -> None:
                t[out] = act(F.max_pool2d(t[src], k, s))
            return step
        if kind == "RESIZE_BILINEAR":
            size = tuple(node["size"])
            src = ins[0]

            def step(t: dict) -> None:
                # Half-pixel centres, as the model's resize op uses.
                t[out] = F.interpolate(t[src], size=size, mode="bilinear", align_corners=False)
            return step
        if kind == "DEPTH_TO_SPACE":
            block = node["block"]
            src = ins[0]

            def step(t: dict) -> None:
                t[out] = depth_to_space_tf(t[src], block)
            return step
        if kind == "RESHAPE":
            in_rank = len(shapes[ins[0]])
            target = list(node["shape"])
            if len(target) == 4:
                raise ValueError("RESHAPE to a 4-D tensor is unsupported")
            src = ins[0]

            def step(t: dict) -> None:
                x = t[src]
                if in_rank == 4:
                    x = x.permute(0, 2, 3, 1)  # back to NHWC element order
                t[out] = x.reshape(x.shape[0], *target[1:])
            return step
        if kind == "CONCATENATION":
            rank = len(shapes[ins[0]])
            axis = node["axis"] if node["axis"] >= 0 else node["axis"] + rank
            if rank == 4:
                axis = _NHWC_TO_NCHW_AXIS[axis]
            act = _activation(node["act"])
            srcs = list(ins)

            def step(t: dict) -> None:
                t[out] = act(torch.cat([t[i] for i in srcs], dim=axis))
            return step
        if kind == "LOGISTIC":
            src = ins[0]

            def step(t: dict) -> None:
                t[out] = torch.sigmoid(t[src])
            return step
        raise ValueError(f"unsupported op {kind}")

    def forward(self, x: Tensor) -> list[Tensor]:
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != self.input_hw):
            raise ValueError(f"expected input (B, 3, {self.input_hw[0]}, {self.input_hw[1]}), got {tuple(x.shape)}")
        tensors = {self.input_slot: x}
        for step in self._steps:
            step(tensors)
        return [tensors[i] for i in self.output_slots]
