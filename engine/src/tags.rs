//! Tag names and tag values (`/api/search/tags`, `/api/v2/search/tag/{name}/values`) collected
//! from search columns, optionally only from spans a filter selects.

use std::collections::BTreeSet;

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, ListArray, RecordBatch};
use vivace_storage::block::search_schema as columns;
use vivace_traceql::{Attribute, FieldExpr};

use crate::compile::Regexes;
use crate::error::EngineError;
use crate::eval::FieldEval;
use crate::extract::BatchView;
use crate::format::{go_duration, go_float};
use crate::result::Value;
use crate::trace_result::value_at;
use crate::values::Strings;

/// Tag scopes, in the order Tempo lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagScope {
    Resource,
    Span,
    Intrinsic,
    Event,
    Link,
    Instrumentation,
}

impl TagScope {
    /// The scope's name in answers and in the `scope` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TagScope::Resource => "resource",
            TagScope::Span => "span",
            TagScope::Intrinsic => "intrinsic",
            TagScope::Event => "event",
            TagScope::Link => "link",
            TagScope::Instrumentation => "instrumentation",
        }
    }

    /// Every scope.
    pub const ALL: [TagScope; 6] = [
        TagScope::Resource,
        TagScope::Span,
        TagScope::Intrinsic,
        TagScope::Event,
        TagScope::Link,
        TagScope::Instrumentation,
    ];
}

/// The intrinsic names Tempo's tag APIs list (nested-set intrinsics left out on purpose).
pub const INTRINSIC_TAGS: [&str; 25] = [
    "duration",
    "name",
    "status",
    "statusMessage",
    "kind",
    "rootServiceName",
    "rootName",
    "traceDuration",
    "event:name",
    "event:timeSinceStart",
    "link:spanID",
    "link:traceID",
    "instrumentation:name",
    "instrumentation:version",
    "trace:id",
    "span:id",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "span:duration",
    "span:name",
    "span:kind",
    "trace:rootName",
    "trace:rootService",
    "trace:duration",
];

/// A tag value with its TraceQL type name (`string`, `int`, `float`, `bool`, `duration`,
/// `keyword`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypedValue {
    pub kind: &'static str,
    pub value: String,
}

impl TypedValue {
    /// The value as Tempo renders it.
    pub fn of(value: &Value) -> TypedValue {
        let (kind, value) = match value {
            Value::Int(number) => ("int", number.to_string()),
            Value::Float(number) => ("float", go_float(*number)),
            Value::String(text) => ("string", text.clone()),
            Value::Bool(flag) => ("bool", flag.to_string()),
            Value::Duration(nanos) => ("duration", go_duration(*nanos)),
            Value::Status(status) => ("keyword", status.as_str().to_owned()),
            Value::Kind(kind) => ("keyword", kind.as_str().to_owned()),
        };
        TypedValue { kind, value }
    }
}

/// Rows a tag query considers: those where `filter` holds (all rows without a filter).
fn selected_rows(
    view: BatchView<'_>,
    filter: Option<&FieldExpr>,
    regexes: &Regexes,
) -> Result<Option<BooleanArray>, EngineError> {
    let Some(expr) = filter else {
        return Ok(None);
    };
    let evaluator = FieldEval { view, regexes };
    Ok(Some(evaluator.mask(expr)?))
}

fn row_selected(mask: &Option<BooleanArray>, row: usize) -> bool {
    mask.as_ref().is_none_or(|mask| mask.value(row))
}

/// Keys of a generic attribute list on the selected rows.
fn list_keys(
    list: &ListArray,
    mask: &Option<BooleanArray>,
    out: &mut BTreeSet<String>,
) -> Result<(), EngineError> {
    let Some(entries) = list.values().as_struct_opt() else {
        return Err(EngineError::Column("attribute list".to_owned()));
    };
    let Some(keys) = entries.column_by_name(columns::ATTR_KEY) else {
        return Err(EngineError::Column("attribute key".to_owned()));
    };
    let keys = Strings::of(keys, columns::ATTR_KEY)?;
    let offsets = list.value_offsets();
    for row in 0..list.len() {
        if !row_selected(mask, row) {
            continue;
        }
        for entry in offsets[row] as usize..offsets[row + 1] as usize {
            if let Some(key) = keys.value(entry)
                && !out.contains(key)
            {
                out.insert(key.to_owned());
            }
        }
    }
    Ok(())
}

/// Adds the tag names of `scope` found on the selected rows of `batch` to `out`.
pub fn collect_tag_names(
    batch: &RecordBatch,
    scope: TagScope,
    filter: Option<&FieldExpr>,
    out: &mut BTreeSet<String>,
) -> Result<(), EngineError> {
    if scope == TagScope::Intrinsic {
        out.extend(INTRINSIC_TAGS.iter().map(|name| (*name).to_owned()));
        return Ok(());
    }
    let view = BatchView { batch };
    let regexes = Regexes::for_filter(filter)?;
    let mask = selected_rows(view, filter, &regexes)?;
    let (list, dedicated): (&str, &[(&str, &str, columns::DedicatedType)]) = match scope {
        TagScope::Span => (columns::SPAN_ATTRS, columns::DEDICATED_SPAN),
        TagScope::Resource => (columns::RESOURCE_ATTRS, columns::DEDICATED_RESOURCE),
        TagScope::Event => (columns::EVENT_ATTRS, &[]),
        TagScope::Link => (columns::LINK_ATTRS, &[]),
        TagScope::Instrumentation => (columns::SCOPE_ATTRS, &[]),
        TagScope::Intrinsic => return Ok(()),
    };
    let mut dedicated_columns: Vec<(&str, &str)> = dedicated
        .iter()
        .map(|(column, key, _)| (*column, *key))
        .collect();
    if scope == TagScope::Resource {
        dedicated_columns.push((columns::SERVICE_NAME, "service.name"));
    }
    for (column, key) in dedicated_columns {
        let array = view.column(column)?;
        if (0..array.len()).any(|row| array.is_valid(row) && row_selected(&mask, row)) {
            out.insert(key.to_owned());
        }
    }
    let array = view.column(list)?;
    let list_array = array
        .as_list_opt::<i32>()
        .ok_or_else(|| EngineError::Column(list.to_owned()))?;
    list_keys(list_array, &mask, out)
}

/// Adds the values of `attribute` on the selected rows of `batch` to `out` (at most `limit`
/// values in all; 0 means no limit).
pub fn collect_tag_values(
    batch: &RecordBatch,
    attribute: &Attribute,
    filter: Option<&FieldExpr>,
    limit: usize,
    out: &mut BTreeSet<TypedValue>,
) -> Result<(), EngineError> {
    let view = BatchView { batch };
    let regexes = Regexes::for_filter(filter)?;
    let mask = selected_rows(view, filter, &regexes)?;
    let values = view.attribute(attribute)?;
    for index in 0..values.len() {
        if limit > 0 && out.len() >= limit {
            break;
        }
        if !row_selected(&mask, values.row_of(index)) {
            continue;
        }
        if let Some(value) = value_at(&values, index) {
            out.insert(TypedValue::of(&value));
        }
    }
    Ok(())
}
