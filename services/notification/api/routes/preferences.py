"""A person's own notification preferences: which outside channels, their addresses, and quiet
hours (WIB) during which nothing that is not urgent is sent. In-app is always on; a one-time
sign-in code is urgent and ignores quiet hours."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from common.auth import Principal
from services.notification.api.deps import SessionDep, get_principal, recipient_key
from services.notification.channels import ALL_CHANNELS
from services.notification.preferences import Preferences, load_preferences, save_preferences

router = APIRouter(prefix="/preferences", tags=["preferensi"])


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
    """Replaces the preferences as a whole (preferences.save_preferences: checked fully
    before anything is stored)."""
    quiet = (body.quiet_hours.start, body.quiet_hours.end) if body.quiet_hours else None
    saved = await save_preferences(
        session,
        recipient_key(principal),
        staff=principal.kind == "staff",
        channels=body.channels,
        email=body.email,
        phone=body.phone,
        quiet_hours=quiet,
        step_updates=body.step_updates,
    )
    return PreferencesOut.of(saved)
