"""The desa's routes per letter type and its working calendar: every staff member of the desa
reads them; the Sekdes and the Kades (and the operator, if they allow it) change routes; only
the Sekdes and the Kades change the calendar and revision rules. The use cases are
`route_admin`, which the pages under /pengaturan call too.

A change applies to letters submitted afterwards: a running letter keeps the route it started
with (the workflow resolves its route once, at the start).
"""

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from services.verification import route_admin
from services.verification.api.deps import (
    CatalogueDep,
    DesaManager,
    DesaStaff,
    RouteEditor,
    SessionDep,
)
from services.verification.route_admin import RouteIn, RouteOut, SettingsIO, SettingsOut

router = APIRouter(tags=["rute dan kalender"])

LetterType = Annotated[str, Path(min_length=1, max_length=20)]


class OfferedIn(BaseModel):
    offered: bool


@router.get("/routes")
async def list_routes(
    staff: DesaStaff, session: SessionDep, catalogue: CatalogueDep
) -> list[RouteOut]:
    return await route_admin.routes_of(session, catalogue, staff.desa_code)


@router.get("/routes/{letter_type}")
async def get_route(
    letter_type: LetterType, staff: DesaStaff, session: SessionDep, catalogue: CatalogueDep
) -> RouteOut:
    return await route_admin.route_of(session, catalogue, staff.desa_code, letter_type)


@router.put("/routes/{letter_type}")
async def put_route(
    letter_type: LetterType,
    body: RouteIn,
    staff: RouteEditor,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> RouteOut:
    return await route_admin.save_route(session, catalogue, staff, letter_type, body)


@router.delete("/routes/{letter_type}")
async def reset_route(
    letter_type: LetterType, staff: RouteEditor, session: SessionDep, catalogue: CatalogueDep
) -> RouteOut:
    """Back to the default route of the letter type."""
    return await route_admin.reset_route(session, catalogue, staff, letter_type)


@router.put("/routes/{letter_type}/offered")
async def put_offered(
    letter_type: LetterType,
    body: OfferedIn,
    staff: RouteEditor,
    session: SessionDep,
    catalogue: CatalogueDep,
) -> RouteOut:
    """Whether the desa offers this letter type: residents (and walk-in registration) can only
    start letters of offered types. Letters already started are not affected."""
    return await route_admin.offer(session, catalogue, staff, letter_type, body.offered)


@router.get("/settings")
async def get_settings(staff: DesaStaff, session: SessionDep) -> SettingsOut:
    return await route_admin.settings_of(session, staff.desa_code)


@router.put("/settings")
async def put_settings(body: SettingsIO, staff: DesaManager, session: SessionDep) -> SettingsOut:
    return await route_admin.save_settings(session, staff, body)
