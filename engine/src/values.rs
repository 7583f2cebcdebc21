//! Values of an expression over a batch, as typed arrow arrays of *elements*: a span may have
//! no value, one, or several (array, event and link attributes). Each element belongs to a row;
//! exactly one of the typed arrays is non-null for an element.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array,
    StringArray, UInt32Array, new_null_array,
};
use arrow_buffer::BooleanBufferBuilder;
use arrow_schema::DataType;
use arrow_select::take::take;

use crate::error::EngineError;

/// A string column as stored: plain or dictionary-encoded.
#[derive(Clone, Copy)]
pub(crate) enum Strings<'a> {
    Plain(&'a StringArray),
    Dictionary(&'a DictionaryArray<Int32Type>, &'a StringArray),
}

impl<'a> Strings<'a> {
    pub(crate) fn of(array: &'a ArrayRef, column: &str) -> Result<Self, EngineError> {
        if let Some(plain) = array.as_string_opt::<i32>() {
            return Ok(Strings::Plain(plain));
        }
        let dictionary = array
            .as_dictionary_opt::<Int32Type>()
            .ok_or_else(|| EngineError::Column(column.to_owned()))?;
        let values = dictionary
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| EngineError::Column(column.to_owned()))?;
        Ok(Strings::Dictionary(dictionary, values))
    }

    pub(crate) fn value(&self, row: usize) -> Option<&'a str> {
        match self {
            Strings::Plain(array) => array.is_valid(row).then(|| array.value(row)),
            Strings::Dictionary(dictionary, values) => {
                if dictionary.is_null(row) {
                    return None;
                }
                let key = dictionary.keys().value(row);
                usize::try_from(key).ok().map(|key| values.value(key))
            }
        }
    }

    /// One boolean per row: `predicate` on the row's string, false where null. A dictionary's
    /// values are tested once each.
    pub(crate) fn matches(&self, predicate: impl Fn(&str) -> bool) -> BooleanArray {
        match self {
            Strings::Plain(array) => {
                let mut bits = BooleanBufferBuilder::new(array.len());
                for row in 0..array.len() {
                    bits.append(array.is_valid(row) && predicate(array.value(row)));
                }
                BooleanArray::new(bits.finish(), None)
            }
            Strings::Dictionary(dictionary, values) => {
                let per_value: Vec<bool> = (0..values.len())
                    .map(|index| values.is_valid(index) && predicate(values.value(index)))
                    .collect();
                let keys = dictionary.keys();
                let mut bits = BooleanBufferBuilder::new(keys.len());
                for row in 0..keys.len() {
                    let hit = keys.is_valid(row)
                        && usize::try_from(keys.value(row))
                            .ok()
                            .and_then(|key| per_value.get(key).copied())
                            .unwrap_or(false);
                    bits.append(hit);
                }
                BooleanArray::new(bits.finish(), None)
            }
        }
    }
}

/// Which typed slot an element occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Int,
    Float,
    String,
    Bool,
    Duration,
    Status,
    Kind,
}

pub(crate) const SLOTS: [Slot; 7] = [
    Slot::Int,
    Slot::Float,
    Slot::String,
    Slot::Bool,
    Slot::Duration,
    Slot::Status,
    Slot::Kind,
];

/// Elements of an expression's values over a batch of `rows` rows.
#[derive(Clone)]
pub(crate) struct Values {
    /// Rows in the batch.
    pub rows: usize,
    /// The row of each element, ascending; `None` means element `i` is row `i`.
    pub element_rows: Option<Arc<UInt32Array>>,
    /// Typed arrays, each as long as the element count; absent means all null.
    pub int: Option<Int64Array>,
    pub float: Option<Float64Array>,
    /// Utf8 or `Dictionary(Int32, Utf8)`.
    pub string: Option<ArrayRef>,
    pub boolean: Option<BooleanArray>,
    pub duration: Option<Int64Array>,
    pub status: Option<Int32Array>,
    pub kind: Option<Int32Array>,
}

