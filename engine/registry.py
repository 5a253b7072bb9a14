"""The registry of review types: the one list the worker, the case service, the API and the pages read.

The service's own types register when ``reviews.review_types`` is imported; another package
registers its type the same way, and a test registers a type of its own for as long as it needs it. Every check a
clash would otherwise hide is made here, at registration: one key, one reference prefix, one workflow name and one
action name each (the API and the pages route an action by its name alone).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from engine.review_type import ActionSpec, ReviewType


class ReviewTypes:
    def __init__(self) -> None:
        self._types: dict[str, ReviewType] = {}
        self._actions: dict[str, ActionSpec] | None = None  # every type's actions, gathered once per registration

    def register(self, review_type: ReviewType) -> ReviewType:
        """Add a type (the same declaration again is a no-op); a clash with a registered type is refused."""
        if self._types.get(review_type.key) is review_type:
            return review_type
        for other in self._types.values():
            clashes = [what for what, mine, theirs in (
                ("key", review_type.key, other.key),
                ("reference prefix", review_type.reference_prefix or object(), other.reference_prefix),
                ("workflow", review_type.workflow_name, other.workflow_name),
            ) if mine == theirs]
            clashes += [f"action '{name}'" for name in sorted(review_type.actions.keys() & other.actions.keys())]
            if clashes:
                raise ValueError(f"Review type {review_type.key!r} has the same {', '.join(clashes)} as "
                                 f"{other.key!r}")
        if review_type.parent is not None and review_type.parent not in self._types:
            raise ValueError(f"Review type {review_type.key!r}: its parent {review_type.parent!r} is not registered")
        self._types[review_type.key] = review_type
        self._actions = None
        return review_type

    def unregister(self, key: str) -> None:
        """Remove a type (a test's own type, when the test is over); its child types go with it."""
        for child in [t.key for t in self._types.values() if t.parent == key]:
            self.unregister(child)
        self._types.pop(key, None)
        self._actions = None

    def __iter__(self) -> Iterator[ReviewType]:
        return iter(list(self._types.values()))

    def __getitem__(self, key: str) -> ReviewType:
        return self._types[key]

    def get(self, key: str) -> ReviewType | None:
        return self._types.get(key)

    def referred(self) -> list[ReviewType]:
        """The types a referral starts (each with its own reference prefix)."""
        return [t for t in self if t.reference_prefix is not None]

    def of_reference(self, reference: str) -> ReviewType | None:
        """The type of the case with this reference (its prefix: RR-2026-007 is a rapid review)."""
        prefix = reference.split("-", 1)[0].upper()
        return next((t for t in self.referred() if t.reference_prefix == prefix), None)

    def family(self, review_type: ReviewType) -> list[ReviewType]:
        """A case's type and the types its case starts (its children's children too), in registration order."""
        keys = {review_type.key}
        for candidate in self:  # registration order: a parent is always registered before its child
            if candidate.parent in keys:
                keys.add(candidate.key)
        return [t for t in self if t.key in keys]

    def workflows(self, task_queue: str | None = None) -> list[type]:
        """The workflow classes a worker on ``task_queue`` runs (types without a queue of their own run on the
        service's)."""
        return [t.workflow for t in self if t.task_queue in (None, task_queue)]

    def actions(self) -> dict[str, ActionSpec]:
        if self._actions is None:
            self._actions = {name: spec for t in self for name, spec in t.actions.items()}
        return self._actions

    def word(self, code: str) -> str | None:
        """A type's own words for one of its codes (a stage, an action), if a type has them."""
        return next((t.wording[code] for t in self if code in t.wording), None)

    def board_columns(self, shown: set[str] | None = None) -> list[str]:
        """The board's columns, each stage once, in the order of registration: the first type's always, another
        type's when it is in ``shown`` (it has cases on the board; None: every type's)."""
        first = next(iter(self._types), None)
        return list(dict.fromkeys(stage for t in self if shown is None or t.key in shown or t.key == first
                                  for stage in t.board_columns))


class ActionTable(Mapping[str, ActionSpec]):
    """Every registered action by name, read from the registry when asked (a type registered later is in it)."""

    def __init__(self, types: ReviewTypes) -> None:
        self._types = types

    def __getitem__(self, name: str) -> ActionSpec:
        return self._types.actions()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types.actions())

    def __len__(self) -> int:
        return len(self._types.actions())


REVIEW_TYPES = ReviewTypes()
ACTIONS = ActionTable(REVIEW_TYPES)
