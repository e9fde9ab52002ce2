//! TLS towards the coordinator, for workers and the CLI: the CA that signed the coordinator's
//! certificate and, for coordinators that require client certificates, this client's own.

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// A client's TLS material, PEM-encoded.
#[derive(Clone, Default)]
pub struct ClientTls {
    /// CA certificate(s) that signed the coordinator's certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// This client's certificate chain and key, for coordinators started with a client CA.
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClientTls")
            .field("ca", &self.ca_pem.is_some())
            .field("identity", &self.identity_pem.is_some().then_some("***"))
            .finish()
    }
}

impl ClientTls {
    /// Returns whether anything is configured.
    pub fn is_configured(&self) -> bool {
        self.ca_pem.is_some() || self.identity_pem.is_some()
    }

    /// Returns `endpoint` speaking TLS when the URL is `https://` or TLS material is given.
    ///
    /// # Errors
    /// [`tonic::transport::Error`] when the TLS settings cannot be applied.
    pub fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        let https = endpoint.uri().scheme_str() == Some("https");
        if !https && !self.is_configured() {
            return Ok(endpoint);
        }
        let mut config = ClientTlsConfig::new();
        if let Some(host) = endpoint.uri().host() {
            config = config.domain_name(host.to_string());
        }
        if let Some(ca_pem) = &self.ca_pem {
            config = config.ca_certificate(Certificate::from_pem(ca_pem));
        }
        if let Some((cert_pem, key_pem)) = &self.identity_pem {
            config = config.identity(Identity::from_pem(cert_pem, key_pem));
        }
        endpoint.tls_config(config)
    }
}
