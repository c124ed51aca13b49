//! The typed model of `nanokit.yml` (SPEC §1–4). Doc comments are the schema descriptions
//! shown by editors, so they are written for the user of the file, not for us.
//!
//! Every field is optional in Rust even where the schema requires it: the model is built
//! from a document that may have errors, and the editor still needs everything else.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const DNS_LABEL_PATTERN: &str = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$";

/// A nanokit.yml file: one project, its runtimes, services and environments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nanokit.yml", description = "Nanokit project file: services described once, deployed to local Docker or the cloud.")]
pub struct Project {
    /// The project name. Must be the same in every repository that shares a cluster. A DNS label: lowercase letters, digits and `-`, at most 40 characters.
    #[schemars(regex(pattern = DNS_LABEL_PATTERN), length(min = 1, max = 40), example = &"my-platform")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,

    /// The version of the nanokit.yml format. Only `"1"` exists; write it quoted.
    #[schemars(schema_with = "version_schema")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<serde_json::Value>,

    /// This repository's component id within the project. Scopes resource ownership: a repository only creates, updates or deletes resources tagged with its own component. Defaults to `name`.
    #[schemars(regex(pattern = DNS_LABEL_PATTERN), length(min = 1, max = 40), example = &"billing")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,

    /// Reusable execution environments. Built-in ids (`node`, `python`, `go`, `php`, `ruby`, `static`) can be customised here; other ids define new runtimes.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub runtimes: IndexMap<String, Runtime>,

    /// The services of the project, by name. Service names are DNS labels.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, Service>,

    /// Deployment targets by name (`local`, `stage`, `prod`, …). `local` is the default environment.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environments: IndexMap<String, Environment>,
}

fn version_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "The version of the nanokit.yml format. Only `\"1\"` exists; write it quoted.",
        "enum": ["1", 1],
        "examples": ["1"]
    })
}

/// A reusable execution environment: image, provisioning, variables and dependencies shared by every service that uses it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// The container image services of this runtime run in.
    #[schemars(example = &"node:22-slim")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Commands run to install dependencies and to start the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,

    /// Environment variables for every service of this runtime. Scalar values become strings.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(example = env_example())]
    pub env: IndexMap<String, EnvValue>,

    /// Secrets for every service of this runtime, merged key by key with the service's. See the service's `secrets`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(example = secrets_example())]
    pub secrets: IndexMap<String, SecretSpec>,

    /// Services every service of this runtime waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = vec!["hub"])]
    pub depends_on: Vec<String>,
}

fn env_example() -> serde_json::Value {
    serde_json::json!({"NODE_ENV": "production"})
}

fn secrets_example() -> serde_json::Value {
    serde_json::json!({"DATABASE_PASSWORD": "env:DATABASE_PASSWORD", "STRIPE_KEY": "aws-ssm:/shop/prod/stripe-key"})
}

/// Where a secret is read, as `env:VAR`, `file:./path`, `aws-ssm:/path` or `aws-sm:name`; or that with how it is delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SecretSpec {
    /// `env:VAR`, `file:./path`, `aws-ssm:/parameter/path` or `aws-sm:name-or-arn`.
    // No pattern here: a wrong source gets NK067, which names the forms, not a schema mismatch.
    Source(#[schemars(example = &"env:DATABASE_PASSWORD")] String),
    Detailed(SecretDetail),
}

/// A secret with its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretDetail {
    /// Where the secret is read: `env:VAR`, `file:./path`, `aws-ssm:/parameter/path` or `aws-sm:name-or-arn`.
    #[schemars(example = &"file:./secrets/db-password")]
    pub from: String,

    /// How the service receives it: `env` (an environment variable, the default) or `file` (the file `/run/secrets/<NAME>`, Docker only; its path is in the variable `<NAME>_FILE`).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<SecretDelivery>,
}

/// How a secret reaches the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretDelivery {
    /// An environment variable named like the secret.
    #[default]
    Env,
    /// A file `/run/secrets/<NAME>`, whose path is in `<NAME>_FILE`.
    File,
}

impl SecretSpec {
    pub fn source(&self) -> &str {
        match self {
            SecretSpec::Source(s) => s,
            SecretSpec::Detailed(d) => &d.from,
        }
    }
    pub fn delivery(&self) -> SecretDelivery {
        match self {
            SecretSpec::Source(_) => SecretDelivery::Env,
            SecretSpec::Detailed(d) => d.delivery.unwrap_or_default(),
        }
    }
}

