"""The route table: every route with the roles it declares, read from the app itself (so the role x route
tests and the documentation can never drift from the code)."""

from __future__ import annotations

from typing import NamedTuple

from fastapi import FastAPI
from fastapi.routing import APIRoute

from engine.vocabulary import Role

ALL_ROLES = frozenset(str(role) for role in Role)


class RouteRule(NamedTuple):
    method: str
    path: str
    roles: frozenset[str] | None  # None: no sign-in needed
    summary: str


def _api_routes(app: FastAPI):
    for route in app.routes:
        yield from getattr(getattr(route, "original_router", None), "routes", [route])


def _declared_roles(route: APIRoute) -> frozenset[str] | None:
    pending, roles = list(route.dependant.dependencies), None
    while pending:
        dependency = pending.pop()
        allowed = getattr(dependency.call, "allowed_roles", None)
        if allowed is not None:
            roles = allowed if roles is None else roles & allowed
        elif getattr(dependency.call, "any_signed_in_user", False) and roles is None:
            roles = ALL_ROLES
        pending.extend(dependency.dependencies)
    return roles


def route_table(app: FastAPI, pages: bool = False) -> list[RouteRule]:
    """The API's routes (in the OpenAPI schema), or with ``pages`` the web pages' routes."""
    rules = []
    for route in _api_routes(app):
        if isinstance(route, APIRoute) and route.include_in_schema != pages:
            summary = (route.endpoint.__doc__ or "").strip().splitlines()[0] if route.endpoint.__doc__ else ""
            for method in sorted(route.methods):
                rules.append(RouteRule(method, route.path, _declared_roles(route), summary))
    return rules


def route_table_markdown(app: FastAPI) -> str:
    lines = ["| method | path | roles | what |", "|---|---|---|---|"]
    for rule in route_table(app):
        if rule.roles is None:
            who = "anyone"
        elif rule.roles == ALL_ROLES:
            who = "any signed-in user"
        else:
            who = ", ".join(sorted(rule.roles))
        lines.append(f"| {rule.method} | `{rule.path}` | {who} | {rule.summary} |")
    return "\n".join(lines)
