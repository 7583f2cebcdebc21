//! Combining partial search answers (recent data, block shards, replicas) into one answer:
//! traces merged by id, spansets merged by their attributes, metrics summed.

use std::collections::{HashMap, HashSet};

use vivace_proto::tempopb_search as pb;

use super::convert::ROOT_SPAN_NOT_YET_RECEIVED;

/// Accumulates search answers.
#[derive(Debug, Default)]
pub struct SearchCombiner {
    traces: HashMap<String, pb::TraceSearchMetadata>,
    changed: HashSet<String>,
    metrics: pb::SearchMetrics,
    limit: usize,
    spans_per_spanset: usize,
}

fn end_nanos(trace: &pb::TraceSearchMetadata) -> u64 {
    trace
        .start_time_unix_nano
        .saturating_add(u64::from(trace.duration_ms) * 1_000_000)
}

fn merge_spanset(into: &mut pb::SpanSet, from: pb::SpanSet, spans_per_spanset: usize) {
    into.matched = into.matched.max(from.matched);
    for span in from.spans {
        if into.spans.len() >= spans_per_spanset {
            break;
        }
        if into.spans.iter().all(|known| known.span_id != span.span_id) {
            into.spans.push(span);
        }
    }
}

fn merge_trace(into: &mut pb::TraceSearchMetadata, from: pb::TraceSearchMetadata, spss: usize) {
    let end = end_nanos(into).max(end_nanos(&from));
    if into.root_service_name.is_empty() {
        into.root_service_name = from.root_service_name;
    }
    if into.root_trace_name.is_empty() {
        into.root_trace_name = from.root_trace_name;
    }
    if from.start_time_unix_nano != 0
        && (into.start_time_unix_nano == 0 || from.start_time_unix_nano < into.start_time_unix_nano)
    {
        into.start_time_unix_nano = from.start_time_unix_nano;
    }
    into.duration_ms = u32::try_from(end.saturating_sub(into.start_time_unix_nano) / 1_000_000)
        .unwrap_or(u32::MAX);
    for spanset in from.span_sets {
        match into
            .span_sets
            .iter_mut()
            .find(|known| known.attributes == spanset.attributes)
        {
            Some(known) => merge_spanset(known, spanset, spss),
            None => into.span_sets.push(spanset),
        }
    }
    for (service, stats) in from.service_stats {
        let known = into.service_stats.entry(service).or_default();
        known.span_count = known.span_count.max(stats.span_count);
        known.error_count = known.error_count.max(stats.error_count);
    }
}

/// A trace as answered: Tempo's placeholder for an unknown root and the deprecated `spanSet`.
fn present(trace: &pb::TraceSearchMetadata) -> pb::TraceSearchMetadata {
    let mut shown = trace.clone();
    if shown.root_service_name.is_empty() {
        shown.root_service_name = ROOT_SPAN_NOT_YET_RECEIVED.to_owned();
    }
    shown.span_set = shown.span_sets.first().cloned();
    shown
}

impl SearchCombiner {
    /// A combiner answering at most `limit` traces (0: no limit) with at most
    /// `spans_per_spanset` spans per spanset.
    pub fn new(limit: usize, spans_per_spanset: usize) -> Self {
        SearchCombiner {
            limit,
            spans_per_spanset: spans_per_spanset.max(1),
            ..SearchCombiner::default()
        }
    }

    /// Adds a partial answer (its metrics are summed).
    pub fn add(&mut self, response: pb::SearchResponse) {
        for trace in response.traces {
            self.changed.insert(trace.trace_id.clone());
            match self.traces.get_mut(&trace.trace_id) {
                Some(known) => merge_trace(known, trace, self.spans_per_spanset),
                None => {
                    self.traces.insert(trace.trace_id.clone(), trace);
                }
            }
        }
        if let Some(metrics) = response.metrics {
            self.add_metrics(&metrics);
        }
    }

    fn add_metrics(&mut self, metrics: &pb::SearchMetrics) {
        let total = &mut self.metrics;
        total.inspected_traces = total
            .inspected_traces
            .saturating_add(metrics.inspected_traces);
        total.inspected_bytes += metrics.inspected_bytes;
        total.inspected_spans += metrics.inspected_spans;
        total.backend_reads += metrics.backend_reads;
        total.backend_bytes += metrics.backend_bytes;
        for (key, value) in &metrics.additional_metrics {
            *total.additional_metrics.entry(key.clone()).or_default() += value;
        }
    }

