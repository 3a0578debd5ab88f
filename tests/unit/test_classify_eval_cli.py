"""``linkage eval``: tables and --json on the test split, duplicates "n/a" when their evaluation is missing, and
the bench's summary that never breaks the bench."""

from __future__ import annotations

import builtins
import json
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

import linkage.evaluate as ev
from linkage.cli import app

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    return ev.run_evaluation(duplicates=False)


def test_json_output_has_every_figure(monkeypatch: pytest.MonkeyPatch, scores: dict[str, Any]) -> None:
    monkeypatch.setattr(ev, "run_evaluation", lambda duplicates=True: scores)
    result = CliRunner().invoke(app, ["eval", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n"] == scores["n"] > 0
    for key in ("categories", "confusion", "kind_accuracy", "auto_route_share", "auto_route_precision"):
        assert key in data
    assert {"emergency_recall", "emergency_precision", "category_macro_f1"} <= set(data["targets"])
    assert all(isinstance(t["met"], bool) for t in data["targets"].values())


def test_tables_mark_each_target_and_exit_zero(monkeypatch: pytest.MonkeyPatch, scores: dict[str, Any]) -> None:
    missed = json.loads(json.dumps(scores))
    missed["targets"]["category_macro_f1"].update(value=0.5, met=False)
    monkeypatch.setattr(ev, "run_evaluation", lambda duplicates=True: missed)
    result = CliRunner().invoke(app, ["eval"])
    assert result.exit_code == 0  # a missed target is shown, not an error
    assert "✗" in result.output and "✓" in result.output
    assert "Confusion matrix" in result.output and "紧急警情" in result.output


def test_duplicates_are_na_when_their_evaluation_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_duplicates(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "services.dispatch.duplicate.evaluate":
            raise ImportError("not here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_duplicates)
    dup = ev.duplicate_figures()
    assert dup["available"] is False and "not here" in dup["error"]


def test_duplicate_figures_are_read_from_a_dict(monkeypatch: pytest.MonkeyPatch, scores: dict[str, Any]) -> None:
    monkeypatch.setattr(ev, "duplicate_figures", lambda: {"available": True, "precision": 0.93, "recall": 0.88})
    monkeypatch.setattr("services.intake.classify.evaluate.evaluate", lambda: json.loads(json.dumps(scores)))
    out = ev.run_evaluation()
    assert out["targets"]["duplicate_pair_precision"]["met"] is True
    assert out["targets"]["duplicate_pair_recall"]["met"] is False


def test_bench_report_never_raises(monkeypatch: pytest.MonkeyPatch, scores: dict[str, Any]) -> None:
    console = Console(record=True, width=140)
    monkeypatch.setattr(ev, "run_evaluation", lambda duplicates=True: scores)
    summary = ev.bench_report(console)
    assert summary["test_rows"] == scores["n"] and "category_macro_f1" in summary["targets"]

    def boom(duplicates: bool = True) -> dict[str, Any]:
        raise RuntimeError("corpus missing")

    monkeypatch.setattr(ev, "run_evaluation", boom)
    assert ev.bench_report(console) == {"error": "RuntimeError: corpus missing"}
    assert "not available" in console.export_text()
