"""The scale profile's system: scripts/devstack.py's DevStack with two replicas of each service,
two approval workers, a three-node NATS JetStream cluster and the Temporal dev server.

Every process is a DevStack child (its own log, its own process group), so one of them can be
killed and started again by name. The replicas share the data folder (uploads, the dev PKI and
secrets: in Kubernetes a shared volume and the same Secrets) and each service's PostgreSQL
database. Clients reach a service's replicas the way a Kubernetes Service spreads them:
- gRPC between services: a target naming both replicas (`ipv4:127.0.0.1:a,127.0.0.1:b`), which
  gRPC's resolver hands to its load balancer; a replica that goes away is skipped, as a
  headless Service's endpoints are;
- NATS: every node's URL (SMARTDESA_NATS_URL is a comma-separated list), and the client learns
  the cluster's other nodes from the server as well;
- the public HTTP APIs: scripts.journey.FailoverTransport, standing in for the Service's
  ClusterIP (or an Ingress) in front of the pods.
"""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scripts.devstack import HOST, Child, DevStack, Ports, _binary
from tests.support.processes import free_port

SERVICES = ("signing", "verification", "intake", "notification")  # the order devstack starts
REPLICAS = 2
WORKERS = 2
NATS_NODES = 3


@dataclass(frozen=True)
class Replica:
    service: str
    index: int  # 1, 2
    http: int
    grpc: int

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"


class ScaleStack(DevStack):
    def __init__(self, data_dir: Path, extra_env: dict[str, str]) -> None:
        self.replicas = {
            service: [Replica(service, i, free_port(), free_port()) for i in (1, 2)]
            for service in SERVICES
        }
        self.nats_ports = [free_port() for _ in range(NATS_NODES)]
        self.route_ports = [free_port() for _ in range(NATS_NODES)]
        self.worker_metrics = [free_port() for _ in range(WORKERS)]
        first = {s: r[0] for s, r in self.replicas.items()}
        ports = Ports(
            nats=self.nats_ports[0],
            temporal=free_port(),
            temporal_ui=free_port(),
            intake_http=first["intake"].http,
            verification_http=first["verification"].http,
            signing_http=first["signing"].http,
            notification_http=first["notification"].http,
            intake_grpc=first["intake"].grpc,
            verification_grpc=first["verification"].grpc,
            signing_grpc=first["signing"].grpc,
            notification_grpc=first["notification"].grpc,
            worker_metrics=self.worker_metrics[0],
        )
        super().__init__(data_dir, ports)
        self.extra_env = extra_env
        self.by_name: dict[str, Child] = {}

    @property
    def nats_urls(self) -> list[str]:
        return [f"nats://{HOST}:{port}" for port in self.nats_ports]

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(self.extra_env)
        env["SMARTDESA_NATS_URL"] = ",".join(self.nats_urls)
        env["SMARTDESA_NATS_STREAM_REPLICAS"] = str(NATS_NODES)
        for service, replicas in self.replicas.items():
            addresses = ",".join(f"{HOST}:{r.grpc}" for r in replicas)
            env[f"SMARTDESA_{service.upper()}_GRPC_TARGET"] = f"ipv4:{addresses}"
        return env

    # -- the children ----------------------------------------------------------------------

    def nats_node(self, i: int) -> Child:
        store = self.data_dir / f"nats-{i}"
        store.mkdir(parents=True, exist_ok=True)
        routes = ",".join(f"nats://{HOST}:{p}" for p in self.route_ports)
        return Child(
            f"nats-{i}",
            [_binary("nats-server"), "-a", HOST, "-p", str(self.nats_ports[i]), "-js",
             "-sd", str(store), "--server_name", f"n{i}", "--cluster_name", "smartdesa-scale",
             "--cluster", f"nats://{HOST}:{self.route_ports[i]}", "--routes", routes],
            self.nats_ports[i],
        )  # fmt: skip

    def temporal(self) -> Child:
        (engine,) = [c for c in self.engines() if c.name == "temporal"]
        return engine

    def replica(self, service: str, index: int) -> Child:
        r = self.replicas[service][index - 1]
        up = service.upper()
        return Child(
            r.name,
            [sys.executable, "-m", f"services.{service}"],
            r.http,
            f"http://{HOST}:{r.http}/healthz",
            env={
                f"SMARTDESA_{up}_HTTP_PORT": str(r.http),
                f"SMARTDESA_{up}_GRPC_PORT": str(r.grpc),
            },
        )

    def worker_child(self, index: int) -> Child:
        ready = self.data_dir / "run" / f"worker-{index}.ready"
        ready.unlink(missing_ok=True)
        return Child(
            f"worker-{index}",
            [sys.executable, "-m", "workflows.approval.worker"],
            ready_file=ready,
            env={
                "SMARTDESA_WORKER_READY_FILE": str(ready),
                "SMARTDESA_WORKER_METRICS_PORT": str(self.worker_metrics[index - 1]),
            },
        )

    # -- lifecycle -------------------------------------------------------------------------

    def launch(self, child: Child) -> None:
        self.start(child)
        self.by_name[child.name] = child

    def start_all(self) -> None:
        nodes = [self.nats_node(i) for i in range(NATS_NODES)]
        engines = [*nodes, self.temporal()]
        for child in engines:
            self.launch(child)
        self.wait_ready(engines)
        # Replica 1 of every service first (migrations, dev seeds), then replica 2.
        for index in (1, 2):
            batch = [self.replica(service, index) for service in SERVICES]
            for child in batch:
                self.launch(child)
            self.wait_ready(batch, timeout=300)
        workers = [self.worker_child(i) for i in range(1, WORKERS + 1)]
        for child in workers:
            self.launch(child)
        self.wait_ready(workers, timeout=300)

    def kill(self, name: str) -> None:
        """SIGKILL: the process gets no chance to finish anything (a node lost, OOM-killed).
        Its whole process group, as a container's death takes every process in it: signing's
        pool (its forkserver and workers) would otherwise outlive the test."""
        child = self.by_name[name]
        assert child.process is not None
        os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait(timeout=30)
        self.children.remove(child)  # not a failure for check_alive

    def restart(self, name: str) -> Child:
        if name.startswith("nats-"):
            child = self.nats_node(int(name.split("-")[1]))
        elif name.startswith("worker-"):
            child = self.worker_child(int(name.split("-")[1]))
        else:
            service, index = name.rsplit("-", 1)
            child = self.replica(service, int(index))
        self.launch(child)
        return child

    def stop(self) -> None:
        super().stop()
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.kill()
                try:
                    child.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass

    def http_replicas(self) -> dict[str, list[str]]:
        """For FailoverTransport: replica 1's address -> both replicas' addresses."""
        return {
            f"{HOST}:{rs[0].http}": [f"{HOST}:{r.http}" for r in rs]
            for rs in self.replicas.values()
        }
