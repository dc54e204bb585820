"""gzip on text responses, for every service's HTTP (pages, stylesheets, scripts, JSON).

A resident on a weak connection (400 kbps) waits for every byte; HTML, CSS and JSON shrink to
a fifth or less. Not compressed: server-sent events (each event must reach the client when it
is sent, and the notification inbox's stream stays open), PDFs (letters: already compressed,
and served for printing and download as they are), images and other binaries, ranges (206),
and anything smaller than a packet.

BREACH (guessing a secret on a page from the compressed length, with text the attacker puts
beside it): the session pages' CSRF token sits beside no text a GET puts there (`?pesan=`
picks a fixed text). The sign-in pages reflect `?lanjut=` (a path) beside the sign-in's
double-submit token; guessing that one needs an on-path observer and thousands of requests,
and gains at most a login CSRF, which the token's cookie (SameSite=Strict) already blocks.
Starlette's middleware streams (chunk by chunk, flushing each), so
a streamed answer still arrives as it is written.
"""

from fastapi import FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

# Smaller than this goes as it is: gzip's header and a round of CPU save nothing.
MINIMUM_SIZE = 500
# 6 is zlib's default: nearly all of level 9's saving for far less CPU on a 2-core node.
LEVEL = 6
NOT_COMPRESSED: tuple[str, ...] = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,  # text/event-stream, images, archives, audio, video
    "application/pdf",
    "application/octet-stream",
)


def install_compression(app: FastAPI) -> None:
    app.add_middleware(
        GZipMiddleware,
        minimum_size=MINIMUM_SIZE,
        compresslevel=LEVEL,
        exclude_content_types=NOT_COMPRESSED,
    )
