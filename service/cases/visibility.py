"""Which cases each person may see, and what each role is shown of a case, decided here and nowhere else.

An agency member is invited to a case to return its own information and attend the panel. The statutory
partners' reasoning on the serious incident notification (the CSC lead's rationale, the police's and health's
views, how a disagreement was resolved) and the other agencies' returns are not theirs to read; the decision
itself is. Everyone else who may read the case reads all of it.
Seals (the service's authenticators) are shown to no one.
"""

from __future__ import annotations

from sqlmodel import Session

from engine.vocabulary import Role
from records.errors import CaseNotFound
from records.models import CaseAgency, CaseRecord, User

SIN_REASONING = ("police_view", "health_view", "rationale", "comments", "how_resolved")
# The three-way notification decision in the state (each entry's reasoning withheld) and its actions' details.
SIN_RECORDS = ("sin_proposals", "sin_responses", "sin_resolutions")
SIN_ACTIONS = frozenset({"record_sin_decision", "propose_sin_decision", "respond_to_sin_proposal",
                         "resolve_sin_disagreement"})
JOINT_SHOWN = ("decision", "version", "status", "on", "settled_on")
RETURN_TEXT = ("involvement", "chronology", "analysis")
# Documents an agency member may not download or list: they hold the partners' reasoning.
PARTNER_ONLY_DOCUMENTS = frozenset({"sin_decision", "no_notification_letter", "notification_record", "final_report",
                                    "sar_criteria_decision"})
WITHHELD = "(not shown to agency members)"
# The other case a link or a shared return names: an agency member may not be able to read it, and its reference
# alone would tell her it exists (service/cases/case_links.py shows links only to those who may read both cases); her
# timeline leaves these entries out, and this withholds the reference wherever else a detail is shown.
LINKED_CASE = {"link_cases": "linked", "use_shared_return": "shared_from", "agree_to_share_returns": "linked",
               "unlink_cases": "linked"}


def _without_seals(node):
    if isinstance(node, dict):
        return {key: _without_seals(value) for key, value in node.items() if key != "seal"}
    if isinstance(node, list):
        return [_without_seals(item) for item in node]
    return node


def _withheld(record: dict) -> dict:
    return {key: (WITHHELD if key in SIN_REASONING else value) for key, value in record.items()}


def state_for(role: str, state: dict) -> dict:
    """A case's live state as this role may see it."""
    shown = _without_seals(state)
    if role != Role.agency_member:
        return shown
    if shown.get("sin_decision"):
        shown["sin_decision"] = _withheld(shown["sin_decision"])
    for name in SIN_RECORDS:
        if shown.get(name):
            shown[name] = [_withheld(record) for record in shown[name]]
    # The partners' joint decisions in the making: an agency member sees that one is pending, not its terms or the
    # seats' reasons.
    shown["joint_proposals"] = [{key: record.get(key) for key in JOINT_SHOWN}
                                for record in shown.get("joint_proposals") or []]
    shown["joint_answers"] = []
    # Documents being prepared: only those the member may read once issued (no agency's own: the role alone does
    # not say which agency's they are).
    shown["documents_in_preparation"] = [kind for kind in shown.get("documents_in_preparation") or []
                                         if document_visible(role, kind)]
    return shown


def timeline_detail_for(role: str, agency: str | None, action: str, detail: dict, actor_agency: str | None) -> dict:
    """One timeline entry's detail as this role (of this agency) may see it."""
    if role != Role.agency_member:
        return detail
    if action in SIN_ACTIONS:
        return _withheld(detail)
    if action in LINKED_CASE:
        return {key: (WITHHELD if key == LINKED_CASE[action] else value) for key, value in detail.items()}
    if action == "submit_information_return" and actor_agency != agency:
        return {key: (WITHHELD if key in RETURN_TEXT else value) for key, value in detail.items()}
    return detail


def document_visible(role: str, kind: str, agency: str | None = None) -> bool:
    if role != Role.agency_member:
        return True
    # another agency's is not theirs to read
    for per_agency in ("information_request_", "information_return_", "chronology_"):
        if kind.startswith(per_agency):
            return kind == f"{per_agency}{agency}"
    return kind not in PARTNER_ONLY_DOCUMENTS


def return_visible(role: str, agency: str | None, return_agency: str) -> bool:
    """An information return: everyone who may read the case, except agency members reading another agency's."""
    return role != Role.agency_member or agency == return_agency


def visible_case(session: Session, user: User, reference: str) -> CaseRecord:
    """The case, if this user may see it; CaseNotFound otherwise, so an agency cannot learn that other cases
    exist."""
    record = session.get(CaseRecord, reference)
    if record is not None and user.role == Role.agency_member:
        if session.get(CaseAgency, (reference, user.agency)) is None:
            record = None
    if record is None:
        raise CaseNotFound(f"No case {reference} that you can see")
    return record


def may_read(session: Session, user: User, reference: str) -> bool:
    """Whether this person may open the case (a referrer may not, until her agency is invited to it)."""
    try:
        visible_case(session, user, reference)
    except CaseNotFound:
        return False
    return True
