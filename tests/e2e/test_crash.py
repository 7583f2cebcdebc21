"""SIGKILL while clients are sending: every span whose export returned success is still there."""

import random
from concurrent.futures import ThreadPoolExecutor
import threading
import time

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from model import decode_v1_protobuf, http_get


def build_export(rng, batch_number, open_traces):
    """An export mixing new traces and more spans of traces sent earlier (several batches each)."""
    spans = []
    for index in range(50):
        if open_traces and rng.random() < 0.7:
            trace_id = rng.choice(open_traces)
        else:
            trace_id = rng.randbytes(16)
            open_traces.append(trace_id)
        spans.append(
            trace_pb2.Span(
                trace_id=trace_id,
                span_id=rng.randbytes(7) + bytes([index + 1]),
                name=f"batch-{batch_number}",
                kind=trace_pb2.Span.SPAN_KIND_SERVER,
                start_time_unix_nano=time.time_ns(),
                end_time_unix_nano=time.time_ns() + 1000,
                attributes=[common_pb2.KeyValue(key="n", value=common_pb2.AnyValue(int_value=batch_number))],
            )
        )
    del open_traces[:-200]
    resource = resource_pb2.Resource(attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="crash"))])
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]
    )


def sender(node, acked, stop, seed):
    rng = random.Random(seed)
    channel = grpc.insecure_channel(node.otlp_grpc)
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    open_traces = []
    batch_number = 0
    while not stop.is_set():
        batch_number += 1
        request = build_export(rng, batch_number, open_traces)
        try:
            stub.Export(request, timeout=5)
        except grpc.RpcError:
            continue
        for span in request.resource_spans[0].scope_spans[0].spans:
            acked.setdefault(span.trace_id.hex(), set()).add(span.span_id.hex())
    channel.close()


def run_crash_round(node, seed, send_seconds):
    acked = {}
    stop = threading.Event()
    threads = [threading.Thread(target=sender, args=(node, acked, stop, seed + offset)) for offset in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(send_seconds)
    node.kill9()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return acked


def assert_acked_present(node, acked):
    assert acked, "some exports were acknowledged before the kill"

    def check(item):
        trace_id, span_ids = item
        status, body, _ = http_get(node.url(f"/api/traces/{trace_id}"), {"Accept": "application/protobuf"})
        spans = decode_v1_protobuf(body) if status == 200 else []
        found = {span[0] for span in spans}
        assert len(spans) == len(found), f"duplicate spans in trace {trace_id}"
        return trace_id, span_ids - found

    with ThreadPoolExecutor(max_workers=8) as pool:
        missing = {trace_id: lost for trace_id, lost in pool.map(check, acked.items()) if lost}
    assert not missing, f"{len(missing)} traces lost acknowledged spans, e.g. {list(missing.items())[:3]}"


def test_kill_while_traces_are_live(vivace_factory):
    node = vivace_factory().start()
    acked = run_crash_round(node, seed=11, send_seconds=2.5)
    node.start()
    assert_acked_present(node, acked)


def test_kill_during_block_cuts_and_again_after_restart(vivace_factory):
    node = vivace_factory(ingester={"trace_idle_period": "200ms", "max_block_duration": "700ms", "flush_check_period": "100ms"}).start()
    first = run_crash_round(node, seed=21, send_seconds=4)
    node.start()
    assert node.metric("tempo_ingester_blocks_flushed_total") >= 0
    second = run_crash_round(node, seed=31, send_seconds=3)
    node.start()
    assert list(node.blocks_dir.glob("single-tenant/*/meta.json")), "blocks were cut while sending"
    for trace_id, span_ids in second.items():
        first.setdefault(trace_id, set()).update(span_ids)
    assert_acked_present(node, first)
