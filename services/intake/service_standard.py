"""Standar pelayanan (issue 19 item 1; UU 25/2009 art. 21, Permenpan-RB 15/2014): what a letter
type needs, how it goes, how long it takes, what it costs, what the resident gets and how to
complain, per desa and letter type.

Nothing here is written by hand: each standard is composed, on every request, from what the
service itself runs on, so it cannot disagree with it:
- the catalogue (signing's CatalogueService): the syarat, the form's fields, the letter's title
  and kode klasifikasi;
- the route (verification's DirectoryService.GetRoute for this desa and type): the steps, in
  order, with each step's deadline in working hours (their sum is the standard's time) and the
  desa's working hours;
- the desa profile (signing's GetDesaProfile): names and the maklumat pelayanan.
Three gRPC calls per page, none per item. The public page and the A4 poster
(SigningService.RenderServiceStandard) print the same `ServiceStandard`.
"""

from __future__ import annotations  # the async stub types exist only in the .pyi

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
from smartdesa.v1 import catalogue_pb2, directory_pb2, signing_pb2

from common.domain import Role, is_kecamatan_role, role_label
from common.domain.errors import DomainError, NotFound, Unavailable
from common.wib import DAY_NAMES
from services.intake.config import complaint_deadline_hours
from services.intake.runtime import Runtime

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_SECONDS = 5.0
COST = "Rp0 (tidak dipungut biaya)."
STANDARD_PATH = "/standar-pelayanan"

SYARAT_KIND_NOTE = {
    "wajib": "",
    "opsional": " (bila ada)",
    "bawa_asli": " (bawa berkas aslinya ke kantor desa)",
}


@dataclass(frozen=True)
class Requirement:
    name: str
    description: str
    note: str  # "", " (bila ada)", ...

    @property
    def line(self) -> str:
        return f"{self.name}{self.note}"


@dataclass(frozen=True)
class ServiceStandard:
    desa_code: str
    desa_name: str
    kecamatan: str
    kabupaten: str
    letter_type: str
    letter_type_name: str
    description: str
    online: bool
    requirements: tuple[Requirement, ...]
    form_fields: tuple[str, ...]  # what the resident fills in (labels)
    register_fields: tuple[str, ...]  # what the register fills in (labels)
    procedure: tuple[str, ...]
    working_hours: int  # the route's step deadlines added up
    working_days_text: str  # when the office counts, e.g. "Senin–Kamis 08.00–16.00, ..."
    time: str
    cost: str
    product: str
    complaints: str
    maklumat: str

    @property
    def requirement_lines(self) -> tuple[str, ...]:
        lines = tuple(r.line for r in self.requirements)
        if self.form_fields:
            lines += (f"Mengisi formulir permohonan: {', '.join(self.form_fields)}.",)
        return lines


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}.{minute % 60:02d}"


def working_days_text(calendar: directory_pb2.WorkingCalendar) -> str:
    """The office's working hours in words, consecutive days with the same hours joined."""
    days = [(d.weekday, d.start_minute, d.end_minute) for d in calendar.days]
    if not days:
        days = [(w, calendar.start_hour * 60, calendar.end_hour * 60) for w in calendar.workdays]
    days.sort()
    groups: list[list[tuple[int, int, int]]] = []
    for day in days:
        last = groups[-1][-1] if groups else None
        if last is not None and last[0] + 1 == day[0] and last[1:] == day[1:]:
            groups[-1].append(day)
        else:
            groups.append([day])
    parts = []
    for g in groups:
        first, end = DAY_NAMES[g[0][0]], DAY_NAMES[g[-1][0]]
        named = first if len(g) == 1 else f"{first}–{end}"
        parts.append(f"{named} {_clock(g[0][1])}–{_clock(g[0][2])} WIB")
    return ", ".join(parts)


def _procedure(
    definition: catalogue_pb2.LetterTypeDefinition, route: directory_pb2.Route
) -> tuple[str, ...]:
    where = (
        "melalui portal warga (atau di kantor desa, dibantu petugas)"
        if definition.online
        else "di kantor desa"
    )
    steps = [
        f"Pemohon mengajukan permohonan {where}: mengisi formulir dan menyertakan persyaratan."
    ]
    # The desa's last step signs; kecamatan steps follow it (the camat's "mengetahui"), for
    # every purpose or, when the kabupaten names purposes, only for those.
    last = max((i for i, s in enumerate(route.steps) if not is_kecamatan_role(s.role)), default=-1)
    only_for = kecamatan_purposes_text(route)
    for i, step in enumerate(route.steps):
        who = role_label(step.role)
        if is_kecamatan_role(step.role):
            action = (
                'menandatangani "mengetahui" secara elektronik dan memberi nomor register kecamatan'
                if step.role == Role.CAMAT
                else "memeriksa permohonan di kecamatan"
            )
            steps.append(
                f"{who} {action} (paling lama {step.deadline_working_hours} jam kerja)."
                + (f" Langkah kecamatan ini {only_for}." if only_for else "")
            )
            continue
        if i == last:
            action = (
                "menyetujui permohonan; surat diberi nomor dan ditandatangani secara elektronik"
            )
            if route.signer_role and route.signer_role != step.role:
                action += f" oleh {role_label(route.signer_role)}"
        else:
            action = "memeriksa permohonan dan persyaratannya"
        skippable = " Langkah ini dapat dilewati bila desa menetapkannya." if step.skippable else ""
        steps.append(
            f"{who} {action} (paling lama {step.deadline_working_hours} jam kerja).{skippable}"
        )
    steps.append(
        "Bila persyaratan kurang atau keliru, permohonan dikembalikan kepada pemohon untuk "
        "diperbaiki, dengan alasannya; waktu perbaikan oleh pemohon tidak dihitung."
    )
    steps.append(
        "Pemohon diberi tahu lewat pesan, lalu mengunduh dan mencetak sendiri surat yang "
        "bertanda tangan elektronik."
    )
    return tuple(steps)


