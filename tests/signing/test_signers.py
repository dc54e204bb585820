"""The local key signer's process pool: letters are rendered and signed in worker processes
(both cores, never the event loop), each worker with keys loaded once."""

import asyncio
import os
from pathlib import Path

from services.signing.main import create_app
from services.signing.pdf_verification import check_pdf
from services.signing.signers import LocalKeySigner
from tests.signing.conftest import RANCASARI, make_settings, skd_request
from tests.signing.pdf_text import page_texts, squeeze
from tests.support.waiting import eventually


async def test_letters_are_signed_in_worker_processes(data_dir: Path, nats_url: str) -> None:
    settings = make_settings(
        data_dir, nats_url, signing_workers=2, signing_workers_idle_seconds=1.0
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        signer = runtime.letter_signers.for_desa(RANCASARI)
        assert isinstance(signer, LocalKeySigner)
        assert not signer.pool_running  # started by the first letter, not at start
        requests = [skd_request(f"app-pool-{i}", desa_code=RANCASARI) for i in range(6)]
        letters = await asyncio.gather(*(runtime.issuer.issue(r) for r in requests))
        assert sorted(x.sequence for x in letters) == [1, 2, 3, 4, 5, 6]
        assert runtime.issuer.last_signed is not None
        assert runtime.issuer.last_signed.worker_pid != os.getpid()
        for letter in letters:
            pdf = await runtime.issuer.read_pdf(letter)
            check = await asyncio.to_thread(check_pdf, pdf, runtime.signers.root_cert_asn1)
            assert check.conclusion == "valid" and check.long_term
            assert "Kepala Desa Rancasari" in (check.signer or "")
        # The preview is rendered by the same workers, unsigned.
        preview = await runtime.issuer.preview(skd_request("app-pool-preview", RANCASARI))
        assert preview.startswith(b"%PDF-") and b"/ByteRange" not in preview
        assert squeeze("PRATINJAU") in squeeze(page_texts(preview)[0])
        # Idle: the workers are released, and the next letter starts them again.
        await eventually(lambda: not signer.pool_running, "the idle pool released")
        again = await runtime.issuer.issue(skd_request("app-pool-again", desa_code=RANCASARI))
        assert again.sequence == 7
        assert runtime.issuer.last_signed.worker_pid != os.getpid()


async def test_the_camat_approves_in_the_pool_after_it_was_released(
    data_dir: Path, nats_url: str
) -> None:
    """A retry that finds the letter certified but not yet approved by the camat (the process
    stopped in between) finishes it, though the idle pool is gone by then: the approval starts
    it again (it used to find neither a pool nor an in-process state)."""
    from tests.signing.test_kecamatan_approval import KECAMATAN_PAMANUKAN

    settings = make_settings(
        data_dir, nats_url, signing_workers=1, signing_workers_idle_seconds=0.5
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        signer = runtime.letter_signers.local()
        assert isinstance(signer, LocalKeySigner)
        request = skd_request(
            "app-pool-camat",
            letter_type="SKTM",
            purpose="Persyaratan beasiswa",
            kecamatan_code=KECAMATAN_PAMANUKAN,
        )
        certified = await runtime.issuer._issue_certified(request)  # then the process stopped
        assert certified.kecamatan_approved_at is None
        await eventually(lambda: not signer.pool_running, "the idle pool released")
        letter = await runtime.issuer.issue(request)  # the workflow's retry
        assert letter.kecamatan_approved_at is not None
        pdf = await runtime.issuer.read_pdf(letter)
        check = await asyncio.to_thread(check_pdf, pdf, runtime.signers.root_cert_asn1)
        assert check.conclusion == "valid"


async def test_cached_key_signer_signs_with_the_parsed_key_and_skips_dry_runs(
    tmp_path: Path,
) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from services.signing.pki import SignerRegistry, ensure_dev_pki
    from services.signing.seed import dev_signers

    ensure_dev_pki(tmp_path, dev_signers())
    loaded = SignerRegistry.load(tmp_path).get(RANCASARI, "kades")
    assert loaded is not None
    placeholder = await loaded.signer.async_sign_raw(b"data", "sha256", dry_run=True)
    assert placeholder == bytes(72)  # the size an ECDSA P-256 signature can reach, no signing
    signature = await loaded.signer.async_sign_raw(b"data", "sha256")
    public = loaded.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"data", ec.ECDSA(hashes.SHA256()))  # raises if wrong
