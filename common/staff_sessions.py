"""Staff tokens in services other than verification (which owns the accounts): each token is
checked against verification's answer (DirectoryService.GetStaffSession), kept for a short
time so a busy page does not cost a gRPC round trip per request. A session ended in
verification (sign-out, password, role, deactivation) is therefore refused here at most
`ttl_seconds` later; docs/security.md says why this and not an event."""

import time
from collections import OrderedDict
from collections.abc import Callable

import grpc
from smartdesa.v1 import directory_pb2, directory_pb2_grpc

from common.auth import Principal, StaffSession, staff_session_current


class StaffSessionUnavailable(Exception):
    """Verification did not answer: the token can be neither accepted nor refused."""


class StaffSessionCache:
    def __init__(
        self,
        directory: directory_pb2_grpc.DirectoryServiceStub,
        ttl_seconds: float,
        timeout_seconds: float,
        *,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._ttl = ttl_seconds
        self._timeout = timeout_seconds
        self._max = max_entries
        self._clock = clock
        # (username, session id) -> (when fetched, the account's answer; None: no account)
        self._entries: OrderedDict[tuple[str, str], tuple[float, StaffSession | None]] = (
            OrderedDict()
        )

    async def is_current(self, principal: Principal) -> bool:
        """Whether the staff token's session is current (common.auth.staff_session_current)."""
        if principal.session_id is None:
            return False
        key = (principal.subject, principal.session_id)
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            state = cached[1]
        else:
            state = await self._fetch(*key)
            self._entries[key] = (now, state)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return state is not None and staff_session_current(principal, state)

    async def _fetch(self, username: str, session_id: str) -> StaffSession | None:
        try:
            answer = await self._directory.GetStaffSession(
                directory_pb2.GetStaffSessionRequest(username=username, session_id=session_id),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise StaffSessionUnavailable(str(exc.code())) from exc
        return StaffSession(
            active=answer.active,
            role=answer.role,
            desa_code=answer.desa_code,
            session_version=answer.session_version,
            ended=answer.ended,
        )
