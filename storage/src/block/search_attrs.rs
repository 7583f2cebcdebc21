//! Attributes as search columns: the split between dedicated columns and the generic attribute
//! lists (see [`super::search_schema`]), and the builders of both.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, StringDictionaryBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, ListArray, StructArray};
use arrow_schema::{ArrowError, Field};
use vivace_proto::otlp::common::{AnyValue, KeyValue, any_value};

use super::search_schema::{
    DEDICATED_RESOURCE, DEDICATED_SPAN, DedicatedType, attribute_entry_fields,
};

/// A value stored in a generic attribute list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A value of a dedicated column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dedicated<'a> {
    Str(&'a str),
    Int(i64),
}

/// The most dedicated columns of one scope.
pub(crate) const MAX_DEDICATED: usize = 16;

/// The resource's dedicated keys: `service.name` first, then [`DEDICATED_RESOURCE`].
pub(crate) const RESOURCE_SLOTS: usize = DEDICATED_RESOURCE.len() + 1;

const _: () = assert!(RESOURCE_SLOTS <= MAX_DEDICATED && DEDICATED_SPAN.len() <= MAX_DEDICATED);

/// The (key, type) of dedicated slot `slot` of the span or resource scope.
fn dedicated_key(resource: bool, slot: usize) -> Option<(&'static str, DedicatedType)> {
    if !resource {
        return DEDICATED_SPAN.get(slot).map(|(_, key, kind)| (*key, *kind));
    }
    if slot == 0 {
        return Some(("service.name", DedicatedType::String));
    }
    DEDICATED_RESOURCE
        .get(slot - 1)
        .map(|(_, key, kind)| (*key, *kind))
}

/// The stored value of a scalar attribute value (`None` for bytes, kvlists, arrays, nothing).
fn scalar(value: &any_value::Value) -> Option<Scalar<'_>> {
    match value {
        any_value::Value::StringValue(text) => Some(Scalar::Str(text)),
        any_value::Value::IntValue(number) => Some(Scalar::Int(*number)),
        any_value::Value::DoubleValue(number) => Some(Scalar::Float(*number)),
        any_value::Value::BoolValue(flag) => Some(Scalar::Bool(*flag)),
        _ => None,
    }
}

/// Calls `emit` with every stored value of an attribute: a scalar once, each scalar element of an
/// array (nested arrays, kvlists and bytes skipped); nothing for other values.
fn for_each_value<'a, E>(
    value: Option<&'a AnyValue>,
    mut emit: impl FnMut(Scalar<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let Some(value) = value.and_then(|value| value.value.as_ref()) else {
        return Ok(());
    };
    if let any_value::Value::ArrayValue(array) = value {
        for element in &array.values {
            if let Some(stored) = element.value.as_ref().and_then(scalar) {
                emit(stored)?;
            }
        }
        return Ok(());
    }
    match scalar(value) {
        Some(stored) => emit(stored),
        None => Ok(()),
    }
}

/// The dedicated value of an attribute value of the given type, if it has that type.
fn typed(value: Option<&AnyValue>, kind: DedicatedType) -> Option<Dedicated<'_>> {
    match (value.and_then(|value| value.value.as_ref())?, kind) {
        (any_value::Value::StringValue(text), DedicatedType::String) => Some(Dedicated::Str(text)),
        (any_value::Value::IntValue(number), DedicatedType::Int) => Some(Dedicated::Int(*number)),
        _ => None,
    }
}

