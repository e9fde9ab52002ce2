//! TLS on the coordinator's gRPC listener (rustls, through tonic): a certificate chain and its
//! key, and optionally a CA whose certificates clients must present (mutual TLS).

use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

/// The coordinator's TLS material, PEM-encoded.
#[derive(Clone)]
pub struct ServerTls {
    /// Certificate chain, leaf first.
    pub cert_pem: Vec<u8>,
    /// Private key of the leaf certificate.
    pub key_pem: Vec<u8>,
    /// When set, clients (the CLI, workers) must present a certificate signed by this CA.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerTls")
            .field("key_pem", &"***")
            .field("client_ca", &self.client_ca_pem.is_some())
            .finish()
    }
}

/// Returns the server builder, serving TLS when `tls` is given.
///
/// # Errors
/// [`tonic::transport::Error`] when the certificate or key cannot be used.
pub fn server_builder(tls: Option<&ServerTls>) -> Result<Server, tonic::transport::Error> {
    let builder = Server::builder();
    let Some(tls) = tls else {
        return Ok(builder);
    };
    let mut config =
        ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem));
    if let Some(client_ca) = &tls.client_ca_pem {
        config = config.client_ca_root(Certificate::from_pem(client_ca));
    }
    builder.tls_config(config)
}

/// Returns the scheme clients use to reach a coordinator: `https` with TLS, else `http`.
pub fn scheme(tls: Option<&ServerTls>) -> &'static str {
    if tls.is_some() {
        "https"
    } else {
        "http"
    }
}
