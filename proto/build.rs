//! Generates Vivace's internal gRPC services from `proto/cluster.proto` with protox (pure Rust, no
//! protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/cluster.proto");
    let descriptors = protox::compile(["proto/cluster.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
