//! The Parquet bloom filters of the search columns: present for every listed leaf, cached, and
//! complete even when a column's dictionary falls back to plain encoding.

use std::sync::Arc;

use bytes::Bytes;
use vivace_cache::{MemoryCache, NoCache};
use vivace_proto::otlp::common::{AnyValue, any_value};

use super::scan_tests::{attributed_traces, uploaded};
use super::search_schema::*;
use super::*;

#[tokio::test]
async fn bloom_filters_exist_for_every_listed_leaf_and_are_cached() {
    let (store, encoded) = uploaded(attributed_traces(200), &BlockConfig::default()).await;
    let cache = Arc::new(MemoryCache::new(16 << 20));
    let reader = BlockReader::new(store, Arc::clone(&cache) as _, encoded.meta.clone());
    let metadata = reader.parquet_metadata().await.expect("footer");
    for leaf in bloom_filter_leaves() {
        let index = leaf_column_index(&metadata, &leaf).unwrap_or_else(|| panic!("{leaf}"));
        let chunk = metadata.row_group(0).column(index);
        assert!(chunk.bloom_filter_offset().is_some(), "{leaf} has a filter");
    }
    assert_eq!(attr_key_leaf(SPAN_ATTRS), "span_attrs.list.item.key");
    assert_eq!(
        attr_string_leaf(RESOURCE_ATTRS),
        "resource_attrs.list.item.s"
    );
    let url = attr_string_leaf(SPAN_ATTRS);
    assert!(
        reader
            .column_bloom_may_contain(0, "span_http_url", b"/items/7")
            .await
            .expect("bloom")
    );
    assert!(
        reader
            .column_bloom_may_contain(0, &url, b"user-3")
            .await
            .expect("bloom")
    );
    assert!(
        !reader
            .column_bloom_may_contain(0, &url, b"user-3000")
            .await
            .expect("bloom")
    );
    assert!(
        reader
            .column_bloom_may_contain(0, SERVICE_NAME, b"svc-4")
            .await
            .expect("bloom")
    );
    let hits = cache.stats().hits();
    assert!(
        reader
            .column_bloom_may_contain(0, SERVICE_NAME, b"svc-1")
            .await
            .expect("bloom")
    );
    assert!(
        cache.stats().hits() > hits,
        "the filter comes from the cache"
    );
}

/// The data pages of leaf `leaf` of row group 0 that are not dictionary-encoded.
fn plain_data_pages(data: &Bytes, leaf: usize) -> usize {
    use parquet::column::page::Page;
    use parquet::file::reader::FileReader;
    let file =
        parquet::file::serialized_reader::SerializedFileReader::new(data.clone()).expect("opens");
    let mut pages = file
        .get_row_group(0)
        .expect("row group")
        .get_column_page_reader(leaf)
        .expect("pages");
    let mut plain = 0;
    while let Some(page) = pages.get_next_page().expect("page") {
        if let Page::DataPage { encoding, .. } | Page::DataPageV2 { encoding, .. } = page
            && encoding == parquet::basic::Encoding::PLAIN
        {
            plain += 1;
        }
    }
    plain
}

#[tokio::test]
async fn bloom_filters_hold_values_after_the_dictionary_falls_back() {
    // 20 000 distinct 100-byte urls: more than a dictionary page holds.
    let mut traces = attributed_traces(4000);
    let long_url = |trace: usize, span: usize| format!("/{trace:05}/{span}/{}", "u".repeat(90));
    for (trace, (_, body)) in traces.iter_mut().enumerate() {
        let spans = &mut body.resource_spans[0].scope_spans[0].spans;
        for (span, item) in spans.iter_mut().enumerate() {
            item.attributes[0].value = Some(AnyValue {
                value: Some(any_value::Value::StringValue(long_url(trace, span))),
            });
        }
    }
    let (store, encoded) = uploaded(traces, &BlockConfig::default()).await;
    let reader = BlockReader::new(store, Arc::new(NoCache), encoded.meta.clone());
    let metadata = reader.parquet_metadata().await.expect("footer");
    assert_eq!(row_group_count(&metadata), 1);
    let leaf = leaf_column_index(&metadata, "span_http_url").expect("leaf");
    assert!(
        plain_data_pages(encoded.data(), leaf) > 0,
        "the dictionary fell back"
    );
    for trace in [0, 1, 1999, 3998, 3999] {
        for span in [0, 4] {
            let url = long_url(trace, span);
            let maybe = reader
                .column_bloom_may_contain(0, "span_http_url", url.as_bytes())
                .await
                .expect("bloom");
            assert!(maybe, "{url}");
        }
    }
    let mut false_positives = 0;
    for absent in 0..200 {
        let url = format!("/absent/{absent}");
        if reader
            .column_bloom_may_contain(0, "span_http_url", url.as_bytes())
            .await
            .expect("bloom")
        {
            false_positives += 1;
        }
    }
    assert!(false_positives <= 10, "{false_positives} of 200");
}
