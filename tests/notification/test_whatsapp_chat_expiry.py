"""A conversation left halfway is remembered for days, then dropped with a message: on
Temporal's time-skipping test server, so the days pass at once. Three days after the resident's
last message the 24-hour window has closed, so the message goes as its approved template."""

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from services.notification.chat import conversation_key
from services.notification.runtime import chat_secret
from tests.notification.chat_support import (
    Chat,
    body_of,
    button,
    chat_overrides,
    choice_ids,
    clock_from,
    cloud_server,
    register_resident,
    text,
)
from tests.notification.conftest import Service
from tests.notification.providers import FakeWhatsAppCloud
from tests.support.waiting import eventually
from workflows.conversation import workflow_id
from workflows.conversation.models import ChatState

PHONE = "6281322223333"


@pytest.fixture(scope="module")
def whatsapp_cloud() -> Iterator[tuple[FakeWhatsAppCloud, str]]:
    yield from cloud_server()


@pytest.fixture
def service_overrides(
    whatsapp_cloud: tuple[FakeWhatsAppCloud, str], time_skipping_env: WorkflowEnvironment
) -> dict[str, object]:
    return chat_overrides(whatsapp_cloud[1], time_skipping_env)


@pytest.fixture(autouse=True)
def wall_clock_after() -> Iterator[None]:
    """The other chat tests' messages carry the wall clock again (their server's)."""
    yield
    clock_from(int(time.time()))


async def test_a_request_left_halfway_expires_with_a_template_message(
    service: Service,
    whatsapp_cloud: tuple[FakeWhatsAppCloud, str],
    time_skipping_env: WorkflowEnvironment,
) -> None:
    cloud, _ = whatsapp_cloud
    cloud.requests.clear()
    register_resident(service.peers, PHONE)
    clock_from(int((await time_skipping_env.get_current_time()).timestamp()))
    chat = Chat(service, cloud, PHONE)
    [menu] = await chat.say(text(PHONE, "Halo"))
    [types] = await chat.say(button(PHONE, choice_ids(menu)["Ajukan surat"]))
    assert types["type"] == "interactive"  # within the window: free-form

    key = conversation_key(chat_secret(service.settings), PHONE)
    handle = time_skipping_env.client.get_workflow_handle(workflow_id(key), result_type=ChatState)
    # Just before the third day nothing has happened; past it, the request is dropped.
    await time_skipping_env.sleep(timedelta(days=3) - timedelta(minutes=5))
    state = await handle.query("state", result_type=ChatState)
    assert (state.stage, len(chat.replies())) == ("type", 2)
    await time_skipping_env.sleep(timedelta(minutes=10))
    await eventually(lambda: len(chat.replies()) == 3, "the expiry message")
    # Three more quiet days and the conversation ends.
    await time_skipping_env.sleep(timedelta(days=3))
    state = await handle.result()

    assert state.stage == "menu" and state.letter is None
    expired = chat.replies()[-1]
    assert expired["type"] == "template"
    assert expired["template"]["name"] == "smartdesa_chat_expired_v1"
    assert expired["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "3"}]}
    ]
    assert len(chat.replies()) == 3
    # The resident writes again (six days on): a new conversation, which knows the number
    # again, and the window is open again.
    hello = text(PHONE, "Halo")
    hello["timestamp"] = str(int((await time_skipping_env.get_current_time()).timestamp()))
    [again] = await chat.say(hello)
    assert "Halo, Asep" in body_of(again)
    # The time-skipping server is shared: a conversation left running with nobody to work on
    # it would hold its clock still for the tests after this one.
    await time_skipping_env.client.get_workflow_handle(workflow_id(key)).terminate()
