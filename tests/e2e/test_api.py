"""Operational endpoints and configuration handling."""

import json
import re
import subprocess
import tomllib

import yaml

from conftest import BIN, REPO, free_port, port_open
from model import PROTOBUF, header, http_get, http_post, raw_export


def vivace_version():
    """The version Cargo builds vivace with (the workspace package version unless node overrides it)."""
    node = tomllib.loads((REPO / "node" / "Cargo.toml").read_text())["package"]["version"]
    if isinstance(node, dict):
        return tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    return node


def test_echo_and_buildinfo(vivace):
    status, body, headers = http_get(vivace.url("/api/echo"))
    assert status == 200 and body.strip() == b"echo", (status, body)
    assert (header(headers, "content-type") or "").startswith("text/plain")
    status, body, headers = http_get(vivace.url("/api/status/buildinfo"))
    assert status == 200
    assert (header(headers, "content-type") or "").startswith("application/json")
    info = json.loads(body)
    for key in ("version", "revision", "branch", "buildDate", "buildUser", "goVersion"):
        assert key in info, f"buildinfo lacks Tempo's `{key}`: {info}"
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(-.*)?", info["version"])
    assert match, info["version"]
    assert tuple(int(part) for part in match.groups()[:3]) >= (2, 10, 0), info
    own = vivace_version()
    assert any(key != "version" and value == own for key, value in info.items()), f"no field carries vivace's version {own}: {info}"


def test_ready_metrics_and_config(vivace):
    status, body, _ = http_get(vivace.url("/ready"))
    assert status == 200, body
    # Some traffic so that the labelled series exist: an accepted push and a refused one.
    assert http_post(vivace.otlp_http, raw_export([(b"\x01" * 16, b"\x02" * 8), (b"\x01" * 16, b"\x03" * 8)]).SerializeToString(), PROTOBUF)[0] == 200
    assert http_post(vivace.otlp_http, raw_export([(b"\x01" * 8, b"\x02" * 8)]).SerializeToString(), PROTOBUF)[0] == 400
    vivace.flush_and_wait()
    status, body, headers = http_get(vivace.url("/metrics"))
    assert status == 200
    text = body.decode()
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    names = {line.split("{")[0].split(" ")[0] for line in samples}
    for name in [
        "tempo_distributor_spans_received_total",
        "tempo_distributor_bytes_received_total",
        "tempo_discarded_spans_total",
        "tempo_ingester_wal_fsyncs_total",
        "tempo_ingester_blocks_flushed_total",
    ]:
        assert name in names, f"{name} missing from /metrics"
    # Tempo counts a push's spans as received before validating them; either way, not fewer.
    assert vivace.metric("tempo_distributor_spans_received_total", 'tenant="single-tenant"') in (2, 3)
    discarded = [line for line in samples if line.startswith("tempo_discarded_spans_total{")]
    assert any('tenant="single-tenant"' in line and "reason=" in line for line in discarded), discarded
    assert vivace.metric("tempo_discarded_spans_total", 'tenant="single-tenant"') >= 1
    assert vivace.metric("tempo_ingester_wal_fsyncs_total") >= 1, "an acknowledged push was fsynced"
    assert vivace.metric("tempo_ingester_blocks_flushed_total") >= 1

    status, body, _ = http_get(vivace.url("/status/config"))
    assert status == 200
    config = yaml.safe_load(body)
    assert isinstance(config, dict), body[:200]
    assert int(config["server"]["http_listen_port"]) == vivace.http_port
    assert str(config["storage"]["trace"]["wal"]["path"]) == str(vivace.wal_dir)


def test_query_responses_are_gzipped_on_request(vivace):
    import gzip

    request = raw_export([(b"\x0c" * 16, b"\x0d" * 8)])
    assert http_post(vivace.otlp_http, request.SerializeToString(), PROTOBUF)[0] == 200
    for path in ("/api/traces/" + "0c" * 16, "/api/v2/traces/" + "0c" * 16):
        status, plain, _ = http_get(vivace.url(path))
        assert status == 200
        status, body, headers = http_get(vivace.url(path), {"Accept-Encoding": "gzip"})
        assert status == 200
        assert header(headers, "content-encoding") == "gzip", (path, headers)
        assert json.loads(gzip.decompress(body)) == json.loads(plain)


def warning_lines(log, word):
    return [line for line in log.splitlines() if word in line and not line.startswith("====")]


def test_foreign_sections_warn_once_each(vivace_factory):
    node = vivace_factory(extra_yaml="block_builder:\n  consume_cycle_duration: 1m\nlive_store:\n  max_block_duration: 30s\n").start()
    log = node.log_text()
    for section in ("block_builder", "live_store"):
        lines = warning_lines(log, section)
        assert len(lines) == 1, f"{section}: {lines}"
        assert "warn" in lines[0].lower(), lines[0]
    assert http_get(node.url("/api/echo"))[0] == 200


def test_expand_env(vivace_factory):
    node = vivace_factory()
    text = node.config.read_text()
    text = text.replace(f"http_listen_port: {node.http_port}", "http_listen_port: ${VIVACE_E2E_PORT}")
    text = text.replace(f"path: {node.wal_dir}", "path: ${VIVACE_E2E_DATA}/wal")
    node.config.write_text(text)
    node.env = {"VIVACE_E2E_PORT": str(node.http_port), "VIVACE_E2E_DATA": str(node.data)}

    # Without --config.expand-env the text stays literal: not a port number.
    result = subprocess.run(node.command(), capture_output=True, text=True, timeout=30, env={**node.env, "PATH": "/usr/bin:/bin"}, cwd=node.workdir)
    assert result.returncode != 0, "a literal ${VIVACE_E2E_PORT} is not a port"

    node.extra_args = ["--config.expand-env"]
    node.start()
    assert http_get(node.url("/api/echo"))[0] == 200
    assert http_post(node.otlp_http, raw_export([(b"\x01" * 16, b"\x02" * 8)]).SerializeToString(), PROTOBUF)[0] == 200
    assert list(node.wal_dir.glob("*.wal")), "the WAL is where ${VIVACE_E2E_DATA}/wal points"
    config = yaml.safe_load(http_get(node.url("/status/config"))[1])
    assert int(config["server"]["http_listen_port"]) == node.http_port


def test_flag_overrides_the_file(vivace_factory):
    node = vivace_factory()
    file_port = node.http_port
    for style in ("--", "-"):
        node.kill9()
        override = free_port()
        node.extra_args = [f"{style}server.http-listen-port={override}"]
        node.http_port = override
        node.start()
        assert http_get(node.url("/api/echo"))[0] == 200, style
        assert not port_open(file_port), f"the file's port {file_port} is not used when a flag overrides it"
        config = yaml.safe_load(http_get(node.url("/status/config"))[1])
        assert int(config["server"]["http_listen_port"]) == override
    # A flag that takes its value as the next argument.
    node.kill9()
    override = free_port()
    node.extra_args = ["--server.http-listen-port", str(override)]
    node.http_port = override
    node.start()
    assert http_get(node.url("/api/echo"))[0] == 200


def test_bad_config_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("no_such_section: true\n")
    result = subprocess.run([BIN, f"--config.file={config}"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode != 0
    assert "no_such_section" in result.stderr + result.stdout
    result = subprocess.run([BIN, f"--config.file={tmp_path / 'missing.yaml'}"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode != 0
    result = subprocess.run([BIN, "--no-such-flag=1"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode != 0
    assert "no-such-flag" in result.stderr + result.stdout
