//! Tempo's JSON dialect for the search and tag answers (tempo-api.md §1, §2.7–2.11).
//!
//! Tempo writes these messages with gogo `jsonpb` and default options, and Grafana parses them
//! with the same rules, so the encoding must match exactly:
//!
//! - field names are the proto `json_name`s, i.e. Tempo's spelling (`traceID`, `spanID`,
//!   `rootServiceName`, `startTimeUnixNano`, `inspectedBytes`, ...);
//! - fields holding their default value (0, "", empty list or map, absent message) are omitted;
//! - `uint64`/`int64` values (including the values of `additionalMetrics`) are strings, `uint32`
//!   values are numbers;
//! - attributes are OTLP `KeyValue`s (`stringValue`, `intValue` as a string, `doubleValue`,
//!   `boolValue`, `arrayValue`, `kvlistValue`, `bytesValue` in base64), shared with
//!   [`crate::tempo_json`].
//!
//! Map keys come out sorted, as jsonpb sorts them.

use serde_json::Value;

use crate::tempo_json::{Object as Fields, key_values_to_json};
use crate::tempopb_search::{
    MetadataMetrics, SearchMetrics, SearchResponse, SearchTagValuesResponse,
    SearchTagValuesV2Response, SearchTagsResponse, SearchTagsV2Response, SearchTagsV2Scope,
    ServiceStats, Span, SpanSet, TagValue, TraceSearchMetadata,
};

/// Encodes one matched span (`spanID`, `name`, `startTimeUnixNano`, `durationNanos`, `attributes`).
pub fn span_to_json(span: &Span) -> Value {
    Fields::default()
        .string("spanID", &span.span_id)
        .string("name", &span.name)
        .u64_as_string("startTimeUnixNano", span.start_time_unix_nano)
        .u64_as_string("durationNanos", span.duration_nanos)
        .array("attributes", key_values_to_json(&span.attributes))
        .build()
}

/// Encodes one spanset (`spans`, `matched`, `attributes`).
pub fn span_set_to_json(span_set: &SpanSet) -> Value {
    Fields::default()
        .array("spans", span_set.spans.iter().map(span_to_json).collect())
        .u32("matched", span_set.matched)
        .array("attributes", key_values_to_json(&span_set.attributes))
        .build()
}

fn service_stats_to_json(stats: &ServiceStats) -> Value {
    Fields::default()
        .u32("spanCount", stats.span_count)
        .u32("errorCount", stats.error_count)
        .build()
}

/// Encodes one trace of a search answer.
pub fn trace_search_metadata_to_json(trace: &TraceSearchMetadata) -> Value {
    let service_stats = trace
        .service_stats
        .iter()
        .map(|(service, stats)| (service.clone(), service_stats_to_json(stats)))
        .collect();
    Fields::default()
        .string("traceID", &trace.trace_id)
        .string("rootServiceName", &trace.root_service_name)
        .string("rootTraceName", &trace.root_trace_name)
        .u64_as_string("startTimeUnixNano", trace.start_time_unix_nano)
        .u32("durationMs", trace.duration_ms)
        .object("spanSet", trace.span_set.as_ref().map(span_set_to_json))
        .array(
            "spanSets",
            trace.span_sets.iter().map(span_set_to_json).collect(),
        )
        .map("serviceStats", service_stats)
        .build()
}

/// Encodes the statistics of a search (also used by TraceQL metrics answers).
pub fn search_metrics_to_json(metrics: &SearchMetrics) -> Value {
    Fields::default()
        .u32("inspectedTraces", metrics.inspected_traces)
        .u64_as_string("inspectedBytes", metrics.inspected_bytes)
        .u32("totalBlocks", metrics.total_blocks)
        .u32("completedJobs", metrics.completed_jobs)
        .u32("totalJobs", metrics.total_jobs)
        .u64_as_string("totalBlockBytes", metrics.total_block_bytes)
        .u64_as_string("inspectedSpans", metrics.inspected_spans)
        .u64_as_string("backendReads", metrics.backend_reads)
        .u64_as_string("backendBytes", metrics.backend_bytes)
        .int64_map("additionalMetrics", &metrics.additional_metrics)
        .build()
}

