"""Rich traces from the OpenTelemetry SDK: several resources and scopes (with scope attributes),
span attributes of every SDK type, events, links with attributes, every status and span kind,
nested children. Everything exported is also recorded in memory for comparison."""

import math
import random
from collections import defaultdict

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from model import canonical_from_sdk

KINDS = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]

SPECIAL_STRINGS = ["", "ünïcødé ✓ 🚀", 'quote " backslash \\ slash /', "new\nline\ttab", "\u0001\u001f control", "<html>&amp;"]
SPECIAL_INTS = [0, 1, -1, 2**63 - 1, -(2**63), 2**53 + 1, -(2**31)]
SPECIAL_FLOATS = [0.0, -0.0, 0.1, 1e308, 5e-324, -2.5e-10, 3.0, 123456789.123456789]


class CheckedExporter(SpanExporter):
    """Wraps the OTLP exporter and remembers whether any export failed."""

    def __init__(self, inner):
        self.inner = inner
        self.failures = 0
        self.exported = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result == SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failures += 1
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def exporter_for(node, transport, headers=None, compression=None):
    if transport == "grpc":
        metadata = tuple((key.lower(), value) for key, value in (headers or {}).items()) or None
        return GrpcExporter(endpoint=f"http://{node.otlp_grpc}", insecure=True, headers=metadata, compression=compression)
    return HttpExporter(endpoint=node.otlp_http, headers=headers, compression=compression)


def random_attributes(rng, prefix):
    attributes = {
        f"{prefix}.str": rng.choice(SPECIAL_STRINGS) if rng.random() < 0.2 else f"value-{rng.randint(0, 10**6)}",
        f"{prefix}.bool": rng.random() < 0.5,
        f"{prefix}.int": rng.choice(SPECIAL_INTS) if rng.random() < 0.3 else rng.randint(-(2**62), 2**62),
        f"{prefix}.float": rng.choice(SPECIAL_FLOATS) if rng.random() < 0.3 else rng.uniform(-1e6, 1e6),
        f"{prefix}.strs": [f"s{rng.randint(0, 9)}" for _ in range(rng.randint(1, 3))] + rng.sample(SPECIAL_STRINGS, 1),
        f"{prefix}.bools": [rng.random() < 0.5 for _ in range(rng.randint(1, 3))],
        f"{prefix}.ints": [rng.randint(-1000, 1000) for _ in range(rng.randint(1, 3))] + rng.sample(SPECIAL_INTS, 1),
        f"{prefix}.floats": [rng.uniform(0, 1) for _ in range(rng.randint(1, 3))],
    }
    keys = list(attributes)
    rng.shuffle(keys)
    return {key: attributes[key] for key in keys}


def send_traces(node, transport, count, seed, headers=None, special_floats=True, compression=None):
    """Sends `count` traces with the SDK; returns {trace id hex: sorted canonical spans}."""
    rng = random.Random(seed)
    memory = InMemorySpanExporter()
    providers, exporters = [], []
    for index in range(3):
        resource = Resource.create(
            {
                "service.name": f"{transport}-service-{index}",
                "service.namespace": "e2e",
                "deployment.environment": rng.choice(["prod", "staging"]),
                "host.cores": rng.randint(1, 64),
                "host.ratio": rng.uniform(0, 1),
                "host.virtual": index % 2 == 0,
                "host.tags": ["a", "b", f"r{index}"],
            }
        )
        provider = TracerProvider(resource=resource)
        exporter = CheckedExporter(exporter_for(node, transport, headers, compression))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=256, schedule_delay_millis=200))
        providers.append(provider)
        exporters.append(exporter)
    tracers = []
    for provider_index, provider in enumerate(providers):
        tracers.append(provider.get_tracer("scope-http", "1.2.3", attributes={"scope.kind": "http", "scope.n": provider_index}))
        tracers.append(provider.get_tracer("scope-db", ""))
        tracers.append(provider.get_tracer("scope-queue", "0.0.1-beta", attributes={"scope.flags": [True, False]}))
    recent_contexts = []
    for trace_number in range(count):
        tracer = rng.choice(tracers)
        links = []
        if recent_contexts and rng.random() < 0.4:
            for context in rng.sample(recent_contexts, min(len(recent_contexts), rng.randint(1, 2))):
                links.append(Link(context, {"link.reason": "follows", "link.n": rng.randint(0, 9), "link.weights": [0.5, 1.5]}))
        root_attributes = random_attributes(rng, "root")
        if special_floats and trace_number % 97 == 0:
            root_attributes["root.special"] = rng.choice([math.inf, -math.inf, math.nan])
        with tracer.start_as_current_span(
            f"root-{rng.randint(0, 20)}", kind=rng.choice(KINDS), attributes=root_attributes, links=links
        ) as root:
            root.add_event("started", {"event.attempt": rng.randint(1, 3), "event.ok": True, "event.tags": ["x", "y"]})
            if rng.random() < 0.3:
                root.add_event("no-attributes")
            for child_index in range(rng.randint(0, 3)):
                with tracer.start_as_current_span(f"child-{child_index}", kind=rng.choice(KINDS)) as child:
                    child.set_attributes(random_attributes(rng, "child"))
                    choice = rng.random()
                    if choice < 0.3:
                        child.set_status(Status(StatusCode.ERROR, rng.choice(["boom", "ünïcødé failure", "timeout after 5s"])))
                    elif choice < 0.6:
                        child.set_status(Status(StatusCode.OK))
                    if rng.random() < 0.3:
                        child.add_event("retry", {"retry.delay_ms": rng.uniform(1, 100)}, timestamp=child.start_time + 1234)
                    if rng.random() < 0.4:
                        with tracer.start_as_current_span("grandchild", kind=rng.choice(KINDS), attributes={"depth": 2}) as grandchild:
                            grandchild.add_event("deep", {"depth.ok": False})
                            if rng.random() < 0.5:
                                grandchild.add_link(child.get_span_context(), {"link.kind": "sibling-of-parent"})
            choice = rng.random()
            if choice < 0.2:
                root.set_status(Status(StatusCode.ERROR, "root failed"))
            elif choice < 0.4:
                root.set_status(Status(StatusCode.OK))
            recent_contexts.append(root.get_span_context())
            del recent_contexts[:-20]
    for provider in providers:
        assert provider.force_flush(60_000), "the SDK could not export every span in time"
        provider.shutdown()
    assert sum(exporter.failures for exporter in exporters) == 0, "an OTLP export failed"
    traces = defaultdict(list)
    for span in memory.get_finished_spans():
        traces[format(span.get_span_context().trace_id, "032x")].append(canonical_from_sdk(span))
    assert sum(exporter.exported for exporter in exporters) == sum(len(spans) for spans in traces.values())
    return {trace_id: sorted(spans) for trace_id, spans in traces.items()}
