"""VBench aggregation: raw dimension scores -> normalised scores -> Quality, Semantic, Total.

Exactly as VBench's `scripts/cal_final_score.py` computes the leaderboard numbers (the bounds and
weights are tabulated in docs/dimensions.md, "Aggregation"):

    n_d      = (raw_d - min_d) / (max_d - min_d)             not clipped: may be < 0 or > 1
    Quality  = sum_{d in Q} w_d n_d / sum_{d in Q} w_d
    Semantic = sum_{d in S} w_d n_d / sum_{d in S} w_d
    Total    = (4 Quality + 1 Semantic) / (4 + 1)

Bounds, weights and groups are data (`vbench_lite/data/<scheme>.toml`), versioned with the scheme
name, so that a stored aggregate always says which numbers produced it. A scheme names its groups
through its `<group>_weight` keys: VBench's text-to-video scheme has Quality and Semantic; the
image-to-video scheme (`vbench-i2v-v1`, VBench++'s `cal_i2v_final_score.py`) has Quality and I2V,
Total = (1 Quality + 1 I2V) / 2. The run's task picks the scheme (`scheme_for_task`).

One deliberate deviation: VBench sets a missing dimension to raw 0 (which even normalises below
zero for dimensions with min > 0). Here a missing or NaN dimension makes its group and the Total
None and is listed in `missing`; `quality_partial` / `semantic_partial` average only what is
present, for showing progress on incomplete runs, and must always be labelled partial.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from vbench_lite.errors import InputError, one_line
from vbench_lite.rundir import canonical_dimension_name

GROUPS: tuple[str, ...] = ("quality", "semantic", "i2v")  # every group a scheme may use
DEFAULT_SCHEME = "vbench-v1"
# The scheme a run's aggregate uses, by the run's task (text-to-video or image-to-video).
TASK_SCHEMES = {"t2v": "vbench-v1", "i2v": "vbench-i2v-v1"}
_SCHEME_PACKAGE = "vbench_lite"
_SCHEME_FOLDER = "data"


@dataclass(frozen=True)
class DimensionNorm:
    """How one dimension enters the aggregate: its group, normalisation bounds and weight."""

    name: str
    group: Literal["quality", "semantic", "i2v"]
    min: float
    max: float
    weight: float

    def normalise(self, raw: float) -> float:
        return (raw - self.min) / (self.max - self.min)


@dataclass(frozen=True)
class AggregationScheme:
    """A named, versioned set of `DimensionNorm`s plus each group's weight in Total."""

    name: str
    version: str
    group_weights: dict[str, float]  # e.g. {"quality": 4, "semantic": 1}, in Total's order
    dims: dict[str, DimensionNorm]
    description: str = ""

    @property
    def groups(self) -> list[str]:
        return list(self.group_weights)

    @property
    def quality_weight(self) -> float:
        return self.group_weights.get("quality", 0.0)

    @property
    def semantic_weight(self) -> float:
        return self.group_weights.get("semantic", 0.0)

    def normalise(self, name: str, raw: float) -> float | None:
        """The normalised score, or None for a dimension this scheme does not weigh."""
        norm = self.dims.get(canonical_dimension_name(name))
        return None if norm is None else norm.normalise(raw)

    def group_dims(self, group: str) -> list[str]:
        return [d.name for d in self.dims.values() if d.group == group]


@dataclass
class Aggregate:
    """The scores of one run under one scheme. All values are fractions (leaderboard shows x100).

    `groups` / `groups_partial` hold every group of the scheme; `quality` and `semantic` repeat
    two of them (None where the scheme has no such group, e.g. Semantic in the I2V scheme).
    """

    scheme: str
    raw: dict[str, float]
    normalised: dict[str, float | None]
    quality: float | None
    semantic: float | None
    total: float | None
    quality_partial: float | None
    semantic_partial: float | None
    missing: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, float | None] = field(default_factory=dict)
    groups_partial: dict[str, float | None] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.total is not None

    @property
    def i2v(self) -> float | None:
        """The I2V group's score (image-to-video schemes only)."""
        return self.groups.get("i2v")


def scheme_for_task(task: str) -> str:
    """The bundled scheme for a run of this task ("t2v" or "i2v"): I2V runs are never aggregated
    (or ranked) with VBench's text-to-video weights."""
    if task not in TASK_SCHEMES:
        raise InputError(f"unknown task '{task}'; known: {', '.join(TASK_SCHEMES)}")
    return TASK_SCHEMES[task]


