"""A stand-in for LetterApprovalWorkflow in intake's tests, registered under the same workflow
name: it waits, accepts the Updates "cancel" and "resubmit" (validated, idempotent by request
id) and records what they change through the real record_progress activity, which calls
intake's RecordProgress over gRPC. The signal "request_revision" puts it where the real one is
after a Kasi returned the letter; "lock" makes cancel refuse, as the real workflow refuses once
a letter is being issued."""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from common.domain import ApplicationStatus, ApprovalErrorCode
from common.domain.events import APPLICATION_CANCELLED, APPLICATION_RESUBMITTED
from workflows.approval import WORKFLOW_NAME
from workflows.approval.models import (
    ACTIVITY_RECORD_PROGRESS,
    ApprovalInput,
    ApprovalState,
    CancelInput,
    ProgressRecord,
    ResubmitInput,
)

LOCKED_MESSAGE = "Surat sedang diterbitkan sehingga permohonan tidak dapat dibatalkan."


@workflow.defn(name=WORKFLOW_NAME)
class ApprovalDouble:
    @workflow.init
    def __init__(self, input: ApprovalInput) -> None:
        self._input = input
        self._status = ApplicationStatus.IN_REVIEW
        self._locked = False
        self._sequence = 0
        self._cancel: CancelInput | None = None
        self._resubmit: ResubmitInput | None = None
        self._accepted: set[str] = set()
        self._results: dict[str, ApprovalState] = {}

    @workflow.run
    async def run(self, input: ApprovalInput) -> ApprovalState:
        while True:
            await workflow.wait_condition(
                lambda: self._cancel is not None or self._resubmit is not None
            )
            if self._resubmit is not None:
                request_id = self._resubmit.request_id
                self._status = ApplicationStatus.IN_REVIEW
                await self._record(APPLICATION_RESUBMITTED)
                self._resubmit = None
                self._results[request_id] = self._state()
                continue
            assert self._cancel is not None
            self._status = ApplicationStatus.CANCELLED
            await self._record(APPLICATION_CANCELLED)
            self._results[self._cancel.request_id] = self._state()
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self._state()

    async def _record(self, event: str) -> None:
        self._sequence += 1
        await workflow.execute_activity(
            ACTIVITY_RECORD_PROGRESS,
            ProgressRecord(
                application_id=self._input.application_id,
                desa_code=self._input.desa_code,
                letter_type=self._input.letter_type,
                sequence=self._sequence,
                event=event,
                status=self._status,
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )

    def _state(self) -> ApprovalState:
        return ApprovalState(application_id=self._input.application_id, status=self._status)

    @workflow.signal
    def lock(self) -> None:
        self._locked = True

    @workflow.signal
    def request_revision(self) -> None:
        self._status = ApplicationStatus.REVISION_REQUESTED

    @workflow.update
    async def cancel(self, request: CancelInput) -> ApprovalState:
        if request.request_id not in self._accepted:
            self._accepted.add(request.request_id)
            self._cancel = request
        await workflow.wait_condition(lambda: request.request_id in self._results)
        return self._results[request.request_id]

    @cancel.validator
    def validate_cancel(self, request: CancelInput) -> None:
        if request.request_id in self._accepted:
            return
        if self._locked or self._cancel is not None:
            raise ApplicationError(
                LOCKED_MESSAGE, type=ApprovalErrorCode.FINISHED, non_retryable=True
            )

    @workflow.update
    async def resubmit(self, request: ResubmitInput) -> ApprovalState:
        if request.request_id not in self._accepted:
            self._accepted.add(request.request_id)
            self._resubmit = request
        await workflow.wait_condition(lambda: request.request_id in self._results)
        return self._results[request.request_id]

    @resubmit.validator
    def validate_resubmit(self, request: ResubmitInput) -> None:
        if request.request_id in self._accepted:
            return
        if self._status != ApplicationStatus.REVISION_REQUESTED or self._resubmit is not None:
            raise ApplicationError(
                "Permohonan ini tidak sedang menunggu perbaikan.",
                type=ApprovalErrorCode.NOT_AWAITING_RESUBMIT,
                non_retryable=True,
            )
