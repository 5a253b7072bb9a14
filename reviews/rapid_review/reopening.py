"""A closed case the partners may reopen (cases since patch "reopenable"): while the National Panel's reply is
awaited the case stays with the engine until its reopen_until day; a late reply is recorded and put to the
partners, who may reopen the case (a joint decision)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.calendar import london_moment
    from engine.vocabulary import Role, Stage, TaskKind
    from reviews.rapid_review.models import RecordNationalPanelResponse, ReopenCase, Reopening

from reviews.rapid_review.parts import CasePart


class ReopenWindow(CasePart):
    async def reopened(self) -> bool:
        """A closed case the partners may reopen waits until its reopen_until day has ended (a late reply from the
        National Panel is recorded meanwhile); True if the partners reopened it, False once the window is over,
        when anything left for the reopening (the late reply's task, an open proposal) is closed. A case the partners
        reopened before the run came here (its stopped review took longer to end than they took to reopen the case,
        and the reopening cleared reopen_until) goes on: this ended its run with the case open, and the new review's
        first report to it failed ("not found"). No running case met that: it ended the case's run."""
        if self.state.stage != Stage.closed:
            return True
        until = self.state.reopen_until
        if until is None:
            return False
        try:
            await workflow.wait_condition(lambda: self.state.stage != Stage.closed,
                                          timeout=london_moment(until + timedelta(days=1), 0) - workflow.now())
            return True
        except TimeoutError:
            pass
        async with self.steps.lock:
            if self.state.stage != Stage.closed:
                return True  # reopened by an update that was already under way when the window ended
            self.state.reopen_until = None
            step = self.steps.new_step("reopen_window_ended")
            proposal = self.joint.open_proposal("reopen_case")
            if proposal is not None:
                self.joint.settle(proposal, "not_agreed", step, "the time to reopen the case ended")
            step.settle.append(self.steps.cancel("", "the time to reopen the case ended"))
            self.state.late_panel_reply = False
            step.audit = self.audit(None, "reopen_window_ended", {"until": until.isoformat()})
            await self.steps.commit(step)
        return False

    def late_reply(self, action: RecordNationalPanelResponse, step) -> None:
        """The reply came after the case closed: kept on the closed case, and the partners asked whether to reopen
        it (until the case's reopen_until day)."""
        if action.panel_view == "agrees":
            return  # nothing more is asked of the partners: the case stays closed
        self.state.late_panel_reply = True
        until = self.state.reopen_until
        step.tasks.append(self.steps.task(
            f"late_panel_reply:{len(self.state.national_panel_responses)}", TaskKind.decision,
            "The National Panel replied after the case closed: put reopening it to the partners",
            f"The Panel's reply (received {action.received_on.isoformat()}) is on the case. If it calls for more, "
            f"propose to the three partners that the case is reopened, with the reason; they can do so until "
            f"{until.isoformat()}.", Role.business_unit,
            due=min(self.clock.working_days_after(self.clock.today(), 5), until), action="reopen_case",
        ))

    def reopen_case(self, action: ReopenCase, step, documents) -> None:
        """The partners agreed to reopen: the case's closure is kept on record and it goes back to the National
        Panel stage. The Panel's late reply is acted on as if it had come in time; without one, the partners
        reconsider their decision for the reason they gave."""
        st = self.state
        st.reopenings.append(Reopening(on=self.clock.today(), reason=action.reason,
                                       agreed_by=self.joint.agreed_by("reopen_case"), closed_reason=st.closed_reason,
                                       outcome=st.outcome, stopped=st.stopped))
        st.closed_reason = st.outcome = st.stopped = st.reopen_until = None
        st.learning_decision_pending = False
        step.settle.append(self.steps.done("late_panel_reply:", "reopened"))
        self.steps.move_to(step, Stage.national_panel, action.actor, "reopen_case")
        if st.late_panel_reply and st.national_panel_response is not None:
            st.late_panel_reply = False
            self.process.national_panel.act_on_reply(st.national_panel_response, step)
            if st.stage != Stage.closed:
                return
        if st.stage == Stage.closed:
            return  # the late reply agreed with the partners: closed again at once, with its outcome
        st.reconsideration_pending = True
        self.process.national_panel.ask_to_reconsider(step, f"reconsider:reopened:{len(st.reopenings)}",
                                "Reconsider the decision: the case was reopened",
                                f"The partners reopened the case ({action.reason}). Decide: keep the decision (a "
                                "stopped local CSPR then starts again), undertake a local CSPR, or stop it, with "
                                "reasons.", since=self.clock.today())
