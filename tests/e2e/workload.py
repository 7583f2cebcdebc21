"""Rich traces from the OpenTelemetry SDK: several resources and scopes, attributes of every type,
events, links, status and kinds. Everything sent is also recorded in memory for comparison."""

import random
from collections import defaultdict

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from model import canonical_from_sdk

KINDS = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]


def exporter_for(node, transport):
    if transport == "grpc":
        return GrpcExporter(endpoint=f"http://{node.otlp_grpc}", insecure=True)
    return HttpExporter(endpoint=node.otlp_http)


def random_attributes(rng, prefix):
    return {
        f"{prefix}.str": f"value-{rng.randint(0, 10**6)}",
        f"{prefix}.bool": rng.random() < 0.5,
        f"{prefix}.int": rng.randint(-(2**62), 2**62),
        f"{prefix}.float": rng.uniform(-1e6, 1e6),
        f"{prefix}.strs": [f"s{rng.randint(0, 9)}" for _ in range(rng.randint(1, 3))],
        f"{prefix}.bools": [rng.random() < 0.5 for _ in range(2)],
        f"{prefix}.ints": [rng.randint(-1000, 1000) for _ in range(3)],
        f"{prefix}.floats": [rng.uniform(0, 1) for _ in range(2)],
    }


def send_traces(node, transport, count, seed):
    """Sends `count` traces; returns {trace id hex: sorted canonical spans}."""
    rng = random.Random(seed)
    memory = InMemorySpanExporter()
    providers = []
    for index in range(3):
        resource = Resource.create(
            {
                "service.name": f"{transport}-service-{index}",
                "deployment.environment": rng.choice(["prod", "staging"]),
                "host.cores": rng.randint(1, 64),
            }
        )
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(memory))
        provider.add_span_processor(BatchSpanProcessor(exporter_for(node, transport), max_export_batch_size=256))
        providers.append(provider)
    tracers = [
        provider.get_tracer(f"scope-{name}", version)
        for provider in providers
        for name, version in (("http", "1.2.3"), ("db", ""))
    ]
    previous_context = None
    for _ in range(count):
        tracer = rng.choice(tracers)
        links = []
        if previous_context is not None and rng.random() < 0.3:
            links.append(Link(previous_context, {"link.reason": "follows", "link.n": rng.randint(0, 9)}))
        with tracer.start_as_current_span(
            f"root-{rng.randint(0, 20)}", kind=rng.choice(KINDS), attributes=random_attributes(rng, "root"), links=links
        ) as root:
            root.add_event("started", {"event.attempt": rng.randint(1, 3), "event.ok": True})
            for child_index in range(rng.randint(0, 3)):
                with tracer.start_as_current_span(f"child-{child_index}", kind=rng.choice(KINDS)) as child:
                    child.set_attributes(random_attributes(rng, "child"))
                    choice = rng.random()
                    if choice < 0.3:
                        child.set_status(Status(StatusCode.ERROR, "boom"))
                    elif choice < 0.6:
                        child.set_status(Status(StatusCode.OK))
                    if rng.random() < 0.3:
                        child.add_event("retry", {"retry.delay_ms": rng.uniform(1, 100)})
            previous_context = root.get_span_context()
    for provider in providers:
        assert provider.force_flush(60_000), "the SDK could not export every span"
        provider.shutdown()
    traces = defaultdict(list)
    for span in memory.get_finished_spans():
        traces[format(span.get_span_context().trace_id, "032x")].append(canonical_from_sdk(span))
    return {trace_id: sorted(spans) for trace_id, spans in traces.items()}
