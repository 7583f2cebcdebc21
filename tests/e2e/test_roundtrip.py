"""Traces sent with the OpenTelemetry SDK (OTLP gRPC and OTLP HTTP protobuf), raw protobuf and
OTLP/JSON read back exactly, four ways (v1/v2 x JSON/protobuf)."""

import gzip
import json
import os

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from model import (
    PROTOBUF,
    assert_traces_equal,
    grpc_export,
    header,
    http_get,
    http_post,
    raw_export,
    raw_span,
    read_trace_all_ways,
    spans_from_proto,
)
from workload import send_traces

TRACES_PER_TRANSPORT = int(os.environ.get("VIVACE_E2E_TRACES", "1000"))


def test_sdk_traces_read_back_exactly_over_grpc_and_http(vivace):
    sent = send_traces(vivace, "grpc", TRACES_PER_TRANSPORT, seed=1)
    from_http = send_traces(vivace, "http", TRACES_PER_TRANSPORT, seed=2)
    assert not set(sent) & set(from_http)
    sent.update(from_http)
    assert len(sent) == 2 * TRACES_PER_TRANSPORT
    span_count = sum(len(spans) for spans in sent.values())
    assert span_count > 3 * len(sent) // 2, "the workload has nested children"
    assert_traces_equal(vivace, sent)
    received = vivace.metric("tempo_distributor_spans_received_total", 'tenant="single-tenant"')
    assert received == span_count, f"spans_received_total says {received}, {span_count} were sent"
    assert vivace.metric("tempo_discarded_spans_total") == 0


def test_gzip_compressed_sdk_exports(vivace):
    from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression as GrpcCompression
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression

    sent = send_traces(vivace, "grpc", 60, seed=11, compression=GrpcCompression.Gzip)
    sent.update(send_traces(vivace, "http", 60, seed=12, compression=HttpCompression.Gzip))
    assert len(sent) == 120
    assert_traces_equal(vivace, sent)


def any_value(**kwargs):
    return common_pb2.AnyValue(**kwargs)


def kv(key, value):
    return common_pb2.KeyValue(key=key, value=value)


def test_raw_protobuf_every_value_type_and_field(vivace):
    """Value types the SDK cannot produce (bytes, kvlist, nested and mixed arrays, empty values),
    kind UNSPECIFIED, trace state, dropped counts, OK with a message, over HTTP and gRPC."""
    attributes = [
        kv("bytes", any_value(bytes_value=b"\x00\x01\xfe\xff")),
        kv("empty-bytes", any_value(bytes_value=b"")),
        kv("kvlist", any_value(kvlist_value=common_pb2.KeyValueList(values=[kv("a", any_value(int_value=1)), kv("b", any_value(string_value="x"))]))),
        kv("nested", any_value(array_value=common_pb2.ArrayValue(values=[any_value(array_value=common_pb2.ArrayValue(values=[any_value(bool_value=True)]))]))),
        kv("mixed", any_value(array_value=common_pb2.ArrayValue(values=[any_value(int_value=1), any_value(string_value="1"), any_value(double_value=1.0)]))),
        kv("empty-array", any_value(array_value=common_pb2.ArrayValue())),
        kv("zero-int", any_value(int_value=0)),
        kv("zero-double", any_value(double_value=0.0)),
        kv("false", any_value(bool_value=False)),
        kv("empty-string", any_value(string_value="")),
        kv("no-value", common_pb2.AnyValue()),
    ]
    requests = []
    for transport, byte in (("http", 0x21), ("grpc", 0x22)):
        trace_id = bytes([byte]) * 16
        root = raw_span(
            trace_id,
            bytes([byte, 1]) * 4,
            "root ünïcødé",
            kind=trace_pb2.Span.SPAN_KIND_UNSPECIFIED,
            attributes=attributes,
            trace_state="vendor=abc,other=1",
            dropped_attributes_count=3,
            dropped_events_count=2,
            dropped_links_count=1,
            flags=0x301,
            status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_OK, message="fine"),
            events=[trace_pb2.Span.Event(time_unix_nano=1_700_000_000_000_000_500, name="e", attributes=attributes[:3], dropped_attributes_count=4)],
            links=[trace_pb2.Span.Link(trace_id=b"\x77" * 16, span_id=b"\x88" * 8, trace_state="k=v", attributes=attributes[3:6], dropped_attributes_count=5, flags=0x100)],
        )
        child = raw_span(trace_id, bytes([byte, 2]) * 4, "child", parent_span_id=bytes([byte, 1]) * 4, kind=trace_pb2.Span.SPAN_KIND_CONSUMER)
        request = raw_export([root, child], service=f"raw-{transport}")
        request.resource_spans[0].resource.attributes.extend(attributes[:2])
        request.resource_spans[0].scope_spans[0].scope.name = "raw-scope"
        request.resource_spans[0].scope_spans[0].scope.version = "9.9"
        request.resource_spans[0].scope_spans[0].scope.attributes.extend(attributes[2:4])
        if transport == "http":
            status, body, headers = http_post(vivace.otlp_http, request.SerializeToString(), PROTOBUF)
            assert status == 200, body
            assert (header(headers, "content-type") or "").startswith("application/x-protobuf"), headers
            response = ExportTraceServiceResponse.FromString(body)
            assert not response.partial_success.rejected_spans
        else:
            assert grpc_export(vivace, request) is None
        requests.append((trace_id.hex(), request))
    sent = {trace_id: sorted(spans_from_proto(request.resource_spans, full=True)) for trace_id, request in requests}
    assert_traces_equal(vivace, sent, full=True)


