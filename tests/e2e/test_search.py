"""TraceQL search, tag names and tag values over HTTP (JSON and protobuf) and over gRPC
(`tempopb.StreamingQuerier`, on the gRPC port and on the HTTP port with `stream_over_http_enabled`).

A small shop application is sent with the OpenTelemetry SDK (one OTLP gRPC export): services
`frontend`, `cart` and `db`, HTTP server/client spans (some 500 with status ERROR), database spans,
an array attribute, events, nested parents. Every expectation is computed from the spans the SDK
recorded, by Python predicates that mirror each query (see `App.expect`).

The recent-data tests share one node (module fixture); the block test starts its own node, flushes,
restarts it (so only blocks hold the data) and searches with `start`/`end`.
"""

import json
import random
import re
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections import defaultdict
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import Vivace
from model import default_valued_fields, header, http_get

STREAM_OVER_HTTP = "stream_over_http_enabled: true\n"
MS = 1_000_000

# ---- gRPC stubs -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tempopb(tmp_path_factory):
    """Generates the StreamingQuerier stubs (tests/e2e/tempopb/gen_stubs.sh) with this Python."""
    out = tmp_path_factory.mktemp("tempopb_stubs")
    script = Path(__file__).resolve().parent / "tempopb" / "gen_stubs.sh"
    result = subprocess.run(["bash", str(script), str(out)], capture_output=True, text=True, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"gen_stubs.sh failed:\n{result.stdout}\n{result.stderr}"
    sys.path.insert(0, str(out))
    import tempopb_search_pb2
    import tempopb_search_pb2_grpc

    return tempopb_search_pb2, tempopb_search_pb2_grpc


# ---- the application ------------------------------------------------------------------------


class Ids(IdGenerator):
    """Random ids, many with leading zero bytes/nibbles (trimmed in `traceID`, kept in `spanID`)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.traces = 0
        self.spans = 0

    def generate_trace_id(self):
        self.traces += 1
        return (self.rng.getrandbits(128) >> (4 * (self.traces % 5))) or 1

    def generate_span_id(self):
        self.spans += 1
        return (self.rng.getrandbits(64) >> (4 * (self.spans % 3))) or 1


class Rec:
    """One recorded span, in the terms the oracle needs."""

    def __init__(self, span):
        context = span.get_span_context()
        self.trace = format(context.trace_id, "032x")
        self.id = format(context.span_id, "016x")
        self.parent = format(span.parent.span_id, "016x") if span.parent else ""
        self.service = span.resource.attributes["service.name"]
        self.name = span.name
        self.kind = span.kind
        self.start = span.start_time
        self.end = span.end_time
        self.attrs = dict(span.attributes or {})
        self.error = span.status.status_code == StatusCode.ERROR


def short_id(trace_hex):
    return trace_hex.lstrip("0") or "0"


class App:
    """Sends the shop's traces to a node; answers "what should match" for a predicate."""

    def __init__(self, node, seed):
        self.node = node
        self.run = uuid.uuid4().hex[:12]
        ids = Ids(seed)
        memory = InMemorySpanExporter()
        tracers = {}
        for service in ("frontend", "cart", "db"):
            provider = TracerProvider(resource=Resource.create({"service.name": service, "e2e.run": self.run}), id_generator=ids)
            provider.add_span_processor(SimpleSpanProcessor(memory))
            tracers[service] = provider.get_tracer(f"shop-{service}", "1.0.0")
        self.base = time.time_ns() - 5_000_000_000
        plan = ["ok", "fail", "browse", "ok", "cart", "fail", "browse", "ok"]
        for index, kind in enumerate(plan):
            self._trace(tracers, kind, self.base + index * 200 * MS)
        finished = memory.get_finished_spans()
        exporter = OTLPSpanExporter(endpoint=f"http://{node.otlp_grpc}", insecure=True)
        result = exporter.export(finished)
        self.acked = time.monotonic()
        exporter.shutdown()
        assert result == SpanExportResult.SUCCESS, "the OTLP export was not acknowledged"
        self.spans = [Rec(span) for span in finished]
        self.by_id = {span.id: span for span in self.spans}
        self.traces = defaultdict(list)
        for span in self.spans:
            self.traces[span.trace].append(span)
        assert len(self.traces) == len(plan) and len(self.spans) == 26
        self.full_id = {short_id(trace): trace for trace in self.traces}
        assert any(trace.startswith("0") for trace in self.traces), "some trace ids have leading zeros"

    @staticmethod
    def _span(tracers, service, name, kind, parent, start, start_ms, duration_ms, attributes, error=None, events=()):
        context = otel_trace.set_span_in_context(parent) if parent is not None else None
        span = tracers[service].start_span(name, context=context, kind=kind, attributes=attributes, start_time=start + start_ms * MS)
        for event_name, event_attributes, at_ms in events:
            span.add_event(event_name, event_attributes, timestamp=start + at_ms * MS)
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=start + (start_ms + duration_ms) * MS)
        return span

    def _trace(self, tracers, kind, start):
        span = lambda *args, **kwargs: self._span(tracers, *args, start=start, **kwargs)  # noqa: E731
        if kind in ("ok", "fail"):
            code = 200 if kind == "ok" else 500
            error = "upstream failed" if kind == "fail" else None
            root = span("frontend", "GET /checkout", SpanKind.SERVER, None, start_ms=0, duration_ms=120,
                        attributes={"http.method": "GET", "http.status_code": code, "http.route": "/checkout"}, error=error)
            client = span("frontend", "POST /cart", SpanKind.CLIENT, root, start_ms=10, duration_ms=80,
                          attributes={"http.method": "POST", "http.status_code": code}, error=error)
            events = [("cart.updated", {"cart.size": 2}, 40)] if kind == "ok" else [("exception", {"exception.message": "connection refused"}, 60)]
            server = span("cart", "POST /cart", SpanKind.SERVER, client, start_ms=15, duration_ms=70,
                          attributes={"http.method": "POST", "http.status_code": code, "cart.items": ["apple", "pear"] if kind == "ok" else ["plum"]},
                          error=error, events=events)
            span("db", "SELECT cart_items", SpanKind.SERVER, server, start_ms=20, duration_ms=30,
                 attributes={"db.system": "postgresql", "db.statement": "SELECT * FROM cart_items WHERE cart_id = ?"},
                 error="connection refused" if kind == "fail" else None)
        elif kind == "browse":
            root = span("frontend", "GET /products", SpanKind.SERVER, None, start_ms=0, duration_ms=60,
                        attributes={"http.method": "GET", "http.status_code": 200, "http.route": "/products"})
            span("frontend", "render products", SpanKind.INTERNAL, root, start_ms=5, duration_ms=50, attributes={"template": "products.html"})
        else:
            root = span("cart", "GET /cart", SpanKind.SERVER, None, start_ms=0, duration_ms=40,
                        attributes={"http.method": "GET", "http.status_code": 200})
            span("db", "GET cart:42", SpanKind.SERVER, root, start_ms=5, duration_ms=10, attributes={"db.system": "redis"})

    # ---- the oracle ----

    def ancestors(self, span):
        while span.parent:
            span = self.by_id[span.parent]
            yield span

    def expect(self, predicate, group=None, spanset_attributes=None):
        """{trace: [(spanset attributes, frozenset of span ids)]} for the spans `predicate` selects.

        `group(span)` splits a trace's matches into spansets (by()); `spanset_attributes(key, ids)`
        gives the attributes Tempo puts on each spanset."""
        expected = {}
        for trace, spans in self.traces.items():
            groups = defaultdict(set)
            for span in spans:
                if predicate(span):
                    groups[group(span) if group else None].add(span.id)
            if groups:
                expected[trace] = [
                    (spanset_attributes(key, ids) if spanset_attributes else [], frozenset(ids)) for key, ids in groups.items()
                ]
        return expected

    def trace_meta(self, trace):
        spans = self.traces[trace]
        root = next(span for span in spans if not span.parent)
        start = min(span.start for span in spans)
        stats = {}
        for span in spans:
            entry = stats.setdefault(span.service, {"spanCount": 0})
            entry["spanCount"] += 1
            if span.error:
                entry["errorCount"] = entry.get("errorCount", 0) + 1
        return {
            "rootServiceName": root.service,
            "rootTraceName": root.name,
            "startTimeUnixNano": str(start),
            "durationMs": (max(span.end for span in spans) - start) // MS,
            "serviceStats": stats,
        }


