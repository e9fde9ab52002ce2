//! `sluice`: the one binary. Cluster processes (`coordinator`, `worker`, `standalone`), the
//! one-shot runner (`run`), and the client commands (`job`, `ds`, `ws`, `compare`).

mod cli;
mod client;
mod commands;
mod connection;
mod output;
mod params;
mod profile;
mod progress;
mod signals;
mod spec_file;
mod tls;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments = cli::Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = arguments.threads {
        builder.worker_threads(usize::from(threads));
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(arguments)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
