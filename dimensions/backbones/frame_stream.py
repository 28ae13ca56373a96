"""A per-frame network run on a video as it streams by, keeping only the network's outputs.

`FeatureStream(encode, batch_size, finish)` regroups the decoded chunks into network batches of
`batch_size` frames counted from the video's first frame, so a frame meets the network in the same
batch however the video was chunked, and the same as when the whole decoded video is scored
(`score_whole`): the numbers do not depend on chunking. `encode` maps uint8 frames [n, H, W, 3] to
per-frame outputs [n, ...] (features, scores); `finish` turns all of them into the video's score.

`tensor_encoder` converts and transforms a batch a few frames at a time (TRANSFORM_BYTES of float
pixels): the full-size float copy of 16 frames of 1080p would take 400 MB for a moment, where the
transformed frames (224 pixels on a side) take 10-20 MB. The transforms work image by image, so the numbers do not
change.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vbench_lite.dimension import FrameConsumer, VideoScore
from vbench_lite.dimensions.backbones.preprocess import frames_to_tensor

TRANSFORM_BYTES = 64 * 1024**2  # float32 full-size pixels converted at once (at least one frame)


class FeatureStream(FrameConsumer):
    def __init__(self, encode: Callable[[np.ndarray], torch.Tensor], batch_size: int,
                 finish: Callable[[torch.Tensor], VideoScore]):
        self.encode = encode
        self.batch_size = max(1, batch_size)
        self.on_finish = finish
        self.pending: list[np.ndarray] = []
        self.waiting = 0
        self.outputs: list[torch.Tensor] = []

    def feed(self, frames: np.ndarray, start: int) -> None:
        self.pending.append(frames)
        self.waiting += len(frames)
        while self.waiting >= self.batch_size:
            self._run(self._take(self.batch_size))

    def finish(self) -> VideoScore:
        if self.waiting:
            self._run(self._take(self.waiting))
        return self.on_finish(torch.cat(self.outputs) if self.outputs else torch.empty(0))

    def _take(self, count: int) -> np.ndarray:
        joined = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending)
        self.pending = [joined[count:]] if len(joined) > count else []
        self.waiting = len(joined) - count
        return joined[:count]

    def _run(self, frames: np.ndarray) -> None:
        self.outputs.append(self.encode(frames))


def tensor_encoder(
    transform: Callable[[torch.Tensor], torch.Tensor], network: Callable[[torch.Tensor], torch.Tensor], device: str
) -> Callable[[np.ndarray], torch.Tensor]:
    """uint8 frames → the network's outputs, through `transform` on `device`, without autograd."""

    @torch.no_grad()
    def encode(frames: np.ndarray) -> torch.Tensor:
        step = max(1, TRANSFORM_BYTES // max(1, frames[0].size * 4))
        parts = [transform(frames_to_tensor(frames[a : a + step], device)) for a in range(0, len(frames), step)]
        return network(parts[0] if len(parts) == 1 else torch.cat(parts))

    return encode
