"""Settings of the signing service (env `SMARTDESA_<FIELD>`)."""

from functools import cache
from pathlib import Path
from typing import Literal

from common.config import CommonSettings
from common.domain import SignerKind


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

    # PAdES level of issued letters. B-LTA needs a TSA: `signing_tsa_url`, or in the dev profile
    # the service's own TSA (served at /tsa, used in process by the signer).
    signing_pades_level: Literal["B-B", "B-LTA"] = "B-LTA"
    signing_tsa_url: str | None = None
    # Printed in every certificate the dev root issues; default: <public URL>/pki/crl.
    signing_crl_url: str | None = None
    # Processes that render and sign letters with local keys (0: a thread, for tests).
    signing_workers: int = 2
    # The pool starts on the first letter and its workers are released after this long without
    # one (an idle service holds no worker processes).
    signing_workers_idle_seconds: float = 300.0
    # Which signer each desa uses (desa code -> local | pkcs11 | bsre); others use the default.
    signing_signers: dict[str, SignerKind] = {}
    signing_default_signer: SignerKind = SignerKind.LOCAL
    # PKCS#11 token (HSM) holding keys labelled "<desa code>:<role>".
    signing_pkcs11_module: Path | None = None
    signing_pkcs11_token_label: str | None = None
    signing_pkcs11_pin_file: Path | None = None
    # BSrE Esign Client Service v2: base URL, Basic credentials, and the NIK registered with
    # BSrE for each "<desa code>:<role>". The passphrase is given per signature, never here.
    signing_bsre_url: str | None = None
    signing_bsre_username: str | None = None
    signing_bsre_password_file: Path | None = None
    signing_bsre_niks: dict[str, str] = {}
    # Further trust anchors (PEM files) for checking uploaded letters, e.g. the chain BSrE's
    # certificates are issued under; the kabupaten root is always trusted.
    signing_trust_roots: list[Path] = []

    # Uploads to the public verification endpoint larger than this are refused (413).
    verification_max_upload_bytes: int = 20 * 1024 * 1024
    # Wall-clock budget for validating one uploaded PDF (in a worker process, then killed).
    verification_timeout_seconds: float = 20.0
    # Address-space limit of that worker process: a PDF bomb fails there, not in the service.
    verification_memory_limit_bytes: int = 768 * 1024 * 1024
    # Uploads checked at the same time; more wait for a free slot.
    verification_concurrency: int = 2

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

    @property
    def crl_url(self) -> str:
        return self.signing_crl_url or f"{self.public_verification_url.rstrip('/')}/pki/crl"

    def verification_url(self, code: str) -> str:
        return f"{self.public_verification_url.rstrip('/')}/verifikasi/{code}"


@cache
def get_settings() -> Settings:
    return Settings()
