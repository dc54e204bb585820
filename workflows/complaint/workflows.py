"""One complaint: wait for the answer until the deadline; past it, escalate to the kabupaten
(once) and keep waiting. The deadline is part of the input (intake counted it in working time
when the complaint was filed), so the workflow only holds a durable timer: it survives worker
restarts and deploys as a letter's approval does."""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.complaint import ACTIVITY_ESCALATE, QUERY_STATE, SIGNAL_ANSWERED, WORKFLOW_NAME
from workflows.complaint.models import ComplaintInput, ComplaintState

# Intake may be down for a while: keep trying, slowly, until it records the escalation.
_ESCALATE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["NOT_FOUND"],
)


@workflow.defn(name=WORKFLOW_NAME)
class ComplaintWorkflow:
    def __init__(self) -> None:
        self._answered = False
        self._escalated = False

    @workflow.signal(name=SIGNAL_ANSWERED)
    def answered(self) -> None:
        """Intake recorded the answer (its database is the record; this ends the wait)."""
        self._answered = True

    @workflow.query(name=QUERY_STATE)
    def state(self) -> ComplaintState:
        return ComplaintState(answered=self._answered, escalated=self._escalated)

    @workflow.run
    async def run(self, input: ComplaintInput) -> ComplaintState:
        deadline = datetime.fromisoformat(input.deadline)
        remaining = max(deadline - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(lambda: self._answered, timeout=remaining)
        except TimeoutError:
            # Intake escalates only an unanswered complaint: an answer that raced the timer
            # wins there, whatever this workflow saw.
            self._escalated = await workflow.execute_activity(
                ACTIVITY_ESCALATE,
                input.complaint_id,
                result_type=bool,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_ESCALATE_RETRY,
            )
            await workflow.wait_condition(lambda: self._answered)
        return self.state()