def string_value(value):
    return {"stringValue": value}


def int_value(value):
    return {"intValue": str(value)}


def by_service(key, ids):
    return [{"key": "by(resource.service.name)", "value": string_value(key)}]


def count_attribute(key, ids):
    return [{"key": "count()", "value": int_value(len(ids))}]


# Query cases shared by the recent-data and the block tests:
# (query, predicate, group, spanset attributes, (span attribute key, expected value of span) or None)
def query_cases(app):
    frontend_ancestor = lambda span: any(parent.service == "frontend" for parent in app.ancestors(span))  # noqa: E731
    cart_parent = lambda span: bool(span.parent) and app.by_id[span.parent].service == "cart"  # noqa: E731
    return [
        ('{ resource.service.name = "cart" }', lambda span: span.service == "cart", None, None,
         ("service.name", lambda span: string_value("cart"))),
        (f'{{ resource.service.name = "cart" && resource.e2e.run = "{app.run}" }}', lambda span: span.service == "cart", None, None, None),
        ('{ resource.e2e.run = "not-this-run" }', lambda span: False, None, None, None),
        ("{ span.http.status_code = 500 }", lambda span: span.attrs.get("http.status_code") == 500, None, None,
         ("http.status_code", lambda span: int_value(500))),
        ("{ status = error } | count() > 0", lambda span: span.error, None, count_attribute,
         ("status", lambda span: string_value("error"))),
        ('{ resource.service.name = "frontend" } >> { resource.service.name = "db" }',
         lambda span: span.service == "db" and frontend_ancestor(span), None, None, None),
        ('{ resource.service.name = "frontend" } > { resource.service.name = "db" }', lambda span: False, None, None, None),
        ('{ resource.service.name = "cart" } > { resource.service.name = "db" }',
         lambda span: span.service == "db" and cart_parent(span), None, None, None),
        ('{ name =~ "SELECT.*" }', lambda span: re.fullmatch("SELECT.*", span.name) is not None, None, None, None),
        ('{ span.http.method = "POST" } | by(resource.service.name)', lambda span: span.attrs.get("http.method") == "POST",
         lambda span: span.service, by_service, None),
        ('{ span.cart.items = "apple" }', lambda span: "apple" in span.attrs.get("cart.items", ()), None, None, None),
        ('{ rootServiceName = "cart" }', lambda span: app.trace_meta(span.trace)["rootServiceName"] == "cart", None, None, None),
        ("{ }", lambda span: True, None, None, None),
    ]


