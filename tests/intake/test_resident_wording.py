"""Every message a resident can receive has its counterpart on the portal's application page:
the application is driven, through intake's real gRPC service, into the state each message
reports, and the line the message quotes (common.domain.resident_wording, rendered with what
the message carries) must be on the page in the same words.

It imports notification's templates beside intake's pages: the two never import each other,
and this test is what holds them to one wording."""

import html
import re
import string
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from smartdesa.v1 import intake_pb2, intake_pb2_grpc

from common.domain import resident_wording as say
from common.domain.events import (
    APPLICATION_CANCELLED,
    APPLICATION_DECIDED,
    APPLICATION_ESCALATED,
    APPLICATION_EXPIRED,
    APPLICATION_REJECTED,
    APPLICATION_RESUBMITTED,
    APPLICATION_REVISION_REQUESTED,
    APPLICATION_STEP_ASSIGNED,
    APPLICATION_SUBMITTED,
    LETTER_ISSUED,
    LETTER_REVOKED,
)
from common.wib import wib_datetime
from services.intake.applications import record_submission
from services.intake.duties_models import SurveyLinkUsed
from services.intake.models import LetterApplication
from services.intake.numbering import assign_number
from services.notification import templates as t
from tests.docs.support import DOCS
from tests.intake.conftest import Intake

DEADLINE = datetime(2026, 7, 21, 9, 0, tzinfo=UTC)
REASON = "Foto KTP buram"
LETTER_NUMBER = "470/004/2004/VII/2026"


