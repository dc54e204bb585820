"""A resident's notification preferences, as the portal's settings page reads and changes them:
kept by notification (services/notification/preferences.py), reached over its gRPC
NotificationService with the resident's id (never the NIK). Notification's rules decide; a
refusal comes back with its Indonesian message. When notification does not answer, nothing
changes and the page says so (Unavailable)."""

import logging
from dataclasses import dataclass

import grpc
from smartdesa.v1 import notification_pb2 as pb
from smartdesa.v1 import notification_pb2_grpc

from common.domain.errors import Invalid, Unavailable

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0

# The outside channels notification offers (services/notification/channels.ALL_CHANNELS), as a
# resident reads them; in-app messages on the portal are always on.
CHANNEL_LABELS = {"whatsapp": "WhatsApp", "sms": "SMS", "email": "Email"}

UNAVAILABLE_MESSAGE = (
    "Pengaturan pemberitahuan tidak dapat dibuka atau disimpan saat ini. Tidak ada yang "
    "berubah; silakan coba lagi beberapa saat lagi."
)


@dataclass(frozen=True)
class NotificationSettings:
    channels: frozenset[str]
    email: str = ""
    step_updates: bool = True
    quiet_start: str = ""  # "HH:MM" WIB, or "" when there are no quiet hours
    quiet_end: str = ""

    @classmethod
    def of(cls, message: pb.NotificationPreferences) -> "NotificationSettings":
        return cls(
            channels=frozenset(message.channels),
            email=message.email,
            step_updates=message.step_updates,
            quiet_start=message.quiet_start,
            quiet_end=message.quiet_end,
        )


def _unavailable(exc: grpc.aio.AioRpcError) -> Unavailable:
    log.warning("notification preferences unavailable: %s", exc.code().name)
    return Unavailable("notification-unavailable", UNAVAILABLE_MESSAGE, retry_after=30)


async def read_settings(
    notifications: notification_pb2_grpc.NotificationServiceStub, resident_id: str
) -> NotificationSettings:
    try:
        reply = await notifications.GetPreferences(
            pb.GetPreferencesRequest(resident_id=resident_id), timeout=TIMEOUT_SECONDS
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc) from exc
    return NotificationSettings.of(reply)


async def change_settings(
    notifications: notification_pb2_grpc.NotificationServiceStub,
    resident_id: str,
    wanted: NotificationSettings,
) -> NotificationSettings:
    """Replaces them as a whole; notification checks everything before it stores anything."""
    try:
        reply = await notifications.SetPreferences(
            pb.SetPreferencesRequest(
                resident_id=resident_id,
                preferences=pb.NotificationPreferences(
                    channels=sorted(wanted.channels),
                    email=wanted.email,
                    step_updates=wanted.step_updates,
                    quiet_start=wanted.quiet_start,
                    quiet_end=wanted.quiet_end,
                ),
            ),
            timeout=TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            # Notification's own refusal: Indonesian, names no one; shown as it is.
            raise Invalid("invalid-preferences", exc.details() or "Isian tidak valid.") from exc
        raise _unavailable(exc) from exc
    log.info("notification preferences changed by resident %s", resident_id)
    return NotificationSettings.of(reply)