impl Values {
    /// No value on any row.
    pub(crate) fn empty(rows: usize) -> Self {
        Values {
            rows,
            element_rows: Some(Arc::new(UInt32Array::from(Vec::<u32>::new()))),
            int: None,
            float: None,
            string: None,
            boolean: None,
            duration: None,
            status: None,
            kind: None,
        }
    }

    /// One element per row, the given array in `slot`.
    pub(crate) fn per_row(rows: usize, slot: Slot, array: ArrayRef) -> Self {
        let mut values = Values::empty(rows);
        values.element_rows = None;
        values.set(slot, array);
        values
    }

    /// Elements at `element_rows`, the given array in `slot`.
    pub(crate) fn elements(
        rows: usize,
        element_rows: Vec<u32>,
        slot: Slot,
        array: ArrayRef,
    ) -> Self {
        let mut values = Values::empty(rows);
        values.element_rows = Some(Arc::new(UInt32Array::from(element_rows)));
        values.set(slot, array);
        values
    }

    pub(crate) fn set(&mut self, slot: Slot, array: ArrayRef) {
        match slot {
            Slot::Int => self.int = array.as_primitive_opt().cloned(),
            Slot::Float => self.float = array.as_primitive_opt().cloned(),
            Slot::String => self.string = Some(array),
            Slot::Bool => self.boolean = array.as_boolean_opt().cloned(),
            Slot::Duration => self.duration = array.as_primitive_opt().cloned(),
            Slot::Status => self.status = array.as_primitive_opt().cloned(),
            Slot::Kind => self.kind = array.as_primitive_opt().cloned(),
        }
    }

