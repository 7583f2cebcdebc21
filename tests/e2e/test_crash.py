"""SIGKILL while clients are sending: every span whose export returned success is still there,
exactly once, with the content that was sent."""

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from model import decode_v1_protobuf, http_get

SEED = int(os.environ.get("VIVACE_E2E_SEED", str(random.randrange(1 << 30))))


def build_export(rng, sender_id, batch_number, open_traces):
    """An export mixing new traces and more spans of traces sent earlier (several batches each)."""
    spans = []
    for index in range(40):
        if open_traces and rng.random() < 0.85:
            trace_id = rng.choice(open_traces)
        else:
            trace_id = rng.randbytes(16)
            open_traces.append(trace_id)
        now = time.time_ns()
        spans.append(
            trace_pb2.Span(
                trace_id=trace_id,
                span_id=rng.randbytes(7) + bytes([index + 1]),
                name=f"s{sender_id}-b{batch_number}",
                kind=trace_pb2.Span.SPAN_KIND_SERVER,
                start_time_unix_nano=now,
                end_time_unix_nano=now + 1000,
                attributes=[common_pb2.KeyValue(key="n", value=common_pb2.AnyValue(int_value=batch_number))],
            )
        )
    del open_traces[:-100]
    resource = resource_pb2.Resource(attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="crash"))])
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]
    )


class Senders:
    """Threads exporting continuously; `acked` holds {trace hex: {span hex: (name, start)}} of the
    exports that returned OK."""

    def __init__(self, node, seed, count=2):
        self.node = node
        self.acked = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.batches_ok = 0
        self.threads = [threading.Thread(target=self.run, args=(seed + offset, offset)) for offset in range(count)]

    def run(self, seed, sender_id):
        rng = random.Random(seed)
        channel = grpc.insecure_channel(self.node.otlp_grpc)
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        open_traces = []
        batch_number = 0
        while not self.stop.is_set():
            batch_number += 1
            request = build_export(rng, sender_id, batch_number, open_traces)
            try:
                stub.Export(request, timeout=5)
            except grpc.RpcError:
                time.sleep(0.01)
                continue
            with self.lock:
                self.batches_ok += 1
                # (a short pause keeps the number of traces to verify moderate)
                for span in request.resource_spans[0].scope_spans[0].spans:
                    self.acked.setdefault(span.trace_id.hex(), {})[span.span_id.hex()] = (span.name, span.start_time_unix_nano)
            time.sleep(0.02)
        channel.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def assert_acked_present(node, acked):
    assert acked, "some exports were acknowledged before the kill"

    def check(item):
        trace_id, expected = item
        status, body, _ = http_get(node.url(f"/api/traces/{trace_id}"), {"Accept": "application/protobuf"})
        assert status in (200, 404), f"{trace_id}: {status} {body[:200]!r}"
        spans = decode_v1_protobuf(body) if status == 200 else []
        found = {span[0]: (span[3], span[5]) for span in spans}
        problems = []
        if len(spans) != len(found):
            problems.append(f"{trace_id}: duplicate spans ({len(spans)} spans, {len(found)} ids)")
        lost = set(expected) - set(found)
        if lost:
            problems.append(f"{trace_id}: {len(lost)} acknowledged spans lost, e.g. {sorted(lost)[:2]}")
        changed = [span_id for span_id in set(expected) & set(found) if expected[span_id] != found[span_id]]
        if changed:
            problems.append(f"{trace_id}: spans changed: {changed[:2]}")
        return problems

    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = [problem for result in pool.map(check, acked.items()) for problem in result]
    assert not problems, f"seed {SEED}: {len(problems)} problems in {len(acked)} traces, e.g. {problems[:3]}"


def merge(into, acked):
    for trace_id, spans in acked.items():
        into.setdefault(trace_id, {}).update(spans)
    return into


def test_kill_while_traces_are_live(vivace_factory):
    """Killed while every trace is still in memory (no block was ever cut)."""
    rng = random.Random(SEED)
    node = vivace_factory(ingester={"trace_idle_period": "30s", "max_block_duration": "1h"}).start()
    with Senders(node, SEED) as senders:
        time.sleep(rng.uniform(1.0, 2.5))
        node.kill9()
    assert senders.batches_ok > 0
    assert not node.block_dirs()
    node.start()
    assert_acked_present(node, senders.acked)


def test_kill_after_flush_cycles_started(vivace_factory):
    """Short block durations: idle traces are cut and blocks flushed while sending; the kill comes
    at a random moment after the first block was flushed; then once more after the restart."""
    rng = random.Random(SEED + 1)
    node = vivace_factory(ingester={"trace_idle_period": "200ms", "max_block_duration": "1s", "flush_check_period": "100ms"}).start()
    acked = {}
    with Senders(node, SEED + 100) as senders:
        node.wait_metric("tempo_ingester_blocks_flushed_total", lambda value: value >= 1, timeout=30)
        time.sleep(rng.uniform(0.0, 1.5))
        node.kill9()
    assert node.block_dirs(), "blocks were flushed while sending"
    merge(acked, senders.acked)
    node.start()
    assert_acked_present(node, acked)
    with Senders(node, SEED + 200) as senders:
        time.sleep(rng.uniform(0.5, 2.0))
        node.kill9()
    merge(acked, senders.acked)
    node.start()
    assert_acked_present(node, acked)
