"""The panel pack page: research questions, the returns side by side, one merged chronology
(``service/cases/panel_pack.py``),
and the same pack for paper: a print view and a PDF (the HTML rendered by WeasyPrint, as the case documents are). For
the roles who read every return, never an agency member (who reads only her own)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from anyio.to_thread import run_sync as in_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from activities.documents import render_pdf
from engine.calendar import london_date
from engine.vocabulary import AGENCIES
from records.models import Document, User
from records.vocabulary import CHRONOLOGY
from service.accounts.roles import BOARD_ROLES
from service.cases.case_service import CaseService
from service.cases.final_report import chronology_kind
from service.cases.panel_pack import latest_returns, merged_chronology
from service.cases.visibility import state_for
from service.deps import Cases, SettingsDep
from service.web.pages import page_roles, render, templates

router = APIRouter(include_in_schema=False)
PackReader = Annotated[User, Depends(page_roles(*BOARD_ROLES))]


async def pack(cases: CaseService, user: User, reference: str, shown_as: str) -> dict:
    """What the pack shows, its reading of the returns audited (``shown_as``: the page, the print view or the PDF)."""
    record = cases.visible(user, reference)
    state = state_for(user.role, await cases.state(record))
    panel = state.get("panel") or {}
    invited = panel.get("invited_agencies") or []
    returns = latest_returns(cases.session, reference, invited)
    received = {r.agency for r in returns}
    cases.audit(user, "read_information_returns", reference, {"page": shown_as, "agencies": sorted(received)})
    cases.session.commit()
    due = next((d["due"] for d in state.get("deadlines") or [] if d["key"] == "agency_returns"), None)
    files = cases.session.exec(select(Document).where(Document.case_reference == reference,
                                                      Document.kind.startswith(f"{CHRONOLOGY}_"))
                               .order_by(Document.version)).all()
    status = [{"name": AGENCIES.get(a, a), "received_on": (state.get("returns") or {}).get(a),
               "chronologies": [f for f in files if f.kind == chronology_kind(a)]} for a in invited]
    return {"reference": reference, "state": state, "panel": panel, "due": due, "status": status,
            "returns": [{"name": AGENCIES.get(r.agency, r.agency), "row": r} for r in returns],
            "chronology": merged_chronology(returns)}


@router.get("/cases/{reference}/panel-pack")
async def panel_pack(reference: str, request: Request, cases: Cases, user: PackReader) -> HTMLResponse:
    """Everything the panel reads before it meets, on one page."""
    return render(request, "panel_pack.html", user, **await pack(cases, user, reference, "panel pack"))


def paper(user: User, settings, context: dict, *, pdf: bool) -> str:
    return templates.get_template("panel_pack_print.html").render(
        user=user, pdf=pdf, partnership=settings.rapid_review_partnership_name,
        printed=london_date(datetime.now(UTC)), **context)


@router.get("/cases/{reference}/panel-pack/print")
async def panel_pack_print(reference: str, cases: Cases, user: PackReader, settings: SettingsDep) -> HTMLResponse:
    """The pack alone on the page, laid out for paper (the service's header and navigation left off)."""
    context = await pack(cases, user, reference, "panel pack, print view")
    return HTMLResponse(paper(user, settings, context, pdf=False))


@router.get("/cases/{reference}/panel-pack.pdf")
async def panel_pack_pdf(reference: str, cases: Cases, user: PackReader, settings: SettingsDep) -> Response:
    """The pack as a PDF, rendered now from the returns as they stand (not kept: the returns are)."""
    context = await pack(cases, user, reference, "panel pack, PDF")
    pdf = await in_thread(render_pdf, paper(user, settings, context, pdf=True))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="panel-pack-{reference}.pdf"', "Cache-Control": "no-store"})
