//! Values for the naive evaluator: OTLP values as plain result values, comparisons and
//! arithmetic per the contract, and the attributes a query shows on returned spans.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use vivace_engine::Value;
use vivace_proto::otlp::common::{AnyValue, KeyValue, any_value};
use vivace_proto::otlp::resource::Resource;
use vivace_traceql::{
    Attribute, BinaryOp, CmpOp, FieldExpr, Intrinsic, Kind, Pipeline, Query, QueryBody,
    SpansetExpr, SpansetPipelineExpr, Stage, Static, Status,
};

/// The searchable values of an OTLP value: arrays flatten, bytes and kvlists have none.
pub(super) fn flatten(value: Option<&AnyValue>, out: &mut Vec<Value>) {
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => out.push(Value::String(text.clone())),
        Some(any_value::Value::IntValue(number)) => out.push(Value::Int(*number)),
        Some(any_value::Value::DoubleValue(number)) => out.push(Value::Float(*number)),
        Some(any_value::Value::BoolValue(flag)) => out.push(Value::Bool(*flag)),
        Some(any_value::Value::ArrayValue(array)) => {
            for element in &array.values {
                flatten(Some(element), out);
            }
        }
        Some(
            any_value::Value::BytesValue(_)
            | any_value::Value::KvlistValue(_)
            | any_value::Value::StringValueStrindex(_),
        )
        | None => {}
    }
}

pub(super) fn values_of(attributes: &[KeyValue], key: &str, out: &mut Vec<Value>) {
    for attribute in attributes.iter().filter(|attribute| attribute.key == key) {
        flatten(attribute.value.as_ref(), out);
    }
}

/// `service.name` when it is a string.
pub(super) fn service_of(resource: Option<&Resource>) -> Option<String> {
    let mut values = Vec::new();
    values_of(&resource?.attributes, "service.name", &mut values);
    match values.as_slice() {
        [Value::String(name)] => Some(name.clone()),
        _ => None,
    }
}

pub(super) fn non_empty(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| Value::String(text.to_owned()))
}

pub(super) fn static_value(value: &Static) -> Value {
    match value {
        Static::Int(number) => Value::Int(*number),
        Static::Float(number) => Value::Float(*number),
        Static::String(text) => Value::String(text.clone()),
        Static::Bool(flag) => Value::Bool(*flag),
        Static::Duration(duration) => Value::Duration(duration.as_nanos()),
        Static::Status(status) => Value::Status(*status),
        Static::Kind(kind) => Value::Kind(*kind),
    }
}

pub(super) fn status_rank(status: Status) -> i32 {
    match status {
        Status::Unset => 0,
        Status::Ok => 1,
        Status::Error => 2,
    }
}

pub(super) fn kind_of(code: i32) -> Kind {
    match code {
        1 => Kind::Internal,
        2 => Kind::Server,
        3 => Kind::Client,
        4 => Kind::Producer,
        5 => Kind::Consumer,
        _ => Kind::Unspecified,
    }
}

pub(super) fn kind_rank(kind: Kind) -> i32 {
    (0..6).find(|code| kind_of(*code) == kind).unwrap_or(0)
}

pub(super) fn is_number(value: &Value) -> bool {
    matches!(value, Value::Int(_) | Value::Float(_) | Value::Duration(_))
}

pub(super) fn as_f64(value: &Value) -> f64 {
    match value {
        Value::Int(number) | Value::Duration(number) => *number as f64,
        Value::Float(number) => *number,
        _ => f64::NAN,
    }
}

/// `a op b` for a comparison operator; false when the types do not compare.
pub(super) fn compare(op: BinaryOp, a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (a, b) {
        (Value::Int(x) | Value::Duration(x), Value::Int(y) | Value::Duration(y)) => Some(x.cmp(y)),
        (x, y) if is_number(x) && is_number(y) => as_f64(x).partial_cmp(&as_f64(y)),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Status(x), Value::Status(y)) => Some(status_rank(*x).cmp(&status_rank(*y))),
        (Value::Kind(x), Value::Kind(y)) => Some(kind_rank(*x).cmp(&kind_rank(*y))),
        _ => None,
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        BinaryOp::Eq => ordering == Ordering::Equal,
        BinaryOp::Neq => ordering != Ordering::Equal,
        BinaryOp::Gt => ordering == Ordering::Greater,
        BinaryOp::Gte => ordering != Ordering::Less,
        BinaryOp::Lt => ordering == Ordering::Less,
        BinaryOp::Lte => ordering != Ordering::Greater,
        _ => unreachable!("not a comparison: {op:?}"),
    }
}

