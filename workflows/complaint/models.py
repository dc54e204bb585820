"""The complaint workflow's input and state: ids and times only, no personal data (the
complaint's text stays in intake)."""

from dataclasses import dataclass


@dataclass
class ComplaintInput:
    complaint_id: str
    deadline: str  # ISO 8601 with offset: intake computed it in working hours at filing


@dataclass
class ComplaintState:
    answered: bool
    escalated: bool
