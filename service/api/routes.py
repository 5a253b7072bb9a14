"""The route table: every route with the roles it declares, read from the app itself (so the role x route
tests and the documentation can never drift from the code)."""

from __future__ import annotations

from typing import NamedTuple

from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.auth import current_user
from workflows.vocabulary import Role

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
        elif dependency.call is current_user and roles is None:
            roles = ALL_ROLES
        pending.extend(dependency.dependencies)
    return roles


def route_table(app: FastAPI) -> list[RouteRule]:
    rules = []
    for route in _api_routes(app):
        if isinstance(route, APIRoute) and route.include_in_schema:  # the API; web pages are in service.web
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
