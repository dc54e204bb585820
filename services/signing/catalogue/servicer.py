"""gRPC CatalogueService (proto/smartdesa/v1/catalogue.proto): the kabupaten's letter types,
served by signing beside SigningService on the same port and behind the same internal-token
check."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import grpc
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.signing.catalogue import store
from services.signing.catalogue.definition import (
    CatalogueError,
    LetterTypeDef,
    parse,
    parse_body,
    with_body,
)
from services.signing.composition import contact_line, logo_path
from services.signing.models import (
    DesaProfile,
    LetterTypeDraft,
    LetterTypeOverride,
    LetterTypeVersion,
    as_utc,
)
from services.signing.rendering import LetterContent, render_png

SERVICE_NAME = catalogue_pb2.DESCRIPTOR.services_by_name["CatalogueService"].full_name
MAX_DEFINITION_BYTES = 256 * 1024


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, detail: str) -> NoReturn:
    await context.abort(code, detail)
    raise AssertionError("unreachable")  # context.abort raises


def definition_message(
    d: LetterTypeDef, row: LetterTypeVersion | None
) -> catalogue_pb2.LetterTypeDefinition:
    message = catalogue_pb2.LetterTypeDefinition(
        code=d.code,
        version=d.version,
        name=d.name,
        title=d.title,
        description=d.description,
        kode_klasifikasi=d.kode_klasifikasi,
        kode_klasifikasi_basis=d.kode_klasifikasi_basis,
        subject=d.subject,
        default_addressee=d.default_addressee,
        online=d.online,
        non_residents=d.non_residents,
        validity_days=d.validity_days,
        route_steps=[
            catalogue_pb2.CatalogueRouteStep(role=s.role, hours=s.hours) for s in d.route.steps
        ],
        route_signer=d.route.signer,
        fields=[
            catalogue_pb2.CatalogueField(
                name=f.name,
                label=f.label,
                source=f.source,
                kind=f.kind,
                required=f.required,
                max_length=f.max_length,
                choices=list(f.choices),
                format=f.format,
                hint=f.hint,
            )
            for f in d.fields
        ],
        syarat=[
            catalogue_pb2.CatalogueSyarat(
                code=s.code, name=s.name, description=s.description, kind=s.kind
            )
            for s in d.syarat
        ],
        forms=[
            catalogue_pb2.CatalogueForm(
                code=f.code, name=f.name, regulation=f.regulation, version=f.version
            )
            for f in d.forms
        ],
        body=[
            catalogue_pb2.CatalogueBlock(
                kind=b.kind,
                text=b.text,
                number=b.number,
                rows=[catalogue_pb2.CatalogueRow(label=r.label, value=r.value) for r in b.rows],
                items=list(b.items),
                numbered=b.numbered,
            )
            for b in d.body
        ],
        template_version=d.template_version,
        sha256=d.digest,
        definition_json=d.to_json(),
    )
    if row is not None:
        message.published_by = row.published_by
        message.published_at.FromDatetime(as_utc(row.published_at))
    return message


# The preview's sample desa and resident: fictional, never a real NIK (the kabupaten's drafts
# are shown with it; a desa's override with its own kop surat).
SAMPLE_DESA = DesaProfile(
    code="00.00.00.0000",
    name="Contoh",
    kecamatan="Contoh",
    kabupaten="Subang",
    address="Jl. Contoh No. 1",
    kode_pos="41200",
    kades_name="Nama Kepala Desa",
)
SAMPLE_FIELDS = {
    "nama": "Warga Contoh",
    "tempat_lahir": "Subang",
    "tanggal_lahir": "1990-01-01",
    "jenis_kelamin": "P",
    "agama": "Islam",
    "pekerjaan": "Wiraswasta",
    "alamat": "Dusun Contoh",
    "rt": "1",
    "rw": "2",
}
SAMPLE_NIK = "3213110101900000"
_SAMPLE_BY_KIND = {"date": "2026-01-01", "digits": "1500000", "time": "08:30"}


def sample_fields(d: LetterTypeDef) -> dict[str, str]:
    """A sample value for every field of `d`: the sample resident's, else one by kind."""
    values = {}
    for f in d.fields:
        if f.name in SAMPLE_FIELDS:
            values[f.name] = SAMPLE_FIELDS[f.name]
        elif f.kind == "choice" and f.choices:
            values[f.name] = f.choices[0]
        else:
            values[f.name] = _SAMPLE_BY_KIND.get(f.kind) or f"({f.label})"
    return values


def _draft_message(
    code: str, desa_code: str, row: LetterTypeDraft | None, problem: str = ""
) -> catalogue_pb2.LetterTypeDraft:
    message = catalogue_pb2.LetterTypeDraft(
        key=catalogue_pb2.LetterTypeDraftKey(code=code, desa_code=desa_code), problem=problem
    )
    if row is not None:
        message.draft_json, message.saved_by = row.draft_json, row.saved_by
        message.saved_at.FromDatetime(as_utc(row.saved_at))
    return message


