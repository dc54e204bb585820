"""The approval workflow: one per application, walking the letter type's route."""

TASK_QUEUE = "letter-approval"
WORKFLOW_NAME = "LetterApprovalWorkflow"


def workflow_id(application_id: str) -> str:
    """Derived from the application id only (no personal data), so starting is idempotent."""
    return f"surat-{application_id}"
