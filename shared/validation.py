"""Input checks shared by every service's request models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def reject_control_characters(value: object) -> object:
    """NUL and other control characters (tab and newlines allowed) cannot be stored or shown: refuse them.
    Runs before the string checks, so length constraints keep their own messages ("at least 1 character")."""
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError("contains control characters (e.g. NUL) that are not allowed")
    return value


NoControlChars = BeforeValidator(reject_control_characters)
CleanStr = Annotated[str, NoControlChars]
