"""Bad input gets a clear 4xx (or gRPC status) and never a crash or a half-stored push; damaged
files on disk are survived."""

import gzip
import json
import shutil
import time

import grpc

from model import (
    PROTOBUF,
    assert_traces_equal,
    decode_v1_protobuf,
    grpc_export,
    http_get,
    http_post,
    raw_export,
    raw_span,
    spans_from_proto,
)


def assert_healthy(node):
    assert node.alive(), node.log_tail()
    assert http_get(node.url("/ready"))[0] == 200
    # Still ingesting and serving.
    probe = (b"\x5a" * 16, b"\x5b" * 8)
    status, body, _ = http_post(node.otlp_http, raw_export([probe]).SerializeToString(), PROTOBUF)
    assert status == 200, body


def test_malformed_bodies(vivace):
    good = raw_export([(b"\x01" * 16, b"\x02" * 8)]).SerializeToString()
    cases = [
        ("malformed protobuf", b"\xff\xff\xff\xff", PROTOBUF, 400),
        ("truncated protobuf", good[:-3], PROTOBUF, 400),
        ("malformed json", b"{not json", {"Content-Type": "application/json"}, 400),
        ("json of the wrong shape", b'{"resourceSpans": 5}', {"Content-Type": "application/json"}, 400),
        ("wrong content type", b"hello", {"Content-Type": "text/plain"}, 415),
        ("gzip header, plain body", good, {**PROTOBUF, "Content-Encoding": "gzip"}, 400),
        ("gzip header, garbage", b"not gzip at all", {**PROTOBUF, "Content-Encoding": "gzip"}, 400),
        (
            "non-hex trace id in json",
            json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz" * 16, "spanId": "01" * 8}]}]}]}).encode(),
            {"Content-Type": "application/json"},
            400,
        ),
    ]
    for label, body, headers, expected in cases:
        status, response, _ = http_post(vivace.otlp_http, body, headers)
        assert status == expected, (label, status, response)
        assert response, f"{label}: the error body says what was wrong"
        assert vivace.alive() and http_get(vivace.url("/ready"))[0] == 200, label
    assert http_get(vivace.url("/api/traces/" + "01" * 16))[0] == 404, "no malformed request stored anything"
    assert_healthy(vivace)


def test_bad_ids_refuse_the_whole_push(vivace):
    good = (b"\x01" * 16, b"\x02" * 8)
    other_good = (b"\x09" * 16, b"\x0a" * 8)
    bad_cases = [
        ("8-byte trace id", (b"\x03" * 8, b"\x04" * 8)),
        ("17-byte trace id", (b"\x03" * 17, b"\x04" * 8)),
        ("empty trace id", (b"", b"\x04" * 8)),
        ("all-zero span id", (b"\x05" * 16, b"\x00" * 8)),
        ("4-byte span id", (b"\x06" * 16, b"\x07" * 4)),
    ]
    discarded_before = vivace.metric("tempo_discarded_spans_total")
    for label, bad in bad_cases:
        request = raw_export([good, bad, other_good])
        status, body, _ = http_post(vivace.otlp_http, request.SerializeToString(), PROTOBUF)
        assert status == 400, (label, status, body)
        assert body, label
        error = grpc_export(vivace, request)
        assert error is not None, f"{label}: a gRPC push with a bad id was accepted"
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (label, error)
        assert error.details(), label
    for trace_id in (good[0], other_good[0], b"\x05" * 16, b"\x06" * 16):
        status, body, _ = http_get(vivace.url("/api/traces/" + trace_id.hex()))
        assert status == 404, f"a span of a refused push was stored: {trace_id.hex()} {status}"
    assert vivace.metric("tempo_discarded_spans_total", 'tenant="single-tenant"') > discarded_before
    assert_healthy(vivace)


