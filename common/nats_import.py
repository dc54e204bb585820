"""nats-py imports aiohttp when it is first imported (about 6 MB per process), only for servers
reached over WebSocket (ws://), which Smart Desa never uses: its NATS URLs are nats:// (dev
stack, Kubernetes). The services' entry points import this module before anything else, so
nats-py is imported with aiohttp hidden; aiohttp itself stays importable afterwards (pyHanko
uses it to fetch revocation data).

A ws:// URL then fails at connect with nats-py's own "Could not import aiohttp transport".
"""

import sys


def import_nats_without_websockets() -> None:
    if "nats" in sys.modules or "aiohttp" in sys.modules:
        return  # too late, or nothing to save
    sys.modules["aiohttp"] = None  # type: ignore[assignment]  # `import aiohttp` -> ImportError
    try:
        import nats.aio.client  # noqa: F401
    finally:
        del sys.modules["aiohttp"]


import_nats_without_websockets()
