"""A tiny TensorFlow.js graph model written in the real on-disk format, for the loader's tests.

Its nodes are what an ONNX→TF converter emits (NCHW tensors transposed around NHWC ops) and cover
every op the loader implements: Pad → Transpose → Conv2D → Add(bias) → Transpose → LeakyRelu, then
PadV2(−inf) → MaxPool, ResizeBilinear, ConcatV2, SplitV → Sigmoid, and a Reshape whose target is
folded from constants (AddV2 + SparseToDense). Float weights are stored as float16 (TF.js's
quantisation) and the bytes are split over two shard files.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

INPUT_SHAPE = (1, 3, 8, 8)
CONV_OUT = 4


def _s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(values: list[int]) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


def tiny_constants(seed: int = 0) -> dict[str, np.ndarray]:
    """The graph's constants, in manifest order; float weights already rounded to float16."""
    rng = np.random.default_rng(seed)
    return {
        "pad": np.array([[0, 0], [0, 0], [1, 1], [1, 1]], np.int32),
        "to_nhwc": np.array([0, 2, 3, 1], np.int32),
        "to_nchw": np.array([0, 3, 1, 2], np.int32),
        "kernel": rng.normal(0, 0.5, (3, 3, 3, CONV_OUT)).astype(np.float16).astype(np.float32),
        "bias": rng.normal(0, 0.5, (CONV_OUT,)).astype(np.float16).astype(np.float32),
        "pool_pad_value": np.array(-np.inf, np.float32),
        "resize_to": np.array([4, 4], np.int32),
        "concat_axis": np.array(1, np.int32),
        "split_sizes": np.array([5, 3], np.int32),
        "split_axis": np.array(1, np.int32),
        "shape_base": np.array([1, 3, -1], np.int32),
        "where": np.zeros((0, 1), np.int32),
        "dense_shape": np.array([3], np.int32),
        "gathered": np.zeros((0,), np.int32),
        "zero": np.array(0, np.int32),
        "to_rows": np.array([0, 2, 1], np.int32),
    }


def _nodes() -> list[dict[str, Any]]:
    conv_attrs = {"strides": _ints([1, 2, 2, 1]), "padding": _s("VALID"), "data_format": _s("NHWC"),
                  "dilations": _ints([1, 1, 1, 1])}
    pool_attrs = {"ksize": _ints([1, 3, 3, 1]), "strides": _ints([1, 2, 2, 1]), "padding": _s("VALID"),
                  "data_format": _s("NHWC")}

    def node(name: str, op: str, inputs: list[str], attr: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"name": name, "op": op, "input": inputs, "attr": attr or {}}

    return [
        # listed out of order on purpose: the loader must sort topologically
        node("Identity_1", "Identity", ["rows"]),
        node("input_1", "Placeholder", [], {"shape": {"shape": {"dim": [{"size": str(d)} for d in INPUT_SHAPE]}},
                                            "dtype": {"type": "DT_FLOAT"}}),
        *[node(name, "Const", []) for name in tiny_constants()],
        node("padded", "Pad", ["input_1", "pad"]),
        node("padded_nhwc", "Transpose", ["padded", "to_nhwc"]),
        node("conv", "Conv2D", ["padded_nhwc", "kernel"], conv_attrs),
        node("conv_bias", "Add", ["conv", "bias"]),
        node("conv_nchw", "Transpose", ["conv_bias", "to_nchw"]),
        node("act", "LeakyRelu", ["conv_nchw"], {"alpha": {"f": 0.1}}),
        node("pool_padded", "PadV2", ["act", "pad", "pool_pad_value"]),
        node("pool_in", "Transpose", ["pool_padded", "to_nhwc"]),
        node("pool", "MaxPool", ["pool_in"], pool_attrs),
        node("resized", "ResizeBilinear", ["pool", "resize_to"],
             {"align_corners": {"b": False}, "half_pixel_centers": {"b": True}}),
        node("resized_nchw", "Transpose", ["resized", "to_nchw"]),
        node("joined", "ConcatV2", ["resized_nchw", "act", "concat_axis"], {"N": {"i": "2"}}),
        node("split", "SplitV", ["joined", "split_sizes", "split_axis"], {"num_split": {"i": "2"}}),
        node("scores", "Sigmoid", ["split"]),
        node("Identity", "Identity", ["scores"]),
        node("dense", "SparseToDense", ["where", "dense_shape", "gathered", "zero"]),
        node("shape", "AddV2", ["shape_base", "dense"]),
        node("flat", "Reshape", ["split:1", "shape"]),
        node("rows", "Transpose", ["flat", "to_rows"]),
    ]


def write_tiny_graph(folder: Path, seed: int = 0) -> Path:
    """model.json + two .bin shards in `folder`; returns the model.json path."""
    folder.mkdir(parents=True, exist_ok=True)
    entries, chunks = [], []
    for name, value in tiny_constants(seed).items():
        if value.dtype == np.float32:
            entries.append({"name": name, "shape": list(value.shape), "dtype": "float32",
                            "quantization": {"dtype": "float16", "original_dtype": "float32"}})
            chunks.append(value.astype("<f2").tobytes())
        else:
            entries.append({"name": name, "shape": list(value.shape), "dtype": "int32"})
            chunks.append(value.astype("<i4").tobytes())
    data = b"".join(chunks)
    half = len(data) // 2
    (folder / "tiny.shard1of2.bin").write_bytes(data[:half])
    (folder / "tiny.shard2of2.bin").write_bytes(data[half:])
    spatial = INPUT_SHAPE[2] // 2
    model = {
        "format": "graph-model",
        "signature": {"outputs": {
            "Identity:0": {"name": "Identity:0", "tensorShape": {"dim": [{"size": "1"}, {"size": "5"},
                           {"size": str(spatial)}, {"size": str(spatial)}]}},
            "Identity_1:0": {"name": "Identity_1:0", "tensorShape": {"dim": [{"size": "1"},
                             {"size": str(spatial * spatial)}, {"size": "3"}]}},
        }},
        "modelTopology": {"node": _nodes()},
        "weightsManifest": [{"paths": ["tiny.shard1of2.bin", "tiny.shard2of2.bin"], "weights": entries}],
    }
    path = folder / "tiny.json"
    path.write_text(json.dumps(model))
    return path


def tiny_reference(x: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The same network written directly in NCHW torch, independent of the graph loader."""
    constants = tiny_constants(seed)
    kernel = torch.from_numpy(constants["kernel"]).permute(3, 2, 0, 1)
    act = F.leaky_relu(F.conv2d(F.pad(x, (1, 1, 1, 1)), kernel, torch.from_numpy(constants["bias"]), stride=2), 0.1)
    pooled = F.max_pool2d(act, 3, 2, padding=1)  # −inf padding, as PadV2 does
    resized = F.interpolate(pooled, size=(4, 4), mode="bilinear", align_corners=False)
    joined = torch.cat([resized, act], dim=1)
    return {
        "Identity:0": torch.sigmoid(joined[:, :5]),
        "Identity_1:0": joined[:, 5:].reshape(x.shape[0], 3, -1).transpose(1, 2),
    }
