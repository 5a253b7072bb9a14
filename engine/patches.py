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


def decide_local_steps() -> bool:
    """Asked by a workflow's run first of all, before anything that could record a marker or schedule an
    activity."""
    return workflow.patched(LOCAL_STEPS)


def patched(name: str) -> bool:
    """``workflow.patched(name)``, except in a workflow opened with local steps, where every patch holds."""
    steps = getattr(workflow.instance(), "steps", None)
    if steps is not None and steps.local:
        return True
    return workflow.patched(name)