/// Encodes the statistics of a tag-name or tag-value lookup.
pub fn metadata_metrics_to_json(metrics: &MetadataMetrics) -> Value {
    Fields::default()
        .u64_as_string("inspectedBytes", metrics.inspected_bytes)
        .u32("totalJobs", metrics.total_jobs)
        .u32("completedJobs", metrics.completed_jobs)
        .u32("totalBlocks", metrics.total_blocks)
        .u64_as_string("totalBlockBytes", metrics.total_block_bytes)
        .u64_as_string("backendReads", metrics.backend_reads)
        .u64_as_string("backendBytes", metrics.backend_bytes)
        .int64_map("additionalMetrics", &metrics.additional_metrics)
        .build()
}

/// The body of `GET /api/search`: `{"traces":[...],"metrics":{...}}`.
pub fn search_response_to_json(response: &SearchResponse) -> Value {
    Fields::default()
        .array(
            "traces",
            response
                .traces
                .iter()
                .map(trace_search_metadata_to_json)
                .collect(),
        )
        .object(
            "metrics",
            response.metrics.as_ref().map(search_metrics_to_json),
        )
        .build()
}

/// The body of `GET /api/search/tags`: `{"tagNames":[...],"metrics":{...}}`.
pub fn search_tags_response_to_json(response: &SearchTagsResponse) -> Value {
    Fields::default()
        .strings("tagNames", &response.tag_names)
        .object(
            "metrics",
            response.metrics.as_ref().map(metadata_metrics_to_json),
        )
        .build()
}

fn search_tags_v2_scope_to_json(scope: &SearchTagsV2Scope) -> Value {
    Fields::default()
        .string("name", &scope.name)
        .strings("tags", &scope.tags)
        .build()
}

/// The body of `GET /api/v2/search/tags`: `{"scopes":[{"name":..,"tags":[...]}],"metrics":{...}}`.
pub fn search_tags_v2_response_to_json(response: &SearchTagsV2Response) -> Value {
    Fields::default()
        .array(
            "scopes",
            response
                .scopes
                .iter()
                .map(search_tags_v2_scope_to_json)
                .collect(),
        )
        .object(
            "metrics",
            response.metrics.as_ref().map(metadata_metrics_to_json),
        )
        .build()
}

/// The body of `GET /api/search/tag/{tag}/values`: `{"tagValues":[...],"metrics":{...}}`.
pub fn search_tag_values_response_to_json(response: &SearchTagValuesResponse) -> Value {
    Fields::default()
        .strings("tagValues", &response.tag_values)
        .object(
            "metrics",
            response.metrics.as_ref().map(metadata_metrics_to_json),
        )
        .build()
}