def test_oversized_requests(vivace_factory):
    node = vivace_factory(extra_args=["--server.grpc-server-max-recv-msg-size=20000"]).start()
    big = raw_export([(bytes([index % 250 + 1]) * 16, bytes([index % 250 + 1, 1]) * 4) for index in range(1000)])
    assert len(big.SerializeToString()) > 40000
    status, body, _ = http_post(node.otlp_http, big.SerializeToString(), PROTOBUF)
    assert status in (400, 413), (status, body)
    # Small on the wire, big once decompressed.
    compressed = gzip.compress(big.SerializeToString())
    assert len(compressed) < 20000
    status, body, _ = http_post(node.otlp_http, compressed, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert status in (400, 413), (status, body)
    error = grpc_export(node, big)
    assert error is not None, "an oversized gRPC export was accepted"
    assert error.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE), error
    assert http_get(node.url("/api/traces/" + "01" * 16))[0] == 404, "nothing of an oversized push is stored"
    assert_healthy(node)
    assert grpc_export(node, raw_export([(b"\x31" * 16, b"\x32" * 8)])) is None


def test_query_errors_use_tempo_texts(vivace):
    for prefix in ("/api/traces/", "/api/v2/traces/"):
        assert http_get(vivace.url(prefix + "xyz"))[:2] == (400, b"trace IDs can only contain hex characters: invalid character 'x' at position 1")
        assert http_get(vivace.url(prefix + "12g4"))[:2] == (400, b"trace IDs can only contain hex characters: invalid character 'g' at position 3")
        assert http_get(vivace.url(prefix + "1" * 33))[:2] == (400, b"trace IDs can't be larger than 128 bits")
        for start, end in ((20, 10), (10, 10)):
            assert http_get(vivace.url(f"{prefix}abc?start={start}&end={end}"))[:2] == (
                400,
                f"http parameter start must be before end. received start={start} end={end}".encode(),
            )
        assert http_get(vivace.url(prefix + "abc?mode=bogus"))[:2] == (400, b"invalid value for mode bogus")
        assert http_get(vivace.url(prefix + "abc?start=x"))[0] == 400
    status, body, _ = http_get(vivace.url("/api/traces/abcdef"))
    assert (status, body) == (404, b"")
    status, body, _ = http_get(vivace.url("/api/traces/abcdef"), {"Accept": "application/protobuf"})
    assert (status, body) == (404, b"")
    status, body, _ = http_get(vivace.url("/api/v2/traces/abcdef"))
    assert status == 200, (status, body)
    document = json.loads(body)
    assert not document.get("trace", {}).get("resourceSpans"), document
    status, body, _ = http_get(vivace.url("/api/v2/traces/abcdef"), {"Accept": "application/protobuf"})
    assert status == 200
    for mode in ("blocks", "ingesters", "all"):
        assert http_get(vivace.url(f"/api/traces/abcdef?mode={mode}"))[0] == 404
    assert vivace.alive()


