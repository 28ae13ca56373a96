"""Tag2Text (Swin-B 384, 14M-image pre-training): image → tags → "a picture of …" caption.

The network VBench's `scene` runs (`tag2text_caption(image_size=384, vit='swin_b')`):
1. `visual_encoder`: Swin-B (embed 128, depths 2-2-18-2, heads 4-8-16-32, window 12) →
   145 tokens of 1024-d (the mean token first).
2. Tagging: `vision_multi`, a 2-layer BERT tag head (4 heads) whose 3,429 label queries
   (`label_embed`) cross-attend to the image tokens; `fc` scores each tag c as
   Σ_d W[c,d]·h[c,d] + b[c]. A tag is on when sigmoid(score) > 0.7; quarter, two, three, four,
   five and one are always off. The tag text is the on-tags' names joined by " | " in index order.
3. `tag_encoder`: a 12-layer BERT reading "[ENC] tags [SEP]" (40 tokens, padded) with
   cross-attention to the image tokens. Its two lowest layers' cross-attention and feed-forward
   weights are `vision_multi`'s (tied).
4. `text_decoder`: a 12-layer causal BERT with cross-attention to the tag encoder's 40 states
   (padding included), decoding "[DEC] a picture of" by beam search (3 beams, 30 tokens at most,
   10 at least, EOS = [SEP]). The caption is the decoded text minus its first 13 characters.

VBench's pinned transformers (4.33) expands the encoder states a second time inside beam search,
and Tag2Text's attention keeps only the first rows, so in a batch of frames the caption of frame b
is the caption of frame ⌊b/3⌋. `FrameMapping` chooses between that ("vbench") and true per-frame
captions ("per_frame"); both compute each needed caption once.

Loading: `tag2text_swin_14m.pth` is `{"model": state_dict}`, read with `weights_only=True`.
The state dict's derived buffers (Swin's relative-position index and shift masks, BERT's
position ids) are dropped, since the module computes them; tied tensors appear under every
name and the copy VBench's loader ends up with (the later key) is used for the group. Any
other difference is a one-line error naming the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones import bert_tokenizer
from vbench_lite.dimensions.backbones.beam_search import BeamSettings, beam_search
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.dimensions.backbones.swin import SwinBlock, SwinConfig, SwinTransformer
from vbench_lite.dimensions.backbones.tag2text_bert import BertConfig, BertLMHeadModel, BertModel
from vbench_lite.errors import VblError
from vbench_lite.weights import WeightSpec, require_weight

TAG2TEXT_SPEC = WeightSpec(
    key="tag2text_swin_14m",
    file="tag2text_swin_14m.pth",
    backend="vbench",
    vbench_subdir="caption_model",
    url="https://huggingface.co/spaces/xinyu1205/recognize-anything/resolve/main/tag2text_swin_14m.pth",
    licence="Apache-2.0",
    what="Tag2Text Swin-B 384 captioner (4.5 GB), scene",
)

IMAGE_SIZE = 384
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TAG_THRESHOLD = 0.7
SUPPRESSED_TAGS = (127, 3351, 3265, 3338, 3355, 3359)  # quarter, two, three, four, five, one
TAG_SEPARATOR = " | "
TAG_TOKENS = 40  # the tag text is padded/truncated to 40 tokens, [ENC] and [SEP] included
PROMPT = "a picture of "
DEC_ID, ENC_ID = 30522, 30523  # Tag2Text's tokens added after the 30,522 BERT ones
BEAMS = BeamSettings(num_beams=3, max_length=30, min_length=10,
                     eos_token_id=102, pad_token_id=0)  # EOS = [SEP], pad = [PAD]
FrameMapping = Literal["vbench", "per_frame"]
FRAME_MAPPINGS: tuple[FrameMapping, ...] = ("vbench", "per_frame")
# What the module computes itself; checkpoints carry copies, which the loader drops.
DERIVED_BUFFERS = ("relative_position_index", "attn_mask", "position_ids")


@dataclass(frozen=True)
class Tag2TextConfig:
    swin: SwinConfig = field(default_factory=SwinConfig)
    text: BertConfig = field(default_factory=BertConfig)  # tag encoder and caption decoder
    tag_head: BertConfig = field(default_factory=lambda: BertConfig(vocab_size=30522, num_layers=2, num_heads=4))
    num_tags: int = 3429


class GroupWiseLinear(nn.Module):
    """One linear score per tag over that tag's own query output."""

    def __init__(self, num_tags: int, width: int):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(1, num_tags, width))
        self.b = nn.Parameter(torch.zeros(1, num_tags))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return (self.W * hidden).sum(-1) + self.b


