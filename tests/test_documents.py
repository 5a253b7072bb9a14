"""Every document renders to HTML and PDF as a professional, marked, versioned record, once per version."""

import io
import re
from datetime import datetime
from html.parser import HTMLParser

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from activities.documents import DocumentActivities, document_title
from activities.rendering import Renderer
from engine.models import DocumentRequest
from records.models import Document
from records.object_store import invitation_ics_key
from service.web.wording import long_date

REF = "RR-2026-014"
BASE = {"partnership": "Northshire Safeguarding Children Partnership", "reference": REF}
TYPED_DATE = "2026-10-01"  # inside a practice episode as the chair typed it
SIGN_OFFS = [{"seat": "la", "version": 2, "decision": "approve", "by": "Director of Children's Services",
              "on": "2026-11-20", "comments": None, "capacity": "delegated"},
             {"seat": "icb", "version": 2, "decision": "approve", "by": "Chief Nursing Officer", "on": "2026-11-20",
              "comments": None, "capacity": "delegated"},
             {"seat": "police", "version": 2, "decision": "approve", "by": "Chief Superintendent",
              "on": "2026-11-21", "comments": None, "capacity": "lead"}]
SHEET = {
    "pseudonym": "Julie", "age_band": "under 1", "version": 2, "agencies": ["Education (schools)", "Police"],
    "circumstances": "Infant admitted with a skull fracture after co-sleeping.",
    "immediate_actions": ["Safe sleep briefing to all health visitors"], "learning": "Professional curiosity.",
    "themes": ["infant safety (incl. unsafe sleeping)"], "recommendation": "local_cspr",
    "rationale": "Two agencies did not share concerns.", "local_review_criteria_met": True,
    "local_review_criteria": ["a", "c"], "criteria_notes": "Concerns about agencies working together",
    "national_importance": True, "national_review_criteria": ["b"],
    "notified_on": "2026-11-02", "panel_held_on": "2026-11-13", "attendees": ["Chair", "Police"],
    "sign_offs": SIGN_OFFS,
    "sign_off_history": [{"seat": "la", "version": 1, "decision": "approve", "by": "DCS", "on": "2026-11-18",
                          "comments": None, "capacity": None, "superseded_by": 2}],
    "notification_reference": "N-778812", "partners_decision": "no_further_review",
    "partners_decided_on": "2026-11-21",
    "child_sex": "female", "child_ethnicity": "White British", "child_disability": "None known",
    "child_status": ["child_in_need"], "key_practice_episodes": [f"Health visitor's safe sleep visit, {TYPED_DATE}"],
    "parallel_processes": ["police_investigation", "child_death_review"],
    "parallel_processes_notes": "CPS advice awaited.", "voice_of_child_and_family": "Mother describes exhaustion.",
    "family_told_of_review": "not_yet", "siblings_and_other_children": "Sibling (4) on a child protection plan.",
}
# What the National Panel expects of a rapid review, as the PDF prints it.
SHEET_EXPECTED = [
    "N-778812", "Female", "White British", "None known", "Child in need (Children Act 1989 s17)",
    "Health visitor's safe sleep visit, 2026-10-01", "Police investigation", "Child death review",
    "CPS advice awaited.",
    "Mother describes exhaustion.", "Family told of the review Not yet", "Sibling (4) on a child protection plan.",
    "(a) highlights or may highlight improvements needed", "previously identified Yes",
    "(b) highlights or may highlight recurrent themes in the safeguarding and promotion of the welfare of children No",
    "working together effectively to safeguard and promote the welfare of children Yes",
    "may be more appropriate No", "Criteria for a local review met: Yes",
    "(b) raises or may raise issues requiring legislative change or changes to guidance issued under or further to "
    "any enactment Yes", "complex or of national importance: Yes",
    "Rapid Review Panel's recommendation Local child safeguarding practice review (LCSPR)",
    "Safeguarding partners' decision No further review, decided on 21 November 2026",
    "Chief Superintendent Lead safeguarding partner", "Chief Nursing Officer Delegated safeguarding partner",
    "Local authority Approved (superseded by version 2) DCS Not recorded 18 November 2026",
    "Police Approved Chief Superintendent Lead safeguarding partner 21 November 2026",
]
CASES = {
    "referral_acknowledgement": ({"pseudonym": "Julie", "age_band": "under 1", "referring_agency": "police",
                                  "incident_date": "2026-10-30", "awareness_date": "2026-10-31",
                                  "referrer": "Sam Patel", "received_on": "2026-10-31",
                                  "notification_due": "2026-11-07", "notification_days": 5},
                                 ["Julie", "7 November 2026", "Sam Patel", "5 working days",
                                  "Referring agency Police", "Age band Under 1 year"]),
    "sin_decision": ({"pseudonym": "Julie", "decided_by": "Jordan Reid", "decided_on": "2026-11-02",
                      "police_view": "Investigation opened", "health_view": "Non-accidental injury suspected",
                      "decision": "notify", "rationale": "Serious harm, abuse suspected"},
                     ["Notify the National Panel", "Investigation opened", "Non-accidental injury suspected"]),
    "no_notification_letter": ({"pseudonym": "Julie", "decided_by": "Jordan Reid", "decided_on": "2026-11-02",
                                "police_view": "No crime", "health_view": "Accidental", "decision": "do_not_notify",
                                "rationale": "No abuse or neglect suspected", "referrer": "Sam Patel",
                                "referring_agency": "police"},
                               ["not to make a Serious Incident", "No abuse", "Sam Patel (Police)",
                                "Jordan Reid, 2 November 2026"]),
    "notification_record": ({"pseudonym": "Julie", "age_band": "under 1", "incident_date": "2026-10-30",
                             "awareness_date": "2026-10-31", "notified_on": "2026-11-02",
                             "notification_reference": "OF-778812", "summary": "Infant harmed.",
                             "notified_by": "Jordan Reid", "rapid_review_due": "2026-11-23",
                             "sin_rationale": "Serious harm"}, ["OF-778812", "23 November 2026", "Infant harmed."]),
    "information_request_education": ({"agency": "education", "agency_name": "Education (schools)",
                                       "due": "2026-11-11", "panel_date": "2026-11-13", "send_to": "Sam Patel",
                                       "research_questions": ["How was attendance followed up?"]},
                                      ["Education (schools)", "11 November 2026", "How was attendance followed up?"]),
    "panel_invitation": ({"pseudonym": "Julie", "panel_date": "2026-11-13", "agencies": ["Police"],
                          "agency_codes": ["police"], "research_questions": ["Q1"], "chair": "Chair"},
                         ["13 November 2026", "3 hours", "Appraisal of practice"]),
    "decision_sheet": (SHEET, ["Julie", "skull fracture", "Local child safeguarding practice review",
                               "Safe sleep briefing", "Director of Children's Services", "21 November 2026",
                               "superseded by version 2", *SHEET_EXPECTED]),
    "sign_off_request": ({"version": 2, "due": "2026-11-23", "recommendation": "local_cspr",
                          "seats": ["Local authority", "Integrated Care Board", "Police"]},
                         ["Version 2", "23 November 2026", "Integrated Care Board"]),
    "national_panel_submission": ({**SHEET, "submitted_on": "2026-11-22", "rapid_review_due": "2026-11-23",
                                   "rapid_review_rule": "Rapid review to the National Panel within 15 working days "
                                                        "of the notification"},
                                  ["22 November 2026", "23 November 2026 (Rapid review to the National Panel within 15 "
                                   "working days of the notification)", "The full rapid review follows",
                                   "skull fracture", "Safe sleep briefing", *SHEET_EXPECTED]),
    "terms_of_reference": ({"pseudonym": "Julie", "scope": "Twelve months before the incident.",
                            "research_questions": ["Q"], "methods": ["partner_led_workshop"],
                            "reviewer": "A. Reviewer", "lead": "Sam Patel", "agreed_on": "2026-12-01",
                            "due": "2027-05-22", "months": 6}, ["Twelve months", "A. Reviewer", "22 May 2027",
                                                                "Methods Partner-led workshop",
                                                                "6 months from the partners' decision"]),
    "cspr_delay_notice": ({"pseudonym": "Julie", "statutory_due": "2027-05-22", "revised_due": "2027-08-01",
                           "reason": "Parallel criminal proceedings", "agreed_by": "DCS", "agreed_on": "2027-05-01",
                           "months": 6, "decided_on": "2026-11-22"},
                          ["22 May 2027", "1 August 2027", "Parallel criminal proceedings", "within 6 months"]),
    "publication_notice": ({"pseudonym": "Julie", "sent_on": "2027-04-01", "earliest_publication": "2027-04-13",
                            "rule": "at least 7 working days before publication", "report_version": 1,
                            "recommendations": ["Audit safe sleep advice"]}, ["13 April 2027", "Secretary of State"]),
    "seven_minute_briefing": ({"pseudonym": "Julie", "published_on": "2027-04-20", "report_published": True,
                               "link": "https://x.org/r", "methods": ["partner_led_workshop"],
                               "key_learning": ["Ask about sleeping arrangements at every visit"],
                               "recommendations": ["Audit safe sleep advice"]},
                              ["Report published 20 April 2027", "Partner-led workshop",
                               "What we learned Ask about sleeping arrangements at every visit",
                               "agreed to change Audit safe sleep advice", "Questions for your team"]),
}
SHARED = {"seven_minute_briefing", "themes_sheet"}  # dissemination products: marked for sharing


class Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.th_without_scope, self.in_thead, self.lang = [], 0, False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "thead":
            self.in_thead = True
        if tag == "th" and "scope" not in attrs and not self.in_thead:
            self.th_without_scope += 1

    def handle_endtag(self, tag):
        if tag == "thead":
            self.in_thead = False


def request(kind: str, version: int = 1) -> DocumentRequest:
    context, _ = CASES[kind]
    return DocumentRequest(key=f"{REF}:{kind}:v{version}", kind=kind, case_reference=REF, version=version,
                           issued_by="Dr Alex Morgan", context={**BASE, **context})


@pytest.fixture
def documents(engine, settings):
    """As the worker issues them: rendered in a process beside it (activities/rendering.py)."""
    return DocumentActivities(engine, settings.document_store(), renderer=Renderer(1))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_document_renders_marked_versioned_and_accessible(kind, documents, engine):
    version = CASES[kind][0].get("version", 1)
    document_id = documents.issue_document(request(kind, version))
    with Session(engine) as session:
        row = session.get(Document, document_id)
    pdf = PdfReader(io.BytesIO(documents.store.read(row.pdf_path)))
    pages = [page.extract_text() for page in pdf.pages]
    text = "\n".join(pages)
    marking = "OFFICIAL – for sharing with partner agencies" if kind in SHARED else "OFFICIAL-SENSITIVE"
    for page_number, page in enumerate(pages, start=1):
        assert page.count(marking) >= 2, f"page {page_number} lacks the marking top and bottom"
        if kind in SHARED:
            assert "OFFICIAL-SENSITIVE" not in page
        assert f"Page {page_number} of {len(pages)}" in page
        assert f"{REF} · v{version}" in page
    assert "Northshire Safeguarding Children Partnership" in text
    assert f"Version {version}" in text
    for expected in CASES[kind][1]:
        assert expected in " ".join(text.split()), f"{expected!r} missing from the {kind} PDF"
    # Dates are printed in words, the issue date too; only what a person typed is kept as typed.
    assert f"Issued {long_date(row.issued_at)} by Dr Alex Morgan" in " ".join(text.split())
    assert set(re.findall(r"\d{4}-\d{2}-\d{2}", text)) <= {TYPED_DATE}, f"an ISO date in the {kind} PDF"
    assert row.title == document_title(kind) and row.title in " ".join(text.split())
    if kind.startswith("information_request_"):
        assert row.title == "Request for agency information: Education (schools)", "one request per agency, named"

    outline = Outline()
    outline.feed(documents.store.read(row.html_path).decode())
    assert outline.lang == "en-GB"
    assert outline.tags.count("h1") == 1
    assert "table" in outline.tags and "th" in outline.tags
    assert outline.th_without_scope == 0, "row headers need scope so screen readers can announce them"


