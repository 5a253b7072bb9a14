"""Steps say what they did: the workflow tells the activity which stage it entered and that a referral opened the
case, and the read model follows what it says (the stage rows behind the timeliness medians, the referrer); a step
sent by an earlier build without them is read from the rows as it used to be."""

import pytest
from sqlmodel import Session, select

from activities.case_step import CaseStepActivities
from engine.models import StepFacts
from engine.vocabulary import Role
from records.codec import EncryptionCodec
from records.errors import CaseNotFound
from records.models import CaseAgency, CaseRecord, StageEntry, User
from service.cases.visibility import visible_case
from tests.test_notifications import step


def entries(engine, reference: str) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(StageEntry).where(StageEntry.case_reference == reference).order_by(StageEntry.id))
        return [(row.process, row.stage) for row in rows]


def activities(engine) -> CaseStepActivities:
    return CaseStepActivities(engine, "https://rr.example.org", EncryptionCodec(b"k" * 32), audit_key=b"a" * 32)


def test_the_activity_follows_what_the_step_says(engine):
    apply = activities(engine).apply_step
    opened = step("RR-9:1:start_of_something").model_copy(
        update={"facts": StepFacts(opened_case=True, entered_stage="panel_preparation")})
    assert apply(opened) == (True, True), "a step that entered a stage is a move"
    with Session(engine) as session:
        assert session.get(CaseRecord, "RR-9").referred_by == 1, "the step said it opened the case"
    stays = step("RR-9:2:convene_panel").model_copy(update={"facts": StepFacts()})
    assert apply(stays) == (True, False)
    assert entries(engine, "RR-9") == [("case", "panel_preparation")], "one row: the step that entered the stage"


async def test_each_stage_a_case_enters_is_one_row(driver, engine):
    state = await driver.to_panel_preparation()
    visited = [change["stage"] for change in state["stage_history"]]
    assert visited == ["referral", "csc_consultation", "notification", "panel_preparation"]
    assert entries(engine, driver.reference) == [("case", stage) for stage in visited]
    with Session(engine) as session:
        assert session.get(CaseRecord, driver.reference).referred_by is not None, "the referral step opened it"


def test_a_step_from_an_earlier_build_is_read_from_the_rows(engine):
    apply = activities(engine).apply_step
    first = step("RR-9:1:submit_referral")  # no facts: scheduled before steps said what they did
    assert first.facts is None
    assert apply(first) == (True, True)
    assert apply(step("RR-9:2:convene_panel")) == (True, False), "same stage as the row: no move"
    with Session(engine) as session:
        assert session.get(CaseRecord, "RR-9").referred_by == 1, "the referral step, by its key"
    assert entries(engine, "RR-9") == [("case", "panel_preparation")]


def invited(engine, reference: str) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(CaseAgency.agency).where(CaseAgency.case_reference == reference)))


def test_a_step_writes_only_the_invitations_that_changed_and_an_uninvited_agency_loses_the_case(engine):
    """Each step carries the case's invited agencies; the rows follow them (added, kept, withdrawn), and an
    agency's member sees the case only while it is invited."""
    apply = activities(engine).apply_step

    def with_agencies(key: str, agencies: list[str]):
        first = step(key)
        return first.model_copy(update={"facts": StepFacts(), "tasks": [], "snapshot": first.snapshot.model_copy(
            update={"invited_agencies": agencies})})

    apply(with_agencies("RR-9:1:invite", ["education", "police"]))
    assert invited(engine, "RR-9") == {"education", "police"}
    apply(with_agencies("RR-9:2:again", ["police", "education"]))
    assert invited(engine, "RR-9") == {"education", "police"}, "the same agencies in another order: unchanged"
    apply(with_agencies("RR-9:3:change", ["police", "health_icb"]))
    assert invited(engine, "RR-9") == {"police", "health_icb"}
    with Session(engine) as session:
        member = User(username="edu", full_name="Edu", email="edu@example.org", role=Role.agency_member,
                      agency="education", password_hash="x")
        with pytest.raises(CaseNotFound):
            visible_case(session, member, "RR-9")
        member.agency = "health_icb"
        assert visible_case(session, member, "RR-9").reference == "RR-9"