def known_schemes() -> list[str]:
    """Bundled aggregation schemes: the .toml files in vbench_lite/data that define dimensions
    and group weights (the folder also holds other data, such as gate policies)."""
    folder = resources.files(_SCHEME_PACKAGE) / _SCHEME_FOLDER
    names = []
    for item in folder.iterdir():
        if not item.name.endswith(".toml"):
            continue
        try:
            data = tomllib.loads(item.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        if "dimensions" in data and "quality_weight" in data:
            names.append(item.name[: -len(".toml")])
    return sorted(names)


def load_scheme(name: str = DEFAULT_SCHEME) -> AggregationScheme:
    """A bundled scheme by name ("vbench-v1"), or a scheme file given as a path to a .toml."""
    if name.endswith(".toml"):
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(
                f"cannot read aggregation scheme {path}: {_reason(error)}; give a readable "
                f".toml file or one of: {', '.join(known_schemes())}"
            ) from None
        return _parse_scheme(text, label=path.name)
    known = known_schemes()
    if name not in known:
        raise InputError(
            f"unknown aggregation scheme '{name}'; known: {', '.join(known)} "
            "(or give a path to a .toml scheme file)"
        )
    resource = resources.files(_SCHEME_PACKAGE) / _SCHEME_FOLDER / f"{name}.toml"
    return _parse_scheme(resource.read_text(encoding="utf-8"), label=f"{name}.toml")


def _parse_scheme(text: str, label: str) -> AggregationScheme:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{label}: invalid TOML: {error}; fix the syntax") from None

    def fail(what: str) -> InputError:
        return InputError(f"{label}: {what}; see vbench_lite/data/vbench-v1.toml for the layout")

    for key in ("name", "version", "quality_weight", "dimensions"):
        if key not in data:
            raise fail(f"missing top-level key '{key}'")
    group_weights = {g: data[f"{g}_weight"] for g in GROUPS if f"{g}_weight" in data}
    if not isinstance(data["dimensions"], dict) or not data["dimensions"]:
        raise fail("'dimensions' must be a table of dimension tables")
    dims: dict[str, DimensionNorm] = {}
    for dim_name, spec in data["dimensions"].items():
        if not isinstance(spec, dict):
            raise fail(f"dimensions.{dim_name} must be a table with group, min, max, weight")
        missing = [k for k in ("group", "min", "max", "weight") if k not in spec]
        if missing:
            raise fail(f"dimensions.{dim_name} lacks {', '.join(missing)}")
        if spec["group"] not in group_weights:
            raise fail(f"dimensions.{dim_name}.group must be one of {', '.join(group_weights)} "
                       "(a group needs a top-level <group>_weight)")
        if not all(_is_number(spec[k]) for k in ("min", "max", "weight")):
            raise fail(f"dimensions.{dim_name}: min, max and weight must be numbers")
        if not spec["max"] > spec["min"] or not spec["weight"] > 0:
            raise fail(f"dimensions.{dim_name} needs max > min and weight > 0")
        name = canonical_dimension_name(dim_name)
        dims[name] = DimensionNorm(
            name, spec["group"], float(spec["min"]), float(spec["max"]), float(spec["weight"])
        )
    weights = list(group_weights.values())
    if not all(_is_number(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        names = " and ".join(f"{g}_weight" for g in group_weights)
        raise fail(f"{names} must be numbers >= 0, not all 0")
    empty = [g for g in group_weights if not any(d.group == g for d in dims.values())]
    if empty:
        raise fail(f"{empty[0]}_weight is set but no dimension is in group '{empty[0]}'")
    return AggregationScheme(
        name=str(data["name"]),
        version=str(data["version"]),
        group_weights={g: float(w) for g, w in group_weights.items()},
        dims=dims,
        description=str(data.get("description", "")),
    )


def aggregate(raw: dict[str, float], scheme: AggregationScheme) -> Aggregate:
    """Normalise and combine raw scores (fractions); missing or NaN never counts as 0.

    Total = Σ_groups weight_g · score_g / Σ_groups weight_g, present only when every group is."""
    raw = {canonical_dimension_name(k): v for k, v in raw.items()}
    present = {k: float(v) for k, v in raw.items() if _is_number(v) and not math.isnan(v)}
    normalised = {k: scheme.normalise(k, present[k]) if k in present else None for k in raw}
    group_score: dict[str, float | None] = {}
    partial_score: dict[str, float | None] = {}
    missing: dict[str, list[str]] = {}
    for group in scheme.groups:
        names = scheme.group_dims(group)
        have = [d for d in names if d in present]
        missing[group] = [d for d in names if d not in present]
        partial_score[group] = _weighted_mean(have, present, scheme)
        group_score[group] = partial_score[group] if not missing[group] else None
    complete = {g: score for g, score in group_score.items() if score is not None}
    total = None
    if len(complete) == len(scheme.groups):
        weights = scheme.group_weights
        total = sum(weights[g] * complete[g] for g in scheme.groups) / sum(weights.values())
    return Aggregate(
        scheme=scheme.name,
        raw=raw,
        normalised=normalised,
        quality=group_score.get("quality"),
        semantic=group_score.get("semantic"),
        total=total,
        quality_partial=partial_score.get("quality"),
        semantic_partial=partial_score.get("semantic"),
        missing=missing,
        groups=group_score,
        groups_partial=partial_score,
    )


def _weighted_mean(
    names: list[str], present: dict[str, float], scheme: AggregationScheme
) -> float | None:
    if not names:
        return None
    norms = [scheme.dims[d] for d in names]
    weighted = sum(n.weight * n.normalise(present[n.name]) for n in norms)
    return weighted / sum(n.weight for n in norms)


def raw_from_eval_results(source: str | Path | dict[str, Any]) -> dict[str, float]:
    """Aggregate raw scores from VBench's `eval_results.json`: its parsed value, a file, a run
    directory, or VBench's output folder with one file per dimension (see
    `vbench_lite.rundir.read_eval_results`). An aggregate that is not a number is an InputError."""
    from vbench_lite.rundir import parse_eval_results, read_eval_results

    if isinstance(source, dict):
        dimensions, label = parse_eval_results(source, "eval results"), "eval results"
    else:
        dimensions, label = read_eval_results(Path(source)).dimensions, str(source)
    for name, dimension in dimensions.items():
        if dimension.aggregate is None:
            raise InputError(f"{label}: '{name}' has no numeric aggregate; expected VBench's layout "
                             "{dimension: [aggregate, [per-video results]]}")
    return {name: float(d.aggregate) for name, d in dimensions.items() if d.aggregate is not None}


def _is_number(value: Any) -> bool:
    # bool is an int in Python; VBench stores binary dimensions' aggregates as numbers anyway,
    # and per-video bools (dynamic degree) must count as 0/1.
    return isinstance(value, int | float)


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or one_line(error, with_type=False)
