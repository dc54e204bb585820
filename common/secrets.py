"""Key material for tokens. The dev profile creates it once under the data folder and keeps it."""

import secrets
from pathlib import Path

from common.config import CommonSettings
from common.files import write_once


def _ensure_keypair(private_path: Path, public_path: Path) -> None:
    if private_path.exists() and public_path.exists():
        return  # the usual case: the approval worker then never loads cryptography
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        write_once(
            private_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    if not public_path.exists():
        loaded = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        write_once(
            public_path,
            loaded.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )


def ensure_dev_secrets(settings: CommonSettings) -> None:
    """Create the dev profile's token keys if they are missing. Never used in production."""
    if not settings.is_dev:
        return
    write_once(
        settings.secret_path(settings.internal_token_secret_file, "internal-token.key"),
        secrets.token_hex(32).encode(),
    )
    write_once(
        settings.secret_path(settings.link_signing_secret_file, "link-signing.key"),
        secrets.token_hex(32).encode(),
    )
    _ensure_keypair(
        settings.secret_path(settings.resident_token_private_key_file, "resident-token.key"),
        settings.secret_path(settings.resident_token_public_key_file, "resident-token.pub"),
    )
    _ensure_keypair(
        settings.secret_path(settings.staff_token_private_key_file, "staff-token.key"),
        settings.secret_path(settings.staff_token_public_key_file, "staff-token.pub"),
    )


def read_secret(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError as exc:
        raise RuntimeError(f"secret file {path} is missing") from exc
