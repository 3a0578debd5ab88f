"""Input checks shared by every service's request models."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.utils import solve_dependencies
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
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


class AuthFirstRoute(APIRoute):
    """A route that answers 401/403/404 from its dependencies before 422 for its body.

    Put credentials and resource permissions in dependencies (e.g. "the case, if this key's department
    handles it"). FastAPI already resolves dependencies before it validates the body, with one exception:
    a body that is not valid JSON is refused (422) before any dependency runs. This route class closes that
    gap: on such a refusal it resolves the dependencies first (so they may raise 401/403/404) and only then
    re-raises the 422. The endpoint itself never runs in that case.

    Use: ``APIRouter(route_class=AuthFirstRoute)``.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        context = fastapi_routing._effective_route_context_var.get()  # the route as included (prefix, deps)
        route = context if context is not None and context.original_route is self else self

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if not any(e.get("type") == "json_invalid" for e in exc.errors()):
                    raise
                await solve_dependencies(
                    request=request,
                    dependant=route.dependant,
                    body=None,
                    dependency_overrides_provider=route.dependency_overrides_provider,
                    async_exit_stack=request.scope["fastapi_inner_astack"],
                    embed_body_fields=route._embed_body_fields,
                )
                raise

        return run
