"""What makes the portal installable and usable offline: the web app manifest, the service
worker at the root scope, and the page it shows when there is no connection."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.intake.web.pages import STATIC_DIR, render

router = APIRouter(include_in_schema=False)

THEME_COLOUR = "#0b5d3b"
OFFLINE_PATH = "/luring"

MANIFEST: dict[str, Any] = {
    "name": "Smart Desa: Layanan Surat Desa",
    "short_name": "Smart Desa",
    "description": "Ajukan surat keterangan desa dari HP, pantau prosesnya, dan unduh suratnya.",
    "lang": "id",
    "dir": "ltr",
    "id": "/",
    "start_url": "/",
    "scope": "/",
    "display": "standalone",
    "orientation": "portrait",
    "theme_color": THEME_COLOUR,
    "background_color": "#f6f7f9",
    "categories": ["government", "utilities"],
    "icons": [
        {"src": "/static/ikon.svg", "sizes": "any", "type": "image/svg+xml"},
        {"src": "/static/ikon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/static/ikon-512.png", "sizes": "512x512", "type": "image/png"},
        {
            "src": "/static/ikon-512.png",
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ],
}


@router.get("/manifest.webmanifest")
async def manifest() -> JSONResponse:
    return JSONResponse(
        MANIFEST,
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/sw.js")
async def service_worker() -> Response:
    """Served from the root so its scope is the whole portal; always revalidated, so a new
    version reaches phones on their next visit."""
    return Response(
        (STATIC_DIR / "sw.js").read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get(OFFLINE_PATH)
async def offline_page(request: Request) -> HTMLResponse:
    return render(request, "luring.html", {"title": "Anda sedang luring", "body_class": "luring"})
