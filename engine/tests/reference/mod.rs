//! The reference side of the differential test: trace and query generators, a naive evaluator
//! of the engine's semantics contract, and the comparison of two answers.

#![allow(dead_code)]

pub mod gen_queries;
pub mod gen_traces;
mod hand_cases;
pub mod naive;
mod pipeline;
mod values;

use std::collections::BTreeMap;

use vivace_engine::{SpanMatch, SpansetMatch, TraceMatch, Value};
use vivace_proto::tempopb::Trace;

/// Traces with their ids, as the generators produce them.
pub type Traces = Vec<([u8; 16], Trace)>;

/// Generated traces, printed compactly when proptest reports a failing case.
pub struct Compact(pub Traces);

impl std::fmt::Debug for Compact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\n{}", gen_traces::describe(&self.0))
    }
}

/// Whether two result values agree (floats within a relative tolerance).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

fn same_attributes(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((name_a, a), (name_b, b))| name_a == name_b && same_value(a, b))
}

fn same_span(a: &SpanMatch, b: &SpanMatch) -> bool {
    a.span_id == b.span_id
        && a.name == b.name
        && a.start_unix_nanos == b.start_unix_nanos
        && a.duration_nanos == b.duration_nanos
        && same_attributes(&a.attributes, &b.attributes)
}

fn same_spanset(a: &SpansetMatch, b: &SpansetMatch) -> bool {
    a.matched == b.matched
        && a.spans.len() == b.spans.len()
        && a.spans.iter().zip(&b.spans).all(|(a, b)| same_span(a, b))
        && same_attributes(&a.attributes, &b.attributes)
}

/// A short, readable form of a spanset.
fn spanset_summary(set: &SpansetMatch) -> String {
    let spans: Vec<String> = set
        .spans
        .iter()
        .map(|span| {
            let attributes: Vec<String> = span
                .attributes
                .iter()
                .map(|(name, value)| format!("{name}={value:?}"))
                .collect();
            format!("{}{:?}", hex::encode(&span.span_id[..2]), attributes)
        })
        .collect();
    format!(
        "matched {} spans {spans:?} attributes {:?}",
        set.matched, set.attributes
    )
}

fn trace_summary(found: &TraceMatch) -> String {
    let mut out = format!(
        "  trace {} root {:?}/{:?} start {} duration {} services {:?}\n",
        hex::encode(found.trace_id),
        found.root_service_name,
        found.root_span_name,
        found.start_unix_nanos,
        found.duration_nanos,
        found.service_stats
    );
    for set in &found.spansets {
        out.push_str(&format!("    {}\n", spanset_summary(set)));
    }
    out
}

/// The differences between the engine's answer and the reference's, if any.
fn differences(expected: &[TraceMatch], actual: &[TraceMatch]) -> Vec<String> {
    let mut problems = Vec::new();
    let by_id = |matches: &[TraceMatch]| -> BTreeMap<[u8; 16], TraceMatch> {
        matches
            .iter()
            .map(|found| (found.trace_id, found.clone()))
            .collect()
    };
    if by_id(actual).len() != actual.len() {
        problems.push("the engine returned a trace twice".to_owned());
    }
    let expected = by_id(expected);
    let actual = by_id(actual);
    for id in expected.keys().filter(|id| !actual.contains_key(*id)) {
        problems.push(format!("trace {} missing", hex::encode(id)));
    }
    for id in actual.keys().filter(|id| !expected.contains_key(*id)) {
        problems.push(format!("trace {} unexpected", hex::encode(id)));
    }
    for (id, want) in &expected {
        let Some(got) = actual.get(id) else {
            continue;
        };
        let id = hex::encode(id);
        if (&want.root_service_name, &want.root_span_name)
            != (&got.root_service_name, &got.root_span_name)
        {
            problems.push(format!("trace {id}: root differs"));
        }
        if (want.start_unix_nanos, want.duration_nanos)
            != (got.start_unix_nanos, got.duration_nanos)
        {
            problems.push(format!("trace {id}: start/duration differ"));
        }
        if want.service_stats != got.service_stats {
            problems.push(format!("trace {id}: service stats differ"));
        }
        let mut unused: Vec<&SpansetMatch> = want.spansets.iter().collect();
        for set in &got.spansets {
            match unused
                .iter()
                .position(|candidate| same_spanset(candidate, set))
            {
                Some(position) => {
                    unused.remove(position);
                }
                None => problems.push(format!(
                    "trace {id}: unexpected spanset {}",
                    spanset_summary(set)
                )),
            }
        }
        for set in unused {
            problems.push(format!(
                "trace {id}: missing spanset {}",
                spanset_summary(set)
            ));
        }
    }
    problems
}

/// `Err` with a full report when the answers differ.
pub fn check(
    query: &str,
    traces: &Traces,
    expected: &[TraceMatch],
    actual: &[TraceMatch],
    side: &str,
) -> Result<(), String> {
    let problems = differences(expected, actual);
    if problems.is_empty() {
        return Ok(());
    }
    let mut report = format!("{side}: engine and reference differ\nquery: {query}\n");
    for problem in &problems {
        report.push_str(&format!("- {problem}\n"));
    }
    // Traces not generated (copies padding a block) only count.
    let generated = |found: &&TraceMatch| traces.iter().any(|(id, _)| *id == found.trace_id);
    for (label, matches) in [("reference", expected), ("engine", actual)] {
        let shown: Vec<&TraceMatch> = matches.iter().filter(generated).collect();
        report.push_str(&format!(
            "{label} ({} more traces not shown):\n",
            matches.len() - shown.len()
        ));
        shown
            .iter()
            .for_each(|found| report.push_str(&trace_summary(found)));
    }
    report.push_str("traces:\n");
    report.push_str(&gen_traces::describe(traces));
    Err(report)
}

/// The number of proptest cases: `PROPTEST_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}
