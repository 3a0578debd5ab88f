"""Who may call an operation, said in the OpenAPI document itself.

A secured operation declares its security scheme (a FastAPI security dependency); every other operation
marks itself public, with the reason, through ``openapi_extra``::

    @router.get("/track/{code}", openapi_extra=public("tracking code; redacted history; rate-limited"))

The authorization matrix (``linkage/authz.py``, ``tests/e2e/test_authorization_matrix.py``) fails for an
operation that has neither, so a new endpoint cannot become public by omission.
"""

from __future__ import annotations

from typing import Any

ACCESS_KEY = "x-linkage-access"


def public(reason: str) -> dict[str, Any]:
    """``openapi_extra`` for an operation anyone may call, and why that is safe."""
    if not reason.strip():
        raise ValueError("say why the operation may be public")
    return {ACCESS_KEY: f"public: {reason}"}
