"""The real error model in every service's OpenAPI document, with the status codes each operation can answer.

Every error a service answers itself is one JSON shape, :class:`ErrorBody` (``shared/errors.py``
``DomainError.to_body``, ``shared/app.py`` ``validation_error_body`` and ``unavailable_response``,
``shared/ratelimit.py`` ``TooManyRequests``, the 413 of ``BodySizeLimit``). :func:`install_error_documentation`
post-processes FastAPI's document once, when it is first built, so that each operation lists:

* ``422`` — the operation has parameters or a request body (replaces FastAPI's ``HTTPValidationError``);
* ``401`` and ``403`` — the operation declares a security scheme (a route whose own ``responses`` name ``401``
  but not ``403`` can only be refused for its credential, e.g. "who am I");
* ``404`` — a path parameter names the thing looked up;
* ``400`` and ``413`` — the operation takes a request body (one that cannot be parsed; the size limit);
* ``429`` (with ``Retry-After``) — a rate-limit dependency guards it;
* ``503`` (with ``Retry-After``) — it uses the database (a dependency named in ``infrastructure``);
* every other status a route declares in ``responses=`` (``409``, ``410``, ``415``, …).

A status a route declares with its own ``content`` keeps it (Open311's error list, WeChat's plain text,
``/readyz``'s report); a declared status without content gets :class:`ErrorBody`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from shared.ratelimit import SettingsRateLimit


class FieldProblem(BaseModel):
    """One refused input."""

    field: str = Field(description="dotted location of the input, e.g. `reporter.phone` or `limit`")
    message: str = Field(description="what is wrong with it")
    type: str | None = Field(default=None, description="machine-readable kind, e.g. `missing`, `string_too_long`")


class ErrorBody(BaseModel):
    """The body of every error answer: a machine-readable ``error`` code and a ``message`` for people.

    Validation errors list the refused inputs in ``fields``; other errors may add their own context
    (``field``, ``role``, ``department``, ``state``, ``allowed_actions``, ``limit``, ``retry_after_s``, …)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(
        description="`validation_error`, `invalid_input`, `unauthorized`, `forbidden`, `not_found`, `conflict`, "
        "`illegal_transition`, `concurrent_update`, `payload_too_large`, `unsupported_media_type`, "
        "`invalid_photo`, `rate_limited`, `service_unavailable`, `dispatch_unavailable`, …",
        examples=["validation_error"],
    )
    message: str = Field(description="what went wrong, in Chinese or English", examples=["invalid fields: text"])
    fields: list[FieldProblem] | None = Field(default=None, description="the refused inputs (422)")


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "malformed request",
    401: "no credential, or an unknown, revoked or expired one",
    403: "a valid credential that may not do this",
    404: "not found",
    409: "conflicts with the current state",
    410: "gone (expired)",
    413: "request body too large",
    415: "unsupported media type",
    422: "invalid input: the refused fields are listed in `fields`",
    429: "too many requests from this client; retry after `Retry-After` seconds",
    503: "the database or the message broker is unavailable; retry after `Retry-After` seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response object answering :class:`ErrorBody`."""
    response: dict[str, Any] = {
        "description": description or ERROR_DESCRIPTIONS.get(status, "error"),
        "content": {"application/json": {"schema": dict(_ERROR_REF)}},
    }
    if status in (429, 503):
        response["headers"] = dict(RETRY_AFTER)
    return response


def install_error_documentation(app: FastAPI, *, infrastructure: Collection[Callable[..., Any]] = ()) -> None:
    """Build the app's OpenAPI document once with the error model applied (see the module docstring).

    ``infrastructure``: the dependencies that reach the database or the broker (an operation depending on
    one of them, directly or not, may answer 503)."""

    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)  # cached by FastAPI until the routes change
        if not documented or documented[0] is not schema:
            documented[:] = [document_errors(schema, app.routes, infrastructure)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(
    schema: dict[str, Any], routes: Sequence[BaseRoute], infrastructure: Collection[Callable[..., Any]] = ()
) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["FieldProblem"] = FieldProblem.model_json_schema()
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    body.pop("$defs", None)
    components["ErrorBody"] = body
    for route in iter_route_contexts(routes):  # routes of included routers with their prefix and dependencies
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _document_operation(operation, route, infrastructure)
    if not _uses_fastapi_validation_error(schema):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def _document_operation(
    operation: dict[str, Any], route: RouteContext, infrastructure: Collection[Callable[..., Any]]
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    declared = {str(code) for code in route.responses}
    for status in sorted(_error_statuses(operation, route, declared, infrastructure)):
        current = responses.get(str(status))
        if current is None or _is_fastapi_validation(current):
            responses[str(status)] = error_response(status)
        elif not current.get("content"):
            default = error_response(status, current.get("description"))
            responses[str(status)] = {**default, **current, "content": default["content"]}


def _error_statuses(
    operation: dict[str, Any], route: RouteContext, declared: set[str], infrastructure: Collection[Callable[..., Any]]
) -> set[int]:
    statuses = {int(code) for code in declared if code.isdigit() and int(code) >= 400}
    has_body = "requestBody" in operation
    if operation.get("parameters") or has_body:
        statuses.add(422)
    if has_body:
        statuses.update((400, 413))  # a body that cannot be parsed; over the size limit
    if operation.get("security"):
        statuses.add(401)
        if not ("401" in declared and "403" not in declared):
            statuses.add(403)
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add(404)
    calls = list(_calls(route.dependant))
    if any(_is_rate_limit(call) for call in calls):
        statuses.add(429)
    if any(call in infrastructure for call in calls):
        statuses.add(503)
    return statuses


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _is_rate_limit(call: Callable[..., Any]) -> bool:
    return isinstance(call, SettingsRateLimit) or hasattr(call, "buckets")


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return isinstance(schema, dict) and schema.get("$ref") == _FASTAPI_VALIDATION


def _uses_fastapi_validation_error(schema: dict[str, Any]) -> bool:
    return any(
        _is_fastapi_validation(response)
        for operations in schema.get("paths", {}).values()
        for operation in operations.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
    )