/// How a service is installed and started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    /// Command that installs dependencies, run in the service directory before `start`.
    #[schemars(example = &"npm install --prefer-offline")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,

    /// Command that starts the service.
    #[schemars(example = &"npm start")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

/// One service. Values here win over its runtime, environment overrides and system defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Runtime id: one declared under `runtimes` or built in (`node`, `python`, `go`, `php`, `ruby`, `static`). When both `runtime` and `image` are omitted, the runtime is discovered from the files in `path`.
    #[schemars(example = &"node")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,

    /// Container image. Without `runtime`, the service runs this image as is.
    #[schemars(example = &"redis:7")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Directory of the service's code, relative to nanokit.yml. Mounted into the container and scanned for runtime auto-discovery.
    #[schemars(example = &"./apps/api")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,

    /// The port the service listens on inside its container (1–65535). Falls back to the runtime's default port.
    #[schemars(range(min = 1, max = 65535), example = 3000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<u32>,

    /// Alias of `expose`.
    #[schemars(range(min = 1, max = 65535), example = 3000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,

    /// Public hostname routed to this service by the gateway.
    #[schemars(example = &"api.my-platform.localhost")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,

    /// Environment variables. Scalar values become strings. Merged key by key with the runtime's.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(example = env_example())]
    pub env: IndexMap<String, EnvValue>,

    /// Secrets, given to the service as environment variables when it is deployed and never written to the file, labels, state or nkdev's output. The value says where the secret is read: `env:VAR` (the environment or `.env`), `file:./path` (relative to nanokit.yml), `aws-ssm:/parameter/path` or `aws-sm:name-or-arn` (provider `aws`). Merged key by key with the runtime's, like `env`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(example = secrets_example())]
    pub secrets: IndexMap<String, SecretSpec>,

    /// Services this one waits for. Added to those inherited from its runtime.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = vec!["auth"])]
    pub depends_on: Vec<String>,

    /// Install and start commands; override the runtime's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,

    /// Command that replaces the start command.
    #[schemars(example = &"node server.js")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,

    /// How to tell that the service is ready to receive traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,

    /// Named volumes, as `name:/container/path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = vec!["node_modules:/app/node_modules"])]
    pub volumes: Vec<String>,
}

/// Readiness probe: an HTTP `path` on the service's port, or a `cmd` run inside the container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// HTTP path probed on the service's port; healthy on a 2xx or 3xx answer.
    #[schemars(example = &"/health")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,

    /// Command run inside the container; healthy when it exits 0.
    #[schemars(example = &"pg_isready")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,

    /// Time between probes: a number of seconds or a duration such as `5s`, `500ms`, `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,

    /// Time one probe may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,

    /// Failed probes in a row before the service counts as unhealthy.
    #[schemars(range(min = 1, max = 100), example = 3)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// A duration: whole seconds, or a number with a unit (`ms`, `s`, `m`, `h`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Duration {
    Seconds(u64),
    Text(String),
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: whole seconds, or a number with a unit (`ms`, `s`, `m`, `h`).",
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}
            ],
            "examples": ["5s", "500ms", 10]
        })
    }
}

impl Duration {
    pub fn as_millis(&self) -> Option<u64> {
        match self {
            Duration::Seconds(s) => s.checked_mul(1000),
            Duration::Text(t) => {
                let split = t.find(|c: char| !c.is_ascii_digit())?;
                let (n, unit) = t.split_at(split);
                let n: u64 = n.parse().ok()?;
                let factor = match unit {
                    "ms" => 1,
                    "s" => 1000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    _ => return None,
                };
                n.checked_mul(factor)
            }
        }
    }
}

/// An environment variable value. Numbers and booleans are turned into strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl std::fmt::Display for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvValue::String(s) => f.write_str(s),
            EnvValue::Integer(i) => write!(f, "{i}"),
            EnvValue::Float(x) => write!(f, "{x}"),
            EnvValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One deployment target: where it runs (`infra`) and per-service overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The provisioning layer: provider, region, networking and scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra: Option<Infra>,

    /// Per-service overrides for this environment. They apply only where neither the service nor its runtime sets the field.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, Service>,
}

