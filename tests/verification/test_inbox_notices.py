"""Which open inbox pages a task change tells, end to end: events published to the public
stream, the running service's projection, its NATS notice, and the pages' server-sent-event
streams read over real HTTP (uvicorn on a free port; httpx's ASGI transport would hold the
stream's body back until it ends). A page is told of its holder's tasks at the moment (their own
role, a Plt role, a task escalated to them, a task leaving their inbox), not of the others'."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from nats.js import JetStreamContext

from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_STEP_ASSIGNED,
)
from common.events import PUBLIC_STREAM, CloudEvent, public_subject
from common.messaging import publish
from tests.support.waiting import eventually
from tests.verification.conftest import Service
from tests.verification.events import PAMANUKAN, application_event

# Only a guard against a hang: every notice awaited here is expected to come.
NOTICE_WAIT = 60.0


class InboxPage:
    """One staff member's open inbox page: its event stream, read line by line."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self._client = httpx.AsyncClient(base_url=base, headers=headers, timeout=None)
        self._notices: asyncio.Queue[str] = asyncio.Queue()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "InboxPage":
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._connected.wait(), NOTICE_WAIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _read(self) -> None:
        async with self._client.stream("GET", "/kotak-masuk/kejadian") as stream:
            assert stream.status_code == 200
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith(": terhubung"):
                    self._connected.set()
                elif line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "tugas":
                    self._notices.put_nowait(line.removeprefix("data: "))
                    event = ""

    async def told(self) -> set[str]:
        """The roles named by the next notice this page is told of."""
        return set((await asyncio.wait_for(self._notices.get(), NOTICE_WAIT)).split())


@contextlib.asynccontextmanager
async def http_server(service: Service) -> AsyncIterator[str]:
    """The service's app (already started by the fixture) on a real socket."""
    config = uvicorn.Config(
        service.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, "the HTTP server to listen")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_a_page_is_told_of_its_holders_tasks_only(
    service: Service, js: JetStreamContext
) -> None:
    t = datetime.now(UTC) - timedelta(hours=1)

    async def send(name: str, app_id: str, **fields: object) -> None:
        nonlocal t
        t += timedelta(seconds=1)  # each event newer than the last
        event: CloudEvent = application_event(name, app_id, time=t, **fields)  # type: ignore[arg-type]
        await publish(js, public_subject(PAMANUKAN, event.name), event)

    async def applied() -> None:
        """Every event sent so far applied and acked: the projection applies applications side
        by side (lanes), so one's notice may come before an earlier one's."""

        async def idle() -> bool:
            info = await js.consumer_info(PUBLIC_STREAM, service.runtime.task_consumer.durable)
            return bool(info.num_pending == 0 and info.num_ack_pending == 0)

        await eventually(idle, what="every event applied")

    other, own, acting, later, last = (str(uuid.uuid4()) for _ in range(5))
    kesra_headers = await service.login("kesra.pamanukan")
    sekdes_headers = await service.login("sekdes.pamanukan")
    async with (
        http_server(service) as base,
        InboxPage(base, kesra_headers) as kesra,
        InboxPage(base, sekdes_headers) as sekdes,
    ):
        # Applied before the next: were the Kasi Pemerintahan's task told to the Kasi Kesra's
        # page, that would be its first notice.
        await send(APPLICATION_STEP_ASSIGNED, other, step_role="kasi_pemerintahan")
        await applied()
        await send(APPLICATION_STEP_ASSIGNED, own, step_role="kasi_kesra")
        assert await kesra.told() == {"kasi_kesra"}

        # The Sekdes hands the Kasi Pemerintahan's role to the Kasi Kesra: every page of the
        # desa is told (the Plt's inbox lists that role's tasks now), and from then on the
        # Kasi Kesra's page hears of that role's tasks.
        granted = await service.http.post(
            "/api/v1/plt",
            json={
                "username": "kesra.pamanukan",
                "role": "kasi_pemerintahan",
                "ends_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            },
            headers=sekdes_headers,
        )
        assert granted.status_code == 201, granted.text
        assert await kesra.told() == {"plt"}
        assert await sekdes.told() == {"plt"}
        await send(APPLICATION_STEP_ASSIGNED, acting, step_role="kasi_pemerintahan")
        assert await kesra.told() == {"kasi_pemerintahan"}

        # Its own task escalated to the supervisor: both pages are told, the Sekdes's for
        # the first time since the Plt (no Kasi's task was theirs).
        await send(
            APPLICATION_ESCALATED,
            own,
            step_role="kasi_kesra",
            escalated_to_role="sekdes",
            escalation_level=1,
        )
        assert await kesra.told() == {"kasi_kesra", "sekdes"}
        assert await sekdes.told() == {"kasi_kesra", "sekdes"}

        # Tasks leaving the inbox: decided, and cancelled (one of the Plt role's).
        await send(APPLICATION_DECIDED, own)
        assert await kesra.told() == {"kasi_kesra", "sekdes"}
        assert await sekdes.told() == {"kasi_kesra", "sekdes"}
        await send(APPLICATION_CANCELLED, acting, status="cancelled")
        assert await kesra.told() == {"kasi_pemerintahan"}

        # The Plt period ends: the role's tasks are no longer the Kasi Kesra's business.
        periods = await service.http.get("/api/v1/plt", headers=sekdes_headers)
        (plt_id,) = [p["id"] for p in periods.json() if p["username"] == "kesra.pamanukan"]
        ended = await service.http.post(f"/api/v1/plt/{plt_id}/end", headers=sekdes_headers)
        assert ended.status_code == 200, ended.text
        assert await kesra.told() == {"plt"}
        assert await sekdes.told() == {"plt"}
        await send(APPLICATION_STEP_ASSIGNED, later, step_role="kasi_pemerintahan")
        await applied()
        await send(APPLICATION_STEP_ASSIGNED, last, step_role="kasi_kesra")
        assert await kesra.told() == {"kasi_kesra"}
        # Nor was any of those Kasi's tasks the Sekdes's: its next notice is its own step's.
        await send(APPLICATION_STEP_ASSIGNED, str(uuid.uuid4()), step_role="sekdes")
        assert await sekdes.told() == {"sekdes"}
