//! The provider protocol: how nkdev drives a provider that runs as its own process
//! (`nkdev-provider-<id>`, any language). JSON-RPC 2.0, one message per line on the plugin's
//! stdin and stdout; stderr is the plugin's own log; a closed stdin means shut down.
//!
//! These types are the protocol's one definition: the host ([`crate::plugin`]) and the
//! server ([`crate::serve`]) use them, and `schema/provider-protocol.schema.json` is
//! generated from them ([`schema`]) and drift-tested. docs/providers.md is the guide.

use crate::factory::Environment;
use crate::lock::LockInfo;
use crate::options::Options;
use crate::provider::{Capabilities, LogRequest, ProviderError};
use nanokit_core::observed::Observed;
use nanokit_core::plan::{Desired, Plan, Step};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The versions this build speaks, newest first. A host offers them all in `initialize`; the
/// plugin picks one it speaks (or answers [`codes::UNSUPPORTED_VERSION`]).
pub const VERSIONS: &[u32] = &[1];

/// JSON-RPC error codes the protocol uses.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    /// The provider failed the operation (`data.details` has extra lines).
    pub const PROVIDER_ERROR: i64 = -32000;
    /// None of the offered protocol versions is spoken (`data.supported` lists the plugin's).
    pub const UNSUPPORTED_VERSION: i64 = -32001;
    /// The method is a capability this provider does not have.
    pub const NOT_SUPPORTED: i64 = -32002;
}

/// Method names, host → plugin.
pub mod methods {
    pub const INITIALIZE: &str = "initialize";
    pub const PREPARE: &str = "prepare";
    pub const OBSERVE: &str = "observe";
    pub const PREFLIGHT: &str = "preflight";
    pub const APPLY: &str = "apply";
    pub const WAIT_READY: &str = "wait_ready";
    pub const STATUS: &str = "status";
    pub const LOGS: &str = "logs";
    pub const LOCK: &str = "lock";
    pub const UNLOCK: &str = "unlock";
    pub const REMOVE_VOLUMES: &str = "remove_volumes";
    /// Notification, host → plugin: stop the request `id` (a following `logs`).
    pub const CANCEL: &str = "cancel";
    /// Notification, plugin → host: a line to show under the current step.
    pub const NOTE: &str = "note";
    /// Notification, plugin → host: one log line of a `logs` request.
    pub const LOG: &str = "log";
}

/// Who is speaking: the host (`nkdev`) or the provider (its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Peer {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InitializeParams {
    /// The versions the host speaks, newest first.
    pub protocol_versions: Vec<u32>,
    pub host: Peer,
    pub environment: Environment,
    pub options: Options,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InitializeResult {
    /// The version chosen, one of those offered.
    pub protocol_version: u32,
    /// The provider: `name` is its id.
    pub provider: Peer,
    /// Where it deploys, for the plan header (`local processes on 127.0.0.1`).
    #[serde(default)]
    pub target: String,
    pub capabilities: Capabilities,
}

/// `observe` and `status` take the desired state only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DesiredParams {
    pub desired: Desired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PrepareParams {
    pub desired: Desired,
    /// A deploy (not `status` or `destroy`): what cannot be read is an error.
    pub deploying: bool,
}

