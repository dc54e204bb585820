"""Bearer tokens.

- Resident tokens are issued by intake and staff tokens by verification, each signed with the
  issuer's Ed25519 key; other services verify them with the public key only.
- Every resident and staff token names its session (`jti`), so signing out can end that one
  token server-side; a staff token also carries its account's session version (`sv`), which a
  password change or reset, a role change or a deactivation raises, ending every older token
  (`staff_session_current`; docs/security.md).
- Internal tokens authenticate one service to another over gRPC (HMAC, short-lived, bound to
  the callee as audience).
"""

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from common.config import CommonSettings
from common.secrets import read_secret

RESIDENT_ISSUER = "smartdesa-intake"
STAFF_ISSUER = "smartdesa-verification"
INTERNAL_ISSUER = "smartdesa-internal"

PrincipalKind = Literal["resident", "staff"]


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not ours."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a resident (subject = resident id) or a staff member (subject = username).
    Two principals are the same person whatever session they came with."""

    kind: PrincipalKind
    subject: str
    role: str | None = None
    desa_code: str | None = None
    # The token's own id (`jti`): what signing out ends.
    session_id: str | None = field(default=None, compare=False)
    # A staff account's session version when the token was issued (`sv`).
    session_version: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StaffSession:
    """What the staff account's owner (verification) says now about one token's session."""

    active: bool
    role: str
    desa_code: str
    session_version: int
    ended: bool  # this token was signed out


def staff_session_current(principal: Principal, state: StaffSession) -> bool:
    """The one rule every service applies to a staff token: the account is still active, holds
    the role and desa the token names, has not raised its session version since (password,
    role, deactivation) and the token was not signed out."""
    return (
        state.active
        and not state.ended
        and principal.session_version == state.session_version
        and principal.role == state.role
        and principal.desa_code == state.desa_code
    )


class TokenIssuer:
    def __init__(self, private_key_pem: bytes, issuer: str, ttl_seconds: int) -> None:
        self._key = private_key_pem
        self._issuer = issuer
        self._ttl = ttl_seconds

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    @property
    def csrf_secret(self) -> bytes:
        """The key of this issuer's sessions' CSRF tokens, derived from its signing key."""
        return hashlib.sha256(
            b"smartdesa-csrf|" + self._issuer.encode() + b"|" + self._key
        ).digest()

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": principal.subject,
            "kind": principal.kind,
            "iat": now,
            "exp": now + self._ttl,
            "jti": secrets.token_urlsafe(16),
        }
        if principal.role is not None:
            claims["role"] = principal.role
        if principal.desa_code is not None:
            claims["desa"] = principal.desa_code
        if principal.session_version is not None:
            claims["sv"] = principal.session_version
        return jwt.encode(claims, self._key, algorithm="EdDSA")


class TokenVerifier:
    """Verifies tokens from any of the given issuers (issuer name -> public key PEM)."""

    def __init__(self, public_keys: dict[str, bytes]) -> None:
        self._keys = public_keys

    def verify(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            key = self._keys.get(str(issuer))
            if key is None:
                raise InvalidToken("unknown issuer")
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                issuer=issuer,
                options={"require": ["exp", "iat", "sub", "iss", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        kind = claims.get("kind")
        if kind not in ("resident", "staff"):
            raise InvalidToken("unknown principal kind")
        version = claims.get("sv")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise InvalidToken("malformed session version")
        return Principal(
            kind=kind,
            subject=claims["sub"],
            role=claims.get("role"),
            desa_code=claims.get("desa"),
            session_id=str(claims["jti"]),
            session_version=version,
        )


def resident_token_issuer(settings: CommonSettings, ttl_seconds: int) -> TokenIssuer:
    path = settings.secret_path(settings.resident_token_private_key_file, "resident-token.key")
    return TokenIssuer(read_secret(path), RESIDENT_ISSUER, ttl_seconds)


def staff_token_issuer(settings: CommonSettings, ttl_seconds: int) -> TokenIssuer:
    path = settings.secret_path(settings.staff_token_private_key_file, "staff-token.key")
    return TokenIssuer(read_secret(path), STAFF_ISSUER, ttl_seconds)


def token_verifier(settings: CommonSettings, *, residents: bool, staff: bool) -> TokenVerifier:
    keys: dict[str, bytes] = {}
    if residents:
        keys[RESIDENT_ISSUER] = read_secret(
            settings.secret_path(settings.resident_token_public_key_file, "resident-token.pub")
        )
    if staff:
        keys[STAFF_ISSUER] = read_secret(
            settings.secret_path(settings.staff_token_public_key_file, "staff-token.pub")
        )
    return TokenVerifier(keys)


class InternalAuth:
    """Short-lived HMAC tokens between services: `caller` proves itself to `audience`."""

    TTL_SECONDS = 300

    def __init__(self, secret: bytes, service_name: str) -> None:
        self._secret = secret
        self.service_name = service_name

    @classmethod
    def from_settings(cls, settings: CommonSettings, service_name: str) -> "InternalAuth":
        path = settings.secret_path(settings.internal_token_secret_file, "internal-token.key")
        return cls(read_secret(path), service_name)

    def token_for(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": INTERNAL_ISSUER,
            "sub": self.service_name,
            "aud": audience,
            "iat": now,
            "exp": now + self.TTL_SECONDS,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> str:
        """Returns the calling service's name if the token was made for this service."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self.service_name,
                issuer=INTERNAL_ISSUER,
                options={"require": ["exp", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return str(claims["sub"])
