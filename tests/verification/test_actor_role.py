"""Which role a staff member decides in, given the roles they hold now and the open step."""

from datetime import UTC, datetime

import pytest

from common.domain.errors import Forbidden
from services.verification.decisions import actor_role_for
from services.verification.models import Task

pytestmark = pytest.mark.unit


def _task(role: str, supervisor: str = "", escalated_to: str = "") -> Task:
    return Task(
        application_id="a",
        step_index=0,
        role=role,
        desa_code="32.13.11.2004",
        letter_type="SKD",
        assigned_at=datetime(2026, 11, 2, tzinfo=UTC),
        supervisor_role=supervisor,
        escalated_to_role=escalated_to,
        escalation_level=2 if escalated_to == "kabupaten_operator" else 1 if supervisor else 0,
    )


@pytest.mark.parametrize(
    ("own", "held", "task", "expected"),
    [
        # Own role on own step.
        (
            "kasi_pemerintahan",
            ["kasi_pemerintahan"],
            _task("kasi_pemerintahan"),
            "kasi_pemerintahan",
        ),
        # A Kasi Kesra acting as Plt Kasi Pemerintahan on that step.
        (
            "kasi_kesra",
            ["kasi_kesra", "kasi_pemerintahan"],
            _task("kasi_pemerintahan"),
            "kasi_pemerintahan",
        ),
        # The Sekdes on a Kasi step escalated to them.
        ("sekdes", ["sekdes"], _task("kasi_pemerintahan", "sekdes", "sekdes"), "sekdes"),
        # A Plt Sekdes on a Kasi step escalated to the Sekdes, then on to the kabupaten.
        (
            "kasi_kesra",
            ["kasi_kesra", "sekdes"],
            _task("kasi_pemerintahan", "sekdes", "kabupaten_operator"),
            "sekdes",
        ),
        # Nothing matches (or nothing open in the projection yet): own role, the workflow judges.
        ("kades", ["kades"], _task("kasi_pemerintahan"), "kades"),
        ("kades", ["kades"], None, "kades"),
    ],
)
def test_default_role(own: str, held: list[str], task: Task | None, expected: str) -> None:
    assert actor_role_for(own, held, task, None) == expected


def test_act_as_must_be_held_now() -> None:
    task = _task("kasi_pemerintahan")
    held = ["kasi_kesra", "kasi_pemerintahan"]
    assert actor_role_for("kasi_kesra", held, task, "kasi_kesra") == "kasi_kesra"
    with pytest.raises(Forbidden) as refused:
        actor_role_for("kasi_kesra", held, task, "sekdes")
    assert (refused.value.code, refused.value.message) == (
        "role-not-held",
        "Anda tidak sedang memegang peran Sekretaris Desa.",
    )
