"""Prompt suites: the bundled vbl-mini suite, VBench_full_info.json, and malformed input."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from vbench_lite.errors import InputError
from vbench_lite.prompts import PromptEntry, bundled_suites, load_suite

MINI_DIMENSIONS = [
    "temporal_flickering",
    "subject_consistency",
    "background_consistency",
    "motion_smoothness",
    "dynamic_degree",
    "aesthetic_quality",
    "imaging_quality",
    "overall_consistency",
    "temporal_style",
    "appearance_style",
    "clip_score",
    "object_class",
    "multiple_objects",
    "color",
    "spatial_relationship",
]
VBENCH_STYLE_PHRASES = {
    "Van Gogh style",
    "oil painting",
    "by Hokusai, in the style of Ukiyo",
    "black and white",
    "pixel art",
    "in cyberpunk style",
    "animated style",
    "watercolor painting",
    "surrealism style",
}

# A VBench_full_info.json in miniature, as VBench ships it: one prompt string appears twice
# (appearance_style and overall_consistency tag it separately), scene aux is nested twice.
VBENCH_FULL_INFO = [
    {
        "prompt_en": "A lighthouse on a cliff, oil painting",
        "dimension": ["appearance_style"],
        "auxiliary_info": {"appearance_style": {"appearance_style": "oil painting"}},
    },
    {
        "prompt_en": "a dog running in a meadow",
        "dimension": ["subject_consistency", "motion_smoothness", "dynamic_degree"],
    },
    {
        "prompt_en": "alley",
        "dimension": ["scene", "background_consistency"],
        "auxiliary_info": {"scene": {"scene": {"scene": "alley"}}},
    },
    {
        "prompt_en": "a red bicycle",
        "dimension": ["color"],
        "auxiliary_info": {"color": {"color": "red"}},
    },
    {
        "prompt_en": "a cup on the left of a book",
        "dimension": ["spatial_relationship"],
        "auxiliary_info": {
            "spatial_relationship": {
                "spatial_relationship": {
                    "object_a": "cup",
                    "object_b": "book",
                    "relationship": "on the left of",
                }
            }
        },
    },
    {
        "prompt_en": "A lighthouse on a cliff, oil painting",
        "dimension": ["overall_consistency", "aesthetic_quality", "imaging_quality"],
    },
    {"prompt_en": "A tranquil pond, still frame.", "dimension": ["temporal_flickering"]},
]


@pytest.fixture
def vbench_json(tmp_path) -> Path:
    path = tmp_path / "VBench_full_info.json"
    path.write_text(json.dumps(VBENCH_FULL_INFO, indent=4))
    return path


def assert_one_line_error(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


# ---- the bundled suite -----------------------------------------------------------------------


def test_vbl_mini_is_bundled_and_loads_by_name():
    assert "vbl-mini" in bundled_suites()

    suite = load_suite("vbl-mini")

    assert (suite.name, suite.version, suite.samples_per_prompt) == ("vbl-mini", "1", 2)
    assert suite.source == "bundled:vbl-mini"
    assert suite.description


@pytest.mark.parametrize("dimension", MINI_DIMENSIONS)
def test_vbl_mini_has_at_least_five_prompts_per_dimension(dimension):
    assert len(load_suite("vbl-mini").for_dimensions([dimension])) >= 5


def test_vbl_mini_prompts_are_unique_and_follow_vbench_conventions():
    suite = load_suite("vbl-mini")
    texts = [e.prompt for e in suite.entries]
    assert len(texts) == len(set(texts))  # prompt text names the video files

    for entry in suite.for_dimensions(["temporal_flickering"]):
        assert "still frame" in entry.prompt or "frozen in time" in entry.prompt
    styles = [e.aux["appearance_style"] for e in suite.for_dimensions(["appearance_style"])]
    assert set(styles) == VBENCH_STYLE_PHRASES
    for entry in suite.for_dimensions(["appearance_style"]):
        assert entry.prompt.endswith(entry.aux["appearance_style"])
    for entry in suite.for_dimensions(["background_consistency"]):
        assert "scene" in entry.dimensions and entry.aux["scene"]["scene"]


def test_vbl_mini_shares_prompts_between_dimensions_as_vbench_does():
    suite = load_suite("vbl-mini")
    subject = {e.prompt for e in suite.for_dimensions(["subject_consistency"])}
    assert subject == {e.prompt for e in suite.for_dimensions(["dynamic_degree"])}
    assert subject == {e.prompt for e in suite.for_dimensions(["motion_smoothness"])}
    overall = {e.prompt for e in suite.for_dimensions(["overall_consistency"])}
    assert overall == {e.prompt for e in suite.for_dimensions(["aesthetic_quality"])}


def test_for_dimensions_returns_each_prompt_once_and_find_looks_up_by_text():
    suite = load_suite("vbl-mini")

    shared = suite.for_dimensions(["subject_consistency", "motion_smoothness", "dynamic_degree"])
    assert len(shared) == len(suite.for_dimensions(["subject_consistency"]))
    assert suite.for_dimensions(["no_such_dimension"]) == []

    entry = suite.find("A red fox trotting through fresh snow")
    assert isinstance(entry, PromptEntry)
    assert entry.prompt_id == entry.prompt
    assert suite.find("A red fox") is None


def test_sha256_is_the_hash_of_the_suite_file_and_stable(tmp_path):
    bundled = resources.files("prompts") / "suites" / "vbl-mini.yaml"
    data = bundled.read_bytes()

    first, second = load_suite("vbl-mini"), load_suite("vbl-mini")
    copy = tmp_path / "copy.yaml"
    copy.write_bytes(data)
    edited = tmp_path / "edited.yaml"
    edited.write_bytes(data + b"\n# one more comment\n")

    assert first.sha256 == second.sha256 == hashlib.sha256(data).hexdigest()
    assert load_suite(copy).sha256 == first.sha256
    assert load_suite(edited).sha256 != first.sha256


# ---- our YAML format from a path -------------------------------------------------------------


def test_yaml_suite_from_path_with_defaults_and_relative_image(tmp_path):
    path = tmp_path / "my-i2v.yml"
    path.write_text(
        "prompts:\n"
        "  - prompt: A horse galloping on a beach\n"
        "    dimensions: [subject_consistency]\n"
        "    image: images/horse.png\n"
    )

    suite = load_suite(str(path))

    assert (suite.name, suite.version, suite.samples_per_prompt) == ("my-i2v", "0", 5)
    assert suite.entries[0].image == str(tmp_path / "images" / "horse.png")
    assert suite.entries[0].aux == {}


# ---- VBench_full_info.json -------------------------------------------------------------------


def test_vbench_full_info_json_loads_with_flattened_aux(vbench_json):
    suite = load_suite(vbench_json)

    assert suite.name == "VBench_full_info"
    assert suite.samples_per_prompt == 5
    assert len(suite.entries) == len(VBENCH_FULL_INFO)
    assert suite.find("alley").aux == {"scene": {"scene": "alley"}}
    assert suite.find("a red bicycle").aux == {"color": "red"}
    relation = suite.find("a cup on the left of a book").aux["spatial_relationship"]
    assert relation == {"object_a": "cup", "object_b": "book", "relationship": "on the left of"}
    assert suite.find("A tranquil pond, still frame.") is not None  # trailing period kept


def test_vbench_duplicate_prompt_strings_merge_dimensions_and_aux(vbench_json):
    suite = load_suite(vbench_json)

    selected = suite.for_dimensions(["appearance_style", "overall_consistency"])

    assert [e.prompt for e in selected] == ["A lighthouse on a cliff, oil painting"]
    merged = selected[0]
    assert merged.dimensions == [
        "appearance_style",
        "overall_consistency",
        "aesthetic_quality",
        "imaging_quality",
    ]
    assert merged.aux == {"appearance_style": "oil painting"}
    assert suite.find(merged.prompt) == merged
    counts = Counter(d for e in suite.for_dimensions(suite.dimensions) for d in e.dimensions)
    assert counts["appearance_style"] == 1


# ---- malformed input: one line, file name, entry index ----------------------------------------


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


GOOD_ENTRY = "  - prompt: a cat\n    dimensions: [clip_score]\n"

MALFORMED = {
    "invalid-yaml": ("bad.yaml", "prompts: [\n  - prompt: a cat\n", ["bad.yaml", "invalid YAML"]),
    "invalid-json": ("bad.json", '[{"prompt_en": "a cat",', ["bad.json", "invalid JSON", "line 1"]),
    "yaml-list": ("list.yaml", "- a cat\n- a dog\n", ["list.yaml", "unknown layout"]),
    "json-scalar": ("scalar.json", "42", ["scalar.json", "unknown layout"]),
    "empty-yaml": ("empty.yaml", "", ["empty.yaml", "unknown layout"]),
    "no-prompts-key": (
        "noprompts.yaml",
        "name: x\nitems: []\n",
        ["noprompts.yaml", "no 'prompts:'"],
    ),
    "unknown-top-key": (
        "typo.yaml",
        "name: x\nsample_per_prompt: 3\nprompts:\n" + GOOD_ENTRY,
        ["typo.yaml", "sample_per_prompt"],
    ),
    "empty-prompt-list": ("none.yaml", "prompts: []\n", ["none.yaml", "non-empty list"]),
    "bad-samples": (
        "samples.yaml",
        "samples_per_prompt: 0\nprompts:\n" + GOOD_ENTRY,
        ["samples.yaml", "samples_per_prompt"],
    ),
    "entry-without-prompt": (
        "noprompt.yaml",
        "prompts:\n" + GOOD_ENTRY + "  - dimensions: [clip_score]\n",
        ["noprompt.yaml", "prompts[1]", "no prompt text"],
    ),
    "entry-with-blank-prompt": (
        "blank.yaml",
        "prompts:\n  - prompt: '   '\n    dimensions: [clip_score]\n",
        ["blank.yaml", "prompts[0]", "no prompt text"],
    ),
    "entry-not-mapping": (
        "scalar-entry.yaml",
        "prompts:\n  - just a string\n",
        ["scalar-entry.yaml", "prompts[0]"],
    ),
    "entry-unknown-key": (
        "entry-typo.yaml",
        "prompts:\n  - prompt: a cat\n    dimension: [clip_score]\n",
        ["entry-typo.yaml", "prompts[0]", "dimension"],
    ),
    "dimensions-not-list": (
        "dims.yaml",
        "prompts:\n  - prompt: a cat\n    dimensions: clip_score\n",
        ["dims.yaml", "prompts[0]", "'dimensions'"],
    ),
    "aux-not-mapping": (
        "aux.yaml",
        "prompts:\n  - prompt: a cat\n    dimensions: [color]\n    aux: red\n",
        ["aux.yaml", "prompts[0]", "'aux'"],
    ),
    "vbench-entry-without-prompt": (
        "VBench_full_info.json",
        '[{"prompt_en": "a cat", "dimension": ["color"]}, {"dimension": ["color"]}]',
        ["VBench_full_info.json", "entry 1", "prompt_en"],
    ),
    "vbench-entry-not-object": (
        "VBench_full_info.json",
        '["a cat"]',
        ["VBench_full_info.json", "entry 0"],
    ),
    "vbench-empty-list": ("VBench_full_info.json", "[]", ["VBench_full_info.json", "empty"]),
    "vbench-bad-aux": (
        "VBench_full_info.json",
        '[{"prompt_en": "a cat", "dimension": ["color"], "auxiliary_info": "red"}]',
        ["VBench_full_info.json", "entry 0", "auxiliary_info"],
    ),
    "not-utf8": ("latin.yaml", b"prompts:\n  - prompt: caf\xe9\n", ["latin.yaml", "UTF-8"]),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_suite_file_is_a_one_line_input_error(tmp_path, case):
    name, content, fragments = case
    path = write(tmp_path, name, content)
    with pytest.raises(InputError) as error:
        load_suite(path)
    assert_one_line_error(error, *fragments)


def test_missing_file_unknown_name_folder_and_wrong_type_are_input_errors(tmp_path):
    with pytest.raises(InputError) as error:
        load_suite(tmp_path / "nowhere.yaml")
    assert_one_line_error(error, "not found", "nowhere.yaml")

    with pytest.raises(InputError) as error:
        load_suite("vbl-huge")
    assert_one_line_error(error, "unknown prompt suite 'vbl-huge'", "vbl-mini")

    with pytest.raises(InputError) as error:
        load_suite(tmp_path)
    assert_one_line_error(error, "is a folder")

    with pytest.raises(InputError) as error:
        load_suite(write(tmp_path, "prompts.txt", "a cat\n"))
    assert_one_line_error(error, "prompts.txt", ".yaml")