def test_tenants_are_required_and_isolated(vivace_factory):
    node = vivace_factory(multitenancy=True).start()
    trace_a = (b"\x0a" * 16, b"\x0b" * 8)
    trace_b = (b"\x1a" * 16, b"\x1b" * 8)
    status, body, _ = http_post(node.otlp_http, raw_export([trace_a]).SerializeToString(), PROTOBUF)
    assert 400 <= status < 500, f"an HTTP export without org id is refused: {status}"
    error = grpc_export(node, raw_export([trace_a]))
    assert error is not None, "a gRPC export without org id is refused"
    status, _, _ = http_post(node.otlp_http, raw_export([trace_a]).SerializeToString(), {**PROTOBUF, "X-Scope-OrgID": "team-a"})
    assert status == 200
    assert grpc_export(node, raw_export([trace_b]), metadata=(("x-scope-orgid", "team-b"),)) is None
    a_hex, b_hex = trace_a[0].hex(), trace_b[0].hex()
    for prefix in ("/api/traces/", "/api/v2/traces/"):
        assert http_get(node.url(prefix + a_hex))[:2] == (400, b"no org id")
    expected_a = sorted(spans_from_proto(raw_export([trace_a]).resource_spans))
    expected_b = sorted(spans_from_proto(raw_export([trace_b]).resource_spans))
    assert_traces_equal(node, {a_hex: expected_a}, headers={"X-Scope-OrgID": "team-a"})
    assert_traces_equal(node, {b_hex: expected_b}, headers={"X-Scope-OrgID": "team-b"})
    assert http_get(node.url("/api/traces/" + a_hex), {"X-Scope-OrgID": "team-b"})[:2] == (404, b"")
    assert http_get(node.url("/api/traces/" + b_hex), {"X-Scope-OrgID": "team-a"})[:2] == (404, b"")
    assert http_get(node.url("/api/traces/" + a_hex), {"X-Scope-OrgID": "single-tenant"})[0] == 404
    assert http_get(node.url("/api/traces/" + a_hex), {"X-Scope-OrgID": "../etc"})[0] == 400
    # Tenants stay apart in blocks too.
    node.flush_and_wait()
    # One flush round writes the tenants' blocks one after the other: wait for both.
    deadline = time.monotonic() + 30
    while not (node.block_dirs("team-a") and node.block_dirs("team-b")):
        assert time.monotonic() < deadline, "both tenants' blocks flushed"
        time.sleep(0.05)
    assert not (node.blocks_dir / "single-tenant").exists()
    assert_traces_equal(node, {a_hex: expected_a}, "?mode=blocks", headers={"X-Scope-OrgID": "team-a"})
    assert http_get(node.url(f"/api/traces/{a_hex}?mode=blocks"), {"X-Scope-OrgID": "team-b"})[0] == 404
    assert node.metric("tempo_distributor_spans_received_total", 'tenant="team-a"') == 1
    # The SDK's exporters carry the tenant as gRPC metadata and as an HTTP header.
    from workload import send_traces

    sent = send_traces(node, "grpc", 40, seed=41, headers={"X-Scope-OrgID": "team-c"})
    sent.update(send_traces(node, "http", 40, seed=42, headers={"X-Scope-OrgID": "team-c"}))
    assert_traces_equal(node, sent, headers={"X-Scope-OrgID": "team-c"})
    for trace_id in list(sent)[:5]:
        assert http_get(node.url(f"/api/traces/{trace_id}"), {"X-Scope-OrgID": "team-a"})[0] == 404


def test_truncated_wal_tail(vivace_factory):
    node = vivace_factory(ingester={"trace_idle_period": "30s"}).start()
    ids = [(bytes([index]) * 16, bytes([index]) * 8) for index in range(1, 6)]
    for pair in ids:
        status, _, _ = http_post(node.otlp_http, raw_export([pair]).SerializeToString(), PROTOBUF)
        assert status == 200
    node.kill9()
    wal_files = [path for path in node.wal_dir.glob("*.wal") if path.stat().st_size > 16]
    assert wal_files, f"no WAL segment with data in {sorted(node.wal_dir.iterdir())}"
    newest = max(wal_files, key=lambda path: (path.stat().st_mtime_ns, path.name))
    size = newest.stat().st_size
    with open(newest, "r+b") as file:
        file.truncate(size - 3)
    node.start()
    expected = {pair[0].hex(): sorted(spans_from_proto(raw_export([pair]).resource_spans)) for pair in ids}
    assert_traces_equal(node, {trace_id: spans for trace_id, spans in list(expected.items())[:4]})
    last = ids[-1][0].hex()
    status, body, _ = http_get(node.url(f"/api/traces/{last}"), {"Accept": "application/protobuf"})
    assert status == 404 or sorted(decode_v1_protobuf(body)) == expected[last], "the torn record is dropped, not half-read"
    print(f"torn record: {status}")
    # Writes after the repair survive the next crash too (the torn tail was cut, not appended to).
    more = (b"\x66" * 16, b"\x66" * 8)
    assert grpc_export(node, raw_export([more])) is None
    node.kill9()
    node.start()
    expected[more[0].hex()] = sorted(spans_from_proto(raw_export([more]).resource_spans))
    assert_traces_equal(node, {trace_id: spans for trace_id, spans in expected.items() if trace_id != last})


