"""The letter catalogue's editor (docs/letter-catalogue.md#the-editor).

- /kabupaten/katalog: the kabupaten operator lists the letter types, starts a new one, and edits
  one (/kabupaten/katalog/{letter_type}): its name, kode klasifikasi, fields, syarat, flags,
  default route, validity and body blocks. Every post saves the draft as typed; "Terbitkan"
  publishes it as the type's next version. The page shows the draft's preview (page 1, through
  signing's renderer, with sample data) and who published which version when.
- /pengaturan/kata-surat: a desa's administrator changes the wording of a type's body blocks for
  their desa only (the kop surat and the signature block stay the kabupaten's).

Signing keeps drafts and versions and checks everything; these pages only carry the form.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from common.domain.errors import DomainError, NotFound
from common.web.refusals import refusal_of
from services.verification.api.deps import (
    DesaAdmin,
    KabupatenOperator,
    RuntimeDep,
    kabupaten_operator,
)
from services.verification.catalogue_editor import (
    BLOCK_LABELS,
    FIELD_FORMATS,
    FIELD_KINDS,
    FIELD_SOURCES,
    NEW_BLOCKS,
    ROUTE_ROLES,
    SYARAT_KINDS,
    Catalogue,
    Draft,
    DraftRefused,
    apply_action,
    body_of_form,
    definition_of_form,
    override_draft,
    placeholder_options,
    skeleton,
    type_draft,
    valid_code,
)
from services.verification.web.pages import StaffPageDep, render

router = APIRouter(include_in_schema=False)

LIST_PATH = "/kabupaten/katalog"
DESA_LIST_PATH = "/pengaturan/kata-surat"
_NOT_FOUND = "Jenis surat itu tidak ada dalam katalog."


def _common(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "block_labels": BLOCK_LABELS,
        "new_blocks": [(k, BLOCK_LABELS[k]) for k in NEW_BLOCKS],
        "placeholder_groups": placeholder_options(data),
    }


def _png(content: bytes) -> Response:
    return Response(content, media_type="image/png", headers={"Cache-Control": "no-store"})


# --- the kabupaten's catalogue ---------------------------------------------------------------


@router.get(LIST_PATH, dependencies=[Depends(kabupaten_operator)])
async def catalogue_page(
    request: Request,
    page: StaffPageDep,
    runtime: RuntimeDep,
    galat: Annotated[str | None, Query(max_length=4)] = None,
) -> HTMLResponse:
    types = await Catalogue(runtime).list_types()
    context: dict[str, Any] = {
        "title": "Katalog jenis surat",
        "nav_active": "katalog",
        "types": types,
    }
    if galat:
        context |= {
            "flash": "Kode jenis surat: huruf besar, angka atau _, paling banyak 16, diawali huruf.",
            "flash_kind": "galat",
        }
    return render(request, "katalog.html", context, page=page)


@router.post(LIST_PATH)
async def new_type(
    staff: KabupatenOperator,
    runtime: RuntimeDep,
    kode: Annotated[str, Form(max_length=40)] = "",
) -> RedirectResponse:
    code = kode.strip().upper()
    if not valid_code(code):
        return RedirectResponse(f"{LIST_PATH}?galat=1", status_code=303)
    catalogue = Catalogue(runtime)
    if await type_draft(catalogue, code) is None:
        await catalogue.save(code, skeleton(code), staff.username)
    return RedirectResponse(f"{LIST_PATH}/{code}", status_code=303)


async def _type_context(
    catalogue: Catalogue, code: str, draft: Draft, anchor: str | None = None
) -> dict[str, Any]:
    data = draft.data
    exists = await catalogue.current(code) is not None
    return {
        **_common(data),
        "title": f"Jenis surat {code}",
        "nav_active": "katalog",
        "code": code,
        "d": data,
        "draft": draft,
        "published": exists,
        "versions": await catalogue.versions(code) if exists else [],
        "field_kinds": FIELD_KINDS,
        "field_sources": FIELD_SOURCES,
        "field_formats": FIELD_FORMATS,
        "syarat_kinds": SYARAT_KINDS,
        "route_roles": ROUTE_ROLES,
        "action": f"{LIST_PATH}/{code}",
        "preview_src": f"{LIST_PATH}/{code}/pratinjau.png",
        "anchor": anchor,
    }


@router.get(LIST_PATH + "/{letter_type}", dependencies=[Depends(kabupaten_operator)])
async def type_page(
    request: Request,
    letter_type: str,
    page: StaffPageDep,
    runtime: RuntimeDep,
    terbit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    sama: Annotated[str | None, Query(max_length=4)] = None,
) -> HTMLResponse:
    catalogue = Catalogue(runtime)
    draft = await type_draft(catalogue, letter_type) if valid_code(letter_type) else None
    if draft is None:
        raise NotFound("no-letter-type", _NOT_FOUND)
    context = await _type_context(catalogue, letter_type, draft)
    if terbit:
        context |= {
            "flash": f"Versi {terbit} terbit. Permohonan baru memakai versi ini; surat yang "
            "sudah terbit tetap memakai versinya.",
            "flash_kind": "ok",
        }
    elif sama:
        context |= {
            "flash": "Tidak ada yang berubah dari versi yang berlaku: tidak ada versi baru.",
            "flash_kind": "ok",
        }
    return render(request, "katalog_ubah.html", context, page=page)


@router.post(LIST_PATH + "/{letter_type}")
async def save_type(
    request: Request,
    letter_type: str,
    page: StaffPageDep,
    staff: KabupatenOperator,
    runtime: RuntimeDep,
) -> Response:
    catalogue = Catalogue(runtime)
    before = await type_draft(catalogue, letter_type) if valid_code(letter_type) else None
    if before is None:
        raise NotFound("no-letter-type", _NOT_FOUND)
    form = await request.form()
    aksi = str(form.get("aksi") or "simpan")
    if aksi == "buang":
        await catalogue.save(letter_type, None, staff.username)
        return RedirectResponse(f"{LIST_PATH}/{letter_type}", status_code=303)
    data = definition_of_form(form, letter_type, before.data)
    anchor = apply_action(data["body"], form)
    draft = await catalogue.save(letter_type, data, staff.username)
    status, flash = 200, "Draf tersimpan."
    if aksi == "terbitkan":
        try:
            if draft.problem:
                raise DraftRefused(draft.problem)
            version, created = await catalogue.publish(data, staff.username)
        except DomainError as exc:
            status, flash = refusal_of(exc).status, f"Belum terbit: {refusal_of(exc).message}"
        else:
            done = f"terbit={version}" if created else "sama=1"
            return RedirectResponse(f"{LIST_PATH}/{letter_type}?{done}", status_code=303)
    context = await _type_context(catalogue, letter_type, draft, anchor)
    context |= {"flash": flash, "flash_kind": "ok" if status == 200 else "galat"}
    return render(request, "katalog_ubah.html", context, page=page, status_code=status)


@router.get(LIST_PATH + "/{letter_type}/pratinjau.png", dependencies=[Depends(kabupaten_operator)])
async def type_preview(letter_type: str, runtime: RuntimeDep) -> Response:
    catalogue = Catalogue(runtime)
    saved = await catalogue.draft(letter_type) if valid_code(letter_type) else None
    try:
        png = await catalogue.preview(letter_type, saved.draft_json if saved else "")
    except DomainError as exc:
        refusal = refusal_of(exc)
        return Response(refusal.message, status_code=refusal.status, media_type="text/plain")
    return _png(png)


# --- a desa's wording ------------------------------------------------------------------------


@router.get(DESA_LIST_PATH)
async def desa_catalogue_page(
    request: Request, page: StaffPageDep, runtime: RuntimeDep, staff: DesaAdmin
) -> HTMLResponse:
    catalogue = Catalogue(runtime)
    types = await catalogue.list_types()
    context = {
        "title": "Kata-kata surat desa",
        "nav_active": "pengaturan",
        "types": types,
        # Which types have the desa's own wording, and which of those no longer fit.
        "wordings": await catalogue.wordings(staff.desa_code),
    }
    return render(request, "kata_surat.html", context, page=page)


async def _override_context(
    catalogue: Catalogue, code: str, desa_code: str, draft: Draft, anchor: str | None = None
) -> dict[str, Any]:
    current = await catalogue.current(code)
    return {
        **_common(
            {"fields": [{"name": f.name, "label": f.label} for f in current.fields]}
            if current
            else {}
        ),
        "title": f"Kata-kata {current.name if current else code}",
        "nav_active": "pengaturan",
        "code": code,
        "type_name": current.name if current else code,
        "kabupaten_version": current.version if current else 0,
        "d": draft.data,
        "draft": draft,
        "history": await catalogue.overrides(code, desa_code),
        "action": f"{DESA_LIST_PATH}/{code}",
        "preview_src": f"{DESA_LIST_PATH}/{code}/pratinjau.png",
        "anchor": anchor,
    }


@router.get(DESA_LIST_PATH + "/{letter_type}")
async def override_page(
    request: Request,
    letter_type: str,
    page: StaffPageDep,
    staff: DesaAdmin,
    runtime: RuntimeDep,
    terbit: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> HTMLResponse:
    catalogue = Catalogue(runtime)
    draft = (
        await override_draft(catalogue, letter_type, staff.desa_code)
        if valid_code(letter_type)
        else None
    )
    if draft is None:
        raise NotFound("no-letter-type", _NOT_FOUND)
    context = await _override_context(catalogue, letter_type, staff.desa_code, draft)
    if terbit is not None:
        context |= {
            "flash": "Tersimpan. Surat berikutnya dari desa ini memakai kata-kata ini; surat yang "
            "sudah terbit tidak berubah.",
            "flash_kind": "ok",
        }
    return render(request, "kata_surat_ubah.html", context, page=page)


@router.post(DESA_LIST_PATH + "/{letter_type}")
async def save_override(
    request: Request,
    letter_type: str,
    page: StaffPageDep,
    staff: DesaAdmin,
    runtime: RuntimeDep,
) -> Response:
    catalogue = Catalogue(runtime)
    desa = staff.desa_code
    before = await override_draft(catalogue, letter_type, desa) if valid_code(letter_type) else None
    if before is None:
        raise NotFound("no-letter-type", _NOT_FOUND)
    form = await request.form()
    aksi = str(form.get("aksi") or "simpan")
    if aksi == "buang":
        await catalogue.save(letter_type, None, staff.username, desa)
        return RedirectResponse(f"{DESA_LIST_PATH}/{letter_type}", status_code=303)
    if aksi == "kembalikan":
        try:
            version = await catalogue.publish_override(letter_type, desa, None, staff.username)
        except DomainError as exc:
            context = await _override_context(catalogue, letter_type, desa, before)
            context |= {"flash": refusal_of(exc).message, "flash_kind": "galat"}
            return render(request, "kata_surat_ubah.html", context, page=page, status_code=422)
        await catalogue.save(letter_type, None, staff.username, desa)
        return RedirectResponse(f"{DESA_LIST_PATH}/{letter_type}?terbit={version}", status_code=303)
    body = body_of_form(form)
    anchor = apply_action(body, form)
    draft = await catalogue.save(letter_type, {"body": body}, staff.username, desa)
    status, flash = 200, "Draf tersimpan."
    if aksi == "terbitkan":
        try:
            if draft.problem:
                raise DraftRefused(draft.problem)
            version = await catalogue.publish_override(letter_type, desa, body, staff.username)
            await catalogue.save(letter_type, None, staff.username, desa)  # now in use
        except DomainError as exc:
            status, flash = refusal_of(exc).status, f"Belum dipakai: {refusal_of(exc).message}"
        else:
            return RedirectResponse(
                f"{DESA_LIST_PATH}/{letter_type}?terbit={version}", status_code=303
            )
    context = await _override_context(catalogue, letter_type, desa, draft, anchor)
    context |= {"flash": flash, "flash_kind": "ok" if status == 200 else "galat"}
    return render(request, "kata_surat_ubah.html", context, page=page, status_code=status)


@router.get(DESA_LIST_PATH + "/{letter_type}/pratinjau.png")
async def override_preview(letter_type: str, staff: DesaAdmin, runtime: RuntimeDep) -> Response:
    catalogue = Catalogue(runtime)
    saved = await catalogue.draft(letter_type, staff.desa_code) if valid_code(letter_type) else None
    try:
        png = await catalogue.preview(
            letter_type, saved.draft_json if saved else "", staff.desa_code
        )
    except DomainError as exc:
        refusal = refusal_of(exc)
        return Response(refusal.message, status_code=refusal.status, media_type="text/plain")
    return _png(png)
