//! Labels (Docker) and tags (AWS) put on everything nanokit creates (SPEC §6): how a provider
//! knows an object is a deploy's own. One home for the names, read by the plan's ownership
//! rules and written by every provider.

pub const PROJECT: &str = "nk-project";
pub const ENV: &str = "nk-env";
pub const COMPONENT: &str = "nk-component";
pub const SERVICE: &str = "nk-service";
pub const CONFIG_HASH: &str = "nk-config-hash";
/// `service`, `gateway` or `network`.
pub const ROLE: &str = "nk-role";
/// The service's host and port, read back to rebuild the shared gateway's routes.
pub const HOST: &str = "nk-host";
pub const PORT: &str = "nk-port";
/// The checkout a service was deployed from (a stable id) and where that is, for messages.
pub const SOURCE: &str = "nk-source";
pub const SOURCE_PATH: &str = "nk-source-path";
/// The settings a gateway was created with (image, host port, bind address).
pub const GATEWAY_SETTINGS: &str = "nk-gateway-settings";
