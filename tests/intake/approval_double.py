"""A stand-in for LetterApprovalWorkflow in intake's cancel tests, registered under the same
workflow name: it waits, accepts the Update "cancel" (validated, idempotent by request id) and
records the cancellation through the real record_progress activity, which calls intake's
RecordProgress over gRPC. The "lock" signal makes its validator refuse, as the real one refuses
once a letter is being issued."""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from common.event_names import APPLICATION_CANCELLED
from workflows.approval import WORKFLOW_NAME
from workflows.approval.models import (
    ACTIVITY_RECORD_PROGRESS,
    CANCELLED,
    ERR_FINISHED,
    IN_REVIEW,
    ApprovalInput,
    ApprovalState,
    CancelInput,
    ProgressRecord,
)

LOCKED_MESSAGE = "Surat sedang diterbitkan sehingga permohonan tidak dapat dibatalkan."


@workflow.defn(name=WORKFLOW_NAME)
class ApprovalDouble:
    @workflow.init
    def __init__(self, input: ApprovalInput) -> None:
        self._input = input
        self._status = IN_REVIEW
        self._locked = False
        self._cancel: CancelInput | None = None
        self._results: dict[str, ApprovalState] = {}

    @workflow.run
    async def run(self, input: ApprovalInput) -> ApprovalState:
        await workflow.wait_condition(lambda: self._cancel is not None)
        assert self._cancel is not None
        self._status = CANCELLED
        await workflow.execute_activity(
            ACTIVITY_RECORD_PROGRESS,
            ProgressRecord(
                application_id=input.application_id,
                desa_code=input.desa_code,
                letter_type=input.letter_type,
                sequence=1,
                event=APPLICATION_CANCELLED,
                status=CANCELLED,
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._results[self._cancel.request_id] = self._state()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

    def _state(self) -> ApprovalState:
        return ApprovalState(application_id=self._input.application_id, status=self._status)

    @workflow.signal
    def lock(self) -> None:
        self._locked = True

    @workflow.update
    async def cancel(self, request: CancelInput) -> ApprovalState:
        if self._cancel is None:
            self._cancel = request
        await workflow.wait_condition(lambda: request.request_id in self._results)
        return self._results[request.request_id]

    @cancel.validator
    def validate_cancel(self, request: CancelInput) -> None:
        if self._cancel is not None and request.request_id == self._cancel.request_id:
            return
        if self._locked:
            raise ApplicationError(LOCKED_MESSAGE, type=ERR_FINISHED, non_retryable=True)
        if self._cancel is not None:
            raise ApplicationError(
                "Permohonan ini sudah dibatalkan.", type=ERR_FINISHED, non_retryable=True
            )
