"""One canonical span form shared by every check.

What the SDK recorded, what was sent as raw protobuf, and what comes back as Tempo's JSON dialect
or as protobuf are all reduced to the same tuples:

    (span id hex, trace id hex, parent span id hex, name, kind int, start ns, end ns,
     attributes, events, links, (status code int, status message),
     resource attributes, (scope name, scope version, scope attributes))

Attributes are ordered tuples of (key, (type, value)); doubles are compared by `float.hex()` so
NaN, infinities and the exact bits all count. Events are (name, time ns, attributes); links are
(trace id hex, span id hex, attributes).

`full=True` adds the fields only raw protobuf senders set: trace state, dropped counts, flags.
"""

import base64
import difflib
import json
import pprint
import urllib.error
import urllib.request

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.trace import SpanKind, StatusCode

PROTOBUF = {"Content-Type": "application/x-protobuf"}

# ---- from the SDK ---------------------------------------------------------------------------


def typed(value):
    """An SDK attribute value as (type, value); sequences become ("array", (...))."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("double", value.hex())
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
    """From an SDK ReadableSpan (what the OTLP exporter puts on the wire)."""
    context = span.get_span_context()
    parent = format(span.parent.span_id, "016x") if span.parent else ""
    status = span.status
    scope = span.instrumentation_scope
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
        # The exporter sends the description only with ERROR (the SDK drops it otherwise).
        (STATUS_FROM_SDK[status.status_code], status.description or ""),
        attrs_from_sdk(span.resource.attributes),
        (scope.name, scope.version or "", attrs_from_sdk(getattr(scope, "attributes", None))),
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
        return ("double", value.double_value.hex())
    if kind == "bytes_value":
        return ("bytes", value.bytes_value)
    if kind == "array_value":
        return ("array", tuple(any_from_proto(item) for item in value.array_value.values))
    if kind == "kvlist_value":
        return ("kvlist", tuple((kv.key, any_from_proto(kv.value)) for kv in value.kvlist_value.values))
    return ("empty", None)


def attrs_from_proto(attributes):
    return tuple((kv.key, any_from_proto(kv.value)) for kv in attributes)


def spans_from_proto(resource_spans, full=False):
    spans = []
    for batch in resource_spans:
        resource = attrs_from_proto(batch.resource.attributes)
        for scope_spans in batch.scope_spans:
            scope = (scope_spans.scope.name, scope_spans.scope.version, attrs_from_proto(scope_spans.scope.attributes))
            for span in scope_spans.spans:
                row = (
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
                if full:
                    row += (
                        span.trace_state,
                        span.dropped_attributes_count,
                        span.dropped_events_count,
                        span.dropped_links_count,
                        tuple(event.dropped_attributes_count for event in span.events),
                        tuple((link.trace_state, link.dropped_attributes_count, link.flags) for link in span.links),
                        span.flags,
                    )
                spans.append(row)
    return spans


def decode_v1_protobuf(body, full=False):
    """`tempopb.Trace` is wire-identical to an OTLP export request."""
    return spans_from_proto(ExportTraceServiceRequest.FromString(body).resource_spans, full)


def split_top_level_fields(body):
    """The top-level fields of a protobuf message: {field number: [raw values]}."""
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
            assert position + length <= len(body), "truncated protobuf field"
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


def decode_v2_protobuf(body, full=False):
    """`TraceByIDResponse`: 1 trace, 2 metrics, 3 status, 4 message -> (spans, status, message)."""
    fields = split_top_level_fields(body)
    assert set(fields) <= {1, 2, 3, 4}, f"unexpected TraceByIDResponse fields {sorted(fields)}"
    trace = fields.get(1, [b""])[-1]
    status = fields.get(3, [0])[-1]
    message = fields.get(4, [b""])[-1].decode()
    return decode_v1_protobuf(trace, full), status, message


# ---- Tempo's JSON dialect ------------------------------------------------------------------


def b64hex(text):
    if not text:
        return ""
    assert isinstance(text, str), f"ids are base64 strings, got {text!r}"
    return base64.b64decode(text, validate=True).hex()


def any_from_json(value):
    assert isinstance(value, dict), value
    assert len(value) <= 1, f"an AnyValue has one key: {value}"
    if "stringValue" in value:
        return ("string", value["stringValue"])
    if "boolValue" in value:
        assert isinstance(value["boolValue"], bool)
        return ("bool", value["boolValue"])
    if "intValue" in value:
        assert isinstance(value["intValue"], str), f"64-bit integers are strings in Tempo's JSON: {value}"
        return ("int", int(value["intValue"]))
    if "doubleValue" in value:
        number = value["doubleValue"]
        # jsonpb writes NaN and the infinities as the strings "NaN", "Infinity", "-Infinity".
        assert isinstance(number, (int, float)) or number in ("NaN", "Infinity", "-Infinity"), value
        return ("double", float(number).hex())
    if "bytesValue" in value:
        return ("bytes", base64.b64decode(value["bytesValue"], validate=True))
    if "arrayValue" in value:
        return ("array", tuple(any_from_json(item) for item in value["arrayValue"].get("values", [])))
    if "kvlistValue" in value:
        return ("kvlist", tuple((kv["key"], any_from_json(kv.get("value", {}))) for kv in value["kvlistValue"].get("values", [])))
    return ("empty", None)


def attrs_from_json(attributes):
    return tuple((kv["key"], any_from_json(kv.get("value", {}))) for kv in attributes or [])


KIND_NAMES = {
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_NAMES = {"STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def ns(text):
    assert isinstance(text, str), f"64-bit timestamps are strings in Tempo's JSON: {text!r}"
    return int(text)


def spans_from_json(resource_spans, full=False):
    spans = []
    for batch in resource_spans:
        resource = attrs_from_json(batch.get("resource", {}).get("attributes"))
        for scope_spans in batch.get("scopeSpans", []):
            scope_json = scope_spans.get("scope", {})
            scope = (scope_json.get("name", ""), scope_json.get("version", ""), attrs_from_json(scope_json.get("attributes")))
            for span in scope_spans.get("spans", []):
                status = span.get("status", {})
                row = (
                    b64hex(span.get("spanId")),
                    b64hex(span.get("traceId")),
                    b64hex(span.get("parentSpanId")),
                    span.get("name", ""),
                    KIND_NAMES[span["kind"]] if "kind" in span else 0,
                    ns(span["startTimeUnixNano"]) if "startTimeUnixNano" in span else 0,
                    ns(span["endTimeUnixNano"]) if "endTimeUnixNano" in span else 0,
                    attrs_from_json(span.get("attributes")),
                    tuple(
                        (event.get("name", ""), ns(event["timeUnixNano"]) if "timeUnixNano" in event else 0, attrs_from_json(event.get("attributes")))
                        for event in span.get("events", [])
                    ),
                    tuple(
                        (b64hex(link.get("traceId")), b64hex(link.get("spanId")), attrs_from_json(link.get("attributes")))
                        for link in span.get("links", [])
                    ),
                    (STATUS_NAMES[status["code"]] if "code" in status else 0, status.get("message", "")),
                    resource,
                    scope,
                )
                if full:
                    row += (
                        span.get("traceState", ""),
                        span.get("droppedAttributesCount", 0),
                        span.get("droppedEventsCount", 0),
                        span.get("droppedLinksCount", 0),
                        tuple(event.get("droppedAttributesCount", 0) for event in span.get("events", [])),
                        tuple((link.get("traceState", ""), link.get("droppedAttributesCount", 0), link.get("flags", 0)) for link in span.get("links", [])),
                        span.get("flags", 0),
                    )
                spans.append(row)
    return spans


def default_valued_fields(node, path="$"):
    """Fields that jsonpb would have omitted (default values), outside AnyValue oneofs."""
    found = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            found += default_valued_fields(item, f"{path}[{index}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "value" and "key" in node:
                found += default_values_in_any(value, here)
                continue
            if value in ("", 0, "0", False, []) and not isinstance(value, float):
                found.append(here)
            found += default_valued_fields(value, here)
    return found


def default_values_in_any(value, path):
    """Inside an AnyValue the set oneof is always written; only look into arrays and kvlists."""
    found = []
    if isinstance(value, dict):
        for item_index, item in enumerate(value.get("arrayValue", {}).get("values", [])):
            found += default_values_in_any(item, f"{path}.arrayValue.values[{item_index}]")
        for kv_index, kv in enumerate(value.get("kvlistValue", {}).get("values", [])):
            found += default_values_in_any(kv.get("value", {}), f"{path}.kvlistValue.values[{kv_index}].value")
    return found


# ---- HTTP and gRPC ------------------------------------------------------------------------


def header(headers, name):
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def http_get(url, headers=None, timeout=20):
    """(status, body bytes, headers) without raising on 4xx/5xx."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def http_post(url, body, headers=None, timeout=20):
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def grpc_export(node, request, metadata=None, timeout=10):
    """Exports over OTLP gRPC; returns None on success or the grpc.RpcError."""
    with grpc.insecure_channel(node.otlp_grpc) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            stub.Export(request, timeout=timeout, metadata=metadata)
            return None
        except grpc.RpcError as error:
            return error