class Tag2Text(nn.Module):
    def __init__(self, config: Tag2TextConfig | None = None):
        super().__init__()
        config = config or Tag2TextConfig()
        self.config = config
        width = config.swin.num_features
        self.visual_encoder = SwinTransformer(config.swin)
        self.text_decoder = BertLMHeadModel(config.text.with_(encoder_width=config.text.hidden_size))
        self.tag_encoder = BertModel(config.text.with_(encoder_width=width))
        self.vision_multi = BertModel(config.tag_head.with_(encoder_width=width), embeddings=False,
                                      self_attention=False)
        self.label_embed = nn.Embedding(config.num_tags, config.tag_head.hidden_size)
        self.fc = GroupWiseLinear(config.num_tags, config.tag_head.hidden_size)
        self.tie_weights()

    def tie_weights(self) -> None:
        """The decoder's LM head is its word embedding; the tag encoder's lowest layers use the tag
        head's cross-attention and feed-forward tensors (the tensors only: each keeps its own
        number of attention heads, 12 and 4)."""
        self.text_decoder.tie_weights()
        for index, head_layer in enumerate(self.vision_multi.encoder.layer):
            encoder_layer = self.tag_encoder.encoder.layer[index]
            for part in ("crossattention", "intermediate", "output"):
                encoder_part = getattr(encoder_layer, part)
                for name, tensor in getattr(head_layer, part).named_parameters():
                    owner, _, leaf = name.rpartition(".")
                    setattr(encoder_part.get_submodule(owner), leaf, tensor)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.visual_encoder(pixels)

    def tag_logits(self, image_embeds: torch.Tensor) -> torch.Tensor:
        queries = self.label_embed.weight.unsqueeze(0).expand(image_embeds.shape[0], -1, -1)
        return self.fc(self.vision_multi.query(queries, image_embeds))

    def tag_texts(self, logits: torch.Tensor) -> list[str]:
        on = torch.sigmoid(logits) > TAG_THRESHOLD
        on[:, list(SUPPRESSED_TAGS)] = False
        names = tag_names()
        return [TAG_SEPARATOR.join(names[i] for i in row.nonzero().flatten().tolist()) for row in on]

    def caption(self, image_embeds: torch.Tensor, tags: list[str]) -> list[str]:
        """One beam-searched caption per image, guided by its tag text."""
        device = image_embeds.device
        ids, mask = tag_tokens(tags, device)
        tag_states = self.tag_encoder(ids, mask, image_embeds)
        beams = BEAMS.num_beams
        cross = [(k.repeat_interleave(beams, 0), v.repeat_interleave(beams, 0))
                 for k, v in self.text_decoder.cross_key_values(tag_states)]
        cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None

        def step(new_tokens: torch.Tensor, reorder: torch.Tensor | None) -> torch.Tensor:
            nonlocal cache
            if cache is not None and reorder is not None:
                cache = [(k[reorder], v[reorder]) for k, v in cache]
            logits, cache = self.text_decoder.step(new_tokens, cross, cache)
            return logits

        prompt = torch.tensor([prompt_tokens()] * len(tags), device=device)
        best = beam_search(prompt, step, BEAMS)
        return [bert_tokenizer.decode(without_added_tokens(h.tokens))[len(PROMPT):] for h in best]