    pub(crate) fn get(&self, slot: Slot) -> Option<ArrayRef> {
        match slot {
            Slot::Int => self.int.clone().map(|array| Arc::new(array) as ArrayRef),
            Slot::Float => self.float.clone().map(|array| Arc::new(array) as ArrayRef),
            Slot::String => self.string.clone(),
            Slot::Bool => self
                .boolean
                .clone()
                .map(|array| Arc::new(array) as ArrayRef),
            Slot::Duration => self
                .duration
                .clone()
                .map(|array| Arc::new(array) as ArrayRef),
            Slot::Status => self.status.clone().map(|array| Arc::new(array) as ArrayRef),
            Slot::Kind => self.kind.clone().map(|array| Arc::new(array) as ArrayRef),
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        match &self.element_rows {
            None => self.rows,
            Some(element_rows) => element_rows.len(),
        }
    }

    /// The row of element `index`.
    pub(crate) fn row_of(&self, index: usize) -> usize {
        match &self.element_rows {
            None => index,
            Some(element_rows) => element_rows.value(index) as usize,
        }
    }

    /// Whether each element has a value in some slot.
    pub(crate) fn presence(&self) -> Vec<bool> {
        let mut present = vec![false; self.len()];
        for slot in SLOTS {
            let Some(array) = self.get(slot) else {
                continue;
            };
            for (index, flag) in present.iter_mut().enumerate() {
                *flag = *flag || array.is_valid(index);
            }
        }
        present
    }

    /// Reduces an element mask to rows: a row holds when one of its elements holds.
    pub(crate) fn any_per_row(&self, element_mask: &BooleanArray) -> BooleanArray {
        let Some(element_rows) = &self.element_rows else {
            return without_nulls(element_mask);
        };
        let mut bits = BooleanBufferBuilder::new(self.rows);
        bits.append_n(self.rows, false);
        for index in 0..element_mask.len() {
            if element_mask.is_valid(index) && element_mask.value(index) {
                bits.set_bit(element_rows.value(index) as usize, true);
            }
        }
        BooleanArray::new(bits.finish(), None)
    }

    /// Rows with at least one value.
    pub(crate) fn present_rows(&self) -> BooleanArray {
        let mut bits = BooleanBufferBuilder::new(self.rows);
        bits.append_n(self.rows, false);
        for (index, present) in self.presence().into_iter().enumerate() {
            if present {
                bits.set_bit(self.row_of(index), true);
            }
        }
        BooleanArray::new(bits.finish(), None)
    }

    /// One element per row: each row's first present value (null where none).
    pub(crate) fn first_per_row(&self) -> Result<Values, EngineError> {
        if self.element_rows.is_none() {
            return Ok(self.clone());
        }
        let mut first: Vec<Option<u32>> = vec![None; self.rows];
        for (index, present) in self.presence().into_iter().enumerate() {
            let row = self.row_of(index);
            if present && first[row].is_none() {
                first[row] = Some(index as u32);
            }
        }
        let indices = UInt32Array::from(first);
        let mut result = Values::empty(self.rows);
        result.element_rows = None;
        for slot in SLOTS {
            if let Some(array) = self.get(slot) {
                result.set(slot, take(array.as_ref(), &indices, None)?);
            }
        }
        Ok(result)
    }

    /// Concatenates two element sets of the same batch, ordered by row (stable: `self` first).
    pub(crate) fn merge(&self, other: &Values) -> Result<Values, EngineError> {
        if other.len() == 0 {
            return Ok(self.clone());
        }
        if self.len() == 0 {
            return Ok(other.clone());
        }
        let mut order: Vec<(u32, u8, u32)> = Vec::with_capacity(self.len() + other.len());
        order.extend((0..self.len()).map(|index| (self.row_of(index) as u32, 0, index as u32)));
        order.extend((0..other.len()).map(|index| (other.row_of(index) as u32, 1, index as u32)));
        order.sort_unstable();
        let mut result = Values::empty(self.rows);
        result.element_rows = Some(Arc::new(UInt32Array::from(
            order.iter().map(|(row, _, _)| *row).collect::<Vec<u32>>(),
        )));
        for slot in SLOTS {
            let left = self.get(slot);
            let right = other.get(slot);
            if left.is_none() && right.is_none() {
                continue;
            }
            let data_type = left
                .as_ref()
                .or(right.as_ref())
                .map(|array| array.data_type().clone())
                .unwrap_or(DataType::Null);
            let left = left.unwrap_or_else(|| new_null_array(&data_type, self.len()));
            let right = right.unwrap_or_else(|| new_null_array(&data_type, other.len()));
            let left = plain_strings(left)?;
            let right = plain_strings(right)?;
            let sources: [&dyn Array; 2] = [left.as_ref(), right.as_ref()];
            let picks: Vec<(usize, usize)> = order
                .iter()
                .map(|(_, side, index)| (*side as usize, *index as usize))
                .collect();
            result.set(
                slot,
                arrow_select::interleave::interleave(&sources, &picks)?,
            );
        }
        Ok(result)
    }
}

/// Strings as plain Utf8 (interleaving mixes of plain and dictionary arrays is not supported).
fn plain_strings(array: ArrayRef) -> Result<ArrayRef, EngineError> {
    if matches!(array.data_type(), DataType::Dictionary(_, _)) {
        return arrow_cast_to_utf8(&array);
    }
    Ok(array)
}

/// A dictionary string array decoded to plain Utf8.
fn arrow_cast_to_utf8(array: &ArrayRef) -> Result<ArrayRef, EngineError> {
    let strings = Strings::of(array, "strings")?;
    let plain: StringArray = (0..array.len()).map(|row| strings.value(row)).collect();
    Ok(Arc::new(plain))
}

/// Null entries read as false.
pub(crate) fn without_nulls(mask: &BooleanArray) -> BooleanArray {
    if mask.null_count() == 0 {
        return mask.clone();
    }
    let mut bits = BooleanBufferBuilder::new(mask.len());
    for index in 0..mask.len() {
        bits.append(mask.is_valid(index) && mask.value(index));
    }
    BooleanArray::new(bits.finish(), None)
}

/// A constant row mask.
pub(crate) fn constant_mask(rows: usize, value: bool) -> BooleanArray {
    let mut bits = BooleanBufferBuilder::new(rows);
    bits.append_n(rows, value);
    BooleanArray::new(bits.finish(), None)
}
