"""An agency's information return saved as a draft (issue 29): a member types part of it, saves, and she or a
colleague of the same agency comes back to it on the case page. One draft per case and agency (records/models.py
``ReturnDraft``); the step that records the sent return deletes it (activities/case_step.py).

Only that agency's members see or change it; saving is audited by who and when, never with the text."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError

from engine.models import LONG, Text
from engine.vocabulary import RETURN_STAGES, Role, Stage
from records import wording
from records.errors import Conflict, NotPermitted
from records.models import ReturnDraft, User
from service.cases.case_service import CaseService

RETURN_ACTION = "submit_information_return"
DRAFT_FIELDS = ("involvement", "chronology", "analysis")
OPEN_FOR_RETURNS = RETURN_STAGES


class DraftText(BaseModel):
    """What a draft may hold: the return's fields, each may still be empty, none longer than the return allows."""

    involvement: Text = Field(default="", max_length=LONG)
    chronology: Text = Field(default="", max_length=LONG)
    analysis: Text = Field(default="", max_length=LONG)


def draft_of(cases: CaseService, user: User, reference: str) -> ReturnDraft | None:
    """Her agency's draft for this case (none for anyone but an agency member); reading it is audited."""
    if user.role != Role.agency_member or not user.agency:
        return None
    draft = cases.session.get(ReturnDraft, (reference, user.agency))
    if draft is not None:
        cases.audit(user, "read_return_draft", reference, {"agency": user.agency})
    return draft


def draft_note(cases: CaseService, draft: ReturnDraft) -> str:
    """"Draft saved on 5 December 2026 by Chris Lee (Education)"."""
    saver = cases.session.get(User, draft.saved_by)
    return f"Draft saved on {wording.long_date(draft.saved_at)} by {saver.full_name if saver else 'a colleague'}"


def text_errors(typed: dict) -> dict[str, str]:
    """Each field that cannot be kept, with why (too long, a control character)."""
    try:
        DraftText.model_validate({k: typed.get(k) or "" for k in DRAFT_FIELDS})
    except ValidationError as error:
        found = {}
        for problem in error.errors():
            name = str(problem["loc"][0])
            label = wording.field_label(name)
            found[name] = (f"{label} must be {LONG:,} characters or fewer" if problem["type"] == "string_too_long"
                           else f"{label}: {problem['msg'].removeprefix('Value error, ')}")
        return found
    return {}


async def check_may_save(cases: CaseService, user: User, reference: str) -> None:
    """Refused unless her agency is asked for a return on this open case and has not sent it yet (a case she may
    not see is not found, as everywhere)."""
    record = cases.visible(user, reference)
    if user.role != Role.agency_member or not user.agency:
        raise NotPermitted("Only a member of an agency asked for a return may save a draft of it")
    state = await cases.state(record)
    if user.agency not in ((state.get("panel") or {}).get("invited_agencies") or []):
        raise NotPermitted("Your agency is not asked for an information return on this case")
    if user.agency in (state.get("returns") or {}):
        raise Conflict("Your agency has already sent its information return on this case: there is no draft to save")
    if state.get("stage") not in OPEN_FOR_RETURNS:
        raise Conflict("This case no longer takes information returns"
                       + (" (it is closed)" if state.get("stage") == Stage.closed else ""))


def save_draft(cases: CaseService, user: User, reference: str, typed: dict) -> ReturnDraft:
    """Keep what she typed as her agency's draft (replacing the last one), and audit who saved it, without text."""
    draft = cases.session.get(ReturnDraft, (reference, user.agency)) or ReturnDraft(
        case_reference=reference, agency=user.agency, saved_by=user.id, saved_at=datetime.now(UTC))
    for name in DRAFT_FIELDS:
        setattr(draft, name, typed.get(name) or "")
    draft.saved_by, draft.saved_at = user.id, datetime.now(UTC)
    cases.session.add(draft)
    cases.session.flush()
    cases.audit(user, "save_return_draft", reference, {"agency": user.agency})  # commits with the draft
    return draft
