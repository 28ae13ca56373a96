"""Tag2Text: the module layout is VBench's checkpoint layout, and loading is strict and explained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tag2text_random import owner_of
from tiny_tag2text import TINY, checkpoint_state, write_checkpoint

from vbench_lite.dimensions.backbones.beam_search import BeamSettings, beam_search
from vbench_lite.dimensions.backbones.tag2text import (
    Tag2TextConfig,
    build_tag2text,
    caption_frames,
    config_from_state,
    load_tag2text_file,
    prompt_tokens,
    source_frames,
    tag_names,
    tag_tokens,
    tied_keys,
)
from vbench_lite.errors import VblError

KEY_TABLE = Path(__file__).parent / "data" / "tag2text_keys.tsv"


def vbench_key_table() -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, role) of every state-dict entry of VBench's full-size model."""
    rows = []
    for line in KEY_TABLE.read_text().splitlines()[1:]:
        key, shape, _, role = line.split("\t")
        rows.append((key, tuple(int(n) for n in shape.split("x")), role))
    return rows


def test_full_size_model_has_the_checkpoint_keys_of_vbench_model():
    model = build_tag2text(Tag2TextConfig(), device="meta")
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    table = vbench_key_table()
    assert len(table) == 1038
    assert ours == {key: shape for key, shape, role in table if role != "derived"}
    # the derived buffers exist here too (computed, not loaded), with VBench's shapes
    buffers = {k: tuple(v.shape) for k, v in model.named_buffers()}
    derived = {key: shape for key, shape, role in table if role == "derived" and not key.endswith("position_ids")}
    assert buffers == derived
    assert sum(p.numel() for p in model.parameters()) == 372_007_193  # VBench's count, ties counted once


def test_tied_weights_are_the_ones_vbench_ties():
    model = build_tag2text(Tag2TextConfig(), device="meta")
    table_ties = {key: role.removeprefix("tied:") for key, _, role in vbench_key_table() if role.startswith("tied:")}
    assert len(table_ties) == 34
    assert tied_keys(model) == table_ties
    assert {key: owner_of(key) for key in table_ties} == table_ties  # the random-weights generator agrees


def test_config_is_read_from_the_checkpoint_shapes():
    shapes = {key: torch.empty(shape, device="meta") for key, shape, _ in vbench_key_table()}
    assert config_from_state(shapes) == Tag2TextConfig()
    assert config_from_state(checkpoint_state(TINY)) == TINY


def test_tiny_checkpoint_loads_strictly_with_ties_shared(tmp_path):
    path = write_checkpoint(tmp_path, TINY, seed=3)
    state = torch.load(path, weights_only=True)["model"]
    model = load_tag2text_file(path)
    loaded = model.state_dict()
    for key, tensor in loaded.items():
        assert torch.equal(tensor, state[key]), key
    decoder = model.text_decoder
    assert decoder.cls.predictions.decoder.weight is decoder.bert.embeddings.word_embeddings.weight
    encoder_layer, head_layer = model.tag_encoder.encoder.layer[1], model.vision_multi.encoder.layer[1]
    assert encoder_layer.intermediate.dense.weight is head_layer.intermediate.dense.weight
    assert encoder_layer.crossattention.self.num_heads == 2 and head_layer.crossattention.self.num_heads == 1
    block = model.visual_encoder.layers[0].blocks[1]
    assert torch.equal(block.attn_mask, state["visual_encoder.layers.0.blocks.1.attn_mask"])


def test_tied_copies_that_differ_resolve_to_the_later_key_as_vbench_loads_them(tmp_path):
    state = checkpoint_state(TINY)
    alias, owner = "text_decoder.cls.predictions.decoder.bias", "text_decoder.cls.predictions.bias"
    state[alias] = state[owner] + 1.0  # VBench's load_state_dict copies the alias last
    path = tmp_path / "t.pth"
    torch.save({"model": state}, path)
    model = load_tag2text_file(path)
    assert torch.equal(model.text_decoder.cls.predictions.bias, state[alias])


