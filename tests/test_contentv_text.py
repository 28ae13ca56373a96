"""Text conditioning: the toy encoder, and the SD3 stack (CLIP-L + bigG + T5) from local folders.

The SD3 stack is tested with tiny, randomly initialised `transformers` models and tokenizers written
to a ContentV-layout folder; its output is compared with diffusers' own SD3 `encode_prompt`.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest
import torch

from vbench_lite.reference_models.contentv.config import load_preset
from vbench_lite.reference_models.contentv.pipeline import ContentVPipeline
from vbench_lite.reference_models.contentv.text import SD3TextStack, ToyTextEncoder, toy_token_ids

MAX_T5 = 16  # the tiny preset's max_sequence_length


def test_toy_tokens_are_stable_hashed_words_with_an_end_token_and_padding():
    ids = toy_token_ids("A cat, a CAT", 8, 512)
    assert ids[0] == ids[3] and ids[1] == ids[4]  # case-insensitive words
    assert ids[5] == 1 and ids[6:] == [0, 0]
    assert toy_token_ids("word " * 50, 8, 512)[-1] == 1  # truncated, still ended


def test_toy_encoder_gives_the_sd3_layout_of_the_tiny_preset():
    config = load_preset("tiny").toy_text
    encoder = ToyTextEncoder(config)
    sequence, pooled = encoder.encode(["a cat", "a dog"])
    assert sequence.shape == (2, 8 + 16, 64) and pooled.shape == (2, 32)
    assert not torch.equal(sequence[0], sequence[1])


def _clip_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        vocab.update({c + suffix: len(vocab) + i for i, c in enumerate(string.ascii_lowercase)})
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>", model_max_length=77
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def _t5_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "a", "cat", "dog", "red", "car", "on", "the", "moon"]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def sd3_checkpoint(tmp_path_factory) -> Path:
    """A tiny ContentV-layout folder: tiny MMDiT + VAE, two CLIPs (16 wide) and a T5 (64 wide)."""
    pytest.importorskip("transformers")
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    folder = tmp_path_factory.mktemp("sd3") / "ContentV-tiny"
    pipe = ContentVPipeline.random("tiny")
    pipe.text = None  # written below in the SD3 layout instead of the toy encoder
    pipe.save(folder)
    torch.manual_seed(0)
    for index, sub in enumerate(("text_encoder", "text_encoder_2")):
        tokenizer = _clip_tokenizer(folder / ("tokenizer" if index == 0 else "tokenizer_2"))
        config = CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            projection_dim=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=77,
            eos_token_id=1,
            bos_token_id=0,
            pad_token_id=1,
        )
        CLIPTextModelWithProjection(config).save_pretrained(folder / sub)
    _t5_tokenizer().save_pretrained(folder / "tokenizer_3")
    T5EncoderModel(
        T5Config(
            vocab_size=11, d_model=64, d_kv=16, d_ff=64, num_layers=2, num_heads=4, relative_attention_num_buckets=8
        )
    ).save_pretrained(folder / "text_encoder_3")
    return folder


def test_sd3_stack_layout_is_clip_77_then_t5_with_pooled_clip_pair(sd3_checkpoint):
    stack = SD3TextStack(sd3_checkpoint, "cpu", torch.float32, max_sequence_length=MAX_T5)
    sequence, pooled = stack.encode(["a cat on the moon"])
    assert sequence.shape == (1, 77 + MAX_T5, 64) and pooled.shape == (1, 32)
    assert torch.equal(sequence[0, :77, 32:], torch.zeros(77, 32))  # CLIP 16+16 zero-padded to T5 width


def test_sd3_stack_matches_diffusers_encode_prompt(sd3_checkpoint):
    diffusers = pytest.importorskip("diffusers")
    from transformers import AutoTokenizer, CLIPTextModelWithProjection, CLIPTokenizer, T5EncoderModel

    load = {"local_files_only": True}
    pipe = diffusers.StableDiffusion3Pipeline(
        transformer=diffusers.SD3Transformer2DModel(
            sample_size=8,
            patch_size=1,
            in_channels=4,
            num_layers=1,
            attention_head_dim=8,
            num_attention_heads=2,
            joint_attention_dim=64,
            caption_projection_dim=16,
            pooled_projection_dim=32,
            out_channels=4,
        ),
        vae=diffusers.AutoencoderKL(block_out_channels=[4], latent_channels=4, norm_num_groups=1),
        scheduler=diffusers.FlowMatchEulerDiscreteScheduler(),
        text_encoder=CLIPTextModelWithProjection.from_pretrained(sd3_checkpoint / "text_encoder", **load),
        text_encoder_2=CLIPTextModelWithProjection.from_pretrained(sd3_checkpoint / "text_encoder_2", **load),
        text_encoder_3=T5EncoderModel.from_pretrained(sd3_checkpoint / "text_encoder_3", **load),
        tokenizer=CLIPTokenizer.from_pretrained(sd3_checkpoint / "tokenizer", **load),
        tokenizer_2=CLIPTokenizer.from_pretrained(sd3_checkpoint / "tokenizer_2", **load),
        tokenizer_3=AutoTokenizer.from_pretrained(sd3_checkpoint / "tokenizer_3", **load),
    )
    prompts = ["a red car", "a dog on the moon"]
    with torch.no_grad():
        theirs, _, their_pooled, _ = pipe.encode_prompt(
            prompts, None, None, do_classifier_free_guidance=False, max_sequence_length=MAX_T5
        )
    ours, our_pooled = SD3TextStack(sd3_checkpoint, "cpu", torch.float32, MAX_T5).encode(prompts)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(our_pooled, their_pooled, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_a_checkpoint_with_the_sd3_text_stack_generates_end_to_end(sd3_checkpoint):
    pipe = ContentVPipeline.from_checkpoint(sd3_checkpoint, "tiny", dtype=torch.float32)
    assert isinstance(pipe.text, SD3TextStack)
    frames, _ = pipe.generate(["a cat"], [1], pipe.default_params(num_frames=5, height=32, width=32))
    assert frames.shape == (1, 5, 32, 32, 3) and frames.dtype == np.uint8
