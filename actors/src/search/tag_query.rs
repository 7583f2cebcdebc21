//! A tag-names or tag-values query prepared for evaluation: the attribute (a TraceQL identifier),
//! the scopes, and the filter read leniently from an incomplete query.

use arrow_array::RecordBatch;
use std::collections::{BTreeMap, BTreeSet};
use vivace_engine::tags::{
    INTRINSIC_TAGS, TagScope, TypedValue, collect_tag_names, collect_tag_values,
};

use vivace_proto::cluster::{ScopeTags, TagValue, TagsAnswer, TagsQuery};
use vivace_traceql::{Attribute, FieldExpr, QueryBody, SpansetExpr, Stage};

/// A tags query ready to run.
#[derive(Debug)]
pub struct PreparedTags {
    /// `None`: tag names are wanted.
    pub attribute: Option<Attribute>,
    pub scopes: Vec<TagScope>,
    pub filter: Option<FieldExpr>,
    /// 0: no limit.
    pub limit: usize,
}

/// Parses a scope name of the `scope` parameter.
pub fn parse_scope(text: &str) -> Option<TagScope> {
    TagScope::ALL
        .into_iter()
        .find(|scope| scope.as_str() == text)
}

/// Parses a TraceQL identifier (`.a`, `resource.a`, `span:name`, `status`).
pub fn parse_identifier(text: &str) -> Result<Attribute, String> {
    let failed = |detail: String| format!("failed to parse identifier {text}: {detail}");
    let query = vivace_traceql::parse(&format!("{{ {text} }}"))
        .map_err(|error| failed(error.to_string()))?;
    let QueryBody::Pipeline(pipeline) = query.body else {
        return Err(failed("not an identifier".to_owned()));
    };
    match pipeline.stages.as_slice() {
        [Stage::Spanset(SpansetExpr::Filter(filter))] => match &filter.expr {
            Some(FieldExpr::Attribute(attribute)) => Ok(attribute.clone()),
            _ => Err(failed("not an identifier".to_owned())),
        },
        _ => Err(failed("not an identifier".to_owned())),
    }
}

/// The filter expression of a single-spanset query, if it is one.
fn single_filter(text: &str) -> Option<FieldExpr> {
    let query = vivace_traceql::parse(text).ok()?;
    query.validate().ok()?;
    let QueryBody::Pipeline(pipeline) = query.body else {
        return None;
    };
    match pipeline.stages.as_slice() {
        [Stage::Spanset(SpansetExpr::Filter(filter))] => filter.expr.clone(),
        _ => None,
    }
}

/// Reads a filter leniently: the whole query when it is one valid spanset filter, otherwise the
/// `&&`-separated conditions inside its braces that are valid on their own.
pub fn lenient_filter(text: &str) -> Option<FieldExpr> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Some(filter) = single_filter(trimmed) {
        return Some(filter);
    }
    let inner = trimmed.trim_start_matches('{').trim_end_matches('}').trim();
    let kept: Vec<String> = inner
        .split("&&")
        .map(str::trim)
        .filter(|condition| !condition.is_empty())
        .filter(|condition| single_filter(&format!("{{ {condition} }}")).is_some())
        .map(str::to_owned)
        .collect();
    if kept.is_empty() {
        return None;
    }
    single_filter(&format!("{{ {} }}", kept.join(" && ")))
}

/// Union of tag answers (recent data of several ingesters, block jobs): names per scope and
/// values without duplicates, sorted, at most `limit` values (0: no limit).
pub fn merge_answers(answers: impl IntoIterator<Item = TagsAnswer>, limit: usize) -> TagsAnswer {
    let mut scopes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut values: BTreeSet<(String, String)> = BTreeSet::new();
    let mut inspected_bytes = 0;
    let mut scope_order: Vec<String> = Vec::new();
    for answer in answers {
        inspected_bytes += answer.inspected_bytes;
        for scope in answer.scopes {
            if !scope_order.contains(&scope.scope) {
                scope_order.push(scope.scope.clone());
            }
            scopes.entry(scope.scope).or_default().extend(scope.names);
        }
        values.extend(
            answer
                .values
                .into_iter()
                .map(|value| (value.r#type, value.value)),
        );
    }
    let mut merged = TagsAnswer {
        inspected_bytes,
        ..TagsAnswer::default()
    };
    for scope in scope_order {
        let names = scopes.remove(&scope).unwrap_or_default();
        merged.scopes.push(ScopeTags {
            scope,
            names: names.into_iter().collect(),
        });
    }
    merged.values = values
        .into_iter()
        .take(if limit == 0 { usize::MAX } else { limit })
        .map(|(kind, value)| TagValue {
            r#type: kind,
            value,
        })
        .collect();
    merged
}

impl PreparedTags {
    /// Tag names of every asked scope, or the values of the attribute, over `batches` of search
    /// columns (intrinsic names do not depend on the data).
    pub fn collect(&self, batches: &[&RecordBatch]) -> Result<TagsAnswer, String> {
        let filter = self.filter.as_ref();
        let mut answer = TagsAnswer::default();
        let Some(attribute) = &self.attribute else {
            for scope in &self.scopes {
                let mut names = BTreeSet::new();
                if *scope == TagScope::Intrinsic {
                    names.extend(INTRINSIC_TAGS.iter().map(|name| (*name).to_owned()));
                }
                for batch in batches.iter().filter(|batch| batch.num_rows() > 0) {
                    collect_tag_names(batch, *scope, filter, &mut names)
                        .map_err(|error| error.to_string())?;
                }
                answer.scopes.push(ScopeTags {
                    scope: scope.as_str().to_owned(),
                    names: names.into_iter().collect(),
                });
            }
            return Ok(answer);
        };
        let mut values: BTreeSet<TypedValue> = BTreeSet::new();
        for batch in batches.iter().filter(|batch| batch.num_rows() > 0) {
            collect_tag_values(batch, attribute, filter, self.limit, &mut values)
                .map_err(|error| error.to_string())?;
        }
        answer.values = values
            .into_iter()
            .map(|value| TagValue {
                r#type: value.kind.to_owned(),
                value: value.value,
            })
            .collect();
        Ok(answer)
    }

    pub fn new(query: &TagsQuery) -> Result<Self, String> {
        let attribute = if query.attribute.is_empty() {
            None
        } else {
            Some(parse_identifier(&query.attribute)?)
        };
        let mut scopes = Vec::new();
        for name in &query.scopes {
            scopes.push(parse_scope(name).ok_or_else(|| format!("invalid scope: {name}"))?);
        }
        if scopes.is_empty() {
            scopes = vec![TagScope::Resource, TagScope::Span];
        }
        Ok(PreparedTags {
            attribute,
            scopes,
            filter: lenient_filter(&query.filter),
            limit: query.limit as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_parse_and_junk_does_not() {
        assert!(parse_identifier("resource.service.name").is_ok());
        assert!(parse_identifier(".foo").is_ok());
        assert!(parse_identifier("span:name").is_ok());
        assert!(parse_identifier("status").is_ok());
        let error = parse_identifier("a b").expect_err("not an identifier");
        assert!(
            error.starts_with("failed to parse identifier a b"),
            "{error}"
        );
    }

    #[test]
    fn incomplete_filters_keep_their_valid_conditions() {
        assert!(lenient_filter("").is_none());
        assert!(lenient_filter("{ resource.cluster = }").is_none());
        let kept = lenient_filter(r#"{ resource.cluster = "a" && span.x = }"#).expect("one kept");
        assert_eq!(kept.to_string(), r#"resource.cluster = "a""#);
    }
}
