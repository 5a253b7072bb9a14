"""A case's page: its state, timeline, information returns and documents as this person may see them, the forms
of the actions open to her (``case_actions.py``), and the routes that take an action, a draft return or a
confirmation, re-rendering the page with the refusal's reason when one is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from engine.calendar import london_date
from engine.vocabulary import (
    AGENCIES,
    Role,
    TaskKind,
    TaskStatus,
)
from records.errors import CaseGone, DomainError, NotFound, NotPermitted
from records.lateness import late_cases
from records.models import CHANGE_ROWS, AuditEvent, Document, InformationReturn, Task, User
from records.tasks import task_scope
from records.vocabulary import FINAL_REPORT
from service.accounts.roles import CASE_ACTORS, CASE_LINKERS, CASE_READERS
from service.cases.case_links import audit_shared_read, links_of, shared_chronologies, shared_returns
from service.cases.case_service import ACTIONS, CaseService, actor_of
from service.cases.next_steps import waiting_on
from service.cases.return_drafts import (
    DRAFT_FIELDS,
    RETURN_ACTION,
    check_may_save,
    draft_note,
    draft_of,
    save_draft,
    text_errors,
)
from service.cases.visibility import document_visible, return_visible, state_for
from service.deps import Cases
from service.partnership.calendar_days import partnership_calendar
from service.partnership.themes import known_themes
from service.platform.http_errors import status_of
from service.web import wording
from service.web.case_actions import (
    APPROVER_PAGES,
    CHECK_ANSWERS,
    CONFIRM_FIRST,
    JOINT_ACTIONS,
    JOINT_ANSWERS,
    NOT_ON_CASE_PAGE,
    REPORT_STAGES,
    SIGN_OFFS,
    action_fields,
    action_form,
    available_actions,
    done_banner,
    goes_to_partners,
    joint_decisions,
    prefilled,
    proposed_to_partners,
    who_waits,
)
from service.web.decision_sheet import sheet_sections, unanswered
from service.web.forms import (
    FormField,
    answer_text,
    error_list,
    field_anchor,
    field_named,
    form_body,
    invalid_fields,
    safe_back,
    typed_values,
)
from service.web.pages import page_roles, render
from service.web.sign_off import awaits_sign_off, sign_off_page
from service.web.tasks import my_tasks_page

router = APIRouter(include_in_schema=False)


def information_returns(cases: CaseService, user: User, reference: str, state: dict,
                        calendar, today: date) -> list[dict]:
    """Each invited agency's return: received (with its text), outstanding or overdue. Agency members see their
    own agency's only; reading the texts is audited. A return on a linked case shared with this one (the partners
    agreed) is shown, and counted, as "shared from" it (service/cases/case_links.py)."""
    invited = state.get("information_asked") or (state.get("panel") or {}).get("invited_agencies") or []
    shared = shared_returns(cases, user, reference)
    kept = {r.agency: r for r in cases.session.exec(select(InformationReturn).where(
        InformationReturn.case_reference == reference).order_by(InformationReturn.version))}
    due = next((d["due"] for d in state.get("deadlines") or [] if d["key"] == "agency_returns"), None)
    shown = []
    for agency in invited:
        if not return_visible(user.role, user.agency, agency):
            continue
        received = (state.get("returns") or {}).get(agency)
        text, shared_from = kept.get(agency), None
        if text is None and agency in shared:  # received only once this case's workflow counted it
            text, shared_from = shared[agency], shared[agency].shared_from
        left = calendar.working_days_between(today, date.fromisoformat(due)) if due and not received else None
        status = "received" if received else ("overdue" if left is not None and left < 0 else "outstanding")
        shown.append({"agency": agency, "name": AGENCIES.get(agency, agency), "status": status,
                      "received_on": received, "due": due, "left": left, "text": text, "shared_from": shared_from,
                      "shared_chronologies": shared_chronologies(cases, user, shared_from, agency)})
    read = [r["agency"] for r in shown if r["text"]]
    if read:
        from_cases = sorted({r["shared_from"] for r in shown if r["shared_from"]})
        cases.audit(user, "read_information_returns", reference,
                    {"agencies": read, **({"shared_from": from_cases} if from_cases else {})})
        audit_shared_read(cases, user, reference, {r["agency"]: r["shared_from"] for r in shown if r["shared_from"]})
    return shown


async def case_page(request: Request, cases: CaseService, user: User, reference: str, status_code: int = 200,
                    errors: dict | None = None, typed: dict | None = None, done: str | None = None) -> HTMLResponse:
    """``errors`` and ``typed`` are per action: {action: {field: message}} and {action: {field: value}}."""
    session = cases.session
    record = cases.visible(user, reference)
    cases.audit(user, "read_case", reference, {"page": "case"})
    orphaned = None
    try:
        state = state_for(user.role, await cases.state(record))
    except CaseGone as error:
        orphaned = error.detail  # shown instead of the live state; no action can be taken
        state = {"pseudonym": record.pseudonym, "stage": record.stage, "deadlines": [], "late": record.late,
                 "escalated": record.escalated, "closed_reason": record.closed_reason}
    themes = sorted(known_themes(session))
    actions = [] if orphaned else [
        action_form(name, state, themes, user) for name in available_actions(user, state, reference)
        if name not in NOT_ON_CASE_PAGE]
    errors, typed = errors or {}, dict(typed or {})
    state["final_report_uploads"] = [{"id": d.id, "version": d.version} for d in session.exec(
        select(Document).where(Document.case_reference == reference, Document.kind == FINAL_REPORT)
        .order_by(Document.version))] if document_visible(user.role, FINAL_REPORT) else []
    for a in actions:
        typed.setdefault(a["name"], prefilled(a["name"], state))
        if a["name"] == RETURN_ACTION:  # her agency's draft: the form starts from it, and says whose it is
            a["drafts"] = True
            if (draft := draft_of(cases, user, reference)) is not None:
                a["draft_note"] = draft_note(cases, draft)
                typed[a["name"]] = typed[a["name"]] or {n: getattr(draft, n) for n in DRAFT_FIELDS}
    summary_errors = [pair for a in actions for pair in error_list(a["name"], a["fields"], errors.get(a["name"], {}))]
    timeline = session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference, CHANGE_ROWS)
                            .order_by(AuditEvent.id)).all()
    timeline = timeline_sentences(timeline, {u.id: u for u in session.exec(select(User))})
    tasks = session.exec(select(Task).where(Task.case_reference == reference, Task.status == TaskStatus.open,
                                            task_scope(user)).order_by(Task.due_date)).all()
    documents = [d for d in session.exec(select(Document).where(Document.case_reference == reference)
                                         .order_by(Document.kind, Document.version))
                 if document_visible(user.role, d.kind, user.agency)]
    calendar, today = partnership_calendar(session), london_date(datetime.now(UTC))
    state["outstanding"] = waiting_on(state, today)  # the review's stages and the partners' open proposals too
    returns = information_returns(cases, user, reference, state, calendar, today) if not orphaned else []
    # The case's missed deadlines once each (escalation tasks go to several people for the same miss).
    late = late_cases(session, today=today, calendar=calendar, references=[reference])
    tasks = [t for t in tasks if t.kind != TaskKind.escalation]
    review = state.get("practice_review") or {}
    may_sign_report = (user.role == Role.executive and review.get("stage") == "final_sign_off" and not any(
        s["seat"] == user.seat and s["version"] == review.get("report_version") for s in review.get("sign_offs") or []))
    may_upload = user.role == Role.business_unit and review.get("stage") in REPORT_STAGES
    may_sign = (user.role == Role.executive and awaits_sign_off(state)
                and not any(s["seat"] == user.seat and s["version"] == state.get("decision_sheet_version")
                            for s in state.get("sign_offs") or []))
    session.commit()
    return render(request, "case.html", user, status_code=status_code, reference=reference, state=state,
                  actions=actions, timeline=timeline, tasks=tasks, documents=documents,
                  errors=errors, typed=typed, orphaned=orphaned, returns=returns, error_summary=summary_errors,
                  confirmation=done_banner(done, state), may_sign=may_sign, who_waits=who_waits,
                  sin_decision=sin_summary(state, user), late=late, joint=joint_decisions(state),
                  may_sign_report=may_sign_report, may_upload=may_upload,
                  links=links_of(cases, user, reference), may_link=user.role in CASE_LINKERS)


def timeline_sentences(events: list[AuditEvent], users: dict[int, User]) -> list[dict]:
    """The case's changes as sentences in the past tense, each naming its person once and the outcome ("… approved
    the decision sheet, version 2."); issued decision sheets are numbered in the order they were issued."""
    entries, sheets = [], 0
    for event in events:
        actor = users.get(event.actor_id) if event.actor_id else None
        who = wording.person(actor.full_name if actor else None, event.actor_role,
                             seat=actor.seat if actor else None, agency=actor.agency if actor else None)
        sheets += event.action == "issue_decision_sheet"
        entries.append({"at": event.at, "sentence": wording.timeline_entry(
            event.action, event.detail, actor=who, version=sheets if event.action == "issue_decision_sheet" else None)})
    return entries


