"""Frames scaled by FFmpeg while decoding, as decord's `VideoReader(path, width=W, height=H)` returns them.

VBench's scene dimension reads its frames that way: decord builds the FFmpeg filter graph
"scale=W:H" (aspect ratio not kept) ending in an rgb24 sink, so libswscale resizes in the
decoder's pixel format (e.g. yuv420p) and converts to RGB in the same pass, with the scale
filter's bilinear flags of the FFmpeg that decord bundles. Resizing already-decoded RGB frames
cannot give those bytes; the same filter graph through PyAV does (bit-identical on h264 clips,
tests/test_scene.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SCALE_FLAGS = "bilinear"  # the scale filter's default in decord's FFmpeg (4.x)


def decode_scaled(path: Path, indices: list[int], width: int, height: int) -> np.ndarray | None:
    """Frames `indices` (decode order) of `path` as uint8 (len(indices), height, width, 3) RGB.

    None when the file cannot be decoded this way (not a video file, damaged, fewer frames).
    """
    import av

    wanted = set(indices)
    scaled: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            graph = av.filter.Graph()
            source = graph.add_buffer(template=stream)
            scale = graph.add("scale", f"{width}:{height}:flags={SCALE_FLAGS}")
            to_rgb = graph.add("format", "rgb24")
            sink = graph.add("buffersink")
            source.link_to(scale)
            scale.link_to(to_rgb)
            to_rgb.link_to(sink)
            graph.configure()
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    graph.push(frame)
                    scaled[index] = graph.pull().to_ndarray()
                if len(scaled) == len(wanted):
                    break
    except (av.FFmpegError, IndexError, ValueError, OSError):
        return None
    if len(scaled) != len(wanted):
        return None
    return np.stack([scaled[i] for i in indices])
