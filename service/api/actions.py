"""One route per action, generated from the registered review types' action models and rules.

A partner system reads in ``/openapi.json`` what each action takes (its body schema, less the actor, who is the
caller, and the seal, which the service adds), who may take it, at which stages, and an example. Every route
sends its body through the case service's ``act``, as the pages do, so the workflow's validator still has the
last word. (No ``from __future__ import annotations`` here: FastAPI reads the generated body types from the
functions' annotations.)
"""

import datetime
import typing
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, create_model

from records.models import User
from records.wording import label
from service.accounts.auth import current_user
from service.api.cases import IdempotencyKey, answer
from service.cases.case_service import ACTIONS, ActionSpec
from service.deps import Cases

SERVICE_FIELDS = ("actor", "seal")  # filled in by the service, never sent by a caller
ERRORS = {
    403: "Your role may not take this action",
    404: "No such case that you can see",
    409: "The workflow refused the action (wrong stage, already done, a rule of the process): the reason says which",
    410: "The engine no longer holds this case's workflow",
    422: "The body is not valid: the detail names each field",
    503: "The engine did not answer in time; send it again with the same Idempotency-Key",
}


_BODIES: dict[type[BaseModel], type[BaseModel]] = {}


def body_model(spec: ActionSpec) -> type[BaseModel]:
    """What a caller sends for an action: the action model's own fields, without the service's (one body model
    per action model: two actions may share one, e.g. the three-way sign-offs)."""
    if spec.model not in _BODIES:
        fields = {name: (field.annotation, field) for name, field in spec.model.model_fields.items()
                  if name not in SERVICE_FIELDS}
        # Other fields pass through to the case service, which refuses "actor" and "seal" by name (and the workflow's
        # model ignores the rest, as it always has).
        _BODIES[spec.model] = create_model(f"{spec.model.__name__}Body", __doc__=spec.model.__doc__,
                                           __config__=ConfigDict(extra="allow"), **fields)
    return _BODIES[spec.model]


def _example_value(annotation, depth: int = 0):
    """A value of the right shape for the OpenAPI example (the workflow decides what is acceptable)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        chosen = [a for a in args if a is not type(None)]
        return _example_value(chosen[0], depth) if chosen else None
    if origin in (list, tuple, set, frozenset):
        return [_example_value(args[0], depth + 1)] if args else []
    if origin is typing.Annotated:
        return _example_value(args[0], depth)
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            return 1
        if issubclass(annotation, datetime.date):
            return "2026-12-02"
        if hasattr(annotation, "__members__"):  # an enum
            return next(iter(annotation.__members__.values())).value
        if issubclass(annotation, BaseModel) and depth < 3:
            return {name: _example_value(f.annotation, depth + 1) for name, f in annotation.model_fields.items()
                    if f.is_required()}
    return "text"


def example(spec: ActionSpec) -> dict:
    return {name: _example_value(field.annotation) for name, field in spec.model.model_fields.items()
            if name not in SERVICE_FIELDS and field.is_required()}


def _description(name: str, spec: ActionSpec) -> str:
    method = getattr(spec.workflow, name)
    doc = (method.__doc__ or "").strip()
    return "\n\n".join(part for part in (
        doc,
        f"**Who:** {', '.join(label(r) for r in sorted(spec.roles))}.",
        f"**When:** the case is at {', '.join(label(s) for s in sorted(spec.stages))}.",
        "**Answer:** the case's new state, as your role may see it.",
    ) if part)


def may_take(name: str, roles: frozenset[str]):
    """A dependency letting through only the roles the workflow's rules give this action (403 naming them)."""

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise HTTPException(403, f"Your role ({user.role}) may not do this: a {user.role} may not take "
                                     f"'{name}'; it is for: {', '.join(sorted(roles))}")
        return user

    check.allowed_roles = frozenset(roles)  # read by the route table and its tests
    return check


def _add_route(router: APIRouter, name: str, spec: ActionSpec) -> None:
    body_type = body_model(spec)
    # The action's own roles, checked before its body is read: a role that may not take it learns that first.
    taker = Annotated[User, Depends(may_take(name, spec.roles))]

    async def take(reference: str, body: body_type, cases: Cases, user: taker,
                   idempotency_key: IdempotencyKey = None) -> dict:
        return answer(await cases.act(user, reference, name, body.model_dump(mode="json", exclude_unset=True),
                                      idempotency_key))

    take.__name__ = name
    router.add_api_route(
        f"/{{reference}}/actions/{name}", take, methods=["POST"], operation_id=name,
        summary=label(name), description=_description(name, spec),
        responses={code: {"description": text} for code, text in ERRORS.items()},
        openapi_extra={"requestBody": {"content": {"application/json": {"example": example(spec)}}}},
    )


def action_router() -> APIRouter:
    """The routes of every action registered now: ``create_app`` builds them, so a review type registered before
    the app is made has its routes (engine/registry.py)."""
    made = APIRouter(prefix="/api/cases", tags=["actions"])
    for name, spec in sorted(ACTIONS.items()):
        _add_route(made, name, spec)
    return made


router = action_router()  # the service's own review types' routes

# For routes whose action is known only at run time (a task's): the body is one of the actions' bodies.
ANY_ACTION_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"anyOf": [
    {"$ref": f"#/components/schemas/{model.__name__}"} for model in _BODIES.values()]}}}}}