def test_rendering_twice_registers_one_version(documents, engine):
    first = documents.issue_document(request("decision_sheet", 2))
    second = documents.issue_document(request("decision_sheet", 2))
    assert first == second
    with Session(engine) as session:
        rows = session.exec(select(Document).where(Document.kind == "decision_sheet")).all()
    assert len(rows) == 1
    row = rows[0]
    import hashlib

    assert hashlib.sha256(documents.store.read(row.pdf_path)).hexdigest() == row.pdf_sha256
    assert hashlib.sha256(documents.store.read(row.html_path)).hexdigest() == row.html_sha256
    assert row.issued_by == "Dr Alex Morgan" and row.version == 2


def test_panel_invitation_has_a_calendar_file(documents, engine):
    documents.issue_document(request("panel_invitation"))
    with Session(engine) as session:
        row = session.exec(select(Document).where(Document.kind == "panel_invitation")).one()
    ics = documents.store.read(invitation_ics_key(row.pdf_path)).decode()
    assert "BEGIN:VEVENT" in ics and "DTSTART;TZID=Europe/London:20261113T100000" in ics
    assert "DTEND;TZID=Europe/London:20261113T130000" in ics
    assert "Julie" not in ics


def test_themes_sheet_counts_themes_per_year_with_their_reviews(engine, documents):
    from datetime import date

    from records.db import session_scope
    from records.read_model import upsert_case
    from service.partnership.themes import themes_sheet_request
    from tests.test_notifications import step

    with session_scope(engine) as session:
        for reference, opened, themes in (("RR-1", date(2025, 5, 1), ["neglect", "domestic abuse"]),
                                          ("RR-2", date(2026, 2, 1), ["neglect"]),
                                          ("RR-3", date(2026, 3, 1), ["neglect", "a new local theme"])):
            snapshot = step().snapshot.model_copy(update={"reference": reference, "opened_on": opened,
                                                          "themes": themes})
            upsert_case(session, snapshot, datetime(2026, 3, 1))
    first = documents.issue_document(themes_sheet_request(engine, "Northshire LSCP", "Sam Patel"))
    second = documents.issue_document(themes_sheet_request(engine, "Northshire LSCP", "Sam Patel"))
    with Session(engine) as session:
        rows = {d.id: d for d in session.exec(select(Document).where(Document.kind == "themes_sheet"))}
    assert sorted(d.version for d in rows.values()) == [1, 2], "each issue is a new version"
    text = " ".join(PdfReader(io.BytesIO(documents.store.read(rows[second].pdf_path))).pages[0].extract_text().split())
    assert "neglect 1 2 3" in text, text
    assert "domestic abuse 1 0 1" in text
    assert "a new local theme 0 1 1" in text
    assert "RR-1, RR-2, RR-3" in text
    assert first != second


