"""Cluster mode: separate processes joined by gossip, RF=3. An ingester is SIGKILLed (or one is
added) while the OpenTelemetry SDK is exporting; every acknowledged span stays readable by trace
ID exactly once, and the ring converges on every node. Run with `-s` to see the figures."""

import os
import random
import time

from cluster import GONE, Load, assert_acked_readable, cluster_fixture  # noqa: F401 (fixture)
from model import http_get

SEED = int(os.environ.get("VIVACE_E2E_SEED", str(random.randrange(1 << 30))))
TRACES = int(os.environ.get("VIVACE_E2E_CLUSTER_TRACES", "10000"))
DEAD_WITHIN = 20  # seconds until every node shows a SIGKILLed ingester dead (target: 10 s)
ACTIVE_WITHIN = 30  # seconds from restart until every node shows it ACTIVE again
TRACES_CREATED = "tempo_ingester_traces_created_total"


def names(nodes):
    return [node.name for node in nodes]


def microservices(cluster, ingesters=3):
    """`ingesters` ingesters, a distributor, a querier and a query-frontend, all ready and every
    ring showing every ingester ACTIVE. Returns (ingesters, distributor, frontend)."""
    started = time.time()
    nodes = [cluster.add(f"ingester-{number}", "ingester") for number in range(1, ingesters + 1)]
    distributor = cluster.add("distributor", "distributor")
    cluster.add("querier", "querier")
    frontend = cluster.add("query-frontend", "query-frontend")
    cluster.start()
    cluster.wait_active(names(nodes))
    print(f"\n[cluster] seed {SEED}; {len(cluster.nodes)} nodes ready, {ingesters} ACTIVE everywhere after {time.time() - started:.1f}s")
    return nodes, distributor, frontend


def kill_during_load(cluster, load, victim):
    """SIGKILLs `victim` once 30% of the load's traces are acknowledged; returns (kill time,
    seconds until every other node's ring shows it Unhealthy or absent)."""
    load.wait_acked(load.count * 3 // 10)
    killed_at = time.time()
    cluster.kill9(victim)
    acked = len(load.acked)
    dead = cluster.wait_ring(lambda states: states.get(victim.name) in GONE, timeout=DEAD_WITHIN)
    print(f"[cluster] killed {victim.name} after {acked} acknowledged traces; dead on every node after {dead:.1f}s")
    return killed_at, dead


def restart_until_active(cluster, victim, ingester_names):
    started = time.time()
    ready = cluster.restart(victim)
    cluster.wait_active(ingester_names, timeout=ACTIVE_WITHIN)
    active = time.time() - started
    print(f"[cluster] restarted {victim.name}: ready after {ready:.1f}s, ACTIVE on every node after {active:.1f}s")
    assert active <= ACTIVE_WITHIN, f"{victim.name} took {active:.1f}s to be ACTIVE everywhere"


def report(load, phases):
    print(f"[cluster] {len(load.acked)} traces / {load.acked_spans()} spans acknowledged, {load.failures} failed exports")
    load.latency_report(phases)


def check_ring_page(cluster, ingesters):
    """The JSON ring lists each ingester with its gRPC address and tokens; without the JSON
    Accept header it is HTML; `/memberlist` answers."""
    for node in cluster.nodes:
        shards = {shard["id"]: shard for shard in cluster.ring(node)["shards"]}
        for ingester in ingesters:
            shard = shards[ingester.name]
            assert shard["address"] == f"127.0.0.1:{ingester.grpc_port}", (node.name, shard)
            assert shard["num_tokens"] > 0 and len(shard["tokens"]) == shard["num_tokens"], (node.name, shard["num_tokens"])
            assert shard["timestamp"], shard
        status, body, headers = http_get(node.url("/ingester/ring"))
        assert status == 200 and b"<" in body, (node.name, status, body[:100])
        assert http_get(node.url("/memberlist"))[0] == 200, node.name


def test_microservices_kill_ingester(cluster):
    ingesters, distributor, frontend = microservices(cluster)
    check_ring_page(cluster, ingesters)
    victim = ingesters[1]

    with Load(distributor, count=TRACES, rate=700, seed=SEED) as load:
        killed_at, dead = kill_during_load(cluster, load, victim)
    report(load, [("before the kill", 0), ("kill -> dead everywhere", killed_at), ("after", killed_at + dead)])
    assert load.failures == 0, "with RF=3 one dead ingester of three must not fail a write"
    received = distributor.metric("tempo_distributor_spans_received_total")
    assert received >= load.acked_spans(), f"the distributor counted {received} spans, {load.acked_spans()} were acknowledged"
    assert_acked_readable([frontend], load.acked, load.exporter.sent)

    restart_until_active(cluster, victim, names(ingesters))
    before = victim.metric(TRACES_CREATED)
    with Load(distributor, count=300, rate=300, seed=SEED + 1, service="after-restart") as more:
        pass
    assert more.failures == 0
    # With RF=3 and three ingesters every trace belongs to every ingester.
    created = victim.wait_metric(TRACES_CREATED, lambda value: value - before >= len(more.acked) // 2, timeout=15) - before
    print(f"[cluster] {victim.name} created {created:.0f} of the {len(more.acked)} traces sent after its restart")
    assert_acked_readable([frontend], more.acked, more.exporter.sent)


def test_scalable_single_binary_kill(cluster):
    nodes = [cluster.add(f"node-{number}", "scalable-single-binary") for number in (1, 2, 3)]
    cluster.start()
    cluster.wait_active(names(nodes))
    first, second, victim = nodes

    with Load(first, count=TRACES // 2, rate=600, seed=SEED + 2) as load:
        killed_at, dead = kill_during_load(cluster, load, victim)
    report(load, [("before the kill", 0), ("kill -> dead everywhere", killed_at), ("after", killed_at + dead)])
    assert load.failures == 0, "with RF=3 one dead node of three must not fail a write"
    assert_acked_readable([first, second], load.acked, load.exporter.sent)

    restart_until_active(cluster, victim, names(nodes))
    sample = dict(random.Random(SEED).sample(sorted(load.acked.items()), min(300, len(load.acked))))
    assert_acked_readable([victim], sample, load.exporter.sent)


def test_scale_out_under_load(cluster):
    ingesters, distributor, frontend = microservices(cluster)

    with Load(distributor, rate=300, seed=SEED + 3) as load:
        load.wait_acked(600)
        join_started = time.time()
        fourth = cluster.add("ingester-4", "ingester")
        cluster.start(fourth)
        cluster.wait_active(names(ingesters) + [fourth.name], timeout=60)
        joined_at = time.time()
        print(f"\n[cluster] {fourth.name} ACTIVE on every node {joined_at - join_started:.1f}s after its start")
        time.sleep(10)
    report(load, [("3 ingesters", 0), ("ingester-4 joining", join_started), ("4 ingesters", joined_at)])
    assert load.failures == 0
    assert_acked_readable([frontend], load.acked, load.exporter.sent)

    after_join = load.traces_first_sent_after(joined_at)
    created = fourth.metric(TRACES_CREATED)
    print(f"[cluster] {fourth.name} created {created:.0f} traces; {after_join} were sent after it was ACTIVE everywhere "
          f"(RF=3 of 4 ingesters: ~75% expected)")
    assert after_join > 0
    assert created >= 0.1 * after_join, f"{fourth.name} received {created:.0f} of {after_join} traces"
