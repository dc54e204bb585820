"""The signing pod's init container turns the flat signers' Secret into the PKI folder that
services/signing/pki.py loads: run its script on Secret-like volumes of a development PKI."""

import os
import stat
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from services.signing.pki import DevSigner, SignerRegistry, ensure_dev_pki
from tests.deploy.support import one, pod_spec, render

PASSWORD = b"kata-sandi-penanda-tangan"
SIGNERS = [
    DevSigner("32.13.11.2004", "Pamanukan", "Subang", "kades"),
    DevSigner("32.13.11.2002", "Rancasari", "Subang", "sekdes"),
]


def secret_volume(path: Path, files: dict[str, bytes]) -> None:
    """What the kubelet mounts for a Secret: a timestamped folder, `..data` pointing at it, and
    one symlink per key."""
    data = path / "..2026_11_28_08_00_00.000000001"
    data.mkdir(parents=True)
    for name, content in files.items():
        (data / name).write_bytes(content)
    (path / "..data").symlink_to(data.name)
    for name in files:
        (path / name).symlink_to(f"..data/{name}")


def encrypted(key_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD),
    )


def test_init_container_lays_out_the_signers_that_signing_loads(tmp_path: Path) -> None:
    dev = tmp_path / "dev-pki"
    ensure_dev_pki(dev, SIGNERS)
    flat: dict[str, bytes] = {}
    for signer in SIGNERS:
        folder = dev / "signers" / signer.desa_code
        prefix = f"{signer.desa_code}--{signer.role}"
        flat[f"{prefix}.key.pem"] = encrypted((folder / f"{signer.role}.key.pem").read_bytes())
        flat[f"{prefix}.crt.pem"] = (folder / f"{signer.role}.crt.pem").read_bytes()
    secret_volume(tmp_path / "root", {"root-ca.crt.pem": (dev / "root-ca.crt.pem").read_bytes()})
    secret_volume(tmp_path / "signers", flat)
    target = tmp_path / "pki"
    target.mkdir()

    spec = pod_spec(render("production"), "signing")
    (init,) = spec["initContainers"]
    command = init["command"]
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    # The script's three arguments are the mounts of the root CA, the signers and the PKI folder.
    assert command[-3:] == [mounts["signing-root-ca"], mounts["signing-signers"], mounts["pki"]]
    main_mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    config = one(render("production"), "ConfigMap", "signing-config")["data"]
    assert config["SMARTDESA_SIGNING_PKI_DIR"] == main_mounts["pki"]
    run = subprocess.run(
        [*command[:-3], str(tmp_path / "root"), str(tmp_path / "signers"), str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr

    registry = SignerRegistry.load(target, PASSWORD)
    for signer in SIGNERS:
        assert registry.get(signer.desa_code, signer.role) is not None, signer
    for path in target.rglob("*"):
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others: {oct(mode)}"
    # Only the key files, nothing of the Secret's own bookkeeping.
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*.pem")) == sorted(
        ["root-ca.crt.pem"]
        + [f"signers/{s.desa_code}/{s.role}.{kind}.pem" for s in SIGNERS for kind in ("key", "crt")]
    )
