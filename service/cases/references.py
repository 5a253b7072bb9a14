"""A case's reference: the next one of a year, numbered in order for every review type, and the review type a
reference names (its prefix)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session

from engine.registry import REVIEW_TYPES
from engine.review_type import ReviewType
from records.db import add_unless_present
from records.errors import CaseNotFound
from records.models import ReferenceCounter
from records.vocabulary import case_reference


def next_reference(session: Session, year: int, prefix: str = "RR") -> str:
    """<prefix>-<year>-<number> (RR-2026-007), numbered in order: one count a year for each prefix, so a board's
    reviews of one kind read 1, 2, 3. The prefix's counter row for the year is created by an insert that yields to one
    already there (two replicas taking a year's first referral both go on), then one UPDATE ... RETURNING takes
    the next number under the row's lock, so concurrent referrals queue instead of sharing a number. The caller
    commits (with whatever else must be written at the same time)."""
    add_unless_present(session, ReferenceCounter(prefix=prefix, year=year, last=0), "prefix", "year")
    number = session.exec(update(ReferenceCounter)
                          .where(ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
                          .values(last=ReferenceCounter.last + 1).returning(ReferenceCounter.last)).scalar_one()
    return case_reference(year, number, prefix)


def type_of(reference: str) -> ReviewType:
    """The review type of a case, read from its reference's prefix (a reference of no registered type: 404)."""
    found = REVIEW_TYPES.of_reference(reference)
    if found is None:
        raise CaseNotFound(f"No case {reference} that you can see")
    return found
