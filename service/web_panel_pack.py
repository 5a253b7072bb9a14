"""The panel pack page: research questions, the returns side by side, one merged chronology; printable
(``service/panel_pack.py``). For the roles who read every return, never an agency member (who reads only her own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from records.models import User
from service.deps import Cases
from service.panel_pack import latest_returns, merged_chronology
from service.roles import BOARD_ROLES
from service.visibility import state_for
from service.web import page_roles, render
from workflows.vocabulary import AGENCIES

router = APIRouter(include_in_schema=False)


@router.get("/cases/{reference}/panel-pack")
async def panel_pack(reference: str, request: Request, cases: Cases,
                     user: Annotated[User, Depends(page_roles(*BOARD_ROLES))]) -> HTMLResponse:
    """Everything the panel reads before it meets, on one page that prints as the pack."""
    record = cases.visible(user, reference)
    state = state_for(user.role, await cases.state(record))
    panel = state.get("panel") or {}
    invited = panel.get("invited_agencies") or []
    returns = latest_returns(cases.session, reference, invited)
    received = {r.agency for r in returns}
    cases.audit(user, "read_information_returns", reference, {"page": "panel pack", "agencies": sorted(received)})
    cases.session.commit()
    due = next((d["due"] for d in state.get("deadlines") or [] if d["key"] == "agency_returns"), None)
    status = [{"name": AGENCIES.get(a, a), "received_on": (state.get("returns") or {}).get(a)} for a in invited]
    return render(request, "panel_pack.html", user, reference=reference, state=state, panel=panel, due=due,
                  status=status, returns=[{"name": AGENCIES.get(r.agency, r.agency), "row": r} for r in returns],
                  chronology=merged_chronology(returns))
