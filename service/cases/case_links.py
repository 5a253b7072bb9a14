"""One incident, two reviews: a case of one review type linked to a case of another (a care leaver's death that is both
a rapid review and a Safeguarding Adults Review), and the agency returns the two share where the partners agreed.

- The business unit links them (both cases must be visible to it), saying why; the link is audited on both cases and
  shown on both case pages and in the API's read of either, to those who may read the other case too.
- Sharing is the three statutory partners' decision, not the business unit's: the link records that the three seats
  agreed and where (``sharing_seats``, ``sharing_decision``): an agency sent its return for one review, so using it
  for another is for the partners to agree; without their agreement a link only says the cases are related.
- With sharing agreed, an agency writes its return once: the other case reads it from where it was sent ("shared from
  RR-…"), and a case whose type counts shared returns (its ``use_shared_return`` action, the SAR's) records it as
  received, which closes the agency's task there. Least privilege: a shared return is shown only to someone who may
  read both cases and that agency's return (service/cases/visibility.py); reading it is audited like any return.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from sqlmodel import or_, select
from temporalio.service import RPCError

from engine.registry import ACTIONS, REVIEW_TYPES
from records.errors import Conflict, DomainError, InvalidInput
from records.models import CaseLink, CaseRecord, Document, InformationReturn, User
from service.cases.visibility import document_visible, return_visible
from workflows.models import SHORT, Text
from workflows.vocabulary import SEAT_NAMES, Seat

if TYPE_CHECKING:
    from service.cases.case_service import CaseService

SHARE_ACTION = "use_shared_return"  # a review type that counts a linked case's return as received takes this action
# Actions after which a shared return may now count somewhere: a return sent, or information asked for.
SHARING_TRIGGERS = frozenset({"submit_information_return", "submit_sar_information_return",
                              "request_sar_information"})


class NewLink(BaseModel):
    """A link from this case to another of a different review type; sharing returns needs the three partners."""

    linked_reference: Text = Field(min_length=1, max_length=40, description="The other case's reference")
    reason: Text = Field(min_length=1, max_length=SHORT, description="Why the cases are linked (one incident, ...)")
    share_returns: bool = Field(False, description="The three statutory partners agreed that the agencies' returns "
                                "and chronologies are shared between the two reviews")
    agreed_by_seats: list[Seat] = Field(default_factory=list, description="The seats that agreed to share: all three")
    sharing_decision: Text | None = Field(None, max_length=SHORT,
                                          description="Where and when the partners agreed")


class LinkRead(BaseModel):
    reference: str  # the other case
    review_type: str
    pseudonym: str
    reason: str
    linked_by: str
    linked_at: datetime
    sharing_agreed: bool
    sharing_agreed_by: list[str]  # the seats' names
    sharing_decision: str | None


class SharedReturn(BaseModel):
    agency: str
    shared_from: str
    submitted_at: datetime
    involvement: str
    chronology: str
    analysis: str


def _type_name(reference: str) -> str:
    found = REVIEW_TYPES.of_reference(reference)
    return found.name if found else "case"


def link_cases(cases: CaseService, user: User, reference: str, new: NewLink) -> CaseLink:
    """Link two visible cases of different review types, once; audited on both."""
    other = new.linked_reference.strip().upper()
    cases.visible(user, reference)
    cases.visible(user, other)  # CaseNotFound: the linker must see both
    if other == reference.upper():
        raise InvalidInput("A case cannot be linked to itself")
    mine, theirs = REVIEW_TYPES.of_reference(reference), REVIEW_TYPES.of_reference(other)
    if mine is None or theirs is None or mine.key == theirs.key:
        raise InvalidInput(f"Cases are linked across review types (a rapid review and a Safeguarding Adults Review); "
                           f"{reference} and {other} are both a {_type_name(reference).lower()}")
    if _link_between(cases, reference, other) is not None:
        raise Conflict(f"{reference} and {other} are already linked")
    seats = sorted(set(new.agreed_by_seats))
    if new.share_returns:
        missing = [SEAT_NAMES[s] for s in Seat if s not in seats]
        if missing:
            raise InvalidInput("Sharing returns is the three statutory partners' decision; not recorded as agreed by: "
                               + ", ".join(missing))
        if not (new.sharing_decision or "").strip():
            raise InvalidInput("sharing_decision: say where and when the partners agreed to share")
    elif seats or new.sharing_decision:
        raise InvalidInput("agreed_by_seats and sharing_decision record an agreement to share: set share_returns")
    link = CaseLink(case_reference=reference, linked_reference=other, reason=new.reason, linked_by=user.id,
                    sharing_seats=",".join(seats) if new.share_returns else None,
                    sharing_decision=new.sharing_decision if new.share_returns else None)
    cases.session.add(link)
    cases.session.flush()
    for here, there in ((reference, other), (other, reference)):
        cases.audit_writer.write(user, "link_cases", here, {"linked": there, "sharing_agreed": new.share_returns,
                                                            "agreed_by_seats": seats})
    cases.session.commit()
    return link


def _link_between(cases: CaseService, one: str, other: str) -> CaseLink | None:
    return cases.session.exec(select(CaseLink).where(or_(
        (CaseLink.case_reference == one) & (CaseLink.linked_reference == other),
        (CaseLink.case_reference == other) & (CaseLink.linked_reference == one)))).first()


def _links(cases: CaseService, reference: str, *, sharing: bool = False) -> list[tuple[str, CaseLink]]:
    """(the other case, the link) for every link of this case."""
    query = select(CaseLink).where(or_(CaseLink.case_reference == reference, CaseLink.linked_reference == reference))
    if sharing:
        query = query.where(CaseLink.sharing_seats.is_not(None))
    return [(link.linked_reference if link.case_reference == reference else link.case_reference, link)
            for link in cases.session.exec(query.order_by(CaseLink.id))]


def for_reader(cases: CaseService, user: User, reference: str, state: dict) -> dict:
    """A case's state as the API gives it: its links, and the cases its shared returns came from, only where this
    person may read the other case."""
    if state.get("shared_returns"):
        state["shared_returns"] = {agency: other for agency, other in state["shared_returns"].items()
                                   if cases.may_read(user, other)}
    state["links"] = [link.model_dump(mode="json") for link in links_of(cases, user, reference)]
    return state


def links_of(cases: CaseService, user: User, reference: str) -> list[LinkRead]:
    """This case's links that this person may follow (a link to a case she cannot read is not shown: it would say
    that case exists)."""
    shown = []
    for other, link in _links(cases, reference):
        if not cases.may_read(user, other):
            continue
        record, linker = cases.session.get(CaseRecord, other), cases.session.get(User, link.linked_by)
        seats = link.sharing_seats.split(",") if link.sharing_seats else []
        shown.append(LinkRead(reference=other, review_type=_type_name(other), pseudonym=record.pseudonym,
                              reason=link.reason, linked_by=linker.full_name if linker else "unknown",
                              linked_at=link.linked_at, sharing_agreed=bool(seats),
                              sharing_agreed_by=[SEAT_NAMES.get(s, s) for s in seats],
                              sharing_decision=link.sharing_decision))
    return shown


def shared_returns(cases: CaseService, user: User, reference: str) -> dict[str, SharedReturn]:
    """Each agency's latest return on a case linked to this one with sharing agreed, that this person may read
    (she may read the other case, and that agency's return). Not audited here: the reader records what was read."""
    found: dict[str, SharedReturn] = {}
    for other, _ in _links(cases, reference, sharing=True):
        if not cases.may_read(user, other):
            continue
        for row in cases.session.exec(select(InformationReturn).where(InformationReturn.case_reference == other)
                                      .order_by(InformationReturn.version)):
            if return_visible(user.role, user.agency, row.agency) and row.agency not in found:
                found[row.agency] = SharedReturn(agency=row.agency, shared_from=other, submitted_at=row.submitted_at,
                                                 involvement=row.involvement, chronology=row.chronology,
                                                 analysis=row.analysis)
    return found


def shared_chronologies(cases: CaseService, user: User, shared_from: str | None, agency: str) -> list[Document]:
    """The agency's chronology files on the case its return was shared from (``shared_from`` is set only for a
    reader of both cases), as that case's page would list them to this person."""
    kind = f"chronology_{agency}"
    if shared_from is None or not document_visible(user.role, kind, user.agency):
        return []
    return list(cases.session.exec(select(Document).where(Document.case_reference == shared_from,
                                                          Document.kind == kind).order_by(Document.version)))


def require_shared_return(cases: CaseService, reference: str, agency: str, shared_from: str) -> None:
    """The service's half of ``use_shared_return``'s checks (the workflow cannot read the database): the return
    exists on a case linked to this one with sharing agreed."""
    linked = [other for other, _ in _links(cases, reference, sharing=True)]
    if shared_from not in linked:
        raise InvalidInput(f"shared_from: {shared_from} is not linked to {reference} with sharing agreed")
    if cases.session.exec(select(InformationReturn.id).where(InformationReturn.case_reference == shared_from,
                                                             InformationReturn.agency == agency)).first() is None:
        raise InvalidInput(f"agency: no return from {agency} on {shared_from}")


async def count_shared_returns(cases: CaseService, user: User, reference: str) -> list[str]:
    """After a link, a return or a request on ``reference``: on it and on each case linked to it with sharing
    agreed, every agency asked and still waited on whose return is on a sharing-linked case is counted as received
    (``use_shared_return``, taken as this person, who must be allowed it). Returns the cases changed. A refusal here
    never undoes what was just done: the agency can still send its own return."""
    spec = ACTIONS.get(SHARE_ACTION)
    if spec is None:
        return []
    changed = []
    for target in [reference, *(other for other, _ in _links(cases, reference, sharing=True))]:
        found = REVIEW_TYPES.of_reference(target)
        if found is None or found.key != spec.review_type or user.role not in spec.roles:
            continue
        try:
            state = await cases.state(cases.visible(user, target))
        except (DomainError, RPCError):
            continue
        if state.get("stage") not in spec.stages:
            continue
        waiting = [a for a in state.get("information_asked") or [] if a not in (state.get("returns") or {})
                   and (user.agency == a or user.role != "agency_member")]
        sources = {other for other, _ in _links(cases, target, sharing=True)}
        for agency in waiting:
            source = cases.session.exec(select(InformationReturn.case_reference).where(
                InformationReturn.agency == agency, InformationReturn.case_reference.in_(sources))).first()
            if source is None:
                continue
            try:
                await cases.act(user, target, SHARE_ACTION, {"agency": agency, "shared_from": source})
                changed.append(target)
            except (DomainError, RPCError):  # e.g. the case moved on meanwhile: the agency may still send its own
                continue
    return changed
