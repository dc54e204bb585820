"""`make chat [PHONE=0812…]`: chat with the dev stack's WhatsApp number as any phone number.

Each line typed goes to notification's webhook as the Cloud API would send it (signed with the
dev app secret `make run` shows); the replies are read from the dev sink (`/dev/messages`) and
printed, buttons and list rows numbered (type the number to choose). Files cannot be sent: the
dev sink holds no media. Ctrl-D or Ctrl-C ends.
"""

import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from common.phone import normalize_phone
from scripts.devstack import WHATSAPP_SECRET_VARIABLES, _dev_secret

HOST = "127.0.0.1"
WAIT_SECONDS = 15.0


def _payload(phone: str, text: str) -> bytes:
    message = {
        "from": phone,
        "id": f"wamid.dev-{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    value = {"messaging_product": "whatsapp", "messages": [message]}
    body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": value}]}]}
    return json.dumps(body).encode()


def render(sent: dict[str, Any]) -> str:
    """A reply as the resident's phone would show it."""
    if sent.get("type") == "text":
        return str(sent["text"]["body"])
    if sent.get("type") == "template":
        params = [p["text"] for c in sent["template"]["components"] for p in c["parameters"]]
        return f"[template {sent['template']['name']}] {' | '.join(params)}"
    interactive = sent.get("interactive", {})
    return str(interactive.get("body", {}).get("text", json.dumps(sent)))


def main() -> int:
    phone = normalize_phone(sys.argv[1] if len(sys.argv) > 1 else "081234567890")
    port = int(os.environ.get("SMARTDESA_NOTIFICATION_HTTP_PORT", "8003"))
    data_dir = Path(os.environ.get("SMARTDESA_DATA_DIR", ".data")).resolve()
    secret = os.environ.get(WHATSAPP_SECRET_VARIABLES[0]) or _dev_secret(
        data_dir / "whatsapp" / "app-secret"
    )
    base = f"http://{HOST}:{port}"
    seen: set[str] = set()
    with httpx.Client(base_url=base, timeout=10) as client:

        def replies() -> list[dict[str, Any]]:
            listed = client.get("/dev/messages", params={"to": phone, "limit": 50}).json()
            fresh = []
            for m in reversed(listed):
                key = f"{m['created_at']}|{m['body']}"
                if key not in seen and m["channel"] == "whatsapp":
                    seen.add(key)
                    fresh.append(m)
            return fresh

        replies()  # what came before is not shown again
        print(f"Menulis sebagai {phone} ke {base}. Ketik 'bantuan'. Ctrl-D untuk keluar.")
        while True:
            try:
                line = input("> ").strip()
            except (EOFError, KeyboardInterrupt):
                return 0
            if not line:
                continue
            body = _payload(phone, line)
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            answer = client.post(
                "/api/v1/webhooks/whatsapp",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": f"sha256={signature}",
                },
            )
            if answer.status_code != 200:
                print(f"(webhook menjawab {answer.status_code}: {answer.text})")
                continue
            # Until the first reply, then a moment more for the ones that follow it.
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline:
                for m in replies():
                    try:
                        print(render(json.loads(m["body"])), end="\n\n")
                    except ValueError:
                        print(m["body"], end="\n\n")
                    deadline = min(deadline, time.monotonic() + 1.0)
                time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main())
