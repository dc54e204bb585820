"""Tables of the signing service: desa profiles (for the kop surat), numbering counters and the
letter register."""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from common.outbox import OutboxEvent


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Times are stored in UTC; SQLite hands them back without a zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DesaProfile(SQLModel, table=True):
    """What a letter's kop surat and signature block say about the desa, and how the desa
    numbers and prints its letters."""

    __tablename__ = "desa_profile"

    code: str = Field(primary_key=True)  # Kemendagri code, e.g. 32.13.11.2004
    name: str
    kecamatan: str
    kabupaten: str
    address: str
    kode_pos: str
    # The office's contacts, printed on the kop surat when given.
    phone: str = ""
    email: str = ""
    kades_name: str
    sekdes_name: str = ""
    # NIP, where the official has one (a PNS Sekdes; a Kades usually has none): printed under
    # the name in the signature block.
    kades_nip: str = ""
    sekdes_nip: str = ""
    # Image file (SVG or PNG) under the signing service's assets folder; no logo when None.
    logo_file: str | None = None
    paper: str = "F4"  # F4 (215 x 330 mm) or A4
    # Nomor surat template (see numbering.NUMBER_FIELDS); None: the default format.
    number_format: str | None = None
    # Letter type code -> kode klasifikasi, where the desa departs from the default.
    kode_klasifikasi: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    # The maklumat pelayanan (Permenpan-RB 15/2014) as the desa wrote it, a template with
    # {desa}, {kecamatan}, {kabupaten} and {kades} (desa_profile.maklumat_text); "": the default.
    maklumat_pelayanan: str = ""
    # Who last changed the profile (a staff username) and when; letters issued afterwards
    # follow the change, letters issued before keep what they were signed with.
    updated_by: str = ""
    updated_at: datetime | None = None


class DesaOfficial(SQLModel, table=True):
    """A desa official by staff username: the name printed when they sign (e.g. a Plt)."""

    __tablename__ = "desa_official"

    desa_code: str = Field(primary_key=True)
    username: str = Field(primary_key=True)
    name: str
    nip: str = ""


class NumberCounter(SQLModel, table=True):
    """The last nomor urut given per desa, kode klasifikasi and year (the sequence resets yearly)."""

    __tablename__ = "number_counter"

    desa_code: str = Field(primary_key=True)
    kode_klasifikasi: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    value: int = 0


class LetterStatus(StrEnum):
    ISSUING = "issuing"  # number reserved, PDF not yet signed and recorded
    VALID = "valid"
    REVOKED = "revoked"


class Letter(SQLModel, table=True):
    """The register of issued letters."""

    __tablename__ = "letter"
    __table_args__ = (
        UniqueConstraint("desa_code", "kode_klasifikasi", "year", "sequence"),
        # Per desa: a desa's number format need not contain the desa code.
        UniqueConstraint("desa_code", "number"),
    )

    id: str = Field(primary_key=True)  # uuid4
    application_id: str = Field(unique=True)
    desa_code: str = Field(index=True)
    letter_type: str
    kode_klasifikasi: str
    year: int
    sequence: int
    number: str
    # Printed in the QR code; random (never derived from ids) so letters cannot be enumerated.
    verification_code: str = Field(unique=True)
    signer_role: str
    template_version: str
    # For the register (buku agenda surat keluar): perihal/keperluan, tujuan.
    purpose: str = ""
    addressee: str = ""
    sha256: str | None = Field(default=None, index=True)  # of the signed PDF
    pdf_path: str | None = None
    status: str = LetterStatus.ISSUING.value
    issued_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # Who signed: the staff member, "a.n." whom, as Plt or not, and the name printed under the
    # signature (composition.signature_of_letter makes the jabatan lines from these).
    signer_username: str = ""
    on_behalf_of_role: str = ""
    signer_is_plt: bool = False
    signer_name: str = ""
    # The resident's NIK as the verification page may show it (************0001).
    nik_masked: str = ""
    # The resident's initials as the verification page shows them ("A. S." for Ani Suryani):
    # enough for the holder of the letter to match it, not a name.
    holder_initials: str = ""
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revocation_reason: str | None = None
    # A letter that goes through the kecamatan: the kecamatan's register number (its own
    # gap-free sequence, numbering.allocate_number keyed by the kecamatan code) and when the
    # camat's "mengetahui" signature was added (then the PDF is `<id>.mengetahui.pdf`).
    kecamatan_code: str = ""
    kecamatan_register: str = ""
    kecamatan_approved_at: datetime | None = None

    @property
    def issued(self) -> bool:
        """Out of the signers' hands: every signature it needs is on it. A letter through the
        kecamatan certified by the desa but not yet approved by the camat (a BSrE camat whose
        passphrase was refused) is not: no download, no verification page, no agenda entry."""
        if self.status == LetterStatus.ISSUING.value:
            return False
        return not self.kecamatan_code or self.kecamatan_approved_at is not None


