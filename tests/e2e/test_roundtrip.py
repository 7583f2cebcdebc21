"""Traces sent with the OpenTelemetry SDK read back exactly, four ways, from memory and blocks."""

import gzip
import json
import os
from concurrent.futures import ThreadPoolExecutor

from model import http_get, http_post, read_trace_all_ways, spans_from_json_batches
from workload import send_traces

TRACES_PER_TRANSPORT = int(os.environ.get("VIVACE_E2E_TRACES", "1000"))


def assert_all_equal(node, sent, query=""):
    def check(item):
        trace_id, expected = item
        for way, spans in read_trace_all_ways(node, trace_id, query).items():
            assert spans == expected, f"trace {trace_id} read as {way} differs from what was sent"
        return trace_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        checked = list(pool.map(check, sent.items()))
    assert len(checked) == len(sent)


def test_sdk_traces_read_back_exactly_over_grpc_and_http(vivace):
    sent = send_traces(vivace, "grpc", TRACES_PER_TRANSPORT, seed=1)
    sent.update(send_traces(vivace, "http", TRACES_PER_TRANSPORT, seed=2))
    assert len(sent) == 2 * TRACES_PER_TRANSPORT
    assert_all_equal(vivace, sent)
    received = vivace.metric("tempo_distributor_spans_received_total", 'tenant="single-tenant"')
    assert received == sum(len(spans) for spans in sent.values())

    # The same traces after they are flushed to blocks, from blocks only, then after a restart.
    vivace.flush_and_wait()
    assert list(vivace.blocks_dir.glob("single-tenant/*/meta.json")), "a block was written"
    assert_all_equal(vivace, sent, "?mode=blocks")
    vivace.restart()
    assert_all_equal(vivace, sent)


def otlp_json_body(trace_hex, span_hex, name):
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
                                "name": name,
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000100000000",
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": "200"}},
                                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                                ],
                                "status": {"code": 2, "message": "bad"},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def test_otlp_json_with_and_without_gzip(vivace):
    cases = [("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", False), ("00000000000000000000000000abcdef", "0000000000000001", True)]
    for trace_hex, span_hex, compress in cases:
        body = json.dumps(otlp_json_body(trace_hex, span_hex, "json-span")).encode()
        headers = {"Content-Type": "application/json"}
        if compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        status, response, _ = http_post(vivace.otlp_http, body, headers)
        assert status == 200, response
        status, response, _ = http_get(vivace.url(f"/api/traces/{trace_hex.lstrip('0')}"))
        assert status == 200
        spans = spans_from_json_batches(json.loads(response)["batches"])
        assert len(spans) == 1
        span = spans[0]
        assert span[0] == span_hex and span[1] == trace_hex
        assert span[4] == 2 and span[7] == (("http.status_code", ("int", 200)), ("ratio", ("double", 0.5)))
        assert span[10] == (2, "bad")
        assert span[11] == (("service.name", ("string", "json-client")),)
