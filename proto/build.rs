//! Compiles `sluice/v1/*.proto` into Rust and writes the descriptor set served by reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = [
        "sluice/v1/common.proto",
        "sluice/v1/job.proto",
        "sluice/v1/datasource.proto",
        "sluice/v1/worker.proto",
        "sluice/v1/schedule.proto",
        "sluice/v1/workspace.proto",
        "sluice/v1/member.proto",
    ];
    for proto in &protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("sluice_descriptor.bin"))
        .compile_protos(&protos, &["."])?;
    Ok(())
}