class LetterTypeVersion(SQLModel, table=True):
    """One published version of a letter type of the kabupaten's catalogue (catalogue/store.py).
    Never changed or deleted: a letter names the version it was rendered from
    (Letter.template_version, "<code>-v<version>"), so it can be rendered again from it."""

    __tablename__ = "letter_type_version"

    code: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    definition_json: str  # the definition in the catalogue file's shape (JSON)
    sha256: str  # of definition_json
    published_at: datetime = Field(default_factory=utcnow)
    # "seed" for the repository's files; otherwise who published it (a kabupaten operator).
    published_by: str


class LetterTypeDraft(SQLModel, table=True):
    """A draft in the editor, kept as typed (checked or not) until published or discarded: the
    kabupaten's draft of a whole type (desa_code ""), or a desa's draft of its override."""

    __tablename__ = "letter_type_draft"

    code: str = Field(primary_key=True)
    desa_code: str = Field(primary_key=True)  # "": the kabupaten's
    draft_json: str
    saved_by: str
    saved_at: datetime = Field(default_factory=utcnow)


class LetterTypeOverride(SQLModel, table=True):
    """One published version of a desa's wording of a type's body blocks (catalogue/store.py).
    Never changed or deleted: a letter issued with it records it in its template_version."""

    __tablename__ = "letter_type_override"

    desa_code: str = Field(primary_key=True)
    code: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    base_version: int  # the kabupaten version it was written against
    body_json: str  # {"body": [...]} canonical; "": back to the kabupaten's wording
    sha256: str
    published_at: datetime = Field(default_factory=utcnow)
    published_by: str


class InstalledSigner(SQLModel, table=True):
    """A signer's certificate and key installed at runtime by a kabupaten operator
    (signer_install.py). The database is where replicas and restarts find them; each process
    lays them out in its PKI folder, where the signing workers read them."""

    __tablename__ = "installed_signer"

    desa_code: str = Field(primary_key=True)
    role: str = Field(primary_key=True)  # kades | sekdes
    certificate_pem: str
    # PKCS#8 PEM, encrypted with the signing key password when one is configured (production
    # refuses to store a key without it).
    key_pem: str
    fingerprint: str  # SHA-256 of the certificate (DER), hex
    serial: str  # hex
    not_after: datetime
    installed_by: str
    installed_at: datetime = Field(default_factory=utcnow, index=True)
    # The holder's name as printed beside the signature (the camat's approval stamp: from the
    # camat account in verification); "" for desa signers, whose names are in the desa profile.
    signer_name: str = ""


class RemoteSigner(SQLModel, table=True):
    """A signer marked by a kabupaten operator as signing through BSrE (signer_install.py): no
    key here, only the NIK BSrE knows their certificate by. Today only a kecamatan's camat (its
    code in `desa_code`); it overrides the kecamatan's `signing_signers` setting."""

    __tablename__ = "remote_signer"

    desa_code: str = Field(primary_key=True)
    role: str = Field(primary_key=True)  # camat
    kind: str  # bsre
    nik: str  # never logged
    installed_by: str
    installed_at: datetime = Field(default_factory=utcnow, index=True)
    signer_name: str = ""


TABLES: list[type[SQLModel]] = [
    DesaProfile,
    DesaOfficial,
    NumberCounter,
    Letter,
    OutboxEvent,
    LetterTypeVersion,
    LetterTypeDraft,
    LetterTypeOverride,
    InstalledSigner,
    RemoteSigner,
]
