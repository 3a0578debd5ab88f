"""The monitoring files in deploy/monitoring and the metric names they reference (used by unit and e2e tests)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
RULES = MONITORING / "prometheus-rules.yaml"
RULES_TEST = MONITORING / "prometheus-rules.test.yaml"
PROMETHEUS_RULE = MONITORING / "prometheus-rule.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"

_METRIC = re.compile(r"\b(linkage_[a-z0-9_]+)\b")
#: Grafana's variables, replaced by something PromQL parses.
_GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$service": ".*", "$department": ".*"}


def rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return loaded


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rules()["groups"] for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_exprs() -> list[str]:
    """Every panel query of the dashboard (PromQL), with Grafana's variables substituted."""
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    out = []
    for expr in exprs:
        for variable, value in _GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        out.append(expr)
    return out


def referenced_metric_names() -> set[str]:
    """Every ``linkage_*`` metric name the alert rules and the dashboard query."""
    templating = [v["definition"] for v in dashboard()["templating"]["list"] if v.get("type") == "query"]
    texts = [rule["expr"] for rule in alerts()] + dashboard_exprs() + templating
    return {name for text in texts for name in _METRIC.findall(text)}


def exported(names: set[str], metric: str) -> bool:
    """``metric`` is one of ``names`` (sample or family names), allowing the histogram/counter suffixes."""
    if metric in names:
        return True
    return any(metric == f"{name}{suffix}" for name in names for suffix in ("_total", "_bucket", "_count", "_sum"))
