"""The forms of the pages, in the GOV.UK question pattern: fields built from an action's (or a referral's) pydantic
model, a submitted form back into the model's body (dates from day, month and year boxes), and the model's refusals
in plain English, each on its field, with the error summary's links."""

from __future__ import annotations

import types
import typing
from datetime import date
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ValidationError

from engine.vocabulary import (
    AGENCIES,
    CAPACITIES,
    CHILD_SEXES,
    CHILD_STATUSES,
    FAMILY_TOLD,
    NATIONAL_REVIEW_CRITERIA,
    PARALLEL_PROCESSES,
    REG_11_CRITERIA,
)
from service.web import wording


class FormField(BaseModel):
    name: str
    label: str
    kind: str  # text, textarea, lines, date, checkbox, number, radios, checkboxes, hidden
    required: bool
    help: str | None
    options: list[tuple[str, str]] = []
    value: str | None = None  # a hidden field's value


# The words for the codes of a field, where the regulations or the National Panel give them.
OPTION_WORDS = {"local_review_criteria": REG_11_CRITERIA, "national_review_criteria": NATIONAL_REVIEW_CRITERIA,
                "child_status": CHILD_STATUSES, "parallel_processes": PARALLEL_PROCESSES, "capacity": CAPACITIES,
                "child_sex": CHILD_SEXES, "family_told_of_review": FAMILY_TOLD}


def _options(kind, name: str = "") -> list[tuple[str, str]]:
    if name in OPTION_WORDS:
        words = OPTION_WORDS[name]
        return [(code, words[code][:1].upper() + words[code][1:]) for code in words]
    if isinstance(kind, type) and issubclass(kind, Enum):
        return [(str(m.value), wording.label(m.value)) for m in kind]
    if typing.get_origin(kind) is Literal:
        return [(str(v), wording.label(v)) for v in typing.get_args(kind)]
    return []


def form_fields(model: type[BaseModel], themes: list[str] = ()) -> list[FormField]:
    """Labelled form fields for an action's input model. The actor is the signed-in user and the delay reason is
    asked only when a deadline has been missed (``delay_field``), so neither is a field here."""
    fields = []
    for name, info in model.model_fields.items():
        if name in ("actor", "seal", "delay_reason"):
            continue
        kind = info.annotation
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        required = info.is_required()
        label, help_text = wording.field_label(name), info.description
        if typing.get_origin(kind) is list:
            item = typing.get_args(kind)[0]
            options = _options(item, name) or ([(k, v) for k, v in AGENCIES.items()] if "agenc" in name else [])
            if name == "themes":
                options = [(t, t[:1].upper() + t[1:]) for t in themes]
            fields.append(FormField(name=name, label=label, kind="checkboxes" if options else "lines",
                                    required=required, help=help_text or ("" if options else "One per line"),
                                    options=options))
        elif name in ("version", "proposed_action"):  # what the form answers, set from the case
            fields.append(FormField(name=name, label=label, kind="hidden", required=required, help=None))
        elif options := _options(kind, name):
            fields.append(FormField(name=name, label=label, kind="radios", required=required, help=help_text,
                                    options=options))
        elif kind is bool:
            fields.append(FormField(name=name, label=label, kind="checkbox", required=False, help=help_text))
        elif kind is date:
            fields.append(FormField(name=name, label=label, kind="date", required=required,
                                    help=help_text or "For example, 27 3 2026"))
        elif kind is int:
            fields.append(FormField(name=name, label=label, kind="number", required=required, help=help_text))
        else:
            limit = next((m.max_length for m in info.metadata if hasattr(m, "max_length")), None)
            fields.append(FormField(name=name, label=label, kind="textarea" if (limit or 0) > 200 else "text",
                                    required=required, help=help_text))
    return fields


def delay_field(state: dict) -> FormField | None:
    """The reason for a delay: asked only when the case has missed a deadline, naming it, and required then."""
    missed = [d for d in state.get("deadlines") or [] if d.get("key") in (state.get("unexplained_delays") or [])]
    if not missed:
        return None
    named = "; ".join(f"{d['title']} (due {wording.long_date(d['due'])})" for d in missed)
    return FormField(name="delay_reason", label="Reason for the delay", kind="textarea", required=True,
                     help=f"This case missed: {named}. Say why, so the delay is on record.")


