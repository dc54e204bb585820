"""Who to tell and how to reach them, asked of the services that own it: intake (a resident's
phone) and verification (who holds a role in a desa, Plt included); and how each person wants
to hear from us (this service's own preferences). Events never carry phone numbers."""

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from smartdesa.v1 import directory_pb2, directory_pb2_grpc, intake_pb2, intake_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.messaging import PermanentEventError
from services.notification.models import Delivery
from services.notification.preferences import Preferences, load_preferences

if TYPE_CHECKING:
    from services.notification.rules import LetterLinks

CALL_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")

# A resident's recipient key (rules.resident_recipient).
RESIDENT_PREFIX = "resident:"

# The peer says this can never succeed: terminate the event instead of redelivering it.
_PERMANENT_CODES = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)


@dataclass(frozen=True)
class ResidentContact:
    resident_id: str
    phone: str  # personal data: never log it
    # Asked by application: its number, status and the reason staff gave for that status
    # (quoted in the resident's message; events never carry it).
    application_number: str = ""
    status: str = ""
    status_reason: str = ""


@dataclass(frozen=True)
class RoleHolder:
    username: str
    acting: bool  # Plt: holds the role for a period on someone's behalf


class RecipientLookup:
    def __init__(
        self,
        intake: grpc.aio.Channel,
        verification: grpc.aio.Channel,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        letter_links: "LetterLinks | None" = None,
    ) -> None:
        self._intake = intake_pb2_grpc.IntakeServiceStub(intake)
        self._directory = directory_pb2_grpc.DirectoryServiceStub(verification)
        self._sessions = sessions
        # How messages point at a letter (signed, short-lived); None where no letter is linked.
        self.letter_links = letter_links
        # Answers already given while one event is handled (for_event); None: ask every time.
        self._memo: dict[tuple[str, ...], Any] | None = None

    def for_event(self) -> "RecipientLookup":
        """A lookup for one event's handling, which asks once for each applicant's contact,
        role's holders and person's preferences (letter.issued asked intake twice, for its
        message and the survey's). What it learns goes with it when the event is handled:
        no contact or role holder is kept from one event to the next (a Plt may start at any
        time, and a phone may change)."""
        scoped = copy.copy(self)
        scoped._memo = {}
        return scoped

    async def _once(self, key: tuple[str, ...], ask: Callable[[], Awaitable[T]]) -> T:
        if self._memo is None:
            return await ask()
        if key not in self._memo:
            self._memo[key] = await ask()  # an error is not kept: the event fails as a whole
        answer: T = self._memo[key]
        return answer

    async def preferences(self, recipient: str) -> Preferences:
        """The person's stored preferences, or the defaults (every channel, no quiet hours)."""
        if self._sessions is None:
            return Preferences.default()
        return await self._once(("preferences", recipient), lambda: self._preferences(recipient))

    async def _preferences(self, recipient: str) -> Preferences:
        assert self._sessions is not None
        async with self._sessions() as session:
            return await load_preferences(session, recipient)

    async def contact_of_resident(self, resident_id: str) -> ResidentContact:
        return await self._contact(intake_pb2.GetContactRequest(resident_id=resident_id))

    async def contact_of_applicant(self, application_id: str) -> ResidentContact:
        return await self._once(
            ("applicant", application_id),
            lambda: self._contact(intake_pb2.GetContactRequest(application_id=application_id)),
        )

    async def known_applicant(self, application_id: str) -> ResidentContact | None:
        """The applicant as this service already knows them: the resident an earlier outside
        message about the application was addressed to (every resident message with an
        application is to its applicant). No phone, number or status: for a message in the app, which needs
        none of them, without asking intake. None when nothing went out yet."""
        if self._sessions is None:
            return None
        recipient = await self._once(
            ("known applicant", application_id), lambda: self._known_applicant(application_id)
        )
        if recipient is None:
            return None
        return ResidentContact(resident_id=recipient.removeprefix(RESIDENT_PREFIX), phone="")

    async def _known_applicant(self, application_id: str) -> str | None:
        assert self._sessions is not None
        async with self._sessions() as session:
            found = await session.exec(
                select(Delivery.recipient)
                .where(col(Delivery.application_id) == application_id)
                .where(col(Delivery.recipient).startswith(RESIDENT_PREFIX))
                .limit(1)
            )
            return found.first()

    async def contact_of_sign_in(self, sign_in_id: str) -> ResidentContact | None:
        """Where a pending sign-in code goes (`resident_id` empty for a NIK with no resident
        yet); None when intake says nobody may receive it, which is an answer, not a fault."""
        try:
            contact = await self._intake.GetContact(
                intake_pb2.GetContactRequest(sign_in_id=sign_in_id), timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _classify(exc, "intake GetContact") from exc
        return ResidentContact(resident_id=contact.resident_id, phone=contact.phone)

    async def contact_of_complainant(self, complaint_id: str) -> ResidentContact | None:
        """The resident who filed the complaint signed in; None for one filed through the
        public form (intake keeps no contact for it), which is an answer, not a fault."""
        try:
            contact = await self._intake.GetContact(
                intake_pb2.GetContactRequest(complaint_id=complaint_id),
                timeout=CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _classify(exc, "intake GetContact") from exc
        if not contact.resident_id:
            return None
        return ResidentContact(resident_id=contact.resident_id, phone=contact.phone)

    async def phone_of_sign_in_notice(self, notice_id: str) -> str | None:
        """The old number a phone_changed notice goes to; None when intake has none for it."""
        try:
            contact = await self._intake.GetContact(
                intake_pb2.GetContactRequest(sign_in_notice_id=notice_id),
                timeout=CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise _classify(exc, "intake GetContact") from exc
        return contact.phone or None

    async def role_holders(self, desa_code: str, role: str) -> list[RoleHolder]:
        """Who holds `role` in the desa now, a Plt included (marked `acting`). For
        "kabupaten_operator" the directory answers the kabupaten's operators for that desa."""
        holders = await self._once(
            ("holders", desa_code, role), lambda: self._role_holders(desa_code, role)
        )
        return list(holders)  # the caller's own list

    async def _role_holders(self, desa_code: str, role: str) -> list[RoleHolder]:
        try:
            response = await self._directory.ListRoleHolders(
                directory_pb2.ListRoleHoldersRequest(desa_code=desa_code, role=role),
                timeout=CALL_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise _classify(exc, "verification ListRoleHolders") from exc
        found: dict[str, RoleHolder] = {}
        for h in response.holders:
            if h.username:
                # Listed twice (definitive and Plt)? Told once, as the definitive holder.
                acting = h.acting and found.get(h.username, RoleHolder("", True)).acting
                found[h.username] = RoleHolder(h.username, acting)
        return [found[name] for name in sorted(found)]

    async def _contact(self, request: intake_pb2.GetContactRequest) -> ResidentContact:
        try:
            contact = await self._intake.GetContact(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise _classify(exc, "intake GetContact") from exc
        if not contact.resident_id:
            raise PermanentEventError("intake GetContact answered without a resident")
        return ResidentContact(
            resident_id=contact.resident_id,
            phone=contact.phone,
            application_number=contact.application_number,
            status=contact.status,
            status_reason=contact.status_reason,
        )


def _classify(exc: grpc.aio.AioRpcError, call: str) -> Exception:
    """NOT_FOUND and the like end the event; anything else (UNAVAILABLE, DEADLINE_EXCEEDED…) is
    raised as is so the consumer redelivers it with backoff."""
    if exc.code() in _PERMANENT_CODES:
        return PermanentEventError(f"{call}: {exc.code().name}")
    transient: Exception = exc
    return transient
