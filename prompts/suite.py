"""Prompt suites: which prompts to generate, and which dimensions score each prompt's videos.

Two input formats:

1. Our YAML format (bundled suites live in `prompts/suites/*.yaml`)::

       name: vbl-mini                 # defaults to the file name
       version: "1"                   # defaults to "0"
       samples_per_prompt: 2          # videos per prompt, default 5 (VBench's convention)
       description: free text
       prompts:
         - prompt: A red kite tumbling over a sand dune, pan left
           dimensions: [temporal_style]
         - prompt: A fishing boat on a calm lake, Van Gogh style
           dimensions: [appearance_style]
           aux: {appearance_style: Van Gogh style}
         - prompt: A horse galloping on a beach
           dimensions: [image_to_video]
           image: images/horse.png    # optional i2v conditioning image, relative to this file

   `aux` holds the auxiliary information keyed the way VBench's dimensions read it:
   {"appearance_style": "<style phrase>"}, {"color": "red"}, {"object": "dog"},
   {"scene": {"scene": "alley"}}, {"spatial_relationship": {"object_a", "object_b",
   "relationship"}}. Unknown keys at either level are errors, so a typo ("dimension:") cannot
   silently drop a prompt's tags.

2. VBench's `VBench_full_info.json`: a JSON list of {"prompt_en", "dimension": [...],
   "auxiliary_info"?: {dimension: {...}}}. `auxiliary_info` is flattened into `aux` by merging
   the per-dimension dicts, so {"scene": {"scene": {"scene": "alley"}}} becomes
   {"scene": {"scene": "alley"}}, the value VBench's scene scorer receives.
   VBench++'s image-to-video suite `vbench2_i2v_full_info.json` has the same layout plus
   "image_name" (the conditioning image's file name inside the crop folder of the chosen aspect
   ratio, e.g. `crop/16-9/`) and "image_type"; the name is kept as given and resolved against
   `--images DIR` when the run is built.

A suite entry with an image is an image-to-video prompt: an I2V run uses the entries that carry an
image, a T2V run those that do not (`PromptSuite.for_task`), so one suite file can hold both parts.

The same prompt text may appear in several entries (VBench has two such prompts); they name the
same video files (`{prompt}-{index}.mp4`), so `for_dimensions` and `find` merge them.
Every malformed input raises `InputError` with one line naming the file and, where it can, the
entry index.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from vbench_lite.errors import InputError

VBENCH_SAMPLES_PER_PROMPT = 5  # prompts/README of VBench: 5 videos per prompt, index 0-4
_TOP_LEVEL_KEYS = {"name", "version", "samples_per_prompt", "description", "source", "prompts"}
_ENTRY_KEYS = {"prompt", "dimensions", "aux", "image"}
_SUITE_SUFFIXES = (".yaml", ".yml", ".json")
_PACKAGE = __package__ or "vbench_lite.prompts"  # the bundled suites' package, wherever the CWD is


@dataclass
class PromptEntry:
    prompt: str
    dimensions: list[str]
    aux: dict[str, Any] = field(default_factory=dict)
    image: str | None = None

    @property
    def prompt_id(self) -> str:
        # VBench names video files by the verbatim prompt text, so the text is the identity.
        return self.prompt


@dataclass
class PromptSuite:
    name: str
    version: str
    sha256: str  # of the suite file's bytes: the identity recorded in a run's manifest
    entries: list[PromptEntry]
    samples_per_prompt: int = VBENCH_SAMPLES_PER_PROMPT
    source: str = ""  # where the suite was loaded from
    description: str = ""

    def for_dimensions(self, dims: list[str]) -> list[PromptEntry]:
        """Entries tagged with any of `dims`, one per prompt text (duplicates merged)."""
        wanted = set(dims)
        return _merge_by_prompt([e for e in self.entries if wanted & set(e.dimensions)])

    def find(self, prompt: str) -> PromptEntry | None:
        matches = _merge_by_prompt([e for e in self.entries if e.prompt == prompt])
        return matches[0] if matches else None

    @property
    def dimensions(self) -> list[str]:
        """Every dimension some entry is tagged with, in first-seen order."""
        return list(dict.fromkeys(d for e in self.entries for d in e.dimensions))

    def for_task(self, task: str) -> PromptSuite:
        """The same suite with only the entries of one task: "i2v" keeps the entries that carry a
        conditioning image, "t2v" the others. Name, version and sha256 stay the suite file's."""
        wanted = task == "i2v"
        return replace(self, entries=[e for e in self.entries if (e.image is not None) == wanted])

    def is_image_to_video(self, dims: list[str]) -> bool:
        """True when every entry a run of `dims` would score carries an image (a pure I2V suite)."""
        tagged = [e for e in self.entries if set(dims) & set(e.dimensions)] or self.entries
        return all(e.image is not None for e in tagged)