def _override_message(
    row: LetterTypeOverride | None, code: str, desa_code: str, created: bool = False
) -> catalogue_pb2.DesaOverride:
    message = catalogue_pb2.DesaOverride(
        key=catalogue_pb2.LetterTypeDraftKey(code=code, desa_code=desa_code), created=created
    )
    if row is not None:
        message.version, message.base_version = row.version, row.base_version
        message.body_json, message.published_by = row.body_json, row.published_by
        message.published_at.FromDatetime(as_utc(row.published_at))
    return message


def _json_object(text: str) -> dict[str, object]:
    if len(text.encode()) > MAX_DEFINITION_BYTES:
        raise CatalogueError("definisi terlalu besar")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise CatalogueError("definisi harus objek JSON")
    return data


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServiceServicer):
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], assets_dir: Path | None = None
    ) -> None:
        self._sessions = sessions
        self._assets_dir = assets_dir  # desa logos, for a desa's preview
        self._messages: dict[tuple[str, int], catalogue_pb2.LetterTypeDefinition] = {}

    async def _message(
        self, session: AsyncSession, d: LetterTypeDef
    ) -> catalogue_pb2.LetterTypeDefinition:
        """A published version's message, built once: a version never changes once published
        (LetterTypeVersion), and intake and verification list the whole catalogue every few
        seconds, which cost signing about as much CPU as issuing the letters (py-spy; see
        docs/performance.md, "Cost per letter"). Callers must not change what they get."""
        key = (d.code, d.version)
        message = self._messages.get(key)
        if message is None:
            message = definition_message(d, await session.get(LetterTypeVersion, key))
            self._messages[key] = message
        return message

    async def ListLetterTypes(
        self, request: catalogue_pb2.ListCatalogueRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListCatalogueResponse:
        async with self._sessions() as session:
            found = await store.list_current(session)
            return catalogue_pb2.ListCatalogueResponse(
                letter_types=[
                    await self._message(session, d)
                    for d in found
                    if d.online or not request.online_only
                ]
            )

    async def GetLetterType(
        self, request: catalogue_pb2.GetLetterTypeRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.LetterTypeDefinition:
        async with self._sessions() as session:
            if request.version < 0:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "Versi tidak valid.")
            found = (
                await store.get_version(session, request.code, request.version)
                if request.version
                else await store.current(session, request.code)
            )
            if found is None:
                await _abort(
                    context, grpc.StatusCode.NOT_FOUND, "Jenis surat atau versinya tidak ada."
                )
            return await self._message(session, found)

    async def PublishLetterType(
        self, request: catalogue_pb2.PublishLetterTypeRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.PublishLetterTypeResponse:
        if not request.published_by.strip():
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "Penerbit wajib diisi.")
        if len(request.definition_json.encode()) > MAX_DEFINITION_BYTES:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "Definisi terlalu besar.")
        try:
            data = json.loads(request.definition_json)
            if not isinstance(data, dict):
                raise CatalogueError("definisi harus objek JSON")
            definition = parse(data)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and CatalogueError too
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"Definisi ditolak: {exc}")
        async with self._sessions() as session:
            try:
                published, created = await store.publish(session, definition, request.published_by)
            except IntegrityError:
                await _abort(
                    context,
                    grpc.StatusCode.ABORTED,
                    "Jenis surat ini baru saja diterbitkan orang lain; muat ulang lalu coba lagi.",
                )
            return catalogue_pb2.PublishLetterTypeResponse(
                letter_type=await self._message(session, published), created=created
            )

    # --- the editor ----------------------------------------------------------------------------

    async def _problem(self, session: AsyncSession, code: str, desa_code: str, text: str) -> str:
        """Why a draft cannot be published as it stands ("" when it can)."""
        try:
            data = _json_object(text)
            if not desa_code:
                d = parse(data)
                if d.code != code:
                    raise CatalogueError(f"kode jenis surat {d.code} bukan {code}")
                return ""
            base = await store.current(session, code)
            if base is None:
                raise CatalogueError(f"jenis surat {code} tidak ada")
            with_body(base, parse_body(data), desa_code, 0)
        except (ValueError, RecursionError) as exc:
            return str(exc)
        return ""

    async def GetLetterTypeDraft(
        self, request: catalogue_pb2.LetterTypeDraftKey, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.LetterTypeDraft:
        async with self._sessions() as session:
            row = await store.get_draft(session, request.code, request.desa_code)
            problem = (
                await self._problem(session, request.code, request.desa_code, row.draft_json)
                if row is not None
                else ""
            )
            return _draft_message(request.code, request.desa_code, row, problem)

    async def SaveLetterTypeDraft(
        self, request: catalogue_pb2.SaveLetterTypeDraftRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.LetterTypeDraft:
        key = request.key
        if not key.code or len(key.code) > 16 or not request.saved_by.strip():
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "Kode dan penyimpan wajib.")
        if request.draft_json:
            try:
                _json_object(request.draft_json)
            except (ValueError, RecursionError) as exc:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"Draf ditolak: {exc}")
        async with self._sessions() as session:
            row = await store.save_draft(
                session, key.code, key.desa_code, request.draft_json, request.saved_by
            )
            problem = (
                await self._problem(session, key.code, key.desa_code, request.draft_json)
                if row is not None
                else ""
            )
            return _draft_message(key.code, key.desa_code, row, problem)

    async def PreviewLetterType(
        self, request: catalogue_pb2.PreviewLetterTypeRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.PreviewLetterTypeResponse:
        key = request.key
        async with self._sessions() as session:
            try:
                definition = await self._to_preview(session, key, request.draft_json)
            except (ValueError, RecursionError) as exc:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"Draf ditolak: {exc}")
            if definition is None:
                await _abort(context, grpc.StatusCode.NOT_FOUND, "Jenis surat tidak ada.")
            profile = (
                await session.get(DesaProfile, key.desa_code) if key.desa_code else None
            ) or SAMPLE_DESA
        content = LetterContent(
            letter_type=definition,
            number=f"{definition.kode_klasifikasi}/___/{profile.code}/I/2026",
            letter_date=datetime.now(UTC),
            desa=profile.name,
            kecamatan=profile.kecamatan,
            kabupaten=profile.kabupaten,
            desa_address=profile.address,
            kode_pos=profile.kode_pos,
            signer_title="Kepala Desa",
            signer_name=profile.kades_name or "Nama Kepala Desa",
            signer_nip=profile.kades_nip,
            desa_contact=contact_line(profile),
            fields=sample_fields(definition),
            nik=SAMPLE_NIK,
            purpose="Contoh keperluan",
            addressee=definition.default_addressee.replace(
                "{desa.kecamatan}", profile.kecamatan
            ).replace("{desa.nama}", profile.name),
            verification_url="",
            paper=profile.paper,
            logo=logo_path(profile, self._assets_dir) if self._assets_dir else None,
            preview=True,
        )
        png = await asyncio.to_thread(render_png, content)
        return catalogue_pb2.PreviewLetterTypeResponse(
            png=png, template_version=definition.template_version
        )

    async def _to_preview(
        self, session: AsyncSession, key: catalogue_pb2.LetterTypeDraftKey, draft_json: str
    ) -> LetterTypeDef | None:
        if not key.desa_code:
            if draft_json:
                return parse(_json_object(draft_json))
            return await store.current(session, key.code)
        base = await store.current(session, key.code)
        if base is None:
            return None
        if draft_json:
            return with_body(base, parse_body(_json_object(draft_json)), key.desa_code, 0)
        return await store.for_desa(session, base, key.desa_code)

    async def ListLetterTypeVersions(
        self,
        request: catalogue_pb2.ListLetterTypeVersionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> catalogue_pb2.ListLetterTypeVersionsResponse:
        async with self._sessions() as session:
            rows = await store.versions(session, request.code)
        out = catalogue_pb2.ListLetterTypeVersionsResponse()
        for row in rows:
            info = out.versions.add(
                version=row.version, published_by=row.published_by, sha256=row.sha256
            )
            info.published_at.FromDatetime(as_utc(row.published_at))
        return out

    async def PublishDesaOverride(
        self, request: catalogue_pb2.PublishDesaOverrideRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.DesaOverride:
        key = request.key
        if not key.desa_code or not request.published_by.strip():
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "Desa dan penerbit wajib.")
        async with self._sessions() as session:
            base = await store.current(session, key.code)
            if base is None:
                await _abort(context, grpc.StatusCode.NOT_FOUND, "Jenis surat tidak ada.")
            try:
                body = parse_body(_json_object(request.body_json)) if request.body_json else None
                row, created = await store.publish_override(
                    session, key.desa_code, base, body, request.published_by
                )
            except (ValueError, RecursionError) as exc:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"Ditolak: {exc}")
            except IntegrityError:
                await _abort(
                    context,
                    grpc.StatusCode.ABORTED,
                    "Kata-kata ini baru saja diterbitkan orang lain; muat ulang lalu coba lagi.",
                )
            if created:
                await store.save_draft(session, key.code, key.desa_code, "", "")
            return _override_message(row, key.code, key.desa_code, created)

    async def ListDesaOverrides(
        self, request: catalogue_pb2.ListDesaOverridesRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListDesaOverridesResponse:
        key = request.key
        async with self._sessions() as session:
            rows = await store.override_history(session, key.desa_code, key.code)
        return catalogue_pb2.ListDesaOverridesResponse(
            current=_override_message(rows[0] if rows else None, key.code, key.desa_code),
            history=[_override_message(r, key.code, key.desa_code) for r in rows],
        )

    async def ListDesaWordings(
        self, request: catalogue_pb2.ListDesaWordingsRequest, context: grpc.aio.ServicerContext
    ) -> catalogue_pb2.ListDesaWordingsResponse:
        async with self._sessions() as session:
            found = await store.desa_wordings(session, request.desa_code)
        wordings = []
        for row, fits in found:
            message = _override_message(row, row.code, request.desa_code)
            message.fits_current = fits
            wordings.append(message)
        return catalogue_pb2.ListDesaWordingsResponse(wordings=wordings)