/// Where and how an environment is provisioned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Infra {
    /// The infrastructure provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderId>,

    /// Docker engine this environment deploys to (provider `docker`): `ssh://user@host[:port]`, `tcp://host:port` or `unix:///path/to/docker.sock`. Without it, `DOCKER_HOST` and the Docker context apply, as for the `docker` CLI.
    #[schemars(example = &"ssh://deploy@vps.example.com")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,

    /// Cloud region (required for `aws`).
    #[schemars(example = &"us-east-1")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,

    /// Identifier of an existing cloud VPC to attach to.
    #[schemars(example = &"vpc-0a1b2c3d4e5f")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,

    /// IP range in CIDR notation for auto-provisioned networks.
    #[schemars(example = &"10.0.0.0/16")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,

    /// Scaling logic. `auto` requires cloud-level metrics support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<Scaling>,

    /// Minimum number of instances.
    #[schemars(example = 1)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,

    /// Maximum number of instances.
    #[schemars(example = 3)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,

    /// Machine definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,

    /// Cloud DNS provider for automated record management.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsProvider>,

    /// If true, Nanokit registers or configures the target domain automatically.
    #[serde(rename = "autoCreateDomain", default, skip_serializing_if = "Option::is_none")]
    pub auto_create_domain: Option<bool>,

    /// If true, adopt the network and gateway (or VPC, NLB and cluster) created by the infra-owner repository instead of creating them. Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
}

/// A machine definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// Machine type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"t3.medium")]
    pub kind: Option<String>,

    /// How many machines of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 2)]
    pub count: Option<u32>,

    /// Role of these machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"manager")]
    pub role: Option<String>,
}

/// An infrastructure provider's id (`infra.provider`). Open: the seeds' ids are known (and
/// offered by the editor), `docker` and `aws` are built into nkdev, and any other id names a
/// provider plugin, the executable `nkdev-provider-<id>` (docs/providers.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(std::borrow::Cow<'static, str>);

impl ProviderId {
    pub const DOCKER: ProviderId = ProviderId(std::borrow::Cow::Borrowed("docker"));
    pub const AWS: ProviderId = ProviderId(std::borrow::Cow::Borrowed("aws"));

    /// The ids the seeds name (seed 001), offered by completion.
    pub const KNOWN: &'static [&'static str] =
        &["docker", "aws", "digitalocean", "gcp", "azure", "hetzner", "scaleway", "linode", "vercel", "netlify", "railway", "fly.io"];

    /// `id`, when it can name a provider ([`crate::names::provider_id_problem`]).
    pub fn new(id: &str) -> Result<ProviderId, String> {
        match crate::names::provider_id_problem(id) {
            Some(why) => Err(why),
            None => Ok(ProviderId(std::borrow::Cow::Owned(id.to_string()))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ProviderId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProviderId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        ProviderId::new(&id).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ProviderId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProviderId".into()
    }

    /// A pattern, so any plugin's id is valid; the known ids as `examples`, which editors
    /// offer as values (and [`crate::schema`] reads as this key's values).
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An infrastructure provider: `docker` and `aws` are built in; any other id is a provider plugin, the executable `nkdev-provider-<id>` on PATH or in ~/.nanokit/providers.",
            "type": "string",
            "pattern": crate::names::PROVIDER_ID_PATTERN,
            "maxLength": crate::names::MAX_NAME_LEN,
            "examples": ProviderId::KNOWN,
        })
    }
}

/// Scaling logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    Manual,
    Auto,
}

/// DNS providers for automated record management.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DnsProvider {
    Aws,
    Digitalocean,
    Cloudflare,
    Gcp,
}

/// A named volume as written in a service's `volumes`: `name:/path/in/container[:ro|:rw]`.
/// Parsed here once, for the rule that checks it (NK053) and the plan that mounts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    /// Where it is mounted in the container (absolute).
    pub target: String,
    pub read_only: bool,
}

impl Volume {
    /// The volume, or what is wrong with the text.
    pub fn parse(text: &str) -> Result<Volume, &'static str> {
        let Some((name, rest)) = text.split_once(':') else {
            return Err("missing `:`");
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            return Err("the volume name may hold letters, digits, `-`, `_` and `.` only");
        }
        let (target, read_only) = match rest.rsplit_once(':') {
            Some((path, "ro")) => (path, true),
            Some((path, "rw")) => (path, false),
            _ => (rest, false),
        };
        if !target.starts_with('/') {
            return Err("the container path must be absolute");
        }
        Ok(Volume { name: name.to_string(), target: target.to_string(), read_only })
    }
}
