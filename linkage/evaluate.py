"""``linkage eval``: the smart-intake figures of issue #9 on the project's own test split.

Classification (per-category precision/recall/F1, confusion matrix, kind accuracy, the automatic-routing share at
the precision target, emergency recall/precision) comes from :mod:`services.intake.classify.evaluate`; duplicate
pair precision/recall from ``services.dispatch.duplicate.evaluate.evaluate_duplicates()`` when it exists ("n/a"
otherwise). Each target is shown met (✓) or missed (✗); the exit code is 0 either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

DUPLICATE_TARGETS = {"duplicate_pair_precision": 0.90, "duplicate_pair_recall": 0.90}


def _pick(d: Mapping[str, Any], *keys: str) -> float | None:
    for k in keys:
        v = d.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


def duplicate_figures() -> dict[str, Any]:
    """``{"available", "precision", "recall", "details"|"error"}`` from the duplicates' own evaluation, if any."""
    try:
        from services.dispatch.duplicate.evaluate import evaluate_duplicates  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        return {"available": False, "error": f"not importable: {exc}"}
    try:
        raw = evaluate_duplicates()
    except Exception as exc:  # noqa: BLE001 - another part's evaluation must not break this report
        return {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    details: dict[str, Any] = dict(raw) if isinstance(raw, Mapping) else {"result": raw}
    if hasattr(raw, "__dict__") and not isinstance(raw, Mapping):
        details = {k: v for k, v in vars(raw).items() if not k.startswith("_")}
    precision = _pick(details, "pair_precision", "precision")
    recall = _pick(details, "pair_recall", "recall")
    return {
        "available": precision is not None or recall is not None,
        "precision": precision,
        "recall": recall,
        "details": details,
    }


def run_evaluation(*, duplicates: bool = True) -> dict[str, Any]:
    """Every figure as one JSON-able dict (what ``linkage eval --json`` prints)."""
    from services.intake.classify.evaluate import evaluate

    started = time.perf_counter()
    scores = evaluate()
    scores["seconds"] = round(time.perf_counter() - started, 2)
    if duplicates:
        dup = duplicate_figures()
        scores["duplicates"] = dup
        for key, value in (
            ("duplicate_pair_precision", dup.get("precision")),
            ("duplicate_pair_recall", dup.get("recall")),
        ):
            target = DUPLICATE_TARGETS[key]
            scores["targets"][key] = {
                "what": "duplicate pair " + key.rsplit("_", 1)[1],
                "value": value,
                "target": target,
                "met": None if value is None else bool(value >= target),
            }
    return scores


def _fmt(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _mark(met: bool | None) -> str:
    return {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "n/a"}[met]


def targets_table(scores: Mapping[str, Any]) -> Table:
    table = Table(title=f"Smart intake on the project's test split ({scores['n']} texts never trained or tuned on)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("", justify="center")
    for t in scores["targets"].values():
        table.add_row(t["what"], _fmt(t["value"]), f"≥ {t['target']:.2f}", _mark(t["met"]))
    return table


def print_report(scores: Mapping[str, Any], console: Console | None = None) -> None:
    """The tables of ``linkage eval``."""
    from shared.catalog.models import CATEGORY_NAMES

    out = console or Console(width=max(Console().width, 132))  # the confusion matrix needs ~130 columns
    model = scores["model"]
    out.print(
        f"[bold]Classifier[/bold] {model['version']}: trained on {model['train_rows']} rows (train split) in "
        f"{model['train_seconds']:.1f} s; tuned by 5-fold cross-validation on the train split "
        f"({'data/tuning.json' if model.get('tuning_source') == 'stored' else 'at start-up'}; auto-route "
        f"{model['cv_auto_share']:.1%} at {model['cv_auto_precision']:.1%} precision there)"
    )
    per = Table(title="Categories (test split)")
    for col in ("category", "precision", "recall", "F1", "support", "auto-route threshold"):
        per.add_column(col, justify="left" if col == "category" else "right")
    thresholds = model["thresholds"]
    for code, v in scores["categories"].items():
        th = thresholds.get(code)
        per.add_row(
            f"{code} {CATEGORY_NAMES.get(code, '')}",
            _fmt(v["precision"]),
            _fmt(v["recall"]),
            _fmt(v["f1"]),
            str(v["support"]),
            "转警 (emergency)" if code == "JJ" else _fmt(th, 2),
        )
    per.add_row("[bold]macro[/bold]", "", "", f"[bold]{scores['category_macro_f1']:.3f}[/bold]", str(scores["n"]), "")
    out.print(per)

    labels = scores["confusion"]["labels"]
    conf = Table(title="Confusion matrix (rows: true category, columns: predicted)")
    conf.add_column("")
    for code in labels:
        conf.add_column(code, justify="right")
    for code, row in zip(labels, scores["confusion"]["matrix"], strict=True):
        i = labels.index(code)
        cells = ["" if n == 0 else f"[bold]{n}[/bold]" if j == i else f"[red]{n}[/red]" for j, n in enumerate(row)]
        conf.add_row(code, *cells)
    out.print(conf)

    out.print(
        f"Kind: accuracy {scores['kind_accuracy']:.3f}, macro-F1 {scores['kind_macro_f1']:.3f}.  "
        f"Routing: {scores['auto_routed']} of {scores['non_emergency']} non-emergency complaints routed "
        f"automatically ({scores['auto_route_share']:.1%}) at {scores['auto_route_precision']:.1%} category precision; "
        f"{scores['triage']} to triage, right category among the top 3 shown: {scores['triage_top3_accuracy']:.1%}."
    )
    seed = scores.get("by_source", {}).get("seed")
    if seed and seed["n"]:
        out.print(
            f"Seed rows only ({seed['n']} test texts written before the corpus, by other people): category accuracy "
            f"{seed['category_accuracy']:.1%}, routed automatically {seed['auto_route_share']:.1%} at "
            f"{seed['auto_route_precision']:.1%} precision."
        )
    hn, xf = scores["hard_negatives"], scores["xf_taken_for_emergency"]
    out.print(
        f"Emergency: {scores['emergencies']} in the test split, {scores['emergency_flagged']} flagged; recall "
        f"{scores['emergency_recall']:.3f}, precision {scores['emergency_precision']:.3f}, right service "
        f"{scores['emergency_service_accuracy']:.1%}; hard negatives flagged {hn['flagged']} of {hn['n']}; "
        f"消防安全 hazards taken for 紧急警情 {xf['flagged']} of {xf['n']}."
    )
    dup = scores.get("duplicates")
    if dup is not None:
        if dup.get("available"):
            out.print(f"Duplicates (并单): pair precision {_fmt(dup['precision'])}, pair recall {_fmt(dup['recall'])}.")
        else:
            out.print(f"Duplicates (并单): n/a ({dup.get('error', 'no figures')}).")
    out.print(targets_table(scores))


def run_eval(*, as_json: bool = False, duplicates: bool = True) -> int:
    """``linkage eval``: print the report (or JSON); always 0."""
    scores = run_evaluation(duplicates=duplicates)
    if as_json:
        print(json.dumps(scores, ensure_ascii=False, indent=2, default=str))
    else:
        print_report(scores)
    return 0


def summary(scores: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures (what ``linkage bench`` keeps in its JSON)."""
    return {
        "test_rows": scores["n"],
        "model": scores["model"]["version"],
        "targets": {
            k: {"value": t["value"], "target": t["target"], "met": t["met"]} for k, t in scores["targets"].items()
        },
    }


def bench_report(console: Console) -> dict[str, Any]:
    """For ``linkage bench``: print the targets table and return :func:`summary` (never raises: the bench goes on)."""
    try:
        scores = run_evaluation()
    except Exception as exc:  # noqa: BLE001 - quality figures must never break the bench
        console.print(f"smart-intake quality figures not available: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    console.print(targets_table(scores))
    return summary(scores)
