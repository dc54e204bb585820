"""Short-lived signed links (HMAC-SHA256 with an expiry), e.g. to a signed letter's PDF.

A link never carries the file, only a path, an expiry (Unix seconds) and a signature over both:
`/api/v1/letter-links/<application id>/letter.pdf?expires=1767225600&sig=<hex>`. The service
that serves the path checks it with `verify_signed_path`; the key is a secret both share.
"""

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

from common.config import CommonSettings
from common.numbers import parse_natural
from common.secrets import read_secret


class InvalidLink(Exception):
    """The link was not made by us, or was changed. `str(exc)` is the Indonesian message."""

    def __init__(self, message: str = "Tautan tidak sah.") -> None:
        super().__init__(message)


class ExpiredLink(InvalidLink):
    def __init__(self) -> None:
        super().__init__("Tautan sudah kedaluwarsa. Silakan unduh surat dari aplikasi Smart Desa.")


def _signature(key: bytes, path: str, expires: int) -> str:
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def sign_path(key: bytes, path: str, expires_at: datetime) -> str:
    """`path` with `expires` and `sig` query parameters."""
    expires = int(expires_at.timestamp())
    return f"{path}?{urlencode({'expires': expires, 'sig': _signature(key, path, expires)})}"


def verify_signed_path(
    key: bytes, path: str, expires: str | None, sig: str | None, now: datetime | None = None
) -> None:
    """Raises InvalidLink (forged or altered) or ExpiredLink; returns when the link is good."""
    expires_at = parse_natural(expires)
    if expires_at is None or not sig:
        raise InvalidLink()
    expected = _signature(key, path, expires_at)
    if not hmac.compare_digest(expected, sig):
        raise InvalidLink()
    if expires_at <= (now or datetime.now(UTC)).timestamp():
        raise ExpiredLink()


def link_key(settings: CommonSettings) -> bytes:
    return read_secret(settings.secret_path(settings.link_signing_secret_file, "link-signing.key"))
