"""Input checks shared by every service's request models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def reject_control_characters(value: str) -> str:
    """NUL and other control characters (tab and newlines allowed) cannot be stored or shown: refuse them."""
    if _CONTROL.search(value):
        raise ValueError("contains control characters (e.g. NUL) that are not allowed")
    return value


CleanStr = Annotated[str, AfterValidator(reject_control_characters)]
