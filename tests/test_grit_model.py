"""GRiT-B loads VBench's checkpoint layout strictly, rejects others in one line, and decodes as GRiT does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from clips import sample_frames
from tiny_grit import TINY, tiny_grit_state, write_tiny_grit

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones import grit_text
from vbench_lite.dimensions.backbones.grit import GRiT, grit_from_state_dict, load_grit, load_grit_file
from vbench_lite.errors import VblError, WeightsMissing


def test_the_seeded_weights_design_the_words_they_name():
    from grit_seeded import COLOURS, NAMES

    from vbench_lite.dimensions.backbones import bert_tokenizer

    for word, token in {**NAMES, **COLOURS}.items():
        assert bert_tokenizer.encode(word) == [token]


def _table() -> dict[str, tuple[int, ...]]:
    """tests/data/grit_keys.tsv: every key and shape of the state dict VBench's GRiT-B builds."""
    from pathlib import Path

    rows = (Path(__file__).parent / "data" / "grit_keys.tsv").read_text().splitlines()
    return {k: tuple(int(x) for x in s.strip("()").split(",") if x.strip()) for k, s in (r.split("\t") for r in rows)}


def test_full_size_model_has_exactly_vbenchs_keys_and_shapes():
    with torch.device("meta"):
        model = GRiT()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == _table()
    assert sum(p.numel() for p in model.parameters()) == 208_627_543  # VBench's GRiT-B: 208.63 M


def test_both_text_decoders_are_one_head_with_tied_output():
    model = GRiT(TINY)
    assert model.roi_heads.text_decoder.textual is model.roi_heads.text_decoder_det.textual
    assert model.textual.output.weight is model.textual.embedding.words.weight


@pytest.mark.slow
def test_tiny_grit_in_the_real_layout_loads_strictly_through_the_user_path(weights_home):
    path = write_tiny_grit(weights_home)
    detector, found = load_grit(ScoringContext())
    assert found == path
    state = tiny_grit_state()
    for key, tensor in detector.model.state_dict().items():
        assert torch.equal(tensor, state[key].half().float()), key
    frames, _ = sample_frames("carphone_pristine")
    detections = detector.detect([frames[0].astype(np.float32), frames[5].astype(np.float32)], captions=True)
    assert len(detections) == 2
    for found_frame in detections:
        assert len(found_frame.names) == len(found_frame.captions) == len(found_frame.boxes) == len(found_frame.scores)


def test_missing_weights_name_the_file_and_where_to_put_it(weights_home):
    with pytest.raises(WeightsMissing, match="grit_b_densecap_objectdet.pth.*grit_model"):
        load_grit(ScoringContext())


