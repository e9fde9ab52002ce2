//! The network steps every server connector shares: name resolution and a TCP connection.

use super::{after, ProbeReport, ProbeStatus, Steps};
use std::net::SocketAddr;
use std::time::Duration;

/// Resolves `host` and opens (then closes) a TCP connection to it; on failure returns the
/// finished report (status `UNREACHABLE`).
pub(crate) async fn reach(
    steps: &mut Steps,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(), ()> {
    let addresses = steps
        .run("resolve", async {
            let lookup = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)));
            match lookup.await {
                Err(_) => Err(format!(
                    "resolving {host} took longer than {} ms",
                    timeout.as_millis()
                )),
                Ok(Err(error)) => Err(format!("cannot resolve {host}: {error}")),
                Ok(Ok(addresses)) => {
                    let addresses: Vec<SocketAddr> = addresses.collect();
                    if addresses.is_empty() {
                        return Err(format!("{host} resolves to no address"));
                    }
                    let shown: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                    Ok((addresses, format!("{host} -> {}", shown.join(", "))))
                }
            }
        })
        .await
        .ok_or(())?;
    steps
        .run("tcp_connect", async {
            let mut problems = Vec::new();
            for address in &addresses {
                match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
                    Ok(Ok(_stream)) => return Ok(((), format!("connected to {address}"))),
                    Ok(Err(error)) => problems.push(format!("{address}: {error}")),
                    Err(_) => problems.push(format!(
                        "{address}: no answer within {} ms",
                        timeout.as_millis()
                    )),
                }
            }
            Err(format!("cannot connect: {}", problems.join("; ")))
        })
        .await
        .ok_or(())
}

/// Finishes a report after a failed network step.
pub(crate) fn unreachable(steps: Steps, failed: &str) -> ProbeReport {
    steps.fail(ProbeStatus::Unreachable, after(failed))
}

/// Reports a config that cannot even be read (a missing or malformed option).
pub(crate) fn bad_options(mut steps: Steps, message: String) -> ProbeReport {
    steps.failed("options", message);
    steps.fail(ProbeStatus::ConfigError, after("options"))
}
