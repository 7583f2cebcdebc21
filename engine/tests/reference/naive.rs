//! A deliberately naive TraceQL evaluator: the semantics contract of `vivace_engine` (the module
//! doc of `engine/src/lib.rs`) applied the obvious way to the OTLP protobuf, span by span and
//! attribute by attribute, with plain Rust values. No arrow, no columns: parents are found by
//! scanning span ids, nested-set numbers by a recursive walk that mirrors
//! `storage/src/block/nested_set.rs` (orphans, self-parents and cycles included).

use std::collections::BTreeMap;

use vivace_engine::{ServiceStats, SpanMatch, SpansetMatch, TraceMatch, Value};
use vivace_proto::otlp::common::InstrumentationScope;
use vivace_proto::otlp::resource::Resource;
use vivace_proto::otlp::trace::Span;
use vivace_proto::tempopb::Trace;
use vivace_traceql::{
    Attribute, AttributeScope, BinaryOp, FieldExpr, Intrinsic, Query, QueryBody, Static, Status,
    UnaryOp,
};

use super::values::{
    arithmetic, compare, kind_of, non_empty, regex_matches, service_of, shown_attributes,
    static_value, values_of,
};

/// One span with what it hangs off.
struct Row<'a> {
    span: &'a Span,
    resource: Option<&'a Resource>,
    scope: Option<&'a InstrumentationScope>,
}

/// A trace prepared for evaluation: spans in row order plus the tree derived from parent ids.
pub(super) struct TraceView<'a> {
    trace_id: [u8; 16],
    rows: Vec<Row<'a>>,
    /// The parent in the nested-set tree (`None` for roots: no parent id, orphans, cycle breaks).
    pub(super) parent: Vec<Option<usize>>,
    left: Vec<i64>,
    right: Vec<i64>,
    /// The span `trace:rootName` reads: no parent id, earliest start, first in row order.
    root: Option<usize>,
    start: u64,
    end: u64,
}

/// A spanset: rows (ascending = row order) and its attributes.
pub(super) type Set = (Vec<usize>, Vec<(String, Value)>);

/// Evaluates a search query over traces; one result per matching trace, in input order.
pub fn evaluate(query: &Query, traces: &[([u8; 16], Trace)]) -> Vec<TraceMatch> {
    let shown = shown_attributes(query);
    let mut results = Vec::new();
    for (trace_id, trace) in traces {
        let view = TraceView::new(*trace_id, trace);
        let all: Vec<usize> = (0..view.rows.len()).collect();
        let sets = match &query.body {
            QueryBody::Pipeline(pipeline) => view.pipeline(pipeline, vec![(all, Vec::new())]),
            QueryBody::PipelineExpr(expr) => view
                .pipeline_expr(expr, &all)
                .map(|rows| vec![(rows, Vec::new())])
                .unwrap_or_default(),
            QueryBody::ScalarPipelineFilter(_) | QueryBody::Metrics(_) => {
                panic!("not a search query: {query}")
            }
        };
        if !sets.is_empty() {
            results.push(view.result(sets, &shown));
        }
    }
    results
}

