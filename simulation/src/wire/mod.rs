//! The wire scenario: the production actors (ingester, distributor, querier) and gRPC services
//! (ingester push and read, OTLP export, the frontend's job stream) as separate turmoil hosts on
//! one thread, with simulated time and a simulated TCP network. Between simulation steps the
//! driver injects faults drawn from the seed: ingester, distributor and querier crashes and
//! restarts (a restarted ingester replays what its WAL disk synced), symmetric and one-way
//! partitions, failing and slow fsyncs, object-store errors and latency. The client host runs the
//! workload and checks the invariants (see [`client`]).

mod client;
mod hosts;
mod net;
pub mod options;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Once, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vivace_actors::blocklist::BlockList;
use vivace_ring::{IngesterState, Member, Ring};
use vivace_storage::backend::ObjectStoreBackend;
use vivace_storage::wal::MemWalDisk;

use crate::invariants::{Invariant, Violation};
use crate::log::EventLog;
use crate::run::Summary;
use crate::store::FaultyStore;
use client::{Client, Faults, Findings};
use hosts::{IngesterDisk, Shared};
use options::WireOptions;

/// Simulated time after which a run that has not finished is a liveness failure.
const MAX_SIMULATED: Duration = Duration::from_secs(1_800);
const ROUND: Duration = Duration::from_secs(1);

thread_local! {
    /// Panics on this thread (turmoil runs every host here), including those in spawned tasks,
    /// which tokio would otherwise turn into a quiet `JoinError`.
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn record_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|panics| panics.borrow_mut().push(info.to_string()));
            previous(info);
        }));
    });
}

/// A partition the driver made: (ingester, other host, one-way direction if any).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Cut {
    ingester: usize,
    other: String,
    /// `Some(true)`: only ingester → other is cut; `Some(false)`: only other → ingester.
    oneway_from_ingester: Option<bool>,
}

struct Driver {
    options: WireOptions,
    rng: StdRng,
    shared: Arc<Shared>,
    store: Arc<FaultyStore>,
    disks: Vec<Arc<IngesterDisk>>,
    faults: Rc<RefCell<Faults>>,
    /// Crashed distributors and queriers.
    crashed_others: BTreeSet<String>,
    cuts: Vec<Cut>,
    counts: BTreeMap<&'static str, u64>,
    round: u64,
}

fn ingester_name(index: usize) -> String {
    format!("ingester-{index}")
}

impl Driver {
    fn count(&mut self, fault: &'static str) {
        *self.counts.entry(fault).or_insert(0) += 1;
    }

    fn log(&self, node: &str, what: &str) {
        self.shared.log.event(node, what);
    }

    fn down(&self) -> BTreeSet<usize> {
        let faults = self.faults.borrow();
        let mut down: BTreeSet<usize> = faults.crashed.keys().copied().collect();
        down.extend(faults.partitioned.iter().copied());
        down
    }

    fn budget(&self) -> usize {
        self.options.max_down
    }

    fn others(&self) -> Vec<String> {
        let distributors =
            (0..self.options.distributors).map(|index| format!("distributor-{index}"));
        let queriers = (0..self.options.queriers).map(|index| format!("querier-{index}"));
        distributors.chain(queriers).collect()
    }

    fn crash_ingester(&mut self, sim: &mut turmoil::Sim<'_>, index: usize, fault: &'static str) {
        sim.crash(ingester_name(index));
        self.disks[index].disk.crash();
        self.disks[index].wants_exit.store(false, Ordering::SeqCst);
        self.faults.borrow_mut().crashed.insert(index, self.round);
        self.log(&ingester_name(index), fault);
        self.count(fault);
    }

    fn update_ring(&self) {
        let faults = self.faults.borrow();
        let mut ring = self
            .shared
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for index in 0..self.options.ingesters {
            match faults.crashed.get(&index) {
                Some(crashed) if self.round - crashed >= self.options.detection_rounds => {
                    ring.remove(&ingester_name(index));
                }
                Some(_) => {}
                None => ring.upsert(Member {
                    id: ingester_name(index),
                    grpc_address: format!("{}:{}", ingester_name(index), net::GRPC_PORT),
                    state: IngesterState::Active,
                    zone: String::new(),
                }),
            }
        }
    }

    fn partitioned_ingesters(&self) -> BTreeSet<usize> {
        self.cuts.iter().map(|cut| cut.ingester).collect()
    }

    fn repair(&self, sim: &mut turmoil::Sim<'_>, cut: &Cut) {
        let ingester = ingester_name(cut.ingester);
        match cut.oneway_from_ingester {
            None => sim.repair(ingester.as_str(), cut.other.as_str()),
            Some(true) => sim.repair_oneway(ingester.as_str(), cut.other.as_str()),
            Some(false) => sim.repair_oneway(cut.other.as_str(), ingester.as_str()),
        }
        self.log(&ingester, &format!("partition from {} healed", cut.other));
    }

