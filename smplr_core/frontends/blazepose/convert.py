"""Read an official BlazePose ``.tflite`` file into a plain-data graph plus dense float32 weights.

The TFLite files store a flat list of built-in ops over NHWC tensors. This module turns that list
into the data that :class:`smplr_core.frontends.blazepose.graph.TfliteGraphNet` executes with
standard PyTorch layers: one dict per compute op (kind, input/output slots, static attributes) and
a state dict with the weights in PyTorch layouts (OIHW convolutions, ``(C,1,H,W)`` depthwise).

Only conversion needs the reference runtime ``ai-edge-litert``; inference does not. Weights are
stored fp16 (``DEQUANTIZE``) and some detector weights are sparse (``DENSIFY``): running the
interpreter once without delegates and reading the dequantised tensors gives them dense in fp32.
"""
from __future__ import annotations

import numpy as np
import torch

# Ops that only unpack constants; their outputs become weights, not graph nodes.
_CONSTANT_OPS = {"DEQUANTIZE", "DENSIFY"}
# Fused activation codes of the TFLite schema (ActivationFunctionType).
_ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}
_SUPPORTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "PAD", "MAX_POOL_2D", "RESIZE_BILINEAR",
              "DEPTH_TO_SPACE", "RESHAPE", "CONCATENATION", "LOGISTIC"}


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) along one axis; TF puts the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _activation(options) -> str:
    code = int(getattr(options, "fusedActivationFunction", 0) or 0)
    if code not in _ACTIVATIONS:
        raise ValueError(f"unsupported fused activation code {code}")
    return _ACTIVATIONS[code]


def read_tflite(path: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """Convert one ``.tflite`` model into ``(graph, state_dict)``.

    ``graph`` is plain data (safe for ``torch.load(weights_only=True)``): ``ops`` (list of dicts),
    ``input`` (slot id), ``outputs`` (slot ids in the model's output order), ``output_names``,
    ``shapes`` (slot id -> static NHWC shape with batch 1).
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(path)
    sub = model.subgraphs[0]
    code_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    op_names = [code_names[max(int(c.builtinCode), int(c.deprecatedBuiltinCode))]
                for c in model.operatorCodes]

    interp = Interpreter(model_path=path, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    interp.invoke()

    def const(tid: int) -> np.ndarray:
        value = np.array(interp.get_tensor(int(tid)), dtype=np.float32)
        if value.size and not np.all(np.isfinite(value)):
            raise ValueError(f"non-finite constant in tensor {tid} of {path}")
        return value

    shapes = {int(i): [int(s) for s in t.shape] for i, t in enumerate(sub.tensors)}
    ops: list[dict] = []
    state: dict[str, torch.Tensor] = {}
    for op in sub.operators:
        kind = op_names[op.opcodeIndex]
        if kind in _CONSTANT_OPS:
            continue
        if kind not in _SUPPORTED:
            raise ValueError(f"unsupported TFLite op {kind} in {path}")
        ins = [int(i) for i in op.inputs]
        out = int(op.outputs[0])
        opt = op.builtinOptions
        node = {"kind": kind, "inputs": [ins[0]], "output": out, "name": f"op{len(ops)}"}
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = const(ins[1])
            b = const(ins[2]) if len(ins) > 2 and ins[2] >= 0 else np.zeros(w.shape[0 if kind == "CONV_2D" else 3], np.float32)
            if kind == "CONV_2D":
                weight = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
                groups = 1
            else:
                if w.shape[0] != 1:
                    raise ValueError("depthwise weights must be 1HWC")
                weight = w.transpose(3, 0, 1, 2)  # 1HWC -> C,1,H,W
                groups = weight.shape[0]
                in_ch = shapes[ins[0]][3]
                if in_ch != groups:
                    raise ValueError(f"depth multiplier != 1 is unsupported ({in_ch} -> {groups})")
            kh, kw = weight.shape[2:]
            sh, sw = int(opt.strideH), int(opt.strideW)
            dh, dw = int(opt.dilationHFactor or 1), int(opt.dilationWFactor or 1)
            h, wd = shapes[ins[0]][1:3]
            if int(opt.padding) == schema.Padding.SAME:
                pad = [*_same_padding(h, kh, sh, dh), *_same_padding(wd, kw, sw, dw)]
            else:
                pad = [0, 0, 0, 0]
            node.update(stride=[sh, sw], dilation=[dh, dw], groups=groups, pad=pad,
                        act=_activation(opt), in_channels=int(weight.shape[1] * groups),
                        out_channels=int(weight.shape[0]), kernel=[int(kh), int(kw)])
            state[node["name"] + ".weight"] = torch.from_numpy(np.ascontiguousarray(weight))
            state[node["name"] + ".bias"] = torch.from_numpy(np.ascontiguousarray(b))
        elif kind == "ADD":
            node["inputs"] = ins[:2]
            node["act"] = _activation(opt)
        elif kind == "PAD":
            node["paddings"] = const(ins[1]).astype(np.int64).tolist()  # NHWC [[before, after]] x 4
        elif kind == "MAX_POOL_2D":
            h, wd = shapes[ins[0]][1:3]
            kh, kw = int(opt.filterHeight), int(opt.filterWidth)
            sh, sw = int(opt.strideH), int(opt.strideW)
            if int(opt.padding) == schema.Padding.SAME:
                pad = [*_same_padding(h, kh, sh, 1), *_same_padding(wd, kw, sw, 1)]
            else:
                pad = [0, 0, 0, 0]
            node.update(kernel=[kh, kw], stride=[sh, sw], pad=pad, act=_activation(opt))
        elif kind == "RESIZE_BILINEAR":
            if opt.alignCorners or not opt.halfPixelCenters:
                raise ValueError("only half-pixel-centre bilinear resize is supported")
            node["size"] = shapes[out][1:3]
        elif kind == "DEPTH_TO_SPACE":
            node["block"] = int(opt.blockSize)
        elif kind == "RESHAPE":
            node["shape"] = shapes[out]
        elif kind == "CONCATENATION":
            node["inputs"] = ins
            node["axis"] = int(opt.axis)
            node["act"] = _activation(opt)
        ops.append(node)

    outputs = [int(i) for i in sub.outputs]
    used = {i for n in ops for i in n["inputs"]} | {n["output"] for n in ops}
    graph = {
        "ops": ops,
        "input": int(sub.inputs[0]),
        "outputs": outputs,
        "output_names": [sub.tensors[i].name.decode() if isinstance(sub.tensors[i].name, bytes)
                         else str(sub.tensors[i].name) for i in outputs],
        "shapes": {i: shapes[i] for i in sorted(used)},
    }
    return graph, state