impl<'a> TraceView<'a> {
    fn new(trace_id: [u8; 16], trace: &'a Trace) -> Self {
        let mut rows = Vec::new();
        for batch in &trace.resource_spans {
            for scope_spans in &batch.scope_spans {
                for span in &scope_spans.spans {
                    rows.push(Row {
                        span,
                        resource: batch.resource.as_ref(),
                        scope: scope_spans.scope.as_ref(),
                    });
                }
            }
        }
        // Row order: start time, then write order (a stable sort).
        rows.sort_by_key(|row| row.span.start_time_unix_nano);
        let count = rows.len();
        // The parent id's span (the first with that id), unless it is the span itself.
        let link: Vec<Option<usize>> = (0..count)
            .map(|index| {
                let parent_id = &rows[index].span.parent_span_id;
                if parent_id.is_empty() {
                    return None;
                }
                (0..count)
                    .find(|candidate| rows[*candidate].span.span_id == *parent_id)
                    .filter(|found| *found != index)
            })
            .collect();
        let mut view = TraceView {
            trace_id,
            parent: vec![None; count],
            left: vec![0; count],
            right: vec![0; count],
            root: None,
            start: rows
                .iter()
                .map(|row| row.span.start_time_unix_nano)
                .min()
                .unwrap_or(0),
            end: rows
                .iter()
                .map(|row| row.span.end_time_unix_nano)
                .max()
                .unwrap_or(0),
            rows,
        };
        let mut visited = vec![false; count];
        let mut counter = 0;
        // Real roots (no resolvable parent) first, then whatever hangs off cycles, each walk
        // starting at the first unvisited span in row order.
        for index in 0..count {
            if link[index].is_none() && !visited[index] {
                view.visit(index, &link, &mut visited, &mut counter);
            }
        }
        for index in 0..count {
            if !visited[index] {
                view.visit(index, &link, &mut visited, &mut counter);
            }
        }
        view.root = (0..count)
            .filter(|index| view.rows[*index].span.parent_span_id.is_empty())
            .min_by_key(|index| view.rows[*index].span.start_time_unix_nano);
        view
    }

    fn visit(
        &mut self,
        span: usize,
        link: &[Option<usize>],
        visited: &mut [bool],
        counter: &mut i64,
    ) {
        visited[span] = true;
        *counter += 1;
        self.left[span] = *counter;
        for child in 0..link.len() {
            if link[child] == Some(span) && !visited[child] {
                self.parent[child] = Some(span);
                self.visit(child, link, visited, counter);
            }
        }
        *counter += 1;
        self.right[span] = *counter;
    }

    /// Whether `ancestor` is a strict ancestor of `span` in the nested-set tree.
    pub(super) fn descends(&self, span: usize, ancestor: usize) -> bool {
        let mut current = self.parent[span];
        while let Some(parent) = current {
            if parent == ancestor {
                return true;
            }
            current = self.parent[parent];
        }
        false
    }

    /// Every value of a custom attribute or intrinsic on span `index`.
    fn attribute(&self, index: usize, attribute: &Attribute) -> Vec<Value> {
        let row = &self.rows[index];
        let span = row.span;
        let mut out = Vec::new();
        let resource = |out: &mut Vec<Value>, name: &str| {
            if let Some(resource) = row.resource {
                values_of(&resource.attributes, name, out);
            }
        };
        match attribute {
            Attribute::Custom(custom) => {
                let name = custom.name.as_str();
                match custom.scope {
                    AttributeScope::Span => values_of(&span.attributes, name, &mut out),
                    AttributeScope::Resource => resource(&mut out, name),
                    AttributeScope::Unscoped => {
                        values_of(&span.attributes, name, &mut out);
                        if out.is_empty() {
                            resource(&mut out, name);
                        }
                    }
                    AttributeScope::Event => {
                        for event in &span.events {
                            values_of(&event.attributes, name, &mut out);
                        }
                    }
                    AttributeScope::Link => {
                        for link in &span.links {
                            values_of(&link.attributes, name, &mut out);
                        }
                    }
                    AttributeScope::Instrumentation => {
                        if let Some(scope) = row.scope {
                            values_of(&scope.attributes, name, &mut out);
                        }
                    }
                }
            }
            Attribute::Intrinsic(intrinsic) => out.extend(self.intrinsic(index, *intrinsic)),
        }
        out
    }