def raw_span(trace_id, span_id, name="s", **fields):
    return trace_pb2.Span(trace_id=trace_id, span_id=span_id, name=name, start_time_unix_nano=fields.pop("start", 1_700_000_000_000_000_000), end_time_unix_nano=fields.pop("end", 1_700_000_000_000_001_000), **fields)


def raw_export(spans, service="raw"):
    """An export request holding `spans` (trace_pb2.Span or (trace id, span id) pairs)."""
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.resource.v1 import resource_pb2

    spans = [span if isinstance(span, trace_pb2.Span) else raw_span(*span) for span in spans]
    resource = resource_pb2.Resource(attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value=service))])
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]
    )


# ---- the four read paths ------------------------------------------------------------------


def read_trace_all_ways(node, trace_id, query="", headers=None, full=False):
    """The trace read as v1 JSON, v1 protobuf, v2 JSON and v2 protobuf: {way: sorted spans}.

    Checks the envelope of each answer on the way (status code, content type, `batches` vs
    `resourceSpans`, COMPLETE status, jsonpb's omission of default values)."""
    headers = dict(headers or {})
    results = {}
    status, body, response_headers = http_get(node.url(f"/api/traces/{trace_id}{query}"), headers)
    assert status == 200, f"v1 json {trace_id}{query}: {status} {body[:300]!r}"
    assert (header(response_headers, "content-type") or "").startswith("application/json"), response_headers
    document = json.loads(body)
    assert set(document) == {"batches"}, f"v1 JSON has only `batches`: {list(document)}"
    defaults = default_valued_fields(document)
    assert not defaults, f"v1 JSON of {trace_id} writes default values (jsonpb omits them): {defaults[:5]}"
    results["v1-json"] = sorted(spans_from_json(document["batches"], full))

    status, body, response_headers = http_get(node.url(f"/api/traces/{trace_id}{query}"), {**headers, "Accept": "application/protobuf"})
    assert status == 200, f"v1 protobuf {trace_id}{query}: {status} {body[:300]!r}"
    assert (header(response_headers, "content-type") or "").startswith("application/protobuf"), response_headers
    results["v1-protobuf"] = sorted(decode_v1_protobuf(body, full))

    status, body, response_headers = http_get(node.url(f"/api/v2/traces/{trace_id}{query}"), headers)
    assert status == 200, f"v2 json {trace_id}{query}: {status} {body[:300]!r}"
    assert (header(response_headers, "content-type") or "").startswith("application/json"), response_headers
    document = json.loads(body)
    assert "batches" not in document and set(document) <= {"trace", "metrics", "status", "message"}, list(document)
    assert "status" not in document, f"v2 of {trace_id} is {document.get('status')}: {document.get('message')}"
    defaults = default_valued_fields(document.get("trace", {}))
    assert not defaults, f"v2 JSON of {trace_id} writes default values (jsonpb omits them): {defaults[:5]}"
    results["v2-json"] = sorted(spans_from_json(document.get("trace", {}).get("resourceSpans", []), full))

    status, body, response_headers = http_get(node.url(f"/api/v2/traces/{trace_id}{query}"), {**headers, "Accept": "application/protobuf"})
    assert status == 200, f"v2 protobuf {trace_id}{query}: {status} {body[:300]!r}"
    assert (header(response_headers, "content-type") or "").startswith("application/protobuf"), response_headers
    spans, partial, message = decode_v2_protobuf(body, full)
    assert partial == 0, f"v2 protobuf of {trace_id} is PARTIAL: {message}"
    results["v2-protobuf"] = sorted(spans)
    return results


