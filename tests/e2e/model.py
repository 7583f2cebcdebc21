"""Canonical span form shared by every check: what the SDK recorded, what Tempo's JSON dialect and
the protobuf answers hold, reduced to comparable tuples."""

import base64
import json
import urllib.error
import urllib.request

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind, StatusCode


def typed(value):
    """An attribute value as (type, value); sequences become ("array", [...])."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, bytes):
        return ("bytes", value)
    if isinstance(value, (list, tuple)):
        return ("array", tuple(typed(item) for item in value))
    raise TypeError(f"unexpected attribute value {value!r}")


def attrs_from_sdk(attributes):
    return tuple((key, typed(value)) for key, value in (attributes or {}).items())


KIND_FROM_SDK = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
STATUS_FROM_SDK = {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}


def canonical_from_sdk(span):
    """From an SDK ReadableSpan."""
    context = span.get_span_context()
    parent = format(span.parent.span_id, "016x") if span.parent else ""
    status = span.status
    return (
        format(context.span_id, "016x"),
        format(context.trace_id, "032x"),
        parent,
        span.name,
        KIND_FROM_SDK[span.kind],
        span.start_time,
        span.end_time,
        attrs_from_sdk(span.attributes),
        tuple((event.name, event.timestamp, attrs_from_sdk(event.attributes)) for event in span.events),
        tuple(
            (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x"), attrs_from_sdk(link.attributes))
            for link in span.links
        ),
        (STATUS_FROM_SDK[status.status_code], status.description or ""),
        attrs_from_sdk(span.resource.attributes),
        (span.instrumentation_scope.name, span.instrumentation_scope.version or ""),
    )


# ---- protobuf -------------------------------------------------------------------------------


def any_from_proto(value):
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return ("string", value.string_value)
    if kind == "bool_value":
        return ("bool", value.bool_value)
    if kind == "int_value":
        return ("int", value.int_value)
    if kind == "double_value":
        return ("double", value.double_value)
    if kind == "bytes_value":
        return ("bytes", value.bytes_value)
    if kind == "array_value":
        return ("array", tuple(any_from_proto(item) for item in value.array_value.values))
    if kind == "kvlist_value":
        return ("kvlist", tuple((kv.key, any_from_proto(kv.value)) for kv in value.kvlist_value.values))
    return ("empty", None)


def attrs_from_proto(attributes):
    return tuple((kv.key, any_from_proto(kv.value)) for kv in attributes)


def spans_from_proto_trace(resource_spans):
    spans = []
    for batch in resource_spans:
        resource = attrs_from_proto(batch.resource.attributes)
        for scope_spans in batch.scope_spans:
            scope = (scope_spans.scope.name, scope_spans.scope.version)
            for span in scope_spans.spans:
                spans.append(
                    (
                        span.span_id.hex(),
                        span.trace_id.hex(),
                        span.parent_span_id.hex(),
                        span.name,
                        span.kind,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        attrs_from_proto(span.attributes),
                        tuple((event.name, event.time_unix_nano, attrs_from_proto(event.attributes)) for event in span.events),
                        tuple((link.trace_id.hex(), link.span_id.hex(), attrs_from_proto(link.attributes)) for link in span.links),
                        (span.status.code, span.status.message),
                        resource,
                        scope,
                    )
                )
    return spans


def decode_v1_protobuf(body):
    """`tempopb.Trace` is wire-identical to an OTLP export request."""
    return spans_from_proto_trace(ExportTraceServiceRequest.FromString(body).resource_spans)


def split_top_level_fields(body):
    """Parses the top-level fields of a protobuf message: {field number: [raw values]}."""
    fields = {}
    position = 0

    def varint():
        nonlocal position
        shift = result = 0
        while True:
            byte = body[position]
            position += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    while position < len(body):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.setdefault(number, []).append(varint())
        elif wire == 2:
            length = varint()
            fields.setdefault(number, []).append(body[position : position + length])
            position += length
        elif wire == 1:
            fields.setdefault(number, []).append(body[position : position + 8])
            position += 8
        elif wire == 5:
            fields.setdefault(number, []).append(body[position : position + 4])
            position += 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return fields


def decode_v2_protobuf(body):
    """`TraceByIDResponse`: 1 trace, 2 metrics, 3 status, 4 message."""
    fields = split_top_level_fields(body)
    trace = fields.get(1, [b""])[0]
    status = fields.get(3, [0])[0]
    return decode_v1_protobuf(trace), status


# ---- Tempo's JSON dialect ------------------------------------------------------------------


def b64hex(text):
    return base64.b64decode(text).hex() if text else ""


def any_from_json(value):
    if "stringValue" in value:
        return ("string", value["stringValue"])
    if "boolValue" in value:
        return ("bool", value["boolValue"])
    if "intValue" in value:
        assert isinstance(value["intValue"], str), "64-bit integers are strings in Tempo's JSON"
        return ("int", int(value["intValue"]))
    if "doubleValue" in value:
        return ("double", float(value["doubleValue"]))
    if "bytesValue" in value:
        return ("bytes", base64.b64decode(value["bytesValue"]))
    if "arrayValue" in value:
        return ("array", tuple(any_from_json(item) for item in value["arrayValue"].get("values", [])))
    if "kvlistValue" in value:
        return ("kvlist", tuple((kv["key"], any_from_json(kv.get("value", {}))) for kv in value["kvlistValue"].get("values", [])))
    return ("empty", None)


def attrs_from_json(attributes):
    return tuple((kv["key"], any_from_json(kv.get("value", {}))) for kv in attributes or [])


KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def spans_from_json_batches(batches):
    spans = []
    for batch in batches:
        resource = attrs_from_json(batch.get("resource", {}).get("attributes"))
        for scope_spans in batch.get("scopeSpans", []):
            scope_json = scope_spans.get("scope", {})
            scope = (scope_json.get("name", ""), scope_json.get("version", ""))
            for span in scope_spans.get("spans", []):
                assert isinstance(span.get("startTimeUnixNano"), str), "timestamps are strings"
                status = span.get("status", {})
                spans.append(
                    (
                        b64hex(span.get("spanId")),
                        b64hex(span.get("traceId")),
                        b64hex(span.get("parentSpanId")),
                        span.get("name", ""),
                        KIND_NAMES[span.get("kind", "SPAN_KIND_UNSPECIFIED")],
                        int(span.get("startTimeUnixNano", "0")),
                        int(span.get("endTimeUnixNano", "0")),
                        attrs_from_json(span.get("attributes")),
                        tuple(
                            (event.get("name", ""), int(event.get("timeUnixNano", "0")), attrs_from_json(event.get("attributes")))
                            for event in span.get("events", [])
                        ),
                        tuple(
                            (b64hex(link.get("traceId")), b64hex(link.get("spanId")), attrs_from_json(link.get("attributes")))
                            for link in span.get("links", [])
                        ),
                        (STATUS_NAMES[status.get("code", "STATUS_CODE_UNSET")], status.get("message", "")),
                        resource,
                        scope,
                    )
                )
    return spans


# ---- HTTP -----------------------------------------------------------------------------------


def http_get(url, headers=None, timeout=10):
    """(status, body bytes, headers) without raising on 4xx/5xx."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def http_post(url, body, headers=None, timeout=10):
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def read_trace_all_ways(node, trace_id, query=""):
    """The trace read as v1 JSON, v1 protobuf, v2 JSON and v2 protobuf: {way: sorted spans}."""
    results = {}
    status, body, _ = http_get(node.url(f"/api/traces/{trace_id}{query}"))
    assert status == 200, f"v1 json {trace_id}: {status} {body[:200]!r}"
    document = json.loads(body)
    assert "batches" in document and "resourceSpans" not in document
    results["v1-json"] = sorted(spans_from_json_batches(document["batches"]))
    status, body, headers = http_get(node.url(f"/api/traces/{trace_id}{query}"), {"Accept": "application/protobuf"})
    assert status == 200, f"v1 protobuf {trace_id}: {status}"
    assert headers.get("content-type", headers.get("Content-Type", "")).startswith("application/protobuf")
    results["v1-protobuf"] = sorted(decode_v1_protobuf(body))
    status, body, _ = http_get(node.url(f"/api/v2/traces/{trace_id}{query}"))
    assert status == 200, f"v2 json {trace_id}: {status}"
    document = json.loads(body)
    assert document.get("status", "COMPLETE") != "PARTIAL", document.get("message")
    results["v2-json"] = sorted(spans_from_json_batches(document.get("trace", {}).get("resourceSpans", [])))
    status, body, _ = http_get(node.url(f"/api/v2/traces/{trace_id}{query}"), {"Accept": "application/protobuf"})
    assert status == 200, f"v2 protobuf {trace_id}: {status}"
    spans, partial = decode_v2_protobuf(body)
    assert partial == 0
    results["v2-protobuf"] = sorted(spans)
    return results