/// Splits `attributes` of the span scope (`resource == false`: [`DEDICATED_SPAN`]) or of the
/// resource scope (`service.name`, then [`DEDICATED_RESOURCE`]): `dedicated[slot]` is set when
/// the slot's key occurs exactly once with the slot's type; every other value goes to `generic`,
/// in attribute order. Returns the number of slots.
pub(crate) fn split_attributes<'a, E>(
    attributes: &'a [KeyValue],
    resource: bool,
    dedicated: &mut [Option<Dedicated<'a>>; MAX_DEDICATED],
    mut generic: impl FnMut(&'a str, Scalar<'a>) -> Result<(), E>,
) -> Result<usize, E> {
    let slots = if resource {
        RESOURCE_SLOTS
    } else {
        DEDICATED_SPAN.len()
    };
    let mut count = [0u32; MAX_DEDICATED];
    let mut position = [usize::MAX; MAX_DEDICATED];
    let mut any_dedicated = false;
    for (index, attribute) in attributes.iter().enumerate() {
        let found = (0..slots).find(|&slot| {
            dedicated_key(resource, slot).is_some_and(|(key, _)| key == attribute.key)
        });
        if let Some(slot) = found {
            count[slot] += 1;
            position[slot] = index;
        }
    }
    for slot in 0..slots {
        dedicated[slot] = None;
        let Some((_, kind)) = dedicated_key(resource, slot) else {
            continue;
        };
        if count[slot] != 1 {
            position[slot] = usize::MAX;
            continue;
        }
        let value = attributes
            .get(position[slot])
            .and_then(|attribute| typed(attribute.value.as_ref(), kind));
        match value {
            Some(value) => {
                dedicated[slot] = Some(value);
                any_dedicated = true;
            }
            None => position[slot] = usize::MAX,
        }
    }
    for (index, attribute) in attributes.iter().enumerate() {
        if any_dedicated && position[..slots].contains(&index) {
            continue;
        }
        for_each_value(attribute.value.as_ref(), |value| {
            generic(&attribute.key, value)
        })?;
    }
    Ok(slots)
}

/// Every stored value of `attributes`, in order (scopes without dedicated columns).
pub(crate) fn all_generic<'a, E>(
    attributes: &'a [KeyValue],
    mut generic: impl FnMut(&'a str, Scalar<'a>) -> Result<(), E>,
) -> Result<(), E> {
    for attribute in attributes {
        for_each_value(attribute.value.as_ref(), |value| {
            generic(&attribute.key, value)
        })?;
    }
    Ok(())
}

/// Builds one `List<Struct<key, s, i, f, b>>` column.
pub(crate) struct AttrListBuilder {
    offsets: Vec<i32>,
    entries: usize,
    keys: StringDictionaryBuilder<Int32Type>,
    strings: StringBuilder,
    ints: Int64Builder,
    floats: Float64Builder,
    bools: BooleanBuilder,
}

impl AttrListBuilder {
    /// A builder for about `rows` rows of `entries` entries in all.
    pub(crate) fn with_capacity(rows: usize, entries: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        AttrListBuilder {
            offsets,
            entries: 0,
            keys: StringDictionaryBuilder::with_capacity(entries, 64, 1024),
            strings: StringBuilder::with_capacity(entries, entries * 8),
            ints: Int64Builder::with_capacity(entries),
            floats: Float64Builder::with_capacity(entries),
            bools: BooleanBuilder::with_capacity(entries),
        }
    }

    /// Appends an entry to the current row.
    pub(crate) fn push(&mut self, key: &str, value: Scalar<'_>) -> Result<(), ArrowError> {
        self.keys.append(key)?;
        match value {
            Scalar::Str(text) => self.strings.append_value(text),
            _ => self.strings.append_null(),
        }
        match value {
            Scalar::Int(number) => self.ints.append_value(number),
            _ => self.ints.append_null(),
        }
        match value {
            Scalar::Float(number) => self.floats.append_value(number),
            _ => self.floats.append_null(),
        }
        match value {
            Scalar::Bool(flag) => self.bools.append_value(flag),
            _ => self.bools.append_null(),
        }
        self.entries += 1;
        Ok(())
    }

    /// Ends the current row.
    pub(crate) fn end_row(&mut self) {
        self.offsets
            .push(i32::try_from(self.entries).unwrap_or(i32::MAX));
    }

