//! One module per command family.

mod cluster;
mod compare;
mod data_source;
mod job;
mod member;
mod preview;
mod run;
mod schedule;
mod workspace;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Runs the parsed command; returns the process exit code.
pub async fn dispatch(arguments: Cli) -> anyhow::Result<ExitCode> {
    let Cli {
        coordinator,
        token,
        profile,
        output,
        tls,
        command,
        // Read by main, which builds the runtime.
        threads: _,
    } = arguments;
    crate::tls::configure_clients(&tls)?;
    let coordinator = if command.is_client() {
        let connection = crate::connection::resolve(coordinator, token, profile)?;
        crate::client::set_token(connection.token);
        connection.coordinators
    } else {
        crate::connection::default_coordinators(coordinator)
    };
    match command {
        Command::Coordinator(args) => cluster::coordinator(*args).await,
        Command::Worker(args) => cluster::worker(args, coordinator).await,
        Command::Standalone(args) => cluster::standalone(args).await,
        Command::Run(args) => run::run(args, output).await,
        Command::Job(command) => job::job(command, &coordinator, output).await,
        Command::DataSource(command) => {
            data_source::data_source(command, &coordinator, output).await
        }
        Command::Schedule(command) => schedule::schedule(command, &coordinator, output).await,
        Command::Workspace(command) => workspace::workspace(command, &coordinator, output).await,
        Command::Member(command) => member::member(command, &coordinator, output).await,
        Command::Compare(args) => compare::compare(args, output).await,
    }
}
