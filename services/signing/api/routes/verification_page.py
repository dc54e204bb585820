"""The page a letter's QR code opens: is this letter in the register, and is it in force."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from services.signing.api.deps import SessionDep, SettingsDep
from services.signing.register import find_by_code

router = APIRouter(tags=["verifikasi"])

_pages = Environment(
    loader=PackageLoader("services.signing", "templates/web"),
    autoescape=select_autoescape(["html"]),
)


@router.get("/verifikasi/{code}", response_class=HTMLResponse)
async def verification_page(code: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    letter = await find_by_code(session, code, settings.public_verification_url)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if letter is None:
        html = _pages.get_template("tidak_ditemukan.html").render()
        return HTMLResponse(html, status_code=404, headers=headers)
    html = _pages.get_template("verifikasi.html").render(letter=letter)
    return HTMLResponse(html, headers=headers)
