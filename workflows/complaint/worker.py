"""The complaint worker: the workflow and its activity on the complaint task queue. The approval
worker's process runs it beside the letters' worker (`python -m workflows.approval.worker`), so
no deployment is added; `python -m workflows.complaint.worker` runs it alone."""

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from common import event_loop
from common.auth import InternalAuth
from common.config import CommonSettings
from common.logging import configure_logging
from common.rpc import INTAKE, WORKER, client_channel
from common.secrets import ensure_dev_secrets
from common.tracing import temporal_interceptors
from workflows.complaint import task_queue
from workflows.complaint.activities import ComplaintActivities
from workflows.complaint.workflows import ComplaintWorkflow

log = logging.getLogger(__name__)


def build_worker(
    client: Client, settings: CommonSettings, activities: ComplaintActivities
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue(settings.temporal_task_queue),
        workflows=[ComplaintWorkflow],
        activities=[activities.escalate],
        graceful_shutdown_timeout=timedelta(seconds=20),
    )


async def main() -> None:
    settings = CommonSettings()
    configure_logging("worker", settings.log_level)
    ensure_dev_secrets(settings)
    auth = InternalAuth.from_settings(settings, WORKER)
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        interceptors=temporal_interceptors(),
    )
    channel = client_channel(settings.intake_grpc_target, auth, INTAKE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with build_worker(client, settings, ComplaintActivities(channel)):
        log.info("complaint worker polling %s", task_queue(settings.temporal_task_queue))
        await stop.wait()
    await channel.close()


if __name__ == "__main__":
    event_loop.run(main(), CommonSettings())
