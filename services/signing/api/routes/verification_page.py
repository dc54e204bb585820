"""The page a letter's QR code opens: is this letter in the register, and is it in force."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from common.http import Problem
from services.signing.api.deps import SessionDep, SettingsDep
from services.signing.register import find_by_code

router = APIRouter(tags=["verifikasi"])

_pages = Environment(
    loader=PackageLoader("services.signing.web", "templates"),
    autoescape=select_autoescape(["html"]),
)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get("/verifikasi/{code}", response_class=HTMLResponse)
async def verification_page(
    code: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The page; with `Accept: application/json` its JSON twin (as /api/v1/letters/{code})."""
    letter = await find_by_code(session, code, settings.public_verification_url)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if _wants_json(request):
        if letter is None:
            raise Problem(404, "Surat tidak ditemukan.", code="letter-not-found")
        return JSONResponse(letter.to_json(), headers=headers)
    if letter is None:
        html = _pages.get_template("tidak_ditemukan.html").render()
        return HTMLResponse(html, status_code=404, headers=headers)
    html = _pages.get_template("verifikasi.html").render(letter=letter)
    return HTMLResponse(html, headers=headers)
