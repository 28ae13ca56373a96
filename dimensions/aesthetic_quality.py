"""Aesthetic quality (Quality): how pleasing does each frame look? (docs/dimensions.md)

Per frame: x = clip_transform(frame) (short side → 224 bicubic, centre crop, CLIP norm), e = CLIP
ViT-L/14 image embedding (fp16 on CUDA, fp32 on CPU, as VBench's `clip.load`), cast to fp32,
a = LAION head(e / ‖e‖₂) / 10 (the head rates 1–10). value = mean over frames of a (fp32, as
VBench's `torch.mean`); aggregate = mean over videos.

Backend: "vbench" only (OpenAI `ViT-L-14.pt` + `sa_0_4_vit_l_14_linear.pth`): no installable
package ships these weights, so `--backend auto` runs it too and
`--backend embedded` is refused, naming the files it needs.
Deviation: VBench encodes 32 frames of one video per forward; here frames of several videos share
`batch_size`-frame batches. The arithmetic per frame is the same.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from vbench_lite.dimension import Dimension, FrameConsumer, FrameNeeds, VideoScore, score_whole
from vbench_lite.dimensions.backbones.aesthetic_head import LAION_AESTHETIC_HEAD, load_aesthetic_head
from vbench_lite.dimensions.backbones.clip import clip_weight_spec, load_clip
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream, tensor_encoder
from vbench_lite.dimensions.backbones.preprocess import clip_transform
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec, sha256_of

CLIP_ARCH = "ViT-L-14"
RATING_SCALE = 10.0  # the LAION head rates 1–10; VBench divides by 10


class AestheticQuality(Dimension):
    name: ClassVar[str] = "aesthetic_quality"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    frames: ClassVar[FrameNeeds] = FrameNeeds("all")
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    description: ClassVar[str] = "LAION aesthetic score of CLIP ViT-L/14 frame embeddings"

    def weights(self) -> list[WeightSpec]:
        return [clip_weight_spec(CLIP_ARCH), LAION_AESTHETIC_HEAD]

    def weights_sha256(self) -> str | None:
        """"<CLIP ViT-L/14 sha256>+<LAION head sha256>": the two files this backend reads."""
        if not getattr(self, "_clip", None):
            return None
        return f"{self._clip.weights_sha256()}+{sha256_of(self._head_path)}"

    def setup(self) -> None:
        self.backend = backend_for(self)  # "vbench": the only backend
        self._clip = load_clip(self.context, CLIP_ARCH)
        self._head, self._head_path = load_aesthetic_head(self.context)

    @torch.no_grad()
    def _frame_scores(self, pixels: torch.Tensor) -> torch.Tensor:
        embeddings = self._clip.encode_image(pixels).to(torch.float32)
        return self._head(F.normalize(embeddings, dim=-1, p=2)).squeeze(dim=-1) / RATING_SCALE

    def consumer(self, video: VideoMeta) -> FrameConsumer:
        encode = tensor_encoder(clip_transform, self._frame_scores, self.context.device)
        return FeatureStream(encode, self.context.batch_size, lambda scores: VideoScore(float(torch.mean(scores))))

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [score_whole(self.consumer(video.meta), video.frames) for video in videos]