/// What the provider fits in the desired state before it is planned; absent: unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PrepareResult {
    /// The settings the gateway would be made with, compared with the running gateway's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_settings: Option<String>,
    /// Config hashes the provider folds more into (a digest of files it copies), by service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_hashes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreflightParams {
    pub plan: Plan,
    pub desired: Desired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApplyParams {
    pub step: Step,
    pub desired: Desired,
    /// The values of the `env:`/`file:` secrets nkdev read, by service then variable. Only
    /// here: `desired` names secrets by their sources and never carries a value.
    #[serde(default)]
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaitReadyParams {
    /// The service's name (one of `desired.services`).
    pub service: String,
    pub desired: Desired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogsParams {
    pub desired: Desired,
    #[serde(flatten)]
    pub request: LogRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LockParams {
    pub desired: Desired,
    /// Who takes the lock, to show to whoever finds it held.
    pub holder: LockInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnlockParams {
    pub desired: Desired,
    /// Clear it even when its holder may still be running.
    pub force: bool,
    /// Set when a deploy releases the lock it took: remove the lock only while it is still
    /// this holder's (its `token`), never another's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<LockInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnlockResult {
    /// Who held it; `null` when there was no lock.
    pub held: Option<LockInfo>,
    /// Where the lock lives, for the message.
    pub place: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NoteParams {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogParams {
    /// The `id` of the `logs` request this line answers.
    pub request: u64,
    pub service: String,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CancelParams {
    pub id: u64,
}

/// A JSON-RPC error object as the protocol fills it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ErrorData>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorData {
    /// Extra lines shown under the message (the last log lines of a failing service…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// With [`codes::UNSUPPORTED_VERSION`]: the versions the plugin speaks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported: Vec<u32>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError { code, message: message.into(), data: None }
    }
}

impl From<ProviderError> for RpcError {
    fn from(e: ProviderError) -> Self {
        RpcError {
            code: codes::PROVIDER_ERROR,
            message: e.message,
            data: (!e.details.is_empty()).then(|| ErrorData { details: e.details, supported: Vec::new() }),
        }
    }
}

impl From<RpcError> for ProviderError {
    fn from(e: RpcError) -> Self {
        ProviderError { message: e.message, details: e.data.map(|d| d.details).unwrap_or_default() }
    }
}

/// The protocol as a JSON Schema: each method's params and result, each notification's
/// params, the types they share under `$defs`. Checked in as
/// `schema/provider-protocol.schema.json`.
pub fn schema() -> serde_json::Value {
    use schemars::generate::SchemaSettings;
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let method = |params: schemars::Schema, result: schemars::Schema, doc: &str| serde_json::json!({ "description": doc, "params": params, "result": result });
    let null = || schemars::json_schema!({ "type": "null" });
    let methods = serde_json::json!({
        methods::INITIALIZE: method(generator.subschema_for::<InitializeParams>(), generator.subschema_for::<InitializeResult>(),
            "Always first: the host offers its protocol versions and describes the environment; the plugin picks a version and says what it can do."),
        methods::PREPARE: method(generator.subschema_for::<PrepareParams>(), generator.subschema_for::<PrepareResult>(),
            "Optional: fit the desired state before it is planned (settings only the provider knows). Changes nothing on the platform. A plugin without it answers -32601."),
        methods::OBSERVE: method(generator.subschema_for::<DesiredParams>(), generator.subschema_for::<Observed>(),
            "Everything on the platform labelled with this project and environment, of every component."),
        methods::PREFLIGHT: method(generator.subschema_for::<PreflightParams>(), null(),
            "Checks that change nothing, before the first step: an error stops the deploy with nothing changed."),
        methods::APPLY: method(generator.subschema_for::<ApplyParams>(), null(),
            "Carry out one step of the plan. Never touch an object whose labels are not this deploy's own."),
        methods::WAIT_READY: method(generator.subschema_for::<WaitReadyParams>(), null(),
            "Wait until the service is ready (options.ready_timeout_secs at most), or fail saying why."),
        methods::STATUS: method(generator.subschema_for::<DesiredParams>(), generator.subschema_for::<Vec<crate::provider::StatusRow>>(),
            "Capability `status`: one row per deployed service."),
        methods::LOGS: method(generator.subschema_for::<LogsParams>(), null(),
            "Capability `logs`: lines arrive as `log` notifications; the result comes when every line is sent (with follow: when cancelled)."),
        methods::LOCK: method(generator.subschema_for::<LockParams>(), null(),
            "Capability `lock`: take the cluster lock on the platform, or fail saying who holds it."),
        methods::UNLOCK: method(generator.subschema_for::<UnlockParams>(), generator.subschema_for::<Option<UnlockResult>>(),
            "Capability `lock`: clear the cluster lock (`nkdev infra unlock`): who held it and where it lives; `null` when a deploy releases its own lock (`holder` set)."),
        methods::REMOVE_VOLUMES: method(generator.subschema_for::<DesiredParams>(), null(),
            "Capability `volumes`: remove this component's named volumes (`nkdev destroy --volumes`)."),
    });
    let notifications = serde_json::json!({
        methods::CANCEL: { "direction": "host → plugin", "params": generator.subschema_for::<CancelParams>() },
        methods::NOTE: { "direction": "plugin → host", "params": generator.subschema_for::<NoteParams>() },
        methods::LOG: { "direction": "plugin → host", "params": generator.subschema_for::<LogParams>() },
    });
    let error = generator.subschema_for::<RpcError>();
    let defs = generator.take_definitions(true);
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://nanokit.dev/schema/provider-protocol.schema.json",
        "title": "nanokit provider protocol",
        "description": "JSON-RPC 2.0 over a provider plugin's stdin/stdout, one message per line. See docs/providers.md.",
        "x-protocol-versions": VERSIONS,
        "x-methods": methods,
        "x-notifications": notifications,
        "x-error": error,
        "$defs": defs,
    })
}
