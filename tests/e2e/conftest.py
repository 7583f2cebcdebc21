"""Starts the vivace binary as a separate process on loopback ports for black-box tests."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

BIN = os.environ.get("VIVACE_BIN", str(Path(__file__).resolve().parents[2] / "target" / "debug" / "vivace"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Vivace:
    """One vivace process with its own ports and data folder; restartable."""

    def __init__(self, workdir: Path, extra_yaml: str = "", extra_args=None, ingester=None):
        self.workdir = workdir
        self.data = workdir / "data"
        self.http_port, self.grpc_port = free_port(), free_port()
        self.otlp_grpc_port, self.otlp_http_port = free_port(), free_port()
        ingester = ingester or {}
        settings = {
            "trace_idle_period": "500ms",
            "flush_check_period": "200ms",
            "max_block_duration": "1h",
        }
        settings.update(ingester)
        ingester_yaml = "\n".join(f"  {key}: {value}" for key, value in settings.items())
        self.config = workdir / "tempo.yaml"
        self.config.write_text(
            f"""
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
      path: {self.data / 'blocks'}
    wal:
      path: {self.data / 'wal'}
    blocklist_poll: 1s
    vivace_cache:
      path: {self.data / 'cache'}
      memory_bytes: 16777216
      disk_bytes: 33554432
{extra_yaml}
"""
        )
        self.extra_args = list(extra_args or [])
        self.process = None
        self.log_path = workdir / "vivace.log"
        self.starts = 0

    @property
    def blocks_dir(self):
        return self.data / "blocks"

    @property
    def wal_dir(self):
        return self.data / "wal"

    def url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    @property
    def otlp_grpc(self):
        return f"127.0.0.1:{self.otlp_grpc_port}"

    @property
    def otlp_http(self):
        return f"http://127.0.0.1:{self.otlp_http_port}/v1/traces"

    def start(self, wait=True):
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n==== start {self.starts} ====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [BIN, f"--config.file={self.config}", *self.extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
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

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def metric(self, name, labels=None):
        """Sum of the samples of a metric (optionally those whose label text contains `labels`)."""
        with urllib.request.urlopen(self.url("/metrics"), timeout=5) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            metric_name = key.split("{")[0]
            if metric_name != name:
                continue
            if labels and labels not in key:
                continue
            total += float(value)
        return total

    def flush_and_wait(self, timeout=60):
        before = self.metric("tempo_ingester_blocks_flushed_total")
        request = urllib.request.Request(self.url("/flush"), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 204)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.metric("tempo_ingester_blocks_flushed_total") > before:
                return
            time.sleep(0.1)
        raise AssertionError(f"no block flushed within {timeout}s:\n{self.log_tail()}")


@pytest.fixture
def vivace_factory(tmp_path, request):
    started = []

    def make(**kwargs):
        workdir = tmp_path / f"node{len(started)}"
        workdir.mkdir()
        node = Vivace(workdir, **kwargs)
        started.append(node)
        return node

    yield make
    for node in started:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(f"---- vivace log ({node.workdir}) ----\n{node.log_tail(80)}")
        node.kill9()


@pytest.fixture
def vivace(vivace_factory):
    return vivace_factory().start()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
