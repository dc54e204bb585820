"""A person's own notification preferences: which outside channels, their addresses, and quiet
hours (WIB) during which nothing that is not urgent is sent. In-app is always on; a one-time
sign-in code is urgent and ignores quiet hours."""

import re
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from common.auth import Principal
from common.db import utcnow
from common.http import Problem
from common.phone import InvalidPhone, normalize_phone
from services.notification.api.deps import SessionDep, get_principal, recipient_key
from services.notification.channels import ALL_CHANNELS
from services.notification.models import Preference
from services.notification.preferences import Preferences, load_preferences, parse_hhmm

router = APIRouter(prefix="/preferences", tags=["preferensi"])

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class QuietHours(BaseModel):
    start: str = Field(examples=["21:00"])
    end: str = Field(examples=["06:00"])


class PreferencesOut(BaseModel):
    channels: list[str]
    email: str | None
    phone: str | None
    quiet_hours: QuietHours | None
    step_updates: bool

    @classmethod
    def of(cls, prefs: Preferences) -> "PreferencesOut":
        quiet = (
            QuietHours(start=f"{prefs.quiet_start:%H:%M}", end=f"{prefs.quiet_end:%H:%M}")
            if prefs.quiet_start is not None and prefs.quiet_end is not None
            else None
        )
        return cls(
            channels=[c for c in ALL_CHANNELS if c in prefs.channels],
            email=prefs.email,
            phone=prefs.phone,
            quiet_hours=quiet,
            step_updates=prefs.step_updates,
        )


class PreferencesIn(BaseModel):
    channels: list[str] = Field(max_length=len(ALL_CHANNELS))
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    quiet_hours: QuietHours | None = None
    # A resident's WhatsApp/SMS line at each step their application reaches (the in-app
    # message stays); submission, revision, rejection, escalation and the letter always go out.
    step_updates: bool = True


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


@router.get("")
async def read_preferences(principal: CurrentPrincipal, session: SessionDep) -> PreferencesOut:
    return PreferencesOut.of(await load_preferences(session, recipient_key(principal)))


@router.put("")
async def update_preferences(
    body: PreferencesIn, principal: CurrentPrincipal, session: SessionDep
) -> PreferencesOut:
    """Replaces the preferences as a whole. Checked fully before anything is stored."""
    unknown = sorted(set(body.channels) - set(ALL_CHANNELS))
    if unknown:
        raise Problem(
            422,
            f"Saluran tidak dikenal: {', '.join(unknown)}. Pilihan: whatsapp, sms, email.",
            code="unknown-channel",
        )
    email = body.email.strip() if body.email else None
    if email and not _EMAIL.match(email):
        raise Problem(422, "Alamat email tidak valid.", code="invalid-email")
    phone: str | None = None
    if body.phone:
        if principal.kind != "staff":
            # A resident's number is the one they sign in with (intake owns it).
            raise Problem(
                422,
                "Nomor HP warga mengikuti nomor yang dipakai untuk masuk; tidak diubah di sini.",
                code="phone-not-editable",
            )
        try:
            phone = normalize_phone(body.phone)
        except InvalidPhone as exc:
            raise Problem(422, str(exc), code="invalid-phone") from exc
    quiet_start = quiet_end = None
    if body.quiet_hours is not None:
        try:
            start = parse_hhmm(body.quiet_hours.start)
            end = parse_hhmm(body.quiet_hours.end)
        except ValueError as exc:
            raise Problem(
                422, "Jam tenang harus berformat JJ:MM, misalnya 21:00.", code="invalid-quiet-hours"
            ) from exc
        if start == end:
            raise Problem(
                422,
                "Jam mulai dan selesai jam tenang tidak boleh sama.",
                code="invalid-quiet-hours",
            )
        quiet_start, quiet_end = f"{start:%H:%M}", f"{end:%H:%M}"
    key = recipient_key(principal)
    row = await session.get(Preference, key) or Preference(recipient=key, channels="")
    row.channels = ",".join(c for c in ALL_CHANNELS if c in body.channels)
    row.email = email
    row.phone = phone
    row.quiet_start, row.quiet_end = quiet_start, quiet_end
    row.step_updates = body.step_updates
    row.updated_at = utcnow()
    session.add(row)
    await session.commit()
    return PreferencesOut.of(Preferences.of(row))
