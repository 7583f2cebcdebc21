"""Operational endpoints and configuration handling."""

import json
import os
import subprocess

from conftest import BIN
from model import http_get


def test_echo_buildinfo_ready_metrics_config(vivace):
    status, body, headers = http_get(vivace.url("/api/echo"))
    assert status == 200 and body.strip() == b"echo"
    status, body, _ = http_get(vivace.url("/api/status/buildinfo"))
    info = json.loads(body)
    major, minor, _ = (int(part) for part in info["version"].split("."))
    assert (major, minor) >= (2, 10), info
    assert info["vivaceVersion"]
    assert http_get(vivace.url("/ready"))[0] == 200
    from test_bad_input import PROTOBUF, export
    from model import http_post

    assert http_post(vivace.otlp_http, export([(b"\x01" * 16, b"\x02" * 8)]).SerializeToString(), PROTOBUF)[0] == 200
    assert http_post(vivace.otlp_http, export([(b"\x01" * 8, b"\x02" * 8)]).SerializeToString(), PROTOBUF)[0] == 400
    status, body, _ = http_get(vivace.url("/metrics"))
    text = body.decode()
    for name in [
        "tempo_distributor_spans_received",
        "tempo_distributor_bytes_received",
        "tempo_discarded_spans",
        "tempo_ingester_wal_appends",
        "tempo_ingester_wal_fsyncs",
        "tempo_ingester_blocks_cut",
        "tempo_ingester_blocks_flushed",
        "tempo_request_duration_seconds",
    ]:
        assert name in text, f"{name} missing from /metrics"
    status, body, _ = http_get(vivace.url("/status/config"))
    assert status == 200 and b"http_listen_port" in body


def test_foreign_sections_warn_once_each(vivace_factory):
    node = vivace_factory(extra_yaml="block_builder:\n  consume_cycle_duration: 1m\nlive_store:\n  max_block_duration: 30s\n").start()
    log = node.log_text()
    assert log.count("block_builder") == 1, log
    assert log.count("live_store") == 1, log


def test_expand_env_and_flag_override(vivace_factory, tmp_path):
    node = vivace_factory()
    text = node.config.read_text().replace(f"http_listen_port: {node.http_port}", "http_listen_port: ${VIVACE_E2E_PORT}")
    node.config.write_text(text)
    node.extra_args = ["--config.expand-env"]
    os.environ["VIVACE_E2E_PORT"] = str(node.http_port)
    try:
        node.start()
    finally:
        del os.environ["VIVACE_E2E_PORT"]
    assert http_get(node.url("/api/echo"))[0] == 200
    node.kill9()
    from conftest import free_port

    override = free_port()
    node.extra_args = ["--config.expand-env", f"-server.http-listen-port={override}"]
    os.environ["VIVACE_E2E_PORT"] = str(node.http_port)
    try:
        node.http_port = override
        node.start()
    finally:
        del os.environ["VIVACE_E2E_PORT"]
    assert http_get(node.url("/api/echo"))[0] == 200


def test_bad_config_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("no_such_section: true\n")
    result = subprocess.run([BIN, f"--config.file={config}"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "no_such_section" in result.stderr