/// `a op b` for arithmetic; `None` where the result has no value.
pub(super) fn arithmetic(op: BinaryOp, a: &Value, b: &Value) -> Option<Value> {
    if !is_number(a) || !is_number(b) {
        return None;
    }
    let floats = |x: f64, y: f64| {
        let result = match op {
            BinaryOp::Add => x + y,
            BinaryOp::Sub => x - y,
            BinaryOp::Mul => x * y,
            BinaryOp::Div => x / y,
            BinaryOp::Mod => x % y,
            BinaryOp::Pow => x.powf(y),
            _ => unreachable!(),
        };
        // Division by zero (and powers that leave the reals) have no value.
        result.is_finite().then_some(Value::Float(result))
    };
    let (x, y, duration) = match (a, b) {
        _ if op == BinaryOp::Pow => return floats(as_f64(a), as_f64(b)),
        (Value::Int(x), Value::Int(y)) => (*x, *y, false),
        (Value::Int(x) | Value::Duration(x), Value::Int(y) | Value::Duration(y)) => (*x, *y, true),
        _ => return floats(as_f64(a), as_f64(b)),
    };
    let result = match op {
        BinaryOp::Add => x.wrapping_add(y),
        BinaryOp::Sub => x.wrapping_sub(y),
        BinaryOp::Mul => x.wrapping_mul(y),
        BinaryOp::Div => x.checked_div(y)?,
        BinaryOp::Mod => x.checked_rem(y)?,
        _ => unreachable!(),
    };
    Some(if duration {
        Value::Duration(result)
    } else {
        Value::Int(result)
    })
}

pub(super) fn cmp_op(op: CmpOp) -> BinaryOp {
    match op {
        CmpOp::Eq => BinaryOp::Eq,
        CmpOp::Neq => BinaryOp::Neq,
        CmpOp::Gt => BinaryOp::Gt,
        CmpOp::Gte => BinaryOp::Gte,
        CmpOp::Lt => BinaryOp::Lt,
        CmpOp::Lte => BinaryOp::Lte,
    }
}

/// Whether `text` matches the fully anchored RE2 `pattern` (compiled once per pattern).
pub(super) fn regex_matches(pattern: &str, text: &str) -> bool {
    thread_local! {
        static COMPILED: RefCell<HashMap<String, regex::Regex>> = RefCell::new(HashMap::new());
    }
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let regex = compiled.entry(pattern.to_owned()).or_insert_with(|| {
            let translated = vivace_traceql::re2_to_rust_syntax(pattern).expect("validated regex");
            regex::Regex::new(&format!("^(?:{translated})$")).expect("validated regex")
        });
        regex.is_match(text)
    })
}

pub(super) fn union(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter()
        .chain(b)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Attributes shown on returned spans: those the filters read and those selected, in first-use
/// order, by bare name (`name` and `duration` are fields of every span already).
pub fn shown_attributes(query: &Query) -> Vec<(String, Attribute)> {
    fn field(expr: &FieldExpr, out: &mut Vec<Attribute>) {
        match expr {
            FieldExpr::Static(_) => {}
            FieldExpr::Attribute(attribute) => out.push(attribute.clone()),
            FieldExpr::Unary { expr, .. } => field(expr, out),
            FieldExpr::Binary { lhs, rhs, .. } => {
                field(lhs, out);
                field(rhs, out);
            }
        }
    }
    fn spanset(expr: &SpansetExpr, out: &mut Vec<Attribute>) {
        match expr {
            SpansetExpr::Filter(filter) => filter.expr.iter().for_each(|expr| field(expr, out)),
            SpansetExpr::Op { lhs, rhs, .. } => {
                spanset(lhs, out);
                spanset(rhs, out);
            }
        }
    }
    fn pipeline(pipeline: &Pipeline, out: &mut Vec<Attribute>) {
        for stage in &pipeline.stages {
            match stage {
                Stage::Spanset(expr) => spanset(expr, out),
                Stage::Select(attributes) => out.extend(attributes.iter().cloned()),
                _ => {}
            }
        }
    }
    fn pipeline_expr(expr: &SpansetPipelineExpr, out: &mut Vec<Attribute>) {
        match expr {
            SpansetPipelineExpr::Pipeline(inner) => pipeline(inner, out),
            SpansetPipelineExpr::Op { lhs, rhs, .. } => {
                pipeline_expr(lhs, out);
                pipeline_expr(rhs, out);
            }
        }
    }
    let mut all = Vec::new();
    match &query.body {
        QueryBody::Pipeline(inner) => pipeline(inner, &mut all),
        QueryBody::PipelineExpr(expr) => pipeline_expr(expr, &mut all),
        _ => {}
    }
    let mut shown: Vec<(String, Attribute)> = Vec::new();
    for attribute in all {
        let plain = matches!(
            attribute,
            Attribute::Intrinsic(Intrinsic::Name | Intrinsic::Duration)
        );
        if plain || shown.iter().any(|(_, seen)| *seen == attribute) {
            continue;
        }
        let name = match &attribute {
            Attribute::Intrinsic(intrinsic) => intrinsic.as_str().to_owned(),
            Attribute::Custom(custom) => custom.name.clone(),
        };
        shown.push((name, attribute));
    }
    shown
}
