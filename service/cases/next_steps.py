"""What happens next on a case, and who it waits on, as the case page and the banner after an action say it.

The case's workflow lists what its own stages wait on (``outstanding`` in its state). A local CSPR is its own
workflow, so the case says only that a review is under way; here each stage of the review says what is next and
who does it (the business unit's steps, each seat yet to approve the final report, the partners while publication
is held), and every decision proposed to the three partners says which seats have yet to answer."""

from __future__ import annotations

from datetime import date

from engine.vocabulary import SEAT_NAMES, ReviewStage, Role, Stage

# The business unit's step at each stage of a local CSPR, and the review deadline it counts towards.
REVIEW_STEPS = {
    ReviewStage.terms_of_reference: ("Agree the review's terms of reference", "commission"),
    ReviewStage.commissioning: ("Commission the reviewer", "commission"),
    ReviewStage.learning_events: ("Hold the review's learning events and record the draft report", "cspr"),
    ReviewStage.draft_report: ("Record the final report and submit it for the partners' sign-off", "cspr"),
    ReviewStage.publication_notice: ("Send the final report to the National Panel and the Department for Education "
                                     "before publication", "cspr"),
    ReviewStage.learning_workshop: ("Hold the learning workshop after publication", None),
    ReviewStage.one_year_on: ("Hold the learning workshop one year after publication", "one_year_on"),
}


def _due(review: dict, *keys: str | None) -> str | None:
    """The first open deadline of the review among ``keys`` (a revised target before the statutory one)."""
    open_deadlines = {d["key"]: d["due"] for d in review.get("deadlines") or [] if d.get("awaited", True)}
    return next((open_deadlines[k] for k in keys if k in open_deadlines), None)


def review_steps(review: dict, today: date) -> list[dict]:
    """What a local CSPR waits on at its stage, and who on."""
    stage = review.get("stage")
    if stage == ReviewStage.final_sign_off:
        version = review.get("report_version")
        signed = {s["seat"] for s in review.get("sign_offs") or [] if s.get("version") == version}
        return [{"what": f"Approve or return the final report, version {version}", "role": Role.executive,
                 "seat": seat, "due": _due(review, "cspr_revised", "cspr")} for seat in SEAT_NAMES
                if seat not in signed]
    if stage == ReviewStage.publication:
        hold = review.get("publication_hold")
        if hold:
            return [{"what": "Publication is held by the partners: they decide when to lift the hold",
                     "role": Role.executive, "due": hold.get("review_on")}]
        earliest = review.get("earliest_publication")
        if earliest and date.fromisoformat(earliest) > today:
            what = f"Publish the report on or after {earliest} (the notice period), or record why it is not published"
        else:
            what = "Publish the report, or record why it is not published"
        return [{"what": what, "role": Role.business_unit, "due": _due(review, "cspr_revised", "cspr")}]
    if stage in REVIEW_STEPS:
        what, key = REVIEW_STEPS[stage]
        return [{"what": what, "role": Role.business_unit,
                 "due": _due(review, key) if key != "cspr" else _due(review, "cspr_revised", "cspr")}]
    return []


def proposals_waiting(source: dict) -> list[dict]:
    """Each decision proposed to the partners and still open: the seats yet to answer it."""
    waiting = []
    for proposal in source.get("joint_proposals") or []:
        if proposal.get("status") != "open":
            continue
        answered = {a["seat"] for a in source.get("joint_answers") or []
                    if a["decision"] == proposal["decision"] and a["version"] == proposal["version"]}
        what = f"Agree or disagree with the decision proposed to the partners ({proposal['summary'].rstrip('.')})"
        waiting += [{"what": what,
                     "role": Role.executive, "seat": seat} for seat in SEAT_NAMES if seat not in answered]
    return waiting


def waiting_on(state: dict, today: date) -> list[dict]:
    """Everything the case (and its review) waits on now, and who on."""
    review = state.get("practice_review") or {}
    proposed = {p["decision"] for p in state.get("joint_proposals") or [] if p.get("status") == "open"}
    owed = []
    for item in state.get("outstanding") or []:
        if str(item.get("what", "")).startswith("Practice review"):
            continue  # said stage by stage below
        if state.get("stage") == Stage.methodology and "choose_methodology" in proposed \
                and item.get("what") == "Choose the methodology":
            continue  # proposed already: it waits on the seats' answers
        owed.append(item)
    if state.get("stage") == Stage.practice_review and review:
        owed = review_steps(review, today) + owed
    return owed + proposals_waiting(state) + (proposals_waiting(review) if review else [])
