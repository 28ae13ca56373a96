"""vbench_lite: VBench's video-generation metrics, fast, stored, gated."""

import logging

__version__ = "0.1.0"

# A library caller sees nothing on stderr unless it configures logging; `vbl` shows INFO and up.
logging.getLogger(__name__).addHandler(logging.NullHandler())