def sin_summary(state: dict, user: User) -> dict | None:
    """The notification decision for the summary: what was agreed and the CSC lead's rationale (not shown to agency
    members, like the rest of the partners' reasoning)."""
    agreed = state.get("sin_agreed") or (state.get("sin_decision") or {}).get("decision")
    proposals = state.get("sin_proposals") or []
    if not agreed and not proposals:
        return None
    rationale = proposals[-1].get("rationale") if proposals else (state.get("sin_decision") or {}).get("rationale")
    return {"decision": agreed, "proposed": proposals[-1]["decision"] if proposals else None,
            "rationale": None if user.role == Role.agency_member else rationale}


@router.get("/cases/{reference}")
async def case_view(reference: str, request: Request, cases: Cases,
                    user: Annotated[User, Depends(page_roles(*CASE_READERS))],
                    done: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """The case summary, what happens next, the returns, the actions this user may take now, deadlines, tasks,
    documents and timeline."""
    return await case_page(request, cases, user, reference, done=done)


@router.post("/cases/{reference}/actions/{action}")
async def case_action(reference: str, action: str, request: Request, cases: Cases,
                      user: Annotated[User, Depends(page_roles(*CASE_ACTORS))]) -> Response:
    """A form's action. Refused (by the form's rules or the workflow), the page it came from shows the error
    summary and what was typed; done, that page shows a confirmation. Decline and close ask first; the decision
    sheet shows its answers to check before it is issued."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise HTTPException(404, f"Unknown action {action!r}")
    form = await request.form()
    back = safe_back(form.get("back"), f"/cases/{reference}")
    fields = action_fields(action, sorted(known_themes(cases.session)))
    if "delay_reason" in form:
        fields.append(FormField(name="delay_reason", label="Reason for the delay", kind="textarea", required=True,
                                help=None))
    body, errors = form_body(fields, form)
    typed = typed_values(form)
    if "delay_reason" in form and not body.get("delay_reason"):
        errors["delay_reason"] = wording.MISSING["delay_reason"]
    if action in SIGN_OFFS and body.get("decision") == "return" and not body.get("comments"):
        errors["comments"] = "Enter your comments for the chair: what must change"
    if action in SIGN_OFFS and body.get("decision") == "approve":  # an approval says in what capacity, and why
        if not body.get("capacity"):
            errors["capacity"] = "Select whether you sign as the lead or a delegated safeguarding partner"
        if back.endswith(APPROVER_PAGES) and form.get("declaration") != "yes":
            thing = "final report" if action == "sign_off_report" else "decision sheet"
            errors["declaration"] = (f"Confirm that you have read this version of the {thing} and approve it for "
                                     "your organisation")
    if action == "issue_decision_sheet":  # the questions every rapid review answers, named in the error summary
        errors = {**unanswered(body), **errors}
    if not errors:
        errors = invalid_fields(spec.model, body, fields, actor=actor_of(user).model_dump())
    if errors or form.get("change"):
        return await page_again(request, cases, user, reference, back, action, errors, typed)
    if form.get("confirmed") != "yes" and (action in CONFIRM_FIRST or action in CHECK_ANSWERS):
        record = cases.visible(user, reference)
        answers = check_answers(action, fields, body, reference, to_field=not back.startswith("/tasks"))
        proposal = action in JOINT_ACTIONS and await goes_to_partners(cases, record, user)
        heading = CONFIRM_FIRST.get(action) or CHECK_ANSWERS[action][0]
        return render(request, "confirm.html", user, reference=reference, action=action, back=back,
                      heading=f"Propose to the partners: {heading[0].lower()}{heading[1:]}" if proposal else heading,
                      warning=action in CONFIRM_FIRST, proposal=proposal, answers=answers, typed=typed,
                      button=("Propose to the three partners" if proposal else wording.label(action))
                      if action in CONFIRM_FIRST else CHECK_ANSWERS[action][1])
    try:
        outcome = await cases.act(user, reference, action, body)
    except (NotFound, NotPermitted):
        raise
    except DomainError as error:
        message = wording.plain(error.detail)
        return await page_again(request, cases, user, reference, back, action,
                                {field_named(message, fields): message}, typed, status_of(error))
    done = f"{action}:{body['decision']}" if action in SIGN_OFFS else action
    if action in JOINT_ANSWERS:
        done = f"{action}:{body['view']}"
    elif proposed_to_partners(action, outcome.body):
        done = "proposed_to_partners"
    if back.startswith("/tasks") or back.endswith(APPROVER_PAGES):
        return RedirectResponse(f"/tasks?done={done}&case={reference}", status_code=303)
    return RedirectResponse(f"{back}?done={done}", status_code=303)


@router.post("/cases/{reference}/return-draft")
async def return_draft(reference: str, request: Request, cases: Cases,
                       user: Annotated[User, Depends(page_roles(Role.agency_member))]) -> Response:
    """The return form's "Save as draft": what she typed so far is kept for her agency, even if incomplete; too long
    (or a case that takes no return from her agency now) is refused and nothing is kept."""
    await check_may_save(cases, user, reference)
    form = await request.form()
    typed = {name: str(form.get(name) or "") for name in DRAFT_FIELDS}
    if errors := text_errors(typed):
        return await page_again(request, cases, user, reference, f"/cases/{reference}", RETURN_ACTION, errors, typed)
    save_draft(cases, user, reference, typed)
    return RedirectResponse(f"/cases/{reference}?done=return_draft_saved#{RETURN_ACTION}-form", status_code=303)


def check_answers(action: str, fields: list[FormField], body: dict, reference: str, *, to_field: bool) -> list[dict]:
    """The answers to check, in their sections, each (on a form checked before sending) with a Change button that
    takes the person back to the form with everything they typed (``to_field``: to that question, on the case page
    whose fields the anchors name)."""
    shown = [f for f in fields if f.kind != "hidden"]
    groups = sheet_sections(shown) if action == "issue_decision_sheet" else [{"legend": None, "fields": shown}]
    changeable = action in CHECK_ANSWERS
    return [{"legend": group["legend"], "rows": [
        {"label": f.label, "answer": answer_text(f, body.get(f.name)),
         "change": f"/cases/{reference}/actions/{action}" + (f"#{field_anchor(action, f)}" if to_field else "")
         if changeable else None}
        for f in group["fields"]]} for group in groups if group["fields"]]


async def page_again(request: Request, cases: CaseService, user: User, reference: str, back: str, action: str,
                     errors: dict, typed: dict, status_code: int | None = None) -> HTMLResponse:
    """Back to the page the person came from, with the errors and what they typed."""
    status_code = status_code or (422 if errors else 200)
    if back.startswith("/tasks"):
        return await my_tasks_page(request, cases, user, status_code,
                             failed={"case": reference, "action": action, "errors": errors, "typed": typed})
    if back.endswith("/report-sign-off"):
        from service.web.final_report import report_sign_off_page  # its module builds on this one

        return await report_sign_off_page(request, cases, user, reference, status_code, errors, typed)
    if back.endswith("/sign-off"):
        return await sign_off_page(request, cases, user, reference, status_code, errors, typed)
    return await case_page(request, cases, user, reference, status_code=status_code,
                           errors={action: errors}, typed={action: typed})
