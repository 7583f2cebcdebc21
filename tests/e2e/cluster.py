"""Several vivace processes forming one cluster on loopback, for the cluster-mode tests.

Every node is a `conftest.Vivace` (same config template, start/kill9/restart/metric helpers) with
a `target`, an `ingester.lifecycler` (its own id, the replication factor) and a `memberlist`
section added. All nodes write blocks to one shared folder; WAL and cache stay per node. Every
node joins the first node's gossip port.

`Load` sends small traces with the OpenTelemetry SDK (BatchSpanProcessor -> OTLP gRPC exporter)
at a steady rate in a background thread and records, per export call, what was sent, what was
acknowledged and how long the call took. `assert_acked_readable` checks the acknowledged spans
against trace-by-ID.
"""

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind

from conftest import Vivace, free_port
from model import canonical_from_sdk, decode_v1_protobuf, describe_difference, http_get
from workload import CheckedExporter

CLUSTER_INGESTER = {"trace_idle_period": "2s", "max_block_duration": "20s"}
GONE = (None, "Unhealthy")  # how the ring shows a dead ingester (or it is not listed at all)


class Node(Vivace):
    """One cluster member: `name` is its lifecycler (and gossip) id, `target` its roles."""

    def __init__(self, workdir: Path, name, target, shared_blocks: Path, gossip_port, seed_port, replication_factor):
        self.name = name
        self.target = target
        self.gossip_port = gossip_port
        self.shared_blocks = shared_blocks
        lifecycler = {"id": name, "ring": {"replication_factor": replication_factor}}
        cluster_yaml = yaml.safe_dump(
            {
                "target": target,
                "memberlist": {
                    "bind_addr": ["127.0.0.1"],
                    "bind_port": gossip_port,
                    "join_members": [f"127.0.0.1:{seed_port}"],
                },
            }
        )
        # A JSON object is a YAML flow mapping: it fits on the `key: value` line Vivace writes.
        ingester = {**CLUSTER_INGESTER, "lifecycler": json.dumps(lifecycler)}
        super().__init__(workdir, extra_yaml=cluster_yaml, ingester=ingester)
        self.killed = False

    @property
    def blocks_dir(self):
        return self.shared_blocks

    def __repr__(self):
        return f"<{self.name} {self.target} http={self.http_port}>"


class Cluster:
    """The nodes of one test. `nodes` is also what conftest's report hook prints log tails of."""

    def __init__(self, root: Path, replication_factor=3):
        self.root = root
        self.replication_factor = replication_factor
        self.shared_blocks = root / "shared-blocks"
        self.nodes = []
        self.used_ports = set()

    # ---- building and running ---------------------------------------------------------------

    def add(self, name, target):
        """A new (not started) node; its ports differ from every other node's."""
        workdir = self.root / name
        workdir.mkdir()
        for _ in range(20):
            gossip = free_port()
            seed = self.nodes[0].gossip_port if self.nodes else gossip
            node = Node(workdir, name, target, self.shared_blocks, gossip, seed, self.replication_factor)
            ports = {*node.ports.values(), gossip}
            if len(ports) == 5 and not ports & self.used_ports:
                break
        else:
            raise AssertionError("could not find distinct free ports")
        self.used_ports |= ports
        self.nodes.append(node)
        return node

    def start(self, *nodes, timeout=90):
        """Starts the nodes together (they find each other by gossip), then waits for `/ready`."""
        nodes = nodes or [node for node in self.nodes if not node.alive()]
        for node in nodes:
            node.killed = False
            node.start(wait=False)
        for node in nodes:
            node.wait_ready(timeout)
        return nodes

    def kill9(self, node):
        node.killed = True
        node.kill9()

    def restart(self, node, timeout=90):
        """Starts a killed node again with the same config and WAL; returns seconds until `/ready`."""
        self.kill9(node)
        started = time.time()
        self.start(node, timeout=timeout)
        return time.time() - started

    def with_role(self, role):
        """The nodes running `role` (a scalable single binary runs every role)."""
        return [node for node in self.nodes if {role, "scalable-single-binary", "all"} & set(node.target.split(","))]

    # ---- the ring ------------------------------------------------------------------------

    def ring(self, node):
        """The parsed JSON of the node's `/ingester/ring`."""
        status, body, _ = http_get(node.url("/ingester/ring"), {"Accept": "application/json"}, timeout=5)
        assert status == 200, f"{node.name} /ingester/ring: {status} {body[:200]!r}"
        return json.loads(body)

    def states(self, node):
        """{ingester id: state} as `node` sees the ring."""
        return {shard["id"]: shard["state"] for shard in self.ring(node)["shards"]}

    def wait_ring(self, predicate, timeout=30, nodes=None):
        """Polls the ring of every running node (or of `nodes`) until `predicate({id: state})`
        has held on each; returns the seconds that took."""
        started = time.time()
        pending = [node for node in (nodes or self.nodes) if node.alive()]
        last = {}
        while pending:
            for node in list(pending):
                try:
                    last[node.name] = states = self.states(node)
                except (OSError, ValueError, AssertionError) as error:
                    last[node.name] = repr(error)
                    continue
                if predicate(states):
                    pending.remove(node)
            if pending and time.time() - started > timeout:
                raise AssertionError(f"ring condition not met after {timeout}s on {[n.name for n in pending]}; last rings: {last}")
            if pending:
                time.sleep(0.1)
        return time.time() - started

    def wait_active(self, names, timeout=60):
        """Every running node's ring lists exactly `names` as ACTIVE ingesters."""
        expected = sorted(names)
        return self.wait_ring(lambda states: sorted(i for i, s in states.items() if s == "ACTIVE") == expected, timeout)

    def stop_all(self):
        for node in self.nodes:
            node.kill9()


