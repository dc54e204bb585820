"""Tokens in services that do not own the accounts behind them. A token's signature proves who
issued it, not that its session is still wanted, so each one is checked with the owner:
verification for staff (DirectoryService.GetStaffSession: common.auth.staff_session_current),
intake for residents (IntakeService.GetResidentSession: signed out or not). An answer is reused
for `ttl_seconds` (SMARTDESA_SESSION_CHECK_CACHE_SECONDS), so a busy page does not cost a gRPC
round trip per request, and a session ended at the owner is refused here at most that long
after; docs/security.md says why this and not an event. When the owner does not answer, the
token is neither accepted nor refused: `SessionCheckUnavailable`."""

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import grpc
from smartdesa.v1 import directory_pb2, directory_pb2_grpc, intake_pb2, intake_pb2_grpc

from common.auth import Principal, StaffSession, staff_session_current

T = TypeVar("T")
Clock = Callable[[], float]


class SessionCheckUnavailable(Exception):
    """The account's owner did not answer in time."""


class _Answers(Generic[T]):
    """The owner's latest answer per (subject, token id), each reused for `ttl_seconds`; the
    least recently asked are forgotten past `max_entries`."""

    def __init__(
        self,
        fetch: Callable[[str, str], Awaitable[T | None]],
        ttl_seconds: float,
        clock: Clock,
        max_entries: int = 4096,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[float, T | None]] = OrderedDict()

    async def get(self, subject: str, session_id: str) -> T | None:
        key = (subject, session_id)
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        answer = await self._fetch(subject, session_id)
        self._entries[key] = (now, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return answer


async def _ask(call: Awaitable[T]) -> T | None:
    """The owner's answer; None for NOT_FOUND (no such account)."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise SessionCheckUnavailable(str(exc.code())) from exc


class StaffSessions:
    def __init__(
        self,
        directory: directory_pb2_grpc.DirectoryServiceStub,
        ttl_seconds: float,
        timeout_seconds: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._directory = directory
        self._timeout = timeout_seconds
        self._answers = _Answers(self._fetch, ttl_seconds, clock)

    async def is_current(self, principal: Principal) -> bool:
        if principal.kind != "staff" or principal.session_id is None:
            return False
        state = await self._answers.get(principal.subject, principal.session_id)
        return state is not None and staff_session_current(principal, state)

    async def _fetch(self, username: str, session_id: str) -> StaffSession | None:
        answer = await _ask(
            self._directory.GetStaffSession(
                directory_pb2.GetStaffSessionRequest(username=username, session_id=session_id),
                timeout=self._timeout,
            )
        )
        if answer is None:
            return None
        return StaffSession(
            active=answer.active,
            role=answer.role,
            desa_code=answer.desa_code,
            session_version=answer.session_version,
            ended=answer.ended,
        )


class ResidentSessions:
    def __init__(
        self,
        intake: intake_pb2_grpc.IntakeServiceStub,
        ttl_seconds: float,
        timeout_seconds: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._intake = intake
        self._timeout = timeout_seconds
        self._answers = _Answers(self._fetch, ttl_seconds, clock)

    async def is_current(self, principal: Principal) -> bool:
        """The resident's token was not signed out, nor all the resident's sessions ended."""
        if principal.kind != "resident" or principal.session_id is None:
            return False
        # The token's session version travels in the cache key: it is fixed per token.
        subject = f"{principal.subject}:{principal.session_version or 0}"
        ended = await self._answers.get(subject, principal.session_id)
        return ended is False

    async def _fetch(self, subject: str, session_id: str) -> bool | None:
        resident_id, _, version = subject.rpartition(":")
        answer = await _ask(
            self._intake.GetResidentSession(
                intake_pb2.GetResidentSessionRequest(
                    resident_id=resident_id, session_id=session_id, session_version=int(version)
                ),
                timeout=self._timeout,
            )
        )
        return None if answer is None else answer.ended
