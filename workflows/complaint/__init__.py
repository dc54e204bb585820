"""The complaint workflow: one per complaint (pengaduan), waiting for its answer and escalating
it to the kabupaten when the deadline passes. docs/public-duties.md."""

WORKFLOW_NAME = "ComplaintWorkflow"
SIGNAL_ANSWERED = "answered"
QUERY_STATE = "state"
ACTIVITY_ESCALATE = "escalate_complaint"


def workflow_id(complaint_id: str) -> str:
    """From the complaint's id only (no personal data), so starting twice starts one."""
    return f"pengaduan-{complaint_id}"


def task_queue(approval_task_queue: str) -> str:
    """The approval worker's process polls this queue too (workflows/complaint/worker.py)."""
    return f"{approval_task_queue}.pengaduan"