def describe_difference(expected, actual):
    """A short unified diff of two span lists for assertion messages."""
    if len(expected) != len(actual):
        head = f"{len(expected)} spans sent, {len(actual)} returned\n"
    else:
        head = ""
    lines = difflib.unified_diff(
        pprint.pformat(expected, width=160).splitlines(),
        pprint.pformat(actual, width=160).splitlines(),
        "sent",
        "returned",
        lineterm="",
        n=2,
    )
    return head + "\n".join(list(lines)[:60])


def assert_traces_equal(node, sent, query="", headers=None, full=False, workers=8):
    """Reads every trace of `sent` ({trace id hex: sorted spans}) four ways; each equals what was sent."""
    from concurrent.futures import ThreadPoolExecutor

    def check(item):
        trace_id, expected = item
        problems = []
        for way, spans in read_trace_all_ways(node, trace_id, query, headers, full).items():
            if spans != expected:
                problems.append(f"trace {trace_id}{query} read as {way} differs from what was sent:\n{describe_difference(expected, spans)}")
        return problems

    with ThreadPoolExecutor(max_workers=workers) as pool:
        problems = [problem for result in pool.map(check, sent.items()) for problem in result]
    assert not problems, f"{len(problems)} mismatches; first:\n" + "\n".join(problems[:2])
