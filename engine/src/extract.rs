//! Reading an attribute or intrinsic of every span of a batch as [`Values`].

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Int32Array, Int64Array, ListArray, RecordBatch, StringArray, UInt32Array,
};
use arrow_select::take::take;
use vivace_storage::block::search_schema as columns;
use vivace_traceql::{Attribute, AttributeScope, CustomAttribute, Intrinsic};

use crate::error::EngineError;
use crate::values::{Slot, Strings, Values};

/// A batch of search columns.
#[derive(Clone, Copy)]
pub(crate) struct BatchView<'a> {
    pub batch: &'a RecordBatch,
}

impl<'a> BatchView<'a> {
    pub(crate) fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    pub(crate) fn column(&self, name: &str) -> Result<&'a ArrayRef, EngineError> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| EngineError::Column(name.to_owned()))
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Strings<'a>, EngineError> {
        Strings::of(self.column(name)?, name)
    }

    pub(crate) fn u64s(&self, name: &str) -> Result<&'a arrow_array::UInt64Array, EngineError> {
        self.column(name)?
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| EngineError::Column(name.to_owned()))
    }

    pub(crate) fn i32s(&self, name: &str) -> Result<&'a Int32Array, EngineError> {
        self.column(name)?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| EngineError::Column(name.to_owned()))
    }

    fn fixed_ids(&self, name: &str) -> Result<&'a arrow_array::FixedSizeBinaryArray, EngineError> {
        self.column(name)?
            .as_fixed_size_binary_opt()
            .ok_or_else(|| EngineError::Column(name.to_owned()))
    }

    /// The values of `attribute` on every span.
    pub(crate) fn attribute(&self, attribute: &Attribute) -> Result<Values, EngineError> {
        match attribute {
            Attribute::Intrinsic(intrinsic) => self.intrinsic(*intrinsic),
            Attribute::Custom(custom) => self.custom(custom),
        }
    }

    fn per_row(&self, slot: Slot, array: ArrayRef) -> Values {
        Values::per_row(self.rows(), slot, array)
    }

    fn intrinsic(&self, intrinsic: Intrinsic) -> Result<Values, EngineError> {
        let rows = self.rows();
        match intrinsic {
            Intrinsic::Duration => {
                let starts = self.u64s(columns::START)?;
                let ends = self.u64s(columns::END)?;
                Ok(self.per_row(Slot::Duration, Arc::new(durations(starts, ends))))
            }
            Intrinsic::TraceDuration => {
                let starts = self.u64s(columns::TRACE_START)?;
                let ends = self.u64s(columns::TRACE_END)?;
                Ok(self.per_row(Slot::Duration, Arc::new(durations(starts, ends))))
            }
            Intrinsic::Name => Ok(self.per_row(Slot::String, self.column(columns::NAME)?.clone())),
            Intrinsic::StatusMessage => {
                Ok(self.per_row(Slot::String, self.column(columns::STATUS_MESSAGE)?.clone()))
            }
            Intrinsic::TraceRootName => {
                Ok(self.per_row(Slot::String, self.column(columns::TRACE_ROOT_NAME)?.clone()))
            }
            Intrinsic::TraceRootService => Ok(self.per_row(
                Slot::String,
                self.column(columns::TRACE_ROOT_SERVICE)?.clone(),
            )),
            Intrinsic::InstrumentationName => {
                Ok(self.per_row(Slot::String, self.column(columns::SCOPE_NAME)?.clone()))
            }
            Intrinsic::InstrumentationVersion => {
                Ok(self.per_row(Slot::String, self.column(columns::SCOPE_VERSION)?.clone()))
            }
            Intrinsic::Status => {
                let codes = self.i32s(columns::STATUS_CODE)?;
                let statuses: Int32Array = codes
                    .iter()
                    .map(|code| Some(code.unwrap_or(-1).max(0)))
                    .collect();
                Ok(self.per_row(Slot::Status, Arc::new(statuses)))
            }
            Intrinsic::Kind => Ok(self.per_row(Slot::Kind, self.column(columns::KIND)?.clone())),
            Intrinsic::ChildCount => self.int_column(columns::CHILD_COUNT),
            Intrinsic::NestedSetLeft => self.int_column(columns::NESTED_SET_LEFT),
            Intrinsic::NestedSetRight => self.int_column(columns::NESTED_SET_RIGHT),
            Intrinsic::NestedSetParent => self.int_column(columns::NESTED_SET_PARENT),
            Intrinsic::SpanId => {
                let ids = self.fixed_ids(columns::SPAN_ID)?;
                let hex: StringArray = (0..rows)
                    .map(|row| Some(hex::encode(ids.value(row))))
                    .collect();
                Ok(self.per_row(Slot::String, Arc::new(hex)))
            }
            Intrinsic::TraceId => {
                let ids = self.fixed_ids(columns::TRACE_ID)?;
                let hex: StringArray = (0..rows)
                    .map(|row| Some(hex::encode(ids.value(row))))
                    .collect();
                Ok(self.per_row(Slot::String, Arc::new(hex)))
            }
            Intrinsic::ParentId => {
                let parents = self
                    .column(columns::PARENT_SPAN_ID)?
                    .as_binary_opt::<i32>()
                    .ok_or_else(|| EngineError::Column(columns::PARENT_SPAN_ID.to_owned()))?;
                let hex: StringArray = (0..rows)
                    .map(|row| {
                        let id = parents.value(row);
                        (parents.is_valid(row) && !id.is_empty()).then(|| hex::encode(id))
                    })
                    .collect();
                Ok(self.per_row(Slot::String, Arc::new(hex)))
            }
            Intrinsic::EventName => self.list_values(columns::EVENT_NAMES, Slot::String, false),
            Intrinsic::EventTimeSinceStart => {
                self.list_values(columns::EVENT_TIMES_SINCE_START, Slot::Duration, false)
            }
            Intrinsic::LinkTraceId => self.list_values(columns::LINK_TRACE_IDS, Slot::String, true),
            Intrinsic::LinkSpanId => self.list_values(columns::LINK_SPAN_IDS, Slot::String, true),
            Intrinsic::Parent => Err(EngineError::Unsupported("the parent intrinsic".to_owned())),
        }
    }

    fn int_column(&self, name: &str) -> Result<Values, EngineError> {
        let numbers = self.i32s(name)?;
        let wide: Int64Array = numbers.iter().map(|value| value.map(i64::from)).collect();
        Ok(self.per_row(Slot::Int, Arc::new(wide)))
    }

    /// Elements of a per-span list column of primitives (binary ids become lowercase hex).
    fn list_values(&self, name: &str, slot: Slot, hex_ids: bool) -> Result<Values, EngineError> {
        let list = self.list(name)?;
        let (element_rows, indices) = list_entries(list, |_| true);
        let taken = take(list.values().as_ref(), &indices, None)?;
        let array: ArrayRef = if hex_ids {
            let binary = taken
                .as_binary_opt::<i32>()
                .ok_or_else(|| EngineError::Column(name.to_owned()))?;
            Arc::new(
                binary
                    .iter()
                    .map(|id| id.map(hex::encode))
                    .collect::<StringArray>(),
            )
        } else {
            taken
        };
        Ok(Values::elements(self.rows(), element_rows, slot, array))
    }

    fn list(&self, name: &str) -> Result<&'a ListArray, EngineError> {
        self.column(name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| EngineError::Column(name.to_owned()))
    }

    fn custom(&self, custom: &CustomAttribute) -> Result<Values, EngineError> {
        if custom.parent {
            return Err(EngineError::Unsupported("parent attributes".to_owned()));
        }
        let name = custom.name.as_str();
        match custom.scope {
            AttributeScope::Span => self.span_attribute(name),
            AttributeScope::Resource => self.resource_attribute(name),
            AttributeScope::Event => self.generic(columns::EVENT_ATTRS, name),
            AttributeScope::Link => self.generic(columns::LINK_ATTRS, name),
            AttributeScope::Instrumentation => self.generic(columns::SCOPE_ATTRS, name),
            AttributeScope::Unscoped => {
                let span = self.span_attribute(name)?;
                let resource = self.resource_attribute(name)?;
                if resource.len() == 0 {
                    return Ok(span);
                }
                let span_rows = span.present_rows();
                let fallback = resource.only_rows(|row| !span_rows.value(row))?;
                span.merge(&fallback)
            }
        }
    }

    fn span_attribute(&self, name: &str) -> Result<Values, EngineError> {
        let generic = self.generic(columns::SPAN_ATTRS, name)?;
        match dedicated(columns::DEDICATED_SPAN, name) {
            Some(column) => self.dedicated_column(column)?.merge(&generic),
            None => Ok(generic),
        }
    }

    fn resource_attribute(&self, name: &str) -> Result<Values, EngineError> {
        let generic = self.generic(columns::RESOURCE_ATTRS, name)?;
        if name == "service.name" {
            return self
                .dedicated_column(columns::SERVICE_NAME)?
                .merge(&generic);
        }
        match dedicated(columns::DEDICATED_RESOURCE, name) {
            Some(column) => self.dedicated_column(column)?.merge(&generic),
            None => Ok(generic),
        }
    }

    /// A nullable dedicated column as elements on the rows where it has a value.
    fn dedicated_column(&self, name: &str) -> Result<Values, EngineError> {
        let array = self.column(name)?;
        let slot = match array.data_type() {
            arrow_schema::DataType::Int64 => Slot::Int,
            _ => Slot::String,
        };
        if array.null_count() == 0 {
            return Ok(self.per_row(slot, array.clone()));
        }
        let rows: Vec<u32> = (0..array.len())
            .filter(|row| array.is_valid(*row))
            .map(|row| row as u32)
            .collect();
        let taken = take(array.as_ref(), &UInt32Array::from(rows.clone()), None)?;
        Ok(Values::elements(self.rows(), rows, slot, taken))
    }

    /// The entries of a generic attribute list with the given key. A list left out of the batch
    /// (a scan that knew no row holds the key) has none.
    fn generic(&self, column: &str, key: &str) -> Result<Values, EngineError> {
        if self.batch.column_by_name(column).is_none() {
            return Ok(Values::empty(self.rows()));
        }
        let list = self.list(column)?;
        let entries = list
            .values()
            .as_struct_opt()
            .ok_or_else(|| EngineError::Column(column.to_owned()))?;
        let keys_array = entries
            .column_by_name(columns::ATTR_KEY)
            .ok_or_else(|| EngineError::Column(column.to_owned()))?;
        let key_mask = Strings::of(keys_array, column)?.matches(|candidate| candidate == key);
        if key_mask.true_count() == 0 {
            return Ok(Values::empty(self.rows()));
        }
        let (element_rows, indices) = list_entries(list, |entry| key_mask.value(entry));
        let mut values = Values::empty(self.rows());
        values.element_rows = Some(Arc::new(UInt32Array::from(element_rows)));
        for (field, slot) in [
            (columns::ATTR_STRING, Slot::String),
            (columns::ATTR_INT, Slot::Int),
            (columns::ATTR_FLOAT, Slot::Float),
            (columns::ATTR_BOOL, Slot::Bool),
        ] {
            let child = entries
                .column_by_name(field)
                .ok_or_else(|| EngineError::Column(column.to_owned()))?;
            if child.null_count() == child.len() {
                continue;
            }
            values.set(slot, take(child.as_ref(), &indices, None)?);
        }
        Ok(values)
    }
}

