"""The approval worker: `python -m workflows.approval.worker`. Runs the workflow and its
activities on the task queue until SIGINT/SIGTERM, then drains in-flight activities."""

# First: in this process PyJWT is imported without cryptography (common/lean_imports.py).
import common.lean_imports  # noqa: F401

# isort: split
import asyncio
import logging
import signal
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from common import event_loop
from common.auth import InternalAuth
from common.config import CommonSettings
from common.logging import configure_logging
from common.rpc import INTAKE, SIGNING, VERIFICATION, WORKER, client_channel
from common.secrets import ensure_dev_secrets
from common.tracing import configure_tracing, temporal_interceptors
from workflows.approval.activities import ApprovalActivities
from workflows.approval.workflows import LetterApprovalWorkflow
from workflows.complaint import worker as complaint_worker
from workflows.complaint.activities import ComplaintActivities

log = logging.getLogger(__name__)


def build_worker(
    client: Client,
    settings: CommonSettings,
    activities: ApprovalActivities,
    *,
    sandboxed: bool = True,
) -> Worker:
    """`sandboxed=False` runs the workflow outside Temporal's sandbox (see WorkerSettings)."""
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[LetterApprovalWorkflow],
        activities=[
            activities.resolve_route,
            activities.record_progress,
            activities.issue_letter,
        ],
        graceful_shutdown_timeout=timedelta(seconds=20),
        workflow_runner=SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner(),
    )


class WorkerSettings(CommonSettings):
    # Created while the worker polls, removed when it stops: how `make run` knows it is up.
    worker_ready_file: Path | None = None
    # The Temporal SDK's own metrics (workflow and activity task latencies, schedule-to-start,
    # slots, pollers) for Prometheus at http://<host>:<port>/metrics; unset: not served.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = None
    # Temporal's sandbox re-runs the workflow module per letter and enters the sandbox for
    # every activation and payload: about a quarter of the worker's CPU (docs/performance.md,
    # "Cost per letter"). Off, the workflow runs as plain code; every test and replay still
    # runs it sandboxed, which is what catches a non-deterministic call.
    worker_workflow_sandbox: bool = True


def temporal_runtime(settings: WorkerSettings) -> Runtime | None:
    """A Temporal runtime whose metrics Prometheus scrapes (one per process)."""
    if settings.worker_metrics_port is None:
        return None
    bind = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=bind), global_tags={"service": "worker"}
        )
    )


async def main() -> None:
    settings = WorkerSettings()
    configure_logging("worker", settings.log_level)
    configure_tracing("worker", settings.otlp_endpoint)
    ensure_dev_secrets(settings)
    auth = InternalAuth.from_settings(settings, WORKER)
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        # The workflow and its activities continue the trace of whoever started it.
        interceptors=temporal_interceptors(),
        runtime=temporal_runtime(settings),
    )
    channels = [
        client_channel(settings.intake_grpc_target, auth, INTAKE),
        client_channel(settings.verification_grpc_target, auth, VERIFICATION),
        client_channel(settings.signing_grpc_target, auth, SIGNING),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(
        client, settings, ApprovalActivities(*channels), sandboxed=settings.worker_workflow_sandbox
    )
    # Complaints (pengaduan) run in the same process on their own queue: no second deployment.
    complaints = complaint_worker.build_worker(client, settings, ComplaintActivities(channels[0]))
    async with worker, complaints:
        log.info("worker polling task queue %s", settings.temporal_task_queue)
        if settings.worker_ready_file is not None:
            settings.worker_ready_file.parent.mkdir(parents=True, exist_ok=True)
            settings.worker_ready_file.touch()
        try:
            await stop.wait()
        finally:
            if settings.worker_ready_file is not None:
                settings.worker_ready_file.unlink(missing_ok=True)
        log.info("worker stopping; draining in-flight activities")
    for channel in channels:
        await channel.close()


if __name__ == "__main__":
    event_loop.run(main(), WorkerSettings())
