"""One incident, two reviews: a case of one review type linked to a case of another (a care leaver's death that is both
a rapid review and a Safeguarding Adults Review), and the agency returns the two share where the partners agreed.

- The business unit links them (both cases must be visible to it), saying why; the link is audited on both cases and
  shown on both case pages and in the API's read of either, to those who may read the other case too.
- Sharing is the three statutory partners' decision, not the business unit's: the business unit may propose it (with
  where it was discussed), and it is in force only once the executive of each seat has agreed for that seat, each
  in person (``agree_to_share``); until then a link only says the cases are related. Why: an agency sent its return
  for one review, so using it for another is for the partners to agree. A link made in error is removed, with why.
- With sharing in force, an agency writes its return once, on the rapid review: the SAR (the type whose
  ``use_shared_return`` action counts a linked case's return as received, which closes the agency's task there)
  reads it from where it was sent ("shared from RR-..."), for the agencies it asked. Not the other way: what an
  agency tells the SAB under Care Act 2014 s45 may be used only for the SAB's functions (s45(6)), so a SAR's
  returns are not read on a rapid review. Least privilege: a shared return is shown only to someone who may read
  both cases and that agency's return (service/cases/visibility.py); reading it is audited on both cases.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import or_, select
from temporalio.service import RPCError

from engine.models import SHORT, Text
from engine.registry import ACTIONS, REVIEW_TYPES
from engine.vocabulary import SEAT_NAMES, Seat
from records.errors import Conflict, DomainError, InvalidInput, NotFound, NotPermitted
from records.models import CaseLink, CaseRecord, Document, InformationReturn, User
from service.cases.visibility import document_visible, return_visible

if TYPE_CHECKING:
    from service.cases.case_service import CaseService

SHARE_ACTION = "use_shared_return"  # a review type that counts a linked case's return as received takes this action
# Actions after which a shared return may now count somewhere: a return sent, or information asked for.
SHARING_TRIGGERS = frozenset({"submit_information_return", "submit_sar_information_return",
                              "request_sar_information"})


class NewLink(BaseModel):
    """A link from this case to another of a different review type; sharing returns needs the three partners."""

    model_config = ConfigDict(extra="forbid")  # no one records another's agreement in passing (agreed_by_seats)

    linked_reference: Text = Field(min_length=1, max_length=40, description="The other case's reference")
    reason: Text = Field(min_length=1, max_length=SHORT, description="Why the cases are linked (one incident, ...)")
    share_returns: bool = Field(False, description="Propose that the agencies' returns and chronologies on the rapid "
                                "review are shared with the SAR: in force once each seat's executive agrees")
    sharing_decision: Text | None = Field(None, max_length=SHORT,
                                          description="Where and when the partners discussed sharing")


class Unlink(BaseModel):
    reason: Text = Field(min_length=1, max_length=SHORT, description="Why the link is removed (made in error, ...)")


class LinkRead(BaseModel):
    reference: str  # the other case
    review_type: str
    pseudonym: str
    reason: str
    linked_by: str
    linked_at: datetime
    sharing_proposed: bool
    sharing_agreed: bool  # in force: each seat's executive agreed
    sharing_agreed_by: list[str]  # the seats' names, so far
    sharing_awaiting: list[Seat]  # the seats yet to agree
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
    if new.sharing_decision and not new.share_returns:
        raise InvalidInput("sharing_decision records a proposal to share: set share_returns")
    link = CaseLink(case_reference=reference, linked_reference=other, reason=new.reason, linked_by=user.id,
                    sharing_seats="" if new.share_returns else None,
                    sharing_decision=new.sharing_decision if new.share_returns else None)
    cases.session.add(link)
    cases.session.flush()
    for here, there in ((reference, other), (other, reference)):
        cases.audit_writer.write(user, "link_cases", here, {"linked": there, "reason": new.reason,
                                                            "sharing_proposed": new.share_returns,
                                                            "sharing_decision": new.sharing_decision})
    cases.session.commit()
    return link


def _seats(link: CaseLink) -> set[str]:
    return set(filter(None, (link.sharing_seats or "").split(",")))


def _sharing(link: CaseLink) -> bool:
    """In force: proposed, and each seat's executive agreed."""
    return link.sharing_seats is not None and _seats(link) >= {str(seat) for seat in Seat}


def _linked(cases: CaseService, user: User, reference: str, other: str) -> CaseLink:
    cases.visible(user, reference)
    other = other.strip().upper()
    cases.visible(user, other)
    link = _link_between(cases, reference, other)
    if link is None:
        raise NotFound(f"{reference} is not linked to {other}")
    return link


