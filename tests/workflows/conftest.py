"""Activity doubles for testing the workflow's own logic. They record what the workflow asked
for; the real activities (gRPC to the services) are exercised by the end-to-end tests."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from workflows.approval import workflow_id
from workflows.approval.models import (
    ACTIVITY_ISSUE_LETTER,
    ACTIVITY_RECORD_PROGRESS,
    ACTIVITY_RESOLVE_ROUTE,
    ApprovalInput,
    ApprovalState,
    IssueLetterInput,
    LetterInfo,
    ProgressRecord,
    Route,
    RouteStep,
)
from workflows.approval.workflows import LetterApprovalWorkflow

PAMANUKAN = "32.13.11.2004"
SKD_ROUTE = ["kasi_pemerintahan", "sekdes", "kades"]


class RecordingActivities:
    def __init__(
        self,
        route: list[str] | Route,
        fail_record_times: int = 0,
        refuse_issue_times: int = 0,
        clock: Callable[[], Awaitable[datetime]] | None = None,
    ) -> None:
        self.route = (
            route
            if isinstance(route, Route)
            else Route(steps=[RouteStep(role=r) for r in route], signer_role=route[-1])
        )
        self.records: list[ProgressRecord] = []
        # Workflow time at which each sequence was recorded: when the workflow acted. Records
        # are local activities, whose scheduled time is the worker's clock: on the time-skipping
        # server, pass its clock (`env.get_current_time`; it stands still while the workflow
        # task that runs the record is open).
        self.scheduled: dict[int, datetime] = {}
        self._clock = clock
        self.issued: list[IssueLetterInput] = []
        self.record_attempts = 0
        self._fail_record_times = fail_record_times
        # Signing refuses the letter this many times (as the real activity reports a
        # FAILED_PRECONDITION), then issues it; each attempt's workflow time is kept.
        self.refuse_issue_times = refuse_issue_times
        self.issue_attempts: list[datetime] = []

    @activity.defn(name=ACTIVITY_RESOLVE_ROUTE)
    async def resolve_route(self, input: ApprovalInput) -> Route:
        return self.route

    @activity.defn(name=ACTIVITY_RECORD_PROGRESS)
    async def record_progress(self, record: ProgressRecord) -> None:
        self.record_attempts += 1
        if self.record_attempts <= self._fail_record_times:
            raise RuntimeError("intake unavailable")
        # Intake is idempotent per sequence; so is this double.
        if all(r.sequence != record.sequence for r in self.records):
            self.records.append(record)
            self.scheduled[record.sequence] = (
                await self._clock() if self._clock else activity.info().scheduled_time
            )

    @activity.defn(name=ACTIVITY_ISSUE_LETTER)
    async def issue_letter(self, input: IssueLetterInput) -> LetterInfo:
        self.issue_attempts.append(activity.info().scheduled_time)
        if len(self.issue_attempts) <= self.refuse_issue_times:
            raise ApplicationError(
                "issue letter: FAILED_PRECONDITION Penandatangan belum memiliki sertifikat.",
                "Penandatangan belum memiliki sertifikat.",
                type="FAILED_PRECONDITION",
                non_retryable=True,
            )
        self.issued.append(input)
        return LetterInfo(
            letter_id="letter-1",
            number="470/001/32.13.11.2004/XI/2026",
            verification_url="http://127.0.0.1:8002/verifikasi/code",
        )

    def all(self) -> list[Callable[..., object]]:
        return [self.resolve_route, self.record_progress, self.issue_letter]

    def events(self) -> list[str]:
        return [r.event for r in self.records]

    def of(self, event: str) -> list[ProgressRecord]:
        return [r for r in self.records if r.event == event]


@asynccontextmanager
async def running_letter(
    client: Client, activities: RecordingActivities, desa_code: str = PAMANUKAN
) -> AsyncIterator[WorkflowHandle[LetterApprovalWorkflow, ApprovalState]]:
    task_queue = f"test-{uuid.uuid4()}"
    application_id = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[LetterApprovalWorkflow],
        activities=activities.all(),
    ):
        handle = await client.start_workflow(
            LetterApprovalWorkflow.run,
            ApprovalInput(application_id=application_id, desa_code=desa_code, letter_type="SKD"),
            id=workflow_id(application_id),
            task_queue=task_queue,
        )
        yield handle


@pytest.fixture
def activities() -> RecordingActivities:
    return RecordingActivities(SKD_ROUTE)


async def wait_for_step(
    handle: WorkflowHandle[LetterApprovalWorkflow, ApprovalState], index: int, within: float = 30
) -> ApprovalState:
    """Staff act only once a step is assigned (their task appears then); wait for that."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        state = await handle.query(LetterApprovalWorkflow.state)
        if state.step_index == index:
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"step {index} not assigned; state {state}")
        await asyncio.sleep(0.05)
