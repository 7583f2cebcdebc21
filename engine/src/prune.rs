//! Row-group pruning: what a query needs a row group to possibly hold (a span named `x`, an
//! attribute key, a status), checked against Parquet statistics and bloom filters. Pruning is
//! conservative: it only skips a row group that cannot hold a matching trace (a trace never spans
//! two row groups).

use vivace_storage::block::search_schema as columns;
use vivace_traceql::{
    Attribute, AttributeScope, BinaryOp, FieldExpr, Intrinsic, Pipeline, Query, QueryBody,
    SpansetExpr, SpansetOp, SpansetPipelineExpr, Stage, Static, UnaryOp,
};

use crate::eval::status_code;

/// A condition a row group must possibly satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Need {
    /// Nothing known: keep the row group.
    Anything,
    All(Vec<Need>),
    Any(Vec<Need>),
    /// A top-level string column (plain or dictionary) may hold this value.
    String {
        column: &'static str,
        value: String,
    },
    /// A generic attribute list may hold this key.
    Key {
        list: &'static str,
        key: String,
    },
    /// A generic attribute list may hold this string value (under any key).
    StringValue {
        list: &'static str,
        value: String,
    },
    /// An Int32/Int64 column may hold a value in `[min, max]`.
    IntRange {
        column: &'static str,
        min: i64,
        max: i64,
    },
}

impl Need {
    fn all(needs: Vec<Need>) -> Need {
        let needs: Vec<Need> = needs
            .into_iter()
            .filter(|need| *need != Need::Anything)
            .collect();
        match needs.len() {
            0 => Need::Anything,
            1 => needs.into_iter().next().unwrap_or(Need::Anything),
            _ => Need::All(needs),
        }
    }

    fn any(needs: Vec<Need>) -> Need {
        if needs.contains(&Need::Anything) {
            return Need::Anything;
        }
        match needs.len() {
            0 => Need::Anything,
            1 => needs.into_iter().next().unwrap_or(Need::Anything),
            _ => Need::Any(needs),
        }
    }
}

/// What a trace must hold for `query` to match it.
pub fn query_needs(query: &Query) -> Need {
    match &query.body {
        QueryBody::Pipeline(pipeline) => pipeline_needs(pipeline),
        QueryBody::PipelineExpr(expr) => pipeline_expr_needs(expr),
        QueryBody::ScalarPipelineFilter(_) | QueryBody::Metrics(_) => Need::Anything,
    }
}

fn pipeline_needs(pipeline: &Pipeline) -> Need {
    match pipeline.stages.first() {
        Some(Stage::Spanset(expr)) => spanset_needs(expr),
        _ => Need::Anything,
    }
}

fn pipeline_expr_needs(expr: &SpansetPipelineExpr) -> Need {
    match expr {
        SpansetPipelineExpr::Pipeline(pipeline) => pipeline_needs(pipeline),
        SpansetPipelineExpr::Op { op, lhs, rhs } => {
            combine_needs(*op, pipeline_expr_needs(lhs), pipeline_expr_needs(rhs))
        }
    }
}

fn spanset_needs(expr: &SpansetExpr) -> Need {
    match expr {
        SpansetExpr::Filter(filter) => filter.expr.as_ref().map_or(Need::Anything, field_needs),
        SpansetExpr::Op { op, lhs, rhs } => {
            combine_needs(*op, spanset_needs(lhs), spanset_needs(rhs))
        }
    }
}

fn combine_needs(op: SpansetOp, left: Need, right: Need) -> Need {
    match op {
        SpansetOp::Or => Need::any(vec![left, right]),
        SpansetOp::NotChild
        | SpansetOp::NotParent
        | SpansetOp::NotDescendant
        | SpansetOp::NotAncestor
        | SpansetOp::NotSibling => right,
        _ => Need::all(vec![left, right]),
    }
}

/// What some span must hold for a filter expression to be true on it.
fn field_needs(expr: &FieldExpr) -> Need {
    let FieldExpr::Binary { op, lhs, rhs } = expr else {
        if let FieldExpr::Unary {
            op: UnaryOp::Exists,
            expr,
        } = expr
            && let FieldExpr::Attribute(Attribute::Custom(custom)) = expr.as_ref()
        {
            return presence_needs(custom.scope, &custom.name, None);
        }
        return Need::Anything;
    };
    match op {
        BinaryOp::And => Need::all(vec![field_needs(lhs), field_needs(rhs)]),
        BinaryOp::Or => Need::any(vec![field_needs(lhs), field_needs(rhs)]),
        BinaryOp::Eq
        | BinaryOp::Neq
        | BinaryOp::Gt
        | BinaryOp::Gte
        | BinaryOp::Lt
        | BinaryOp::Lte
        | BinaryOp::Regex
        | BinaryOp::NotRegex => {
            let (attribute, value, op) = match (lhs.as_ref(), rhs.as_ref()) {
                (FieldExpr::Attribute(attribute), FieldExpr::Static(value)) => {
                    (attribute, value, *op)
                }
                (FieldExpr::Static(value), FieldExpr::Attribute(attribute)) => {
                    (attribute, value, crate::eval::flip(*op))
                }
                _ => return Need::Anything,
            };
            comparison_needs(attribute, value, op)
        }
        _ => Need::Anything,
    }
}

