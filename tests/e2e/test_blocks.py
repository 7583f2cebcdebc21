"""Flushed blocks: files on disk, reads from blocks only, restarts, traces split between a block and
the ingester (or several blocks) merged without duplicate spans."""

import json
import random

from model import (
    PROTOBUF,
    assert_traces_equal,
    grpc_export,
    http_get,
    http_post,
    raw_export,
    raw_span,
    spans_from_proto,
)
from workload import send_traces

BLOCK_FILES = {"meta.json", "data.parquet", "index"}


def check_block_files(block):
    names = {path.name for path in block.iterdir()}
    assert BLOCK_FILES <= names, f"block {block} holds {sorted(names)}"
    meta = json.loads((block / "meta.json").read_text())
    assert meta["blockID"] == block.name, meta
    assert meta["tenantID"] == block.parent.name, meta
    blooms = sorted(name for name in names if name.startswith("bloom-"))
    assert blooms and "bloom-0" in blooms, f"no bloom-0 in {block}: {sorted(names)}"
    assert blooms == sorted(f"bloom-{index}" for index in range(len(blooms))), blooms
    data = (block / "data.parquet").read_bytes()
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1", "data.parquet is a Parquet file"
    if "size" in meta:
        assert meta["size"] == len(data), (meta["size"], len(data))
    return meta


def test_flushed_blocks_are_read_back_exactly_and_survive_restart(vivace_factory):
    # Idle traces stay in memory for a while: everything below ends up in the block /flush cuts.
    node = vivace_factory(ingester={"trace_idle_period": "30s"}).start()
    sent = send_traces(node, "grpc", 200, seed=7)
    sent.update(send_traces(node, "http", 100, seed=8))
    span_count = sum(len(spans) for spans in sent.values())

    # Before the flush the traces live only in the ingester: mode=blocks finds nothing.
    sample = sorted(sent)[:20]
    for trace_id in sample:
        status, body, _ = http_get(node.url(f"/api/traces/{trace_id}?mode=blocks"))
        assert (status, body) == (404, b""), f"mode=blocks found {trace_id} before any flush: {status}"
    assert_traces_equal(node, {trace_id: sent[trace_id] for trace_id in sample}, "?mode=ingesters")
    assert not node.block_dirs()

    node.flush_and_wait()
    blocks = node.block_dirs()
    assert len(blocks) == 1, f"one /flush of one tenant cuts one block, got {blocks}"
    meta = check_block_files(blocks[0])
    assert meta["totalObjects"] == len(sent), f"meta.json totalObjects {meta['totalObjects']} for {len(sent)} traces"
    if "totalSpans" in meta:
        assert meta["totalSpans"] == span_count, (meta["totalSpans"], span_count)

    assert_traces_equal(node, sent, "?mode=blocks")
    assert_traces_equal(node, sent)

    node.restart()
    assert node.block_dirs() == blocks
    assert_traces_equal(node, sent, "?mode=blocks")
    assert_traces_equal(node, sent)
    # The flushed data is not replayed from the WAL a second time.
    assert_traces_equal(node, {trace_id: sent[trace_id] for trace_id in sample}, "?mode=all")


def span_row(request):
    return sorted(spans_from_proto(request.resource_spans))


def test_trace_split_between_block_and_ingester_is_merged(vivace_factory):
    node = vivace_factory(ingester={"trace_idle_period": "30s"}).start()
    rng = random.Random(5)
    trace_id = rng.randbytes(16)
    other_id = rng.randbytes(16)
    first = [raw_span(trace_id, rng.randbytes(8), f"first-{index}", start=1_700_000_000_000_000_000 + index) for index in range(5)]
    first.append(raw_span(other_id, rng.randbytes(8), "other"))
    second = [raw_span(trace_id, rng.randbytes(8), f"second-{index}", start=1_700_000_000_000_000_100 + index) for index in range(4)]
    # The same span sent again (a client retry) after its first copy was flushed to a block.
    second.append(first[0])
    third = [raw_span(trace_id, rng.randbytes(8), "third"), first[1], second[1]]

    status, body, _ = http_post(node.otlp_http, raw_export(first).SerializeToString(), PROTOBUF)
    assert status == 200, body
    node.flush_and_wait()
    assert grpc_export(node, raw_export(second)) is None

    hex_id = trace_id.hex()
    expected_first = [span for span in span_row(raw_export(first)) if span[1] == hex_id]
    expected_second = span_row(raw_export(second))
    expected_all = sorted(set(expected_first) | set(expected_second))
    assert len(expected_all) == 9
    assert_traces_equal(node, {hex_id: expected_first}, "?mode=blocks")
    assert_traces_equal(node, {hex_id: expected_second}, "?mode=ingesters")
    assert_traces_equal(node, {hex_id: expected_all})
    assert_traces_equal(node, {other_id.hex(): span_row(raw_export(first[-1:]))})

    # Now in two blocks, plus a third part (with two more retries) in the ingester.
    node.flush_and_wait()
    assert len(node.block_dirs()) == 2
    assert grpc_export(node, raw_export(third)) is None
    expected_all = sorted(set(expected_all) | set(span_row(raw_export(third))))
    assert len(expected_all) == 10
    assert_traces_equal(node, {hex_id: [span for span in expected_all if span[3] != "third"]}, "?mode=blocks")
    assert_traces_equal(node, {hex_id: expected_all})

    node.restart()
    assert_traces_equal(node, {hex_id: expected_all})
    node.flush_and_wait()
    node.restart()
    assert_traces_equal(node, {hex_id: expected_all})
    assert_traces_equal(node, {hex_id: expected_all}, "?mode=blocks")
