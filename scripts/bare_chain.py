"""The bare Temporal chain `make bench-journeys` sets beside a letter's journey: the same shape
as LetterApprovalWorkflow on a three-step route (workflows/approval/workflows.py), with trivial
bodies, so the difference in throughput is what the services and the worker add.

Shape (one letter of three steps, each decided at once):
- activity `resolve_route`;
- per step: search attributes and details upserted, activity `record` (step assigned), a
  deadline timer raced against the decision, the `decide` Update (answered once the next
  step is assigned, as the real one is), activity `record` (decided);
- activity `issue`, activity `record` (issued), the end.
That is 9 activities, 3 Updates and 3 timers per chain, like the letter's.

Run as a worker process by scripts/bench_journeys.py:

    python -m scripts.bare_chain --address 127.0.0.1:7233 --task-queue bench-bare
"""

import argparse
import asyncio
import signal
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.worker import Worker

STEPS = 3
WORKFLOW = "BenchBareChain"
_TIMEOUT = timedelta(seconds=30)
_DEADLINE = timedelta(hours=8)  # never reached: cancelled by the decision, like a step's
_STEP = SearchAttributeKey.for_keyword("Step")
_STATUS = SearchAttributeKey.for_keyword("Status")


@activity.defn(name="bare_resolve_route")
async def resolve_route(_application_id: str) -> int:
    return STEPS


@activity.defn(name="bare_record")
async def record(_event: str) -> None:
    return None


@activity.defn(name="bare_issue")
async def issue(_application_id: str) -> str:
    return "ok"


@workflow.defn(name=WORKFLOW)
class BareChain:
    def __init__(self) -> None:
        self._step = -1
        self._decided: set[int] = set()
        self._answered = -1  # the decisions up to this step are answered

    @workflow.run
    async def run(self, application_id: str) -> str:
        steps: int = await workflow.execute_activity(
            "bare_resolve_route", application_id, start_to_close_timeout=_TIMEOUT
        )
        for index in range(steps):
            self._step = index
            self._publish(f"step-{index}", "in_review")
            await workflow.execute_activity(
                "bare_record", "assigned", start_to_close_timeout=_TIMEOUT
            )
            self._answered = index - 1
            try:
                await workflow.wait_condition(lambda i=index: i in self._decided, timeout=_DEADLINE)  # type: ignore[misc]
            except TimeoutError:
                pass
            await workflow.execute_activity(
                "bare_record", "decided", start_to_close_timeout=_TIMEOUT
            )
        self._answered = steps - 1
        self._publish("", "issuing")
        result: str = await workflow.execute_activity(
            "bare_issue", application_id, start_to_close_timeout=_TIMEOUT
        )
        self._publish("", "issued")
        await workflow.execute_activity("bare_record", "issued", start_to_close_timeout=_TIMEOUT)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    def _publish(self, step: str, status: str) -> None:
        workflow.set_current_details(f"{status} {step}")
        workflow.upsert_search_attributes([_STEP.value_set(step), _STATUS.value_set(status)])

    @workflow.update
    async def decide(self, step: int) -> int:
        await workflow.wait_condition(lambda: self._step >= step)
        self._decided.add(step)
        await workflow.wait_condition(lambda: self._answered >= step)
        return step


async def serve(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BareChain],
        activities=[resolve_route, record, issue],
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print("bare chain worker polling", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue))


if __name__ == "__main__":
    main()
