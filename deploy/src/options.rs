//! What the user asked of a deploy beyond the file (command-line flags and their variables),
//! handed to whichever provider connects. A provider reads what applies to it: the gateway's
//! settings mean something to Docker only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Options {
    /// How long a service may take to become ready.
    #[serde(with = "seconds", rename = "ready_timeout_secs")]
    #[schemars(with = "u64")]
    pub ready_timeout: Duration,
    pub gateway: GatewayOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options { ready_timeout: Duration::from_secs(60), gateway: GatewayOptions::default() }
    }
}

/// The gateway a provider runs itself (Docker's Caddy container); `None`: the provider's
/// default for its target (a local engine binds 127.0.0.1 and serves HTTP, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GatewayOptions {
    pub image: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub https_port: Option<u16>,
    #[serde(default)]
    pub bind: Option<String>,
    #[serde(default)]
    pub tls: Option<Tls>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions { image: DEFAULT_GATEWAY_IMAGE.into(), port: None, https_port: None, bind: None, tls: None }
    }
}

pub const DEFAULT_GATEWAY_IMAGE: &str = "caddy:2-alpine";

/// How the gateway serves its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain HTTP (local development).
    Off,
    /// HTTPS: public certificates (ACME) for public names, Caddy's own CA for local and
    /// private names (`.localhost`, `.local`, `.internal`, `.test`, IPs, wildcards).
    Auto,
    /// HTTPS with Caddy's own CA for every host (`tls internal`).
    Internal,
}

impl Tls {
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Off => "off",
            Tls::Auto => "auto",
            Tls::Internal => "internal",
        }
    }
}

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}
