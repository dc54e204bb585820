"""Who may decide an escalated step (issue 15, item 7): the kabupaten operator decides the steps
escalated to them (a Kades step past its deadline, any step past its second one), but not the
last approval, which signs the letter under a desa signer's certificate. Pure: the validator's
rule on a hand-built state."""

import pytest
from temporalio.exceptions import ApplicationError

from common.domain import ApplicationStatus, ApprovalErrorCode, Role
from workflows.approval import rules, wording
from workflows.approval.client import named, static_details, static_summary
from workflows.approval.inbox import Inbox
from workflows.approval.models import ApprovalInput, DecisionInput, Route, RouteStep
from workflows.approval.state import LetterState

pytestmark = pytest.mark.unit

PAMANUKAN = "32.13.11.2004"
ROUTE = Route(
    steps=[RouteStep("kasi_pemerintahan"), RouteStep("sekdes"), RouteStep("kades")],
    signer_role="kades",
)


def _letter(step: int, escalation_level: int) -> LetterState:
    return LetterState(
        input=ApprovalInput("a1", PAMANUKAN, "SKD"),
        status=ApplicationStatus.IN_REVIEW,
        route=ROUTE,
        step_index=step,
        escalation_level=escalation_level,
    )


def _decision(step: int, role: str, verdict: str = "approve") -> DecisionInput:
    return DecisionInput(
        request_id="r1",
        decision=verdict,
        step_index=step,
        actor_username="diskominfo.subang" if role == Role.KABUPATEN_OPERATOR else role,
        actor_role=role,
        # Verification vouches for the desa of a task escalated to the kabupaten operator.
        actor_desa_code=PAMANUKAN,
        reason="Berkas tidak lengkap" if verdict != "approve" else "",
    )


def _refusal(letter: LetterState, decision: DecisionInput) -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        rules.check_decision(letter, Inbox(), decision)
    return refused.value


@pytest.mark.parametrize(
    ("step", "level", "may"),
    [
        (0, 0, False),  # not escalated
        (0, 1, False),  # escalated to the Sekdes only
        (0, 2, True),  # a second deadline: to the kabupaten operator
        (1, 2, True),
        (2, 1, True),  # a Kades step escalates to the kabupaten operator at once
    ],
)
def test_the_kabupaten_operator_decides_only_steps_escalated_to_them(
    step: int, level: int, may: bool
) -> None:
    letter = _letter(step, level)
    revise = _decision(step, Role.KABUPATEN_OPERATOR, "revise")
    if may:
        rules.check_decision(letter, Inbox(), revise)
        rules.check_decision(letter, Inbox(), _decision(step, Role.KABUPATEN_OPERATOR, "reject"))
    else:
        assert _refusal(letter, revise).type == ApprovalErrorCode.WRONG_ROLE


def test_the_kabupaten_operator_approves_a_middle_step_but_never_signs() -> None:
    rules.check_decision(_letter(1, 2), Inbox(), _decision(1, Role.KABUPATEN_OPERATOR))
    refused = _refusal(_letter(2, 1), _decision(2, Role.KABUPATEN_OPERATOR))
    assert refused.type == ApprovalErrorCode.WRONG_ROLE
    assert refused.message == wording.KABUPATEN_MAY_NOT_SIGN
    # The Kades themself still may, escalated or not.
    rules.check_decision(_letter(2, 1), Inbox(), _decision(2, Role.KADES))


def test_on_a_kecamatan_route_the_refusal_names_the_signing_step_not_the_last() -> None:
    """The Kades' step signs though it is not the route's last; the camat's step adds the
    camat's "mengetahui": the operator is told which, never "langkah terakhir"."""
    route = Route(
        steps=[*ROUTE.steps, RouteStep("kasi_pelayanan_kecamatan"), RouteStep("camat")],
        signer_role="kades",
    )
    letters = {step: _letter(step, 2) for step in (2, 3, 4)}
    for letter in letters.values():
        letter.route = route
    kades = _refusal(letters[2], _decision(2, Role.KABUPATEN_OPERATOR))
    assert kades.message == wording.KABUPATEN_MAY_NOT_SIGN
    camat = _refusal(letters[4], _decision(4, Role.KABUPATEN_OPERATOR))
    assert camat.type == ApprovalErrorCode.WRONG_ROLE
    assert camat.message == wording.KABUPATEN_MAY_NOT_SIGN_FOR_CAMAT
    for message in (kades.message, camat.message):
        assert "langkah terakhir" not in message
    # The kecamatan's checking step is no signing step: the operator may approve it.
    rules.check_decision(letters[3], Inbox(), _decision(3, Role.KABUPATEN_OPERATOR))


def test_the_summary_line_names_desa_and_kecamatan_never_a_person() -> None:
    approval = named(ApprovalInput("a1", PAMANUKAN, "SKD"))
    assert (approval.desa_name, approval.kecamatan_name) == ("Pamanukan", "Pamanukan")
    assert static_summary(approval) == "SKD · Desa Pamanukan, Kec. Pamanukan"
    details = static_details(approval)
    assert "Desa Pamanukan (32.13.11.2004)" in details
    assert "Kecamatan Pamanukan (32.13.11)" in details
    letter = _letter(0, 0)
    letter.input = approval
    assert wording.summary(letter).startswith("SKD Desa Pamanukan, Kec. Pamanukan: Menunggu ")
    # A desa we do not know keeps its code; a letter started before names keeps its old line.
    unknown = named(ApprovalInput("a2", "99.99.99.9999", "SKD"))
    assert static_summary(unknown) == "SKD · Desa 99.99.99.9999"
    assert wording.summary(_letter(0, 0)).startswith("SKD desa 32.13.11.2004: ")
