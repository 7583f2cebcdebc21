//! The client host: the query-frontend (which queriers dial) and the workload, which exports over
//! OTLP/gRPC to the distributors with timeouts and retries, reads through the frontend, and
//! checks the invariants as it goes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::transport::Server;
use vivace_actors::frontend::service::FrontendService;
use vivace_actors::frontend::{Frontend, FrontendSettings};
use vivace_actors::querier::{FindMode, FindRequest};
use vivace_actors::remote::ChannelFactory;
use vivace_proto::cluster::frontend_server::FrontendServer;
use vivace_proto::otlp::collector::ExportTraceServiceRequest;
use vivace_proto::otlp::collector::trace_service_client::TraceServiceClient;
use vivace_ring::quorum;

use super::hosts::{Shared, TENANT};
use super::net::{GRPC_PORT, SimChannels, incoming};
use super::options::WireOptions;
use crate::harness::hex;
use crate::invariants::{Invariant, Violation};
use crate::workload::{Batch, Oracle, SpanId, TraceId, generate};

/// Exports of one batch before it is put aside for the liveness phase.
const EXPORT_ATTEMPTS: usize = 3;
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Simulated time the cluster gets after healing before everything must work again: restarts,
/// the failure detector and HTTP/2 keep-alives noticing dead connections.
const CONVERGENCE: Duration = Duration::from_secs(25);

/// Fault state the driver keeps and the client reads (same thread: turmoil runs every host on it).
#[derive(Debug, Default)]
pub struct Faults {
    /// Crashed ingesters, with the round they crashed in.
    pub crashed: BTreeMap<usize, u64>,
    /// Ingesters cut off (in either direction) from some host.
    pub partitioned: BTreeSet<usize>,
    pub heal_requested: bool,
    pub healed: bool,
}

/// What the client found.
#[derive(Debug, Default)]
pub struct Findings {
    pub acked_spans: usize,
    pub checked_spans: u64,
    pub checks: BTreeMap<&'static str, u64>,
    pub counts: BTreeMap<&'static str, u64>,
    pub violations: Vec<Violation>,
}

impl Findings {
    fn checked(&mut self, invariant: Invariant) {
        *self.checks.entry(invariant.id()).or_insert(0) += 1;
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_insert(0) += 1;
    }
}

pub struct Client {
    pub options: WireOptions,
    pub shared: Arc<Shared>,
    pub faults: Rc<RefCell<Faults>>,
    pub findings: Rc<RefCell<Findings>>,
}

struct Run {
    client: Client,
    rng: StdRng,
    oracle: Oracle,
    frontend: Arc<Frontend>,
    exporters: Vec<TraceServiceClient<tonic::transport::Channel>>,
}

impl Client {
    pub async fn run(self) -> turmoil::Result {
        let frontend = Arc::new(Frontend::new(
            Arc::clone(&self.shared.blocklist),
            FrontendSettings {
                query_timeout: Duration::from_secs(10),
                ..FrontendSettings::default()
            },
        ));
        let service = FrontendService::new(frontend.queue(), Duration::from_secs(5));
        let connections = incoming().await?;
        tokio::spawn(
            Server::builder()
                .add_service(FrontendServer::new(service))
                .serve_with_incoming(connections),
        );
        let channels = SimChannels {
            connect_timeout: Duration::from_secs(1),
            request_timeout: EXPORT_TIMEOUT,
        };
        let mut exporters = Vec::new();
        for index in 0..self.options.distributors {
            let channel = channels.channel(&format!("distributor-{index}:{GRPC_PORT}"))?;
            exporters.push(TraceServiceClient::new(channel));
        }
        let rng = StdRng::seed_from_u64(self.options.seed.rotate_left(53));
        let mut run = Run {
            client: self,
            rng,
            oracle: Oracle::default(),
            frontend,
            exporters,
        };
        run.workload().await;
        Ok(())
    }
}

impl Run {
    fn log(&self, what: &str) {
        self.client.shared.log.event("client", what);
    }

    fn violate(&self, invariant: Invariant, detail: String) {
        self.log(&format!("VIOLATION {}: {detail}", invariant.id()));
        self.client
            .findings
            .borrow_mut()
            .violations
            .push(Violation { invariant, detail });
    }

    async fn workload(&mut self) {
        // Let every host start listening.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut generator = StdRng::seed_from_u64(self.client.options.seed);
        let batches = generate(&self.client.options.workload(), &mut generator);
        let mut refused = Vec::new();
        for batch in batches {
            if !self.export(&batch, EXPORT_ATTEMPTS).await {
                refused.push(batch);
            }
            let pause = self.rng.random_range(0..1_000);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let acked: Vec<TraceId> = self.oracle.acked.keys().copied().collect();
            if acked.is_empty() {
                continue;
            }
            let reads = self.rng.random_range(1..=2);
            for _ in 0..reads {
                let trace_id = acked[self.rng.random_range(0..acked.len())];
                self.check_trace(trace_id, false).await;
            }
        }
        self.heal_and_check(refused).await;
    }