def test_a_wrong_checkpoint_is_one_line_naming_what_is_wrong(tmp_path):
    state = tiny_grit_state()
    broken = dict(state)
    del broken["roi_heads.box_head.1.fc2.bias"]
    with pytest.raises(VblError, match="missing roi_heads.box_head.1.fc2.bias"):
        grit_from_state_dict(broken)
    extra = {**state, "roi_heads.extra.weight": torch.zeros(1)}
    with pytest.raises(VblError, match="unexpected roi_heads.extra.weight"):
        grit_from_state_dict(extra)
    resized = {**state, "backbone.fpn_stride8_norm1.weight": torch.zeros(7)}
    with pytest.raises(VblError, match=r"fpn_stride8_norm1.weight has shape \(7,\)"):
        grit_from_state_dict(resized)
    with pytest.raises(VblError, match="not a GRiT checkpoint"):
        grit_from_state_dict({"cls_token": torch.zeros(1)})
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(VblError, match="not a GRiT checkpoint"):
        load_grit_file(tmp_path / "list.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(VblError, match="cannot be read as a weights-only torch checkpoint"):
        load_grit_file(tmp_path / "text.pth")


def _logits_recomputed(head: grit_text.TextualHead, memory_in: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """GRiT's own step: the whole [memory; text] sequence through every layer, with GRiT's mask."""
    memory = head.object_feature_projection(memory_in)
    text = head.embedding.layer_norm(head.embedding.words(tokens) + head.embedding.positions.weight[: tokens.shape[1]])
    x = torch.cat((memory, text), dim=1)
    m, t = memory.shape[1], tokens.shape[1]
    mask = torch.zeros(m + t, m + t)
    mask[:m, m:] = float("-inf")
    mask[m:, m:] = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
    for layer in head.transformer.encoder.layer:
        q, k, v = (layer.heads(f(x)) for f in (layer.attention.self.query, layer.attention.self.key,
                                                layer.attention.self.value))
        scores = (q / q.shape[-1] ** 0.5) @ k.transpose(-1, -2) + mask
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(x.shape)
        attended = layer.attention.output(context, x)
        x = layer.output(layer.intermediate(attended), attended)
    return head.output(x[:, m:])


def test_cached_memory_and_text_states_give_grits_full_recomputation():
    torch.manual_seed(0)
    head = grit_text.TextualHead(object_channels=32, hidden=64, layers=2).eval()
    memory_in = torch.randn(3, 196, 32)
    tokens = torch.tensor([[101, 2482, 2417, 1037], [104, 3899, 102, 102], [101, 7, 8, 9]])
    with torch.no_grad():
        full = _logits_recomputed(head, memory_in, tokens)
        memory, cache = head.memory_states(memory_in), []
        for position in range(tokens.shape[1]):
            step = head.step_logits(tokens[:, position], position, memory, cache)
            torch.testing.assert_close(step, full[:, position], rtol=1e-5, atol=1e-5)


def test_greedy_search_bans_repeats_keeps_ended_rows_ended_and_normalises_by_length():
    torch.manual_seed(0)
    head = grit_text.TextualHead(object_channels=32, hidden=64, layers=2).eval()
    with torch.no_grad():
        head.output.bias.fill_(-50.0)
        head.output.bias[[2482, 2417]] = 20.0  # two tokens far ahead: greedy would repeat one forever
        memory = head.memory_states(torch.randn(2, 196, 32))
        tokens, logprobs = grit_text.greedy_captions(head, memory, grit_text.OBJECTDET_TOKEN)
    assert tokens.shape == (2, grit_text.MAX_STEPS)
    for row in tokens[:, 1:].tolist():
        assert all(a != b for a, b in zip(row, row[1:], strict=False)) and set(row) == {2482, 2417}
    with torch.no_grad():  # [SEP] first, for every row: GRiT's early return, with the step-0 log-probability
        head.output.bias[grit_text.END_TOKEN] = 100.0
        tokens, logprobs = grit_text.greedy_captions(head, memory, grit_text.DENSECAP_TOKEN)
    assert tokens.tolist() == [[104, 102], [104, 102]]
    assert torch.all(logprobs <= 0) and torch.all(logprobs > -1e-3)


@pytest.mark.slow
def test_frames_of_different_sizes_are_detected_in_their_own_batches(weights_home):
    write_tiny_grit(weights_home)
    detector, _ = load_grit(ScoringContext())
    frames, _ = sample_frames("carphone_pristine")
    small, large = frames[3].astype(np.float32), np.pad(frames[3], ((0, 40), (0, 24), (0, 0))).astype(np.float32)
    together = detector.detect([small, large, small])
    alone = detector.detect([large])
    np.testing.assert_allclose(together[1].boxes, alone[0].boxes, atol=1e-4)
    np.testing.assert_allclose(together[0].boxes, together[2].boxes)


@pytest.mark.slow
def test_the_dimensions_share_detections_of_frames_seen_before(weights_home):
    from vbench_lite.dimensions.color import Color
    from vbench_lite.dimensions.object_class import ObjectClass
    from vbench_lite.video import Video

    write_tiny_grit(weights_home)
    context = ScoringContext()
    first, second = ObjectClass(context), Color(context)
    first.setup()
    second.setup()
    assert first._detector is second._detector  # one cache per process and weights file
    inner = first._detector.detector
    calls: list[int] = []
    detect = inner.detect
    inner.detect = lambda frames, captions=False: calls.append(len(frames)) or detect(frames, captions)  # type: ignore[method-assign]
    frames, _ = sample_frames("carphone_pristine")
    clip = frames[[0, 1, 1, 2]]  # a repeated frame, as VBench's 16-frame sampler makes on short videos
    video = Video(clip, 25.0, path=None, prompt="a red car", aux={"object": "car", "color": "red"})  # type: ignore[arg-type]
    first.score_batch([video])
    second.score_batch([video])
    assert calls == [3]  # three distinct frames, detected once for both dimensions