def otlp_json_body(trace_hex, span_hex, name, numbers_as_strings=True):
    def int64(value):
        return str(value) if numbers_as_strings else value

    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-client"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "curl", "version": "8"},
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": span_hex,
                                "parentSpanId": "",
                                "name": name,
                                "kind": 2,
                                "startTimeUnixNano": int64(1700000000000000000),
                                "endTimeUnixNano": int64(1700000000100000000),
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": int64(200)}},
                                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                                    {"key": "ok", "value": {"boolValue": True}},
                                    {"key": "blob", "value": {"bytesValue": "AAEC"}},
                                    {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": int64(-7)}]}}},
                                ],
                                "events": [{"timeUnixNano": int64(1700000000050000000), "name": "ev", "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}],
                                "links": [{"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "1112131415161718", "attributes": [{"key": "l", "value": {"intValue": int64(1)}}]}],
                                "status": {"code": 2, "message": "bad"},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def expected_json_span(trace_hex, span_hex, name):
    return (
        span_hex,
        trace_hex,
        "",
        name,
        2,
        1700000000000000000,
        1700000000100000000,
        (
            ("http.status_code", ("int", 200)),
            ("ratio", ("double", (0.5).hex())),
            ("ok", ("bool", True)),
            ("blob", ("bytes", b"\x00\x01\x02")),
            ("list", ("array", (("string", "a"), ("int", -7)))),
        ),
        (("ev", 1700000000050000000, (("k", ("string", "v")),)),),
        (("0102030405060708090a0b0c0d0e0f10", "1112131415161718", (("l", ("int", 1)),)),),
        (2, "bad"),
        (("service.name", ("string", "json-client")),),
        ("curl", "8", ()),
    )


def test_otlp_json_with_and_without_gzip(vivace):
    """OTLP/JSON uses hex ids (OTLP spec), 64-bit integers as strings or numbers, enums as ints."""
    cases = [
        ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", False, True),
        ("00000000000000000000000000abcdef", "0000000000000001", True, True),
        ("6b8efff798038103d269b633813fc60c", "aee19b7ec3c1b174", True, False),
        ("7B8EFFF798038103D269B633813FC60C", "BEE19B7EC3C1B174", False, False),
    ]
    sent = {}
    for trace_hex, span_hex, compress, numbers_as_strings in cases:
        name = f"json-span-{trace_hex[:4]}"
        body = json.dumps(otlp_json_body(trace_hex, span_hex, name, numbers_as_strings)).encode()
        headers = {"Content-Type": "application/json"}
        if compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        status, response, response_headers = http_post(vivace.otlp_http, body, headers)
        assert status == 200, (trace_hex, response)
        assert (header(response_headers, "content-type") or "").startswith("application/json"), response_headers
        assert isinstance(json.loads(response), dict), "the OTLP/JSON answer is an ExportTraceServiceResponse in JSON"
        sent[trace_hex.lower()] = [expected_json_span(trace_hex.lower(), span_hex.lower(), name)]
    assert_traces_equal(vivace, sent)
    # Short ids are left-padded (Tempo's HexStringToTraceID): abcdef == 000...0abcdef.
    results = read_trace_all_ways(vivace, "abcdef")
    assert results["v1-json"] == sent["00000000000000000000000000abcdef"]
