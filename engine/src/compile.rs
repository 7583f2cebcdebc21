//! A query prepared for evaluation: regexes compiled, the columns it reads, the attributes its
//! results show.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use vivace_storage::block::search_schema as columns;
use vivace_traceql::{
    Aggregate, Attribute, AttributeScope, BinaryOp, FieldExpr, Intrinsic, Pipeline, Query,
    QueryBody, SpansetExpr, SpansetOp, SpansetPipelineExpr, Stage, Static,
};

use crate::error::EngineError;

/// Anchored regexes of a query, by pattern.
#[derive(Debug, Default)]
pub(crate) struct Regexes {
    compiled: HashMap<String, regex::Regex>,
}

impl Regexes {
    fn add(&mut self, pattern: &str) -> Result<(), EngineError> {
        if self.compiled.contains_key(pattern) {
            return Ok(());
        }
        let invalid = |detail: String| EngineError::Regex {
            pattern: pattern.to_owned(),
            detail,
        };
        let translated = vivace_traceql::re2_to_rust_syntax(pattern).map_err(invalid)?;
        let anchored = format!("^(?:{translated})$");
        let regex = regex::Regex::new(&anchored).map_err(|error| invalid(error.to_string()))?;
        self.compiled.insert(pattern.to_owned(), regex);
        Ok(())
    }

    /// The regexes of one filter expression.
    pub(crate) fn for_filter(filter: Option<&FieldExpr>) -> Result<Regexes, EngineError> {
        let mut regexes = Regexes::default();
        if let Some(expr) = filter {
            regexes.collect(expr)?;
        }
        Ok(regexes)
    }

    fn collect(&mut self, expr: &FieldExpr) -> Result<(), EngineError> {
        match expr {
            FieldExpr::Static(_) | FieldExpr::Attribute(_) => Ok(()),
            FieldExpr::Unary { expr, .. } => self.collect(expr),
            FieldExpr::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex)
                    && let FieldExpr::Static(Static::String(pattern)) = rhs.as_ref()
                {
                    self.add(pattern)?;
                }
                self.collect(lhs)?;
                self.collect(rhs)
            }
        }
    }

    pub(crate) fn get(&self, pattern: &str) -> Result<&regex::Regex, EngineError> {
        self.compiled
            .get(pattern)
            .ok_or_else(|| EngineError::Regex {
                pattern: pattern.to_owned(),
                detail: "not compiled".to_owned(),
            })
    }
}

/// A search query ready to run over batches.
#[derive(Debug)]
pub struct CompiledQuery {
    pub(crate) query: Query,
    pub(crate) regexes: Regexes,
    /// Attributes shown on returned spans, in first-use order.
    pub(crate) shown: Vec<Attribute>,
    columns: BTreeSet<&'static str>,
    /// Keys read from each generic attribute list.
    list_keys: BTreeMap<&'static str, BTreeSet<String>>,
    structural: bool,
}

/// The generic attribute lists.
const GENERIC_LISTS: [&str; 5] = [
    columns::SPAN_ATTRS,
    columns::RESOURCE_ATTRS,
    columns::SCOPE_ATTRS,
    columns::EVENT_ATTRS,
    columns::LINK_ATTRS,
];

/// Columns every search reads: trace boundaries, results and service statistics.
const ALWAYS: &[&str] = &[
    columns::TRACE_ID,
    columns::SPAN_ID,
    columns::NAME,
    columns::START,
    columns::END,
    columns::STATUS_CODE,
    columns::SERVICE_NAME,
    columns::TRACE_ROOT_SERVICE,
    columns::TRACE_ROOT_NAME,
    columns::TRACE_START,
    columns::TRACE_END,
];

