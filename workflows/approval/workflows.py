"""LetterApprovalWorkflow: one per application. It walks the route its letter type has in the
desa (resolved once at start, so a running letter keeps the route it started with), waits at
each step for the assignee's decision (a Temporal Update whose validator refuses wrong role,
wrong desa and stale steps before anything enters history), and after the last approval has the
signing service issue the letter.

Workflow code must stay deterministic: no I/O, no clocks but workflow.now(), activities called
by name so this module imports nothing that does I/O.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from common.event_names import (
    APPLICATION_DECIDED,
    APPLICATION_REJECTED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
    LETTER_ISSUED,
)
from workflows.approval import WORKFLOW_NAME
from workflows.approval.models import (
    ACTIVITY_ISSUE_LETTER,
    ACTIVITY_RECORD_PROGRESS,
    ACTIVITY_RESOLVE_ROUTE,
    APPROVE,
    CANCELLED,
    DECISIONS,
    ERR_FINISHED,
    ERR_INVALID,
    ERR_NOT_AWAITING_RESUBMIT,
    ERR_STALE_STEP,
    ERR_WRONG_DESA,
    ERR_WRONG_ROLE,
    IN_REVIEW,
    ISSUED,
    REJECT,
    REJECTED,
    REVISE,
    REVISION_REQUESTED,
    ApprovalInput,
    ApprovalState,
    DecisionInput,
    IssueLetterInput,
    LetterInfo,
    ProgressRecord,
    ResubmitInput,
    Route,
    role_label,
)

_SERVICE_CALL_TIMEOUT = timedelta(seconds=30)
_ISSUE_TIMEOUT = timedelta(minutes=2)
# Services may be down for a while (a restart, a deploy): keep retrying, but not in a hot loop.
_SERVICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
_FINISHED_STATUSES = (REJECTED, ISSUED, CANCELLED)


@workflow.defn(name=WORKFLOW_NAME)
class LetterApprovalWorkflow:
    @workflow.init
    def __init__(self, input: ApprovalInput) -> None:
        self._input = input
        self._status = IN_REVIEW
        self._route: Route | None = None
        self._step_index: int | None = None
        self._letter: LetterInfo | None = None
        self._sequence = 0
        # Handed from the update handlers to the main loop.
        self._pending_decision: DecisionInput | None = None
        self._pending_resubmit: ResubmitInput | None = None
        # The request the main loop is acting on; answered once its effects are recorded.
        self._request_in_progress: str | None = None
        # Every request id accepted, and the answer of each one finished: a retried request
        # (same id) gets the same answer and changes nothing.
        self._accepted: set[str] = set()
        self._results: dict[str, ApprovalState] = {}

    @workflow.run
    async def run(self, input: ApprovalInput) -> ApprovalState:
        self._route = await workflow.execute_activity(
            ACTIVITY_RESOLVE_ROUTE,
            input,
            result_type=Route,
            start_to_close_timeout=_SERVICE_CALL_TIMEOUT,
            retry_policy=_SERVICE_RETRY,
        )
        index = 0
        while index < len(self._route.steps):
            self._step_index = index
            self._set_details()
            await self._record(APPLICATION_STEP_ASSIGNED)
            self._answer_request_in_progress()

            await workflow.wait_condition(lambda: self._pending_decision is not None)
            decision = self._take_decision()
            if decision.decision == APPROVE:
                await self._record(APPLICATION_DECIDED, decision=decision)
                index += 1
            elif decision.decision == REVISE:
                self._status = REVISION_REQUESTED
                self._step_index = None
                self._set_details()
                await self._record(APPLICATION_REVISION_REQUESTED, decision=decision)
                self._answer_request_in_progress()
                await workflow.wait_condition(lambda: self._pending_resubmit is not None)
                self._take_resubmit()
                self._status = IN_REVIEW
                await self._record(APPLICATION_RESUBMITTED)
                # The loop assigns the same step again (with a fresh start), not the first one.
            else:
                self._status = REJECTED
                self._step_index = None
                self._set_details()
                await self._record(APPLICATION_REJECTED, decision=decision)
                return await self._finish()

        # Every step approved: answer the last approver now, then issue the letter.
        self._step_index = None
        self._set_details()
        self._answer_request_in_progress()
        self._letter = await workflow.execute_activity(
            ACTIVITY_ISSUE_LETTER,
            IssueLetterInput(
                application_id=input.application_id, signer_role=self._route.signer_role
            ),
            result_type=LetterInfo,
            start_to_close_timeout=_ISSUE_TIMEOUT,
            retry_policy=_SERVICE_RETRY,
        )
        self._status = ISSUED
        self._set_details()
        await self._record(LETTER_ISSUED)
        return await self._finish()

    # -- messages --------------------------------------------------------------------------

    @workflow.query
    def state(self) -> ApprovalState:
        route = [s.role for s in self._route.steps] if self._route else []
        role = (
            route[self._step_index]
            if self._step_index is not None and self._step_index < len(route)
            else None
        )
        return ApprovalState(
            application_id=self._input.application_id,
            status=self._status,
            route=route,
            step_index=self._step_index,
            step_role=role,
            letter=self._letter,
        )

    @workflow.update
    async def decide(self, decision: DecisionInput) -> ApprovalState:
        if decision.request_id not in self._accepted:
            self._accepted.add(decision.request_id)
            self._pending_decision = decision
        await workflow.wait_condition(lambda: decision.request_id in self._results)
        return self._results[decision.request_id]

    @decide.validator
    def validate_decide(self, decision: DecisionInput) -> None:
        """Refuses before anything is written to history. Messages are read by staff."""
        if decision.request_id in self._accepted:
            return  # a retry of a decision already taken: answered with the same result
        if self._status in _FINISHED_STATUSES:
            raise ApplicationError(
                "Permohonan ini sudah selesai diproses.", type=ERR_FINISHED, non_retryable=True
            )
        if decision.decision not in DECISIONS:
            raise ApplicationError(
                "Keputusan harus approve, revise atau reject.", type=ERR_INVALID, non_retryable=True
            )
        if decision.actor_desa_code != self._input.desa_code:
            raise ApplicationError(
                "Permohonan ini bukan dari desa Anda.", type=ERR_WRONG_DESA, non_retryable=True
            )
        current = self._current_role()
        if (
            current is None
            or decision.step_index != self._step_index
            or self._pending_decision is not None
            or self._request_in_progress is not None
        ):
            raise ApplicationError(
                "Langkah ini sudah tidak menunggu keputusan. Muat ulang untuk melihat keadaan terbaru.",
                type=ERR_STALE_STEP,
                non_retryable=True,
            )
        if decision.actor_role != current:
            raise ApplicationError(
                f"Langkah ini menunggu keputusan {role_label(current)}, bukan peran Anda.",
                type=ERR_WRONG_ROLE,
                non_retryable=True,
            )
        if decision.decision in (REVISE, REJECT) and not decision.reason.strip():
            raise ApplicationError(
                "Alasan wajib diisi untuk mengembalikan atau menolak permohonan.",
                type=ERR_INVALID,
                non_retryable=True,
            )

    @workflow.update
    async def resubmit(self, request: ResubmitInput) -> ApprovalState:
        if request.request_id not in self._accepted:
            self._accepted.add(request.request_id)
            self._pending_resubmit = request
        await workflow.wait_condition(lambda: request.request_id in self._results)
        return self._results[request.request_id]

    @resubmit.validator
    def validate_resubmit(self, request: ResubmitInput) -> None:
        if request.request_id in self._accepted:
            return
        if (
            self._status != REVISION_REQUESTED
            or self._pending_resubmit is not None
            or self._request_in_progress is not None
        ):
            raise ApplicationError(
                "Permohonan ini tidak sedang menunggu perbaikan.",
                type=ERR_NOT_AWAITING_RESUBMIT,
                non_retryable=True,
            )

    # -- helpers ---------------------------------------------------------------------------

    def _current_role(self) -> str | None:
        return self.state().step_role

    def _take_decision(self) -> DecisionInput:
        decision = self._pending_decision
        assert decision is not None
        self._pending_decision = None
        self._request_in_progress = decision.request_id
        return decision

    def _take_resubmit(self) -> None:
        request = self._pending_resubmit
        assert request is not None
        self._pending_resubmit = None
        self._request_in_progress = request.request_id

    def _answer_request_in_progress(self) -> None:
        if self._request_in_progress is not None:
            self._results[self._request_in_progress] = self.state()
            self._request_in_progress = None

    async def _finish(self) -> ApprovalState:
        self._answer_request_in_progress()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _record(self, event: str, decision: DecisionInput | None = None) -> None:
        """Tell intake (which stores it and publishes the event). The sequence makes a retried
        activity a no-op on intake's side."""
        self._sequence += 1
        state = self.state()
        await workflow.execute_activity(
            ACTIVITY_RECORD_PROGRESS,
            ProgressRecord(
                application_id=self._input.application_id,
                desa_code=self._input.desa_code,
                letter_type=self._input.letter_type,
                sequence=self._sequence,
                event=event,
                status=state.status,
                step_index=state.step_index,
                step_role=state.step_role,
                actor_role=decision.actor_role if decision else "",
                decision=decision.decision if decision else "",
                reason=decision.reason if decision else "",
                letter=self._letter,
            ),
            start_to_close_timeout=_SERVICE_CALL_TIMEOUT,
            retry_policy=_SERVICE_RETRY,
        )

    def _set_details(self) -> None:
        """One line for the Temporal UI; no personal data."""
        role = self._current_role()
        if role is not None:
            text = f"Menunggu {role_label(role)} (langkah {self._step_index})"
        elif self._status == REVISION_REQUESTED:
            text = "Menunggu perbaikan dari pemohon"
        elif self._status == ISSUED:
            text = "Surat terbit"
        elif self._status == REJECTED:
            text = "Ditolak"
        else:
            text = "Menerbitkan surat"
        workflow.set_current_details(
            f"{self._input.letter_type} desa {self._input.desa_code}: {text}"
        )
