"""The WhatsApp conversation workflow: one per number that writes to the desa's WhatsApp
Business number, holding where the chat stands (who writes, the letter being requested, its
answers and syarat) durably across restarts. docs/whatsapp.md, docs/design.md."""

WORKFLOW_NAME = "WhatsAppConversation"
SIGNAL_INBOUND = "inbound"
SIGNAL_OFFICE_ANSWER = "office_answer"
QUERY_STATE = "state"

ACTIVITY_IDENTIFY = "chat_identify"
ACTIVITY_LETTER_TYPES = "chat_letter_types"
ACTIVITY_REGISTER_SUMMARY = "chat_register_summary"
ACTIVITY_CHECK_FIELD = "chat_check_field"
ACTIVITY_FETCH_MEDIA = "chat_fetch_media"
ACTIVITY_SUBMIT = "chat_submit"
ACTIVITY_STATUS = "chat_status"
ACTIVITY_SEND = "chat_send"
ACTIVITY_TO_OFFICE = "chat_to_office"
ACTIVITY_EXPECT_SECRET = "chat_expect_secret"  # noqa: S105 (an activity name)
ACTIVITY_LINK = "chat_link"
ACTIVITY_KEPT = "chat_kept_documents"
ACTIVITY_CANCELLABLE = "chat_cancellable"
ACTIVITY_CANCEL_APPLICATION = "chat_cancel_application"
ACTIVITY_REVISABLE = "chat_revisable"
ACTIVITY_REVISE = "chat_revise"
ACTIVITY_DROP_MEDIA = "chat_drop_media"
ACTIVITY_CORRECTABLE = "chat_correctable_fields"
ACTIVITY_REQUEST_CORRECTION = "chat_request_correction"


def workflow_id(key: str) -> str:
    """`key` is the number's keyed hash (services/notification/chat.py): no phone number in
    Temporal, and the same number always reaches the same conversation."""
    return f"wa-chat-{key}"


def task_queue(base: str) -> str:
    """The notification service polls this queue (it owns the number and the Cloud API)."""
    return f"{base}.whatsapp"
