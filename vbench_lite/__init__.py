"""vbench_lite: VBench's video-generation metrics, fast, stored, gated."""

__version__ = "0.1.0"
