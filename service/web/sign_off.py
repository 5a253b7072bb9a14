"""An Executive's sign-off page: the version of the decision sheet in front of her, what changed since the last,
and her approval or return with comments."""

from __future__ import annotations

import html as html_lib
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlmodel import select

from engine.vocabulary import (
    Stage,
)
from records.models import Document, User
from records.object_store import MissingObject, ObjectStore, read_stored
from service.accounts.roles import EXECUTIVES
from service.cases.case_service import ACTIONS, CaseService
from service.cases.visibility import state_for
from service.deps import Cases
from service.web import wording
from service.web.case_actions import action_fields
from service.web.forms import (
    FormField,
    answer_text,
    delay_field,
    error_list,
    form_fields,
)
from service.web.pages import page_roles, render

router = APIRouter(include_in_schema=False)


def sheet_body(store: ObjectStore, document: Document | None) -> Markup | None:
    """The issued decision sheet's content (the document the Executives sign), to show in the page."""
    if document is None:
        return None
    try:
        html = read_stored(store, document.html_path).decode("utf-8")
    except MissingObject:
        return None
    start, end = html.find("<main>"), html.rfind("</main>")
    # The document was rendered by the service with autoescaping; only its own markup is kept.
    body = html[start + len("<main>"):end] if start >= 0 <= end else ""
    return Markup(wording.ISO_DATE.sub(lambda m: wording.long_date(m.group(1)), body))  # noqa: S704


def sheet_lines(store: ObjectStore, document: Document | None) -> list[str]:
    if document is None:
        return []
    text = re.sub(r"<[^>]+>", "\n", str(sheet_body(store, document)))
    return [" ".join(line.split()) for line in html_lib.unescape(text).splitlines() if line.strip()]


def field_changes(versions: list[dict], version: int) -> list[dict] | None:
    """What changed between the last two versions of the decision sheet, question by question ("label: old → new"),
    in the form's words; None for a case whose earlier versions were not kept (the text comparison stands)."""
    if len(versions) < 2 or len(versions) != version:
        return None
    fields = [f for f in action_fields("issue_decision_sheet", []) if f.kind != "hidden"]
    old, new = versions[-2], versions[-1]
    return [{"label": f.label, "old": answer_text(f, old.get(f.name)) or "Not answered",
             "new": answer_text(f, new.get(f.name)) or "Not answered"}
            for f in fields if old.get(f.name) != new.get(f.name)]


def awaits_sign_off(state: dict) -> bool:
    """The decision sheet waits for the seats: at the sign-off stage, or a revision after the Panel's questions."""
    return state.get("stage") == Stage.executive_sign_off or bool(state.get("revision"))


async def sign_off_page(request: Request, cases: CaseService, user: User, reference: str, status_code: int = 200,
                        errors: dict | None = None, typed: dict | None = None) -> HTMLResponse:
    """The decision sheet in full, what changed since the version returned and why, then "Your decision"."""
    session = cases.session
    record = cases.visible(user, reference)
    state = state_for(user.role, await cases.state(record))
    version = state.get("decision_sheet_version") or 0
    sheets = {d.version: d for d in session.exec(select(Document).where(
        Document.case_reference == reference, Document.kind == "decision_sheet"))}
    sheet = sheets.get(version)
    cases.audit(user, "read_document", reference, {"page": "sign_off", "version": version})
    before, now = sheet_lines(cases.documents, sheets.get(version - 1)), sheet_lines(cases.documents, sheet)
    changed = {"added": [line for line in now if line not in before],
               "removed": [line for line in before if line not in now],
               "fields": field_changes(state.get("decision_sheet_versions") or [], version)} if version > 1 else None
    returned = [s for s in state.get("sign_offs") or [] if s["decision"] == "return" and s["version"] == version - 1]
    fields = form_fields(ACTIONS["sign_off"].model)
    session.commit()
    errors = errors or {}
    return render(request, "sign_off.html", user, status_code=status_code, reference=reference, state=state,
                  version=version, sheet=sheet, body=sheet_body(cases.documents, sheet), changed=changed,
                  returned=returned,
                  errors=errors, typed=typed or {}, capacity=next(f for f in fields if f.name == "capacity"),
                  delay=delay_field(state), error_summary=error_list("sign_off", fields + [
                      FormField(name="delay_reason", label="", kind="textarea", required=True, help=None),
                      FormField(name="declaration", label="", kind="checkbox", required=False, help=None)], errors),
                  already=any(s["seat"] == user.seat and s["version"] == version for s in state.get("sign_offs") or []),
                  waiting=awaits_sign_off(state))


@router.get("/cases/{reference}/sign-off")
async def sign_off_view(reference: str, request: Request, cases: Cases,
                        user: Annotated[User, Depends(page_roles(*EXECUTIVES))]) -> HTMLResponse:
    """The approver's page: the sheet, what changed and the return comments, then approve or return."""
    return await sign_off_page(request, cases, user, reference)
