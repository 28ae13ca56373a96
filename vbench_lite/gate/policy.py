"""The gate policy: a TOML file validated by pydantic (docs/gate.md, "Policy file").

`[defaults]` holds the statistics settings and the default margin; `[dims.<name>]` and
`[aggregate.<quality_score|semantic_score|total_score>]` override the margin (`max_drop_abs`),
add an absolute floor (`min_value`) or change the method of one row. Margins and floors are in
normalised units of the aggregation scheme (docs/dimensions.md, "Aggregation"). The shipped default is
`vbench_lite/data/gate-default.toml`; a user file is merged over it, key by key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vbench_lite.gate.errors import GateUsageError

Method = Literal["paired_bootstrap", "mcnemar", "threshold"]
AGGREGATE_NAMES: tuple[str, ...] = ("quality_score", "semantic_score", "total_score")
DEFAULT_POLICY_RESOURCE = "gate-default.toml"


class RowRule(BaseModel):
    """Overrides for one dimension or aggregate; a key left out keeps the default."""

    model_config = ConfigDict(extra="forbid")

    method: Method | None = None
    max_drop_abs: float | None = Field(default=None, ge=0)
    min_value: float | None = None


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Method = "paired_bootstrap"
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    resamples: int = Field(default=10000, ge=100, le=1_000_000)
    correction: Literal["holm", "bh", "none"] = "holm"
    ci_method: Literal["BCa", "percentile", "basic"] = "BCa"
    max_drop_abs: float = Field(default=0.01, ge=0)
    min_value: float | None = None


class GatePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: Defaults = Field(default_factory=Defaults)
    dims: dict[str, RowRule] = Field(default_factory=dict)
    aggregate: dict[str, RowRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _aggregates_are_known_and_continuous(self) -> GatePolicy:
        for name, rule in self.aggregate.items():
            if name not in AGGREGATE_NAMES:
                raise ValueError(f"unknown aggregate '{name}'; use one of {', '.join(AGGREGATE_NAMES)}")
            # A group score is a weighted mean of normalised dimensions, never a yes/no per video.
            if rule.method == "mcnemar":
                raise ValueError(f"aggregate.{name}: method 'mcnemar' is for binary dimensions")
        return self

    def rule_for(self, name: str) -> ResolvedRule:
        """The effective rule of a dimension or aggregate row: its override over the defaults."""
        rules = self.aggregate if name in AGGREGATE_NAMES else self.dims
        override = rules.get(name, RowRule())
        d = self.defaults
        method = override.method or d.method
        if name in AGGREGATE_NAMES and method == "mcnemar":
            method = "paired_bootstrap"
        return ResolvedRule(
            method=method,
            margin=d.max_drop_abs if override.max_drop_abs is None else override.max_drop_abs,
            floor=d.min_value if override.min_value is None else override.min_value,
        )


@dataclass(frozen=True)
class ResolvedRule:
    method: str
    margin: float
    floor: float | None


def default_policy_text() -> str:
    return (resources.files("vbench_lite") / "data" / DEFAULT_POLICY_RESOURCE).read_text("utf-8")


def load_policy(path: Path | None = None) -> GatePolicy:
    """The shipped default policy, with the user's file (if any) merged over it key by key."""
    merged = tomllib.loads(default_policy_text())
    label = DEFAULT_POLICY_RESOURCE
    if path is not None:
        label = str(path)
        try:
            user = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GateUsageError(f"policy file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise GateUsageError(f"cannot read policy file {path}: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise GateUsageError(f"policy file {path} is not valid TOML: {error}") from None
        merged = _merge(merged, user)
    try:
        return GatePolicy.model_validate(merged)
    except ValidationError as error:
        raise GateUsageError(f"policy {label}: {_first_problem(error)}") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    count = error.error_count()
    more = f" (and {count - 1} more problem(s))" if count > 1 else ""
    return f"{where + ': ' if where else ''}{message}{more}"
