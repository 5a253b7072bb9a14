"""A case linked to another of a different review type (one incident, two reviews) and the returns they share: the
routes over ``service/cases/case_links.py``, which the case page's section and the link page call too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from records.models import User
from service.accounts.auth import require_roles
from service.accounts.roles import CASE_LINKERS, EXECUTIVES
from service.api.access import Reader
from service.cases.case_links import (
    LinkRead,
    NewLink,
    SharedReturn,
    Unlink,
    agree_to_share,
    audit_shared_read,
    count_shared_returns,
    link_cases,
    links_of,
    remove_link,
    shared_returns,
)
from service.deps import Cases

router = APIRouter(prefix="/api/cases", tags=["case links"])
Linker = Annotated[User, Depends(require_roles(*CASE_LINKERS))]
Executive = Annotated[User, Depends(require_roles(*EXECUTIVES))]


@router.post("/{reference}/links", status_code=201, response_model=LinkRead)
async def link(reference: str, new: NewLink, cases: Cases, user: Linker) -> LinkRead:
    """Link this case to another of a different review type, with the reason; ``share_returns`` proposes that the
    rapid review's agency returns count on the SAR, in force once each seat's executive agrees."""
    made = link_cases(cases, user, reference, new)
    await count_shared_returns(cases, user, reference)
    return next(found for found in links_of(cases, user, reference) if found.reference == made.linked_reference)


@router.post("/{reference}/links/{other}/agree-to-share", response_model=LinkRead)
async def agree(reference: str, other: str, cases: Cases, user: Executive) -> LinkRead:
    """Your seat agrees to the sharing proposed on this link (each seat's executive, in person)."""
    agree_to_share(cases, user, reference, other)
    await count_shared_returns(cases, user, reference)
    return next(found for found in links_of(cases, user, reference) if found.reference == other.strip().upper())


@router.delete("/{reference}/links/{other}", status_code=204)
def unlink(reference: str, other: str, body: Unlink, cases: Cases, user: Linker) -> None:
    """Remove a link (made in error, or the partners withdrew their agreement), saying why."""
    remove_link(cases, user, reference, other, body)


@router.get("/{reference}/links", response_model=list[LinkRead])
def links(reference: str, cases: Cases, user: Reader) -> list[LinkRead]:
    """The case's links to cases you may read (audited)."""
    cases.visible(user, reference)
    found = links_of(cases, user, reference)
    cases.audit(user, "read_case_links", reference, {"linked": [link.reference for link in found]})
    return found


@router.get("/{reference}/shared-returns", response_model=list[SharedReturn])
async def returns_shared(reference: str, cases: Cases, user: Reader) -> list[SharedReturn]:
    """The agencies' returns on linked cases shared with this one, for the agencies this case asked, those you may
    read (audited on both cases)."""
    asked = set((await cases.state(cases.visible(user, reference))).get("information_asked") or [])
    found = sorted((r for r in shared_returns(cases, user, reference).values() if r.agency in asked),
                   key=lambda r: r.agency)
    if found:
        cases.audit(user, "read_information_returns", reference,
                    {"agencies": [r.agency for r in found], "shared_from": sorted({r.shared_from for r in found})})
        audit_shared_read(cases, user, reference, {r.agency: r.shared_from for r in found})
    return found
