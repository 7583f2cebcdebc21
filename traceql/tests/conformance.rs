//! Tempo's TraceQL conformance list (`pkg/traceql/test_examples.yaml`), read at test time.
//!
//! The file is taken from `$VIVACE_TRACEQL_EXAMPLES` (which must then be readable), else from the
//! shared reference directory next to the workspace or at `/work/shared/reference`. When none of
//! those exists the test says so and checks nothing. Every case is checked and all failures are
//! reported together.

use std::collections::BTreeMap;
use std::path::PathBuf;

use vivace_traceql::{ValidateError, parse};

const SECTIONS: [&str; 4] = ["valid", "parse_fails", "validate_fails", "unsupported"];

const FILE_NAME: &str = "traceql_test_examples.yaml";

/// The examples file, or `None` (with the reason printed) when no copy is on this machine.
fn examples_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VIVACE_TRACEQL_EXAMPLES") {
        return Some(PathBuf::from(path));
    }
    let candidates = [
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/reference"
        ))
        .join(FILE_NAME),
        PathBuf::from("/work/shared/reference").join(FILE_NAME),
    ];
    let found = candidates.iter().find(|path| path.is_file()).cloned();
    if found.is_none() {
        println!(
            "skipped: no {FILE_NAME} at {candidates:?}; set VIVACE_TRACEQL_EXAMPLES to the path of Tempo's pkg/traceql/test_examples.yaml"
        );
    }
    found
}

fn load_examples() -> Option<BTreeMap<String, Vec<String>>> {
    let path = examples_path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => panic!(
            "cannot read the TraceQL conformance examples at {} ({error})",
            path.display()
        ),
    };
    let parsed: BTreeMap<String, Option<Vec<String>>> = match serde_yaml::from_str(&text) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{} is not the expected YAML: {error}", path.display()),
    };
    Some(
        parsed
            .into_iter()
            .map(|(section, queries)| (section, queries.unwrap_or_default()))
            .collect(),
    )
}

/// Parses, then checks that printing and parsing again gives the same tree.
fn parse_and_round_trip(query: &str) -> Result<vivace_traceql::Query, String> {
    let ast = parse(query).map_err(|error| format!("parse failed: {error}"))?;
    let printed = ast.to_string();
    match parse(&printed) {
        Ok(again) if again == ast => Ok(ast),
        Ok(again) => Err(format!(
            "round trip changed the tree: printed `{printed}`\n      first:  {ast:?}\n      second: {again:?}"
        )),
        Err(error) => Err(format!("printed form `{printed}` does not parse: {error}")),
    }
}

fn check(section: &str, query: &str) -> Result<(), String> {
    match section {
        "valid" => {
            let ast = parse_and_round_trip(query)?;
            ast.validate()
                .map_err(|error| format!("validate failed: {error}"))
        }
        "parse_fails" => match parse(query) {
            Ok(ast) => Err(format!("parsed but should not: {ast}")),
            Err(_) => Ok(()),
        },
        "validate_fails" => {
            let ast = parse_and_round_trip(query)?;
            match ast.validate() {
                Ok(()) => Err("validated but should not".to_string()),
                Err(error @ ValidateError::Unsupported { .. }) => Err(format!(
                    "expected a validation error, got unsupported: {error}"
                )),
                Err(_) => Ok(()),
            }
        }
        "unsupported" => {
            let ast = parse_and_round_trip(query)?;
            match ast.validate() {
                Err(error) if error.is_unsupported() => {
                    if error.to_string().contains("not yet supported") {
                        return Ok(());
                    }
                    Err(format!(
                        "unsupported error lacks `not yet supported`: {error}"
                    ))
                }
                Err(error) => Err(format!("expected unsupported, got: {error}")),
                Ok(()) => Err("validated but should be unsupported".to_string()),
            }
        }
        other => Err(format!("unknown section {other}")),
    }
}

#[test]
fn tempo_conformance_examples() {
    let Some(examples) = load_examples() else {
        return;
    };
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for section in SECTIONS {
        let Some(queries) = examples.get(section) else {
            failures.push(format!(
                "section `{section}` is missing from the examples file"
            ));
            continue;
        };
        let mut passed = 0;
        for query in queries {
            match check(section, query) {
                Ok(()) => passed += 1,
                Err(reason) => failures.push(format!("[{section}] {query}\n    {reason}")),
            }
        }
        summary.push(format!("{section}: {passed}/{}", queries.len()));
    }
    println!("conformance: {}", summary.join(", "));
    assert!(
        failures.is_empty(),
        "{} conformance failures ({}):\n{}",
        failures.len(),
        summary.join(", "),
        failures.join("\n")
    );
}
