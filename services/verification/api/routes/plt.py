"""Plt periods of the desa: every staff member sees who acts for whom; the Sekdes and the Kades
hand a role (their own or one below theirs) to a colleague for a period, and may end it early.
The use cases are `plt_periods`, which the page /pengaturan/plt calls too."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from services.verification import plt_periods
from services.verification.api.deps import (
    DesaManager,
    DesaStaff,
    HeldRoles,
    RuntimeDep,
    SessionDep,
)
from services.verification.inbox_events import publish_inbox_changed
from services.verification.plt_periods import PltIn, PltOut

router = APIRouter(prefix="/plt", tags=["plt"])


@router.get("")
async def list_plt(
    staff: DesaStaff, session: SessionDep, include_past: bool = False
) -> list[PltOut]:
    """The desa's Plt periods: current and upcoming ones, or all of them with include_past."""
    return await plt_periods.periods(session, staff.desa_code, include_past=include_past)


@router.post("", status_code=status.HTTP_201_CREATED)
async def grant_plt(
    body: PltIn, staff: DesaManager, roles: HeldRoles, session: SessionDep, runtime: RuntimeDep
) -> PltOut:
    granted = await plt_periods.grant(session, staff, roles, body)
    # The new Plt's open inbox page (on any replica) now lists the role's tasks too.
    await publish_inbox_changed(runtime.nats, staff.desa_code, plt=True)
    return granted


@router.post("/{plt_id}/end")
async def end_plt(
    plt_id: Annotated[int, Path(ge=1)],
    staff: DesaManager,
    roles: HeldRoles,
    session: SessionDep,
    runtime: RuntimeDep,
) -> PltOut:
    """Ends a Plt period now (an upcoming one is thereby withdrawn). Ending twice is harmless."""
    ended = await plt_periods.end(session, staff, roles, plt_id)
    await publish_inbox_changed(runtime.nats, staff.desa_code, plt=True)
    return ended
