"""The refusals of the service's domain, raised below the HTTP layer (records, the case service, the business
services) and turned into HTTP answers in one place (``service/app.py``, by ``service/platform/http_errors.py``).

Each says what is wrong in words a person understands: the message is what an API client reads as ``detail``
and a page shows beside its form. None may carry case content beyond what the person sent or may see.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the service refuses; nothing was changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """No such thing, or not one this person may see (the same answer, so nothing leaks)."""


class CaseNotFound(NotFound):
    """No case with that reference that this person can see."""


class NotPermitted(DomainError):
    """This person's role (or seat, or agency) may not do this."""


class InvalidInput(DomainError):
    """What was sent cannot be used: the detail names the field."""


class ActionRefused(DomainError):
    """The case's workflow refused the action (its validator's reason: wrong stage, already done, a rule)."""


class Conflict(DomainError):
    """The thing is not in a state that allows this (already done, closed, a retry still in progress)."""


class CaseGone(DomainError):
    """The engine holds no workflow for this case (orphaned, or closed past retention with no archive)."""


class EngineUnavailable(DomainError):
    """The workflow engine (or a worker) did not answer in time; the request may be sent again."""