@pytest.mark.parametrize("damage, message", [
    (lambda s: s.pop("label_embed.weight"), "not a Tag2Text state dict: no label_embed.weight"),
    (lambda s: s.pop("fc.W"), "1 missing (e.g. fc.W)"),
    (lambda s: s.pop("visual_encoder.norm.bias"), "1 missing (e.g. visual_encoder.norm.bias)"),
    (lambda s: s.update(extra=torch.zeros(1)), "1 unexpected (e.g. extra)"),
    (lambda s: s.update({"visual_encoder.norm.bias": torch.zeros(3)}), "1 of another shape"),
])
def test_a_wrong_checkpoint_is_one_line_naming_the_keys(tmp_path, damage, message):
    state = checkpoint_state(TINY)
    damage(state)
    path = tmp_path / "tag2text_swin_14m.pth"
    torch.save({"model": state}, path)
    with pytest.raises(VblError) as error:
        load_tag2text_file(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_file_that_is_not_a_weights_only_checkpoint_is_refused(tmp_path):
    path = tmp_path / "tag2text_swin_14m.pth"
    torch.save({"model": {"visual_encoder.norm.bias": object()}}, path)  # needs full unpickling
    with pytest.raises(VblError, match="weights-only"):
        load_tag2text_file(path)


def test_tag_list_and_tokens_follow_tag2text():
    names = tag_names()
    assert len(names) == 3429
    assert [names[i] for i in (127, 3351, 3265, 3338, 3355, 3359)] == ["quarter", "two", "three", "four", "five", "one"]
    assert prompt_tokens() == [30522, 1037, 3861, 1997]  # [DEC] a picture of
    ids, mask = tag_tokens(["tennis | bear cub", "x " * 60], "cpu")
    assert ids[0, :7].tolist() == [30523, 5093, 1064, 4562, 21987, 102, 0]  # [ENC] tennis | bear cub [SEP] [PAD]
    assert mask[0].sum() == 6 and ids.shape == (2, 40)
    assert ids[1, -1] == 102 and mask[1].all()  # truncated to 40 tokens, [SEP] kept


def test_vbench_frame_mapping_captions_frame_b_from_frame_b_over_3():
    assert source_frames(16, "vbench") == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5]
    assert source_frames(4, "per_frame") == [0, 1, 2, 3]


@pytest.mark.slow
def test_batch_captions_equal_single_frame_captions_of_their_source(tmp_path):
    model = load_tag2text_file(write_checkpoint(tmp_path, TINY, seed=1))
    pixels = torch.randn(4, 3, 384, 384, generator=torch.Generator().manual_seed(0))
    batch = caption_frames(model, pixels, "vbench")
    single = [caption_frames(model, pixels[i : i + 1], "per_frame").captions[0] for i in (0, 1)]
    assert batch.sources == [0, 0, 0, 1]
    assert batch.captions == [single[0]] * 3 + [single[1]]
    assert sorted(batch.tags) == [0, 1]


def test_beam_search_keeps_eos_out_until_min_length_and_ranks_by_mean_log_prob():
    vocab, eos = 5, 4
    # token 1 is always likely, EOS likelier still: EOS must wait for min_length (prompt included)
    logits = torch.tensor([0.0, 2.0, 0.0, 0.0, 3.0])

    def step(new_tokens: torch.Tensor, reorder: torch.Tensor | None) -> torch.Tensor:
        return logits.expand(new_tokens.shape[0], vocab).clone()

    settings = BeamSettings(num_beams=2, max_length=8, min_length=4, eos_token_id=eos, pad_token_id=0)
    best = beam_search(torch.tensor([[3, 3]]), step, settings)[0]
    assert best.tokens == [3, 3, 1, 1]  # EOS as soon as it is allowed, after 2 generated tokens
    log_p = torch.log_softmax(logits, 0)
    assert best.score == pytest.approx(float(2 * log_p[1] + log_p[4]) / 4, rel=1e-6)