    fn intrinsic(&self, index: usize, intrinsic: Intrinsic) -> Vec<Value> {
        let row = &self.rows[index];
        let span = row.span;
        let start = span.start_time_unix_nano;
        let one = |value: Value| vec![value];
        match intrinsic {
            Intrinsic::Duration => one(Value::Duration(
                span.end_time_unix_nano.saturating_sub(start) as i64,
            )),
            Intrinsic::Name => one(Value::String(span.name.clone())),
            Intrinsic::Status => one(Value::Status(match span.status.as_ref().map(|s| s.code) {
                Some(1) => Status::Ok,
                Some(2) => Status::Error,
                _ => Status::Unset,
            })),
            // An intrinsic always has a value: the message, empty without a status.
            Intrinsic::StatusMessage => one(Value::String(
                span.status
                    .as_ref()
                    .map(|status| status.message.clone())
                    .unwrap_or_default(),
            )),
            Intrinsic::Kind => one(Value::Kind(kind_of(span.kind))),
            Intrinsic::ChildCount => one(Value::Int(
                self.parent.iter().filter(|p| **p == Some(index)).count() as i64,
            )),
            Intrinsic::SpanId => one(Value::String(hex::encode(&span.span_id))),
            Intrinsic::ParentId => non_empty(&hex::encode(&span.parent_span_id))
                .into_iter()
                .collect(),
            Intrinsic::TraceRootName => self
                .root
                .map(|root| Value::String(self.rows[root].span.name.clone()))
                .into_iter()
                .collect(),
            Intrinsic::TraceRootService => self
                .root
                .and_then(|root| service_of(self.rows[root].resource))
                .map(Value::String)
                .into_iter()
                .collect(),
            Intrinsic::TraceDuration => one(Value::Duration((self.end - self.start) as i64)),
            Intrinsic::TraceId => one(Value::String(hex::encode(self.trace_id))),
            Intrinsic::NestedSetLeft => one(Value::Int(self.left[index])),
            Intrinsic::NestedSetRight => one(Value::Int(self.right[index])),
            Intrinsic::NestedSetParent => one(Value::Int(
                self.parent[index].map_or(-1, |parent| self.left[parent]),
            )),
            Intrinsic::EventName => span
                .events
                .iter()
                .map(|event| Value::String(event.name.clone()))
                .collect(),
            Intrinsic::EventTimeSinceStart => span
                .events
                .iter()
                .map(|event| Value::Duration(event.time_unix_nano as i64 - start as i64))
                .collect(),
            Intrinsic::LinkTraceId => span
                .links
                .iter()
                .map(|link| Value::String(hex::encode(&link.trace_id)))
                .collect(),
            Intrinsic::LinkSpanId => span
                .links
                .iter()
                .map(|link| Value::String(hex::encode(&link.span_id)))
                .collect(),
            Intrinsic::InstrumentationName => row
                .scope
                .and_then(|scope| non_empty(&scope.name))
                .into_iter()
                .collect(),
            Intrinsic::InstrumentationVersion => row
                .scope
                .and_then(|scope| non_empty(&scope.version))
                .into_iter()
                .collect(),
            Intrinsic::Parent => panic!("the parent intrinsic does not validate"),
        }
    }

    /// The values of an expression on a span: all of an attribute's, else at most one.
    pub(super) fn values(&self, index: usize, expr: &FieldExpr) -> Vec<Value> {
        match expr {
            FieldExpr::Static(value) => vec![static_value(value)],
            FieldExpr::Attribute(attribute) => self.attribute(index, attribute),
            FieldExpr::Binary { op, lhs, rhs } if !op.is_boolean() => {
                let left = self.values(index, lhs);
                let right = self.values(index, rhs);
                match (left.first(), right.first()) {
                    (Some(a), Some(b)) => arithmetic(*op, a, b).into_iter().collect(),
                    _ => Vec::new(),
                }
            }
            FieldExpr::Unary {
                op: UnaryOp::Neg,
                expr,
            } => match self.values(index, expr).first() {
                Some(Value::Int(number)) => vec![Value::Int(number.wrapping_neg())],
                Some(Value::Float(number)) => vec![Value::Float(-number)],
                Some(Value::Duration(number)) => vec![Value::Duration(number.wrapping_neg())],
                _ => Vec::new(),
            },
            FieldExpr::Binary { .. } | FieldExpr::Unary { .. } => {
                vec![Value::Bool(self.holds(index, expr))]
            }
        }
    }