    async fn heal_and_check(&mut self, refused: Vec<Batch>) {
        self.log("heal requested");
        self.client.faults.borrow_mut().heal_requested = true;
        while !self.client.faults.borrow().healed {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(CONVERGENCE).await;
        for batch in refused {
            let acknowledged = self.export(&batch, EXPORT_ATTEMPTS).await;
            self.client
                .findings
                .borrow_mut()
                .checked(Invariant::LivenessConverges);
            if !acknowledged {
                self.violate(
                    Invariant::LivenessConverges,
                    format!(
                        "a batch of {} spans is still refused after healing",
                        batch.spans.len()
                    ),
                );
            }
        }
        let sent: Vec<TraceId> = self.oracle.sent.keys().copied().collect();
        for trace_id in sent {
            self.check_trace(trace_id, true).await;
        }
        self.client.findings.borrow_mut().acked_spans = self.oracle.acked_spans();
        self.log("done");
    }

    /// Exports a batch (each attempt to a distributor drawn from the seed); true when one
    /// attempt was acknowledged.
    async fn export(&mut self, batch: &Batch, attempts: usize) -> bool {
        self.oracle.record_sent(batch);
        for attempt in 0..attempts {
            let target = self.rng.random_range(0..self.exporters.len());
            let request = ExportTraceServiceRequest {
                resource_spans: batch.to_otlp("sim"),
            };
            let exporter = &mut self.exporters[target];
            let outcome = tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(request)).await;
            match outcome {
                Ok(Ok(_)) => {
                    self.log(&format!(
                        "export acked distributor={target} attempt={attempt} spans={}",
                        batch.spans.len()
                    ));
                    self.record_acked(batch);
                    return true;
                }
                Ok(Err(status)) => {
                    self.log(&format!(
                        "export refused distributor={target} code={:?}",
                        status.code()
                    ));
                }
                Err(_) => self.log(&format!("export timed out distributor={target}")),
            }
            self.client.findings.borrow_mut().count("export-retry");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    fn record_acked(&mut self, batch: &Batch) {
        let needed = quorum(self.client.options.replication_factor);
        let traces: BTreeSet<TraceId> = batch.spans.iter().map(|(trace, _)| *trace).collect();
        let ledger = self
            .client
            .shared
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for trace_id in traces {
            self.oracle.record_acked(batch, &trace_id);
        }
        for (trace_id, span_id) in &batch.spans {
            self.client
                .findings
                .borrow_mut()
                .checked(Invariant::QuorumAck);
            let replicas = ledger.get(&(*trace_id, *span_id)).map_or(0, BTreeSet::len);
            if replicas < needed {
                self.violate(
                    Invariant::QuorumAck,
                    format!(
                        "span {} of trace {} acknowledged with {replicas} of {needed} replicas",
                        hex(span_id),
                        hex(trace_id)
                    ),
                );
            }
        }
    }

    /// Acknowledged spans of the trace that some reachable, ring-listed ingester stored.
    fn must_have(&self, trace_id: &TraceId) -> BTreeSet<SpanId> {
        let acked = self.oracle.acked.get(trace_id).cloned().unwrap_or_default();
        let faults = self.client.faults.borrow();
        let ledger = self
            .client
            .shared
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ring = self
            .client
            .shared
            .ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let reachable = |index: &usize| {
            !faults.crashed.contains_key(index)
                && !faults.partitioned.contains(index)
                && ring.member(&format!("ingester-{index}")).is_some()
        };
        acked
            .into_iter()
            .filter(|span| {
                ledger
                    .get(&(*trace_id, *span))
                    .is_some_and(|holders| holders.iter().any(reachable))
            })
            .collect()
    }

    /// Reads a trace through the frontend; checks what it may and must contain.
    async fn check_trace(&mut self, trace_id: TraceId, healed: bool) {
        let acked = self
            .oracle
            .acked
            .get(&trace_id)
            .cloned()
            .unwrap_or_default();
        let sent = self.oracle.sent.get(&trace_id).cloned().unwrap_or_default();
        let before = if healed {
            acked.clone()
        } else {
            self.must_have(&trace_id)
        };
        let request = FindRequest {
            tenant: TENANT.to_owned(),
            trace_id,
            mode: FindMode::All,
            start_seconds: None,
            end_seconds: None,
            block_range: None,
        };
        let mut attempts = if healed { 3 } else { 1 };
        let result = loop {
            attempts -= 1;
            let answer = self.frontend.find_trace_by_id(request.clone()).await;
            let failure = match &answer {
                Ok(result) if result.failed_blocks.is_empty() => None,
                Ok(result) => Some(format!("{:?}", result.failed_blocks)),
                Err(error) => Some(error.to_string()),
            };
            match (answer, failure) {
                (Ok(result), None) => break result,
                (_, Some(failure)) if attempts == 0 => {
                    self.client
                        .findings
                        .borrow_mut()
                        .count("reported-read-failure");
                    if healed {
                        self.violate(
                            Invariant::AckedReadableHealed,
                            format!(
                                "trace {} unreadable after healing: {failure}",
                                hex(&trace_id)
                            ),
                        );
                    }
                    return;
                }
                _ => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        };
        // A holder that went away during the read excuses its spans.
        let must_have: BTreeSet<SpanId> = if healed {
            before
        } else {
            before
                .intersection(&self.must_have(&trace_id))
                .copied()
                .collect()
        };
        let fragments = vec![bytes::Bytes::from(prost::Message::encode_to_vec(
            &result.trace,
        ))];
        let (found, count) = crate::harness::span_ids(&fragments);
        let invariant = if healed {
            Invariant::AckedReadableHealed
        } else {
            Invariant::AckedReadableDegraded
        };
        let mut findings = self.client.findings.borrow_mut();
        findings.checked_spans += must_have.len() as u64;
        findings.checked(invariant);
        findings.checked(Invariant::ReadExact);
        drop(findings);
        let missing = must_have.difference(&found).count();
        if missing > 0 {
            self.violate(
                invariant,
                format!(
                    "trace {}: {missing} of {} acknowledged spans missing from a read that reported no failure",
                    hex(&trace_id),
                    acked.len()
                ),
            );
        }
        if count != found.len() || !found.is_subset(&sent) {
            self.violate(
                Invariant::ReadExact,
                format!(
                    "trace {}: {count} spans read, {} distinct, {} never sent",
                    hex(&trace_id),
                    found.len(),
                    found.difference(&sent).count()
                ),
            );
        }
    }
}