    /// Job and block counts of the whole query.
    pub fn set_plan(&mut self, total_jobs: u32, total_blocks: u32, total_block_bytes: u64) {
        self.metrics.total_jobs = total_jobs;
        self.metrics.total_blocks = total_blocks;
        self.metrics.total_block_bytes = total_block_bytes;
    }

    /// One more job answered.
    pub fn job_completed(&mut self) {
        self.metrics.completed_jobs += 1;
    }

    /// Whether `limit` traces were found (searching further cannot change the answer's size).
    pub fn is_full(&self) -> bool {
        self.limit > 0 && self.traces.len() >= self.limit
    }

    /// The traces added or changed since the last diff, with the metrics so far (for streaming).
    pub fn diff(&mut self) -> pb::SearchResponse {
        let mut traces: Vec<pb::TraceSearchMetadata> = self
            .changed
            .drain()
            .filter_map(|trace_id| self.traces.get(&trace_id).map(present))
            .collect();
        traces.sort_by_key(|trace| std::cmp::Reverse(trace.start_time_unix_nano));
        pb::SearchResponse {
            traces,
            metrics: Some(self.metrics.clone()),
        }
    }

    /// The answer: newest traces first, at most `limit`.
    pub fn finish(&self) -> pb::SearchResponse {
        let mut traces: Vec<pb::TraceSearchMetadata> = self.traces.values().map(present).collect();
        traces.sort_by(|a, b| {
            b.start_time_unix_nano
                .cmp(&a.start_time_unix_nano)
                .then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        if self.limit > 0 {
            traces.truncate(self.limit);
        }
        pb::SearchResponse {
            traces,
            metrics: Some(self.metrics.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: &str, start: u64, spans: &[&str], matched: u32) -> pb::TraceSearchMetadata {
        pb::TraceSearchMetadata {
            trace_id: id.to_owned(),
            start_time_unix_nano: start,
            duration_ms: 5,
            span_sets: vec![pb::SpanSet {
                spans: spans
                    .iter()
                    .map(|span_id| pb::Span {
                        span_id: (*span_id).to_owned(),
                        ..pb::Span::default()
                    })
                    .collect(),
                matched,
                attributes: Vec::new(),
            }],
            ..pb::TraceSearchMetadata::default()
        }
    }

    #[test]
    fn replicas_merge_without_duplicate_spans_and_answers_are_newest_first() {
        let mut combiner = SearchCombiner::new(2, 3);
        combiner.add(pb::SearchResponse {
            traces: vec![trace("a", 100, &["1", "2"], 2), trace("b", 300, &["9"], 1)],
            metrics: Some(pb::SearchMetrics {
                inspected_spans: 10,
                ..pb::SearchMetrics::default()
            }),
        });
        combiner.add(pb::SearchResponse {
            traces: vec![trace("a", 100, &["2", "3"], 3), trace("c", 200, &["5"], 1)],
            metrics: Some(pb::SearchMetrics {
                inspected_spans: 5,
                ..pb::SearchMetrics::default()
            }),
        });
        assert!(combiner.is_full());
        let answer = combiner.finish();
        let ids: Vec<&str> = answer.traces.iter().map(|t| t.trace_id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(answer.metrics.map(|m| m.inspected_spans), Some(15));
        let mut unlimited = SearchCombiner::new(0, 3);
        unlimited.add(pb::SearchResponse {
            traces: vec![trace("a", 100, &["1", "2"], 2)],
            metrics: None,
        });
        unlimited.add(pb::SearchResponse {
            traces: vec![trace("a", 100, &["2", "3"], 3)],
            metrics: None,
        });
        let merged = &unlimited.finish().traces[0];
        assert_eq!(merged.span_sets.len(), 1);
        assert_eq!(merged.span_sets[0].matched, 3);
        assert_eq!(merged.span_sets[0].spans.len(), 3);
        assert_eq!(merged.root_service_name, ROOT_SPAN_NOT_YET_RECEIVED);
        assert_eq!(merged.span_set, merged.span_sets.first().cloned());
    }

    #[test]
    fn diffs_hold_only_changed_traces() {
        let mut combiner = SearchCombiner::new(0, 3);
        combiner.add(pb::SearchResponse {
            traces: vec![trace("a", 1, &["1"], 1)],
            metrics: None,
        });
        assert_eq!(combiner.diff().traces.len(), 1);
        assert!(combiner.diff().traces.is_empty());
        combiner.add(pb::SearchResponse {
            traces: vec![trace("b", 2, &["2"], 1)],
            metrics: None,
        });
        let diff = combiner.diff();
        assert_eq!(diff.traces.len(), 1);
        assert_eq!(diff.traces[0].trace_id, "b");
    }
}
