"""Who acts: the roles held in a desa and in the kabupaten, how they are named to people, who
supervises whom (escalation), and their rank (who may act for whom)."""

from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    KASI_PEMERINTAHAN = "kasi_pemerintahan"
    KASI_KESRA = "kasi_kesra"
    KASI_PELAYANAN = "kasi_pelayanan"
    SEKDES = "sekdes"
    KADES = "kades"
    # Diskominfo of the kabupaten: no desa; told of second escalations and stuck letters.
    KABUPATEN_OPERATOR = "kabupaten_operator"
    # DPMD of the kabupaten: the same kabupaten view, read-only, never an escalation target.
    KABUPATEN_VIEWER = "kabupaten_viewer"
    # The kecamatan (staff with kecamatan_code, no desa): the kasi pelayanan checks first, the
    # sekcam next, the camat signs "mengetahui". Named apart from the desa's kasi_pelayanan, so
    # a route step says which office it belongs to.
    KASI_PELAYANAN_KECAMATAN = "kasi_pelayanan_kecamatan"
    SEKCAM = "sekcam"
    CAMAT = "camat"
    # Not a staff role: who waits while the resident fixes the application (AssigneeRole).
    RESIDENT = "pemohon"


# Roles held in a desa, lowest first; a route's steps and signer are drawn from these.
DESA_ROLES: tuple[Role, ...] = (
    Role.OPERATOR,
    Role.KASI_PEMERINTAHAN,
    Role.KASI_KESRA,
    Role.KASI_PELAYANAN,
    Role.SEKDES,
    Role.KADES,
)
KABUPATEN_ROLES: tuple[Role, ...] = (Role.KABUPATEN_OPERATOR, Role.KABUPATEN_VIEWER)
# Roles held in a kecamatan, lowest first: a route step in one of these belongs to the kecamatan
# of the letter's desa (its inbox, its staff, its working-time deadline).
KECAMATAN_ROLES: tuple[Role, ...] = (Role.KASI_PELAYANAN_KECAMATAN, Role.SEKCAM, Role.CAMAT)


def is_kecamatan_role(role: str) -> bool:
    return role in KECAMATAN_ROLES


# Who may change the desa's routes, settings and Plt periods.
MANAGER_ROLES: tuple[Role, ...] = (Role.SEKDES, Role.KADES)
# Whose certificates sign letters: a route's signer is one of these.
SIGNER_ROLES: tuple[Role, ...] = (Role.SEKDES, Role.KADES)
# Who may ask to issue a blocked letter again, besides the letter's signer role.
RETRY_ISSUE_ROLES: tuple[Role, ...] = (Role.SEKDES, Role.KADES)


def who_may_sign(signer_role: str) -> list[str]:
    """Who may sign a letter whose signer role is `signer_role` (give the passphrase of a remote
    signature) or ask to issue it again after signing refused it: that role, the Sekdes, the
    Kades. The workflow's validators and verification's checks both use this one rule. The
    camat's "mengetahui" is the camat's own: nobody in the desa signs it for them."""
    if signer_role == Role.CAMAT:
        return [Role.CAMAT]
    return list(dict.fromkeys([signer_role, *RETRY_ISSUE_ROLES]))


# How roles are named to people (pages, messages, letters).
ROLE_LABELS: dict[str, str] = {
    Role.OPERATOR: "Operator Desa",
    Role.KASI_PEMERINTAHAN: "Kasi Pemerintahan",
    Role.KASI_KESRA: "Kasi Kesejahteraan Rakyat",
    Role.KASI_PELAYANAN: "Kasi Pelayanan",
    Role.SEKDES: "Sekretaris Desa",
    Role.KADES: "Kepala Desa",
    Role.KABUPATEN_OPERATOR: "Operator Kabupaten",
    Role.KABUPATEN_VIEWER: "Pemantau Kabupaten",
    Role.KASI_PELAYANAN_KECAMATAN: "Kasi Pelayanan Kecamatan",
    Role.SEKCAM: "Sekretaris Camat",
    Role.CAMAT: "Camat",
    Role.RESIDENT: "pemohon",
}


def role_label(role: str, acting: bool = False) -> str:
    """ "Sekretaris Desa", or "Plt. Sekretaris Desa" for whoever holds it as pelaksana tugas."""
    name = ROLE_LABELS.get(role, role)
    return f"Plt. {name}" if acting else name


# Who is told, and who may decide, when a step's deadline passes: the assignee's supervisor
# (escalation level 1); a second deadline goes to the kabupaten operator (level 2). Whoever a
# step is escalated to may decide it; the kabupaten operator all but the last approval, which
# signs the letter (workflows/approval/rules.py).
SUPERVISOR: dict[str, Role] = {
    Role.OPERATOR: Role.SEKDES,
    Role.KASI_PEMERINTAHAN: Role.SEKDES,
    Role.KASI_KESRA: Role.SEKDES,
    Role.KASI_PELAYANAN: Role.SEKDES,
    Role.SEKDES: Role.KADES,
    Role.KADES: Role.KABUPATEN_OPERATOR,
    Role.KASI_PELAYANAN_KECAMATAN: Role.SEKCAM,
    Role.SEKCAM: Role.CAMAT,
    Role.CAMAT: Role.KABUPATEN_OPERATOR,
}


def supervisor_of(role: str) -> Role:
    """Kasi-level roles a desa adds later answer to the Sekdes like the others."""
    if role in SUPERVISOR:
        return SUPERVISOR[role]
    return Role.SEKDES if role.startswith("kasi_") else Role.KABUPATEN_OPERATOR


_RANK: dict[str, int] = {
    Role.OPERATOR: 0,
    Role.KASI_PEMERINTAHAN: 1,
    Role.KASI_KESRA: 1,
    Role.KASI_PELAYANAN: 1,
    Role.SEKDES: 2,
    Role.KADES: 3,
}


def rank(role: str) -> int:
    """A desa role's seniority (-1 for anything else): a signer signs a.n. a higher role only,
    and a Plt is given only by a role above the one held."""
    return _RANK.get(role, -1)
