"""A TensorFlow.js graph model (`model.json` + `.bin` shards) run as a PyTorch module; no TF runtime.

The file format: `modelTopology.node` is a TensorFlow GraphDef in JSON (each node: name, op,
inputs as "name", "name:k" for a node's k-th output or "^name" for a control edge, attrs);
`weightsManifest` lists groups of shard files whose bytes, concatenated, hold every Const node's
value back to back in manifest order, little-endian, either raw (float32/int32) or quantised
(here float16, widened to float32 on load; affine uint8/uint16 quantisation is refused).

The graph is executed node by node in topological order with torch ops. Subgraphs that depend on
constants only (shape arithmetic an ONNX→TF converter leaves behind) are folded once at load time;
what remains reads the input. Integer constants and scalars become plain Python values (perms,
paddings, axes, sizes); float tensors become buffers named exactly as in the manifest, so
`state_dict()` lists the manifest's float weights under their own names and shapes.
TF's layout ops are kept literally: a Transpose is a view (`permute`), and a Conv2D in NHWC runs
as an NCHW convolution on a permuted view, which torch executes channels-last without copies.
The chains an ONNX→TF converter emits around each convolution (zero Pad → Transpose → Conv2D →
bias Add) run as one convolution with padding and bias (`tfjs_ops.fuse_conv_chains`; `fuse=False`
executes the graph node by node, for comparison).

Graphs exported with a batch of 1 run on a batch of N: a Reshape whose target begins with the
exported batch size keeps the input's leading dimension instead.

Only the ops that the embedded models use are implemented; any other op, data format, padding
mode or dtype is a one-line error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vbench_lite.dimensions.backbones.tfjs_ops import (
    OPS,
    GraphNode,
    TfjsGraphError,
    Value,
    fuse_conv_chains,
    ints,
    split_input,
)

_RAW_DTYPES: dict[str, np.dtype] = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4")}
_QUANTISED_DTYPES: dict[str, np.dtype] = {"float16": np.dtype("<f2")}


def read_graph_model(model_json: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The parsed model.json and every manifest weight as a numpy array (float16 widened)."""
    model_json = Path(model_json)
    try:
        model = json.loads(model_json.read_text())
        manifest = model["weightsManifest"]
        model["modelTopology"]["node"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TfjsGraphError(f"{model_json} is not a TensorFlow.js graph model ({error})") from None
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        shards = [model_json.parent / p for p in group["paths"]]
        missing = [str(s) for s in shards if not s.exists()]
        if missing:
            raise TfjsGraphError(f"{model_json}: weight shard {missing[0]} is missing; keep the .bin next to the .json")
        buffer = b"".join(s.read_bytes() for s in shards)
        offset = 0
        for entry in group["weights"]:
            array, offset = _read_weight(entry, buffer, offset, model_json)
            weights[entry["name"]] = array
        if offset != len(buffer):
            raise TfjsGraphError(f"{model_json}: shards hold {len(buffer)} bytes, the manifest describes {offset}")
    return model, weights


def _read_weight(entry: dict[str, Any], buffer: bytes, offset: int, source: Path) -> tuple[np.ndarray, int]:
    shape = [int(s) for s in entry["shape"]]
    count = int(np.prod(shape)) if shape else 1
    quantisation = entry.get("quantization")
    if quantisation:
        stored = _QUANTISED_DTYPES.get(quantisation.get("dtype", ""))
        if stored is None or "scale" in quantisation:
            raise TfjsGraphError(f"{source}: {entry['name']} uses unsupported quantisation {quantisation}")
    else:
        stored = _RAW_DTYPES.get(entry["dtype"])
        if stored is None:
            raise TfjsGraphError(f"{source}: {entry['name']} has unsupported dtype {entry['dtype']}")
    size = count * stored.itemsize
    if offset + size > len(buffer):
        raise TfjsGraphError(f"{source}: shards end inside weight {entry['name']}")
    array = np.frombuffer(buffer, dtype=stored, count=count, offset=offset)
    target = np.float32 if entry["dtype"] == "float32" else stored.newbyteorder("=")
    return array.astype(target).reshape(shape), offset + size


def _topological_order(nodes: dict[str, GraphNode]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done
    for root in nodes:
        stack = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                state[name] = 2
                order.append(name)
                continue
            if state.get(name) == 2:
                continue
            if state.get(name) == 1:
                raise TfjsGraphError(f"the graph has a cycle through {name}")
            state[name] = 1
            stack.append((name, True))
            for reference in nodes[name].inputs:
                producer, _ = split_input(reference)
                if producer not in nodes:
                    raise TfjsGraphError(f"node {name} reads {producer}, which the graph does not define")
                if state.get(producer) != 2:
                    stack.append((producer, False))
    return order


class TfjsGraph(nn.Module):
    """Executes a TF.js graph model; `forward(x)` returns the signature outputs by name."""

    def __init__(self, model: dict[str, Any], weights: dict[str, np.ndarray], fuse: bool = True):
        super().__init__()
        nodes: dict[str, GraphNode] = {}
        for raw in model["modelTopology"]["node"]:
            inputs = tuple(i for i in raw.get("input", []) if not i.startswith("^"))
            nodes[raw["name"]] = GraphNode(raw["name"], raw["op"], inputs, raw.get("attr", {}))
        unknown = sorted({n.op for n in nodes.values()} - set(OPS) - {"Const", "Placeholder"})
        if unknown:
            raise TfjsGraphError(f"the graph uses ops this loader does not implement: {', '.join(unknown)}")
        placeholders = [n for n in nodes.values() if n.op == "Placeholder"]
        if len(placeholders) != 1:
            raise TfjsGraphError(f"expected one input placeholder, found {len(placeholders)}")
        self.input_name = placeholders[0].name
        self.input_shape = [int(d["size"]) for d in placeholders[0].attr("shape")["shape"]["dim"]]
        constants = {n.name for n in nodes.values() if n.op == "Const"}
        if constants != set(weights):
            extra = sorted(constants ^ set(weights))[0]
            raise TfjsGraphError(f"Const nodes and manifest weights differ (first: {extra}): mismatched .json/.bin")
        read = {split_input(i)[0] for n in nodes.values() for i in n.inputs}
        if set(weights) - read:
            raise TfjsGraphError(f"manifest weight {sorted(set(weights) - read)[0]} feeds no node")

        signature = model.get("signature", {}).get("outputs", {})
        self.output_names = sorted(signature) or sorted(n.name for n in nodes.values() if n.op == "Identity")
        self.output_shapes = {  # as exported (batch included); unknown dims are -1
            name: [int(d.get("size", -1)) for d in spec.get("tensorShape", {}).get("dim", [])]
            for name, spec in signature.items()
        }
        order = _topological_order(nodes)
        folded = _fold_constants(nodes, order, weights)
        self._steps = [nodes[n] for n in order if n not in folded and nodes[n].op != "Placeholder"]
        if fuse:
            outputs = {split_input(name)[0] for name in self.output_names}
            self._steps = fuse_conv_chains(self._steps, folded, keep=outputs)
        runtime_reads = {split_input(i)[0] for step in self._steps for i in step.inputs}
        self._static: dict[str, np.ndarray] = {}
        for name, value in folded.items():
            if name not in runtime_reads:
                continue
            if isinstance(value, torch.Tensor):
                self.register_buffer(name, value)
            else:
                self._static[name] = value
        self._last_reader: dict[str, int] = {}
        for position, step in enumerate(self._steps):
            for reference in step.inputs:
                self._last_reader[split_input(reference)[0]] = position

    def constant(self, name: str) -> Value:
        """A constant the graph reads at run time: a float buffer, or a numpy integer/scalar value."""
        return self._static[name] if name in self._static else self.get_buffer(name)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        produced: dict[str, Any] = {self.input_name: x}
        exported_batch = self.input_shape[0]
        for position, node in enumerate(self._steps):
            args = []
            for reference in node.inputs:
                producer, index = split_input(reference)
                value = produced[producer] if producer in produced else self.constant(producer)
                args.append(value[index] if isinstance(value, tuple) else value)
            if node.op == "Reshape" and ints(args[1])[0] == exported_batch:
                args[1] = [args[0].shape[0], *ints(args[1])[1:]]
            produced[node.name] = OPS[node.op](node, args)
            for reference in node.inputs:  # free intermediates after their last reader
                producer = split_input(reference)[0]
                if self._last_reader.get(producer) == position and producer in produced:
                    del produced[producer]
        return {name: produced[split_input(name)[0]] for name in self.output_names}


def _fold_constants(
    nodes: dict[str, GraphNode], order: list[str], weights: dict[str, np.ndarray]
) -> dict[str, torch.Tensor | np.ndarray]:
    """Every node computable from constants alone, evaluated once.

    Float arrays become tensors (the module's buffers); integer arrays and scalars stay numpy.
    """
    values: dict[str, torch.Tensor | np.ndarray] = {}
    for name in order:
        node = nodes[name]
        if node.op == "Const":
            array = weights[name]
            values[name] = torch.from_numpy(array.copy()) if array.dtype.kind == "f" and array.ndim else array
        elif node.inputs and all(split_input(i)[0] in values for i in node.inputs):
            result = OPS[node.op](node, [values[split_input(i)[0]] for i in node.inputs])
            if isinstance(result, tuple):
                raise TfjsGraphError(f"cannot fold multi-output node {name}")
            values[name] = result
    return values


def load_tfjs_graph(model_json: Path, fuse: bool = True) -> TfjsGraph:
    model, weights = read_graph_model(model_json)
    return TfjsGraph(model, weights, fuse=fuse).eval()
