//! Turning a trace's spansets (row lists) into a [`TraceMatch`].

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::{Array, FixedSizeBinaryArray, Int32Array, UInt64Array};
use vivace_storage::block::search_schema as columns;
use vivace_traceql::{Attribute, Kind, Status};

use crate::compile::CompiledQuery;
use crate::error::EngineError;
use crate::extract::BatchView;
use crate::result::{ServiceStats, SpanMatch, SpansetMatch, TraceMatch, Value};
use crate::spanset::EvalOptions;
use crate::values::{Strings, Values};

/// The value of element `index` (the first typed slot that holds one).
pub(crate) fn value_at(values: &Values, index: usize) -> Option<Value> {
    if index >= values.len() {
        return None;
    }
    if let Some(array) = &values.int
        && array.is_valid(index)
    {
        return Some(Value::Int(array.value(index)));
    }
    if let Some(array) = &values.float
        && array.is_valid(index)
    {
        return Some(Value::Float(array.value(index)));
    }
    if let Some(array) = &values.string
        && let Ok(strings) = Strings::of(array, "value")
        && let Some(text) = strings.value(index)
    {
        return Some(Value::String(text.to_owned()));
    }
    if let Some(array) = &values.boolean
        && array.is_valid(index)
    {
        return Some(Value::Bool(array.value(index)));
    }
    if let Some(array) = &values.duration
        && array.is_valid(index)
    {
        return Some(Value::Duration(array.value(index)));
    }
    if let Some(array) = &values.status
        && array.is_valid(index)
    {
        return Some(Value::Status(match array.value(index) {
            1 => Status::Ok,
            2 => Status::Error,
            _ => Status::Unset,
        }));
    }
    if let Some(array) = &values.kind
        && array.is_valid(index)
    {
        return Some(Value::Kind(match array.value(index) {
            1 => Kind::Internal,
            2 => Kind::Server,
            3 => Kind::Client,
            4 => Kind::Producer,
            5 => Kind::Consumer,
            _ => Kind::Unspecified,
        }));
    }
    None
}

/// The name a span attribute is shown under: the bare name.
fn shown_name(attribute: &Attribute) -> String {
    match attribute {
        Attribute::Intrinsic(intrinsic) => intrinsic.as_str().to_owned(),
        Attribute::Custom(custom) => custom.name.clone(),
    }
}

/// A spanset as rows of the batch and its attributes.
pub(crate) type RowSpanset = (Vec<u32>, Vec<(String, Value)>);

/// Columns of a batch that results read.
pub(crate) struct ResultBuilder<'a> {
    options: EvalOptions,
    trace_ids: &'a FixedSizeBinaryArray,
    span_ids: &'a FixedSizeBinaryArray,
    names: Strings<'a>,
    starts: &'a UInt64Array,
    ends: &'a UInt64Array,
    status_codes: &'a Int32Array,
    services: Strings<'a>,
    root_services: Strings<'a>,
    root_names: Strings<'a>,
    trace_starts: &'a UInt64Array,
    trace_ends: &'a UInt64Array,
    shown: Vec<(String, Values)>,
}

impl<'a> ResultBuilder<'a> {
    pub(crate) fn new(
        query: &CompiledQuery,
        view: BatchView<'a>,
        options: &EvalOptions,
    ) -> Result<Self, EngineError> {
        let fixed = |name: &str| {
            view.column(name)?
                .as_fixed_size_binary_opt()
                .ok_or_else(|| EngineError::Column(name.to_owned()))
        };
        let mut shown = Vec::with_capacity(query.shown.len());
        for attribute in &query.shown {
            let values = view.attribute(attribute)?.first_per_row()?;
            shown.push((shown_name(attribute), values));
        }
        Ok(ResultBuilder {
            options: *options,
            trace_ids: fixed(columns::TRACE_ID)?,
            span_ids: fixed(columns::SPAN_ID)?,
            names: view.strings(columns::NAME)?,
            starts: view.u64s(columns::START)?,
            ends: view.u64s(columns::END)?,
            status_codes: view.i32s(columns::STATUS_CODE)?,
            services: view.strings(columns::SERVICE_NAME)?,
            root_services: view.strings(columns::TRACE_ROOT_SERVICE)?,
            root_names: view.strings(columns::TRACE_ROOT_NAME)?,
            trace_starts: view.u64s(columns::TRACE_START)?,
            trace_ends: view.u64s(columns::TRACE_END)?,
            shown,
        })
    }

    fn span(&self, row: usize) -> SpanMatch {
        let mut span_id = [0u8; 8];
        let id = self.span_ids.value(row);
        let length = id.len().min(8);
        span_id[8 - length..].copy_from_slice(&id[..length]);
        let start = self.starts.value(row);
        let attributes = self
            .shown
            .iter()
            .filter_map(|(name, values)| value_at(values, row).map(|value| (name.clone(), value)))
            .collect();
        SpanMatch {
            span_id,
            name: self.names.value(row).unwrap_or_default().to_owned(),
            start_unix_nanos: start,
            duration_nanos: self.ends.value(row).saturating_sub(start),
            attributes,
        }
    }

    /// The result for the trace in rows `start..end` with the given spansets.
    pub(crate) fn trace(
        &self,
        start: usize,
        end: usize,
        spansets: Vec<RowSpanset>,
    ) -> Result<TraceMatch, EngineError> {
        let mut trace_id = [0u8; 16];
        let id = self.trace_ids.value(start);
        let length = id.len().min(16);
        trace_id[16 - length..].copy_from_slice(&id[..length]);
        let mut service_stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
        for row in start..end {
            let service = self.services.value(row).unwrap_or_default();
            let stats = match service_stats.get_mut(service) {
                Some(stats) => stats,
                None => service_stats.entry(service.to_owned()).or_default(),
            };
            stats.span_count += 1;
            if self.status_codes.is_valid(row) && self.status_codes.value(row) == 2 {
                stats.error_count += 1;
            }
        }
        let limit = self.options.spans_per_spanset;
        let spansets = spansets
            .into_iter()
            .map(|(rows, attributes)| SpansetMatch {
                matched: rows.len() as u32,
                spans: rows
                    .iter()
                    .take(limit)
                    .map(|row| self.span(*row as usize))
                    .collect(),
                attributes,
            })
            .collect();
        let trace_start = self.trace_starts.value(start);
        Ok(TraceMatch {
            trace_id,
            root_service_name: self.root_services.value(start).map(str::to_owned),
            root_span_name: self.root_names.value(start).map(str::to_owned),
            start_unix_nanos: trace_start,
            duration_nanos: self.trace_ends.value(start).saturating_sub(trace_start),
            spansets,
            service_stats,
        })
    }
}