def kecamatan_purposes_text(route: directory_pb2.Route) -> str:
    """ "hanya untuk keperluan: beasiswa, biaya berobat" when the route's kecamatan steps apply
    to some purposes only (the kabupaten's rule, common/domain/purposes.py); "" otherwise."""
    if not route.kecamatan_purposes or not any(is_kecamatan_role(s.role) for s in route.steps):
        return ""
    return "hanya untuk keperluan: " + ", ".join(route.kecamatan_purposes)


def _product(definition: catalogue_pb2.LetterTypeDefinition) -> str:
    kode = definition.kode_klasifikasi
    numbered = (
        f" dengan nomor surat berkode klasifikasi {kode}"
        if kode and kode != "belum ditetapkan"
        else " bernomor"
    )
    validity = (
        f" Berlaku {definition.validity_days} hari sejak diterbitkan."
        if definition.validity_days > 0
        else ""
    )
    return (
        f"{definition.name}{numbered}, ditandatangani secara "
        "elektronik (TTE) dan memuat kode QR untuk memeriksa keasliannya (berkas PDF yang "
        f"dicetak sendiri oleh pemohon).{validity}"
    )


def compose(
    definition: catalogue_pb2.LetterTypeDefinition,
    route: directory_pb2.Route,
    profile: signing_pb2.DesaProfileView,
    *,
    complaint_hours: int,
) -> ServiceStandard:
    """The standard of one letter type in one desa, from its three sources."""
    p = profile.profile
    only_for = kecamatan_purposes_text(route)
    # Kecamatan steps for some purposes only: the standard's time is the desa's, and the
    # kecamatan's hours are added for those purposes.
    kecamatan_hours = sum(
        s.deadline_working_hours for s in route.steps if is_kecamatan_role(s.role)
    )
    hours = sum(s.deadline_working_hours for s in route.steps)
    if only_for:
        hours -= kecamatan_hours
    days_text = working_days_text(route.calendar)
    time = (
        f"Paling lama {hours} jam kerja sejak permohonan yang lengkap diterima, dihitung pada "
        f"jam kerja kantor desa ({days_text}), di luar hari libur nasional, cuti bersama dan "
        "hari libur desa."
    )
    if only_for:
        time += f" Langkah kecamatan ({only_for}) menambah paling lama {kecamatan_hours} jam kerja."
    complaints = (
        "Pengaduan, saran dan masukan disampaikan melalui halaman /pengaduan di "
        "portal warga (tanpa perlu masuk akun) atau langsung di kantor desa. Setiap pengaduan "
        f"diberi nomor pelacakan dan dijawab paling lama {complaint_hours} jam kerja; bila "
        "desa belum menjawab, pengaduan diteruskan ke kabupaten."
    )
    return ServiceStandard(
        desa_code=profile.desa_code,
        desa_name=p.name,
        kecamatan=p.kecamatan,
        kabupaten=p.kabupaten,
        letter_type=definition.code,
        letter_type_name=definition.name,
        description=definition.description,
        online=definition.online,
        requirements=tuple(
            Requirement(s.name, s.description, SYARAT_KIND_NOTE.get(s.kind, ""))
            for s in definition.syarat
        ),
        form_fields=tuple(
            f.label for f in definition.fields if f.source == "resident" and f.required
        ),
        register_fields=tuple(f.label for f in definition.fields if f.source == "register"),
        procedure=_procedure(definition, route),
        working_hours=hours,
        working_days_text=days_text,
        time=time,
        cost=COST,
        product=_product(definition),
        complaints=complaints,
        maklumat=profile.maklumat_pelayanan_text,
    )


def _not_found() -> NotFound:
    return NotFound("standard-not-found", "Standar pelayanan untuk desa dan surat ini tidak ada.")


# A desa not switched on (or switched off) has no service to publish a standard for: its pages
# answer 404 with this notice, as the index /standar-pelayanan leaves it out (ListServingDesa).
NOT_SERVING_CODE = "desa-not-serving"
NOT_SERVING = (
    "Desa ini belum melayani permohonan surat secara daring melalui Smart Desa, sehingga "
    "standar pelayanannya belum diterbitkan di sini. Silakan hubungi kantor desa."
)


def _not_serving() -> NotFound:
    return NotFound(NOT_SERVING_CODE, NOT_SERVING)


