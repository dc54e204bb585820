"""The staff inbox: what waits on the signed-in staff member (the same list as
`GET /api/v1/tasks`), overdue first, with each deadline in the desa's working time; filters by
letter type and state; and a server-sent-event stream that tells the page when its desa's tasks
changed for the staff member (their roles' tasks, Plt roles included), so it refreshes itself.
Kecamatan staff get their kecamatan's (`GET
/api/v1/kecamatan/tasks`: its desa's letters at their role, each with its desa, the stream
hearing every desa of the kecamatan), the kabupaten operator what was escalated to them."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from common.db import utcnow
from services.verification.api.deps import CurrentStaff, RuntimeDep, SessionDep, desa_staff
from services.verification.calendars import DesaCalendar, calendar_of
from services.verification.inbox_events import Holder
from services.verification.kecamatan import (
    calendar_key,
    is_kecamatan_staff,
    kecamatan_area,
    step_calendar,
)
from services.verification.models import TASK_KIND_SIGNING_BLOCKED, Staff
from services.verification.plt import periods_ahead
from services.verification.request_view import applicant_names
from services.verification.staff_tasks import (
    EscalatedTask,
    TaskSummary,
    escalated_tasks,
    is_kabupaten_operator,
    kecamatan_tasks,
    tasks_for,
)
from services.verification.web.deadlines import remaining_text, waited_text
from services.verification.web.number_search import (
    NUMBER_FORM_MAX,
    Search,
    SearchRefused,
    found_at,
)
from services.verification.web.pages import StaffPage, StaffPageDep, render

router = APIRouter(include_in_schema=False)

INBOX_PATH = "/kotak-masuk"
EVENTS_PATH = "/kotak-masuk/kejadian"
SEARCH_PATH = "/kotak-masuk/cari"
# A comment line this often keeps proxies and the browser from closing an idle stream.
HEARTBEAT_SECONDS = 15.0

STATES = {
    "menunggu": "Menunggu",
    "terlambat": "Terlambat",
    "dieskalasi": "Dieskalasi",
    "tertahan": "Tertahan tanda tangan",
}
# After a decision on the application page, the inbox confirms it.
DONE_MESSAGES = {
    "setujui": "Permohonan disetujui dan diteruskan ke tahap berikutnya.",
    # The last approval signed the letter (issue 15: the Kades is told it was signed).
    "ditandatangani": "Surat telah ditandatangani dan dikirim ke pemohon.",
    "menandatangani": "Permohonan disetujui. Surat sedang ditandatangani dan akan dikirim ke "
    "pemohon.",
    "menunggu-tte": (
        "Permohonan disetujui. Surat menunggu tanda tangan elektronik (BSrE) penandatangan."
    ),
    "tertahan": (
        "Permohonan disetujui, tetapi tanda tangan elektronik menolak surat ini. Lihat "
        "alasannya di halaman permohonan."
    ),
    "perbaikan": "Permohonan dikembalikan kepada pemohon untuk diperbaiki.",
    "tolak": "Permohonan ditolak. Pemohon akan diberi tahu beserta alasannya.",
    "terbit": "Permintaan penerbitan surat sudah dikirim.",
}


def state_of(task: TaskSummary) -> str:
    if task.kind == TASK_KIND_SIGNING_BLOCKED:
        return "tertahan"
    if task.escalation_level > 0:
        return "dieskalasi"
    if task.overdue:
        return "terlambat"
    return "menunggu"


def matches(task: TaskSummary, jenis: str, keadaan: str) -> bool:
    if jenis and task.letter_type != jenis:
        return False
    if not keadaan:
        return True
    if keadaan == "terlambat":
        return task.overdue
    if keadaan == "dieskalasi":
        return task.escalation_level > 0
    if keadaan == "tertahan":
        return task.kind == TASK_KIND_SIGNING_BLOCKED
    return keadaan == "menunggu" and state_of(task) == "menunggu"


@dataclass(frozen=True)
class InboxRow:
    task: TaskSummary
    type_name: str
    state: str
    waited: str
    remaining: str | None  # "sisa 3 jam kerja" / "terlambat 2 jam kerja"
    # The applicant's name (desa staff only: read from intake for the page, never stored).
    applicant: str = ""
    # Where it waits (the kabupaten operator's inbox): "Desa Pamanukan, Kec. Pamanukan".
    area: str = ""


def rows_of(
    tasks: list[TaskSummary],
    calendars: dict[str, DesaCalendar],
    now: datetime,
    names: dict[str, str] | None = None,
    type_names: Mapping[str, str] | None = None,
) -> list[InboxRow]:
    """`calendars`: each task's calendar by `calendar_key` (one desa's for desa staff);
    `type_names`: the catalogue's names of the letter types (the code where it has none)."""
    rows = []
    for t in tasks:
        area = ""
        calendar = next(iter(calendars.values()))
        if isinstance(t, EscalatedTask):
            area = f"Desa {t.desa_name}, Kec. {t.kecamatan_name}"
            calendar = calendars[calendar_key(t.desa_code, t.step.role)]
        rows.append(
            InboxRow(
                task=t,
                type_name=(type_names or {}).get(t.letter_type, t.letter_type),
                state=state_of(t),
                waited=waited_text(t.assigned_at, now),
                remaining=remaining_text(t.deadline, now, calendar) if t.deadline else None,
                applicant=(names or {}).get(t.application_id, ""),
                area=area,
            )
        )
    return rows


