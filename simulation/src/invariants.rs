//! The invariant catalog: every property the simulation checks, with a stable id. A violation
//! names its id, so a failing seed says which promise broke.

use std::fmt;

/// One invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// No write is acknowledged unless a quorum of distinct replicas stored it in their WAL.
    QuorumAck,
    /// While at most RF − quorum replicas of a trace are down, every acknowledged span of it is
    /// returned by a read of recent data.
    AckedReadableDegraded,
    /// After every ingester restarted (liveness phase), every acknowledged span is returned.
    AckedReadableHealed,
    /// A read returns nothing that was never sent, and no span twice.
    ReadExact,
    /// A crashed ingester replays exactly what its WAL synced: what it acknowledged survives.
    ReplayKeepsAcked,
    /// No component panics.
    NoPanic,
    /// Once every fault is healed, every batch is acknowledged within a few resends.
    LivenessConverges,
    /// After healing, every node's ring view (members, states) is identical and maps every trace
    /// to the same replicas, within a bounded simulated time.
    RingConverges,
}

impl Invariant {
    pub const ALL: [Invariant; 8] = [
        Invariant::QuorumAck,
        Invariant::AckedReadableDegraded,
        Invariant::AckedReadableHealed,
        Invariant::ReadExact,
        Invariant::ReplayKeepsAcked,
        Invariant::NoPanic,
        Invariant::LivenessConverges,
        Invariant::RingConverges,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Invariant::QuorumAck => "INV-1 quorum-ack",
            Invariant::AckedReadableDegraded => "INV-2 acked-readable-degraded",
            Invariant::AckedReadableHealed => "INV-3 acked-readable-healed",
            Invariant::ReadExact => "INV-4 read-exact",
            Invariant::ReplayKeepsAcked => "INV-5 replay-keeps-acked",
            Invariant::NoPanic => "INV-6 no-panic",
            Invariant::LivenessConverges => "INV-7 liveness-converges",
            Invariant::RingConverges => "INV-8 ring-converges",
        }
    }
}

/// A broken invariant, with what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.invariant.id(), self.detail)
    }
}
