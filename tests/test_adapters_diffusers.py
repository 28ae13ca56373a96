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

from vbench_lite.errors import WeightsMissing  # noqa: E402
from vbench_lite.generator import GenerationRequest  # noqa: E402
from vbench_lite.reference_models.adapters.diffusers_adapter import (  # noqa: E402
    SPECS,
    CogVideoX2B,
    DiffusersGenerator,
    HunyuanVideo,
    I2VGenXL,
    ModelScopeT2V,
    Wan21T2V,
    to_uint8_frames,
)
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


@pytest.mark.slow
def test_wan_adapter_generates_from_a_local_tiny_pipeline_and_feeds_a_scorer(tiny_wan_folder, tmp_path):
    from vbench_lite.dimensions.temporal_flickering import TemporalFlickering

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
    (other,) = generator.generate([GenerationRequest("p0", request.prompt, 0, 99, tmp_path / "other.mp4")])
    # Seeded on CPU: the same seed gives the same video up to float rounding in multi-threaded
    # kernels (a grey level here and there after h264), another seed a different one.
    same = np.abs(decode_video(again.path)[0].astype(int) - frames).mean()
    different = np.abs(decode_video(other.path)[0].astype(int) - frames).mean()
    assert same <= 0.1 * different and different > 0

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


def _clip_tokenizer(folder: Path):
    import json
    import string

    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        vocab.update({c + suffix: len(vocab) + i for i, c in enumerate(string.ascii_lowercase)})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>", model_max_length=77
    )


@pytest.fixture(scope="module")
def tiny_modelscope_folder(tmp_path_factory) -> Path:
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    scratch = tmp_path_factory.mktemp("modelscope")
    unet = UNet3DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=8,
        attention_head_dim=4,
        norm_num_groups=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8,),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=54,
            hidden_size=8,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    pipe = TextToVideoSDPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_clip_tokenizer(scratch / "tok"),
        unet=unet,
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False),
    )
    folder = scratch / "text-to-video-ms-1.7b"
    pipe.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_modelscope_adapter_runs_a_local_tiny_text_to_video_pipeline(tiny_modelscope_folder, tmp_path):
    generator = ModelScopeT2V({"num_frames": 4, "height": 16, "width": 16, "steps": 2, "guidance": 9.0})
    generator.load("cpu", "float32", tiny_modelscope_folder)
    request = GenerationRequest("p1", "a red car", 0, 7, tmp_path / "a red car-0.mp4")
    (result,) = generator.generate([request])
    assert result.error is None, result.error
    frames, _ = decode_video(result.path)
    assert frames.shape == (4, 16, 16, 3)
    assert result.params["guidance_scale"] == 9.0 and generator.provenance()["licence"].startswith("CC-BY-NC")


def test_a_non_commercial_model_needs_accept_license_on_the_command_line(monkeypatch, tmp_path):
    from importlib.metadata import EntryPoint

    from typer.testing import CliRunner

    from vbench_lite import registry
    from vbench_lite.cli import app

    real = registry._entry_points
    point = EntryPoint(
        "modelscope-t2v",
        "vbench_lite.reference_models.adapters.diffusers_adapter:ModelScopeT2V",
        registry.GENERATORS_GROUP,
    )
    monkeypatch.setattr(
        registry,
        "_entry_points",
        lambda group: {**real(group), **({"modelscope-t2v": point} if group == registry.GENERATORS_GROUP else {})},
    )
    monkeypatch.setenv("VBL_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--model",
            "modelscope-t2v",
            "--out",
            str(tmp_path / "run"),
            "--db",
            f"sqlite:///{tmp_path / 'vbl.db'}",
        ],
    )
    assert result.exit_code == 2
    assert "--accept-license modelscope-t2v" in result.output and "CC-BY-NC-4.0" in result.output


@pytest.fixture(scope="module")
def tiny_cogvideox_folder(tmp_path_factory) -> Path:
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(WORDS),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    )
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4,
        attention_head_dim=8,
        in_channels=4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=2,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    pipe = CogVideoXPipeline(
        tokenizer=_word_tokenizer(),
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )
    folder = tmp_path_factory.mktemp("cog") / "CogVideoX-2b"
    pipe.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_cogvideox_adapter_passes_pipeline_kwargs_and_rounds_frames_to_4k_plus_1(tiny_cogvideox_folder, tmp_path):
    options = {"num_frames": 8, "height": 16, "width": 16, "steps": 2, "pipeline_kwargs": {"max_sequence_length": 16}}
    generator = CogVideoX2B(options)
    generator.load("cpu", "float32", tiny_cogvideox_folder)
    (result,) = generator.generate([GenerationRequest("p", "a red car", 0, 3, tmp_path / "car.mp4")])
    assert result.error is None, result.error
    assert result.params["num_frames"] == 9 and result.params["max_sequence_length"] == 16
    assert decode_video(result.path)[0].shape[0] == 9

    generator.options["pipeline_kwargs"] = {"no_such_argument": 1}
    (failed,) = generator.generate([GenerationRequest("p", "a red car", 0, 3, tmp_path / "bad.mp4")])
    assert failed.path is None and "no argument 'no_such_argument'" in failed.error


