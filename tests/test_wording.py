"""The words people read: the validator's refusals as GOV.UK error messages, workflow reasons without codes or ISO
dates, and the timeline naming a return and an approval as such."""

from pydantic import ValidationError

from engine.models import SignOff
from reviews.rapid_review.models import ConvenePanel
from service.web import wording
from service.web.forms import FormField, form_body, form_fields, invalid_fields

ACTOR = {"user_id": 1, "name": "Sam", "role": "business_unit"}


class Form(dict):
    def getlist(self, key):
        value = self.get(key)
        return [] if value is None else value if isinstance(value, list) else [value]


def test_a_convene_panel_form_left_empty_reads_as_the_pattern_says():
    fields = form_fields(ConvenePanel)
    body, errors = form_body(fields, Form())
    assert errors == {}
    assert invalid_fields(ConvenePanel, body, fields, actor=ACTOR) == {
        "panel_date": "Enter the date of the panel",
        "invited_agencies": "Select at least one agency to invite",
    }


def test_a_date_that_is_not_real_is_named_at_its_field():
    fields = form_fields(ConvenePanel)
    body, errors = form_body(fields, Form({"panel_date-day": "31", "panel_date-month": "2", "panel_date-year": "2027"}))
    assert "panel_date" not in body and errors == {"panel_date": "Date of the panel must be a real date"}
    body, errors = form_body(fields, Form({"panel_date-day": "3", "panel_date-month": "12", "panel_date-year": "2026"}))
    assert body["panel_date"] == "2026-12-03" and errors == {}


def test_no_validator_text_reaches_a_person():
    fields = form_fields(SignOff)
    try:
        SignOff.model_validate({"actor": ACTOR, "decision": "maybe"})
    except ValidationError as error:
        raw = str(error)
    messages = invalid_fields(SignOff, {"decision": "maybe"}, fields, actor=ACTOR)
    assert "Field required" in raw and messages == {"version": "Enter the version", "decision": "Select a decision"}
    assert all(isinstance(f, FormField) for f in fields)


def test_workflow_reasons_lose_their_codes_and_iso_dates():
    said = wording.plain("'convene_panel' cannot be taken while the case is at stage 'csc_consultation' "
                         "(due 2026-12-03).")
    assert said == "Convene panel cannot be taken while the case is at stage CSC consultation (due 3 December 2026)."


def test_the_timeline_says_in_the_past_tense_who_did_what_and_how_it_ended():
    police = wording.person("Alex Lee", "executive", seat="police")
    assert wording.timeline_entry("sign_off", '{"decision": "return", "version": 1}', actor=police) == (
        "Alex Lee (Executive, Police seat) returned the decision sheet, version 1, to the chair.")
    assert wording.timeline_entry("sign_off", {"decision": "approve", "version": 2}, actor=police) == (
        "Alex Lee (Executive, Police seat) approved the decision sheet, version 2.")
    assert wording.timeline_entry("sign_off_report", {"decision": "return", "version": 1}, actor=police) == (
        "Alex Lee (Executive, Police seat) returned the final report, version 1.")
    assert wording.timeline_entry("rejected:convene_panel", {}, actor="Sam Patel (Business unit)") == (
        "Sam Patel (Business unit) was refused: convene panel.")
    assert wording.timeline_entry("issue_decision_sheet", {}, actor="Jo (Panel chair)", version=2) == (
        "Jo (Panel chair) issued the decision sheet, version 2.")
    assert wording.timeline_entry("convene_panel", {"panel_date": "2026-12-09"}, actor="Sam") == (
        "Sam convened the panel for 9 December 2026.")
    assert wording.timeline_entry("reminder", {"deadline": "agency_returns"}) == (
        "The service sent a reminder: agency returns.")
    assert wording.person(None, "system") == "The service"
    assert wording.person("Kim", "agency_member", agency="education") == "Kim (Agency member, Education (schools))"


def test_an_age_is_shown_as_its_band_in_words():
    assert [wording.age_band(band) for band in ("unborn", "under 1", "1-4", "15-17", "18-24 (care leaver)")] == [
        "Unborn", "Under 1 year", "1 to 4 years", "15 to 17 years", "18 to 24 years (care leaver)"]
