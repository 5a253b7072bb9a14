"""The SAR's agency information: after commissioning, the business unit asks agencies for their information; each
returns it once, through the same information return as a rapid review's (its text goes to the case record, never
into the workflow's state), or has its return on a linked case counted here where the partners agreed to share.

Sources: Care Act 2014 s45 (a person the SAB asks must supply the information it needs for its functions, a SAR
among them), which sets no time: the return's clock is the SAB's own procedure (``SarRules``, a local setting naming
its source). The SAR Quality Markers (SCIE, 2022) could not be read from here; nothing in this module rests on them.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.clock import DeadlineClock
from workflows.steps import Steps, reject

with workflow.unsafe.imports_passed_through():
    from workflows.models import CaseStep, InformationReturnRecord, Outstanding, ProcessState
    from workflows.safeguarding_adults.models import (
        RULE_AGENCY_RETURNS,
        RequestSarInformation,
        SarRules,
        SubmitSarInformationReturn,
        UseSharedReturn,
    )
    from workflows.vocabulary import AGENCIES, Role, TaskKind

DEADLINE = "agency_returns"  # the same key as a rapid review's, so the case page's returns read its due date
RETURN_ACTION = "submit_sar_information_return"


class AgencyInformation:
    """What was asked of whom, what came back (``returns``: agency -> day) and which came from a linked case
    (``shared_returns``: agency -> that case's reference). Its state lives on the workflow's state."""

    def __init__(self, state: ProcessState, steps: Steps, clock: DeadlineClock, rules: SarRules) -> None:
        self.state, self.steps, self.clock, self.rules = state, steps, clock, rules

    # ------------------------------------------------------------ checks

    def check_request(self, action: RequestSarInformation) -> None:
        unknown = [a for a in action.agencies if a not in AGENCIES]
        if unknown:
            raise reject(f"Unknown agencies: {', '.join(unknown)}. Known agencies: {', '.join(AGENCIES)}.")
        if len(set(action.agencies)) != len(action.agencies):
            raise reject("An agency is asked more than once.")
        again = [a for a in action.agencies if a in self.state.information_asked]
        if again:
            raise reject(f"Already asked for their information: {', '.join(again)}.")

    def check_return(self, agency: str | None) -> None:
        if agency not in self.state.information_asked:
            raise reject(f"Your agency ({agency}) has not been asked for information on this review.")
        if agency in self.state.returns:
            raise reject(f"The {AGENCIES.get(agency, agency)} return already came on "
                         f"{self.state.returns[agency].isoformat()}.")

    def check_shared(self, action: UseSharedReturn) -> None:
        if action.actor.role == Role.agency_member and action.actor.agency != action.agency:
            raise reject("An agency member may count only her own agency's shared return.")
        if action.shared_from == self.state.reference:
            raise reject("A return shared from this case itself is not shared.")
        self.check_return(action.agency)

    # ------------------------------------------------------------ effects

    def request(self, action: RequestSarInformation, step: CaseStep) -> None:
        """A task for each agency asked, due on the local clock's day (one deadline for all who are waiting)."""
        self.state.information_asked += action.agencies
        self.state.information_questions += action.questions
        days = self.rules.agency_returns_working_days
        due = self.clock.add_counted_deadline(DEADLINE, "Agencies' information returns", self.clock.today(), days,
                                              RULE_AGENCY_RETURNS.format(n=days), Role.business_unit,
                                              statutory=False)
        asked = "; ".join(action.questions)
        for agency in action.agencies:
            step.tasks.append(self.steps.task(
                f"information_return:{agency}", TaskKind.information_return,
                "Submit your agency's information return for the Safeguarding Adults Review",
                f"{AGENCIES[agency]}: send your involvement with the adult, a chronology and your analysis by "
                f"{due.isoformat()}." + (f" The review asks: {asked}" if asked else ""), Role.agency_member,
                agency=agency, due=due, action=RETURN_ACTION))

    def receive(self, action: SubmitSarInformationReturn, step: CaseStep) -> None:
        """The return's text goes to the case record (the step's ``information_return``, as a rapid review's)."""
        agency = action.actor.agency
        text = action.model_dump(include={"involvement", "chronology", "analysis"})
        step.information_return = InformationReturnRecord(
            agency=agency, submitted_by=action.actor.name, submitted_by_id=action.actor.user_id, **text)
        self._arrived(agency, step, "returned")

    def use_shared(self, action: UseSharedReturn, step: CaseStep) -> None:
        """No copy: the case page reads the return from the linked case, for those who may read both."""
        self.state.shared_returns[action.agency] = action.shared_from
        self._arrived(action.agency, step, f"shared from {action.shared_from}")

    def _arrived(self, agency: str, step: CaseStep, how: str) -> None:
        self.state.returns[agency] = self.clock.today()
        step.settle.append(self.steps.done(f"information_return:{agency}", how))
        step.settle.append(self.steps.done(f"reminder:{DEADLINE}:{agency}:", how))
        if all(a in self.state.returns for a in self.state.information_asked):
            self.clock.meet(DEADLINE, step)

    def close(self, step: CaseStep) -> None:
        """The report came without some returns: their tasks and the deadline end, saying why (as a rapid review's
        panel held without a return). Nothing was asked in a case from before agency information, so nothing
        changes for it."""
        missing = [a for a in self.state.information_asked if a not in self.state.returns]
        if missing:
            self.clock.cancel(DEADLINE)
            step.settle += [self.steps.cancel(f"information_return:{agency}", "the report came without this return")
                            for agency in missing]

    def outstanding(self) -> list[Outstanding]:
        found = self.clock.deadline(DEADLINE)
        return [Outstanding(what="Information return", role=Role.agency_member, agency=agency,
                            due=found.due if found else None)
                for agency in self.state.information_asked if agency not in self.state.returns]
