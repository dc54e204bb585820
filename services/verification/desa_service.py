"""Whether a desa takes new applications (the kabupaten operator's switch, onboarding.py), as
intake (DirectoryService.ListOfferedLetterTypes) and the walk-in form ask it."""

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.wilayah import Desa, all_desa, find_desa, pilot_codes
from services.verification.models import DesaService


def not_yet_served(desa: Desa) -> str:
    return (
        f"{'Kelurahan' if desa.kelurahan else 'Desa'} {desa.name} belum melayani permohonan "
        "surat melalui Smart Desa. Silakan mengurus surat langsung di kantor desa."
    )


def switched_off(desa: Desa) -> str:
    return (
        f"{'Kelurahan' if desa.kelurahan else 'Desa'} {desa.name} sedang tidak menerima "
        "permohonan surat baru melalui Smart Desa. Permohonan yang sudah diajukan tetap "
        "diproses sampai selesai."
    )


async def closed_reason(session: AsyncSession, desa_code: str) -> str:
    """Why the desa takes no new applications (Indonesian, for residents and staff), or ""."""
    desa = find_desa(desa_code)
    if desa is None:
        return f"Desa dengan kode '{desa_code}' tidak dikenal."
    row = await session.get(DesaService, desa_code)
    if row is None:
        return "" if desa_code in pilot_codes() else not_yet_served(desa)
    return "" if row.serving else switched_off(desa)


async def serving_codes(session: AsyncSession, kabupaten_code: str) -> set[str]:
    """The desa of the kabupaten (every kabupaten for "") that take new applications."""
    rows = {r.desa_code: r.serving for r in (await session.exec(select(DesaService))).all()}
    return {
        code
        for code, d in all_desa().items()
        if kabupaten_code in ("", d.kabupaten_code) and rows.get(code, code in pilot_codes())
    }