@pytest.fixture(name="cluster")
def cluster_fixture(tmp_path, request):
    """A Cluster in the test's tmp folder; every process is SIGKILLed at teardown. Fails the test
    if a node logged a panic or exited without being killed by the test."""
    cluster = Cluster(tmp_path)
    request.node.vivace_nodes = cluster.nodes  # conftest's report hook attaches their log tails
    yield cluster
    crashed = [node for node in cluster.nodes if node.process and not node.killed and not node.alive()]
    cluster.stop_all()
    panics = [node for node in cluster.nodes if "panicked at" in node.log_text()]
    assert not panics, "vivace panicked:\n" + "\n".join(f"--- {node.name}\n{node.log_tail(80)}" for node in panics)
    assert not crashed, "nodes exited on their own:\n" + "\n".join(f"--- {node.name}\n{node.log_tail(40)}" for node in crashed)


# ---- load ----------------------------------------------------------------------------------


class RecordingExporter(CheckedExporter):
    """Remembers every span handed to the OTLP exporter (`sent`), the ones whose export returned
    SUCCESS (`acked`), both as {trace hex: {span hex: canonical span}}, and every export call as
    (start time, seconds, succeeded)."""

    def __init__(self, inner):
        super().__init__(inner)
        self.lock = threading.Lock()
        self.sent, self.acked, self.first_sent, self.calls = {}, {}, {}, []

    def export(self, spans):
        rows = [canonical_from_sdk(span) for span in spans]
        started = time.time()
        with self.lock:
            for row in rows:
                self.sent.setdefault(row[1], {})[row[0]] = row
                self.first_sent.setdefault(row[1], started)
        result = super().export(spans)
        with self.lock:
            self.calls.append((started, time.time() - started, result == SpanExportResult.SUCCESS))
            if result == SpanExportResult.SUCCESS:
                for row in rows:
                    self.acked.setdefault(row[1], {})[row[0]] = row
        return result


