"""A review type: everything the service needs to know of one kind of statutory review, in one declaration.

The Rapid Review, the local child safeguarding practice review and any review added later are each one
``ReviewType``: its workflow (and the name the engine knows it by), the reference its cases carry, its stages, what
starts it, its actions (who may take each, where, with which model, as which workflow update), the columns it has
on the board, the documents it issues and the words people read for it. The worker registers the workflows, the
case service starts and acts on cases, and the pages and API offer the actions, all from these declarations.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from pydantic import BaseModel
from temporalio import workflow


class ActionSpec(NamedTuple):
    """One action people take on a case: a workflow update, its model, who may take it and where."""

    workflow: type
    suffix: str  # the workflow id is the case reference plus this
    model: type[BaseModel]
    roles: frozenset[str]
    stages: frozenset[str]  # where the case (or its review) must stand for it
    review_type: str = ""  # the key of the review type it belongs to
    update: str = ""  # the workflow update's name (the action's name, kept as cases' histories hold it)


@dataclass(frozen=True)
class CaseStart:
    """What the case service knows when it starts a case of any type: its reference, who referred it (the
    workflow's ``Actor``), the partnership's name and the process rules in force that day."""

    reference: str
    referrer: BaseModel
    partnership_name: str
    rules: BaseModel | None = None


@dataclass(frozen=True)
class ReviewType:
    """One kind of review. A type with a ``reference_prefix`` is started by a referral (``input_model`` is what the
    referrer sends, ``start_input`` turns it into the workflow's input); a type with a ``parent`` is started by a
    case of that type as a child workflow under the case's reference plus ``workflow_id_suffix``."""

    key: str
    name: str  # what people call it ("Rapid review")
    workflow: type  # the @workflow.defn class; its RULES give the actions
    stages: tuple[str, ...]
    reference_prefix: str | None = None  # "RR": RR-2026-007
    parent: str | None = None
    workflow_id_suffix: str = ""
    input_model: type[BaseModel] | None = None
    start_input: Callable[[BaseModel, CaseStart], BaseModel] | None = None
    board_columns: tuple[str, ...] = ()  # the stages the case board shows as columns, in order
    documents: tuple[str, ...] = ()  # the document kinds its workflow issues
    wording: Mapping[str, str] = field(default_factory=dict)  # its own words: labels of its stages and actions
    task_queue: str | None = None  # None: the service's own queue (TEMPORAL_TASK_QUEUE)
    state_query: str = "state"  # the query answering the case's state as a dict (arg: today, ISO)

    def __post_init__(self) -> None:
        if (self.reference_prefix is None) == (self.parent is None):
            raise ValueError(f"Review type {self.key!r}: give a reference prefix (started by a referral) or a parent "
                             "(started by its case), not both")
        if self.reference_prefix is not None and not re.fullmatch(r"[A-Z]{2,6}", self.reference_prefix):
            raise ValueError(f"Review type {self.key!r}: a reference prefix is 2 to 6 capital letters (as "
                             "records/vocabulary.py's CASE_REFERENCE finds references)")
        if self.reference_prefix is not None and self.start_input is None:
            raise ValueError(f"Review type {self.key!r} is started by a referral: it needs start_input")

    @property
    def workflow_name(self) -> str:
        """The name the engine knows the workflow by (its histories carry it: it never changes)."""
        return workflow._Definition.must_from_class(self.workflow).name

    @cached_property
    def actions(self) -> dict[str, ActionSpec]:
        """Each action of the workflow's ``RULES``: the model its update takes and the roles and stages allowed."""
        found = {}
        for name, rule in self.workflow.RULES.items():
            method = getattr(self.workflow, name)
            definition = getattr(method, "_defn", None)  # what @workflow.update recorded: the update's own name
            if not isinstance(definition, workflow._UpdateDefinition):
                raise ValueError(f"{self.workflow.__name__}.{name} is in RULES but is not a workflow update")
            found[name] = ActionSpec(
                self.workflow, self.workflow_id_suffix, typing.get_type_hints(method)["action"],
                frozenset(str(role) for role in rule.roles), frozenset(str(stage) for stage in rule.stages),
                self.key, definition.name)
        return found

    def label(self, word: str) -> str | None:
        """This type's own words for a stage or an action, if it has them."""
        return self.wording.get(word)


def build_start(input_model: type[BaseModel], **extra: Any) -> Callable[[BaseModel, CaseStart], BaseModel]:
    """The usual ``start_input``: the referral's fields plus the reference, the referrer and the partnership's name
    (and ``extra``'s fields, given the start: e.g. the rules in force)."""

    def start(referral: BaseModel, started: CaseStart) -> BaseModel:
        given = {name: value(started) for name, value in extra.items()}
        return input_model(**referral.model_dump(), reference=started.reference, referrer=started.referrer,
                           partnership_name=started.partnership_name, **given)

    return start
