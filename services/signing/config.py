"""Settings of the signing service (env `SMARTDESA_<FIELD>`)."""

from functools import cache
from pathlib import Path

from common.config import CommonSettings


class Settings(CommonSettings):
    signing_http_host: str = "127.0.0.1"
    signing_http_port: int = 8002
    signing_grpc_host: str = "127.0.0.1"
    signing_grpc_port: int = 50053
    signing_database_url: str | None = None

    # Where the root certificate and the signers' keys and certificates live. The dev profile
    # creates a development PKI here at first start; production mounts the real files here
    # (root-ca.crt.pem, signers/<desa code>/<role>.key.pem and .crt.pem) and nothing is generated.
    signing_pki_dir: Path | None = None
    # Password file for encrypted signer keys (production); dev keys are unencrypted, mode 0600.
    signing_key_password_file: Path | None = None

    # Uploads to the public verification endpoint larger than this are refused (413).
    verification_max_upload_bytes: int = 20 * 1024 * 1024
    # Wall-clock budget for validating one uploaded PDF.
    verification_timeout_seconds: float = 20.0

    @property
    def signing_dir(self) -> Path:
        return self.data_dir / "signing"

    @property
    def pki_dir(self) -> Path:
        return self.signing_pki_dir or self.signing_dir / "pki"

    @property
    def letters_dir(self) -> Path:
        return self.signing_dir / "letters"

    @property
    def assets_dir(self) -> Path:
        """Desa logos for the kop surat (the issuer derives the same folder)."""
        return self.signing_dir / "assets"

    @property
    def database_url(self) -> str:
        return self.signing_database_url or self.sqlite_url("signing.db")

    def verification_url(self, code: str) -> str:
        return f"{self.public_verification_url.rstrip('/')}/verifikasi/{code}"


@cache
def get_settings() -> Settings:
    return Settings()