impl CompiledQuery {
    /// Prepares a parsed (and validated) search query.
    pub fn new(query: &Query) -> Result<Self, EngineError> {
        let mut compiled = CompiledQuery {
            query: query.clone(),
            regexes: Regexes::default(),
            shown: Vec::new(),
            columns: ALWAYS.iter().copied().collect(),
            list_keys: BTreeMap::new(),
            structural: false,
        };
        match &query.body {
            QueryBody::Pipeline(pipeline) => compiled.pipeline(pipeline)?,
            QueryBody::PipelineExpr(expr) => compiled.pipeline_expr(expr)?,
            QueryBody::ScalarPipelineFilter(_) => {
                return Err(EngineError::Unsupported(
                    "scalar filter between parenthesised pipelines".to_owned(),
                ));
            }
            QueryBody::Metrics(_) => {
                return Err(EngineError::Unsupported(
                    "metrics queries in search".to_owned(),
                ));
            }
        }
        if compiled.structural {
            compiled.columns.extend([
                columns::NESTED_SET_LEFT,
                columns::NESTED_SET_RIGHT,
                columns::NESTED_SET_PARENT,
            ]);
        }
        Ok(compiled)
    }

    /// Whether the query relates spans by the tree (structural spanset operators).
    pub fn structural(&self) -> bool {
        self.structural
    }

