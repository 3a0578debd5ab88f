"""Tests use the same disposable system as `linkage bench` (see linkage/harness.py)."""

from linkage.harness import (
    REPO,
    Infra,
    ServiceProcess,
    Stack,
    create_operator,
    start_infra,
    start_stack,
    stop_infra,
    wait_until,
)

__all__ = [
    "REPO",
    "Infra",
    "ServiceProcess",
    "Stack",
    "create_operator",
    "start_infra",
    "start_stack",
    "stop_infra",
    "wait_until",
]


def distinct_spot() -> dict[str, float]:
    """A random point inside the demo district, as ``{"lon", "lat"}``: a test's complaint placed there is hundreds of
    metres from other tests' complaints, so duplicate detection (并单, 200 m) never merges it into theirs."""
    import random

    from services.intake.places import default_places

    lon, lat = default_places().index.random_point(random.SystemRandom())
    return {"lon": lon, "lat": lat}
