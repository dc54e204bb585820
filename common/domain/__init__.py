"""The words every service shares: roles, application statuses, decisions, signer kinds, event
names. Pure: it imports nothing with I/O, so the approval workflow (which must stay
deterministic) and every service image carry the same one definition.

Members are `StrEnum`s: each equals its string value, so they go into databases, protobuf
fields, JSON and Temporal payloads as the plain strings they always were.
"""

from common.domain.decisions import ApprovalErrorCode, DecidedAs, Decision
from common.domain.roles import (
    DESA_ROLES,
    KABUPATEN_ROLES,
    KECAMATAN_ROLES,
    MANAGER_ROLES,
    RETRY_ISSUE_ROLES,
    ROLE_LABELS,
    SIGNER_ROLES,
    Role,
    is_kecamatan_role,
    rank,
    role_label,
    supervisor_of,
    who_may_sign,
)
from common.domain.signers import SignerKind
from common.domain.statuses import FINAL_STATUSES, ApplicationStatus

__all__ = [
    "DESA_ROLES",
    "FINAL_STATUSES",
    "KABUPATEN_ROLES",
    "KECAMATAN_ROLES",
    "MANAGER_ROLES",
    "RETRY_ISSUE_ROLES",
    "ROLE_LABELS",
    "SIGNER_ROLES",
    "ApplicationStatus",
    "ApprovalErrorCode",
    "DecidedAs",
    "Decision",
    "Role",
    "SignerKind",
    "is_kecamatan_role",
    "rank",
    "role_label",
    "supervisor_of",
    "who_may_sign",
]
