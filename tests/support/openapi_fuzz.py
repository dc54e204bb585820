"""Schemathesis over a service's own OpenAPI document, in-process: zero 5xx is the assertion.

Schemathesis generates the requests (valid ones from the document's schemas, and invalid
ones: wrong types, missing fields, odd strings and numbers) with Hypothesis under a fixed seed
and a fixed number of examples per operation; the requests go to the app through the test's
own `httpx.AsyncClient` (ASGI transport) on the test's event loop, so the app runs as its
fixture started it (real database, real servers) and authenticated endpoints get a real
token. Hypothesis runs in a worker thread and hands each request to the loop. How to run it
and what it covers: docs/testing.md.
"""

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

# Fixed: the same requests on every run, so a failure is reproducible (see docs/testing.md).
SEED = 20261207
# Examples per operation and generation mode: small enough for CI (all four services well
# under two minutes together), large enough to send every parameter a few bad values.
EXAMPLES = 8
REQUEST_TIMEOUT_SECONDS = 30.0


# A resumable upload's chunk (services/intake/api/routes/uploads.py): raw bytes, as any
# octet stream.
@schemathesis.serializer("application/offset+octet-stream")
def _chunk(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


@dataclass(frozen=True)
class ServerError:
    method: str
    path: str
    status: int
    request: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}\n  {self.request}"


@dataclass
class FuzzRun:
    errors: list[ServerError]
    statuses: Counter[int]  # how many answers of each status

    @property
    def answered_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)


def _httpx_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Schemathesis prepares requests for `requests`; the same for httpx."""
    out: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params"),
        "cookies": kwargs.get("cookies"),
    }
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    if kwargs.get("files"):
        out["files"] = kwargs["files"]
    return out


async def server_errors(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    *,
    skip: Sequence[tuple[str, str]] = (),
    examples: int = EXAMPLES,
) -> FuzzRun:
    """Every 5xx the app answered to Schemathesis' requests, sent with `headers` (the
    credentials). `skip`: (method, path template) pairs not to send, each with its reason at
    the caller."""
    document = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    loop = asyncio.get_running_loop()
    found: list[ServerError] = []
    statuses: Counter[int] = Counter()
    checked: list[str] = []

    def send(case: Any) -> None:
        kwargs = _httpx_kwargs(case.as_transport_kwargs(base_url=str(client.base_url)))
        kwargs["headers"] = {**kwargs["headers"], **headers}
        kwargs.pop("cookies", None)  # the client's own; a generated one would be sent as is
        future = asyncio.run_coroutine_threadsafe(client.request(**kwargs), loop)
        try:
            response = future.result(timeout=REQUEST_TIMEOUT_SECONDS)
        except Exception as exc:  # the ASGI transport re-raises what a server would answer 500
            statuses[500] += 1
            found.append(ServerError(case.method, case.path, 500, f"{kwargs} raised {exc!r}"))
            return
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            found.append(
                ServerError(
                    case.method,
                    case.path,
                    response.status_code,
                    f"{kwargs['method']} {kwargs['url']} params={kwargs.get('params')} "
                    f"body={kwargs.get('json', kwargs.get('content', kwargs.get('data')))!r:.300}",
                )
            )

    def run_all() -> None:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the document itself is sound
            operation = result.ok()
            if (operation.method.upper(), operation.path) in skip:
                continue
            checked.append(f"{operation.method.upper()} {operation.path}")
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @hypothesis.seed(SEED)
                @hypothesis.settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def check(case: Any) -> None:
                    send(case)

                try:
                    check()
                except hypothesis.errors.Unsatisfiable:
                    # No invalid request exists (an operation without inputs): nothing to send.
                    assert mode is GenerationMode.NEGATIVE, checked[-1]

    await asyncio.to_thread(run_all)
    assert checked, "the document lists no operation"
    return FuzzRun(found, statuses)
