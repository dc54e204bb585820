"""Intake's tables for the duties of a public service (UU 25/2009): the satisfaction survey of
Permenpan-RB 14/2017 and complaints (pengaduan). docs/public-duties.md.

Survey answers are anonymous by construction: `SurveyAnswer` holds the desa, the letter type,
the month and the scores, and nothing that leads to a resident, an application or a moment
(no timestamp, a random id). `SurveyLinkUsed` only says that an application's link was used, so
it cannot be used twice; nothing joins the two.
"""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from common.db import utcnow


def _new_id() -> str:
    return str(uuid.uuid4())


class SurveyAnswer(SQLModel, table=True):
    __tablename__ = "survey_answer"

    id: str = Field(default_factory=_new_id, primary_key=True)  # random: no order to follow
    desa_code: str = Field(index=True)
    letter_type: str
    period: str = Field(index=True)  # "YYYY-MM" in WIB, when answered
    u1: int
    u2: int
    u3: int
    u4: int
    u5: int
    u6: int
    u7: int
    u8: int
    u9: int
    comment: str = ""  # free text; shown to staff with no date and no resident


class SurveyLinkUsed(SQLModel, table=True):
    """An application whose survey link was answered: the link is single use."""

    __tablename__ = "survey_link_used"

    application_id: str = Field(primary_key=True)


class Complaint(SQLModel, table=True):
    """One complaint. What happened to it is in `ComplaintEntry` (append-only); the columns
    here other than `status` never change after filing, and `status` follows the entries."""

    __tablename__ = "complaint"

    id: str = Field(default_factory=_new_id, primary_key=True)
    tracking_number: str = Field(unique=True, index=True)  # "ADU-XXXX-XXXX", no personal data
    secret_hash: str  # sha256 of the secret the complainant was shown once
    desa_code: str = Field(index=True)
    kabupaten_code: str = Field(index=True)
    subject: str  # "layanan" (the service in general) or "permohonan" (one application)
    letter_type: str = ""
    application_reference: str = ""  # an application number as the complainant typed it
    body: str  # personal data possible: never logged, never in an event
    resident_id: str | None = Field(default=None, index=True)  # signed in when filing
    attachment_name: str = ""  # stored file name under the complaint's folder ("" none)
    attachment_type: str = ""
    status: str = Field(default="diterima", index=True)  # diterima, diteruskan, dijawab
    filed_at: datetime = Field(default_factory=utcnow)
    deadline_at: datetime


class ComplaintEntry(SQLModel, table=True):
    """Who saw and did what to a complaint, when: rows are only ever added."""

    __tablename__ = "complaint_entry"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: str = Field(foreign_key="complaint.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    kind: str  # filed, seen, escalated, answered
    actor: str  # staff username, "pelapor" or "sistem"
    actor_role: str = ""
    actor_desa: str = ""  # the staff member's desa; "" for kabupaten accounts and the system
    text: str = ""  # the answer (kind answered)


DUTY_TABLES: list[type[SQLModel]] = [SurveyAnswer, SurveyLinkUsed, Complaint, ComplaintEntry]
