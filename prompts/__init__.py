"""Prompt suites as data: our YAML suites (bundled in `prompts/suites/`) and VBench's own format."""

from vbench_lite.prompts.suite import PromptEntry, PromptSuite, bundled_suites, load_suite

__all__ = ["PromptEntry", "PromptSuite", "bundled_suites", "load_suite"]
