"""The one map from the domain's refusals (``records/errors.py``) to HTTP: the status each answers with and the
headers it carries. ``service/app.py`` registers the handler that uses it; pages that show a refusal beside a form
read the status from here too."""

from __future__ import annotations

from records.errors import (
    ActionRefused,
    CaseGone,
    Conflict,
    DomainError,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    NotPermitted,
)

STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    NotPermitted: 403,
    InvalidInput: 422,
    ActionRefused: 409,
    Conflict: 409,
    CaseGone: 410,
    EngineUnavailable: 503,
    DomainError: 422,  # a refusal of a kind not named above: what was sent cannot be used
}
RETRY_AFTER_SECONDS = "10"  # what a client waits before sending an unanswered request again


def status_of(error: DomainError) -> int:
    """The HTTP status of a refusal: its own class's, else its nearest parent's."""
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)


def headers_of(error: DomainError) -> dict[str, str] | None:
    return {"Retry-After": RETRY_AFTER_SECONDS} if isinstance(error, EngineUnavailable) else None
