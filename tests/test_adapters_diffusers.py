"""The diffusers adapter with a real, tiny, randomly initialised WanPipeline written to disk.

The pipeline is built the way diffusers' own tests build theirs (tiny configs, random weights),
saved with `save_pretrained`, and loaded back by the adapter from the local folder only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from reference_models.adapters.diffusers_adapter import (  # noqa: E402
    SPECS,
    DiffusersGenerator,
    ModelScopeT2V,
    Wan21T2V,
    to_uint8_frames,
)
from vbench_lite.errors import WeightsMissing  # noqa: E402
from vbench_lite.generator import GenerationRequest  # noqa: E402
from vbench_lite.video import Video, decode_video  # noqa: E402

WORDS = ["<pad>", "</s>", "<unk>", "a", "cat", "dog", "on", "the", "beach", "running", "red", "car"]


def _word_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def tiny_wan_folder(tmp_path_factory) -> Path:
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(WORDS),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    pipe = WanPipeline(
        tokenizer=_word_tokenizer(),
        text_encoder=text_encoder,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
    )
    folder = tmp_path_factory.mktemp("weights") / "Wan2.1-T2V-1.3B-Diffusers"
    pipe.save_pretrained(folder)
    return folder


OPTIONS = {"num_frames": 9, "height": 32, "width": 32, "steps": 2, "guidance": 5.0, "fps": 8}


def test_wan_adapter_generates_from_a_local_tiny_pipeline_and_feeds_a_scorer(tiny_wan_folder, tmp_path):
    from dimensions.temporal_flickering import TemporalFlickering

    generator = Wan21T2V({**OPTIONS, "num_frames": 10})  # 10 is not 4k+1: the rule makes it 9
    generator.load("cpu", "float32", tiny_wan_folder.parent)  # finds DIR/<repo name>
    assert next(generator.pipe.vae.parameters()).dtype == torch.float32
    request = GenerationRequest("p0", "a cat on the beach", 0, 1234, tmp_path / "a cat on the beach-0.mp4")
    (result,) = generator.generate([request])
    assert result.error is None, result.error
    assert result.params["num_frames"] == 9 and result.params["seed"] == 1234
    frames, fps = decode_video(result.path)
    assert frames.shape == (9, 32, 32, 3) and fps == pytest.approx(8)

    (again,) = generator.generate([GenerationRequest("p0", request.prompt, 0, 1234, tmp_path / "again.mp4")])
    assert np.array_equal(decode_video(again.path)[0], frames)  # seeded on CPU: reproducible

    video = Video(frames=frames, fps=fps, path=result.path, prompt=request.prompt, seed=1234)
    (score,) = TemporalFlickering().score_batch([video])
    assert 0.0 <= score.value <= 1.0


def test_weights_are_looked_up_locally_and_missing_ones_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VBL_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(WeightsMissing, match="Wan2.1-T2V-1.3B-Diffusers/model_index.json"):
        Wan21T2V(OPTIONS).load("cpu", "float32", None)


def test_every_spec_declares_a_licence_and_a_frame_rule():
    assert set(SPECS) == {"modelscope-t2v", "i2vgen-xl", "wan2.1-t2v", "cogvideox-2b", "cogvideox-5b", "hunyuanvideo"}
    for spec in SPECS.values():
        assert spec.licence and spec.frame_rule.frames(spec.defaults["num_frames"]) == spec.defaults["num_frames"]
    assert ModelScopeT2V.licence_needs_acceptance and not Wan21T2V.licence_needs_acceptance
    assert {c.name for c in DiffusersGenerator.__subclasses__()} == set(SPECS)


def test_pipeline_outputs_of_each_kind_become_uint8_frames():
    floats = np.random.default_rng(0).random((1, 3, 4, 4, 3))
    assert to_uint8_frames(floats).shape == (3, 4, 4, 3)
    assert to_uint8_frames([list(floats[0])]).dtype == np.uint8
    assert to_uint8_frames(floats)[0, 0, 0, 0] == round(floats[0, 0, 0, 0, 0] * 255)