class Load:
    """Small traces (a root and 0-2 children) created at `rate` traces/s in a background thread
    and exported through `node`'s OTLP gRPC receiver; `count` traces, or until `finish()`."""

    def __init__(self, node, count=None, rate=500, seed=0, service="cluster-load"):
        self.count, self.rate, self.rng, self.created = count, rate, random.Random(seed), 0
        inner = OTLPSpanExporter(endpoint=f"http://{node.otlp_grpc}", insecure=True, timeout=30)
        self.exporter = RecordingExporter(inner)
        self.provider = TracerProvider(resource=Resource.create({"service.name": service, "load.seed": seed}))
        # A queue large enough that the SDK never drops a span while the cluster is slow.
        self.provider.add_span_processor(
            BatchSpanProcessor(self.exporter, max_queue_size=200_000, max_export_batch_size=64, schedule_delay_millis=100)
        )
        self.tracer = self.provider.get_tracer("cluster-e2e", "1.0")
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def one_trace(self, number):
        rng = self.rng
        with self.tracer.start_as_current_span(f"root-{rng.randint(0, 9)}", kind=SpanKind.SERVER, attributes={"n": number}):
            for child in range(rng.randint(0, 2)):
                with self.tracer.start_as_current_span(f"child-{child}", kind=SpanKind.CLIENT, attributes={"db.rows": rng.randint(0, 999)}):
                    pass

    def run(self):
        started = time.time()
        while not self.stopping.is_set() and (self.count is None or self.created < self.count):
            self.one_trace(self.created)
            self.created += 1
            self.stopping.wait(max(0.0, started + self.created / self.rate - time.time()))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.finish()
        else:  # the test already failed: stop quietly
            self.stopping.set()
            self.exporter.shutdown()  # makes pending exports fail at once instead of retrying
            self.provider.shutdown()

    def wait_acked(self, traces, timeout=120):
        """Waits until at least `traces` traces have an acknowledged span."""
        deadline = time.time() + timeout
        while len(self.exporter.acked) < traces:
            assert time.time() < deadline, f"only {len(self.exporter.acked)} traces acknowledged after {timeout}s"
            time.sleep(0.05)

    def finish(self, timeout=180):
        """Stops creating traces (a bounded load first creates all of them) and exports the rest."""
        if self.count is None:
            self.stopping.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the load generator did not finish"
        if self.provider is not None:
            assert self.provider.force_flush(timeout * 1000), "the SDK could not export every span in time"
            self.provider.shutdown()
            self.provider = None
        return self

    # ---- figures --------------------------------------------------------------------------

    @property
    def acked(self):
        return self.exporter.acked

    @property
    def failures(self):
        return self.exporter.failures

    def acked_spans(self):
        return sum(len(spans) for spans in self.acked.values())

    def traces_first_sent_after(self, moment):
        return sum(1 for started in self.exporter.first_sent.values() if started >= moment)

    def latency_report(self, phases):
        """Prints export-call latency per phase; `phases` is [(label, start time)] in order."""
        print(f"  {'phase':<28}{'calls':>7}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for index, (label, begin) in enumerate(phases):
            end = phases[index + 1][1] if index + 1 < len(phases) else float("inf")
            calls = [(took, ok) for started, took, ok in self.exporter.calls if begin <= started < end]
            times = sorted(took * 1000 for took, _ in calls)
            if not times:
                print(f"  {label:<28}{0:>7}")
                continue
            failed = sum(1 for _, ok in calls if not ok)
            p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"  {label:<28}{len(times):>7}{failed:>8}{p50:>9.1f}{p99:>9.1f}{times[-1]:>9.1f}")


# ---- checks ---------------------------------------------------------------------------------


def assert_acked_readable(query_nodes, acked, sent, workers=8):
    """Every acknowledged span is returned by `GET /api/traces/<id>` exactly as sent, no span id
    twice, and nothing that was never sent (spans of failed exports may be there or not). The
    traces are spread over `query_nodes` round-robin. On failure the message also tells how many
    of the failing traces were fine when read again 2 s later (a transient gap vs a loss)."""
    assert acked, "some exports were acknowledged"

    def check(item):
        index, (trace_id, expected) = item
        node = query_nodes[index % len(query_nodes)]
        status, body, _ = http_get(node.url(f"/api/traces/{trace_id}"), {"Accept": "application/protobuf"}, timeout=30)
        if status != 200:
            return [f"{trace_id} via {node.name}: {status} {body[:200]!r} ({len(expected)} spans acknowledged)"]
        spans = decode_v1_protobuf(body)
        returned = {span[0]: span for span in spans}
        problems = []
        if len(returned) != len(spans):
            problems.append(f"{trace_id} via {node.name}: duplicate spans ({len(spans)} spans, {len(returned)} ids)")
        if any(returned.get(span_id) != row for span_id, row in expected.items()):
            problems.append(f"{trace_id} via {node.name}: acknowledged spans lost or changed:\n"
                            f"{describe_difference(sorted(expected.values()), sorted(spans))}")
        unknown = [span for span in spans if sent.get(trace_id, {}).get(span[0]) != span]
        if unknown:
            problems.append(f"{trace_id} via {node.name}: {len(unknown)} spans that were never sent, e.g. {unknown[0]}")
        return problems

    items = list(enumerate(sorted(acked.items())))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        failing = [(item, problems) for item, problems in zip(items, pool.map(check, items)) if problems]
        if not failing:
            return
        time.sleep(2)
        fine_later = sum(1 for problems in pool.map(check, [item for item, _ in failing]) if not problems)
    problems = [problem for _, item_problems in failing for problem in item_problems]
    assert not problems, (
        f"{len(failing)} of {len(acked)} traces wrong ({fine_later} of them fine when read again 2 s later); "
        f"first:\n" + "\n".join(problems[:3])
    )