# ---- checking answers -----------------------------------------------------------------------


def check_traces(app, label, traces, expected, spss=3, ordered=True, subset_of=None):
    """Checks a list of jsonpb `TraceSearchMetadata` dicts against `expected` exactly."""
    assert isinstance(traces, list), f"{label}: `traces` is {traces!r}"
    got = [trace.get("traceID") for trace in traces]
    assert len(got) == len(set(got)), f"{label}: duplicate traces {got}"
    want = {short_id(trace) for trace in expected}
    if subset_of is None:
        assert set(got) == want, f"{label}: traceIDs {sorted(got)}, expected {sorted(want)} (missing {sorted(want - set(got))}, extra {sorted(set(got) - want)})"
    else:
        assert len(got) == subset_of and set(got) <= want, f"{label}: traceIDs {sorted(got)}, expected {subset_of} of {sorted(want)}"
    if ordered:
        starts = [int(trace["startTimeUnixNano"]) for trace in traces]
        assert starts == sorted(starts, reverse=True), f"{label}: traces not sorted by startTimeUnixNano descending: {starts}"
    for trace in traces:
        trace_id = app.full_id.get(trace["traceID"])
        assert trace_id, f"{label}: traceID {trace['traceID']} is not lowercase hex without leading zeros of a sent trace"
        where = f"{label}: trace {trace['traceID']}"
        meta = app.trace_meta(trace_id)
        for key, value in meta.items():
            assert trace.get(key) == value, f"{where}: {key} is {trace.get(key)!r}, expected {value!r}"
        assert isinstance(trace["startTimeUnixNano"], str) and isinstance(trace["durationMs"], int)
        defaults = default_valued_fields(trace)
        assert not defaults, f"{where}: default values written (jsonpb omits them): {defaults}"
        spansets = trace.get("spanSets", [])
        assert "spanSet" in trace and spansets and trace["spanSet"] == spansets[0], f"{where}: deprecated `spanSet` is not a copy of spanSets[0]: {trace.get('spanSet')} vs {spansets[:1]}"
        want_sets = {json.dumps(attributes, sort_keys=True): ids for attributes, ids in expected[trace_id]}
        got_sets = {json.dumps(spanset.get("attributes", []), sort_keys=True): spanset for spanset in spansets}
        assert len(got_sets) == len(spansets) and set(got_sets) == set(want_sets), f"{where}: spanset attributes {list(got_sets)}, expected {list(want_sets)}"
        for key, spanset in got_sets.items():
            ids = want_sets[key]
            assert spanset.get("matched") == len(ids), f"{where}: spanset {key} matched={spanset.get('matched')!r}, expected {len(ids)}"
            spans = spanset.get("spans", [])
            returned = [span.get("spanID") for span in spans]
            assert len(returned) == min(spss, len(ids)) and len(set(returned)) == len(returned), f"{where}: spanset {key} returns spans {returned}, expected {min(spss, len(ids))} of {sorted(ids)} (spss={spss})"
            for span in spans:
                assert re.fullmatch("[0-9a-f]{16}", span["spanID"]), f"{where}: spanID {span['spanID']!r} is not 16 lowercase hex characters"
                assert span["spanID"] in ids, f"{where}: span {span['spanID']} ({app.by_id.get(span['spanID']).name if span['spanID'] in app.by_id else '?'}) does not match; expected {sorted(ids)}"
                sent = app.by_id[span["spanID"]]
                assert span.get("name") == sent.name, f"{where}: span {sent.id} name {span.get('name')!r}"
                assert span.get("startTimeUnixNano") == str(sent.start), f"{where}: span {sent.id} startTimeUnixNano {span.get('startTimeUnixNano')!r}, expected {str(sent.start)!r}"
                assert span.get("durationNanos") == str(sent.end - sent.start), f"{where}: span {sent.id} durationNanos {span.get('durationNanos')!r}"


