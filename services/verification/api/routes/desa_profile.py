"""The desa profile (kop surat, logo, officials, numbering format, paper): every staff member of
the desa reads it; the Sekdes and the Kades (also as Plt) change it. Signing checks and stores
it; the staff page /pengaturan/profil goes through the same functions."""

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from common.domain.errors import NotFound
from common.http import pdf_response
from services.verification.api.deps import DesaManager, DesaStaff, RuntimeDep, SessionDep
from services.verification.desa_profile import (
    LOGO_TOO_LARGE,
    LOGO_UPLOAD_LIMIT,
    SAMPLE_FILENAME,
    OfficialForm,
    ProfileForm,
    ProfileInvalid,
    example_number,
    profile_json,
    read_profile,
    sample_letter,
    save_profile,
)

router = APIRouter(prefix="/desa-profile", tags=["profil desa"])

# Lengths here only bound the request; signing answers each field with its own message.
_TEXT = Field(default="", max_length=400)


class OfficialIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    name: str = _TEXT
    nip: str = Field(default="", max_length=40)


class DesaProfileIn(BaseModel):
    name: str = Field(max_length=400)
    kecamatan: str = Field(max_length=400)
    kabupaten: str = Field(max_length=400)
    address: str = Field(max_length=400)
    kode_pos: str = Field(max_length=40)
    phone: str = _TEXT
    email: str = _TEXT
    kades_name: str = Field(max_length=400)
    kades_nip: str = Field(default="", max_length=40)
    sekdes_name: str = _TEXT
    sekdes_nip: str = Field(default="", max_length=40)
    paper: str = Field(default="F4", max_length=10)
    number_format: str = _TEXT  # empty: the default format
    # The maklumat pelayanan template ({desa}, {kecamatan}, {kabupaten}, {kades}); "": the
    # default text; absent: keep the current one.
    maklumat_pelayanan: str | None = Field(default=None, max_length=4000)
    # The whole list (officials left out lose their printed name); absent: keep the current.
    officials: list[OfficialIn] | None = Field(default=None, max_length=50)
    # A new logo (PNG or JPEG, base64); none: keep the current one.
    logo_base64: str | None = Field(default=None, max_length=(LOGO_UPLOAD_LIMIT * 4) // 3 + 8)
    logo_type: str = Field(default="", max_length=40)
    remove_logo: bool = False


def _logo(body: DesaProfileIn) -> bytes:
    if not body.logo_base64:
        return b""
    try:
        data = base64.b64decode(body.logo_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProfileInvalid({"logo": "Logo harus dikirim sebagai base64."}) from exc
    if len(data) > LOGO_UPLOAD_LIMIT:
        raise ProfileInvalid({"logo": LOGO_TOO_LARGE})
    return data


@router.get("")
async def get_desa_profile(staff: DesaStaff, runtime: RuntimeDep) -> dict[str, Any]:
    """The profile of the staff member's desa, with the next letter number as an example."""
    return profile_json(await read_profile(runtime, staff.desa_code))


@router.put("", responses={422: {"description": "Isian yang ditolak, per isian (`errors`)"}})
async def put_desa_profile(
    body: DesaProfileIn, staff: DesaManager, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    """Replaces the profile (Sekdes or Kades). Every refused field is named in `errors`, and
    then nothing is saved. Letters issued afterwards follow it; issued letters never change."""
    return profile_json(await save_profile(runtime, session, staff, profile_form(body)))


def profile_form(body: DesaProfileIn) -> ProfileForm:
    return ProfileForm(
        values=body.model_dump(exclude={"officials", "logo_base64", "logo_type", "remove_logo"}),
        officials=None
        if body.officials is None
        else [OfficialForm(o.username, o.name, o.nip) for o in body.officials],
        logo=_logo(body),
        logo_type=body.logo_type,
        remove_logo=body.remove_logo,
    )


@router.get("/logo", response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def get_desa_logo(staff: DesaStaff, runtime: RuntimeDep) -> Response:
    view = await read_profile(runtime, staff.desa_code, include_logo=True)
    if not view.has_logo:
        raise NotFound("no-logo", "Desa ini belum memiliki logo.")
    return Response(
        content=view.logo,
        media_type=view.logo_type,
        headers={
            "Cache-Control": "private, max-age=86400",
            "Content-Disposition": "inline",
            # An SVG logo is shown as an image only, never run as a document.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.get("/number-example")
async def get_number_example(
    staff: DesaStaff,
    runtime: RuntimeDep,
    format: Annotated[str, Query(max_length=400)] = "",  # noqa: A002 - the query's name
) -> dict[str, str]:
    """The desa's next letter number under `format` (the current format when empty), or why
    the format cannot be used (`error`, Indonesian)."""
    example, error = await example_number(runtime, staff.desa_code, format)
    return {"example": example, "error": error}


@router.get(
    "/sample-letter",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_sample_letter(staff: DesaStaff, runtime: RuntimeDep, session: SessionDep) -> Response:
    """A letter for a fictional resident made with the profile as it is now (unsigned,
    unnumbered, watermarked)."""
    return pdf_response(
        await sample_letter(runtime, session, staff.desa_code), SAMPLE_FILENAME, inline=True
    )
