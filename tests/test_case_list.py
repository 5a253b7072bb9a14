"""Finding cases again and following a referral, on both databases: the case list's search, status (open, closed,
declined), stage and year filters, order and pages; a referrer's own referrals and nobody else's. The cases are
rows of the read model and the audit trail as the cases' steps write them (the browser test, test_find_and_follow.py,
drives real cases)."""

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from engine.vocabulary import Stage
from records.audit import AuditWriter
from records.errors import NotFound
from records.models import CaseRecord, StageEntry, User
from service.cases.case_list import CaseOrder, CaseStatus, find_cases
from service.cases.referrals import ReferralStatus, referral_of, referrals_of

KEY = b"test audit key"


def add_case(session: Session, reference: str, *, opened: date, stage: Stage = Stage.referral, referred_by=None,
             decisions: tuple[str, ...] = (), closed: date | None = None) -> None:
    session.add(CaseRecord(reference=reference, pseudonym=f"Child {reference[-1]}", stage=stage, opened_on=opened,
                           year=opened.year, awareness_date=opened, referred_by=referred_by,
                           closed_reason="Referral declined: the partners' rationale" if closed else None))
    for action in decisions:  # what the case's step writes when the business unit decides
        AuditWriter(session, KEY).add(action, reference, {}, actor_id=None, actor_role="business_unit",
                                      at=datetime(opened.year, opened.month, opened.day + 1, 10, tzinfo=UTC))
    if closed:
        session.add(StageEntry(case_reference=reference, process="case", stage=Stage.closed, entered_on=closed,
                               step_key=f"{reference}:closed"))


@pytest.fixture
def cases(engine, demo_passwords):
    with Session(engine) as session:
        referrer = session.exec(select(User).where(User.username == "agency.education")).one()
        add_case(session, "RR-2025-001", opened=date(2025, 3, 3), stage=Stage.closed,
                 decisions=("accept_referral",), closed=date(2025, 9, 1))
        add_case(session, "RR-2025-002", opened=date(2025, 6, 2), stage=Stage.closed, referred_by=referrer.id,
                 decisions=("accept_referral", "decline_referral"), closed=date(2025, 6, 10))
        add_case(session, "RR-2026-003", opened=date(2026, 1, 5), stage=Stage.panel, referred_by=referrer.id,
                 decisions=("accept_referral",))
        add_case(session, "RR-2026-004", opened=date(2026, 2, 2), referred_by=referrer.id)
        session.commit()
        yield session, referrer


def test_the_case_list_finds_closed_and_declined_cases_and_filters_sorts_and_pages(cases):
    session, _ = cases
    everything = find_cases(session)
    assert [c.record.reference for c in everything.cases] == [
        "RR-2026-004", "RR-2026-003", "RR-2025-002", "RR-2025-001"]
    assert [c.status for c in everything.cases] == [CaseStatus.open, CaseStatus.open, CaseStatus.declined,
                                                     CaseStatus.closed]
    assert everything.cases[3].closed_on == date(2025, 9, 1) and everything.years == [2026, 2025]

    def found(**filters) -> list[str]:
        return [c.record.reference for c in find_cases(session, **filters).cases]

    assert found(search=" rr-2025-1 ") == ["RR-2025-001"]  # by reference, typed as people do
    assert found(search="2026-00") == ["RR-2026-004", "RR-2026-003"]  # or part of it
    assert found(search="child 3") == ["RR-2026-003"]  # or by pseudonym
    assert found(status=CaseStatus.closed) == ["RR-2025-001"]  # a declined case is not counted as closed
    assert found(status=CaseStatus.declined) == ["RR-2025-002"]
    assert found(status=CaseStatus.open, year=2026) == ["RR-2026-004", "RR-2026-003"]
    assert found(stage=Stage.panel) == ["RR-2026-003"]
    assert found(search="RR-2026", status=CaseStatus.closed) == []
    assert found(order=CaseOrder.oldest) == ["RR-2025-001", "RR-2025-002", "RR-2026-003", "RR-2026-004"]

    second = find_cases(session, order=CaseOrder.reference, page=2, per_page=3)
    assert (second.total, second.page, second.pages) == (4, 2, 2)
    assert [c.record.reference for c in second.cases] == ["RR-2026-004"]
    assert find_cases(session, page=9, per_page=3).page == 2  # past the last page: the last


def test_a_referrer_follows_her_own_referrals_and_no_one_elses(cases, engine):
    session, referrer = cases
    mine = referrals_of(session, user=referrer)
    assert [(r.reference, r.status) for r in mine] == [
        ("RR-2026-004", ReferralStatus.waiting), ("RR-2026-003", ReferralStatus.accepted),
        ("RR-2025-002", ReferralStatus.declined)]
    declined = mine[2]
    assert (declined.accepted_on, declined.declined_on, declined.closed_on) == (
        date(2025, 6, 3), date(2025, 6, 3), date(2025, 6, 10))
    assert "declined" in declined.next and mine[0].status_words == "Waiting for a decision"
    assert declined.closed_reason is None  # why it closed is the partners' reasoning, not hers to read
    assert referral_of(session, user=referrer, reference="RR-2026-003").stage == Stage.panel
    with pytest.raises(NotFound):
        referral_of(session, user=referrer, reference="RR-2025-001")  # a case she did not refer
    other = session.exec(select(User).where(User.username == "agency.health")).one()
    assert referrals_of(session, user=other) == []
    manager = session.exec(select(User).where(User.username == "strategy.manager")).one()
    session.get(CaseRecord, "RR-2025-002").referred_by = manager.id
    assert referral_of(session, user=manager, reference="RR-2025-002").closed_reason.startswith("Referral declined")
    with pytest.raises(NotFound):
        referral_of(session, user=other, reference="RR-2026-004")


def test_a_short_reference_finds_any_kind_of_review(cases):
    session, _ = cases
    add_case(session, "SAR-2026-001", opened=date(2026, 3, 2))
    session.commit()
    assert [c.record.reference for c in find_cases(session, search="sar-2026-1").cases] == ["SAR-2026-001"]
    assert [c.record.reference for c in find_cases(session, search="rr-2026-3").cases] == ["RR-2026-003"]
