"""gRPC NotificationService: a resident's notification preferences, read and changed for them
by the resident portal (intake). Callers are authenticated by common.rpc's internal-token
interceptor; the rules are preferences.save_preferences, as behind PUT /api/v1/preferences."""

from collections.abc import Callable

import grpc
from smartdesa.v1 import notification_pb2 as pb
from smartdesa.v1 import notification_pb2_grpc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from common.domain.errors import DomainError
from common.rpc import domain_code
from services.notification.channels import ALL_CHANNELS
from services.notification.preferences import (
    Preferences,
    load_preferences,
    resident_recipient,
    save_preferences,
)


def _message(prefs: Preferences) -> pb.NotificationPreferences:
    return pb.NotificationPreferences(
        channels=[c for c in ALL_CHANNELS if c in prefs.channels],
        email=prefs.email or "",
        quiet_start=f"{prefs.quiet_start:%H:%M}" if prefs.quiet_start else "",
        quiet_end=f"{prefs.quiet_end:%H:%M}" if prefs.quiet_end else "",
        step_updates=prefs.step_updates,
    )


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def GetPreferences(
        self, request: pb.GetPreferencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.NotificationPreferences:
        if not request.resident_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "resident_id is required")
        async with self._sessions() as session:
            prefs = await load_preferences(session, resident_recipient(request.resident_id))
        return _message(prefs)

    async def SetPreferences(
        self, request: pb.SetPreferencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.NotificationPreferences:
        if not request.resident_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "resident_id is required")
        wanted = request.preferences
        quiet = (
            (wanted.quiet_start, wanted.quiet_end)
            if wanted.quiet_start or wanted.quiet_end
            else None
        )
        try:
            async with self._sessions() as session:
                saved = await save_preferences(
                    session,
                    resident_recipient(request.resident_id),
                    staff=False,  # only residents are served here; their phone stays intake's
                    channels=list(wanted.channels),
                    email=wanted.email or None,
                    phone=None,
                    quiet_hours=quiet,
                    step_updates=wanted.step_updates,
                )
        except DomainError as exc:
            # The message is Indonesian and names no one: the portal shows it as it is.
            await context.abort(domain_code(exc), exc.message)
            raise
        return _message(saved)


def register(servicer: NotificationServicer) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        notification_pb2_grpc.add_NotificationServiceServicer_to_server(servicer, server)

    return add
