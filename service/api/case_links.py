"""A case linked to another of a different review type (one incident, two reviews) and the returns they share: the
routes over ``service/cases/case_links.py``, which the case page's section and the link page call too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from records.models import User
from service.accounts.auth import require_roles
from service.accounts.roles import CASE_LINKERS
from service.api.access import Reader
from service.cases.case_links import (
    LinkRead,
    NewLink,
    SharedReturn,
    count_shared_returns,
    link_cases,
    links_of,
    shared_returns,
)
from service.deps import Cases

router = APIRouter(prefix="/api/cases", tags=["case links"])
Linker = Annotated[User, Depends(require_roles(*CASE_LINKERS))]


@router.post("/{reference}/links", status_code=201, response_model=LinkRead)
async def link(reference: str, new: NewLink, cases: Cases, user: Linker) -> LinkRead:
    """Link this case to another of a different review type, with the reason; with ``share_returns`` (the three
    partners' agreement recorded), the agencies' returns on either count on the other."""
    made = link_cases(cases, user, reference, new)
    await count_shared_returns(cases, user, reference)
    return next(found for found in links_of(cases, user, reference) if found.reference == made.linked_reference)


@router.get("/{reference}/links", response_model=list[LinkRead])
def links(reference: str, cases: Cases, user: Reader) -> list[LinkRead]:
    """The case's links to cases you may read."""
    cases.visible(user, reference)
    return links_of(cases, user, reference)


@router.get("/{reference}/shared-returns", response_model=list[SharedReturn])
def returns_shared(reference: str, cases: Cases, user: Reader) -> list[SharedReturn]:
    """The agencies' returns on linked cases shared with this one, those you may read (audited)."""
    cases.visible(user, reference)
    found = sorted(shared_returns(cases, user, reference).values(), key=lambda r: r.agency)
    if found:
        cases.audit(user, "read_information_returns", reference,
                    {"agencies": [r.agency for r in found], "shared_from": sorted({r.shared_from for r in found})})
    return found