    fn heal(&mut self, sim: &mut turmoil::Sim<'_>) {
        self.log("harness", "heal");
        for cut in std::mem::take(&mut self.cuts) {
            self.repair(sim, &cut);
        }
        self.store.healed.store(true, Ordering::SeqCst);
        for disk in &self.disks {
            disk.disk.fail_syncs(false);
        }
        let crashed: Vec<usize> = self.faults.borrow().crashed.keys().copied().collect();
        for index in crashed {
            sim.bounce(ingester_name(index));
            self.count("restart");
        }
        for host in std::mem::take(&mut self.crashed_others) {
            sim.bounce(host.as_str());
            self.count("restart");
        }
        let mut faults = self.faults.borrow_mut();
        faults.crashed.clear();
        faults.partitioned.clear();
        faults.healed = true;
    }

    /// One fault round (every simulated second).
    fn round(&mut self, sim: &mut turmoil::Sim<'_>) {
        self.round += 1;
        for index in 0..self.options.ingesters {
            if self.disks[index].wants_exit.load(Ordering::SeqCst) {
                self.crash_ingester(sim, index, "wal-fail-stop-exit");
            }
        }
        let (heal_requested, healed) = {
            let faults = self.faults.borrow();
            (faults.heal_requested, faults.healed)
        };
        if healed {
            self.update_ring();
            return;
        }
        if heal_requested {
            self.heal(sim);
            self.update_ring();
            return;
        }
        self.inject(sim);
        self.faults.borrow_mut().partitioned = self.partitioned_ingesters();
        self.update_ring();
    }

    fn inject(&mut self, sim: &mut turmoil::Sim<'_>) {
        let crashed: Vec<usize> = self.faults.borrow().crashed.keys().copied().collect();
        for index in crashed {
            if self.rng.random_bool(self.options.restart_probability) {
                sim.bounce(ingester_name(index));
                self.faults.borrow_mut().crashed.remove(&index);
                self.count("restart");
            }
        }
        for host in self.crashed_others.clone() {
            if self.rng.random_bool(self.options.restart_probability) {
                sim.bounce(host.as_str());
                self.crashed_others.remove(&host);
                self.count("restart");
            }
        }
        let index = self.rng.random_range(0..self.options.ingesters);
        let down = self.down();
        if down.len() < self.budget()
            && !down.contains(&index)
            && self
                .rng
                .random_bool(self.options.ingester_crash_probability)
        {
            self.crash_ingester(sim, index, "crash");
        }
        let others = self.others();
        let other = others[self.rng.random_range(0..others.len())].clone();
        let probability = if other.starts_with("distributor") {
            self.options.distributor_crash_probability
        } else {
            self.options.querier_crash_probability
        };
        if !self.crashed_others.contains(&other) && self.rng.random_bool(probability) {
            sim.crash(other.as_str());
            self.log(&other, "crash");
            self.count(if other.starts_with("distributor") {
                "distributor-crash"
            } else {
                "querier-crash"
            });
            self.crashed_others.insert(other);
        }
        for cut in std::mem::take(&mut self.cuts) {
            if self.rng.random_bool(0.3) {
                self.repair(sim, &cut);
            } else {
                self.cuts.push(cut);
            }
        }
        self.partition(sim, &others);
        for disk in self.disks.clone() {
            let failing = self.rng.random_bool(self.options.fsync_failure_probability);
            disk.disk.fail_syncs(failing);
            if failing {
                self.log(&ingester_name(disk.index), "fsyncs fail this round");
                self.count("fsync-failure");
            }
        }
    }

    fn partition(&mut self, sim: &mut turmoil::Sim<'_>, others: &[String]) {
        let symmetric = self.rng.random_bool(self.options.partition_probability);
        let oneway = self
            .rng
            .random_bool(self.options.oneway_partition_probability);
        let index = self.rng.random_range(0..self.options.ingesters);
        let other = others[self.rng.random_range(0..others.len())].clone();
        let from_ingester = self.rng.random_bool(0.5);
        if !(symmetric || oneway) {
            return;
        }
        let down = self.down();
        if down.contains(&index) || down.len() >= self.budget() {
            return;
        }
        let ingester = ingester_name(index);
        let cut = if symmetric {
            sim.partition(ingester.as_str(), other.as_str());
            self.count("partition");
            Cut {
                ingester: index,
                other,
                oneway_from_ingester: None,
            }
        } else {
            if from_ingester {
                sim.partition_oneway(ingester.as_str(), other.as_str());
            } else {
                sim.partition_oneway(other.as_str(), ingester.as_str());
            }
            self.count("oneway-partition");
            Cut {
                ingester: index,
                other,
                oneway_from_ingester: Some(from_ingester),
            }
        };
        self.log(
            &ingester,
            &format!(
                "partitioned from {} ({})",
                cut.other,
                match cut.oneway_from_ingester {
                    None => "both ways",
                    Some(true) => "outbound",
                    Some(false) => "inbound",
                }
            ),
        );
        self.cuts.push(cut);
    }
}

