"""Signing in to the web pages from a plain HTTP client, as a browser does: open the sign-in
page first (it sets the sign-in form's CSRF cookie and puts the same token in the form)."""

import re
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from fastapi.routing import APIRoute

_SIGN_IN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in_token(page: httpx.Response) -> str:
    match = _SIGN_IN_TOKEN.search(page.text)
    assert match is not None, page.text
    return match.group(1)


def sign_in_form(client: httpx.Client, path: str = "/masuk", **data: Any) -> dict[str, Any]:
    """`data` with the sign-in form's CSRF token (the client keeps the cookie)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return {**data, "csrf_token": sign_in_token(page)}


async def async_sign_in_form(
    client: httpx.AsyncClient, path: str = "/masuk", **data: Any
) -> dict[str, Any]:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return {**data, "csrf_token": sign_in_token(page)}


def app_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute of an app with its full path (FastAPI keeps included routers as
    wrappers): `app_routes(app.routes)`."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router
            yield from app_routes(
                route.original_router.routes, prefix + route.include_context.prefix
            )