def source_frames(count: int, mapping: FrameMapping) -> list[int]:
    """Which frame's caption each of `count` batched frames gets (VBench: ⌊b/beams⌋)."""
    if mapping == "per_frame":
        return list(range(count))
    return [b // BEAMS.num_beams for b in range(count)]


@dataclass
class FrameCaptions:
    captions: list[str]  # one per input frame
    sources: list[int]  # the frame each caption was computed from
    tags: dict[int, str]  # tag text of every source frame


@torch.no_grad()
def caption_frames(model: Tag2Text, pixels: torch.Tensor, mapping: FrameMapping = "vbench") -> FrameCaptions:
    """Captions of a batch of normalised 384×384 frames, as VBench's `generate` batch gives them."""
    sources = source_frames(pixels.shape[0], mapping)
    needed = sorted(set(sources))
    image_embeds = model.encode_images(pixels[needed])
    tags = model.tag_texts(model.tag_logits(image_embeds))
    captions = dict(zip(needed, model.caption(image_embeds, tags), strict=True))
    return FrameCaptions([captions[s] for s in sources], sources, dict(zip(needed, tags, strict=True)))


def normalize_frames(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (T, H, W, 3) → (T, 3, H, W): ToTensor (÷255) then ImageNet Normalize, in that order."""
    pixels = frames.permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(IMAGENET_MEAN, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=pixels.device).view(1, 3, 1, 1)
    return pixels.sub(mean).div(std)


# ---- text ------------------------------------------------------------------------------------


@cache
def tag_names() -> tuple[str, ...]:
    """The 3,429 tag names, in the order of the tag head's outputs."""
    text = (resources.files("vbench_lite.dimensions.backbones") / "data" / "tag2text_tags.txt").read_text("utf-8")
    return tuple(text.splitlines())


@cache
def prompt_tokens() -> list[int]:
    """"[CLS] a picture of [SEP]" with [CLS] → [DEC] and [SEP] dropped: the decoder's prefix."""
    return [DEC_ID, *bert_tokenizer.encode(PROMPT)]


def tag_tokens(tags: list[str], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Each tag text as "[ENC] tokens [SEP]" padded to 40, and its attention mask."""
    cls, sep, pad = (bert_tokenizer.token_id(t) for t in (bert_tokenizer.CLS, bert_tokenizer.SEP, bert_tokenizer.PAD))
    ids = torch.full((len(tags), TAG_TOKENS), pad, dtype=torch.long)
    mask = torch.zeros((len(tags), TAG_TOKENS), dtype=torch.long)
    for row, text in enumerate(tags):
        tokens = [cls, *bert_tokenizer.encode(text)[: TAG_TOKENS - 2], sep]
        tokens[0] = ENC_ID
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    return ids.to(device), mask.to(device)


def without_added_tokens(ids: list[int]) -> list[int]:
    """[DEC] and [ENC] are special tokens of Tag2Text's tokenizer: decoding skips them."""
    return [i for i in ids if i not in (DEC_ID, ENC_ID)]


# ---- loading ---------------------------------------------------------------------------------

# Weight shapes do not store head counts: these are the real checkpoint's head widths.
TEXT_HEAD_WIDTH = 64  # 768 / 12 heads
TAG_HEAD_HEAD_WIDTH = 192  # 768 / 4 heads


def config_from_state(state: dict[str, torch.Tensor]) -> Tag2TextConfig:
    """The configuration a Tag2Text state dict was trained with, read from its shapes."""

    def count(prefix: str) -> int:
        return len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)})

    try:
        stages = count("visual_encoder.layers.")
        depths = tuple(count(f"visual_encoder.layers.{i}.blocks.") for i in range(stages))
        tables = [state[f"visual_encoder.layers.{i}.blocks.0.attn.relative_position_bias_table"] for i in range(stages)]
        patch = state["visual_encoder.patch_embed.proj.weight"]
        words = state["text_decoder.bert.embeddings.word_embeddings.weight"]
        positions = state["text_decoder.bert.embeddings.position_embeddings.weight"]
        text_ffn = state["text_decoder.bert.encoder.layer.0.intermediate.dense.weight"]
        head_ffn = state["vision_multi.encoder.layer.0.intermediate.dense.weight"]
        labels = state["label_embed.weight"]
    except KeyError as error:
        raise VblError(f"not a Tag2Text state dict: no {error.args[0]}") from None
    window = (round(tables[0].shape[0] ** 0.5) + 1) // 2
    hidden = words.shape[1]
    swin = SwinConfig(image_size=IMAGE_SIZE, patch_size=patch.shape[-1], embed_dim=patch.shape[0], depths=depths,
                      num_heads=tuple(t.shape[1] for t in tables), window_size=window)
    text = BertConfig(vocab_size=words.shape[0], hidden_size=hidden,
                      num_layers=count("text_decoder.bert.encoder.layer."), num_heads=max(1, hidden // TEXT_HEAD_WIDTH),
                      intermediate_size=text_ffn.shape[0], max_positions=positions.shape[0])
    tag_head = BertConfig(vocab_size=DEC_ID, hidden_size=labels.shape[1],
                          num_layers=count("vision_multi.encoder.layer."),
                          num_heads=max(1, labels.shape[1] // TAG_HEAD_HEAD_WIDTH),
                          intermediate_size=head_ffn.shape[0], max_positions=positions.shape[0])
    return Tag2TextConfig(swin=swin, text=text, tag_head=tag_head, num_tags=labels.shape[0])


def tied_keys(model: nn.Module) -> dict[str, str]:
    """Every state-dict key that names the same tensor as an earlier key → that earlier key."""
    first: dict[int, str] = {}
    aliases = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        owner = first.setdefault(id(tensor), key)
        if owner != key:
            aliases[key] = owner
    return aliases


def prepare_state(model: Tag2Text, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's state dict made ready for a strict load: derived buffers dropped, ties resolved.

    Where a tied group's copies differ, the later key's copy is used: that is the value a
    `load_state_dict` over the tied modules (VBench's loader) leaves in place.
    """
    state = {k: v for k, v in state.items() if k.rsplit(".", 1)[-1] not in DERIVED_BUFFERS}
    for alias, owner in tied_keys(model).items():
        if alias in state and owner in state:
            state[owner] = state[alias]
    return state


def load_state_strict(model: Tag2Text, state: dict[str, torch.Tensor], name: str) -> None:
    expected = model.state_dict()
    problems = []
    for label, keys in (
        ("missing", [k for k in expected if k not in state]),
        ("unexpected", [k for k in state if k not in expected]),
        ("of another shape", [k for k in expected if k in state and state[k].shape != expected[k].shape]),
    ):
        if keys:
            problems.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
    if problems:
        raise VblError(f"{name} is not a Tag2Text Swin-B 384 checkpoint: keys {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in `path` (Tag2Text's {"model": …} wrapper, optimizer state and all, or a bare one)."""
    try:  # memory-mapped: the optimizer state that ships in the same file is never read
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - the legacy (non-zip) format cannot be memory-mapped
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - unpickling refusals come in several types
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise VblError(f"cannot read {path.name} as a weights-only PyTorch checkpoint ({reason})") from None
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        checkpoint = checkpoint["model"]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise VblError(f"{path.name} holds no state dict (expected {{'model': state_dict}})")
    return checkpoint


def build_tag2text(config: Tag2TextConfig | None = None, device: str | torch.device = "cpu") -> Tag2Text:
    """An uninitialised Tag2Text on `device` (weights to be loaded), ties and derived buffers in place."""
    with torch.device("meta"):
        model = Tag2Text(config)
    if torch.device(device).type == "meta":
        return model
    model = model.to_empty(device=device)
    model.tie_weights()  # to_empty gives each module its own new tensors
    for module in model.visual_encoder.modules():
        if isinstance(module, SwinBlock):
            module.reset_derived_buffers()
    return model


def load_tag2text_file(path: Path) -> Tag2Text:
    """Tag2Text from a checkpoint file, its size read from the tensors' shapes; strict."""
    path = Path(path)
    state = read_checkpoint(path)
    model = build_tag2text(config_from_state(state))
    load_state_strict(model, prepare_state(model, state), path.name)
    return model.eval()


def load_tag2text(context: ScoringContext) -> tuple[Tag2Text, Path]:
    """The shared Tag2Text instance for this process and the file it came from."""
    path = require_weight(TAG2TEXT_SPEC, context.weights_dir)
    model = context.backbones.get(
        ("tag2text-swin-b-384", str(path), context.device),
        # 144 rows: one of Swin-B's 12×12 attention windows
        lambda: choose_kernel_routes(load_tag2text_file(path).to(context.device), context.device, tokens=144, images=1),
    )
    return model, path
