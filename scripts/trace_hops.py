"""Where the decision-to-next-inbox time goes, hop by hop (a tool, not a test).

Reads what `python -m scripts.bench_journeys --trace FILE` left: FILE (the bench's decisions,
notices and fetches) and FILE's `.spans` folder (every process's spans, common/tracing.py). For
each decision that opens a next step it lays out, from the click:

    click -> update     the staff API before it asks Temporal (HTTP, sign-in, checks)
    update -> progress  Temporal: the Update reaches the workflow, which starts the local
                        activity recording the decision
    decided rpc         RecordProgress(decided) in intake, as the worker sees it
    workflow            from that answer to the next RecordProgress (the next step)
    assigned rpc        RecordProgress(step_assigned), as the worker sees it
    relay               intake's commit of it to the outbox relay's publish
    publish             the publish to JetStream, until its ack
    queue               the ack to the task projection starting on it (NATS, and the events
                        queued before it)
    apply               the projection applying it (and telling the inbox pages)
    to fetch            from there to the start of the fetch that lists the task
    fetch               that fetch

and prints p50 and p95 of each, and of the sum (the bench's decision_to_inbox).

    python -m scripts.trace_hops FILE
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

Span = dict[str, Any]

HOPS = (
    "click -> update",
    "update -> progress",
    "decided rpc",
    "workflow",
    "assigned rpc",
    "relay",
    "publish",
    "queue",
    "apply",
    "to fetch",
    "fetch",
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def load_spans(folder: Path) -> list[Span]:
    spans = []
    for path in folder.glob("*.jsonl"):
        service = path.name.split("-")[0]
        for line in path.read_text().splitlines():
            if line.strip():
                span = json.loads(line)
                span["service"] = service
                spans.append(span)
    return spans


def hops(trace_file: Path) -> list[dict[str, float]]:
    records = [json.loads(line) for line in trace_file.read_text().splitlines() if line.strip()]
    spans = load_spans(trace_file.with_suffix(".spans"))
    by_id = {s["span"]: s for s in spans}

    def workflow_of(span: Span) -> str | None:
        seen = 0
        while span is not None and seen < 20:
            if span.get("workflow"):
                return str(span["workflow"])
            span = by_id.get(span.get("parent") or "")  # type: ignore[assignment]
            seen += 1
        return None

    def parent(span: Span | None) -> Span | None:
        return None if span is None else by_id.get(span.get("parent") or "")

    # Per workflow: each event's publish span, in order, by event name.
    published: dict[str, dict[str, list[Span]]] = defaultdict(lambda: defaultdict(list))
    processed: dict[str, Span] = {}  # publish span id -> the verification projection's span
    for span in spans:
        name = span["name"]
        if span["service"] == "intake" and name.endswith(" publish"):
            workflow = workflow_of(span)
            if workflow:
                published[workflow][name.removesuffix(" publish")].append(span)
        elif span["service"] == "verification" and name.endswith(" process"):
            processed[span.get("parent") or ""] = span
    updates = {
        s["trace"]: s
        for s in spans
        if s["service"] == "verification" and s["name"] == "StartWorkflowUpdate:decide"
    }
    fetches = [r for r in records if r["kind"] == "fetch"]
    rows = []
    for decision in (r for r in records if r["kind"] == "decide" and r.get("trace")):
        step, workflow = decision["step"], f"surat-{decision['app']}"
        events = published.get(workflow, {})
        decided = events.get("application.decided", [])
        assigned = events.get("application.step_assigned", [])
        if len(decided) <= step or len(assigned) <= step + 1:
            continue  # the last step: the letter is issued, no next inbox
        update = updates.get(decision["trace"])
        pub_d, pub_a = sorted(decided, key=lambda s: s["start"])[step], None
        pub_a = sorted(assigned, key=lambda s: s["start"])[step + 1]
        rpc_a = parent(pub_a)  # intake's RecordProgress
        activity_a = parent(parent(rpc_a))  # the worker's RunActivity
        activity_d = parent(parent(parent(pub_d)))
        process = processed.get(pub_a["span"])
        key = [decision["app"], step + 1]
        listing = next((f for f in fetches if key in f["new"]), None)
        if None in (update, rpc_a, activity_a, activity_d, process, listing):
            continue
        assert update and rpc_a and activity_a and activity_d and process and listing
        sent = decision["sent"]
        row = {
            "click -> update": update["start"] - sent,
            "update -> progress": activity_d["start"] - update["start"],
            "decided rpc": activity_d["end"] - activity_d["start"],
            "workflow": activity_a["start"] - activity_d["end"],
            "assigned rpc": activity_a["end"] - activity_a["start"],
            "relay": pub_a["start"] - rpc_a["end"],
            "publish": pub_a["end"] - pub_a["start"],
            "queue": process["start"] - pub_a["end"],
            "apply": process["end"] - process["start"],
            "to fetch": listing["start"] - process["end"],
            "fetch": listing["end"] - listing["start"],
        }
        # The activity's answer reaches the worker after intake commits: the relay may start
        # before it; the hops still add up to the whole.
        row["total"] = listing["end"] - sent
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("trace", type=Path, help="the FILE of bench_journeys --trace FILE")
    args = parser.parse_args()
    rows = hops(args.trace)
    print(f"{len(rows)} decisions with a next step, ms")
    print(f"  {'hop':<20} {'p50':>7} {'p95':>7} {'mean':>7}")
    for hop in (*HOPS, "total"):
        values = [1000 * r[hop] for r in rows]
        mean = sum(values) / len(values) if values else float("nan")
        print(
            f"  {hop:<20} {_percentile(values, 0.5):>7.0f} "
            f"{_percentile(values, 0.95):>7.0f} {mean:>7.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