def check_span_attribute(label, traces, attribute, app):
    key, value_of = attribute
    for trace in traces:
        for spanset in trace.get("spanSets", []):
            for span in spanset.get("spans", []):
                attributes = {kv["key"]: kv.get("value") for kv in span.get("attributes", [])}
                expected = value_of(app.by_id[span["spanID"]])
                assert attributes.get(key) == expected, f"{label}: span {span['spanID']} attributes {span.get('attributes')}, expected {key}={expected}"


def search(node, query, accept=None, **params):
    query_string = urllib.parse.urlencode({"q": query, **params})
    return http_get(node.url(f"/api/search?{query_string}"), {"Accept": accept} if accept else {})


def search_json(node, query, **params):
    status, body, headers = search(node, query, **params)
    assert status == 200, f"GET /api/search q={query} {params}: {status} {body[:300]!r}"
    assert (header(headers, "content-type") or "").startswith("application/json"), headers
    return json.loads(body)


def run_query_cases(app, node, **params):
    for query, predicate, group, spanset_attributes, span_attribute in query_cases(app):
        label = f"/api/search q={query} {params}"
        answer = search_json(node, query, limit=50, **params)
        expected = app.expect(predicate, group, spanset_attributes)
        check_traces(app, label, answer.get("traces", []), expected)
        if span_attribute:
            check_span_attribute(label, answer["traces"], span_attribute, app)
        yield query, answer


def get_json(node, path, **params):
    url = node.url(path + ("?" + urllib.parse.urlencode(params) if params else ""))
    status, body, headers = http_get(url)
    assert status == 200, f"GET {url}: {status} {body[:300]!r}"
    assert (header(headers, "content-type") or "").startswith("application/json"), (url, headers)
    return json.loads(body)


# ---- the shared node ------------------------------------------------------------------------


class Shared:
    pass


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """One node (gRPC also on the HTTP port) that received the shop's traces; waits until a
    recent-data search (no start/end) finds all of them and records how long that took."""
    workdir = tmp_path_factory.mktemp("search-node")
    node = Vivace(workdir, extra_yaml=STREAM_OVER_HTTP)
    shared = Shared()
    shared.node = node
    try:
        node.start()
        app = App(node, seed=random.randrange(2**32))
        shared.app = app
        query = f'{{ resource.e2e.run = "{app.run}" }}'
        deadline = app.acked + 10
        shared.visible_after = None
        shared.last = None
        while time.monotonic() < deadline:
            status, body, _ = search(node, query, limit=100)
            shared.last = (status, body[:300])
            if status == 404:
                break  # no search route at all
            if status == 200 and {trace.get("traceID") for trace in json.loads(body).get("traces", [])} == set(app.full_id):
                shared.visible_after = time.monotonic() - app.acked
                break
            time.sleep(0.05)
        yield shared
    finally:
        node.kill9()
        assert "panicked at" not in node.log_text(), "vivace panicked:\n" + node.log_tail(80)


@pytest.fixture
def app(shop, request):
    request.node.vivace_nodes = [shop.node]
    return shop.app


