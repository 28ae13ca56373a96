"""Published VBench leaderboard rows (a CSV or JSON the user has) as leaderboard rows.

They sit next to our runs so that a team sees where it stands, but they are a
different kind of number: VBench's own evaluation of other people's videos on VBench's full prompt
suite. Every row is therefore marked `backend_kind = "published"` and gets its own rank group, so
it is never ranked together with our runs without saying so (see `data.rank_groups`).

Accepted layouts, all in percent as the leaderboard shows them:

- JSON `{"rows": [{"model", "source", "total", "quality", "semantic", "dimensions": {dim: %}}]}`
  (tests/data/published_vbench_rows.json), or a bare list of such rows;
- CSV with a `model` column, optional `source` / `total` / `quality` / `semantic` columns (or the
  VBench Space's "Total Score" / "Quality Score" / "Semantic Score") and one
  column per dimension, named as VBench writes them ("subject consistency") or with underscores.

Percent signs and blank cells are tolerated; dimension values are raw scores (VBench's tables show
raw dimension values and normalised Quality/Semantic/Total).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from vbench_lite.aggregate import AggregationScheme, canonical_dimension_name
from vbench_lite.errors import InputError

PUBLISHED_KIND = "published"
PUBLISHED_SUITE = "VBench (published)"
SUMMARY_NAMES = ("total", "quality", "semantic")
_LAYOUT = (
    'expected JSON {"rows": [{"model", "total", "quality", "semantic", "dimensions": {dim: percent}}]} '
    "or a CSV with a 'model' column and one column per dimension"
)


def load_published(source: str | Path | bytes, scheme: AggregationScheme, name: str = "") -> pd.DataFrame:
    """Published rows in the long form `data.board_rows` produces for runs (see `published_rows`).

    `source` is a path, or the bytes of an uploaded file whose `name` tells CSV from JSON.
    """
    if isinstance(source, bytes):
        content, label = source, name or "uploaded file"
    else:
        path = Path(source)
        try:
            content = path.read_bytes()
        except OSError as error:
            raise InputError(f"cannot read published rows {path}: {error.strerror or error}") from None
        label = name or path.name
    records = _records(content, label)
    return published_rows(records, scheme, label)


def _records(content: bytes, label: str) -> list[dict[str, Any]]:
    text = content.decode("utf-8-sig", errors="replace")
    if label.lower().endswith(".json") or text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{label} is not valid JSON (line {error.lineno}); {_LAYOUT}") from None
        rows = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(f"{label}: no list of row objects found; {_LAYOUT}")
        return [_flatten(row) for row in rows]
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{label} is not a readable CSV ({str(error).splitlines()[0]}); {_LAYOUT}") from None
    return [{str(column): value for column, value in record.items()} for record in table.to_dict(orient="records")]


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    dims = row.get("dimensions")
    flat = {k: v for k, v in row.items() if k != "dimensions"}
    if isinstance(dims, dict):
        flat.update(dims)
    return flat


def published_rows(records: list[dict[str, Any]], scheme: AggregationScheme, label: str) -> pd.DataFrame:
    """One leaderboard row per published model: percent values, normalised through `scheme`."""
    if not records:
        raise InputError(f"{label} holds no rows; {_LAYOUT}")
    rows = []
    for index, record in enumerate(records):
        by_name = {canonical_dimension_name(str(k)): v for k, v in record.items()}
        model = str(by_name.get("model") or by_name.get("model_name") or "").strip()
        if not model:
            raise InputError(f"{label}: row {index + 1} has no model name; {_LAYOUT}")
        row: dict[str, Any] = {
            "model": model,
            "revision": "",
            "suite": PUBLISHED_SUITE,
            "aggregation": scheme.name,
            "task": str(by_name.get("task") or "t2v"),
            "backend_kind": PUBLISHED_KIND,
            "backends": PUBLISHED_KIND,
            "status": PUBLISHED_KIND,
            "run_id": f"published:{model}",
            "created_at": pd.NaT,
            "source": str(by_name.get("source") or label),
            "sampled_by": str(by_name.get("sampled_by") or ""),
            "evaluated_by": str(by_name.get("evaluated_by") or "VBench (published)"),
        }
        for name in SUMMARY_NAMES:
            # The VBench Space's own CSV headers say "Total Score", "Quality Score", ...
            value = by_name.get(name, by_name.get(f"{name}_score"))
            row[name] = _percent(value, label, model, name)
        found = 0
        for dim in scheme.dims:
            raw_percent = _percent(by_name.get(dim), label, model, dim)
            if math.isnan(raw_percent):
                continue
            found += 1
            row[f"{dim}:raw"] = raw_percent
            row[f"{dim}:normalised"] = 100 * scheme.normalise(dim, raw_percent / 100)  # type: ignore[operator]
        if not found and all(math.isnan(row[n]) for n in SUMMARY_NAMES):
            raise InputError(f"{label}: row '{model}' has no score columns; {_LAYOUT}")
        rows.append(row)
    return pd.DataFrame(rows)


def _percent(value: Any, label: str, model: str, column: str) -> float:
    if value is None or (isinstance(value, str) and value.strip() in ("", "-", "—")):
        return math.nan
    if isinstance(value, bool):
        value = float(value)
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{label}: '{model}' {column} is {value!r}, not a number") from None
    if not 0.0 <= number <= 100.0 and not math.isnan(number):
        raise InputError(f"{label}: '{model}' {column} is {number}; published rows are percentages (0–100)")
    return number