@pytest.fixture(scope="module")
def tiny_i2vgen_folder(tmp_path_factory) -> Path:
    from diffusers import AutoencoderKL, DDIMScheduler, I2VGenXLPipeline, I2VGenXLUNet
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    torch.manual_seed(0)
    scratch = tmp_path_factory.mktemp("i2v")
    unet = I2VGenXLUNet(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=4,
        attention_head_dim=4,
        num_attention_heads=None,
        norm_num_groups=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8,),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D"],
        latent_channels=4,
        norm_num_groups=2,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=54,
            hidden_size=4,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=4,
            projection_dim=4,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            intermediate_size=16,
            patch_size=1,
        )
    )
    pipe = I2VGenXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_clip_tokenizer(scratch / "tok"),
        image_encoder=image_encoder,
        feature_extractor=CLIPImageProcessor(crop_size=32, size=32),
        unet=unet,
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False),
    )
    pipe.save_pretrained(scratch / "i2vgen-xl")
    return scratch / "i2vgen-xl"


@pytest.mark.slow
def test_i2vgen_adapter_conditions_on_the_request_image(tiny_i2vgen_folder, tmp_path):
    from PIL import Image

    image = tmp_path / "first_frame.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)).save(image)
    generator = I2VGenXL({"num_frames": 4, "height": 32, "width": 32, "steps": 2})
    generator.load("cpu", "float32", tiny_i2vgen_folder)
    without, with_image = generator.generate(
        [
            GenerationRequest("p", "a cat", 0, 3, tmp_path / "no-image.mp4"),
            GenerationRequest("p", "a cat", 0, 3, tmp_path / "image.mp4", image=image),
        ]
    )
    assert without.path is None and "needs an image" in without.error  # failed alone, the run goes on
    assert with_image.error is None, with_image.error
    assert decode_video(with_image.path)[0].shape == (4, 32, 32, 3)
    assert with_image.params["target_fps"] == 16


@pytest.fixture(scope="module")
def tiny_hunyuan_folder(tmp_path_factory) -> Path:
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    torch.manual_seed(0)
    scratch = tmp_path_factory.mktemp("hunyuan")
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=1,
        patch_size_t=1,
        guidance_embeds=True,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
    )
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
    )
    llama = LlamaModel(
        LlamaConfig(
            vocab_size=len(WORDS),
            hidden_size=16,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=512,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=0,
        )
    )
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=54,
            hidden_size=8,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    pipe = HunyuanVideoPipeline(
        text_encoder=llama,
        tokenizer=_word_tokenizer(),
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=clip,
        tokenizer_2=_clip_tokenizer(scratch / "tok"),
    )
    pipe.save_pretrained(scratch / "HunyuanVideo")
    return scratch / "HunyuanVideo"


def test_hunyuanvideo_adapter_uses_embedded_guidance_with_true_cfg_off(tiny_hunyuan_folder, tmp_path):
    options = {"num_frames": 5, "height": 16, "width": 16, "steps": 2, "pipeline_kwargs": {"max_sequence_length": 16}}
    generator = HunyuanVideo(options)
    generator.load("cpu", "float32", tiny_hunyuan_folder)
    (result,) = generator.generate([GenerationRequest("p", "a cat", 0, 3, tmp_path / "cat.mp4")])
    assert result.error is None, result.error
    assert result.params["guidance_scale"] == 6.0 and result.params["true_cfg_scale"] == 1.0
    assert decode_video(result.path)[0].shape == (5, 16, 16, 3) and result.fps == 24


def test_wan_loads_its_transformer_in_the_run_dtype_but_keeps_the_vae_in_fp32(tiny_wan_folder):
    generator = Wan21T2V(OPTIONS)
    generator.load("cpu", "bfloat16", tiny_wan_folder)
    assert generator.pipe.transformer.dtype == torch.bfloat16
    assert generator.pipe.text_encoder.dtype == torch.bfloat16
    assert generator.pipe.vae.dtype == torch.float32