@router.get(INBOX_PATH)
async def inbox(
    request: Request,
    page: StaffPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
    jenis: Annotated[str, Query(max_length=16)] = "",
    keadaan: Annotated[str, Query(max_length=16)] = "",
    selesai: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    """What waits on the signed-in staff member; for the kabupaten operator, the steps
    escalated to them across the kabupaten (staff_tasks.escalated_tasks)."""
    return await _inbox_page(request, page, session, runtime, jenis, keadaan, selesai)


@router.post(SEARCH_PATH)
async def search_by_number(
    request: Request,
    page: StaffPageDep,
    session: SessionDep,
    runtime: RuntimeDep,
    nomor: Annotated[str, Form(max_length=NUMBER_FORM_MAX)] = "",
) -> Response:
    """ "Cari nomor permohonan": to the application's page (or, for a kabupaten account, where
    the kabupaten view shows it) when the asker may see it (staff_tasks.find_by_number);
    otherwise the inbox again, saying it was not found. A POST so the number stays out of
    URLs and logs, as every staff form."""
    try:
        return RedirectResponse(await found_at(session, page, nomor), status_code=303)
    except SearchRefused as exc:
        search = Search(nomor.strip(), exc.message)
        return await _inbox_page(
            request, page, session, runtime, search=search, status_code=exc.status
        )


async def _inbox_page(
    request: Request,
    page: StaffPage,
    session: SessionDep,
    runtime: RuntimeDep,
    jenis: str = "",
    keadaan: str = "",
    selesai: str = "",
    *,
    search: Search | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = utcnow()
    staff = page.staff
    kabupaten = is_kabupaten_operator(staff)
    kecamatan = is_kecamatan_staff(staff)
    if keadaan not in STATES:
        keadaan = ""
    calendars: dict[str, DesaCalendar]
    names: dict[str, str] = {}
    tasks: list[TaskSummary]
    if kabupaten or kecamatan:
        # Across desa: each row says where it waits, and its deadline in that desa's time.
        placed = await (kecamatan_tasks if kecamatan else escalated_tasks)(session, staff)
        tasks = list(placed)
        shown = [t for t in tasks if matches(t, jenis, keadaan)]
        # A kecamatan step (all of kecamatan staff's, some escalated to the kabupaten) counts
        # in its kecamatan's calendar, any other step in its desa's.
        calendars = {
            key: await step_calendar(session, desa_code, role, now)
            for key, (desa_code, role) in {
                calendar_key(t.desa_code, t.step.role): (t.desa_code, t.step.role) for t in placed
            }.items()
        }
    else:
        staff = desa_staff(staff)
        tasks = await tasks_for(session, staff, page.roles)
        shown = [t for t in tasks if matches(t, jenis, keadaan)]
        calendars = {staff.desa_code: await calendar_of(session, staff.desa_code, now)}
        # Whose request it is: the desa's own staff may see the applicant's name.
        names = await applicant_names(runtime, session, staff, (t.application_id for t in shown))
    # Names label rows only: without the catalogue the rows show codes (catalogue.names).
    type_names = await runtime.catalogue.names()
    done = DONE_MESSAGES.get(selesai)
    return render(
        request,
        "kotak_masuk.html",
        {
            "title": "Kotak masuk",
            "nav_active": "kotak-masuk",
            "rows": rows_of(shown, calendars, now, names, type_names),
            "kabupaten": kabupaten,
            "kecamatan": kecamatan_area(staff.kecamatan_code) if kecamatan else None,
            "total": len(tasks),
            "jenis": jenis,
            "keadaan": keadaan,
            "type_options": [("", "Semua jenis"), *sorted(type_names.items())],
            "state_options": [("", "Semua keadaan"), *STATES.items()],
            "flash": done,
            "flash_kind": "ok",
            "filtered": bool(jenis or keadaan),
            "search": search or Search(),
            "search_action": SEARCH_PATH,
        },
        page=page,
        status_code=status_code,
    )


def watched_desa(staff: Staff) -> tuple[str, ...]:
    """The desa whose task changes a staff member's inbox stream hears of: their own desa's,
    or every desa of their kecamatan's (kecamatan staff); 403 for anyone else."""
    if is_kecamatan_staff(staff):
        area = kecamatan_area(staff.kecamatan_code)
        return tuple(sorted(area.desa_codes)) if area is not None else ()
    return (desa_staff(staff).desa_code,)


async def holder_of(session: AsyncSession, staff: Staff) -> Holder:
    """Whose tasks a stream is told of: a desa staff member's role and their Plt periods in the
    desa; a kecamatan staff member's role (in every desa of their kecamatan)."""
    if is_kecamatan_staff(staff):
        return Holder(staff.role)
    return Holder(staff.role, await periods_ahead(session, staff.desa_code, staff.username))


@router.get(EVENTS_PATH)
async def inbox_events(
    request: Request, staff: CurrentStaff, session: SessionDep, runtime: RuntimeDep
) -> StreamingResponse:
    """`text/event-stream`: an `tugas` event whenever a task of the staff member's desa (of any
    desa of their kecamatan, for kecamatan staff) that concerns one of their roles changes (the
    page then fetches its list again), a comment as heartbeat. Its data names the roles the
    change concerns; it carries nothing about any application or person."""
    desa_codes = watched_desa(staff)
    holder = await holder_of(session, staff)
    # Nothing more is read for this stream: give the database connection back now.
    await session.close()
    fanout = runtime.inbox_fanout

    async def reread_plt() -> None:
        """The desa's Plt periods changed: which roles are the holder's may have too."""
        if is_kecamatan_staff(staff):
            return
        async with runtime.sessions() as fresh:
            holder.periods = await periods_ahead(fresh, staff.desa_code, staff.username)

    async def stream() -> AsyncIterator[str]:
        async with fanout.listen(*desa_codes, holder=holder) as queue:
            yield "retry: 3000\n: terhubung\n\n"
            while True:
                try:
                    notice = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": detak\n\n"
                    continue
                if notice is None:  # the service is stopping: the browser reconnects elsewhere
                    return
                if notice.plt:
                    await reread_plt()
                yield f"event: tugas\ndata: {notice.label()}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
