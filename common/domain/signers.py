"""How a desa's letters are signed."""

from enum import StrEnum


class SignerKind(StrEnum):
    LOCAL = "local"  # a key file the signing service holds (dev, small desa)
    PKCS11 = "pkcs11"  # a key in an HSM
    BSRE = "bsre"  # BSrE's remote signing: the signer's passphrase unlocks their key

    @property
    def remote(self) -> bool:
        """The signer signs in person (a passphrase typed by them), so a letter waits for them;
        the other kinds sign as soon as every step has approved."""
        return self is SignerKind.BSRE
