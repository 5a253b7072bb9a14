"""A referrer's own referrals: where each stands, for the person who made it.

Anyone who may refer (an agency member most often) follows her referral here without being able to read the case:
an agency member reads a case only once her agency is invited to it (``service/cases/visibility.py``,
``visible_case``). What she is shown is what she sent (reference, pseudonym, when) and where it stands (its stage in
words, accepted or declined and when, closed and when), never the case's content, the partners' reasoning or why it
was declined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlmodel import Session, select

from engine.vocabulary import Stage
from records import wording
from records.errors import NotFound
from records.models import CaseRecord, User
from records.read_model import closed_on, referral_decisions
from service.cases.visibility import may_read


class ReferralStatus(StrEnum):
    waiting = "waiting"  # the business unit has not yet decided
    accepted = "accepted"
    declined = "declined"
    closed = "closed"  # accepted, and the case has since closed


@dataclass(frozen=True)
class ReferralProgress:
    """One referral as its referrer may see it."""

    reference: str
    pseudonym: str
    submitted_on: date
    stage: str
    status: ReferralStatus
    accepted_on: date | None
    declined_on: date | None
    closed_on: date | None
    closed_reason: str | None  # only to a referrer who may read the case: it can hold the partners' reasoning

    @property
    def status_words(self) -> str:
        return wording.REFERRAL_STATUS[self.status]

    @property
    def next(self) -> str:
        """What the referrer can expect next."""
        return wording.REFERRAL_NEXT[self.status]


def _status(record: CaseRecord, decided: dict[str, date]) -> ReferralStatus:
    if "decline_referral" in decided:
        return ReferralStatus.declined
    if record.stage == Stage.closed:
        return ReferralStatus.closed
    return ReferralStatus.waiting if record.stage == Stage.referral else ReferralStatus.accepted


def _referrals(session: Session, user: User, records: list[CaseRecord]) -> list[ReferralProgress]:
    references = [r.reference for r in records]
    decisions, closed = referral_decisions(session, references), closed_on(session, references)
    found = []
    for record in records:
        decided = decisions.get(record.reference, {})
        reason_shown = record.stage == Stage.closed and may_read(session, user, record.reference)
        found.append(ReferralProgress(
            reference=record.reference, pseudonym=record.pseudonym, submitted_on=record.opened_on, stage=record.stage,
            status=_status(record, decided), accepted_on=decided.get("accept_referral"),
            declined_on=decided.get("decline_referral"), closed_on=closed.get(record.reference),
            closed_reason=record.closed_reason if reason_shown else None))
    return found


def referrals_of(session: Session, *, user: User) -> list[ReferralProgress]:
    """The referrals this person made, newest first."""
    records = session.exec(select(CaseRecord).where(CaseRecord.referred_by == user.id)
                           .order_by(CaseRecord.opened_on.desc(), CaseRecord.reference.desc())).all()
    return _referrals(session, user, list(records))


def referral_of(session: Session, *, user: User, reference: str) -> ReferralProgress:
    """One referral this person made; anyone else's (or none) is NotFound, so nothing is learnt of other cases."""
    record = session.get(CaseRecord, reference)
    if record is None or record.referred_by != user.id:
        raise NotFound(f"No referral {reference} made by you")
    return _referrals(session, user, [record])[0]