def test_corrupted_block_is_reported_and_the_rest_served(vivace_factory):
    node = vivace_factory().start()
    expected = {}
    for index in range(1, 4):
        trace_id = bytes([index]) * 16
        # Enough spans that data pages dominate the file, so the middle is span data.
        spans = [raw_span(trace_id, bytes([index, span_index % 256, span_index // 256]) + b"\x01" * 5, f"span-{span_index}-" + "x" * 40) for span_index in range(300)]
        request = raw_export(spans)
        status, _, _ = http_post(node.otlp_http, request.SerializeToString(), PROTOBUF)
        assert status == 200
        expected[trace_id.hex()] = sorted(spans_from_proto(request.resource_spans))
        node.flush_and_wait()
    blocks = node.block_dirs()
    assert len(blocks) == 3, blocks
    node.kill9()
    damaged = blocks[1] / "data.parquet"
    data = bytearray(damaged.read_bytes())
    middle = len(data) // 2
    for offset in range(middle, middle + 16):
        data[offset] ^= 0xFF
    damaged.write_bytes(bytes(data))
    shutil.rmtree(node.cache_dir, ignore_errors=True)
    node.start()

    results = {}
    for trace_id in expected:
        status, body, _ = http_get(node.url(f"/api/traces/{trace_id}"), {"Accept": "application/protobuf"})
        spans = sorted(decode_v1_protobuf(body)) if status == 200 else None
        v2_status, v2_body, _ = http_get(node.url(f"/api/v2/traces/{trace_id}"))
        v2_partial = v2_status == 200 and json.loads(v2_body).get("status") == "PARTIAL"
        results[trace_id] = (status, spans == expected[trace_id], v2_status, v2_partial)
        assert node.alive(), f"a lookup of {trace_id} killed the server"
    intact = [trace_id for trace_id, (status, same, v2_status, v2_partial) in results.items() if status == 200 and same and v2_status == 200 and not v2_partial]
    assert len(intact) == 2, f"the two undamaged blocks are served exactly: {results}"
    (damaged_trace,) = set(expected) - set(intact)
    status, same, v2_status, v2_partial = results[damaged_trace]
    print(f"damaged block {blocks[1].name}: lookups {results}")
    assert 200 <= status < 300 or status >= 500, f"v1 of the damaged trace: {status} (a 4xx hides the damage)"
    assert 200 <= v2_status < 300 or v2_status >= 500, f"v2 of the damaged trace: {v2_status}"
    assert not (status == 200 and not same), "a damaged block must not return altered spans as if complete"
    assert v2_status != 200 or v2_partial, "v2 marks a trace it could not read completely as PARTIAL"
    assert_traces_equal(node, {trace_id: expected[trace_id] for trace_id in intact})
    assert "checksum mismatch" in node.log_text().lower()
    assert_healthy(node)


def test_trace_larger_than_max_bytes_per_trace(vivace_factory):
    node = vivace_factory(extra_args=["--overrides.defaults.global.max-bytes-per-trace=3000"]).start()
    big_id, small_id = b"\x42" * 16, b"\x43" * 16
    sent = {}
    for index in range(20):
        span = raw_span(big_id, bytes([0x42, index + 1]) * 4, f"big-{index}-" + "y" * 400)
        status, body, _ = http_post(node.otlp_http, raw_export([span]).SerializeToString(), PROTOBUF)
        assert status < 500, (index, status, body)
        sent[span.span_id.hex()] = span
    small = raw_export([(small_id, b"\x44" * 8)])
    assert http_post(node.otlp_http, small.SerializeToString(), PROTOBUF)[0] == 200
    assert node.metric("tempo_discarded_spans_total", ['reason="trace_too_large"', 'tenant="single-tenant"']) > 0

    def check_big():
        status, body, _ = http_get(node.url(f"/api/traces/{big_id.hex()}"), {"Accept": "application/protobuf"})
        assert status in (200, 422), (status, body[:200])
        if status == 200:
            spans = decode_v1_protobuf(body)
            ids = [span[0] for span in spans]
            assert len(ids) == len(set(ids)), "duplicate spans"
            assert 1 <= len(ids) < 20 and set(ids) <= set(sent), ids
            assert len(body) <= 3000 + 500, f"{len(body)} bytes returned for a 3000-byte limit"
        status, body, _ = http_get(node.url(f"/api/v2/traces/{big_id.hex()}"))
        assert status == 200, (status, body[:200])
        assert json.loads(body).get("trace", {}).get("resourceSpans"), "v2 returns (part of) an oversized trace"

    check_big()
    assert_traces_equal(node, {small_id.hex(): sorted(spans_from_proto(small.resource_spans))})
    node.flush_and_wait()
    node.restart()
    check_big()
    assert_traces_equal(node, {small_id.hex(): sorted(spans_from_proto(small.resource_spans))})
    assert_healthy(node)
