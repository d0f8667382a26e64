"""The results writer: every figure carries value, target and a ``met`` derived from them."""

from __future__ import annotations

import json

import pytest

from bench.common import Figure, percentile, table, write_results


@pytest.mark.parametrize(
    ("value", "target", "comparator", "met"),
    [
        (1.1, 1.15, "<=", True),
        (1.15, 1.15, "<=", True),
        (1.2, 1.15, "<=", False),
        (0, 0, "==", True),
        (1, 0, "==", False),
        (3, 2, ">=", True),
        (1, 2, ">=", False),
    ],
)
def test_met_follows_the_comparator(value, target, comparator, met):
    assert Figure("f", "f", value, "x", target, comparator).met is met


def test_unknown_comparator_is_refused():
    with pytest.raises(ValueError):
        Figure("f", "f", 1, "x", 1, "<")


def test_results_json_has_value_target_and_met_for_each_figure(tmp_path):
    figures = [
        Figure("fast", "fast thing", 1.05, "x", 1.15, baseline="b"),
        Figure("slow", "slow thing", 2.0, "x", 1.3, explanation="because"),
        Figure("held", "held back", 0, "chunks", 0, "=="),
    ]
    path = tmp_path / "results.json"
    written = write_results(path, figures, settings={"reps": 1})
    document = json.loads(path.read_text())
    assert document == written
    assert {name: (f["value"], f["target"], f["met"]) for name, f in document["figures"].items()} == {
        "fast": (1.05, 1.15, True),
        "slow": (2.0, 1.3, False),
        "held": (0, 0, True),
    }
    assert document["all_met"] is False
    assert document["figures"]["slow"]["explanation"] == "because"
    assert {"nproc", "machine", "python"} <= set(document["machine"])
    text = table(figures)
    assert "fast thing" in text and "NO" in text and "<= 1.15x" in text


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7], 99) == 7
