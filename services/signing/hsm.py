"""Putting a signer on a PKCS#11 token (an HSM; SoftHSM2 in development and tests): the key
pair is generated inside the token and never leaves it; the certificate, issued by the
kabupaten root for the token's public key, is stored next to it under the same label
("<desa code>:<role>", see signers.pkcs11_label), which is how the pkcs11 signer finds both.

Development tool: production tokens are provisioned by the CA's own procedure.
"""

from pathlib import Path

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from services.signing import pki
from services.signing.signers import pkcs11_label


def provision_signer(
    module: Path,
    token_label: str,
    pin: str,
    pki_dir: Path,
    signer: pki.DevSigner,
    crl_url: str,
) -> x509.Certificate:
    """Generate the signer's key on the token and store a certificate from the dev root."""
    root_key = serialization.load_pem_private_key(
        (pki_dir / pki.ROOT_KEY_FILE).read_bytes(), password=None
    )
    if not isinstance(root_key, ec.EllipticCurvePrivateKey):
        raise pki.PkiError("the development root key is an EC key")
    root_cert = x509.load_pem_x509_certificate((pki_dir / pki.ROOT_CERT_FILE).read_bytes())
    label = pkcs11_label(signer.desa_code, signer.role)
    key_id = label.encode()
    token = pkcs11.lib(str(module)).get_token(token_label=token_label)
    with token.open(rw=True, user_pin=pin) as session:
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, _private = params.generate_keypair(store=True, label=label, id=key_id)
        public_key = serialization.load_der_public_key(encode_ec_public_key(public))
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise pki.PkiError("the token made a key that is not EC")
        cert_pem = pki.build_signer_cert(signer, public_key, root_cert, root_key, crl_url)
        cert = x509.load_pem_x509_certificate(cert_pem)
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: label,
                Attribute.ID: key_id,
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.VALUE: cert.public_bytes(serialization.Encoding.DER),
            }
        )
    return cert