def _ts(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def quoted_lines(group: t.EventTemplates) -> list[str]:
    """The wording lines (patterns) the group's WhatsApp text quotes; each must be there."""
    assert group.whatsapp is not None
    return [line for line in say.LINES if line in group.whatsapp.body]


def page_text(body: str) -> str:
    """The page's words: tags dropped, entities read, whitespace as single spaces."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


class Walk:
    """One application of Ani's, moved along by RecordProgress as the workflow would."""

    def __init__(self, intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub) -> None:
        self.intake, self.stub = intake, stub
        self.sequence = 0

    async def start(self) -> None:
        self.headers = await self.intake.sign_in()
        self.application_id = await self.intake.create_application(self.headers)
        now = datetime.now(UTC)
        async with self.intake.runtime.sessions() as session:
            application = await session.get(LetterApplication, self.application_id)
            assert application is not None
            self.number = await assign_number(session, application, now)
            assert await record_submission(session, self.application_id, now)

    async def progress(self, event: str, status: str, **fields: object) -> None:
        self.sequence += 1
        await self.stub.RecordProgress(
            intake_pb2.RecordProgressRequest(
                application_id=self.application_id,
                sequence=self.sequence,
                event=event,
                status=status,
                occurred_at=_ts(datetime.now(UTC) + timedelta(seconds=self.sequence)),
                **fields,  # type: ignore[arg-type]
            )
        )

    async def page(self) -> str:
        r = await self.intake.http.get(f"/permohonan/{self.application_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return page_text(r.text)

    def values(self, **extra: str) -> dict[str, str]:
        """What notification fills the message with (rules._tell_applicant)."""
        return {
            "number": self.number,
            "letter_type": "Surat Keterangan Domisili",
            "page": f"https://warga.example/permohonan/{self.application_id}",
            "portal": "https://warga.example/permohonan",
            "deadline": wib_datetime(DEADLINE),
            "reason": say.reason_text(REASON),
            "role": "",
            "letter_number": LETTER_NUMBER,
            "link": "https://warga.example/unduh",
            "link_expires": wib_datetime(DEADLINE),
            **extra,
        }


def _step(index: int, role: str) -> intake_pb2.StepRef:
    return intake_pb2.StepRef(index=index, role=role)


async def _reach(walk: Walk, event: str) -> dict[str, str]:
    """Moves a fresh application into the state `event` reports; the message's values."""
    await walk.start()
    if event == APPLICATION_SUBMITTED:
        return walk.values()
    await walk.progress(
        APPLICATION_STEP_ASSIGNED, "in_review", current_step=_step(0, "kasi_pemerintahan")
    )
    if event == APPLICATION_REVISION_REQUESTED:
        await walk.progress(
            event,
            "revision_requested",
            actor_role="kasi_pemerintahan",
            decision="revise",
            reason=REASON,
            deadline=_ts(DEADLINE),
        )
        return walk.values(role="Kasi Pemerintahan")
    if event == APPLICATION_REJECTED:
        await walk.progress(
            event, "rejected", actor_role="kasi_pemerintahan", decision="reject", reason=REASON
        )
        return walk.values(role="Kasi Pemerintahan")
    if event == APPLICATION_EXPIRED:
        await walk.progress(
            APPLICATION_REVISION_REQUESTED,
            "revision_requested",
            actor_role="kasi_pemerintahan",
            decision="revise",
            reason=REASON,
        )
        await walk.progress(event, "expired")
        return walk.values()
    await walk.progress(
        APPLICATION_DECIDED, "in_review", actor_role="kasi_pemerintahan", decision="approve"
    )
    await walk.progress(
        APPLICATION_STEP_ASSIGNED,
        "in_review",
        current_step=_step(1, "sekdes"),
        deadline=_ts(DEADLINE),
    )
    if event == APPLICATION_STEP_ASSIGNED:
        return walk.values(role="Sekretaris Desa")
    if event == APPLICATION_ESCALATED:
        await walk.progress(
            event,
            "in_review",
            current_step=_step(1, "sekdes"),
            escalated_to_role="kades",
            escalation_level=1,
        )
        return walk.values(role="Sekretaris Desa")
    await walk.progress(APPLICATION_DECIDED, "in_review", actor_role="sekdes", decision="approve")
    await walk.progress(
        LETTER_ISSUED,
        "issued",
        letter=intake_pb2.LetterRef(letter_id="surat-1", number=LETTER_NUMBER),
    )
    return walk.values()


MESSAGES = [
    pytest.param(
        event,
        group,
        id=group.inapp.name.removesuffix(".inapp"),
        # Intake never hears of a revocation (signing publishes it; nothing reports it to
        # intake), so the page cannot show it yet.
        marks=[pytest.mark.xfail(strict=True, reason="intake does not record revocations")]
        if event == LETTER_REVOKED
        else [],
    )
    for event, groups in t.TO_RESIDENT.items()
    for group in groups
]


def test_every_resident_message_quotes_the_shared_wording() -> None:
    for _, groups in t.TO_RESIDENT.items():
        for group in groups:
            assert quoted_lines(group), f"{group.inapp.name} quotes no resident_wording line"


@pytest.mark.parametrize(("event", "group"), MESSAGES)
async def test_every_message_has_its_words_on_the_page(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub, event: str, group: t.EventTemplates
) -> None:
    walk = Walk(intake, stub)
    values = await _reach(walk, event)
    assert group.whatsapp is not None
    _, message = group.whatsapp.render(**values)
    page = await walk.page()
    for pattern in quoted_lines(group):
        needed = {f for _, f, _, _ in string.Formatter().parse(pattern) if f}
        line = pattern.format(**{k: values[k] for k in needed})
        assert line in message
        assert line in page, f"{line!r} not on the page for {event}"


# In the app only: the resident's own acts and each step approved. Each quotes a wording line
# too, the timeline's.
IN_APP_ONLY: dict[str, t.EventTemplates] = {
    APPLICATION_DECIDED: t.DECIDED,
    APPLICATION_RESUBMITTED: t.RESUBMITTED,
    APPLICATION_CANCELLED: t.CANCELLED,
}


def _to_applicant_in_docs() -> set[str]:
    """The template names docs/messages.md lists as going to the applicant."""
    names = set()
    for row in (DOCS / "messages.md").read_text().splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[1].startswith("the applicant"):
            found = re.match(r"`([\w.]+)`", cells[3])
            assert found is not None, row
            names.add(found[1])
    return names


async def test_the_survey_invitation_is_on_the_page_with_the_same_survey(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub
) -> None:
    """Once the letter is issued the message asks for the survey; the page asks in the same
    words and its button opens the same single-use survey, until it is answered."""
    walk = Walk(intake, stub)
    await _reach(walk, LETTER_ISSUED)
    assert t.SURVEY_INVITATION.whatsapp is not None
    _, message = t.SURVEY_INVITATION.whatsapp.render(
        number=walk.number, survey_link="https://warga.example/survei/x", survey_expires="-"
    )
    page = await walk.page()
    assert say.SURVEY_ASK in message and say.SURVEY_TITLE in page and say.SURVEY_ASK in page
    r = await intake.http.get(f"/permohonan/{walk.application_id}", headers=walk.headers)
    found = re.search(r'href="(/survei/[^"]+)">Isi survei<', r.text)
    assert found is not None
    survey = await intake.http.get(html.unescape(found[1]))
    assert survey.status_code == 200 and "Survei kepuasan" in survey.text
    async with intake.runtime.sessions() as session:
        session.add(SurveyLinkUsed(application_id=walk.application_id))
        await session.commit()
    assert say.SURVEY_ASK not in await walk.page()  # answered: asked no more


def test_every_message_to_the_resident_in_the_docs_has_its_page_test() -> None:
    """docs/messages.md is the list of what a resident can receive: each of its messages is
    one whose words this module finds on the page (the parametrized tests here)."""
    covered = {
        template.name
        for groups in [
            *t.TO_RESIDENT.values(),
            *([g] for g in IN_APP_ONLY.values()),
            [t.SURVEY_INVITATION],  # test_the_survey_invitation_is_on_the_page_...
        ]
        for group in groups
        for template in (group.inapp, group.whatsapp, group.sms, group.email)
        if template is not None
    }
    listed = _to_applicant_in_docs()
    assert len(listed) > 20
    assert listed <= covered, sorted(listed - covered)


async def _acknowledged(walk: Walk, event: str) -> dict[str, str]:
    await walk.start()
    await walk.progress(
        APPLICATION_STEP_ASSIGNED, "in_review", current_step=_step(0, "kasi_pemerintahan")
    )
    if event == APPLICATION_DECIDED:
        await walk.progress(event, "in_review", actor_role="kasi_pemerintahan", decision="approve")
        return walk.values(role="Kasi Pemerintahan")
    if event == APPLICATION_RESUBMITTED:
        await walk.progress(
            APPLICATION_REVISION_REQUESTED,
            "revision_requested",
            actor_role="kasi_pemerintahan",
            decision="revise",
            reason=REASON,
        )
        await walk.progress(event, "in_review")
        return walk.values()
    await walk.progress(event, "cancelled")
    return walk.values()


@pytest.mark.parametrize("event", list(IN_APP_ONLY))
async def test_every_in_app_acknowledgement_has_its_words_on_the_page(
    intake: Intake, stub: intake_pb2_grpc.IntakeServiceStub, event: str
) -> None:
    walk = Walk(intake, stub)
    values = await _acknowledged(walk, event)
    _, message = IN_APP_ONLY[event].inapp.render(**values)
    lines = [line for line in say.LINES if line in IN_APP_ONLY[event].inapp.body]
    assert lines, f"{event}: the in-app message quotes no wording line"
    page = await walk.page()
    for pattern in lines:
        needed = {f for _, f, _, _ in string.Formatter().parse(pattern) if f}
        line = pattern.format(**{k: values[k] for k in needed})
        assert line in message
        assert line in page, f"{line!r} not on the page for {event}"
