"""The decision sheet's form as the panel chair meets it: each question worded for people with a hint, the questions
grouped in the sections of the National Panel's rapid review template, and the questions every rapid review must
answer required before the sheet can be issued.

The workflow's model (``IssueDecisionSheet``) keeps these optional, so a sheet issued before they existed still reads
and replays; the page is where a chair is asked them, so the page is where they are required."""

from __future__ import annotations

from typing import NamedTuple

from service.web.forms import FormField


class Question(NamedTuple):
    label: str
    hint: str
    missing: str | None = None  # the error when left unanswered; None: optional


QUESTIONS = {
    "circumstances": Question(
        "Summary of the circumstances", "What happened to the child and what is known so far. Do not give names.",
        "Enter a summary of the circumstances"),
    "child_outcome": Question(
        "Did the child die or were they seriously harmed?", "",
        "Select whether the child died or was seriously harmed"),
    "area": Question("Where the child lived", "A locality or district, never an address"),
    "child_sex": Question("Sex of the child", "", "Select the sex of the child"),
    "child_ethnicity": Question("Ethnicity of the child", "As the family describe it, if known"),
    "child_disability": Question("Disability", "Any disability the child has, or 'none known'"),
    "child_status": Question("The child's status at the time of the incident",
                             "Select all that apply. Leave all unticked if none applies."),
    "family_and_household": Question("Family and household", "Who lived with the child, and significant adults"),
    "voice_of_child_and_family": Question(
        "The voice of the child and family", "What the child's daily life was like, and what the child and family "
        "have said, or why their views are not known", "Enter the voice of the child and family"),
    "siblings_and_other_children": Question(
        "Safety of siblings and other children", "What has been done to keep any brothers, sisters or other "
        "children in the household safe, or 'none' if there are no other children",
        "Enter what has been done for the safety of siblings and other children"),
    "family_told_of_review": Question("Has the family been told about the rapid review?", "",
                                      "Select whether the family has been told about the rapid review"),
    "key_practice_episodes": Question("Key practice episodes",
                                      "The moments in practice the review looks at, one per line"),
    "parallel_processes": Question("Other processes under way", "Select all that apply"),
    "parallel_processes_notes": Question("More about these processes", "For example, how far an investigation has got"),
    "local_review_criteria": Question(
        "Which criteria for a local child safeguarding practice review does the case meet?",
        "Regulation 11 of the Child Safeguarding Practice Review and Relevant Agency (England) Regulations 2018. "
        "Leave all unticked if it meets none."),
    "criteria_notes": Question("Notes on the criteria", "How the case meets, or does not meet, the criteria"),
    "national_review_criteria": Question(
        "Could the case be complex or of national importance?",
        "Select each reason that applies (regulation 3). Leave all unticked if none does."),
    "recommendation": Question("The partners' recommendation",
                               "This starts from the panel's recommendation: change it only if the partners now "
                               "recommend something else", "Select the partners' recommendation"),
    "rationale": Question("Why the partners recommend this", "The reasons the National Panel will read",
                          "Enter why the partners recommend this"),
}

SECTIONS = (
    ("The incident", ["circumstances", "child_outcome", "area"]),
    ("The child (no names)", ["child_sex", "child_ethnicity", "child_disability", "child_status",
                              "family_and_household"]),
    ("The child's experience and other children", ["voice_of_child_and_family", "siblings_and_other_children",
                                                   "family_told_of_review"]),
    ("Practice and other processes", ["key_practice_episodes", "parallel_processes", "parallel_processes_notes"]),
    ("Criteria and recommendation", ["local_review_criteria", "criteria_notes", "national_review_criteria",
                                     "recommendation", "rationale"]),
)

# The yes-or-no flags older callers gave instead of the criteria: the criteria chosen answer them.
NOT_ASKED = frozenset({"local_review_criteria_met", "national_importance"})


def sheet_fields(fields: list[FormField]) -> list[FormField]:
    """The model's fields as the chair is asked them: worded, hinted and required as ``QUESTIONS`` says, in the
    order of the sections (anything else, such as the reason for a delay, after them)."""
    by_name = {f.name: f for f in fields if f.name not in NOT_ASKED}
    asked = []
    for _, names in SECTIONS:
        for name in names:
            question = QUESTIONS[name]
            asked.append(by_name.pop(name).model_copy(update={
                "label": question.label, "help": question.hint or None, "required": question.missing is not None}))
    return asked + list(by_name.values())


def sheet_sections(fields: list[FormField]) -> list[dict]:
    """The fields in their sections (a legend each); fields in no section in a last group without a legend."""
    by_name = {f.name: f for f in fields}
    groups = [{"legend": legend, "fields": [by_name[n] for n in names if n in by_name]} for legend, names in SECTIONS]
    placed = {n for _, names in SECTIONS for n in names}
    rest = [f for f in fields if f.name not in placed]
    return groups + ([{"legend": None, "fields": rest}] if rest else [])


def unanswered(body: dict) -> dict[str, str]:
    """The required questions left unanswered, each with its message, in the form's order."""
    return {name: q.missing for name, q in QUESTIONS.items() if q.missing and body.get(name) in (None, "", [])}