def test_recent_traces_are_searchable_within_two_seconds(shop, app):
    assert shop.visible_after is not None, f"a search without start/end did not find all {len(app.traces)} traces within 10 s of the acknowledged export; last answer {shop.last}"
    print(f"recent traces searchable {shop.visible_after * 1000:.0f} ms after the acknowledged export")
    assert shop.visible_after <= 2.0, f"recent traces became searchable {shop.visible_after:.2f} s after the export was acknowledged (expected <= 2 s)"


def test_search_recent_data_json(shop, app):
    answers = dict(run_query_cases(app, shop.node))
    metrics = answers["{ }"].get("metrics")
    assert isinstance(metrics, dict), answers["{ }"]
    assert isinstance(metrics.get("inspectedTraces", 0), int) and isinstance(metrics.get("inspectedBytes", "0"), str), metrics


def test_search_limit_and_spans_per_spanset(shop, app):
    node = shop.node
    frontend = app.expect(lambda span: span.service == "frontend")
    answer = search_json(node, '{ resource.service.name = "frontend" }', limit=2)
    check_traces(app, "limit=2", answer.get("traces", []), frontend, subset_of=2)
    answer = search_json(node, '{ resource.service.name = "frontend" }')
    check_traces(app, "default limit", answer.get("traces", []), frontend)

    errors = app.expect(lambda span: span.error)
    for spss in (1, 2, 5):
        answer = search_json(node, "{ status = error }", spss=spss)
        check_traces(app, f"spss={spss}", answer.get("traces", []), errors, spss=spss)
    # Every trace has 2 or 4 spans; spss=3 is the default and caps `spans` but not `matched`.
    everything = app.expect(lambda span: True)
    check_traces(app, "{ } default spss", search_json(node, "{ }").get("traces", []), everything, spss=3)
    check_traces(app, "{ } spss=10", search_json(node, "{ }", spss=10).get("traces", []), everything, spss=10)


def test_search_bad_requests(shop, app):
    node = shop.node
    status, body, headers = search(node, "{ span.http.status_code = }")
    assert status == 400 and body.decode(errors="replace").startswith("invalid TraceQL query:"), (status, body[:300])
    assert (header(headers, "content-type") or "").startswith("text/plain"), f"errors are plain text: {headers}"
    status, body, _ = search(node, "{ status = error } | by(")
    assert status == 400 and body.decode(errors="replace").startswith("invalid TraceQL query:"), (status, body[:300])
    status, body, _ = search(node, "{ }", limit=0)
    assert status == 400 and body.decode(errors="replace").startswith("invalid limit: must be a positive number"), (status, body[:300])
    status, body, _ = search(node, "{ }", spss=101)
    assert status == 400 and body.decode(errors="replace").startswith("spans per span set exceeds 100"), (status, body[:300])
    status, body, _ = search(node, "{ }", start=200, end=100)
    assert status == 400 and body.decode(errors="replace").startswith("http parameter start must be before end. received start=200 end=100"), (status, body[:300])


def test_search_protobuf(shop, app, tempopb):
    pb, _ = tempopb
    node = shop.node
    for query, predicate, group, spanset_attributes, _ in query_cases(app)[3:6] + query_cases(app)[9:10]:
        status, body, headers = search(node, query, accept="application/protobuf", limit=50)
        assert status == 200, (query, status, body[:300])
        assert (header(headers, "content-type") or "").startswith("application/protobuf"), headers
        message = pb.SearchResponse.FromString(body)
        document = MessageToDict(message)
        check_traces(app, f"protobuf q={query}", document.get("traces", []), app.expect(predicate, group, spanset_attributes))

    def protobuf(path, message_type):
        status, body, headers = http_get(node.url(path), {"Accept": "application/protobuf"})
        assert status == 200, (path, status, body[:300])
        assert (header(headers, "content-type") or "").startswith("application/protobuf"), (path, headers)
        return MessageToDict(message_type.FromString(body))

    scopes = scopes_of(protobuf("/api/v2/search/tags", pb.SearchTagsV2Response))
    assert RESOURCE_KEYS <= set(scopes["resource"]) and SPAN_KEYS <= set(scopes["span"]), scopes
    assert SPAN_KEYS <= set(protobuf("/api/search/tags?scope=span", pb.SearchTagsResponse).get("tagNames", []))
    values = protobuf("/api/v2/search/tag/span.http.status_code/values", pb.SearchTagValuesV2Response)
    assert typed_values(values, "protobuf v2 values") == {("int", "200"), ("int", "500")}
    values = protobuf("/api/search/tag/service.name/values", pb.SearchTagValuesResponse)
    assert sorted(values.get("tagValues", [])) == sorted(SERVICES), values


