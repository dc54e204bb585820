"""Two libraries import, when first imported, optional parts Smart Desa never uses. The services'
entry points import this module before anything else, so both are imported with those parts
hidden; the hidden packages stay importable afterwards.

- nats-py imports aiohttp (about 6 MB per process), only for servers reached over WebSocket
  (ws://); Smart Desa's NATS URLs are nats:// (dev stack, Kubernetes). A ws:// URL then fails at
  connect with nats-py's own "Could not import aiohttp transport". aiohttp itself stays
  importable (pyHanko uses it to fetch revocation data).
- httpx imports its command-line client (`httpx._main`: click, rich, pygments; about 4 MB per
  process) to offer `httpx.main`, which only the `httpx` console script calls. Without it,
  `httpx.main` prints that the command-line client is not installed.
- PyJWT imports cryptography (about 4 MB per process) for its public-key algorithms. The approval
  worker (`python -m workflows.approval.worker`) only signs internal tokens with HS256
  (common.auth.InternalAuth), so in that process alone PyJWT is imported without it; there an
  EdDSA or RS256 token would fail with PyJWT's "Algorithm not supported". Tests and the
  services, which issue and verify staff and resident tokens (EdDSA), keep it.
"""

import sys


def _import_hiding(module: str, hidden: str) -> None:
    """Import `module` while `import <hidden>` raises ImportError."""
    if module in sys.modules or hidden in sys.modules:
        return  # too late, or nothing to save
    sys.modules[hidden] = None  # type: ignore[assignment]  # `import hidden` -> ImportError
    try:
        __import__(module)
    finally:
        del sys.modules[hidden]


def import_nats_without_websockets() -> None:
    _import_hiding("nats.aio.client", "aiohttp")


def import_httpx_without_cli() -> None:
    _import_hiding("httpx", "httpx._main")


def import_jwt_without_cryptography() -> None:
    _import_hiding("jwt", "cryptography")


def _main_module() -> str:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name if spec is not None else ""


if _main_module() == "workflows.approval.worker":
    import_jwt_without_cryptography()  # the worker uses neither nats-py nor httpx
else:
    import_nats_without_websockets()
    import_httpx_without_cli()
