"""Which version of the workflow code a case runs, asked in one place.

A workflow opened since patch "local-step" commits its steps as local activities (engine/steps.py): an action is
answered in the workflow task that took it, with a one-event marker instead of an activity's six events. Such a
workflow started with every patch the code has today, so it asks the engine about no later patch: each is true,
and no marker is recorded. That is not only fewer events: a patch marker first recorded in a workflow task after
a local activity's marker failed replay here (TMPRL1100), and later patches are asked lazily, inside actions.
Workflows opened before "local-step" ask every patch of the engine, as they ran.
"""

from __future__ import annotations

from temporalio import workflow

LOCAL_STEPS = "local-step"
# Cases opened since send their steps as activities again: with local steps, the time-skipping test server was seen
# to start a second workflow task for a run while the first was still in the worker, and the case hung (twice in
# tests/test_joint_decisions.py under CI's load). Until that is understood against a real server, no new case takes
# local steps; cases opened with them in between replay as they ran.
NO_LOCAL_STEPS = "no-local-step"
# Cases opened since end only when every handler has answered and every queued document is in the register, both
# at once (Steps.finished): a closing action's documents are queued after its step is applied, and a run that had
# already seen the case closed could end while they waited, leaving them never issued. Asked after
# decide_local_steps, first thing in the run; kept in Steps.ends_after_documents.
ENDS_AFTER_DOCUMENTS = "ends-after-documents"

# Every patch the code had when "local-step" came: a workflow opened with local steps met all of them. A change
# made since must not be one more name here: it is asked once, first thing in the run (before any local step,
# so its marker is recorded where it replays), and kept in the workflow's state, as "three-way-sin" is.
BEFORE_LOCAL_STEPS = frozenset({
    "answer-first", "care-leaver-review-local", "case-calendar", "category-keeps-review",
    "information-return-document", "joint-decisions", "learning-without-cspr", "reopenable", "returns-before-panel",
    "sar-criteria-record", "sealed-progress", "sealed-start", "state-in-step", "steady-clock", "three-way-sin",
})


def decide_local_steps() -> bool:
    """Asked by a workflow's run first of all, before anything that could record a marker or schedule an
    activity: False for cases opened before "local-step" and since "no-local-step"."""
    if workflow.patched(NO_LOCAL_STEPS):
        return False
    return workflow.patched(LOCAL_STEPS)


def patched(name: str) -> bool:
    """``workflow.patched(name)`` for a patch from before local steps; in a workflow opened with local steps, true
    without asking. Refused before the run has decided (a handler must wait for the case to open first) and for
    a patch made since (see BEFORE_LOCAL_STEPS)."""
    if name not in BEFORE_LOCAL_STEPS:
        raise RuntimeError(f"patch {name!r} is newer than local steps: ask workflow.patched({name!r}) first thing "
                           "in the run and keep the answer in the workflow's state (engine/patches.py)")
    local = workflow.instance().steps.local
    if local is None:
        raise RuntimeError(f"patch {name!r} was asked before the run decided its steps: wait for "
                           "Steps.until_opened first")
    return local or workflow.patched(name)