    /// The keys the query reads from each generic attribute list it reads. A block scan may leave
    /// out a list none of whose keys a row group holds: the engine reads a missing list as empty.
    pub fn list_keys(&self) -> &BTreeMap<&'static str, BTreeSet<String>> {
        &self.list_keys
    }

    /// The query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The search columns a block scan must read for this query.
    pub fn columns(&self) -> Vec<&'static str> {
        self.columns.iter().copied().collect()
    }

    fn pipeline_expr(&mut self, expr: &SpansetPipelineExpr) -> Result<(), EngineError> {
        match expr {
            SpansetPipelineExpr::Pipeline(pipeline) => self.pipeline(pipeline),
            SpansetPipelineExpr::Op { op, lhs, rhs } => {
                self.spanset_op(*op);
                self.pipeline_expr(lhs)?;
                self.pipeline_expr(rhs)
            }
        }
    }

    fn pipeline(&mut self, pipeline: &Pipeline) -> Result<(), EngineError> {
        for stage in &pipeline.stages {
            match stage {
                Stage::Spanset(expr) => self.spanset(expr)?,
                Stage::ScalarFilter(filter) => {
                    for side in [&filter.lhs, &filter.rhs] {
                        if let vivace_traceql::ScalarExpr::Aggregate(aggregate) = side {
                            self.aggregate(aggregate)?;
                        }
                    }
                }
                Stage::GroupBy(expr) => self.field(expr, false)?,
                Stage::Coalesce => {}
                Stage::Select(attributes) => {
                    for attribute in attributes {
                        self.attribute(attribute, true)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn aggregate(&mut self, aggregate: &Aggregate) -> Result<(), EngineError> {
        match aggregate.argument() {
            Some(expr) => self.field(expr, false),
            None => Ok(()),
        }
    }

    fn spanset_op(&mut self, op: SpansetOp) {
        if !matches!(op, SpansetOp::And | SpansetOp::Or) {
            self.structural = true;
        }
    }

    fn spanset(&mut self, expr: &SpansetExpr) -> Result<(), EngineError> {
        match expr {
            SpansetExpr::Filter(filter) => match &filter.expr {
                Some(field) => self.field(field, true),
                None => Ok(()),
            },
            SpansetExpr::Op { op, lhs, rhs } => {
                self.spanset_op(*op);
                self.spanset(lhs)?;
                self.spanset(rhs)
            }
        }
    }

    fn field(&mut self, expr: &FieldExpr, show: bool) -> Result<(), EngineError> {
        match expr {
            FieldExpr::Static(_) => Ok(()),
            FieldExpr::Attribute(attribute) => self.attribute(attribute, show),
            FieldExpr::Unary { expr, .. } => self.field(expr, show),
            FieldExpr::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex)
                    && let FieldExpr::Static(Static::String(pattern)) = rhs.as_ref()
                {
                    self.regexes.add(pattern)?;
                }
                self.field(lhs, show)?;
                self.field(rhs, show)
            }
        }
    }

    fn attribute(&mut self, attribute: &Attribute, show: bool) -> Result<(), EngineError> {
        let attribute_columns = columns_of(attribute)?;
        if let Attribute::Custom(custom) = attribute {
            for column in &attribute_columns {
                if GENERIC_LISTS.contains(column) {
                    self.list_keys
                        .entry(column)
                        .or_default()
                        .insert(custom.name.clone());
                }
            }
        }
        self.columns.extend(attribute_columns);
        let shown_already = self.shown.contains(attribute);
        let plain_field = matches!(
            attribute,
            Attribute::Intrinsic(Intrinsic::Name | Intrinsic::Duration)
        );
        if show && !shown_already && !plain_field {
            self.shown.push(attribute.clone());
        }
        Ok(())
    }
}

/// The columns that hold an attribute's values.
pub fn columns_of(attribute: &Attribute) -> Result<Vec<&'static str>, EngineError> {
    let custom = match attribute {
        Attribute::Intrinsic(intrinsic) => return intrinsic_columns(*intrinsic),
        Attribute::Custom(custom) => custom,
    };
    if custom.parent {
        return Err(EngineError::Unsupported("parent attributes".to_owned()));
    }
    let name = custom.name.as_str();
    let dedicated_for = |table: &[(&'static str, &'static str, columns::DedicatedType)]| {
        table
            .iter()
            .find(|(_, key, _)| *key == name)
            .map(|(column, _, _)| *column)
    };
    // Only the dedicated column of this key (if any) and the scope's generic list.
    let span = || {
        let mut span = vec![columns::SPAN_ATTRS];
        span.extend(dedicated_for(columns::DEDICATED_SPAN));
        span
    };
    let resource = || {
        let mut resource = vec![columns::RESOURCE_ATTRS];
        if name == "service.name" {
            resource.push(columns::SERVICE_NAME);
        }
        resource.extend(dedicated_for(columns::DEDICATED_RESOURCE));
        resource
    };
    Ok(match custom.scope {
        AttributeScope::Span => span(),
        AttributeScope::Resource => resource(),
        AttributeScope::Unscoped => {
            let mut both = span();
            both.extend(resource());
            both
        }
        AttributeScope::Event => vec![columns::EVENT_ATTRS],
        AttributeScope::Link => vec![columns::LINK_ATTRS],
        AttributeScope::Instrumentation => vec![columns::SCOPE_ATTRS],
    })
}

fn intrinsic_columns(intrinsic: Intrinsic) -> Result<Vec<&'static str>, EngineError> {
    Ok(match intrinsic {
        Intrinsic::Duration => vec![columns::START, columns::END],
        Intrinsic::Name => vec![columns::NAME],
        Intrinsic::Status => vec![columns::STATUS_CODE],
        Intrinsic::StatusMessage => vec![columns::STATUS_MESSAGE],
        Intrinsic::Kind => vec![columns::KIND],
        Intrinsic::ChildCount => vec![columns::CHILD_COUNT],
        Intrinsic::SpanId => vec![columns::SPAN_ID],
        Intrinsic::ParentId => vec![columns::PARENT_SPAN_ID],
        Intrinsic::TraceRootName => vec![columns::TRACE_ROOT_NAME],
        Intrinsic::TraceRootService => vec![columns::TRACE_ROOT_SERVICE],
        Intrinsic::TraceDuration => vec![columns::TRACE_START, columns::TRACE_END],
        Intrinsic::TraceId => vec![columns::TRACE_ID],
        Intrinsic::NestedSetLeft => vec![columns::NESTED_SET_LEFT],
        Intrinsic::NestedSetRight => vec![columns::NESTED_SET_RIGHT],
        Intrinsic::NestedSetParent => vec![columns::NESTED_SET_PARENT],
        Intrinsic::EventName => vec![columns::EVENT_NAMES],
        Intrinsic::EventTimeSinceStart => vec![columns::EVENT_TIMES_SINCE_START],
        Intrinsic::LinkTraceId => vec![columns::LINK_TRACE_IDS],
        Intrinsic::LinkSpanId => vec![columns::LINK_SPAN_IDS],
        Intrinsic::InstrumentationName => vec![columns::SCOPE_NAME],
        Intrinsic::InstrumentationVersion => vec![columns::SCOPE_VERSION],
        Intrinsic::Parent => {
            return Err(EngineError::Unsupported("the parent intrinsic".to_owned()));
        }
    })
}
