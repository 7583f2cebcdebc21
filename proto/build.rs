//! Generates the gRPC code with protox (pure Rust, no protoc needed):
//!
//! - `proto/cluster.proto`: Vivace's internal services (package `vivace.cluster.v1`);
//! - `proto/tempopb_search.proto`: Tempo's public `StreamingQuerier` search API (package
//!   `tempopb`). Its attribute messages (`tempopb.common.v1`, declared in
//!   `proto/tempopb_common.proto`) are wire-identical to OTLP's, so they are mapped onto the
//!   `opentelemetry-proto` types instead of being generated again.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in [
        "proto/cluster.proto",
        "proto/tempopb_search.proto",
        "proto/tempopb_common.proto",
    ] {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(
        ["proto/cluster.proto", "proto/tempopb_search.proto"],
        ["proto"],
    )?;
    tonic_prost_build::configure()
        .bytes(".")
        .btree_map(".tempopb")
        .extern_path(
            ".tempopb.common.v1",
            "::opentelemetry_proto::tonic::common::v1",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
