"""Documents: Jinja2 templates rendered to HTML and PDF (WeasyPrint), versioned and immutable; those people
edit or forward (WORD_KINDS) also as Word, from the same HTML (activities/word.py).

Each issued version gets one register row with the SHA-256 of each file. Rendering is an activity:
a retry after a crash finds the row by its key and registers no second copy.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio import activity

from activities.rendering import Renderer
from engine.calendar import london_date
from engine.documents import read_context
from engine.effects import Documents
from engine.models import DocumentRequest
from engine.vocabulary import (
    AGENCIES,
    CAPACITIES,
    CHILD_SEXES,
    CHILD_STATUSES,
    FAMILY_TOLD,
    NATIONAL_REVIEW_CRITERIA,
    PARALLEL_PROCESSES,
    REG_11_CRITERIA,
    SEAT_NAMES,
    DocumentKind,
    Recommendation,
    Role,
)
from records.db import session_scope
from records.models import Document, User
from records.object_store import FileStore, ObjectStore, invitation_ics_key, store_content
from records.outbox import enqueue
from records.wording import ISO_DAY, SIGN_OFF_DECISIONS, age_band, label, long_date

TITLES = {
    DocumentKind.referral_acknowledgement: "Referral acknowledgement",
    DocumentKind.sin_decision: "Record of the serious incident notification decision",
    DocumentKind.no_notification_letter: "Letter: no serious incident notification",
    DocumentKind.notification_record: "Serious incident notification record",
    DocumentKind.information_request: "Request for agency information",
    DocumentKind.information_return: "Agency information return",
    DocumentKind.panel_invitation: "Rapid Review Panel invitation and agenda",
    DocumentKind.decision_sheet: "Rapid review decision sheet",
    DocumentKind.decision_sheet_signed: "Rapid review decision sheet (signed off)",
    DocumentKind.sign_off_request: "Executive sign-off request",
    DocumentKind.national_panel_submission: "Rapid review submission to the National Panel",
    DocumentKind.terms_of_reference: "Local CSPR terms of reference",
    DocumentKind.publication_notice: "Notice of publication to the National Panel and DfE",
    DocumentKind.cspr_delay_notice: "Delay notice to the National Panel and DfE",
    DocumentKind.seven_minute_briefing: "7-minute briefing",
    DocumentKind.themes_sheet: "Themes sheet across reviews",
    DocumentKind.sar_criteria_decision: "Record of the decision whether a Safeguarding Adults Review is required",
}
TEMPLATE_OF = {DocumentKind.decision_sheet_signed: DocumentKind.decision_sheet}  # the signed copy is the sheet
RECOMMENDATION_TEXT = {
    Recommendation.no_further_review: "No further review",
    Recommendation.local_cspr: "Local child safeguarding practice review (LCSPR)",
    Recommendation.national_review_referral: "Refer to the National Panel for a national review",
}

def in_words(value: object) -> object:
    """Every printed date of a document in words ("5 December 2026"), formatted as it is rendered: the context
    keeps its ISO dates (the workflow's fields and the stored history are untouched), and no template can forget
    a filter."""
    if isinstance(value, date) or (isinstance(value, str) and ISO_DAY.fullmatch(value)):
        return long_date(value)
    return value


_environment = Environment(
    loader=PackageLoader("templates", "documents"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    finalize=in_words,
)
# Codes and age bands in words, as the pages say them (records/wording.py).
_environment.filters.update(label=label, age_band=age_band)
# The words for the codes a workflow puts in a document's context (the context carries the codes only, so the
# wording of the regulations is kept in one place, engine/vocabulary.py).
_environment.globals.update(
    REG_11_CRITERIA=REG_11_CRITERIA, NATIONAL_REVIEW_CRITERIA=NATIONAL_REVIEW_CRITERIA, CHILD_SEXES=CHILD_SEXES,
    CHILD_STATUSES=CHILD_STATUSES, PARALLEL_PROCESSES=PARALLEL_PROCESSES, FAMILY_TOLD=FAMILY_TOLD,
    CAPACITIES=CAPACITIES, SEAT_NAMES={str(code): name for code, name in SEAT_NAMES.items()},
    SIGN_OFF_DECISIONS=SIGN_OFF_DECISIONS, AGENCIES=AGENCIES,
)
# Case documents are OFFICIAL-SENSITIVE. The dissemination products are written from the agreed learning, without
# case detail, to be passed on to practitioners: they carry a marking that says so (base.html prints it).
SENSITIVE = "OFFICIAL-SENSITIVE"
FOR_SHARING = "OFFICIAL – for sharing with partner agencies"
MARKING = {DocumentKind.seven_minute_briefing: FOR_SHARING, DocumentKind.themes_sheet: FOR_SHARING}
# Issued as .docx beside the PDF: the ones partners edit (terms of reference) or forward as Word.
WORD_KINDS = frozenset({DocumentKind.decision_sheet, DocumentKind.decision_sheet_signed,
                        DocumentKind.terms_of_reference, DocumentKind.national_panel_submission,
                        DocumentKind.seven_minute_briefing})


PER_AGENCY = (DocumentKind.information_request, DocumentKind.information_return)


def template_kind(kind: str) -> DocumentKind:
    """``information_request_police`` -> ``information_request`` (one document of each kind per agency)."""
    for per_agency in PER_AGENCY:
        if kind.startswith(f"{per_agency}_"):
            return per_agency
    return DocumentKind(kind)


def document_title(kind: str) -> str:
    """A document's title, telling apart the documents of one kind that a case has several of at once:
    ``information_request_education`` -> "Request for agency information: Education (schools)"."""
    base_kind = template_kind(kind)
    if base_kind in PER_AGENCY and kind != base_kind:
        agency = kind.removeprefix(f"{base_kind}_")
        return f"{TITLES[base_kind]}: {AGENCIES.get(agency, agency.replace('_', ' ').capitalize())}"
    return TITLES[base_kind]


def render_html(request: DocumentRequest, issued_on: date) -> str:
    base_kind = template_kind(request.kind)
    template = _environment.get_template(f"{TEMPLATE_OF.get(base_kind, base_kind)}.html")
    letterhead, fields = read_context(base_kind, request.context)  # a missing or wrong field is named here
    context = {**letterhead.model_dump(), **fields.model_dump()}
    context.setdefault("version", request.version)
    for key in ("recommendation", "partners_decision"):
        if key in context:
            context[f"{key}_text"] = RECOMMENDATION_TEXT.get(context[key], context[key])
    context["seats"] = [{"code": str(code), "name": name} for code, name in SEAT_NAMES.items()]
    return template.render(
        title=document_title(request.kind), issued_by=request.issued_by, issued_on=issued_on,
        marking=MARKING.get(base_kind, SENSITIVE), for_sharing=base_kind in MARKING, **context
    )


_FIRST_IMPORT = threading.Lock()
_THIS_THREAD = threading.local()


def render_pdf(html: str) -> bytes:
    # Imported here (heavy, and only the worker renders), under a lock: two activity threads importing
    # weasyprint at once can meet its half-initialised submodules ("weasyprint.html has no attribute ...").
    with _FIRST_IMPORT:
        from weasyprint import HTML
        from weasyprint.text.fonts import FontConfiguration

    return HTML(string=html).write_pdf(font_config=_fonts(FontConfiguration))


def warm_renderer() -> None:
    """Load the renderer and the system's fonts now, once per process (the worker does at start): otherwise the
    first document after a deploy waits a second or two for them."""
    global _WARM
    if not _WARM:
        render_pdf("<!doctype html><html lang='en'><body><p>Ready.</p></body></html>")
        _WARM = True


_WARM = False


def _fonts(font_configuration: type):
    """This thread's font configuration, made once and kept. Making one scans the system's fonts and opens a new
    Pango font map, whose fonts each document then loads again: about 9 ms, half the cost of a one-page document.
    One per thread, not one per process: a font map and its FreeType faces are not safe to use from two threads
    at once, and WeasyPrint's calls into them release the GIL."""
    fonts = getattr(_THIS_THREAD, "fonts", None)
    if fonts is None:
        fonts = _THIS_THREAD.fonts = font_configuration()
    return fonts


def panel_ics(request: DocumentRequest) -> str:
    """An iCalendar invitation for the panel (3 hours from 10:00 London time); no child details."""
    day = date.fromisoformat(request.context["panel_date"]).strftime("%Y%m%d")
    uid = hashlib.sha256(request.key.encode()).hexdigest()[:24]
    return "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Rapid Review service//EN", "METHOD:REQUEST",
        "BEGIN:VEVENT", f"UID:{uid}@rapid-review", f"DTSTAMP:{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}",
        f"DTSTART;TZID=Europe/London:{day}T100000", f"DTEND;TZID=Europe/London:{day}T130000",
        f"SUMMARY:Rapid Review Panel {request.context['reference']}", "CLASS:CONFIDENTIAL",
        "DESCRIPTION:OFFICIAL-SENSITIVE. Rapid Review Panel (3 hours). Papers in the Rapid Review service.",
        "END:VEVENT", "END:VCALENDAR", "",
    ])


