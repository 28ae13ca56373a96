"""Temporal style (Semantic): does the video show the camera motion or pace asked for?

Identical procedure to overall_consistency (docs/dimensions.md, temporal_style): ViCLIP cosine
between the 8 "middle" frames and the full prompt (e.g. "..., in super slow motion", "..., zoom
in"), raw cosine, mean over videos.
VBench runs it on its own 100 temporal-style prompts; so does the suite here.
"""

from __future__ import annotations

from typing import ClassVar

from vbench_lite.dimensions.overall_consistency import OverallConsistency


class TemporalStyle(OverallConsistency):
    name: ClassVar[str] = "temporal_style"
    description: ClassVar[str] = "ViCLIP video–prompt cosine on camera-motion and pace prompts"