def scopes_of(document):
    names = [scope["name"] for scope in document.get("scopes", [])]
    assert len(names) == len(set(names)), f"duplicate scopes {names}"
    return {scope["name"]: scope.get("tags", []) for scope in document.get("scopes", [])}


SPAN_KEYS = {"http.method", "http.status_code", "http.route", "cart.items", "db.system", "db.statement", "template"}
RESOURCE_KEYS = {"service.name", "e2e.run", "telemetry.sdk.language", "telemetry.sdk.name", "telemetry.sdk.version"}
EVENT_KEYS = {"cart.size", "exception.message"}
INTRINSICS = {
    "duration", "name", "status", "statusMessage", "kind", "rootServiceName", "rootName", "traceDuration",
    "event:name", "event:timeSinceStart", "link:spanID", "link:traceID", "instrumentation:name", "instrumentation:version",
    "trace:id", "span:id", "span:parentID", "span:status", "span:statusMessage", "span:duration", "span:name", "span:kind",
    "trace:rootName", "trace:rootService", "trace:duration",
}
SERVICES = {"frontend", "cart", "db"}
SPAN_NAMES = {"GET /checkout", "POST /cart", "SELECT cart_items", "GET /products", "render products", "GET /cart", "GET cart:42"}
STATUS_KEYWORDS = {("keyword", "ok"), ("keyword", "error"), ("keyword", "unset")}
KIND_KEYWORDS = {("keyword", kind) for kind in ("client", "server", "producer", "consumer", "internal", "unspecified")}


def typed_values(document, label):
    values = document.get("tagValues", [])
    pairs = [(value.get("type"), value.get("value")) for value in values]
    assert len(pairs) == len(set(pairs)), f"{label}: duplicate values {pairs}"
    return set(pairs)


def check_tags(node, **window):
    """Tag names and values, v1 and v2 (with `start`/`end` when `window` holds them)."""
    names = get_json(node, "/api/search/tags", **window).get("tagNames", [])
    assert len(names) == len(set(names)), f"v1 tag names repeat: {names}"
    assert SPAN_KEYS | RESOURCE_KEYS <= set(names), f"v1 tags lack {sorted((SPAN_KEYS | RESOURCE_KEYS) - set(names))}: {names}"
    assert "rootServiceName" not in names, f"v1 lists intrinsics only for scope=intrinsic: {names}"
    names = set(get_json(node, "/api/search/tags", scope="span", **window).get("tagNames", []))
    assert SPAN_KEYS <= names and not names & RESOURCE_KEYS, f"v1 scope=span: {sorted(names)}"
    names = set(get_json(node, "/api/search/tags", scope="intrinsic", **window).get("tagNames", []))
    assert {"duration", "name", "status", "kind"} <= names, f"v1 scope=intrinsic: {sorted(names)}"

    scopes = scopes_of(get_json(node, "/api/v2/search/tags", **window))
    assert {"resource", "span", "intrinsic"} <= set(scopes), f"v2 scopes {sorted(scopes)}"
    assert RESOURCE_KEYS <= set(scopes["resource"]) and not SPAN_KEYS & set(scopes["resource"]), f"v2 resource tags {scopes['resource']}"
    assert SPAN_KEYS <= set(scopes["span"]) and not RESOURCE_KEYS & set(scopes["span"]), f"v2 span tags {scopes['span']}"
    assert set(scopes["intrinsic"]) == INTRINSICS, f"v2 intrinsics: missing {sorted(INTRINSICS - set(scopes['intrinsic']))}, extra {sorted(set(scopes['intrinsic']) - INTRINSICS)}"
    assert EVENT_KEYS <= set(scopes.get("event", [])), f"v2 event-scope tags {scopes.get('event')} lack the events' attribute keys {sorted(EVENT_KEYS)}"
    scopes = scopes_of(get_json(node, "/api/v2/search/tags", scope="resource", **window))
    assert set(scopes) == {"resource"} and RESOURCE_KEYS <= set(scopes["resource"]), f"v2 scope=resource: {scopes}"
    scopes = scopes_of(get_json(node, "/api/v2/search/tags", scope="span", q='{ resource.service.name = "db" }', **window))
    assert set(scopes) == {"span"} and set(scopes["span"]) == {"db.system", "db.statement"}, f"v2 scope=span filtered to db spans: {scopes}"

    values = get_json(node, "/api/search/tag/service.name/values", **window).get("tagValues")
    assert sorted(values) == sorted(SERVICES), f"v1 service.name values {values}"
    values = get_json(node, "/api/search/tag/http.status_code/values", **window).get("tagValues")
    assert sorted(values) == ["200", "500"], f"v1 http.status_code values {values}"

    def v2(tag, **params):
        label = f"/api/v2/search/tag/{tag}/values {params}"
        return typed_values(get_json(node, f"/api/v2/search/tag/{tag}/values", **params, **window), label)

    assert v2("resource.service.name") == {("string", service) for service in SERVICES}
    assert v2("span.http.status_code") == {("int", "200"), ("int", "500")}
    assert v2("span.http.method") == {("string", "GET"), ("string", "POST")}
    assert v2("span.db.system") == {("string", "postgresql"), ("string", "redis")}
    assert v2("name") == {("string", name) for name in SPAN_NAMES}
    assert v2("status") == STATUS_KEYWORDS
    assert v2("kind") == KIND_KEYWORDS
    assert v2("resource.service.name", q="{ span.http.status_code = 500 }") == {("string", "frontend"), ("string", "cart")}
    assert v2("span.db.system", q='{ resource.service.name = "db" && status = error }') == {("string", "postgresql")}
    assert v2("span.http.status_code", q='{ resource.service.name = "frontend" && name = "GET /products" }') == {("int", "200")}