def test_the_answer_to_an_action_says_which_documents_are_being_prepared():
    """Documents are issued after the action's answer: the banner says each is being prepared (the case's and its
    review's), and an agency member is told only of those it may read once issued."""
    from service.cases.visibility import state_for
    from service.web.case_actions import done_banner

    state = {"reference": REF, "outstanding": [], "documents_in_preparation": ["decision_sheet", "sign_off_request"],
             "practice_review": {"documents_in_preparation": ["terms_of_reference"]}}
    assert done_banner("issue_decision_sheet", state)["next"] == [
        "Rapid review decision sheet: being prepared; it is listed under Documents when it is ready",
        "Executive sign-off request: being prepared; it is listed under Documents when it is ready",
        "Local CSPR terms of reference: being prepared; it is listed under Documents when it is ready"]
    preparing = {"documents_in_preparation": ["sin_decision", "panel_invitation", "information_request_police"]}
    assert state_for("agency_member", preparing)["documents_in_preparation"] == ["panel_invitation"]
    assert state_for("business_unit", preparing)["documents_in_preparation"] == preparing["documents_in_preparation"]


def test_documents_rendered_at_once_in_the_workers_threads_each_come_out_whole():
    """The worker renders in several activity threads at once, each keeping its own fonts between documents
    (activities/documents.py): every PDF holds its own case's words, and nobody else's."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date

    from activities.documents import render_html, render_pdf

    def text_of(n: int) -> str:
        reference = f"RR-2026-10{n}"
        request = DocumentRequest(key=f"{reference}:sin_decision:v1", kind="sin_decision", case_reference=reference,
                                  version=1, issued_by="Dr Alex Morgan",
                                  context={**BASE, **CASES["sin_decision"][0], "reference": reference,
                                           "pseudonym": f"Child {n}"})
        pdf = PdfReader(io.BytesIO(render_pdf(render_html(request, date(2026, 11, 20)))))
        return " ".join(" ".join(page.extract_text() for page in pdf.pages).split())

    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(text_of, range(8)))
    for n, text in enumerate(texts):
        assert f"RR-2026-10{n} · v1" in text and f"Child {n}" in text and "Notify the National Panel" in text
        assert not [m for m in range(8) if m != n and f"Child {m}" in text]


def test_a_renderer_process_that_dies_fails_one_document_and_the_next_try_renders_it(documents, engine):
    """A render process killed (out of memory, say) fails the document's activity, which Temporal retries; the retry
    gets a new process, and the register holds the document once."""
    import os
    import signal
    from concurrent.futures.process import BrokenProcessPool

    from activities import rendering

    documents.issue_document(request("sin_decision"))  # the pool is up
    pool = rendering._POOLS[1]
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        documents.issue_document(request("sin_decision", version=2))
    document_id = documents.issue_document(request("sin_decision", version=2))
    with Session(engine) as session:
        found = session.exec(select(Document).where(Document.case_reference == REF)).all()
    assert sorted(d.version for d in found) == [1, 2] and document_id in {d.id for d in found}
    assert rendering._POOLS[1] is not pool, "a new pool rendered the retry"


def test_renderer_processes_leave_when_their_worker_is_killed(tmp_path):
    """A worker killed outright (SIGKILL, out of memory) cannot stop its renderers: they leave by themselves, so
    none is left holding memory on the host."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "worker_like.py"
    script.write_text("from activities.rendering import Renderer\n"
                      "from activities import rendering\n"
                      "import time\n"
                      "if __name__ == '__main__':\n"
                      "    Renderer(1).warm()\n"
                      "    print(*[p.pid for p in rendering._POOLS[1]._processes.values()], flush=True)\n"
                      "    time.sleep(120)\n")
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    renderers = [int(pid) for pid in worker.stdout.readline().split()]
    assert renderers, "the renderer started"
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    for _ in range(100):  # a renderer checks on its worker every second
        if not any(alive(pid) for pid in renderers):
            break
        time.sleep(0.1)
    assert not any(alive(pid) for pid in renderers), "a renderer outlived its killed worker"
