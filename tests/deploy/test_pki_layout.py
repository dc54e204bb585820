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
# Every desa has a Kades and a Sekdes signer (the dev PKI makes both; so does production).
SIGNERS = [
    DevSigner(code, name, "Subang", role)
    for code, name in (("32.13.11.2004", "Pamanukan"), ("32.13.11.2002", "Rancasari"))
    for role in ("kades", "sekdes")
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


def layout(tmp_path: Path, with_tsa: bool) -> Path:
    """Run the init container's script on Secret-like volumes of a development PKI; return the
    PKI folder the signing container would see."""
    dev = tmp_path / "dev-pki"
    if not dev.exists():
        ensure_dev_pki(dev, SIGNERS)
    flat: dict[str, bytes] = {}
    for signer in SIGNERS:
        folder = dev / "signers" / signer.desa_code
        prefix = f"{signer.desa_code}--{signer.role}"
        flat[f"{prefix}.key.pem"] = encrypted((folder / f"{signer.role}.key.pem").read_bytes())
        flat[f"{prefix}.crt.pem"] = (folder / f"{signer.role}.crt.pem").read_bytes()
    run_dir = tmp_path / ("with-tsa" if with_tsa else "without-tsa")
    secret_volume(run_dir / "root", {"root-ca.crt.pem": (dev / "root-ca.crt.pem").read_bytes()})
    secret_volume(run_dir / "signers", flat)
    tsa = {}
    if with_tsa:
        tsa = {
            "tsa.key.pem": encrypted((dev / "tsa.key.pem").read_bytes()),
            "tsa.crt.pem": (dev / "tsa.crt.pem").read_bytes(),
        }
    # An optional Secret that does not exist is mounted as an empty folder.
    (run_dir / "tsa").mkdir()
    if tsa:
        secret_volume(run_dir / "tsa-secret", tsa)
        (run_dir / "tsa").rmdir()
        (run_dir / "tsa-secret").rename(run_dir / "tsa")
    secret_volume(run_dir / "crl", {"crl.der": (dev / "crl.der").read_bytes()})
    target = run_dir / "pki"
    target.mkdir()

    spec = pod_spec(render("production"), "signing")
    (init,) = spec["initContainers"]
    command = init["command"]
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    main_mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    # The script's arguments: the mounts of the root CA, the signers, the PKI folder and the
    # TSA in the init container, and where the signing container mounts the CRL.
    assert command[-5:] == [
        mounts["signing-root-ca"],
        mounts["signing-signers"],
        mounts["pki"],
        mounts["signing-tsa"],
        main_mounts["signing-crl"],
    ]
    config = one(render("production"), "ConfigMap", "signing-config")["data"]
    assert config["SMARTDESA_SIGNING_PKI_DIR"] == main_mounts["pki"]
    args = [run_dir / "root", run_dir / "signers", target, run_dir / "tsa", run_dir / "crl"]
    run = subprocess.run(
        [*command[:-5], *map(str, args)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return target


def test_init_container_lays_out_the_pki_that_signing_loads(tmp_path: Path) -> None:
    target = layout(tmp_path, with_tsa=True)
    registry = SignerRegistry.load(target, PASSWORD)
    for signer in SIGNERS:
        assert registry.get(signer.desa_code, signer.role) is not None, signer
    assert registry.tsa is not None, "the TSA's key and certificate are in place"
    assert registry.crl_der == (tmp_path / "dev-pki" / "crl.der").read_bytes()
    for path in target.rglob("*"):
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others: {oct(mode)}"
    # Only the key files, nothing of the Secret's own bookkeeping.
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*.pem")) == sorted(
        ["root-ca.crt.pem", "tsa.key.pem", "tsa.crt.pem"]
        + [f"signers/{s.desa_code}/{s.role}.{kind}.pem" for s in SIGNERS for kind in ("key", "crt")]
    )


def test_the_crl_follows_its_secret_without_a_restart(tmp_path: Path) -> None:
    """The CA re-issues its CRL: the kubelet swaps the Secret's files, and signing (which
    reloads the CRL when its modification time changes) reads the new one through the link."""
    target = layout(tmp_path, with_tsa=False)
    crl_volume = tmp_path / "without-tsa" / "crl"
    new_data = crl_volume / "..2026_12_05_08_00_00.000000001"
    new_data.mkdir()
    (new_data / "crl.der").write_bytes(b"re-issued CRL")
    (crl_volume / "..data_tmp").symlink_to(new_data.name)
    (crl_volume / "..data_tmp").rename(crl_volume / "..data")
    assert (target / "crl.der").read_bytes() == b"re-issued CRL"


def test_without_the_tsa_secret_signing_needs_an_outside_tsa(tmp_path: Path) -> None:
    target = layout(tmp_path, with_tsa=False)
    registry = SignerRegistry.load(target, PASSWORD)
    assert registry.tsa is None
    assert not (target / "tsa.key.pem").exists()
