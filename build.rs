//! Compiles the protobuf contracts with protox (pure Rust), so that building
//! maillage needs no system `protoc`.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/maillage/v1/federation.proto",
        "proto/maillage/v1/api.proto",
    ];
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out.join("maillage_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        // Wire types print as JSON for `--json` as they are.
        .type_attribute(".maillage.v1", "#[derive(serde::Serialize)]")
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
