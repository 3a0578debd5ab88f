"""Prune an upstream CustomResourceDefinition to the JSON kept in this directory.

Usage: python deploy/k8s/schemas/prune_crd.py CRD.yaml SOURCE > deploy/k8s/schemas/<group>_<plural>.json

Keeps what validation needs: group, kind, plural, scope and, for every *served* version, the
``openAPIV3Schema`` without ``description`` texts and without the ``status`` subtree (the operator
writes it, manifests never do). SOURCE (e.g. ``strimzi/strimzi-kafka-operator@1.2.0``) is recorded
in the ``linkage.io/source`` annotation so the test and docs/deploy.md can say where it came from.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def strip_descriptions(node: Any, *, in_properties: bool = False) -> Any:
    """Drop ``description`` keys of schemas, keeping properties that happen to be named so."""
    if isinstance(node, dict):
        return {
            key: strip_descriptions(value, in_properties=(key == "properties" and not in_properties))
            for key, value in node.items()
            if in_properties or key != "description"
        }
    if isinstance(node, list):
        return [strip_descriptions(item) for item in node]
    return node


def prune(crd: dict[str, Any], source: str) -> dict[str, Any]:
    versions = []
    for version in crd["spec"]["versions"]:
        if not version.get("served"):
            continue
        schema = strip_descriptions(version["schema"]["openAPIV3Schema"])
        schema.get("properties", {}).pop("status", None)
        versions.append({"name": version["name"], "served": True, "schema": {"openAPIV3Schema": schema}})
    return {
        "apiVersion": crd["apiVersion"],
        "kind": crd["kind"],
        "metadata": {"name": crd["metadata"]["name"], "annotations": {"linkage.io/source": source}},
        "spec": {
            "group": crd["spec"]["group"],
            "names": {"kind": crd["spec"]["names"]["kind"], "plural": crd["spec"]["names"]["plural"]},
            "scope": crd["spec"]["scope"],
            "versions": versions,
        },
    }


def main() -> None:
    path, source = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as fh:
        (crd,) = [d for d in yaml.safe_load_all(fh) if d and d.get("kind") == "CustomResourceDefinition"]
    json.dump(prune(crd, source), sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
