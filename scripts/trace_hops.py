"""Where the decision-to-next-inbox time goes, hop by hop (a tool, not a test).

Reads what `python -m scripts.bench_journeys --trace FILE` left: FILE (the bench's decisions,
notices and fetches) and FILE's `.spans` folder (every process's spans, common/tracing.py). For
each decision that opens a next step it lays out, from the click:

    click -> update     the staff API before it asks Temporal (HTTP, sign-in, checks)
    update -> progress  Temporal: the Update reaches the workflow, which starts the local
                        activity recording the decision
    decided rpc         RecordProgress(decided), as the worker sees it (intake holds the
                        event for the next step's hand-over)
    workflow            from that answer to the next RecordProgress (the next step)
    assigned commit     RecordProgress(step_assigned), until intake starts handing it over
    hand-over           intake's TaskInboxService.HandOverEvents (the decision held for it,
                        and the step): verification applies them (waiting for the
                        projection's turn) and tells the inbox pages
    to fetch            from there to the start of the fetch that lists the task
    fetch               that fetch

A step whose event was not handed over (the hand-over failed, was paused or switched off:
services/intake/task_hand_over.py) reached the inbox through JetStream instead; for those,
`hand-over` is replaced by

    relay               intake's commit of it to the outbox relay's publish
    publish             the publish to JetStream, until its ack
    queue               the ack to the task projection starting on it (NATS, and the events
                        queued before it)
    apply               the projection applying it (and telling the inbox pages)

The tool prints p50 and p95 of each hop, and of the sum (the bench's decision_to_inbox),
for each path separately.

    python -m scripts.trace_hops FILE
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

Span = dict[str, Any]

FIRST_HOPS = ("click -> update", "update -> progress", "decided rpc", "workflow")
HAND_OVER_HOPS = (*FIRST_HOPS, "assigned commit", "hand-over", "to fetch", "fetch")
JETSTREAM_HOPS = (
    *FIRST_HOPS,
    "assigned rpc",
    "relay",
    "publish",
    "queue",
    "apply",
    "to fetch",
    "fetch",
)
_RECORD = "/smartdesa.v1.IntakeService/RecordProgress"
_HAND_OVER = "/smartdesa.v1.TaskInboxService/HandOverEvents"


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
    """One row per decision with a next step: the hops of its path (HAND_OVER_HOPS or
    JETSTREAM_HOPS) and `total`."""
    records = [json.loads(line) for line in trace_file.read_text().splitlines() if line.strip()]
    spans = load_spans(trace_file.with_suffix(".spans"))
    children: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        children[span.get("parent") or ""].append(span)

    def child(span: Span | None, name: str, service: str) -> Span | None:
        if span is None:
            return None
        return next(
            (c for c in children[span["span"]] if c["name"] == name and c["service"] == service),
            None,
        )

    # Per workflow, in order: its Updates as the worker handled them and its recording activities.
    activities: dict[str, list[Span]] = defaultdict(list)
    handled: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        if span["name"] == "RunActivity:record_progress" and span.get("workflow"):
            activities[span["workflow"]].append(span)
        elif span["name"] == "HandleUpdate:decide" and span.get("workflow"):
            handled[span["workflow"]].append(span)
    for listed in (*activities.values(), *handled.values()):
        listed.sort(key=lambda s: s["start"])
    updates = {
        s["trace"]: s
        for s in spans
        if s["service"] == "verification" and s["name"] == "StartWorkflowUpdate:decide"
    }
    processed: dict[str, Span] = {}  # publish span id -> the verification projection's span
    for span in spans:
        if span["service"] == "verification" and span["name"].endswith(" process"):
            processed[span.get("parent") or ""] = span
    fetches = [r for r in records if r["kind"] == "fetch"]

    rows = []
    for decision in (r for r in records if r["kind"] == "decide" and r.get("trace")):
        workflow = f"surat-{decision['app']}"
        update = updates.get(decision["trace"])
        if update is None:
            continue
        handle = next((s for s in handled[workflow] if s["start"] >= update["start"]), None)
        if handle is None:
            continue
        recorded_after = [s for s in activities[workflow] if s["start"] >= handle["start"]]
        key = [decision["app"], decision["step"] + 1]
        listing = next((f for f in fetches if key in f["new"]), None)
        if len(recorded_after) < 2 or listing is None:
            continue  # the last step (the letter is issued: no next inbox), or a lost span
        decided, assigned = recorded_after[:2]
        sent = decision["sent"]
        row = {
            "click -> update": update["start"] - sent,
            "update -> progress": decided["start"] - update["start"],
            "decided rpc": decided["end"] - decided["start"],
            "workflow": assigned["start"] - decided["end"],
        }
        recorded = child(child(assigned, _RECORD, "worker"), _RECORD, "intake")
        handing = child(recorded, _HAND_OVER, "intake")
        applied = child(handing, _HAND_OVER, "verification")
        if recorded is None:
            continue
        if handing is not None and applied is not None:
            end = handing["end"]
            row |= {
                "assigned commit": handing["start"] - assigned["start"],
                "hand-over": end - handing["start"],
            }
        else:
            published = next(
                (c for c in children[recorded["span"]] if c["name"].endswith(" publish")), None
            )
            process = processed.get(published["span"]) if published else None
            if published is None or process is None:
                continue
            end = process["end"]
            row |= {
                "assigned rpc": assigned["end"] - assigned["start"],
                "relay": published["start"] - recorded["end"],
                "publish": published["end"] - published["start"],
                "queue": process["start"] - published["end"],
                "apply": process["end"] - process["start"],
            }
        row |= {
            "to fetch": listing["start"] - end,
            "fetch": listing["end"] - listing["start"],
            "total": listing["end"] - sent,
        }
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("trace", type=Path, help="the FILE of bench_journeys --trace FILE")
    args = parser.parse_args()
    rows = hops(args.trace)
    for path, names in (("handed over", HAND_OVER_HOPS), ("through JetStream", JETSTREAM_HOPS)):
        taken = [r for r in rows if all(name in r for name in names)]
        if not taken:
            continue
        print(f"{len(taken)} decisions with a next step, {path}, ms")
        print(f"  {'hop':<20} {'p50':>7} {'p95':>7} {'mean':>7}")
        for hop in (*names, "total"):
            values = [1000 * r[hop] for r in taken]
            print(
                f"  {hop:<20} {_percentile(values, 0.5):>7.0f} "
                f"{_percentile(values, 0.95):>7.0f} {sum(values) / len(values):>7.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