async def _offer_first(
    offer: Awaitable[directory_pb2.ListOfferedLetterTypesResponse], *others: Awaitable[Any]
) -> list[Any]:
    """The desa's offer and the other lookups, in parallel. A desa not serving is said so
    before any other lookup's failure (a desa never switched on may have no profile yet)."""
    results = await asyncio.gather(offer, *others, return_exceptions=True)
    first = results[0]
    if isinstance(first, directory_pb2.ListOfferedLetterTypesResponse) and first.desa_closed:
        raise _not_serving()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _unavailable(exc: grpc.aio.AioRpcError, what: str) -> DomainError:
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return _not_found()
    log.warning("service standard: %s unavailable (%s)", what, exc.code().name)
    return Unavailable(
        "standard-unavailable",
        "Standar pelayanan sedang tidak dapat ditampilkan. Silakan coba lagi.",
    )


async def desa_profile(runtime: Runtime, desa_code: str) -> signing_pb2.DesaProfileView:
    try:
        view: signing_pb2.DesaProfileView = await runtime.signing.GetDesaProfile(
            signing_pb2.GetDesaProfileRequest(desa_code=desa_code),
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc, "desa profile") from exc
    return view


async def offered_types(
    runtime: Runtime, desa_code: str
) -> tuple[signing_pb2.DesaProfileView, list[catalogue_pb2.LetterTypeDefinition]]:
    """The desa's profile and the catalogue's types it offers, in catalogue order (an index)."""

    async def catalogue() -> catalogue_pb2.ListCatalogueResponse:
        try:
            listed: catalogue_pb2.ListCatalogueResponse = (
                await runtime.catalogue_stub.ListLetterTypes(
                    catalogue_pb2.ListCatalogueRequest(), timeout=LOOKUP_TIMEOUT_SECONDS
                )
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc, "catalogue") from exc
        return listed

    async def offered() -> directory_pb2.ListOfferedLetterTypesResponse:
        try:
            answer: directory_pb2.ListOfferedLetterTypesResponse = (
                await runtime.directory.ListOfferedLetterTypes(
                    directory_pb2.ListOfferedLetterTypesRequest(desa_code=desa_code),
                    timeout=LOOKUP_TIMEOUT_SECONDS,
                )
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc, "offered letter types") from exc
        return answer

    codes, profile, listed = await _offer_first(
        offered(), desa_profile(runtime, desa_code), catalogue()
    )
    wanted = set(codes.letter_types)
    return profile, [t for t in listed.letter_types if t.code in wanted]


async def standard_for(runtime: Runtime, desa_code: str, letter_type: str) -> ServiceStandard:
    """Raises NotFound (unknown desa, type, or a type the desa does not offer) or Unavailable."""

    async def definition() -> catalogue_pb2.LetterTypeDefinition:
        try:
            found: catalogue_pb2.LetterTypeDefinition = await runtime.catalogue_stub.GetLetterType(
                catalogue_pb2.GetLetterTypeRequest(code=letter_type),
                timeout=LOOKUP_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc, "catalogue") from exc
        return found

    async def route() -> directory_pb2.Route:
        try:
            found: directory_pb2.Route = await runtime.directory.GetRoute(
                directory_pb2.GetRouteRequest(desa_code=desa_code, letter_type=letter_type),
                timeout=LOOKUP_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc, "route") from exc
        return found

    async def offered() -> directory_pb2.ListOfferedLetterTypesResponse:
        try:
            answer: directory_pb2.ListOfferedLetterTypesResponse = (
                await runtime.directory.ListOfferedLetterTypes(
                    directory_pb2.ListOfferedLetterTypesRequest(desa_code=desa_code),
                    timeout=LOOKUP_TIMEOUT_SECONDS,
                )
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable(exc, "offered letter types") from exc
        return answer

    offer, found, steps, profile = await _offer_first(
        offered(), definition(), route(), desa_profile(runtime, desa_code)
    )
    if letter_type not in offer.letter_types or not steps.steps:
        raise _not_found()
    return compose(
        found,
        steps,
        profile,
        complaint_hours=complaint_deadline_hours(
            runtime.settings, ".".join(desa_code.split(".")[:2])
        ),
    )


async def poster_pdf(runtime: Runtime, standard: ServiceStandard, page_url: str) -> bytes:
    """The standard as an A4 poster, rendered by signing (the desa's kop surat, Typst)."""
    document = signing_pb2.ServiceStandardDocument(
        desa_code=standard.desa_code,
        letter_type=standard.letter_type,
        letter_type_name=standard.letter_type_name,
        requirements=list(standard.requirement_lines),
        procedure=list(standard.procedure),
        time=standard.time,
        cost=standard.cost,
        product=standard.product,
        complaints=standard.complaints,
        maklumat=standard.maklumat,
        page_url=page_url,
    )
    try:
        pdf: signing_pb2.LetterPdf = await runtime.signing.RenderServiceStandard(
            document, timeout=LOOKUP_TIMEOUT_SECONDS * 2
        )
    except grpc.aio.AioRpcError as exc:
        raise _unavailable(exc, "poster") from exc
    return pdf.content