    /// Whether a (boolean) expression holds on a span.
    pub(super) fn holds(&self, index: usize, expr: &FieldExpr) -> bool {
        match expr {
            FieldExpr::Static(value) => *value == Static::Bool(true),
            FieldExpr::Attribute(_) => self.values(index, expr).contains(&Value::Bool(true)),
            FieldExpr::Unary { op, expr: operand } => match op {
                UnaryOp::Not => !self.holds(index, operand),
                UnaryOp::Exists => !self.values(index, operand).is_empty(),
                UnaryOp::NotExists => self.values(index, operand).is_empty(),
                UnaryOp::Neg => false,
            },
            FieldExpr::Binary { op, lhs, rhs } => match op {
                BinaryOp::And => self.holds(index, lhs) && self.holds(index, rhs),
                BinaryOp::Or => self.holds(index, lhs) || self.holds(index, rhs),
                BinaryOp::Regex | BinaryOp::NotRegex => {
                    let FieldExpr::Static(Static::String(pattern)) = rhs.as_ref() else {
                        panic!("validated regexes have a literal pattern");
                    };
                    self.values(index, lhs).iter().any(|value| match value {
                        Value::String(text) => {
                            regex_matches(pattern, text) == (*op == BinaryOp::Regex)
                        }
                        _ => false,
                    })
                }
                BinaryOp::Eq
                | BinaryOp::Neq
                | BinaryOp::Gt
                | BinaryOp::Gte
                | BinaryOp::Lt
                | BinaryOp::Lte => {
                    let left = self.values(index, lhs);
                    let right = self.values(index, rhs);
                    // Against a literal (a constant such as `-2`): some value holds it.
                    if !lhs.references_span() || !rhs.references_span() {
                        left.iter()
                            .any(|a| right.iter().any(|b| compare(*op, a, b)))
                    } else {
                        match (left.first(), right.first()) {
                            (Some(a), Some(b)) => compare(*op, a, b),
                            _ => false,
                        }
                    }
                }
                _ => false,
            },
        }
    }

    fn result(&self, sets: Vec<Set>, shown: &[(String, Attribute)]) -> TraceMatch {
        let mut service_stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
        for row in &self.rows {
            let stats = service_stats
                .entry(service_of(row.resource).unwrap_or_default())
                .or_default();
            stats.span_count += 1;
            if row
                .span
                .status
                .as_ref()
                .is_some_and(|status| status.code == 2)
            {
                stats.error_count += 1;
            }
        }
        let span_match = |index: usize| {
            let span = self.rows[index].span;
            let mut span_id = [0u8; 8];
            span_id.copy_from_slice(&span.span_id);
            SpanMatch {
                span_id,
                name: span.name.clone(),
                start_unix_nanos: span.start_time_unix_nano,
                duration_nanos: span
                    .end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano),
                attributes: shown
                    .iter()
                    .filter_map(|(name, attribute)| {
                        let value = self.attribute(index, attribute).into_iter().next()?;
                        Some((name.clone(), value))
                    })
                    .collect(),
            }
        };
        let root = self.root.map(|root| &self.rows[root]);
        TraceMatch {
            trace_id: self.trace_id,
            root_service_name: root.and_then(|root| service_of(root.resource)),
            root_span_name: root.map(|root| root.span.name.clone()),
            start_unix_nanos: self.start,
            duration_nanos: self.end - self.start,
            spansets: sets
                .into_iter()
                .map(|(spans, attributes)| SpansetMatch {
                    matched: spans.len() as u32,
                    spans: spans.into_iter().map(span_match).collect(),
                    attributes,
                })
                .collect(),
            service_stats,
        }
    }
}
