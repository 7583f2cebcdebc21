"""Starts the vivace binary as a separate process on loopback ports for black-box tests.

Every test gets its own data folder and ports. The process log goes to `vivace.log` in the test's
tmp folder; when a test fails, the tail of every log it produced is attached to the report. A
process that logged a Rust panic fails the test at teardown.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("VIVACE_BIN", str(REPO / "target" / "debug" / "vivace"))


def free_ports(count):
    """`count` distinct free loopback ports (all sockets are held open until every port is picked)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port():
    return free_ports(1)[0]


def port_open(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


DEFAULT_INGESTER = {
    "trace_idle_period": "500ms",
    "flush_check_period": "200ms",
    "max_block_duration": "1h",
}


class Vivace:
    """One vivace process with its own ports, config file and data folder; restartable."""

    def __init__(self, workdir: Path, extra_yaml: str = "", extra_args=None, ingester=None, env=None, multitenancy=False):
        self.workdir = workdir
        self.data = workdir / "data"
        self.http_port, self.grpc_port, self.otlp_grpc_port, self.otlp_http_port = free_ports(4)
        self.multitenancy = multitenancy
        settings = dict(DEFAULT_INGESTER)
        settings.update(ingester or {})
        ingester_yaml = "\n".join(f"  {key}: {value}" for key, value in settings.items())
        self.config = workdir / "tempo.yaml"
        self.config.write_text(
            f"""
multitenancy_enabled: {'true' if multitenancy else 'false'}
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {self.http_port}
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: {self.grpc_port}
  log_level: info
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "127.0.0.1:{self.otlp_grpc_port}"
        http:
          endpoint: "127.0.0.1:{self.otlp_http_port}"
ingester:
{ingester_yaml}
storage:
  trace:
    backend: local
    local:
      path: {self.blocks_dir}
    wal:
      path: {self.wal_dir}
    blocklist_poll: 1s
    vivace_cache:
      path: {self.cache_dir}
      memory_bytes: 16777216
      disk_bytes: 33554432
{extra_yaml}
"""
        )
        self.extra_args = list(extra_args or [])
        self.env = dict(env or {})
        self.process = None
        self.log_path = workdir / "vivace.log"
        self.starts = 0

    # ---- paths and addresses ----------------------------------------------------------------

    @property
    def blocks_dir(self):
        return self.data / "blocks"

    @property
    def wal_dir(self):
        return self.data / "wal"

    @property
    def cache_dir(self):
        return self.data / "cache"

    @property
    def ports(self):
        return {
            "http": self.http_port,
            "grpc": self.grpc_port,
            "otlp_grpc": self.otlp_grpc_port,
            "otlp_http": self.otlp_http_port,
        }

    def url(self, path=""):
        return f"http://127.0.0.1:{self.http_port}{path}"

    @property
    def otlp_grpc(self):
        return f"127.0.0.1:{self.otlp_grpc_port}"

    @property
    def otlp_http(self):
        return f"http://127.0.0.1:{self.otlp_http_port}/v1/traces"

    def block_dirs(self, tenant="single-tenant"):
        """Complete blocks of a tenant (folders holding a meta.json)."""
        return sorted(path.parent for path in (self.blocks_dir / tenant).glob("*/meta.json"))

    # ---- process ----------------------------------------------------------------------------

    def command(self):
        return [BIN, f"--config.file={self.config}", *self.extra_args]

    def start(self, wait=True):
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== start {self.starts}: {' '.join(self.command())} ====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "RUST_BACKTRACE": "1", **self.env},
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"vivace exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("/ready"), timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"vivace not ready after {timeout}s:\n{self.log_tail()}")

    def kill9(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self):
        self.kill9()
        return self.start()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # ---- metrics and flush ------------------------------------------------------------------

    def metrics_text(self):
        with urllib.request.urlopen(self.url("/metrics"), timeout=5) as response:
            return response.read().decode()

    def metric(self, name, labels=None):
        """Sum of the samples of a metric whose label text contains every string in `labels`."""
        if isinstance(labels, str):
            labels = [labels]
        total = 0.0
        for line in self.metrics_text().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if key.split("{")[0] != name:
                continue
            if labels and not all(label in key for label in labels):
                continue
            total += float(value)
        return total

    def wait_metric(self, name, predicate, timeout=60, labels=None):
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.metric(name, labels)
            if predicate(value):
                return value
            time.sleep(0.1)
        raise AssertionError(f"{name} stayed at {value} for {timeout}s:\n{self.log_tail()}")

    def flush_and_wait(self, timeout=60):
        """POST /flush (204, asynchronous) and wait until at least one more block is flushed."""
        before = self.metric("tempo_ingester_blocks_flushed_total")
        request = urllib.request.Request(self.url("/flush"), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204, response.status
        return self.wait_metric("tempo_ingester_blocks_flushed_total", lambda value: value > before, timeout)


@pytest.fixture
def vivace_factory(tmp_path, request):
    """`make(**kwargs)` builds a (not yet started) Vivace in its own folder."""
    started = []
    request.node.vivace_nodes = started

    def make(**kwargs):
        workdir = tmp_path / f"node{len(started)}"
        workdir.mkdir()
        node = Vivace(workdir, **kwargs)
        started.append(node)
        return node

    yield make
    for node in started:
        node.kill9()
    panics = [node for node in started if "panicked at" in node.log_text()]
    assert not panics, "vivace panicked:\n" + "\n".join(node.log_tail(80) for node in panics)


@pytest.fixture
def vivace(vivace_factory):
    """A started single-tenant node with the default settings."""
    return vivace_factory().start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("call", "teardown"):
        for node in getattr(item, "vivace_nodes", []):
            report.sections.append((f"vivace log tail ({node.workdir})", node.log_tail(80)))
