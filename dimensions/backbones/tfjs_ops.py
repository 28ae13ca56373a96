"""The TensorFlow.js graph ops the embedded models use, as torch functions, and the conv fusion.

Each op takes its node and evaluated inputs (tensors, or numpy arrays for constant integers and
scalars) and returns a tensor or a tuple of tensors, following TensorFlow's semantics for the
attributes it accepts; any other attribute value is a one-line error naming the node.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vbench_lite.errors import VblError


class TfjsGraphError(VblError):
    """A graph model this loader cannot read: names the file and what is wrong."""


@dataclass(frozen=True)
class GraphNode:
    name: str
    op: str
    inputs: tuple[str, ...]  # data inputs only, as "node" or "node:k"
    attrs: dict[str, Any] = field(default_factory=dict)

    def attr(self, key: str, default: Any = None) -> Any:
        """An attr value decoded from its JSON form ({"i": "2"}, {"f": .1}, {"s": base64}, lists)."""
        if key not in self.attrs:
            return default
        value = self.attrs[key]
        if "list" in value:
            items = value["list"]
            if "i" in items:
                return [int(v) for v in items["i"]]
            if "f" in items:
                return [float(v) for v in items["f"]]
            return []
        if "i" in value:
            return int(value["i"])
        if "f" in value:
            return float(value["f"])
        if "b" in value:
            return bool(value["b"])
        if "s" in value:
            return base64.b64decode(value["s"]).decode()
        return value


# -- ops: each takes the node and its evaluated inputs, returns a tensor or a tuple of tensors ---------
# Inputs are tensors, or numpy arrays for folded integer/scalar constants (perms, paddings, axes, sizes).
Value = Any
OpFn = Callable[[GraphNode, list[Value]], Any]


def ints(value: Value) -> list[int]:
    return [int(v) for v in np.asarray(value).reshape(-1)]


def split_input(reference: str) -> tuple[str, int]:
    """"node:k" → ("node", k); a bare name is output 0."""
    name, _, index = reference.partition(":")
    return name, int(index) if index else 0


def _require(node: GraphNode, key: str, allowed: Sequence[Any]) -> None:
    value = node.attr(key)
    if value is not None and value not in allowed:
        raise TfjsGraphError(f"{node.op} node {node.name}: {key}={value!r} is not supported (only {list(allowed)})")


def _nhwc_pair(node: GraphNode, key: str) -> tuple[int, int]:
    values = node.attr(key, [1, 1, 1, 1])
    if values[0] != 1 or values[3] != 1:
        raise TfjsGraphError(f"{node.op} node {node.name}: {key}={values} steps over batch or channels")
    return values[1], values[2]


def _conv2d(node: GraphNode, args: list[Value]) -> torch.Tensor:
    _require(node, "data_format", ["NHWC"])
    _require(node, "padding", ["VALID"])
    x, kernel = args  # x: NHWC; kernel: [kh, kw, in / groups, out]
    out = F.conv2d(
        x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1),
        stride=_nhwc_pair(node, "strides"), dilation=_nhwc_pair(node, "dilations"),
        groups=x.shape[3] // kernel.shape[2],
    )
    return out.permute(0, 2, 3, 1)


def _max_pool(node: GraphNode, args: list[Value]) -> torch.Tensor:
    _require(node, "data_format", ["NHWC"])
    _require(node, "padding", ["VALID"])
    out = F.max_pool2d(args[0].permute(0, 3, 1, 2), _nhwc_pair(node, "ksize"), _nhwc_pair(node, "strides"))
    return out.permute(0, 2, 3, 1)


def _pad(node: GraphNode, args: list[Value]) -> torch.Tensor:
    x, paddings = args[0], np.asarray(args[1])
    value = float(args[2]) if len(args) > 2 else 0.0
    flat = [int(amount) for before_after in paddings[::-1] for amount in before_after]  # last dim first
    return F.pad(x, flat, value=value)


def _resize_bilinear(node: GraphNode, args: list[Value]) -> torch.Tensor:
    # half_pixel_centers without align_corners is TF2's resize, the same sampling as torch's
    # align_corners=False; the other combinations would need TF's legacy coordinate rules.
    _require(node, "align_corners", [False])
    _require(node, "half_pixel_centers", [True])
    x, size = args  # NHWC
    out = F.interpolate(x.permute(0, 3, 1, 2), size=tuple(ints(size)), mode="bilinear", align_corners=False)
    return out.permute(0, 2, 3, 1)


def _split_v(node: GraphNode, args: list[Value]) -> tuple[torch.Tensor, ...]:
    x, sizes, axis = args[0], ints(args[1]), int(args[2])
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return tuple(torch.split(x, sizes, dim=axis))


def _sparse_to_dense(node: GraphNode, args: list[Value]) -> np.ndarray:
    indices, shape, values, default = (np.asarray(a) for a in args)
    dense = np.full(ints(shape), default, dtype=values.dtype)
    if indices.size:
        dense[tuple(indices.reshape(indices.shape[0], -1).T)] = values
    return dense


OPS: dict[str, OpFn] = {
    "Identity": lambda node, args: args[0],
    "Conv2D": _conv2d,
    "MaxPool": _max_pool,
    "Pad": _pad,
    "PadV2": _pad,
    "Transpose": lambda node, args: args[0].permute(*ints(args[1])),
    "Add": lambda node, args: args[0] + args[1],
    "AddV2": lambda node, args: args[0] + args[1],
    "LeakyRelu": lambda node, args: F.leaky_relu(args[0], node.attr("alpha", 0.2)),
    "Sigmoid": lambda node, args: torch.sigmoid(args[0]),
    "ConcatV2": lambda node, args: torch.cat(args[:-1], dim=int(args[-1])),
    "ResizeBilinear": _resize_bilinear,
    "SplitV": _split_v,
    "SparseToDense": _sparse_to_dense,
    "Reshape": lambda node, args: args[0].reshape(ints(args[1])),  # the batch rule is applied in TfjsGraph
}




# -- fusion: TF's NCHW→NHWC conv sandwich as one torch convolution -----------------------------------
NCHW_TO_NHWC = [0, 2, 3, 1]


def _fused_conv2d(node: GraphNode, args: list[Value]) -> torch.Tensor:
    """Pad → Transpose(NCHW→NHWC) → Conv2D(VALID) → Add(bias), computed as one NCHW convolution."""
    x, kernel, bias = args  # x: NCHW, before the padding
    out = F.conv2d(
        x, kernel.permute(3, 2, 0, 1), bias, stride=_nhwc_pair(node, "strides"),
        padding=tuple(node.attr("fused_padding")), dilation=_nhwc_pair(node, "dilations"),
        groups=x.shape[1] // kernel.shape[2],
    )
    return out.permute(0, 2, 3, 1)  # NHWC, as the Add it replaces


OPS["FusedConv2D"] = _fused_conv2d


def fuse_conv_chains(steps: list[GraphNode], constants: dict[str, Value], keep: set[str]) -> list[GraphNode]:
    """Replace every `[Pad →] Transpose(NCHW→NHWC) → Conv2D → Add(bias)` chain by one FusedConv2D.

    Same arithmetic, fewer passes over memory: the zero padding and the bias move into the
    convolution. A chain fuses only when each inner node has a single reader and is not in `keep`
    (graph outputs), the padding is zero, symmetric and spatial, and the bias is a 1-D constant.
    """
    by_name = {n.name: n for n in steps}
    readers: dict[str, int] = {}
    for node in steps:
        for reference in node.inputs:
            readers[split_input(reference)[0]] = readers.get(split_input(reference)[0], 0) + 1

    def sole(reference: str, op: str) -> GraphNode | None:
        name, index = split_input(reference)
        node = by_name.get(name)
        if node is None or node.op != op or index or readers.get(name) != 1 or name in keep:
            return None
        return node

    fused: dict[str, GraphNode] = {}
    removed: set[str] = set()
    for add in steps:
        if add.op not in ("Add", "AddV2") or len(add.inputs) != 2:
            continue
        conv, bias = sole(add.inputs[0], "Conv2D"), constants.get(add.inputs[1])
        if conv is None or not isinstance(bias, torch.Tensor) or bias.dim() != 1:
            continue
        if conv.attr("padding") != "VALID" or conv.attr("data_format", "NHWC") != "NHWC":
            continue
        transpose = sole(conv.inputs[0], "Transpose")
        if transpose is None or ints(constants.get(transpose.inputs[1], [])) != NCHW_TO_NHWC:
            continue
        source, padding, chain = transpose.inputs[0], [0, 0], [conv, transpose]
        pad = sole(source, "Pad")
        if pad is not None:
            amounts = np.asarray(constants.get(pad.inputs[1], np.zeros((0, 2))))
            if amounts.shape == (4, 2) and not amounts[:2].any() and (amounts[2:, 0] == amounts[2:, 1]).all():
                source, padding = pad.inputs[0], [int(amounts[2, 0]), int(amounts[3, 0])]
                chain.append(pad)
        attrs = dict(conv.attrs, fused_padding={"list": {"i": padding}})
        fused[add.name] = GraphNode(add.name, "FusedConv2D", (source, conv.inputs[1], add.inputs[1]), attrs)
        removed.update(n.name for n in chain)
    return [fused.get(n.name, n) for n in steps if n.name not in removed]
