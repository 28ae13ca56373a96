"""Record VBench's i2v_background values (DreamSim + PEFT) for tests/test_dims_i2v_fidelity.py.

VBench's `vbench2_beta_i2v.i2v_background` imports `dreamsim`, which needs `peft`; neither is a
dependency of vbench_lite, so this script runs in a separate environment where they are
importable, e.g. a venv that sees vbench_lite's packages plus

    pip install --no-deps peft==0.21.2 dreamsim==0.2.1   # dreamsim from its PyPI sdist

and is run from the repository root:

    python scripts/fidelity/i2v_background_golden.py  [--out tests/data/i2v_background_golden.json]

It writes the tiny random DreamSim files of tests/tiny_i2v_models.py (the same seeded weights CI
rebuilds), builds DreamSim with its own `dreamsim(pretrained=True, device="cpu", cache_dir=...)`,
checks that PEFT reads the adapter file exactly as written, and records what VBench's
`i2v_background(model, pairs, "cpu")` returns on real clips and images (tests/clips.py).

Two things stand in for downloads, nothing else is changed in DreamSim's or VBench's code path:
- DreamSim builds its ViT-B/16s with `vit_base(patch_size)`; here `vit_base` is DreamSim's own
  `VisionTransformer` at the tiny size of the test files (width 64, one head, depth 3);
- DreamSim gets DINO with `torch.hub.load("facebookresearch/dino:main", "dino_vitb16")`; here that
  call builds what DINO's hubconf builds, `vit_base(patch_size=16, num_classes=0)` + a strict
  `load_state_dict` (from DreamSim's copy of DINO's vision_transformer.py), at tiny size (depth
  12, as DreamSim reads block 11) from the test's `checkpoints/dino_vitbase16_pretrain.pth`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from clips import I2V_PAIRS, i2v_pairs  # noqa: E402
from tiny_i2v_models import (  # noqa: E402
    CLIP_DEPTH,
    DINO_DEPTH,
    LORA,
    MLP_HIDDEN,
    WIDTH,
    adapter_state,
    write_tiny_dreamsim,
)

SEED = 0


def tiny_vit(depth: int, patch_size: int = 16, **kwargs):
    from dreamsim.feature_extraction.vision_transformer import VisionTransformer

    return VisionTransformer(
        patch_size=patch_size, embed_dim=WIDTH, depth=depth, num_heads=1, mlp_ratio=MLP_HIDDEN / WIDTH,
        qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), **kwargs,
    )  # fmt: skip


def patch_dreamsim_sizes(folder: Path) -> None:
    import dreamsim.feature_extraction.load_clip_as_dino as clip_loader
    import dreamsim.feature_extraction.load_open_clip_as_dino as open_clip_loader

    clip_loader.vit_base = partial(tiny_vit, CLIP_DEPTH)
    open_clip_loader.vit_base = partial(tiny_vit, CLIP_DEPTH)

    def hub_load(repo: str, model: str, *args, **kwargs):
        assert (repo, model) == ("facebookresearch/dino:main", "dino_vitb16"), (repo, model)
        dino = tiny_vit(DINO_DEPTH, num_classes=0)
        state = torch.load(folder / "checkpoints" / "dino_vitbase16_pretrain.pth", map_location="cpu")
        dino.load_state_dict(state, strict=True)
        return dino

    torch.hub.load = hub_load


def check_adapter_layout(model, folder: Path) -> None:
    """PEFT loaded every LoRA tensor as written, and saves the same keys back."""
    written = adapter_state(SEED + 3)
    loaded = {
        name.replace(".default", ""): p for name, p in model.named_parameters() if "lora_" in name
    }
    assert set(loaded) == set(written), sorted(set(loaded) ^ set(written))[:4]
    for name, tensor in written.items():
        assert torch.equal(loaded[name].detach().cpu(), tensor), name
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch)
        from safetensors.torch import load_file

        resaved = load_file(str(Path(scratch) / "adapter_model.safetensors"))
        config = json.loads((Path(scratch) / "adapter_config.json").read_text())
    assert set(resaved) == set(written), sorted(set(resaved) ^ set(written))[:4]
    for key, value in LORA.items():
        saved = sorted(config[key]) if isinstance(value, list) else config[key]
        assert saved == value, (key, saved, value)


def frames_sha256(video: Path) -> str:
    from decord import VideoReader

    reader = VideoReader(str(video), num_threads=1)
    return hashlib.sha256(reader.get_batch(range(len(reader))).asnumpy().tobytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "i2v_background_golden.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    import dreamsim
    import peft
    from dreamsim import dreamsim as build_dreamsim
    from vbench2_beta_i2v.i2v_background import i2v_background

    with tempfile.TemporaryDirectory() as scratch:
        folder = write_tiny_dreamsim(Path(scratch), SEED)
        patch_dreamsim_sizes(folder)
        model, _ = build_dreamsim(pretrained=True, device="cpu", cache_dir=str(folder))
        check_adapter_layout(model, folder)
        pairs = i2v_pairs(Path(scratch) / "images")
        aggregate, per_video = i2v_background(model, [(str(i), str(v)) for i, v in pairs], "cpu")
        with torch.no_grad():
            from PIL import Image
            from vbench2_beta_i2v.utils import dreamsim_transform_Image

            first_image = dreamsim_transform_Image(224)(Image.open(pairs[0][0])).unsqueeze(0)
            embedding = model.embed(first_image)[0]
        golden = {
            "what": "VBench vbench2_beta_i2v.i2v_background on tiny seeded DreamSim files (tests/tiny_i2v_models.py)",
            "script": "scripts/fidelity/i2v_background_golden.py",
            "seed": SEED,
            "versions": {"dreamsim": dreamsim.__version__ if hasattr(dreamsim, "__version__") else "0.2.1",
                         "peft": peft.__version__, "torch": torch.__version__},
            "pairs": [list(pair) for pair in I2V_PAIRS],
            "frames_sha256": {
                clip: frames_sha256(video) for (_, clip), (_, video) in zip(I2V_PAIRS, pairs, strict=True)
            },
            "images_sha256": {
                image.name: hashlib.sha256(np.asarray(Image.open(image)).tobytes()).hexdigest() for image, _ in pairs
            },
            "video_results": [float(r["video_results"]) for r in per_video],
            "aggregate": float(aggregate),
            "first_image_embedding": [float(x) for x in embedding],
        }
    args.out.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {args.out}: {golden['video_results']}")


if __name__ == "__main__":
    main()
