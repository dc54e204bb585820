"""gRPC CatalogueService (proto/smartdesa/v1/catalogue.proto): the kabupaten's letter types,
served by signing beside SigningService on the same port and behind the same internal-token
check."""

import json
from typing import NoReturn

import grpc
from smartdesa.v1 import catalogue_pb2, catalogue_pb2_grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.signing.catalogue import store
from services.signing.catalogue.definition import CatalogueError, LetterTypeDef, parse
from services.signing.models import LetterTypeVersion, as_utc

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


class CatalogueServicer(catalogue_pb2_grpc.CatalogueServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _message(
        self, session: AsyncSession, d: LetterTypeDef
    ) -> catalogue_pb2.LetterTypeDefinition:
        return definition_message(d, await session.get(LetterTypeVersion, (d.code, d.version)))

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