fn tag_value_to_json(value: &TagValue) -> Value {
    Fields::default()
        .string("type", &value.r#type)
        .string("value", &value.value)
        .build()
}

/// The body of `GET /api/v2/search/tag/{tag}/values`:
/// `{"tagValues":[{"type":..,"value":..}],"metrics":{...}}`.
pub fn search_tag_values_v2_response_to_json(response: &SearchTagValuesV2Response) -> Value {
    Fields::default()
        .array(
            "tagValues",
            response.tag_values.iter().map(tag_value_to_json).collect(),
        )
        .object(
            "metrics",
            response.metrics.as_ref().map(metadata_metrics_to_json),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use prost::Message;
    use tonic::codegen::tokio_stream::Stream;
    use tonic::{Request, Response, Status};

    use super::*;
    use crate::otlp::common::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
    use crate::tempopb_search::streaming_querier_client::StreamingQuerierClient;
    use crate::tempopb_search::streaming_querier_server::{
        StreamingQuerier, StreamingQuerierServer,
    };
    use crate::tempopb_search::{SearchRequest, SearchTagValuesRequest, SearchTagsRequest};

    /// Compares with the expected JSON text (parsed, so key order does not matter but types do).
    fn assert_json(actual: &Value, expected: &str) {
        let expected: Value = serde_json::from_str(expected).expect("expected JSON parses");
        assert_eq!(actual, &expected, "actual: {actual}");
    }

    fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(message: M) {
        let bytes = message.encode_to_vec();
        assert_eq!(M::decode(bytes.as_slice()).expect("decodes"), message);
    }

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn sample_span_set() -> SpanSet {
        SpanSet {
            spans: vec![Span {
                span_id: "00000000000000ab".into(),
                name: "GET /api".into(),
                start_time_unix_nano: 1_700_000_000_123_456_789,
                duration_nanos: 5_000_000,
                attributes: vec![
                    attribute("status", any_value::Value::StringValue("error".into())),
                    attribute("http.status_code", any_value::Value::IntValue(500)),
                ],
            }],
            matched: 7,
            attributes: vec![attribute("count()", any_value::Value::IntValue(7))],
        }
    }

    fn sample_search_response() -> SearchResponse {
        SearchResponse {
            traces: vec![TraceSearchMetadata {
                trace_id: "2f3e0cee77ae5dc9c17ade3689eb2e54".into(),
                root_service_name: "frontend".into(),
                root_trace_name: "GET /api".into(),
                start_time_unix_nano: 1_700_000_000_123_456_789,
                duration_ms: 12,
                span_set: Some(sample_span_set()),
                span_sets: vec![sample_span_set()],
                service_stats: BTreeMap::from([(
                    "frontend".to_owned(),
                    ServiceStats {
                        span_count: 3,
                        error_count: 0,
                    },
                )]),
            }],
            metrics: Some(SearchMetrics {
                inspected_traces: 5,
                inspected_bytes: 1024,
                total_blocks: 2,
                completed_jobs: 4,
                total_jobs: 4,
                inspected_spans: 9,
                additional_metrics: BTreeMap::from([("cacheHits".to_owned(), 0)]),
                ..Default::default()
            }),
        }
    }

    fn sample_metadata_metrics() -> MetadataMetrics {
        MetadataMetrics {
            inspected_bytes: u64::MAX,
            total_jobs: 3,
            completed_jobs: 3,
            total_blocks: 1,
            backend_reads: 2,
            additional_metrics: BTreeMap::from([("cacheMisses".to_owned(), -4)]),
            ..Default::default()
        }
    }

    fn sample_tags_v2() -> SearchTagsV2Response {
        let scope = |name: &str, tags: &[&str]| SearchTagsV2Scope {
            name: name.into(),
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        };
        SearchTagsV2Response {
            scopes: vec![scope("resource", &["service.name"]), scope("span", &[])],
            metrics: Some(MetadataMetrics::default()),
        }
    }

    fn sample_tag_values_v2() -> SearchTagValuesV2Response {
        let value = |kind: &str, text: &str| TagValue {
            r#type: kind.into(),
            value: text.into(),
        };
        SearchTagValuesV2Response {
            tag_values: vec![value("string", "frontend"), value("keyword", "error")],
            metrics: None,
        }
    }

    #[test]
    fn search_response_matches_tempo() {
        let span_set = r#"{"spans":[{"spanID":"00000000000000ab","name":"GET /api",
            "startTimeUnixNano":"1700000000123456789","durationNanos":"5000000",
            "attributes":[{"key":"status","value":{"stringValue":"error"}},
                          {"key":"http.status_code","value":{"intValue":"500"}}]}],
            "matched":7,"attributes":[{"key":"count()","value":{"intValue":"7"}}]}"#;
        let expected = format!(
            r#"{{"traces":[{{"traceID":"2f3e0cee77ae5dc9c17ade3689eb2e54",
                "rootServiceName":"frontend","rootTraceName":"GET /api",
                "startTimeUnixNano":"1700000000123456789","durationMs":12,
                "spanSet":{span_set},"spanSets":[{span_set}],
                "serviceStats":{{"frontend":{{"spanCount":3}}}}}}],
              "metrics":{{"inspectedTraces":5,"inspectedBytes":"1024","totalBlocks":2,
                "completedJobs":4,"totalJobs":4,"inspectedSpans":"9",
                "additionalMetrics":{{"cacheHits":"0"}}}}}}"#
        );
        assert_json(
            &search_response_to_json(&sample_search_response()),
            &expected,
        );
    }

    #[test]
    fn defaults_are_omitted() {
        let response = SearchResponse {
            traces: vec![TraceSearchMetadata {
                trace_id: "1".into(),
                service_stats: BTreeMap::from([("idle".to_owned(), ServiceStats::default())]),
                ..Default::default()
            }],
            metrics: Some(SearchMetrics::default()),
        };
        assert_json(
            &search_response_to_json(&response),
            r#"{"traces":[{"traceID":"1","serviceStats":{"idle":{}}}],"metrics":{}}"#,
        );
        let empty = search_response_to_json(&SearchResponse::default());
        assert_eq!(empty.to_string(), "{}");
        assert_json(&span_to_json(&Span::default()), "{}");
        assert_json(&span_set_to_json(&SpanSet::default()), "{}");
        let empty = search_tag_values_v2_response_to_json(&SearchTagValuesV2Response::default());
        assert_eq!(empty.to_string(), "{}");
    }

    #[test]
    fn attribute_values_use_otlp_json() {
        let array = ArrayValue {
            values: vec![AnyValue {
                value: Some(any_value::Value::IntValue(-1)),
            }],
        };
        let list = KeyValueList {
            values: vec![attribute("k", any_value::Value::StringValue("v".into()))],
        };
        let span_set = SpanSet {
            attributes: vec![
                attribute("b", any_value::Value::BoolValue(true)),
                attribute("d", any_value::Value::DoubleValue(1.5)),
                attribute("x", any_value::Value::BytesValue(vec![1, 2, 3])),
                attribute("a", any_value::Value::ArrayValue(array)),
                attribute("m", any_value::Value::KvlistValue(list)),
            ],
            ..Default::default()
        };
        assert_json(
            &span_set_to_json(&span_set),
            r#"{"attributes":[
                {"key":"b","value":{"boolValue":true}},
                {"key":"d","value":{"doubleValue":1.5}},
                {"key":"x","value":{"bytesValue":"AQID"}},
                {"key":"a","value":{"arrayValue":{"values":[{"intValue":"-1"}]}}},
                {"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}}
            ]}"#,
        );
    }

    #[test]
    fn tag_answers_match_tempo() {
        let metrics = r#"{"inspectedBytes":"18446744073709551615","totalJobs":3,
            "completedJobs":3,"totalBlocks":1,"backendReads":"2",
            "additionalMetrics":{"cacheMisses":"-4"}}"#;
        let v1 = SearchTagsResponse {
            tag_names: vec!["service.name".into(), "http.method".into()],
            metrics: Some(sample_metadata_metrics()),
        };
        assert_json(
            &search_tags_response_to_json(&v1),
            &format!(r#"{{"tagNames":["service.name","http.method"],"metrics":{metrics}}}"#),
        );
        assert_json(
            &search_tags_v2_response_to_json(&sample_tags_v2()),
            r#"{"scopes":[{"name":"resource","tags":["service.name"]},{"name":"span"}],"metrics":{}}"#,
        );
        let values = SearchTagValuesResponse {
            tag_values: vec!["a".into(), String::new()],
            metrics: Some(sample_metadata_metrics()),
        };
        assert_json(
            &search_tag_values_response_to_json(&values),
            &format!(r#"{{"tagValues":["a",""],"metrics":{metrics}}}"#),
        );
        assert_json(
            &search_tag_values_v2_response_to_json(&sample_tag_values_v2()),
            r#"{"tagValues":[{"type":"string","value":"frontend"},{"type":"keyword","value":"error"}]}"#,
        );
    }

    #[test]
    fn every_message_round_trips() {
        let response = sample_search_response();
        // Nested messages (TraceSearchMetadata, SpanSet, Span, ServiceStats, SearchMetrics) are
        // covered by the SearchResponse, the tag ones by their answers.
        round_trip(response.metrics.clone().unwrap_or_default());
        round_trip(response);
        round_trip(SearchRequest {
            tags: [("service.name".to_owned(), "api".to_owned())].into(),
            min_duration_ms: 1,
            max_duration_ms: 2,
            limit: 20,
            start: 1_700_000_000,
            end: 1_700_000_600,
            query: "{ status = error }".into(),
            spans_per_span_set: 3,
            skip_ast_transformations: vec!["x".into()],
        });
        round_trip(SearchTagsRequest {
            scope: "span".into(),
            query: "{}".into(),
            start: 1,
            end: 2,
            max_tags_per_scope: 3,
            stale_values_threshold: 4,
        });
        round_trip(SearchTagValuesRequest {
            tag_name: "resource.service.name".into(),
            query: "{}".into(),
            start: 1,
            end: 2,
            max_tag_values: 3,
            stale_value_threshold: 4,
        });
        round_trip(SearchTagsResponse {
            tag_names: vec!["a".into()],
            metrics: Some(sample_metadata_metrics()),
        });
        round_trip(sample_tags_v2());
        round_trip(SearchTagValuesResponse {
            tag_values: vec!["x".into()],
            metrics: None,
        });
        round_trip(sample_tag_values_v2());
        round_trip(sample_metadata_metrics());
    }

    /// Bytes written by hand with Tempo's field numbers decode into the generated types.
    #[test]
    fn field_numbers_match_tempo() {
        // SearchResponse.traces = 1 holding TraceSearchMetadata{traceID = 1, durationMs = 5};
        // SearchResponse.metrics = 2 holding SearchMetrics{inspectedBytes = 2}.
        let bytes = [
            0x0a, 0x05, 0x0a, 0x01, b'a', 0x28, 0x07, 0x12, 0x02, 0x10, 0x03,
        ];
        let decoded = SearchResponse::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.traces[0].trace_id, "a");
        assert_eq!(decoded.traces[0].duration_ms, 7);
        assert_eq!(decoded.metrics.map(|m| m.inspected_bytes), Some(3));
        // SearchRequest: Query = 8, SpansPerSpanSet = 9; the deprecated RF1After (10) is skipped.
        let bytes = [0x42, 0x02, b'{', b'}', 0x48, 0x05, 0x52, 0x02, 0x08, 0x01];
        let decoded = SearchRequest::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(
            (decoded.query.as_str(), decoded.spans_per_span_set),
            ("{}", 5)
        );
        // Written by the Python stubs (grpc_tools) from tempopb_search.proto + tempopb_common.proto.
        let bytes = hex::decode("0a130a02616220053a0b10021a070a016b12021803").expect("hex");
        let decoded = SearchResponse::decode(bytes.as_slice()).expect("decodes");
        let span_set = &decoded.traces[0].span_sets[0];
        assert_eq!(
            (span_set.matched, span_set.attributes[0].key.as_str()),
            (2, "k")
        );
        let value = span_set.attributes[0].value.clone().and_then(|v| v.value);
        assert_eq!(value, Some(any_value::Value::IntValue(3)));
        // SearchTagValuesRequest: tagName = 1, start = 4, end = 5.
        let bytes = [0x0a, 0x01, b'x', 0x20, 0x01, 0x28, 0x02];
        let decoded = SearchTagValuesRequest::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(
            (decoded.tag_name.as_str(), decoded.start, decoded.end),
            ("x", 1, 2)
        );
    }

    type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;
    type Answer<T> = Result<Response<Boxed<T>>, Status>;

    struct Unimplemented;

    #[tonic::async_trait]
    impl StreamingQuerier for Unimplemented {
        type SearchStream = Boxed<SearchResponse>;
        type SearchTagsStream = Boxed<SearchTagsResponse>;
        type SearchTagsV2Stream = Boxed<SearchTagsV2Response>;
        type SearchTagValuesStream = Boxed<SearchTagValuesResponse>;
        type SearchTagValuesV2Stream = Boxed<SearchTagValuesV2Response>;

        async fn search(&self, _: Request<SearchRequest>) -> Answer<SearchResponse> {
            Err(Status::unimplemented("search"))
        }
        async fn search_tags(&self, _: Request<SearchTagsRequest>) -> Answer<SearchTagsResponse> {
            Err(Status::unimplemented("search_tags"))
        }
        async fn search_tags_v2(
            &self,
            _: Request<SearchTagsRequest>,
        ) -> Answer<SearchTagsV2Response> {
            Err(Status::unimplemented("search_tags_v2"))
        }
        async fn search_tag_values(
            &self,
            _: Request<SearchTagValuesRequest>,
        ) -> Answer<SearchTagValuesResponse> {
            Err(Status::unimplemented("search_tag_values"))
        }
        async fn search_tag_values_v2(
            &self,
            _: Request<SearchTagValuesRequest>,
        ) -> Answer<SearchTagValuesV2Response> {
            Err(Status::unimplemented("search_tag_values_v2"))
        }
    }

    #[test]
    fn streaming_querier_service_is_generated() {
        assert_eq!(
            <StreamingQuerierServer<Unimplemented> as tonic::server::NamedService>::NAME,
            "tempopb.StreamingQuerier"
        );
        let _server = StreamingQuerierServer::new(Unimplemented);
        let _client_type = std::marker::PhantomData::<StreamingQuerierClient<()>>;
        let mut future = Unimplemented.search(Request::new(SearchRequest::default()));
        let mut context = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut context) {
            Poll::Ready(Err(status)) => assert_eq!(status.code(), tonic::Code::Unimplemented),
            _ => panic!("expected an immediate Unimplemented error"),
        }
    }
}
