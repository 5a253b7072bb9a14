"""One context model per document kind: every field a template reads is in its kind's model, each template renders
from its model alone, and a missing field is refused by the model (naming it) before any template is rendered."""

from datetime import date

import pytest
from jinja2 import meta
from pydantic import ValidationError

from activities.documents import _environment, render_html
from engine.documents import CONTEXT_OF, Letterhead, ReferralAcknowledgement, read_context
from engine.models import DocumentRequest
from engine.vocabulary import DocumentKind
from tests.test_documents import BASE, CASES, REF

# What render_html itself gives every template (beside the letterhead and the kind's fields).
GIVEN = {"title", "issued_by", "issued_on", "marking", "for_sharing", "version", "seats", "recommendation_text",
         "partners_decision_text", *_environment.globals}
EXAMPLES = {kind: context for kind, (context, _) in CASES.items()} | {
    "information_return_education": {"agency": "education", "agency_name": "Education (schools)",
                                     "submitted_by": "Jo Bloggs", "received_on": "2026-11-10",
                                     "involvement": "Known since birth.", "chronology": "Visit on 1 October.",
                                     "analysis": "Advice given."},
    "decision_sheet_signed": CASES["decision_sheet"][0],
    "themes_sheet": {"years": [2026], "rows": [{"theme": "neglect", "controlled": True, "counts": {2026: 1},
                                                "total": 1, "references": ["RR-1"]}], "year": None},
    "sar_criteria_decision": {"pseudonym": "Adult A", "concern_date": "2026-10-01", "adult_died": True,
                              "decision": "a mandatory SAR", "decided_on": "2026-10-20",
                              "views": [{"seat": "Police", "by": "A Superintendent", "outcome": "a mandatory SAR",
                                         "reasons": "Agencies could have worked together better.",
                                         "on": "2026-10-20"}]},
}


def base_kind(kind: str) -> DocumentKind:
    for per_agency in (DocumentKind.information_request, DocumentKind.information_return):
        if kind.startswith(f"{per_agency}_"):
            return per_agency
    return DocumentKind(kind)


def template_names(name: str) -> set[str]:
    """A template and every template it extends or includes."""
    found, source = {name}, _environment.loader.get_source(_environment, name)[0]
    for referenced in meta.find_referenced_templates(_environment.parse(source)):
        found |= template_names(referenced)
    return found


def test_every_kind_has_an_example():
    assert {base_kind(kind) for kind in EXAMPLES} == set(DocumentKind)


@pytest.mark.parametrize("kind", sorted(DocumentKind))
def test_the_model_holds_every_field_its_template_reads(kind):
    name = "decision_sheet.html" if kind == DocumentKind.decision_sheet_signed else f"{kind}.html"
    read = set()
    for template in template_names(name):
        read |= meta.find_undeclared_variables(_environment.parse(_environment.loader.get_source(_environment,
                                                                                                    template)[0]))
    missing = read - set(CONTEXT_OF[kind].model_fields) - set(Letterhead.model_fields) - GIVEN
    assert not missing, f"{kind}.html reads {sorted(missing)}, which its model does not have"


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_template_renders_from_its_model(kind):
    letterhead, context = read_context(base_kind(kind), {**BASE, **EXAMPLES[kind]})
    request = DocumentRequest(key=f"{REF}:{kind}:v1", kind=kind, case_reference=REF, issued_by="Sam Patel",
                              context={**letterhead.model_dump(), **context.model_dump(mode="json")})
    html = render_html(request, date(2026, 12, 2))
    assert BASE["partnership"] in html and REF in html


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_a_missing_field_is_refused_by_the_model_naming_it(kind):
    model = CONTEXT_OF[base_kind(kind)]
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    assert required, f"{kind} has no required field"
    for name in required:
        wire = {key: value for key, value in {**BASE, **EXAMPLES[kind]}.items() if key != name}
        request = DocumentRequest(key=f"{REF}:{kind}:v1", kind=kind, case_reference=REF, issued_by="Sam Patel",
                                  context=wire)
        with pytest.raises(ValidationError) as refused:
            render_html(request, date(2026, 12, 2))  # refused before Jinja is asked for the template's fields
        assert name in str(refused.value)


def test_a_workflow_cannot_build_a_document_without_a_field():
    with pytest.raises(ValidationError, match="notification_due"):
        ReferralAcknowledgement(pseudonym="Julie", age_band="under 1", referring_agency="police",
                                incident_date=date(2026, 11, 1), awareness_date=date(2026, 11, 2),
                                referrer="Sam Patel", received_on=date(2026, 11, 2), notification_days=5)


def test_a_field_no_template_knows_is_refused():
    with pytest.raises(ValidationError, match="pseudonymn"):
        read_context(DocumentKind.sin_decision, {**BASE, **EXAMPLES["sin_decision"], "pseudonymn": "typo"})