def test_tags_recent_data(shop, app):
    check_tags(shop.node)


def test_tags_bad_requests(shop, app):
    node = shop.node
    status, body, _ = http_get(node.url("/api/search/tags?scope=bogus"))
    assert status == 400 and body.decode(errors="replace").startswith("invalid scope: bogus"), (status, body[:300])
    status, body, _ = http_get(node.url("/api/v2/search/tags?scope=bogus"))
    assert status == 400 and body.decode(errors="replace").startswith("invalid scope: bogus"), (status, body[:300])
    status, body, _ = http_get(node.url("/api/v2/search/tag/http.method/values"))
    assert status == 400 and body.decode(errors="replace").startswith("please provide a valid tagName"), (status, body[:300])


# ---- gRPC -----------------------------------------------------------------------------------


def stream(call, request, label):
    """All messages of a server stream as dicts (jsonpb names, like Grafana's decoder sees them)."""
    messages = [MessageToDict(message) for message in call(request, timeout=30)]
    assert messages, f"{label}: the stream ended without a message"
    return messages


def accumulate_traces(messages):
    """Grafana's accumulation: traces de-duplicated by traceID (the newest copy wins)."""
    traces = {}
    for message in messages:
        for trace in message.get("traces", []):
            traces[trace["traceID"]] = trace
    return sorted(traces.values(), key=lambda trace: -int(trace["startTimeUnixNano"]))


def check_grpc(app, address, tempopb, **window):
    pb, pb_grpc = tempopb
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.StreamingQuerierStub(channel)
        for query, predicate, group, spanset_attributes, _ in query_cases(app):
            label = f"gRPC {address} Search {query} {window}"
            messages = stream(stub.Search, pb.SearchRequest(Query=query, Limit=50, **window), label)
            check_traces(app, label, accumulate_traces(messages), app.expect(predicate, group, spanset_attributes))
        # SpansPerSpanSet 0 (what Grafana sends when the query model lacks it) means 3.
        label = f"gRPC {address} Search spss=0"
        messages = stream(stub.Search, pb.SearchRequest(Query="{ status = error }", Limit=20, **window), label)
        check_traces(app, label, accumulate_traces(messages), app.expect(lambda span: span.error), spss=3)
        messages = stream(stub.Search, pb.SearchRequest(Query="{ status = error }", Limit=20, SpansPerSpanSet=1, **window), label)
        check_traces(app, f"gRPC {address} Search spss=1", accumulate_traces(messages), app.expect(lambda span: span.error), spss=1)
        messages = stream(stub.Search, pb.SearchRequest(Query='{ resource.service.name = "frontend" }', Limit=2, **window), label)
        check_traces(app, f"gRPC {address} Search limit=2", accumulate_traces(messages), app.expect(lambda span: span.service == "frontend"), subset_of=2)

        with pytest.raises(grpc.RpcError) as error:
            list(stub.Search(pb.SearchRequest(Query="{ span.http.status_code = }", Limit=20, **window), timeout=30))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, f"gRPC {address} invalid query: {error.value.code()} {error.value.details()}"
        assert "invalid TraceQL query" in (error.value.details() or ""), error.value.details()

        tag_window = {"start": window.get("start", 0), "end": window.get("end", 0)}
        scopes = defaultdict(set)
        for message in stream(stub.SearchTagsV2, pb.SearchTagsRequest(scope="", **tag_window), f"gRPC {address} SearchTagsV2"):
            for scope in message.get("scopes", []):
                scopes[scope["name"]].update(scope.get("tags", []))
        assert {"resource", "span", "intrinsic"} <= set(scopes), f"gRPC {address} SearchTagsV2 scopes {sorted(scopes)}"
        assert RESOURCE_KEYS <= scopes["resource"] and SPAN_KEYS <= scopes["span"] and scopes["intrinsic"] == INTRINSICS, f"gRPC {address} SearchTagsV2 {dict(scopes)}"

        names = set()
        for message in stream(stub.SearchTags, pb.SearchTagsRequest(scope="span", **tag_window), f"gRPC {address} SearchTags"):
            names.update(message.get("tagNames", []))
        assert SPAN_KEYS <= names and not names & RESOURCE_KEYS, f"gRPC {address} SearchTags scope=span {sorted(names)}"

        def values_v2(tag, query=""):
            found = set()
            for message in stream(stub.SearchTagValuesV2, pb.SearchTagValuesRequest(tagName=tag, query=query, **tag_window), f"gRPC {address} SearchTagValuesV2 {tag}"):
                found.update((value.get("type"), value.get("value")) for value in message.get("tagValues", []))
            return found

        assert values_v2("resource.service.name") == {("string", service) for service in SERVICES}
        assert values_v2("span.http.status_code") == {("int", "200"), ("int", "500")}
        assert values_v2("status") == STATUS_KEYWORDS
        assert values_v2("resource.service.name", "{ span.http.status_code = 500 }") == {("string", "frontend"), ("string", "cart")}
        values = set()
        for message in stream(stub.SearchTagValues, pb.SearchTagValuesRequest(tagName="service.name", **tag_window), f"gRPC {address} SearchTagValues"):
            values.update(message.get("tagValues", []))
        assert values == SERVICES, f"gRPC {address} SearchTagValues service.name {values}"