class DocumentActivities(Documents):
    def __init__(self, engine: Engine, store: ObjectStore | Path, public_url: str = "http://127.0.0.1:8000",
                 renderer: Renderer | None = None) -> None:
        self.engine = engine
        self.renderer = renderer or Renderer(0)
        self.store = FileStore(store) if isinstance(store, Path) else store
        self.public_url = public_url

    @activity.defn(name="issue_document")
    def issue_document(self, request: DocumentRequest) -> int:
        """Render and register one document version; returns its register id."""
        with session_scope(self.engine) as session:
            existing = session.exec(select(Document).where(Document.key == request.key)).first()
            if existing is not None:
                return existing.id
        issued_at = datetime.now(UTC)
        html = render_html(request, london_date(issued_at)).encode()  # the day it is in London
        pdf = self.renderer.pdf(html.decode())
        # Written once, by hash, to the store every host reads: a retried activity writes nothing new.
        html_key, pdf_key = store_content(self.store, html), store_content(self.store, pdf)
        docx = None
        if template_kind(request.kind) in WORD_KINDS:
            docx = self.renderer.docx(html.decode(), marking=MARKING.get(template_kind(request.kind), SENSITIVE),
                                title=TITLES[template_kind(request.kind)], reference=request.case_reference,
                                version=request.version)
        ics = panel_ics(request) if template_kind(request.kind) == DocumentKind.panel_invitation else None
        if ics:
            self.store.create(invitation_ics_key(pdf_key), ics.encode())
        row = Document(
            key=request.key, case_reference=request.case_reference, kind=request.kind,
            title=document_title(request.kind), version=request.version,
            html_path=html_key, pdf_path=pdf_key,
            html_sha256=hashlib.sha256(html).hexdigest(), pdf_sha256=hashlib.sha256(pdf).hexdigest(),
            docx_path=store_content(self.store, docx) if docx else None,
            docx_sha256=hashlib.sha256(docx).hexdigest() if docx else None,
            issued_by=request.issued_by, issued_at=issued_at,
        )
        try:
            with session_scope(self.engine) as session:
                session.add(row)
                if ics:
                    self._send_invitations(session, request, ics)
        except IntegrityError:
            with session_scope(self.engine) as session:
                return session.exec(select(Document).where(Document.key == request.key)).one().id
        return row.id

    def _send_invitations(self, session, request: DocumentRequest, ics: str) -> None:
        """Panel invitations, with the .ics, to the invited agencies' members and the panel chairs."""
        users = session.exec(select(User).where(User.is_active == True)).all()  # noqa: E712
        invited = set(request.context.get("agency_codes", []))
        panel_date = long_date(request.context["panel_date"])
        for user in users:
            if user.role == Role.panel_chair or (user.role == Role.agency_member and user.agency in invited):
                enqueue(session, key=f"invitation:{request.key}:user:{user.id}", to=user,
                        subject=f"[OFFICIAL-SENSITIVE] {request.case_reference}: Rapid Review Panel on {panel_date}",
                        body=(f"You are invited to the Rapid Review Panel for case {request.case_reference} on "
                              f"{panel_date}, 10am to 1pm. The papers are in "
                              f"the Rapid Review service: {self.public_url.rstrip('/')}/cases/"
                              f"{request.case_reference}"),
                        case_reference=request.case_reference, ics=ics)