def _merge_by_prompt(entries: list[PromptEntry]) -> list[PromptEntry]:
    merged: dict[str, PromptEntry] = {}
    for entry in entries:
        if entry.prompt not in merged:
            merged[entry.prompt] = PromptEntry(
                entry.prompt, list(entry.dimensions), dict(entry.aux), entry.image
            )
            continue
        into = merged[entry.prompt]
        into.dimensions += [d for d in entry.dimensions if d not in into.dimensions]
        into.aux = entry.aux | into.aux  # the first entry wins a clash
        into.image = into.image or entry.image
    return list(merged.values())


# ---- loading ---------------------------------------------------------------------------------


def bundled_suites() -> list[str]:
    folder = resources.files(_PACKAGE) / "suites"
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_suite(name_or_path: str | Path) -> PromptSuite:
    """A bundled suite by name ("vbl-mini"), one of our .yaml/.yml files, or a VBench json."""
    text = str(name_or_path)
    if not isinstance(name_or_path, Path) and text in bundled_suites():
        folder = resources.files(_PACKAGE) / "suites"
        resource = folder / f"{text}.yaml"
        # images named by a bundled suite ship in the package, next to the suite file
        return _parse(resource.read_bytes(), label=f"{text}.yaml", source=f"bundled:{text}", folder=Path(str(folder)))
    path = Path(name_or_path)
    if not path.exists():
        if path.suffix.lower() not in _SUITE_SUFFIXES and len(path.parts) == 1:
            raise InputError(
                f"unknown prompt suite '{text}'; bundled: {', '.join(bundled_suites())}, "
                "or give a .yaml/.yml suite or a VBench_full_info.json path"
            )
        raise InputError(f"prompt suite file not found: {path}; check the --prompts path")
    if path.is_dir():
        raise InputError(f"{path} is a folder; --prompts takes a .yaml/.yml or .json file")
    if path.suffix.lower() not in _SUITE_SUFFIXES:
        raise InputError(
            f"{path.name}: unsupported prompt suite type '{path.suffix}'; use .yaml/.yml (our "
            "format) or .json (VBench_full_info.json)"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read prompt suite {path}: {error.strerror or error}") from None
    return _parse(data, label=path.name, source=str(path), folder=path.parent)


def _parse(data: bytes, label: str, source: str, folder: Path | None = None) -> PromptSuite:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{label}: not UTF-8 text; save the prompt suite as UTF-8") from None
    is_json = label.lower().endswith(".json")
    document = _load_json(text, label) if is_json else _load_yaml(text, label)
    sha256 = hashlib.sha256(data).hexdigest()
    stem = label.rsplit(".", 1)[0]
    if is_json and isinstance(document, list):
        return _from_vbench_full_info(document, label, stem, sha256, source)
    if isinstance(document, dict) and "prompts" in document:
        return _from_suite_mapping(document, label, stem, sha256, source, folder)
    if isinstance(document, dict):
        raise InputError(
            f"{label}: no 'prompts:' list; our suite format is a mapping with name, version, "
            "samples_per_prompt, description and prompts"
        )
    raise InputError(
        f"{label}: unknown layout (top level is {_kind(document)}); expected a mapping with "
        "'prompts:' (our suite format) or a JSON list like VBench_full_info.json"
    )


def _load_yaml(text: str, label: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise InputError(f"{label}: invalid YAML{where}: {problem}; fix the syntax") from None


def _load_json(text: str, label: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{label}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None


def _from_suite_mapping(
    document: dict[str, Any],
    label: str,
    stem: str,
    sha256: str,
    source: str,
    folder: Path | None,
) -> PromptSuite:
    unknown = sorted(set(map(str, document)) - _TOP_LEVEL_KEYS)
    if unknown:
        raise InputError(
            f"{label}: unknown top-level key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_TOP_LEVEL_KEYS))}"
        )
    samples = document.get("samples_per_prompt", VBENCH_SAMPLES_PER_PROMPT)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InputError(f"{label}: samples_per_prompt must be a whole number >= 1")
    prompts = document["prompts"]
    if not isinstance(prompts, list) or not prompts:
        raise InputError(f"{label}: 'prompts' must be a non-empty list of {{prompt, dimensions}}")
    entries = [_suite_entry(item, index, label, folder) for index, item in enumerate(prompts)]
    return PromptSuite(
        name=str(document.get("name") or stem),
        version=str(document.get("version", "0")),
        sha256=sha256,
        entries=entries,
        samples_per_prompt=samples,
        source=source,
        description=str(document.get("description") or "").strip(),
    )


def _suite_entry(item: Any, index: int, label: str, folder: Path | None) -> PromptEntry:
    where = f"{label}: prompts[{index}]"
    if not isinstance(item, dict):
        raise InputError(f"{where} is {_kind(item)}; write each entry as {{prompt, dimensions}}")
    unknown = sorted(set(map(str, item)) - _ENTRY_KEYS)
    if unknown:
        raise InputError(
            f"{where} has unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_ENTRY_KEYS))}"
        )
    prompt = _prompt_text(item.get("prompt"), where, "prompt")
    dimensions = _dimension_list(item.get("dimensions"), where, "dimensions")
    aux = item.get("aux") or {}
    if not isinstance(aux, dict):
        raise InputError(f"{where}: 'aux' must be a mapping such as {{color: red}}")
    image = item.get("image")
    if image is not None:
        if not isinstance(image, str) or not image.strip():
            raise InputError(f"{where}: 'image' must be a path to the conditioning image")
        if folder is not None and not Path(image).is_absolute():
            image = str(folder / image)  # relative to the suite file, not the working directory
    return PromptEntry(prompt, dimensions, dict(aux), image)


def _from_vbench_full_info(
    document: list[Any], label: str, stem: str, sha256: str, source: str
) -> PromptSuite:
    if not document:
        raise InputError(f"{label}: the list is empty; a VBench_full_info.json lists prompts")
    entries = []
    for index, item in enumerate(document):
        where = f"{label}: entry {index}"
        if not isinstance(item, dict):
            raise InputError(f"{where} is {_kind(item)}; expected {{prompt_en, dimension}}")
        prompt = _prompt_text(item.get("prompt_en"), where, "prompt_en")
        dimensions = _dimension_list(item.get("dimension"), where, "dimension")
        auxiliary = item.get("auxiliary_info") or {}
        if not isinstance(auxiliary, dict):
            raise InputError(f"{where}: 'auxiliary_info' must be a mapping keyed by dimension")
        aux: dict[str, Any] = {}
        for dimension, info in auxiliary.items():
            # VBench hands a scorer auxiliary_info[dimension]; merge those dicts into one aux.
            aux.update(info if isinstance(info, dict) else {dimension: info})
        image = item.get("image_name")  # VBench++ I2V suite: a file in the chosen crop folder
        if image is not None and (not isinstance(image, str) or not image.strip()):
            raise InputError(f"{where}: 'image_name' must be the conditioning image's file name")
        entries.append(PromptEntry(prompt, dimensions, aux, image))
    return PromptSuite(
        name=stem,
        version="0",
        sha256=sha256,
        entries=entries,
        samples_per_prompt=VBENCH_SAMPLES_PER_PROMPT,
        source=source,
        description="VBench_full_info.json format",
    )


def _prompt_text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where} has no prompt text; give it a non-empty '{key}' string")
    return value  # verbatim: VBench file names keep trailing periods and spaces


def _dimension_list(value: Any, where: str, key: str) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(d, str) and d.strip() for d in value)
    ):
        raise InputError(f"{where}: '{key}' must be a non-empty list of dimension names")
    return [d.strip() for d in value]


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    names: dict[type, str] = {dict: "a mapping", list: "a list", str: "a string"}
    return names.get(type(value), type(value).__name__)
