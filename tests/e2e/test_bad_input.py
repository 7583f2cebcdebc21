"""Bad input gets a clear 4xx (or gRPC status) and never a crash or a half-stored push."""

import gzip
import json

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from model import decode_v1_protobuf, http_get, http_post

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def export(trace_ids_and_span_ids):
    spans = [
        trace_pb2.Span(trace_id=trace_id, span_id=span_id, name="s", start_time_unix_nano=1, end_time_unix_nano=2)
        for trace_id, span_id in trace_ids_and_span_ids
    ]
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=spans)])])


def assert_healthy(node):
    assert node.alive(), node.log_tail()
    assert http_get(node.url("/ready"))[0] == 200


def test_malformed_bodies(vivace):
    cases = [
        (b"\xff\xff\xff\xff", PROTOBUF, 400),
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"hello", {"Content-Type": "text/plain"}, 415),
        (b"not gzip at all", {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, 400),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "01"}]}]}]}).encode(), {"Content-Type": "application/json"}, 400),
    ]
    for body, headers, expected in cases:
        status, response, _ = http_post(vivace.otlp_http, body, headers)
        assert status == expected, (body[:30], status, response)
        assert response, "the error says what was wrong"
        assert_healthy(vivace)


def test_bad_ids_refuse_the_whole_push(vivace):
    good = (b"\x01" * 16, b"\x02" * 8)
    for bad in [(b"\x03" * 8, b"\x04" * 8), (b"\x05" * 16, b"\x00" * 8), (b"\x06" * 16, b"\x07" * 4)]:
        status, body, _ = http_post(vivace.otlp_http, export([good, bad]).SerializeToString(), PROTOBUF)
        assert status == 400, (status, body)
        with grpc.insecure_channel(vivace.otlp_grpc) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            try:
                stub.Export(export([good, bad]), timeout=5)
                raise AssertionError("a push with a bad id was accepted")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
                assert error.details()
    assert http_get(vivace.url("/api/traces/" + "01" * 16))[0] == 404, "nothing of a refused push is stored"
    assert vivace.metric("tempo_discarded_spans_total", 'reason="invalid_trace_id"') > 0
    assert vivace.metric("tempo_discarded_spans_total", 'reason="invalid_span_id"') > 0
    assert_healthy(vivace)


def test_oversized_requests(vivace_factory):
    node = vivace_factory(extra_args=["--server.grpc-server-max-recv-msg-size=20000"]).start()
    big = export([(bytes([index % 250 + 1]) * 16, bytes([index % 250 + 1]) * 8) for index in range(2000)])
    status, _, _ = http_post(node.otlp_http, big.SerializeToString(), PROTOBUF)
    assert status == 413
    status, _, _ = http_post(node.otlp_http, gzip.compress(big.SerializeToString()), {**PROTOBUF, "Content-Encoding": "gzip"})
    assert status in (400, 413)
    with grpc.insecure_channel(node.otlp_grpc) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            stub.Export(big, timeout=5)
            raise AssertionError("an oversized export was accepted")
        except grpc.RpcError as error:
            assert error.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE), error
    assert_healthy(node)


def test_query_errors_use_tempo_texts(vivace):
    assert http_get(vivace.url("/api/traces/xyz"))[:2] == (400, b"trace IDs can only contain hex characters: invalid character 'x' at position 1")
    assert http_get(vivace.url("/api/traces/" + "1" * 33))[:2] == (400, b"trace IDs can't be larger than 128 bits")
    status, body, _ = http_get(vivace.url("/api/traces/abcdef"))
    assert (status, body) == (404, b"")
    status, body, _ = http_get(vivace.url("/api/v2/traces/abcdef"))
    assert status == 200 and json.loads(body).get("trace") == {}
    assert http_get(vivace.url("/api/traces/abc?start=20&end=10"))[:2] == (400, b"http parameter start must be before end. received start=20 end=10")
    assert http_get(vivace.url("/api/traces/abc?mode=bogus"))[:2] == (400, b"invalid value for mode bogus")
    assert http_get(vivace.url("/api/traces/abc?start=x"))[0] == 400


def test_tenants_are_required_and_isolated(vivace_factory):
    node = vivace_factory(extra_yaml="multitenancy_enabled: true").start()
    trace = (b"\x0a" * 16, b"\x0b" * 8)
    status, body, _ = http_post(node.otlp_http, export([trace]).SerializeToString(), PROTOBUF)
    assert status in (400, 401), "an export without org id is refused"
    status, _, _ = http_post(node.otlp_http, export([trace]).SerializeToString(), {**PROTOBUF, "X-Scope-OrgID": "team-a"})
    assert status == 200
    assert http_get(node.url("/api/traces/" + "0a" * 16))[:2] == (400, b"no org id")
    assert http_get(node.url("/api/traces/" + "0a" * 16), {"X-Scope-OrgID": "team-a"})[0] == 200
    assert http_get(node.url("/api/traces/" + "0a" * 16), {"X-Scope-OrgID": "team-b"})[0] == 404
    assert http_get(node.url("/api/traces/" + "0a" * 16), {"X-Scope-OrgID": "../etc"})[0] == 400


def test_truncated_wal_tail(vivace_factory):
    node = vivace_factory().start()
    for index in range(1, 6):
        status, _, _ = http_post(node.otlp_http, export([(bytes([index]) * 16, bytes([index]) * 8)]).SerializeToString(), PROTOBUF)
        assert status == 200
    node.kill9()
    wal_files = sorted(node.wal_dir.glob("*.wal"))
    newest_with_data = [path for path in wal_files if path.stat().st_size > 8][-1]
    size = newest_with_data.stat().st_size
    with open(newest_with_data, "r+b") as file:
        file.truncate(size - 3)
    node.start()
    found = [http_get(node.url("/api/traces/" + f"{index:02x}" * 16))[0] for index in range(1, 6)]
    assert found[:4] == [200] * 4, found
    assert found[4] == 404, "the torn record is dropped, not half-read"
    assert "cut at the last good record" in node.log_text()


def test_corrupted_block_is_reported_and_the_rest_served(vivace_factory):
    node = vivace_factory().start()
    for index in range(1, 4):
        http_post(node.otlp_http, export([(bytes([index]) * 16, bytes([index]) * 8)]).SerializeToString(), PROTOBUF)
        node.flush_and_wait()
    blocks = sorted(node.blocks_dir.glob("single-tenant/*/data.parquet"))
    assert len(blocks) == 3
    damaged = blocks[0]
    data = bytearray(damaged.read_bytes())
    for offset in range(8, 40):
        data[offset] ^= 0xFF
    damaged.write_bytes(bytes(data))
    node.restart()
    statuses = {}
    for index in range(1, 4):
        status, body, _ = http_get(node.url("/api/traces/" + f"{index:02x}" * 16), {"Accept": "application/protobuf"})
        statuses[index] = (status, len(decode_v1_protobuf(body)) if status == 200 else 0)
        status, body, _ = http_get(node.url("/api/v2/traces/" + f"{index:02x}" * 16))
        assert status == 200
    assert sum(1 for status, spans in statuses.values() if status == 200 and spans == 1) == 2, statuses
    assert node.alive()
    assert "checksum mismatch" in node.log_text()
