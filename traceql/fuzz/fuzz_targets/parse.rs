//! Feeds arbitrary bytes to the parser and validator. Any panic is a bug, and so is a query
//! whose canonical printed form does not parse back to the same tree.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = vivace_traceql::parse(text) else {
        return;
    };
    let _ = query.validate();
    let printed = query.to_string();
    match vivace_traceql::parse(&printed) {
        Ok(again) => assert_eq!(again, query, "{text:?} printed as {printed:?}"),
        Err(error) => panic!("{text:?} printed as {printed:?}, which does not parse: {error}"),
    }
});