/// `end - start` as signed nanoseconds.
fn durations(
    starts: &arrow_array::UInt64Array,
    ends: &arrow_array::UInt64Array,
) -> arrow_array::PrimitiveArray<Int64Type> {
    starts
        .values()
        .iter()
        .zip(ends.values().iter())
        .map(|(start, end)| Some(end.saturating_sub(*start).min(i64::MAX as u64) as i64))
        .collect()
}

fn dedicated<'c>(
    table: &'c [(&'c str, &'c str, columns::DedicatedType)],
    name: &str,
) -> Option<&'c str> {
    table
        .iter()
        .find(|(_, key, _)| *key == name)
        .map(|(column, _, _)| *column)
}

/// For the entries of a list column accepted by `keep`: their rows and their indices into the
/// list's values.
fn list_entries(list: &ListArray, keep: impl Fn(usize) -> bool) -> (Vec<u32>, UInt32Array) {
    let offsets = list.value_offsets();
    let mut element_rows = Vec::new();
    let mut indices = Vec::new();
    for row in 0..list.len() {
        if list.is_null(row) {
            continue;
        }
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        for entry in start..end {
            if keep(entry) {
                element_rows.push(row as u32);
                indices.push(entry as u32);
            }
        }
    }
    (element_rows, UInt32Array::from(indices))
}

impl Values {
    /// The elements whose row passes `keep`.
    pub(crate) fn only_rows(&self, keep: impl Fn(usize) -> bool) -> Result<Values, EngineError> {
        let picked: Vec<u32> = (0..self.len())
            .filter(|index| keep(self.row_of(*index)))
            .map(|index| index as u32)
            .collect();
        let element_rows: Vec<u32> = picked
            .iter()
            .map(|index| self.row_of(*index as usize) as u32)
            .collect();
        let indices = UInt32Array::from(picked);
        let mut result = Values::empty(self.rows);
        result.element_rows = Some(Arc::new(UInt32Array::from(element_rows)));
        for slot in crate::values::SLOTS {
            if let Some(array) = self.get(slot) {
                result.set(slot, take(array.as_ref(), &indices, None)?);
            }
        }
        Ok(result)
    }
}