/// Runs the wire scenario of `seed`; the summary carries its own options line.
pub fn run(seed: u64, log: Arc<EventLog>) -> (WireOptions, Summary) {
    record_panics();
    PANICS.with(|panics| panics.borrow_mut().clear());
    let options = WireOptions::from_seed(seed);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .tick_duration(Duration::from_millis(5))
        .simulation_duration(MAX_SIMULATED)
        .min_message_latency(options.min_latency)
        .max_message_latency(options.max_latency)
        .build();
    let store = Arc::new(
        FaultyStore::new(
            Arc::new(ObjectStoreBackend::in_memory()),
            StdRng::seed_from_u64(seed.rotate_left(11)),
            options.store_error_rate,
        )
        .with_latency(options.store_latency),
    );
    let shared = Arc::new(Shared {
        ring: Arc::new(RwLock::new(Ring::new(options.replication_factor))),
        store: store.clone(),
        blocklist: Arc::new(BlockList::new()),
        ledger: Arc::default(),
        log: Arc::clone(&log),
    });
    let disks: Vec<Arc<IngesterDisk>> = (0..options.ingesters)
        .map(|index| {
            Arc::new(IngesterDisk {
                index,
                disk: Arc::new(MemWalDisk::new()),
                generation: Default::default(),
                wants_exit: Default::default(),
                seed: seed ^ (index as u64 + 1).rotate_left(48),
                ack_delay: options.slow_fsync,
            })
        })
        .collect();
    for disk in &disks {
        sim.host(
            ingester_name(disk.index),
            hosts::ingester(Arc::clone(disk), Arc::clone(&shared)),
        );
    }
    for index in 0..options.distributors {
        sim.host(
            format!("distributor-{index}"),
            hosts::distributor(index, Arc::clone(&shared)),
        );
    }
    for index in 0..options.queriers {
        sim.host(
            format!("querier-{index}"),
            hosts::querier(index, "frontend".to_owned(), Arc::clone(&shared)),
        );
    }
    let faults: Rc<RefCell<Faults>> = Rc::default();
    let findings: Rc<RefCell<Findings>> = Rc::default();
    let client = Client {
        options: options.clone(),
        shared: Arc::clone(&shared),
        faults: Rc::clone(&faults),
        findings: Rc::clone(&findings),
    };
    sim.client("frontend", client.run());
    let mut driver = Driver {
        rng: StdRng::seed_from_u64(seed.rotate_left(7) ^ 0xd1e),
        options: options.clone(),
        shared,
        store,
        disks,
        faults,
        crashed_others: BTreeSet::new(),
        cuts: Vec::new(),
        counts: BTreeMap::new(),
        round: 0,
    };
    driver.update_ring();
    let mut violations = Vec::new();
    let mut next_round = ROUND;
    loop {
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                let invariant = if sim.elapsed() >= MAX_SIMULATED {
                    Invariant::LivenessConverges
                } else {
                    Invariant::NoPanic
                };
                violations.push(Violation {
                    invariant,
                    detail: format!("host software failed: {error}"),
                });
                break;
            }
        }
        driver.shared.log.set_time(sim.elapsed());
        if sim.elapsed() >= next_round {
            next_round += ROUND;
            driver.round(&mut sim);
        }
    }
    PANICS.with(|panics| {
        for panic in panics.borrow_mut().drain(..) {
            violations.push(Violation {
                invariant: Invariant::NoPanic,
                detail: panic,
            });
        }
    });
    let findings = findings.take();
    let mut summary = Summary {
        simulated_seconds: sim.elapsed().as_secs(),
        acked_spans: findings.acked_spans,
        checked_spans: findings.checked_spans,
        checks: findings.checks,
        ..Summary::default()
    };
    summary.faults = driver.counts;
    summary.faults.extend(findings.counts);
    let store_errors = driver.store.injected.load(Ordering::SeqCst);
    if store_errors > 0 {
        summary.faults.insert("store-error", store_errors);
    }
    summary.violations = findings.violations;
    summary.violations.extend(violations);
    *summary.checks.entry(Invariant::NoPanic.id()).or_insert(0) += 1;
    (options, summary)
}