def agree_to_share(cases: CaseService, user: User, reference: str, other: str) -> CaseLink:
    """An executive agrees, for her own seat, to the sharing proposed on a link; in force once all three have.
    Audited on both cases."""
    link = _linked(cases, user, reference, other)
    if user.seat is None:
        raise NotPermitted("Only an executive holding a statutory partner's seat agrees to share for it")
    if link.sharing_seats is None:
        raise Conflict(f"Sharing was not proposed for the link between {reference} and {other}")
    if user.seat in _seats(link):
        raise Conflict(f"The {SEAT_NAMES[user.seat]} has already agreed to share")
    link.sharing_seats = ",".join(sorted(_seats(link) | {str(user.seat)}))
    cases.session.add(link)
    for here in (link.case_reference, link.linked_reference):
        there = link.linked_reference if here == link.case_reference else link.case_reference
        cases.audit_writer.write(user, "agree_to_share_returns", here,
                                 {"linked": there, "seat": user.seat, "in_force": _sharing(link)})
    cases.session.commit()
    return link


def remove_link(cases: CaseService, user: User, reference: str, other: str, unlink: Unlink) -> None:
    """The business unit removes a link (made in error, or the partners withdrew their agreement), saying why;
    audited on both cases. What a case already counted as received stays counted: it was the partners' agreement
    when it was counted."""
    link = _linked(cases, user, reference, other)
    for here in (link.case_reference, link.linked_reference):
        there = link.linked_reference if here == link.case_reference else link.case_reference
        cases.audit_writer.write(user, "unlink_cases", here, {"linked": there, "reason": unlink.reason,
                                                              "sharing_was_in_force": _sharing(link)})
    cases.session.delete(link)
    cases.session.commit()


def _link_between(cases: CaseService, one: str, other: str) -> CaseLink | None:
    return cases.session.exec(select(CaseLink).where(or_(
        (CaseLink.case_reference == one) & (CaseLink.linked_reference == other),
        (CaseLink.case_reference == other) & (CaseLink.linked_reference == one)))).first()


def _links(cases: CaseService, reference: str, *, sharing: bool = False) -> list[tuple[str, CaseLink]]:
    """(the other case, the link) for every link of this case."""
    query = select(CaseLink).where(or_(CaseLink.case_reference == reference, CaseLink.linked_reference == reference))
    return [(link.linked_reference if link.case_reference == reference else link.case_reference, link)
            for link in cases.session.exec(query.order_by(CaseLink.id)) if not sharing or _sharing(link)]


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
        seats = sorted(_seats(link))
        shown.append(LinkRead(reference=other, review_type=_type_name(other), pseudonym=record.pseudonym,
                              reason=link.reason, linked_by=linker.full_name if linker else "unknown",
                              linked_at=link.linked_at, sharing_proposed=link.sharing_seats is not None,
                              sharing_agreed=_sharing(link), sharing_agreed_by=[SEAT_NAMES.get(s, s) for s in seats],
                              sharing_awaiting=[seat for seat in Seat if str(seat) not in seats]
                              if link.sharing_seats is not None else [],
                              sharing_decision=link.sharing_decision))
    return shown


def receives_shared_returns(reference: str) -> bool:
    """A case of the type that counts a linked case's returns (the SAR's ``use_shared_return``): the direction
    sharing goes (the module's docstring: Care Act 2014 s45(6))."""
    spec, found = ACTIONS.get(SHARE_ACTION), REVIEW_TYPES.of_reference(reference)
    return spec is not None and found is not None and found.key == spec.review_type


def shared_returns(cases: CaseService, user: User, reference: str) -> dict[str, SharedReturn]:
    """Each agency's latest return on a case linked to this one with sharing in force, that this person may read
    (she may read the other case, and that agency's return); nothing unless this case receives shared returns.
    Not audited here: the reader records what was read (``audit_shared_read``)."""
    found: dict[str, SharedReturn] = {}
    if not receives_shared_returns(reference):
        return found
    for other, _ in _links(cases, reference, sharing=True):
        if not cases.may_read(user, other):
            continue
        for row in cases.session.exec(select(InformationReturn).where(InformationReturn.case_reference == other)
                                      .order_by(InformationReturn.version.desc())):
            if return_visible(user.role, user.agency, row.agency) and row.agency not in found:
                found[row.agency] = SharedReturn(agency=row.agency, shared_from=other, submitted_at=row.submitted_at,
                                                 involvement=row.involvement, chronology=row.chronology,
                                                 analysis=row.analysis)
    return found


def audit_shared_read(cases: CaseService, user: User, reference: str, shared: dict[str, str]) -> None:
    """Reading shared returns ({agency: the case it was sent on}) is on both cases' trails: the reading case's own
    row says which agencies' returns were read there; each case a return came from says who read it, and where."""
    for source in sorted(set(shared.values())):
        cases.audit(user, "read_information_returns", source,
                    {"agencies": sorted(a for a, s in shared.items() if s == source), "read_on": reference})


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