fn comparison_needs(attribute: &Attribute, value: &Static, op: BinaryOp) -> Need {
    match attribute {
        Attribute::Intrinsic(Intrinsic::Name) => match (op, value) {
            (BinaryOp::Eq, Static::String(text)) => Need::String {
                column: columns::NAME,
                value: text.clone(),
            },
            _ => Need::Anything,
        },
        Attribute::Intrinsic(Intrinsic::Status) => match (op, value) {
            (BinaryOp::Eq, Static::Status(status)) => {
                let code = i64::from(status_code(*status));
                if code == 0 {
                    // `unset` is stored as 0 or as -1 (no status).
                    return Need::IntRange {
                        column: columns::STATUS_CODE,
                        min: -1,
                        max: 0,
                    };
                }
                Need::IntRange {
                    column: columns::STATUS_CODE,
                    min: code,
                    max: code,
                }
            }
            _ => Need::Anything,
        },
        Attribute::Intrinsic(_) => Need::Anything,
        Attribute::Custom(custom) => {
            let exact = match (op, value) {
                (BinaryOp::Eq, Static::String(text)) => Some(text.as_str()),
                _ => None,
            };
            presence_needs(custom.scope, &custom.name, exact)
        }
    }
}

/// A custom attribute `name` is present in `scope` (with the string `exact`, when given).
fn presence_needs(scope: AttributeScope, name: &str, exact: Option<&str>) -> Need {
    match scope {
        AttributeScope::Span => {
            scoped_needs(columns::SPAN_ATTRS, columns::DEDICATED_SPAN, name, exact)
        }
        AttributeScope::Resource => {
            if name == "service.name" {
                let dedicated = match exact {
                    Some(value) => Need::String {
                        column: columns::SERVICE_NAME,
                        value: value.to_owned(),
                    },
                    None => Need::Anything,
                };
                return Need::any(vec![
                    dedicated,
                    generic_needs(columns::RESOURCE_ATTRS, name, exact),
                ]);
            }
            scoped_needs(
                columns::RESOURCE_ATTRS,
                columns::DEDICATED_RESOURCE,
                name,
                exact,
            )
        }
        AttributeScope::Unscoped => Need::any(vec![
            presence_needs(AttributeScope::Span, name, exact),
            presence_needs(AttributeScope::Resource, name, exact),
        ]),
        AttributeScope::Event | AttributeScope::Link | AttributeScope::Instrumentation => {
            Need::Anything
        }
    }
}

fn scoped_needs(
    list: &'static str,
    dedicated: &'static [(&'static str, &'static str, columns::DedicatedType)],
    name: &str,
    exact: Option<&str>,
) -> Need {
    let generic = generic_needs(list, name, exact);
    let Some((column, _, kind)) = dedicated.iter().find(|(_, key, _)| *key == name) else {
        return generic;
    };
    let dedicated_need = match (kind, exact) {
        (columns::DedicatedType::String, Some(value)) => Need::String {
            column,
            value: value.to_owned(),
        },
        _ => Need::Anything,
    };
    Need::any(vec![dedicated_need, generic])
}

fn generic_needs(list: &'static str, name: &str, exact: Option<&str>) -> Need {
    let key = Need::Key {
        list,
        key: name.to_owned(),
    };
    match exact {
        Some(value) => Need::all(vec![
            key,
            Need::StringValue {
                list,
                value: value.to_owned(),
            },
        ]),
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(text: &str) -> Need {
        query_needs(&vivace_traceql::parse(text).expect("query parses"))
    }

    #[test]
    fn exact_name_needs_the_name() {
        assert_eq!(
            needs(r#"{ name = "op-7" } | count() > 3"#),
            Need::String {
                column: columns::NAME,
                value: "op-7".to_owned()
            }
        );
    }

    #[test]
    fn or_of_unknown_is_anything_and_negated_structure_needs_only_the_right() {
        assert_eq!(needs(r#"{ name = "a" || duration > 1s }"#), Need::Anything);
        assert_eq!(
            needs(r#"{ name = "a" } !> { name = "b" }"#),
            Need::String {
                column: columns::NAME,
                value: "b".to_owned()
            }
        );
    }

    #[test]
    fn span_attribute_with_string_needs_key_and_value_or_dedicated_column() {
        let need = needs(r#"{ span.http.method = "GET" }"#);
        let Need::Any(options) = need else {
            panic!("expected alternatives, got {need:?}");
        };
        assert_eq!(options.len(), 2);
        assert_eq!(
            needs(r#"{ span.rare = 5 }"#),
            Need::Key {
                list: columns::SPAN_ATTRS,
                key: "rare".to_owned()
            }
        );
    }
}
