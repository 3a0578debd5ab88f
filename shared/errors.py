"""Domain errors as values at the edges, mapped to one HTTP status in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure; ``status_code`` is the HTTP status it maps to."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMedia(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"

    def to_body(self) -> dict[str, Any]:
        # the same ``fields`` list as request validation errors, so clients read one shape
        body = super().to_body()
        if "field" in self.extra:
            body["fields"] = [{"field": self.extra["field"], "message": self.message, "type": self.code}]
        return body