def test_grpc_on_the_grpc_port(shop, app, tempopb):
    check_grpc(app, f"127.0.0.1:{shop.node.grpc_port}", tempopb)


def test_grpc_on_the_http_port(shop, app, tempopb):
    check_grpc(app, f"127.0.0.1:{shop.node.http_port}", tempopb)
    # The HTTP API still answers on the same port.
    assert http_get(shop.node.url("/api/echo"))[0] == 200


# ---- flushed blocks -------------------------------------------------------------------------


def test_search_flushed_blocks_with_start_and_end(vivace_factory, tempopb):
    # Here the setting is written inside `server:` (the shared node has it at the top level, where
    # Tempo reads it); both spellings enable gRPC on the HTTP port.
    node = vivace_factory()
    text = node.config.read_text()
    assert text.count("\nserver:\n") == 1
    node.config.write_text(text.replace("\nserver:\n", "\nserver:\n  stream_over_http_enabled: true\n"))
    node.start()
    app = App(node, seed=random.randrange(2**32))
    node.flush_and_wait()
    deadline = time.time() + 30
    while time.time() < deadline:
        objects = sum(json.loads((block / "meta.json").read_text()).get("totalObjects", 0) for block in node.block_dirs())
        if objects >= len(app.traces):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the blocks hold {objects} traces after /flush, {len(app.traces)} were sent")
    # After a restart nothing is left in the ingester: only blocks can answer.
    node.restart()
    window = {"start": app.base // 1_000_000_000 - 60, "end": int(time.time()) + 60}
    everything = app.expect(lambda span: True)
    deadline = time.time() + 15
    while True:
        status, body, _ = search(node, "{ }", limit=50, **window)
        found = {trace.get("traceID") for trace in json.loads(body).get("traces", [])} if status == 200 else set()
        if found == set(app.full_id) or time.time() > deadline:
            break
        time.sleep(0.2)
    answer = search_json(node, "{ }", limit=50, **window)
    check_traces(app, f"blocks {{ }} {window}", answer.get("traces", []), everything)
    assert answer.get("metrics", {}).get("totalBlocks", 0) >= 1, f"a search with start/end over flushed blocks reports totalBlocks >= 1: {answer.get('metrics')}"
    for _ in run_query_cases(app, node, **window):
        pass
    check_traces(app, "blocks spss=1", search_json(node, "{ status = error }", spss=1, **window).get("traces", []), app.expect(lambda span: span.error), spss=1)
    check_tags(node, **window)
    check_grpc(app, f"127.0.0.1:{node.grpc_port}", tempopb, **window)
    check_grpc(app, f"127.0.0.1:{node.http_port}", tempopb, **window)
