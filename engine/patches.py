"""Which version of the workflow code a case runs, asked in one place.

A workflow opened since patch "local-step" commits its steps as local activities (engine/steps.py): an action is
answered in the workflow task that took it, with a one-event marker instead of an activity's six events. Such a
workflow started with every patch the code has today, so it asks the engine about no later patch: each is true,
and no marker is recorded. That is not only fewer events: a patch marker first recorded in a workflow task after
a local activity's marker failed replay here (TMPRL1100), and later patches are asked lazily, inside actions.
Workflows opened before "local-step" ask every patch of the engine, as they ran.

Cases opened since patch "settled-2026-12" likewise met every patch before it: each is true without asking, which
saves two events a patch (the marker and the change-version search attribute). Their steps are local again, they ask
a stopping review to stop once (the second request was what hung cases with local steps: LocalReview.stop_asked),
and they end only once their documents are issued (Steps.finished).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

if TYPE_CHECKING:
    from engine.steps import Steps

LOCAL_STEPS = "local-step"
# Cases opened between this patch and SETTLED send their steps as activities: with local steps a case hung in
# tests/test_joint_decisions.py under CI's load (the cause, since fixed: see SETTLED); cases opened with local steps
# before it replay as they ran.
NO_LOCAL_STEPS = "no-local-step"
# Asked first of all: a workflow opened since met every patch in BEFORE_LOCAL_STEPS (each true without asking), takes
# local steps, asks a stopping review to stop once and ends after its documents (Steps.finished).
SETTLED = "settled-2026-12"

# Every patch the code had when "local-step" came: a workflow opened with local steps met all of them. A change
# made since must not be one more name here: it is asked once, first thing in the run (before any local step,
# so its marker is recorded where it replays), and kept in the workflow's state, as "three-way-sin" is.
BEFORE_LOCAL_STEPS = frozenset({
    "answer-first", "care-leaver-review-local", "case-calendar", "category-keeps-review",
    "information-return-document", "joint-decisions", "learning-without-cspr", "reopenable", "returns-before-panel",
    "sar-criteria-record", "sealed-progress", "sealed-start", "state-in-step", "steady-clock", "three-way-sin",
})


def decide_versions(steps: Steps) -> None:
    """Asked by a workflow's run first of all, before anything that could record a marker or schedule an activity:
    whether its steps are local (cases opened since "settled-2026-12", or between "local-step" and "no-local-step"),
    whether every earlier patch is true without asking, and whether the run ends after its documents."""
    if workflow.patched(SETTLED):
        steps.local, steps.settled = True, True
    elif workflow.patched(NO_LOCAL_STEPS):
        steps.local = False
    else:
        steps.local = workflow.patched(LOCAL_STEPS)


def patched(name: str) -> bool:
    """``workflow.patched(name)`` for a patch from before local steps; in a workflow opened with local steps, true
    without asking. Refused before the run has decided (a handler must wait for the case to open first) and for
    a patch made since (see BEFORE_LOCAL_STEPS)."""
    if name not in BEFORE_LOCAL_STEPS:
        raise RuntimeError(f"patch {name!r} is newer than local steps: ask workflow.patched({name!r}) first thing "
                           "in the run and keep the answer in the workflow's state (engine/patches.py)")
    steps = workflow.instance().steps
    if steps.local is None:
        raise RuntimeError(f"patch {name!r} was asked before the run decided its steps: wait for "
                           "Steps.until_opened first")
    return steps.local or steps.settled or workflow.patched(name)
