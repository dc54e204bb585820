"""Our streams on a three-server JetStream cluster, as production runs them: ensure_streams makes
them with the configured number of replicas, and raises an existing single-replica stream to
three without losing what it holds."""

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator

import nats
import pytest
from nats.js.errors import APIError, ServiceUnavailableError
from pydantic import ValidationError

from common.config import CommonSettings
from common.events import PUBLIC_ROOT, PUBLIC_STREAM
from common.messaging import STREAMS, ensure_streams
from tests.support.processes import free_port, venv_binary, wait_for_port


@pytest.fixture(scope="module")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Three nats-server processes on loopback, routed to each other, JetStream on files."""
    client_ports = [free_port() for _ in range(3)]
    route_ports = [free_port() for _ in range(3)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in route_ports)
    procs = []
    try:
        for i in range(3):
            store = tmp_path_factory.mktemp(f"js{i}")
            procs.append(
                subprocess.Popen(
                    [
                        venv_binary("nats-server"),
                        "-a",
                        "127.0.0.1",
                        "-p",
                        str(client_ports[i]),
                        "-js",
                        "-sd",
                        str(store),
                        "--server_name",
                        f"n{i}",
                        "--cluster_name",
                        "smartdesa-test",
                        "--cluster",
                        f"nats://127.0.0.1:{route_ports[i]}",
                        "--routes",
                        routes,
                    ],  # fmt: skip
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ},
                )
            )
        for port, proc in zip(client_ports, procs, strict=True):
            wait_for_port(port, proc=proc)
        yield [f"nats://127.0.0.1:{p}" for p in client_ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_for_jetstream(js: nats.js.JetStreamContext) -> None:
    """The cluster elects its JetStream meta leader a little after the ports open."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await js.account_info()
            return
        except (ServiceUnavailableError, APIError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_streams_get_three_replicas_and_keep_their_messages(
    nats_cluster: list[str],
) -> None:
    nc = await nats.connect(servers=nats_cluster)
    try:
        js = nc.jetstream(timeout=10)
        await wait_for_jetstream(js)

        # As a single-server deployment (or an older release) left them.
        await ensure_streams(js, replicas=1)
        subject = f"{PUBLIC_ROOT}.test.replicas"
        await js.publish(subject, b"{}", headers={"Nats-Msg-Id": "replica-test-1"})
        assert (await js.stream_info(PUBLIC_STREAM)).config.num_replicas == 1

        await ensure_streams(js, replicas=3)
        await ensure_streams(js, replicas=3)  # every later start: nothing changes
        for config in STREAMS:
            assert config.name is not None
            info = await js.stream_info(config.name)
            assert info.config.num_replicas == 3
            assert info.config.subjects == config.subjects
        # The stream was scaled, not recreated: the message is still there.
        message = await js.get_last_msg(PUBLIC_STREAM, subject)
        assert message.data == b"{}"

        # Every server holds the stream once its replicas caught up.
        deadline = time.monotonic() + 60
        while True:
            cluster = (await js.stream_info(PUBLIC_STREAM)).cluster
            replicas = cluster.replicas or [] if cluster else []
            if (
                cluster
                and cluster.leader
                and len(replicas) == 2
                and all(r.current for r in replicas)
            ):
                break
            assert time.monotonic() < deadline, cluster
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


def test_the_setting_defaults_to_one_and_refuses_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARTDESA_NATS_STREAM_REPLICAS", raising=False)
    assert CommonSettings().nats_stream_replicas == 1  # the dev server is a single node
    monkeypatch.setenv("SMARTDESA_NATS_STREAM_REPLICAS", "3")
    assert CommonSettings().nats_stream_replicas == 3
    for wrong in ("0", "-1", "tiga"):
        monkeypatch.setenv("SMARTDESA_NATS_STREAM_REPLICAS", wrong)
        with pytest.raises(ValidationError):
            CommonSettings()