    /// The column (fails when it holds more than `i32::MAX` entries).
    pub(crate) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.keys.finish()),
            Arc::new(self.strings.finish()),
            Arc::new(self.ints.finish()),
            Arc::new(self.floats.finish()),
            Arc::new(self.bools.finish()),
        ];
        let fields = attribute_entry_fields();
        let entries = StructArray::try_new(fields.clone(), columns, None)?;
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        if offsets.last().copied() != i32::try_from(self.entries).ok() {
            return Err(ArrowError::ComputeError(
                "too many attribute entries for one column".to_owned(),
            ));
        }
        self.entries = 0;
        let item = Arc::new(Field::new(
            "item",
            arrow_schema::DataType::Struct(fields),
            false,
        ));
        let list = ListArray::try_new(
            item,
            arrow_buffer::OffsetBuffer::new(offsets.into()),
            Arc::new(entries),
            None,
        )?;
        Ok(Arc::new(list))
    }
}

/// Builds one dedicated column.
pub(crate) enum DedicatedBuilder {
    Str(StringDictionaryBuilder<Int32Type>),
    Int(Int64Builder),
}

impl DedicatedBuilder {
    pub(crate) fn new(kind: DedicatedType, rows: usize) -> Self {
        match kind {
            DedicatedType::String => {
                DedicatedBuilder::Str(StringDictionaryBuilder::with_capacity(rows, 64, 1024))
            }
            DedicatedType::Int => DedicatedBuilder::Int(Int64Builder::with_capacity(rows)),
        }
    }

    /// Appends a value (null when absent or of the other type).
    pub(crate) fn append(&mut self, value: Option<Dedicated<'_>>) -> Result<(), ArrowError> {
        match (self, value) {
            (DedicatedBuilder::Str(builder), Some(Dedicated::Str(text))) => {
                builder.append(text)?;
            }
            (DedicatedBuilder::Str(builder), _) => builder.append_null(),
            (DedicatedBuilder::Int(builder), Some(Dedicated::Int(number))) => {
                builder.append_value(number)
            }
            (DedicatedBuilder::Int(builder), _) => builder.append_null(),
        }
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            DedicatedBuilder::Str(builder) => Arc::new(builder.finish()),
            DedicatedBuilder::Int(builder) => Arc::new(builder.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn split(
        attributes: &[KeyValue],
        resource: bool,
    ) -> (Vec<Option<Dedicated<'_>>>, Vec<(&str, Scalar<'_>)>) {
        let mut dedicated = [None; MAX_DEDICATED];
        let mut generic = Vec::new();
        let slots = split_attributes(attributes, resource, &mut dedicated, |key, value| {
            generic.push((key, value));
            Ok::<(), ()>(())
        })
        .expect("infallible");
        (dedicated[..slots].to_vec(), generic)
    }

    #[test]
    fn dedicated_only_when_once_with_the_right_type() {
        use any_value::Value::{IntValue, StringValue};
        let once = [
            attribute("http.method", StringValue("GET".into())),
            attribute("http.status_code", IntValue(200)),
            attribute("other", IntValue(1)),
        ];
        let (dedicated, generic) = split(&once, false);
        assert_eq!(
            dedicated,
            vec![Some(Dedicated::Str("GET")), None, Some(Dedicated::Int(200))]
        );
        assert_eq!(generic, vec![("other", Scalar::Int(1))]);
        let twice_and_wrong = [
            attribute("http.method", StringValue("GET".into())),
            attribute("http.method", StringValue("PUT".into())),
            attribute("http.status_code", StringValue("200".into())),
        ];
        let (dedicated, generic) = split(&twice_and_wrong, false);
        assert_eq!(dedicated, vec![None, None, None]);
        assert_eq!(
            generic,
            vec![
                ("http.method", Scalar::Str("GET")),
                ("http.method", Scalar::Str("PUT")),
                ("http.status_code", Scalar::Str("200")),
            ]
        );
        let (dedicated, generic) = split(&once[..1], true);
        assert_eq!(dedicated, vec![None; RESOURCE_SLOTS]);
        assert_eq!(generic, vec![("http.method", Scalar::Str("GET"))]);
    }
}