def form_body(fields: list[FormField], form) -> tuple[dict, dict[str, str]]:
    """The action's JSON body from a submitted form (empty fields left out, so defaults apply), and the dates that
    are not real dates."""
    body, errors = {}, {}
    for field in fields:
        if field.kind == "checkboxes":
            body[field.name] = [str(v) for v in form.getlist(field.name)]
        elif field.kind == "lines":
            body[field.name] = [line.strip() for line in str(form.get(field.name, "")).splitlines() if line.strip()]
        elif field.kind == "checkbox":
            body[field.name] = form.get(field.name) is not None
        elif field.kind == "date":
            parts = [str(form.get(f"{field.name}-{p}", "")).strip() for p in ("day", "month", "year")]
            if any(parts):
                try:
                    body[field.name] = date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat()
                except ValueError:
                    errors[field.name] = f"{field.label} must be a real date"
        elif (value := str(form.get(field.name, "")).strip()) != "":
            body[field.name] = value
    return body, errors


def dates_from_parts(fields: dict) -> dict:
    """Day, month and year boxes (``due_date-day`` …) back into one ISO date field; a date that does not exist is
    passed on as typed, so the model refuses it naming the field."""
    for name in [key.removesuffix("-day") for key in list(fields) if key.endswith("-day")]:
        parts = [str(fields.pop(f"{name}-{part}", "")).strip() for part in ("day", "month", "year")]
        if any(parts):
            try:
                fields[name] = date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat()
            except ValueError:
                fields[name] = "/".join(parts)
    return fields


def invalid_fields(model: type[BaseModel], body: dict, fields: list[FormField], **extra) -> dict[str, str]:
    """The model's refusals in plain English, each on its field (a refusal of the whole form goes to the field
    it names, or the first)."""
    kinds = {f.name: f.kind for f in fields}
    try:
        model.model_validate({**body, **extra})
    except ValidationError as error:
        found = {}
        for problem in error.errors():
            name = next((str(p) for p in problem["loc"] if str(p) in kinds), None)
            message = wording.field_message(problem, name or "", kinds.get(name, "text"))
            found.setdefault(name or field_named(message, fields), message)
        return found
    return {}


def field_named(message: str, fields: list[FormField]) -> str:
    """The field a whole-form message is about: the last one it mentions (by label), else the first field."""
    text = message.lower()
    named = [f.name for f in fields if f.kind != "hidden" and (f.label.lower() in text
                                                             or f.name.replace("_", " ") in text)]
    visible = [f.name for f in fields if f.kind != "hidden"]
    return named[-1] if named else (visible[0] if visible else "")


def error_list(prefix: str, fields: list[FormField], errors: dict[str, str]) -> list[tuple[str, str]]:
    """The error summary's links: each to its field's first input."""
    anchors = {f.name: field_anchor(prefix, f) for f in fields}
    return [(anchors.get(name, f"{prefix}-form"), message) for name, message in errors.items()]


def field_anchor(prefix: str, field: FormField) -> str:
    """The id of a field's first input: where an error summary's link, or a Change link, takes the person."""
    anchor = f"{prefix}-{field.name}"
    if field.kind == "date":
        return anchor + "-day"
    if field.kind in ("radios", "checkboxes") and field.options:
        return anchor + f"-{field.options[0][0]}"
    return anchor


def typed_values(form) -> dict:
    return {key: form.getlist(key) if len(form.getlist(key)) > 1 else form.get(key) for key in form
            if key != "csrf_token"}


def safe_back(value, default: str) -> str:
    value = str(value or default)
    return value if value.startswith("/") and not value.startswith("//") else default


def answer_text(field: FormField, value) -> str:
    """An answer as the check-answers page shows it."""
    if field.kind == "checkboxes" and not value:
        return "None of these"
    if value in (None, "", []):
        return "Not given"
    options = dict(field.options)
    if isinstance(value, list):
        return "; ".join(options.get(v, v) for v in value)
    if field.kind == "date":
        return wording.long_date(value)
    if field.kind == "checkbox":
        return "Yes" if value else "No"
    return options.get(value, value)


def plain_error(error: Exception) -> str:
    """A refusal in a sentence: each field's problem in plain English (used where a page has one message)."""
    if hasattr(error, "errors"):
        return "; ".join(wording.field_message(e, str(e["loc"][-1]) if e["loc"] else "", "text")
                         for e in error.errors())
    return wording.plain(str(error))
