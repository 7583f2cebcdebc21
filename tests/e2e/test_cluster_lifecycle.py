"""Cluster lifecycle: `POST /shutdown` turns an ingester LEAVING, it flushes everything to the
shared storage and exits, and the cluster keeps taking writes; with too few healthy replicas a
write is refused with a retryable error (HTTP 503 / gRPC UNAVAILABLE), never silently lost."""

import os
import random
import time

import grpc

from cluster import GONE, Load, assert_acked_readable, cluster_fixture  # noqa: F401 (fixture)
from model import PROTOBUF, grpc_export, http_post, raw_export
from test_cluster import microservices, names

SEED = int(os.environ.get("VIVACE_E2E_SEED", str(random.randrange(1 << 30))))


def test_shutdown_flushes_and_leaves(cluster):
    ingesters, distributor, frontend = microservices(cluster)
    leaver = ingesters[2]

    with Load(distributor, count=1000, rate=700, seed=SEED) as load:
        pass
    assert load.failures == 0

    status, body, _ = http_post(leaver.url("/shutdown"), b"")
    assert status == 204, (status, body)
    leaver.killed = True  # it is expected to exit: the fixture must not call that a crash
    leaver.process.wait(timeout=120)
    log = leaver.log_text()
    assert "ingester flushed; leaving" in log, leaver.log_tail(40)
    assert "block flushed" in log, "the leaving ingester flushed its data to blocks"

    gone = cluster.wait_ring(lambda states: states.get(leaver.name) in (*GONE, "LEAVING"), timeout=20)
    print(f"\n[cluster] {leaver.name} left; no longer ACTIVE anywhere after {gone:.1f}s")

    # RF=3 with two ACTIVE ingesters still has a write quorum of two.
    with Load(distributor, count=300, rate=300, seed=SEED + 1, service="after-leave") as more:
        pass
    assert more.failures == 0
    assert_acked_readable([frontend], {**load.acked, **more.acked}, {**load.exporter.sent, **more.exporter.sent})


def test_too_few_replicas_is_a_retryable_error(cluster):
    ingesters, distributor, _ = microservices(cluster)
    for victim in ingesters[1:]:
        cluster.kill9(victim)
    cluster.wait_ring(lambda states: sorted(i for i, s in states.items() if s == "ACTIVE") == [ingesters[0].name], timeout=30)

    request = raw_export([(b"\x11" * 16, b"\x22" * 8)])
    status, body, _ = http_post(distributor.otlp_http, request.SerializeToString(), PROTOBUF)
    assert status == 503, (status, body)
    assert b"replicas" in body, body
    error = grpc_export(distributor, request)
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE, error

    started = time.time()
    cluster.restart(ingesters[1])
    cluster.wait_active(names(ingesters[:2]), timeout=30)
    print(f"\n[cluster] writes possible again {time.time() - started:.1f}s after restarting {ingesters[1].name}")
    status, body, _ = http_post(distributor.otlp_http, request.SerializeToString(), PROTOBUF)
    assert status == 200, (status, body)
