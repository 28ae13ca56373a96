"""Aggregation (docs/dimensions.md, "Aggregation"): published leaderboard numbers are reproduced;
missing is never 0."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vbench_lite.aggregate import (
    Aggregate,
    aggregate,
    known_schemes,
    load_scheme,
    raw_from_eval_results,
)
from vbench_lite.errors import InputError

PUBLISHED = json.loads((Path(__file__).parent / "data" / "published_vbench_rows.json").read_text())
ROWS = PUBLISHED["rows"]


@pytest.fixture(scope="module")
def scheme():
    return load_scheme("vbench-v1")


def fractions(row: dict) -> dict[str, float]:
    return {dim: percent / 100 for dim, percent in row["dimensions"].items()}


def assert_one_line_error(error: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# ---- the golden test -------------------------------------------------------------------------


def test_published_rows_cover_all_sixteen_dimensions_with_a_source(scheme):
    assert len(ROWS) >= 6
    for row in ROWS:
        assert set(row["dimensions"]) == set(scheme.dims), row["model"]
        assert row["source"].startswith("https://")


@pytest.mark.parametrize("row", ROWS, ids=[row["model"] for row in ROWS])
def test_published_total_quality_semantic_are_reproduced_to_a_hundredth(row, scheme):
    result = aggregate(fractions(row), scheme)

    assert result.total * 100 == pytest.approx(row["total"], abs=0.01)
    assert result.quality * 100 == pytest.approx(row["quality"], abs=0.01)
    assert result.semantic * 100 == pytest.approx(row["semantic"], abs=0.01)
    assert result.missing == {"quality": [], "semantic": []}
    assert result.quality_partial == result.quality
    assert result.semantic_partial == result.semantic


def test_scheme_data_matches_spec_section_6(scheme):
    assert (scheme.name, scheme.quality_weight, scheme.semantic_weight) == ("vbench-v1", 4, 1)
    assert len(scheme.group_dims("quality")) == 7
    assert len(scheme.group_dims("semantic")) == 9
    assert sum(scheme.dims[d].weight for d in scheme.group_dims("quality")) == 6.5
    assert sum(scheme.dims[d].weight for d in scheme.group_dims("semantic")) == 9
    assert scheme.dims["dynamic_degree"].weight == 0.5
    assert (scheme.dims["motion_smoothness"].min, scheme.dims["motion_smoothness"].max) == (
        0.706,
        0.9975,
    )


# ---- missing dimensions are missing, never zero ----------------------------------------------


def test_missing_dimension_makes_its_group_and_total_none_and_is_listed(scheme):
    raw = fractions(ROWS[0])
    del raw["temporal_flickering"]

    result = aggregate(raw, scheme)

    assert result.quality is None
    assert result.total is None
    assert result.semantic is not None  # the other group is complete and still reported
    assert result.missing == {"quality": ["temporal_flickering"], "semantic": []}
    assert "temporal_flickering" not in result.normalised


def test_partial_score_averages_only_present_dimensions_never_zero_filled(scheme):
    raw = {"subject_consistency": 0.95, "dynamic_degree": 0.6}

    result = aggregate(raw, scheme)

    n_subject = (0.95 - 0.1462) / (1.0 - 0.1462)
    expected = (1.0 * n_subject + 0.5 * 0.6) / 1.5
    assert result.quality_partial == pytest.approx(expected)
    assert result.semantic_partial is None
    assert (result.quality, result.semantic, result.total) == (None, None, None)
    assert len(result.missing["quality"]) == 5
    assert len(result.missing["semantic"]) == 9


def test_nan_raw_value_counts_as_missing(scheme):
    raw = fractions(ROWS[0])
    raw["scene"] = float("nan")

    result = aggregate(raw, scheme)

    assert result.semantic is None and result.total is None
    assert result.missing["semantic"] == ["scene"]
    assert result.normalised["scene"] is None
    assert result.semantic_partial is not None and not math.isnan(result.semantic_partial)


def test_dimension_outside_the_scheme_is_kept_but_not_weighed(scheme):
    raw = fractions(ROWS[0]) | {"clip_score": 0.31}

    with_extra = aggregate(raw, scheme)
    without = aggregate(fractions(ROWS[0]), scheme)

    assert with_extra.raw["clip_score"] == 0.31
    assert with_extra.normalised["clip_score"] is None
    assert scheme.normalise("clip_score", 0.31) is None
    assert with_extra.total == without.total


# ---- normalisation ---------------------------------------------------------------------------


def test_normalisation_is_not_clipped(scheme):
    assert scheme.normalise("temporal_flickering", 0.5) < 0  # below min 0.6293
    assert scheme.normalise("motion_smoothness", 0.999) > 1  # above max 0.9975
    assert scheme.normalise("appearance_style", 0.2855) == pytest.approx(1.0)
    assert scheme.normalise("appearance_style", 0.0009) == pytest.approx(0.0)


def test_normalise_accepts_vbench_spaced_names(scheme):
    assert scheme.normalise("temporal flickering", 1.0) == pytest.approx(1.0)


def test_aggregate_keeps_unclipped_values_in_the_groups(scheme):
    raw = fractions(ROWS[0])
    raw["motion_smoothness"] = 1.0  # above Max 0.9975

    result = aggregate(raw, scheme)

    assert result.normalised["motion_smoothness"] > 1
    assert isinstance(result, Aggregate)


# ---- schemes ---------------------------------------------------------------------------------


def test_unknown_scheme_lists_the_known_ones():
    assert "vbench-v1" in known_schemes()
    with pytest.raises(InputError) as error:
        load_scheme("vbench-v9")
    assert_one_line_error(error, "vbench-v9", "vbench-v1")


def test_scheme_file_given_by_path_is_loaded(tmp_path):
    path = tmp_path / "two-dims.toml"
    path.write_text(
        'name = "two-dims"\nversion = "0.1"\nquality_weight = 1\nsemantic_weight = 1\n'
        '[dimensions.temporal_flickering]\ngroup = "quality"\nmin = 0.5\nmax = 1.0\nweight = 1\n'
        '[dimensions.clip_score]\ngroup = "semantic"\nmin = 0.0\nmax = 0.4\nweight = 1\n'
    )

    custom = load_scheme(str(path))
    result = aggregate({"temporal_flickering": 0.75, "clip_score": 0.2}, custom)

    assert custom.name == "two-dims"
    assert result.total == pytest.approx((0.5 + 0.5) / 2)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name = ", "invalid TOML"),
        ('name = "x"\nversion = "1"\nquality_weight = 4\nsemantic_weight = 1\n', "dimensions"),
        (
            'name = "x"\nversion = "1"\nquality_weight = 4\nsemantic_weight = 1\n'
            '[dimensions.color]\ngroup = "style"\nmin = 0\nmax = 1\nweight = 1\n',
            "dimensions.color.group",
        ),
        (
            'name = "x"\nversion = "1"\nquality_weight = 4\nsemantic_weight = 1\n'
            '[dimensions.color]\ngroup = "semantic"\nmin = 1\nmax = 1\nweight = 1\n',
            "max > min",
        ),
    ],
)
def test_malformed_scheme_file_is_a_one_line_input_error(tmp_path, text, fragment):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        load_scheme(str(path))
    assert_one_line_error(error, "broken.toml", fragment)


# ---- reading VBench's eval_results.json -------------------------------------------------------


def vbench_eval_results(row: dict, spaced: set[str]) -> dict:
    """A file as VBench writes it: {dimension: [aggregate, [per-video dicts]]}."""
    results = {}
    for dim, percent in row["dimensions"].items():
        key = dim.replace("_", " ") if dim in spaced else dim
        per_video = [
            {"video_path": f"/videos/{dim}/a prompt-{i}.mp4", "video_results": percent / 100}
            for i in range(2)
        ]
        results[key] = [percent / 100, per_video]
    return results


def test_eval_results_file_with_both_key_spellings_reproduces_published_scores(tmp_path):
    row = ROWS[0]
    spaced = {"subject_consistency", "temporal_flickering", "appearance_style", "scene"}
    path = tmp_path / "model_eval_results.json"
    path.write_text(json.dumps(vbench_eval_results(row, spaced), indent=2))

    raw = raw_from_eval_results(path)
    result = aggregate(raw, load_scheme())

    assert set(raw) == set(row["dimensions"])
    assert raw["subject_consistency"] == pytest.approx(
        row["dimensions"]["subject_consistency"] / 100
    )
    assert result.total * 100 == pytest.approx(row["total"], abs=0.01)


def test_eval_results_reads_bool_aggregates_and_per_video_bools_as_numbers():
    data = {
        "dynamic_degree": [True, [{"video_path": "a-0.mp4", "video_results": True}]],
        "temporal flickering": [0.97, [{"video_path": "a-0.mp4", "video_results": 0.97}]],
        "clip_score": 0.3,
    }

    raw = raw_from_eval_results(data)

    assert raw == {"dynamic_degree": 1.0, "temporal_flickering": 0.97, "clip_score": 0.3}
    assert type(raw["dynamic_degree"]) is float


def test_eval_results_nan_aggregate_is_read_and_then_counted_missing(tmp_path):
    path = tmp_path / "eval_results.json"
    path.write_text('{"scene": [NaN, []], "color": [0.8, []]}')

    result = aggregate(raw_from_eval_results(path), load_scheme())

    assert "scene" in result.missing["semantic"]
    assert "color" not in result.missing["semantic"]


@pytest.mark.parametrize(
    "content, fragments",
    [
        (None, ["not found", "missing_eval_results.json"]),
        ('{"subject_consistency": [0.9, [', ["not valid JSON", "line 1"]),
        ("[0.9, 0.8]", ["top level is a list"]),
        ("{}", ["no dimension scores"]),
        ('{"color": ["high", []]}', ["'color'", "numeric aggregate"]),
        ('{"color": []}', ["'color'", "numeric aggregate"]),
    ],
    ids=[
        "missing-file",
        "truncated-json",
        "top-level-list",
        "empty",
        "string-score",
        "empty-entry",
    ],
)
def test_malformed_eval_results_is_a_one_line_input_error(tmp_path, content, fragments):
    path = tmp_path / "missing_eval_results.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as error:
        raw_from_eval_results(path)
    assert_one_line_error(error, *fragments)


def test_vbench_output_folder_with_one_file_per_dimension_is_merged(tmp_path):
    row = ROWS[1]
    for dim, entry in vbench_eval_results(row, spaced={"color"}).items():
        name = dim.replace(" ", "_")
        (tmp_path / f"mymodel-{name}_eval_results.json").write_text(json.dumps({dim: entry}))
    (tmp_path / "mymodel-color_full_info.json").write_text("[]")  # VBench writes these too

    result = aggregate(raw_from_eval_results(tmp_path), load_scheme())

    assert result.semantic * 100 == pytest.approx(row["semantic"], abs=0.01)
    assert result.total * 100 == pytest.approx(row["total"], abs=0.01)


def test_folder_without_results_or_with_conflicting_results_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as error:
        raw_from_eval_results(tmp_path)
    assert_one_line_error(error, "no eval_results.json")

    (tmp_path / "a_eval_results.json").write_text('{"color": [0.8, []]}')
    (tmp_path / "b_eval_results.json").write_text('{"color": [0.7, []]}')
    with pytest.raises(InputError) as error:
        raw_from_eval_results(tmp_path)
    assert_one_line_error(error, "'color'", "different scores")
