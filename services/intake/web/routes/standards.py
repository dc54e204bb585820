"""The published service standards (standar pelayanan, issue 19 item 1; UU 25/2009,
Permenpan-RB 15/2014) on the portal, for anyone: no sign-in, nothing about any resident.

- /standar-pelayanan: the desa to choose from;
- /standar-pelayanan/{desa}: the letter types the desa offers, with the maklumat pelayanan;
- /standar-pelayanan/{desa}/{type}: one standard (services/intake/service_standard.py);
- /standar-pelayanan/{desa}/{type}/poster.pdf: the same standard as an A4 poster.
"""

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from common.domain.errors import NotFound
from common.wilayah import all_desa
from services.intake.api.deps import RuntimeDep
from services.intake.offered import serving_desa
from services.intake.service_standard import (
    STANDARD_PATH,
    offered_types,
    poster_pdf,
    standard_for,
)
from services.intake.web.pages import render

router = APIRouter(include_in_schema=False)

_DESA = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")
_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,15}")


def _known_desa(desa_code: str) -> None:
    if not _DESA.fullmatch(desa_code) or desa_code not in all_desa():
        raise NotFound("desa-not-found", "Desa tidak ditemukan.")


def _known_type(letter_type: str) -> None:
    if not _TYPE.fullmatch(letter_type):
        raise NotFound("standard-not-found", "Standar pelayanan untuk surat ini tidak ada.")


@router.get(STANDARD_PATH)
async def desa_list(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    # Only the desa switched on (onboarding): a desa not yet served has no service to
    # publish a standard for. Verification not answering: every desa, as the portal's picker.
    serving = await serving_desa(runtime.directory)
    by_kecamatan: dict[str, list[tuple[str, str]]] = {}
    for desa in sorted(all_desa().values(), key=lambda d: (d.kecamatan, d.name)):
        if serving is not None and desa.code not in serving:
            continue
        by_kecamatan.setdefault(desa.kecamatan, []).append((desa.code, desa.name))
    return render(
        request, "standar-desa.html", {"title": "Standar pelayanan", "by_kecamatan": by_kecamatan}
    )


@router.get(STANDARD_PATH + "/{desa_code}")
async def desa_index(request: Request, desa_code: str, runtime: RuntimeDep) -> HTMLResponse:
    _known_desa(desa_code)
    profile, types = await offered_types(runtime, desa_code)
    return render(
        request,
        "standar-daftar.html",
        {
            "title": f"Standar pelayanan Desa {profile.profile.name}",
            "profile": profile.profile,
            "desa_code": desa_code,
            "types": types,
            "maklumat": profile.maklumat_pelayanan_text,
        },
    )


@router.get(STANDARD_PATH + "/{desa_code}/{letter_type}")
async def standard_page(
    request: Request, desa_code: str, letter_type: str, runtime: RuntimeDep
) -> HTMLResponse:
    _known_desa(desa_code)
    _known_type(letter_type)
    standard = await standard_for(runtime, desa_code, letter_type)
    return render(
        request,
        "standar.html",
        {
            "title": f"Standar pelayanan {standard.letter_type_name}",
            "s": standard,
            "poster_path": f"{STANDARD_PATH}/{desa_code}/{letter_type}/poster.pdf",
        },
    )


@router.get(STANDARD_PATH + "/{desa_code}/{letter_type}/poster.pdf")
async def standard_poster(
    request: Request, desa_code: str, letter_type: str, runtime: RuntimeDep
) -> Response:
    _known_desa(desa_code)
    _known_type(letter_type)
    standard = await standard_for(runtime, desa_code, letter_type)
    page_url = str(request.base_url).rstrip("/") + f"{STANDARD_PATH}/{desa_code}/{letter_type}"
    pdf = await poster_pdf(runtime, standard, page_url)
    filename = f"standar-pelayanan-{letter_type.lower()}-{desa_code.replace('.', '')}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
