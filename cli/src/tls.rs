//! TLS settings of this process: read once from the command line, used by every client
//! connection (`client::channel`) and by `sluice worker`; the coordinator's server side.

use crate::cli::ClientTlsArgs;
use anyhow::Context;
use sluice_coordinator::tls::ServerTls;
use sluice_worker::tls::ClientTls;
use std::path::Path;
use std::sync::OnceLock;
use tonic::transport::Endpoint;

static CLIENT_TLS: OnceLock<ClientTls> = OnceLock::new();

fn read(path: &Path, flag: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{flag}: cannot read {}", path.display()))
}

/// Reads the client TLS files named on the command line, once per process.
pub fn configure_clients(args: &ClientTlsArgs) -> anyhow::Result<()> {
    let ca_pem = match &args.tls_ca {
        Some(path) => Some(read(path, "--tls-ca")?),
        None => None,
    };
    let identity_pem = match (&args.tls_client_cert, &args.tls_client_key) {
        (Some(cert), Some(key)) => Some((
            read(cert, "--tls-client-cert")?,
            read(key, "--tls-client-key")?,
        )),
        _ => None,
    };
    let _ = CLIENT_TLS.set(ClientTls {
        ca_pem,
        identity_pem,
    });
    Ok(())
}

/// Returns the client TLS settings (empty when none were given).
pub fn client_tls() -> ClientTls {
    CLIENT_TLS.get().cloned().unwrap_or_default()
}

/// Returns `endpoint` with this process's client TLS settings applied.
pub fn apply(endpoint: Endpoint) -> anyhow::Result<Endpoint> {
    let uri = endpoint.uri().to_string();
    client_tls()
        .apply(endpoint)
        .with_context(|| format!("cannot use TLS towards {uri} (check --tls-ca)"))
}

/// Reads the coordinator's TLS files; `None` without --tls-cert.
pub fn server_tls(
    cert: Option<&Path>,
    key: Option<&Path>,
    client_ca: Option<&Path>,
) -> anyhow::Result<Option<ServerTls>> {
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(None);
    };
    Ok(Some(ServerTls {
        cert_pem: read(cert, "--tls-cert")?,
        key_pem: read(key, "--tls-key")?,
        client_ca_pem: match client_ca {
            Some(path) => Some(read(path, "--tls-client-ca")?),
            None => None,
        },
    }))
}
