//! Plan, then apply: compare the desired state of this component with what the platform has
//! (of every component), and produce single steps, each with its reason. Pure: no I/O, so
//! every ownership rule is unit-tested here, once, for every provider.

use crate::graph::Graph;
use crate::model::Healthcheck;
use crate::names;
pub use crate::observed::Route;
use crate::observed::{Observed, ObservedService};
use crate::resolve::ResolvedEnvironment;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the service's code is mounted in its container.
pub const APP_DIR: &str = "/app";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cluster {
    pub project: String,
    pub env: String,
    pub component: String,
    pub shared: bool,
    /// `nk-<project>-<env>`
    pub network: String,
    /// `nk-<project>-<env>-gateway`
    pub gateway: String,
    /// The checkout this deploy runs from (label `nk-source`): orphans are removed
    /// automatically only when they were deployed from the same checkout.
    pub source: Source,
    /// The provider's gateway settings as one string (image, host port, bind address), set by
    /// the front end: a gateway created with other settings is recreated. `None`: not compared.
    pub gateway_settings: Option<String>,
}

/// A stable id of one checkout (`nk-source`) and how to name it to a person (`nk-source-path`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    pub id: String,
    /// `host:/absolute/path/of/the/project`
    pub describe: String,
}

impl Source {
    /// The folder `dir` on machine `host` (for a folder that is not a git clone).
    pub fn of(host: &str, dir: &Path) -> Source {
        Source::named(&format!("{host}:{}", dir.display()))
    }

    /// A source described by `describe` (e.g. a git remote and a folder inside it), with the
    /// id derived from it.
    pub fn named(describe: &str) -> Source {
        use sha2::{Digest, Sha256};
        let id = Sha256::digest(describe.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect();
        Source { id, describe: describe.to_string() }
    }
}

/// A named volume a service mounts: `name:/path[:ro|:rw]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VolumeMount {
    /// Name on the platform: `nk-<project>-<env>-<volume>`.
    pub name: String,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DesiredService {
    pub name: String,
    /// Container / platform name: `nk-<project>-<env>-<service>`.
    pub instance: String,
    pub image: String,
    /// Shell command run as the container's command (install && start), if any.
    pub command: Option<String>,
    /// Host directory mounted at [`APP_DIR`] (services with a `path`).
    pub mount: Option<PathBuf>,
    pub env: IndexMap<String, String>,
    /// Secrets by variable name: sources always, values only once the deploy has read them.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, crate::secrets::DesiredSecret>,
    pub expose: Option<u16>,
    pub host: Option<String>,
    pub healthcheck: Option<Healthcheck>,
    pub volumes: Vec<VolumeMount>,
    pub config_hash: String,
    pub depends_on: Vec<String>,
    pub level: usize,
    /// Its image is only the default of an auto-discovered runtime for its local `path`: it
    /// runs where that folder is (mounted or copied), so a platform that pulls images has
    /// nothing to run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local_path_only: bool,
    /// `install` and `start` apart, when `command` runs both: a platform that restarts a
    /// process in place (`nkdev up --watch`) runs `install` again only when asked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Provisioning {
    pub install: String,
    pub start: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Desired {
    pub cluster: Cluster,
    /// In start order.
    pub services: Vec<DesiredService>,
    /// Whether this deploy covers every service of the file (`up`) or a selection (`up S`);
    /// only a full deploy removes services that left the file.
    pub complete: bool,
    /// `--remove-orphans`: also remove this component's services that left the file when they
    /// were deployed from another checkout.
    pub remove_orphans: bool,
}

impl Desired {
    pub fn service(&self, name: &str) -> Option<&DesiredService> {
        self.services.iter().find(|s| s.name == name)
    }
    pub fn levels(&self) -> Vec<Vec<&DesiredService>> {
        let mut levels: BTreeMap<usize, Vec<&DesiredService>> = BTreeMap::new();
        for s in &self.services {
            levels.entry(s.level).or_default().push(s);
        }
        levels.into_values().collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    CreateNetwork,
    CreateGateway,
    CreateVolume {
        name: String,
    },
    Create {
        service: String,
    },
    Recreate {
        service: String,
    },
    Start {
        service: String,
    },
    Keep {
        service: String,
    },
    Remove {
        service: String,
        instance: String,
    },
    UpdateRoutes {
        routes: Vec<Route>,
    },
    /// Start the stopped gateway.
    StartGateway,
    /// Replace the gateway (its settings changed).
    RecreateGateway,
    RemoveGateway,
    RemoveNetwork,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    pub reason: String,
}

impl Step {
    fn new(action: Action, reason: impl Into<String>) -> Self {
        Step { action, reason: reason.into() }
    }
    /// The service a step is about, if any.
    pub fn service(&self) -> Option<&str> {
        match &self.action {
            Action::Create { service }
            | Action::Recreate { service }
            | Action::Start { service }
            | Action::Keep { service }
            | Action::Remove { service, .. } => Some(service),
            _ => None,
        }
    }
    pub fn changes_something(&self) -> bool {
        !matches!(self.action, Action::Keep { .. })
    }
    /// A short human line: `create auth (new service)`.
    pub fn describe(&self) -> String {
        let what = match &self.action {
            Action::CreateNetwork => "create network".to_string(),
            Action::CreateGateway => "create gateway".to_string(),
            Action::CreateVolume { name } => format!("create volume {name}"),
            Action::Create { service } => format!("create {service}"),
            Action::Recreate { service } => format!("recreate {service}"),
            Action::Start { service } => format!("start {service}"),
            Action::Keep { service } => format!("keep {service}"),
            Action::Remove { service, .. } => format!("remove {service}"),
            Action::UpdateRoutes { routes } => {
                format!("update gateway routes ({} route{})", routes.len(), if routes.len() == 1 { "" } else { "s" })
            }
            Action::RemoveGateway => "remove gateway".to_string(),
            Action::StartGateway => "start gateway".to_string(),
            Action::RecreateGateway => "recreate gateway".to_string(),
            Action::RemoveNetwork => "remove network".to_string(),
        };
        format!("{what} ({})", self.reason)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// What the plan leaves alone on purpose and the user should know (orphans of another
    /// checkout).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        !self.steps.iter().any(Step::changes_something)
    }
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.changes_something())
    }
}

/// Why a plan cannot be made. Nothing has been changed when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    SharedInfraMissing {
        what: String,
        cluster: String,
    },
    OwnedByOtherComponent {
        service: String,
        component: String,
    },
    HostTaken {
        host: String,
        service: String,
        component: String,
    },
    UnknownService {
        service: String,
        known: Vec<String>,
    },
    NoImage {
        service: String,
    },
    /// The gateway must be repaired but belongs to another component, or this repo is shared.
    GatewayNotOurs {
        why: String,
        component: Option<String>,
    },
    PathOutsideProject {
        service: String,
        path: PathBuf,
    },
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::SharedInfraMissing { what, cluster } => write!(
                f,
                "{what} of cluster `{cluster}` does not exist; this repository has `infra.shared: true`, so it adopts and never creates it: run `nkdev up` in the infra-owner repository first"
            ),
            PlanError::OwnedByOtherComponent { service, component } => {
                write!(f, "service `{service}` already exists and belongs to component `{component}`; rename this service or deploy it from that repository")
            }
            PlanError::HostTaken { host, service, component } => write!(f, "host `{host}` is already routed to `{service}` of component `{component}`"),
            PlanError::UnknownService { service, known } => write!(f, "no service `{service}` in this file (services: {})", known.join(", ")),
            PlanError::NoImage { service } => write!(f, "service `{service}` has no image to run"),
            PlanError::GatewayNotOurs { why, component } => write!(
                f,
                "the gateway {why}, and only its owner may change it (component `{}`): run `nkdev up` in that repository",
                component.as_deref().unwrap_or("?")
            ),
            PlanError::PathOutsideProject { service, path } => write!(
                f,
                "service `{service}`: path {} is outside the project folder; set {}=1 to mount it anyway",
                path.display(),
                crate::check::ALLOW_OUTSIDE_PATHS_VAR
            ),
        }
    }
}

impl std::error::Error for PlanError {}

/// The desired state of this component for `selection` (empty: every service) and what it depends on.
/// What a deploy is asked to do besides the file: which checkout it runs from, and the user's
/// explicit opt-ins.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub source: Source,
    pub remove_orphans: bool,
    pub allow_outside_paths: bool,
}

pub fn desired(
    env: &ResolvedEnvironment,
    graph: &Graph,
    selection: &[String],
    base_dir: &Path,
    options: &DeployOptions,
) -> Result<Desired, PlanError> {
    for s in selection {
        if !env.services.contains_key(s) {
            return Err(PlanError::UnknownService { service: s.clone(), known: env.services.keys().cloned().collect() });
        }
    }
    let wanted: Vec<String> =
        if selection.is_empty() { graph.levels.iter().flatten().cloned().collect() } else { graph.closure(selection) };
    let level_of = |name: &str| graph.levels.iter().position(|l| l.iter().any(|s| s == name)).unwrap_or(0);
    let cluster = Cluster {
        project: env.project.clone(),
        env: env.env.clone(),
        component: env.component.clone(),
        shared: env.shared,
        network: names::cluster_prefix(&env.project, &env.env),
        gateway: format!("{}-gateway", names::cluster_prefix(&env.project, &env.env)),
        source: options.source.clone(),
        gateway_settings: None,
    };
    let mut services = Vec::with_capacity(wanted.len());
    for name in wanted {
        let s = &env.services[&name];
        let image = s.image.as_ref().map(|i| i.value.clone()).ok_or_else(|| PlanError::NoImage { service: name.clone() })?;
        let mount = s.path.as_ref().map(|p| base_dir.join(&p.value));
        // Checked again here, not only as NK048: the deploy is what mounts the folder.
        if let (Some(p), false) = (&s.path, options.allow_outside_paths) {
            if let Some(path) = crate::check::path_outside_project(base_dir, &p.value) {
                return Err(PlanError::PathOutsideProject { service: name.clone(), path });
            }
        }
        let command = match (&s.install, &s.start, &mount) {
            // install runs where the code is; an image-only service has nothing to install
            (Some(install), Some(start), Some(_)) => Some(format!("{} && {}", install.value, start.value)),
            (None, Some(start), _) | (Some(_), Some(start), None) => Some(start.value.clone()),
            (Some(install), None, Some(_)) => Some(install.value.clone()),
            _ => None,
        };
        let volumes = s.volumes.iter().filter_map(|v| volume_mount(&cluster.network, &v.value)).collect();
        let provisioning = match (&s.install, &s.start, &mount) {
            (Some(install), Some(start), Some(_)) => Some(Provisioning { install: install.value.clone(), start: start.value.clone() }),
            _ => None,
        };
        services.push(DesiredService {
            provisioning,
            instance: s.internal_host.clone(),
            image,
            command,
            mount,
            env: env.full_env(s),
            secrets: s
                .secrets
                .iter()
                .map(|(k, v)| (k.clone(), crate::secrets::DesiredSecret { secret: v.value.clone(), value: None }))
                .collect(),
            expose: s.expose.as_ref().map(|e| e.value),
            host: s.host.as_ref().map(|h| h.value.clone()),
            healthcheck: s.healthcheck.as_ref().map(|h| h.value.clone()),
            volumes,
            config_hash: env.config_hash(s),
            depends_on: s.depends_on.iter().map(|d| d.value.clone()).filter(|d| env.services.contains_key(d) && *d != name).collect(),
            level: level_of(&name),
            local_path_only: s.path.is_some()
                && !s.image.as_ref().is_some_and(|i| {
                    matches!(
                        i.origin,
                        crate::resolve::Origin::Service
                            | crate::resolve::Origin::EnvOverride { .. }
                            | crate::resolve::Origin::Runtime { .. }
                    )
                }),
            name,
        });
    }
    Ok(Desired { cluster, services, complete: selection.is_empty(), remove_orphans: options.remove_orphans })
}

/// `name:/path[:ro|:rw]` → the platform volume `<prefix>-<name>` mounted at `/path`. An
/// invalid one never reaches a plan: NK053 stops the deploy first.
fn volume_mount(prefix: &str, text: &str) -> Option<VolumeMount> {
    let v = crate::model::Volume::parse(text).ok()?;
    Some(VolumeMount { name: format!("{prefix}-{}", v.name), target: v.target, read_only: v.read_only })
}

/// Whether a full deploy removes this observed service of ours: it left the file, and it was
/// deployed from this checkout (or the user said `--remove-orphans`).
fn removes(desired: &Desired, o: &ObservedService) -> bool {
    removes_service(desired, &o.component, &o.service, o.source.as_deref())
}

/// The same rule for a provider that reads a service's labels or tags itself (AWS listeners
/// and security-group rules follow their service: kept while the plan keeps it).
pub fn removes_service(desired: &Desired, component: &str, service: &str, source: Option<&str>) -> bool {
    component == desired.cluster.component
        && desired.complete
        && desired.service(service).is_none()
        && (desired.remove_orphans || source == Some(desired.cluster.source.id.as_str()))
}

/// Hosts compare without case (DNS and the gateway's matcher do).
fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The routes the shared gateway must serve: every other component's services as the
/// platform reports them, plus this component's as they will be after the deploy.
///
/// Hosts are lower-cased, and routes come most specific first (exact hosts, then wildcards
/// with more labels): the gateway takes the first match, so a wildcard never catches a host
/// that a service claims exactly, whoever deployed which first.
pub fn routes(desired: &Desired, observed: &Observed) -> Vec<Route> {
    let mut routes: BTreeMap<String, Route> = BTreeMap::new();
    for s in &observed.services {
        // Our services keep their route unless this full deploy removes them; a service this
        // deploy replaces gets its route below, from the file.
        let replaced = s.component == desired.cluster.component && desired.service(&s.service).is_some();
        if let (Some(host), Some(port), false, false) = (&s.host, s.port, removes(desired, s), replaced) {
            let host = host.to_ascii_lowercase();
            // An exact host is claimed once; the plan refuses a second claimant before this.
            routes.entry(host.clone()).or_insert(Route { host, upstream: s.name.clone(), port });
        }
    }
    for s in &desired.services {
        if let (Some(host), Some(port)) = (&s.host, s.expose) {
            let host = host.to_ascii_lowercase();
            routes.insert(host.clone(), Route { host, upstream: s.instance.clone(), port });
        }
    }
    let mut routes: Vec<Route> = routes.into_values().collect();
    sort_routes(&mut routes);
    routes
}

/// The one order of routes: most specific host first (see [`routes`]). Providers that read
/// routes back sort them the same way, so an unchanged set compares equal.
pub fn sort_routes(routes: &mut [Route]) {
    routes.sort_by(|a, b| names::host_specificity(&a.host).cmp(&names::host_specificity(&b.host)).then_with(|| a.cmp(b)));
}

pub fn plan(desired: &Desired, observed: &Observed) -> Result<Plan, PlanError> {
    let cluster = &desired.cluster;
    let cluster_name = format!("{}/{}", cluster.project, cluster.env);
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    if cluster.shared {
        if observed.network.is_none() {
            return Err(PlanError::SharedInfraMissing { what: format!("network `{}`", cluster.network), cluster: cluster_name });
        }
        if observed.gateway.is_none() {
            return Err(PlanError::SharedInfraMissing { what: format!("gateway `{}`", cluster.gateway), cluster: cluster_name });
        }
    } else {
        if observed.network.is_none() {
            steps.push(Step::new(Action::CreateNetwork, format!("network `{}` does not exist", cluster.network)));
        }
        if observed.gateway.is_none() {
            steps.push(Step::new(Action::CreateGateway, format!("gateway `{}` does not exist", cluster.gateway)));
        }
    }
    // Repair: `up` converges a gateway that stopped or runs with other settings.
    let mut routes_known = observed.routes.clone();
    if let Some(gw) = &observed.gateway {
        let changed = matches!((&cluster.gateway_settings, &gw.settings), (Some(want), Some(have)) if want != have)
            || (cluster.gateway_settings.is_some() && gw.settings.is_none());
        let repair = if changed {
            Some((Action::RecreateGateway, "its settings changed (image, ports, bind address or TLS)".to_string()))
        } else if !gw.running {
            Some((Action::StartGateway, "it is not running".to_string()))
        } else {
            None
        };
        if let Some((action, why)) = repair {
            if cluster.shared || gw.component.as_deref() != Some(cluster.component.as_str()) {
                // Settings only an owner gives are not this repo's to impose; a stopped gateway
                // routes nothing, so this repo cannot deploy routed services through it.
                if !gw.running {
                    return Err(PlanError::GatewayNotOurs {
                        why: format!("`{}` is not running", gw.name),
                        component: gw.component.clone(),
                    });
                }
            } else {
                steps.push(Step::new(action, why));
                // A restarted or new gateway serves what it is given next: routes are re-sent.
                routes_known = None;
            }
        }
    }
    // Ownership first: nothing is planned, let alone applied, if one rule is broken.
    for s in &desired.services {
        if let Some(found) = observed.services.iter().find(|o| o.name == s.instance) {
            if found.component != cluster.component {
                return Err(PlanError::OwnedByOtherComponent { service: s.name.clone(), component: found.component.clone() });
            }
        }
        if let Some(host) = &s.host {
            let claimed = |o: &&ObservedService| o.host.as_deref().is_some_and(|h| same_host(h, host)) && o.component != cluster.component;
            if let Some(other) = observed.services.iter().find(claimed) {
                return Err(PlanError::HostTaken {
                    host: host.clone(),
                    service: other.service.clone(),
                    component: other.component.clone(),
                });
            }
        }
    }
    let mut volumes: Vec<&String> = desired.services.iter().flat_map(|s| s.volumes.iter().map(|v| &v.name)).collect();
    volumes.sort();
    volumes.dedup();
    for v in volumes.into_iter().filter(|v| !observed.volumes.contains(v)) {
        steps.push(Step::new(Action::CreateVolume { name: v.clone() }, "new volume"));
    }
    for s in &desired.services {
        let service = s.name.clone();
        let step = match observed.services.iter().find(|o| o.name == s.instance) {
            None => Step::new(Action::Create { service }, "new service"),
            Some(o) if o.config_hash != s.config_hash => {
                Step::new(Action::Recreate { service }, format!("configuration changed ({} → {})", o.config_hash, s.config_hash))
            }
            Some(_) if observed.unready.contains(&service) => {
                Step::new(Action::Recreate { service }, "the last deploy did not see it ready")
            }
            Some(o) if !o.running => Step::new(Action::Start { service }, "exists but is not running"),
            Some(_) => Step::new(Action::Keep { service }, "up to date"),
        };
        steps.push(step);
    }
    if desired.complete {
        for o in observed.services.iter().filter(|o| o.component == cluster.component && desired.service(&o.service).is_none()) {
            if removes(desired, o) {
                let why = if o.source.as_deref() == Some(cluster.source.id.as_str()) {
                    "no longer in nanokit.yml".to_string()
                } else {
                    format!("no longer in nanokit.yml; deployed from {}, removed by --remove-orphans", describe_source(o))
                };
                steps.push(Step::new(Action::Remove { service: o.service.clone(), instance: o.name.clone() }, why));
            } else {
                notes.push(format!(
                    "keeping `{}` (component `{}`): it is not in this nanokit.yml, but it was deployed from another checkout ({}); run `nkdev up --remove-orphans` to remove it",
                    o.service,
                    o.component,
                    describe_source(o)
                ));
            }
        }
    }
    let routes = routes(desired, observed);
    if routes_known.as_ref() != Some(&routes) {
        steps.push(Step::new(Action::UpdateRoutes { routes }, "routes differ from the gateway's"));
    }
    Ok(Plan { steps, notes })
}

fn describe_source(o: &ObservedService) -> String {
    o.source_path.clone().unwrap_or_else(|| "an unknown checkout: it has no `nk-source` label".to_string())
}

/// Remove this component's services; the owner also removes gateway and network, but only
/// when no other component still has services in the cluster.
pub fn destroy(cluster: &Cluster, observed: &Observed) -> (Plan, Vec<String>) {
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    for o in &observed.services {
        if o.component == cluster.component {
            steps.push(Step::new(
                Action::Remove { service: o.service.clone(), instance: o.name.clone() },
                format!("component `{}`", cluster.component),
            ));
        }
    }
    let others: Vec<&str> = {
        let mut v: Vec<&str> =
            observed.services.iter().filter(|o| o.component != cluster.component).map(|o| o.component.as_str()).collect();
        v.sort();
        v.dedup();
        v
    };
    let remaining_routes: Vec<Route> = {
        let mut r: Vec<Route> = observed
            .services
            .iter()
            .filter(|o| o.component != cluster.component)
            .filter_map(|o| Some(Route { host: o.host.as_ref()?.to_ascii_lowercase(), upstream: o.name.clone(), port: o.port? }))
            .collect();
        sort_routes(&mut r);
        r.dedup_by(|a, b| a.host == b.host);
        r
    };
    if cluster.shared {
        notes.push("shared infrastructure (network, gateway) is never touched from a repository with `shared: true`".into());
    } else if !others.is_empty() {
        notes.push(format!("keeping network and gateway: components {} still have services in this cluster", others.join(", ")));
    } else {
        if observed.gateway.is_some() {
            steps.push(Step::new(Action::RemoveGateway, "no component has services left"));
        }
        if observed.network.is_some() {
            steps.push(Step::new(Action::RemoveNetwork, "no component has services left"));
        }
    }
    let gateway_stays = observed.gateway.is_some() && (cluster.shared || !others.is_empty());
    if gateway_stays && observed.routes.as_ref() != Some(&remaining_routes) {
        steps.push(Step::new(Action::UpdateRoutes { routes: remaining_routes }, "drop this component's routes"));
    }
    (Plan { steps, notes: Vec::new() }, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::{ObservedResource, ObservedService};
    use crate::{analyze, AnalyzeOptions};

    fn desired_for(text: &str, selection: &[&str]) -> Desired {
        let analysis = analyze(text, &AnalyzeOptions { env: Some("local".into()), ..AnalyzeOptions::default() });
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
        let env = analysis.environment("local").unwrap();
        let sel: Vec<String> = selection.iter().map(|s| s.to_string()).collect();
        let options = DeployOptions { source: Source::of("laptop", Path::new("/repo")), ..DeployOptions::default() };
        desired(&env.resolved, &env.graph, &sel, Path::new("/repo"), &options).unwrap()
    }

    const MONO: &str = "name: shop\ncomponent: auth\nruntimes:\n  base:\n    image: busybox\n    provisioning: {install: make, start: run}\nservices:\n  db:\n    image: pg\n  auth:\n    runtime: base\n    path: ./auth\n    expose: 3001\n    host: auth.localhost\n    depends_on: [db]\n";

    fn observed_from(d: &Desired, component: &str) -> Observed {
        let services = d
            .services
            .iter()
            .map(|s| ObservedService {
                service: s.name.clone(),
                name: s.instance.clone(),
                component: component.into(),
                config_hash: s.config_hash.clone(),
                running: true,
                host: s.host.clone(),
                port: s.expose,
                source: Some(d.cluster.source.id.clone()),
                source_path: Some(d.cluster.source.describe.clone()),
            })
            .collect();
        let mut o = Observed {
            network: Some(ObservedResource::present(d.cluster.network.clone(), Some(component.into()))),
            gateway: Some(ObservedResource::present(d.cluster.gateway.clone(), Some(component.into()))),
            services,
            routes: None,
            volumes: d.services.iter().flat_map(|s| s.volumes.iter().map(|v| v.name.clone())).collect(),
            unready: Vec::new(),
        };
        o.routes = Some(routes(d, &o));
        o
    }

    #[test]
    fn first_deploy_creates_everything_in_order() {
        let d = desired_for(MONO, &[]);
        let auth = d.service("auth").unwrap();
        assert_eq!(auth.command.as_deref(), Some("make && run"));
        assert_eq!(auth.mount.as_deref(), Some(Path::new("/repo/./auth")));
        assert_eq!(auth.level, 1);
        // The plan as golden text: every step, its fields and its reason, in order.
        insta::assert_yaml_snapshot!("first_deploy", plan(&d, &Observed::default()).unwrap());
    }

    #[test]
    fn plans_of_changes_removals_and_destroys_as_golden_text() {
        let before = desired_for(MONO, &[]);
        let after = desired_for(
            &MONO.replace("expose: 3001", "expose: 3005").replace("image: pg\n", "image: pg\n    volumes: [\"data:/var/lib/pg\"]\n"),
            &[],
        );
        let mut observed = observed_from(&before, "auth");
        observed.services.push(service("old", "auth", Some("old.localhost"), Some(&before.cluster.source.id)));
        observed.services.push(service("billing", "billing", Some("b.localhost"), None));
        observed.gateway.as_mut().unwrap().running = false;
        insta::assert_yaml_snapshot!("changed_removed_and_stopped_gateway", plan(&after, &observed).unwrap());
        let (plan, notes) = destroy(&after.cluster, &observed);
        insta::assert_yaml_snapshot!("destroy_beside_another_component", (plan, notes));
    }

    #[test]
    fn second_deploy_without_change_is_a_noop() {
        let d = desired_for(MONO, &[]);
        let plan = plan(&d, &observed_from(&d, "auth")).unwrap();
        assert!(plan.is_noop(), "{:?}", plan.steps);
    }

    #[test]
    fn a_service_the_last_deploy_left_unready_is_retried_not_kept() {
        let d = desired_for(MONO, &[]);
        let mut observed = observed_from(&d, "auth");
        observed.unready = vec!["auth".into()];
        let plan = plan(&d, &observed).unwrap();
        let changed: Vec<String> = plan.changes().map(|s| s.describe()).collect();
        assert_eq!(changed, vec!["recreate auth (the last deploy did not see it ready)"]);
    }

    #[test]
    fn a_changed_service_is_the_only_one_recreated() {
        let before = desired_for(MONO, &[]);
        let after = desired_for(&MONO.replace("expose: 3001", "expose: 3005"), &[]);
        let plan = plan(&after, &observed_from(&before, "auth")).unwrap();
        let changed: Vec<String> = plan.changes().map(|s| s.describe()).collect();
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert!(changed[0].starts_with("recreate auth (configuration changed"));
        assert!(changed[1].starts_with("update gateway routes"));
    }

    #[test]
    fn up_of_one_service_takes_its_dependencies_and_removes_nothing() {
        let d = desired_for(MONO, &["auth"]);
        assert_eq!(d.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["db", "auth"]);
        let only_db = desired_for(MONO, &["db"]);
        let mut observed = observed_from(&d, "auth");
        observed.routes = Some(routes(&only_db, &observed));
        let plan = plan(&only_db, &observed).unwrap();
        assert!(plan.is_noop(), "auth is kept, not removed, when only db is deployed: {:?}", plan.steps);
    }

    #[test]
    fn services_that_left_the_file_are_removed_only_if_ours() {
        let d = desired_for(MONO, &[]);
        let mut observed = observed_from(&d, "auth");
        observed.services.push(ObservedService {
            service: "old".into(),
            name: "nk-shop-local-old".into(),
            component: "auth".into(),
            config_hash: "x".into(),
            running: true,
            host: None,
            port: None,
            source: Some(d.cluster.source.id.clone()),
            source_path: None,
        });
        observed.services.push(ObservedService {
            service: "billing".into(),
            name: "nk-shop-local-billing".into(),
            component: "billing".into(),
            config_hash: "y".into(),
            running: true,
            host: Some("b.localhost".into()),
            port: Some(80),
            source: None,
            source_path: None,
        });
        let plan = plan(&d, &observed).unwrap();
        let changed: Vec<String> = plan.changes().map(|s| s.describe()).collect();
        assert!(changed.contains(&"remove old (no longer in nanokit.yml)".to_string()), "{changed:?}");
        assert!(!changed.iter().any(|c| c.contains("billing")), "never touch another component: {changed:?}");
        let routes = plan
            .steps
            .iter()
            .find_map(|s| if let Action::UpdateRoutes { routes } = &s.action { Some(routes.clone()) } else { None })
            .unwrap();
        assert!(routes.iter().any(|r| r.host == "b.localhost"), "the gateway keeps routing other components");
    }

    #[test]
    fn another_components_service_or_host_is_refused() {
        let d = desired_for(MONO, &[]);
        let observed = observed_from(&d, "billing");
        assert!(matches!(plan(&d, &observed), Err(PlanError::OwnedByOtherComponent { .. })));
        let mut observed = observed_from(&desired_for(&MONO.replace("auth:\n    runtime", "other:\n    runtime"), &[]), "billing");
        observed.services.retain(|s| s.service == "other");
        assert!(matches!(plan(&d, &observed), Err(PlanError::HostTaken { .. })));
    }

    #[test]
    fn shared_repositories_adopt_and_never_create() {
        let text = MONO.replace("component: auth\n", "component: billing\nenvironments:\n  local:\n    infra:\n      shared: true\n");
        let d = desired_for(&text, &[]);
        let err = plan(&d, &Observed::default()).unwrap_err();
        assert!(err.to_string().contains("run `nkdev up` in the infra-owner repository first"), "{err}");
    }

    #[test]
    fn destroy_keeps_infra_while_other_components_remain() {
        let d = desired_for(MONO, &[]);
        let mut observed = observed_from(&d, "auth");
        observed.services.push(ObservedService {
            service: "billing".into(),
            name: "nk-shop-local-billing".into(),
            component: "billing".into(),
            config_hash: "y".into(),
            running: true,
            host: Some("b.localhost".into()),
            port: Some(80),
            source: None,
            source_path: None,
        });
        let (plan, notes) = destroy(&d.cluster, &observed);
        let what: Vec<String> = plan.steps.iter().map(|s| s.describe()).collect();
        assert!(what.iter().all(|w| !w.contains("billing") && !w.contains("network") && !w.contains("remove gateway")), "{what:?}");
        assert!(notes[0].contains("components billing still have services"));
        observed.services.retain(|s| s.component == "auth");
        let (plan, _) = destroy(&d.cluster, &observed);
        let what: Vec<String> = plan.steps.iter().map(|s| s.describe()).collect();
        assert!(what.contains(&"remove network (no component has services left)".to_string()), "{what:?}");
    }

    fn service(name: &str, component: &str, host: Option<&str>, source: Option<&str>) -> ObservedService {
        ObservedService {
            service: name.into(),
            name: format!("nk-shop-local-{name}"),
            component: component.into(),
            config_hash: "h".into(),
            running: true,
            host: host.map(str::to_string),
            port: host.map(|_| 80),
            source: source.map(str::to_string),
            source_path: source.map(|s| format!("elsewhere:/{s}")),
        }
    }

    #[test]
    fn hosts_compare_without_case_and_exact_hosts_route_before_wildcards() {
        // The owner's exact host, claimed again in upper case by another component: refused.
        let d = desired_for(&MONO.replace("host: auth.localhost", "host: AUTH.localhost"), &[]);
        assert_eq!(d.service("auth").unwrap().host.as_deref(), Some("auth.localhost"), "hosts are lower-cased on resolution");
        let mut observed = observed_from(&d, "auth");
        observed.services = vec![service("other", "billing", Some("Auth.Localhost"), None)];
        assert!(matches!(plan(&d, &observed), Err(PlanError::HostTaken { .. })));
        // A wildcard of another component never comes before an exact host.
        let mut observed = observed_from(&d, "auth");
        observed.services.push(service("catchall", "billing", Some("*.localhost"), None));
        observed.services.push(service("deep", "billing", Some("*.a.localhost"), None));
        let routes = routes(&d, &observed);
        let hosts: Vec<&str> = routes.iter().map(|r| r.host.as_str()).collect();
        assert_eq!(hosts, vec!["auth.localhost", "*.a.localhost", "*.localhost"]);
        assert_eq!(routes[0].upstream, "nk-shop-local-auth");
    }

    #[test]
    fn orphans_of_another_checkout_are_kept_unless_asked() {
        let d = desired_for(MONO, &[]);
        let mut observed = observed_from(&d, "auth");
        observed.services.push(service("mine", "auth", None, Some(&d.cluster.source.id)));
        observed.services.push(service("theirs", "auth", Some("t.localhost"), Some("0123456789ab")));
        observed.services.push(service("legacy", "auth", None, None));
        let p = plan(&d, &observed).unwrap();
        let changed: Vec<String> = p.changes().map(|s| s.describe()).collect();
        assert!(changed.contains(&"remove mine (no longer in nanokit.yml)".to_string()), "{changed:?}");
        assert!(!changed.iter().any(|c| c.contains("theirs") || c.contains("legacy")), "{changed:?}");
        assert!(p.notes.iter().any(|n| n.contains("`theirs`") && n.contains("elsewhere:/0123456789ab") && n.contains("--remove-orphans")));
        assert!(routes(&d, &observed).iter().any(|r| r.host == "t.localhost"), "a kept orphan keeps its route");
        let mut forced = d.clone();
        forced.remove_orphans = true;
        let changed: Vec<String> = plan(&forced, &observed).unwrap().changes().map(|s| s.describe()).collect();
        assert!(changed.iter().any(|c| c.starts_with("remove theirs")) && changed.iter().any(|c| c.starts_with("remove legacy")));
    }

    #[test]
    fn a_stopped_or_changed_gateway_is_repaired_by_its_owner_only() {
        let mut d = desired_for(MONO, &[]);
        let mut observed = observed_from(&d, "auth");
        observed.gateway.as_mut().unwrap().running = false;
        let changed: Vec<String> = plan(&d, &observed).unwrap().changes().map(|s| s.describe()).collect();
        assert_eq!(changed[0], "start gateway (it is not running)");
        assert!(changed[1].starts_with("update gateway routes"), "a restarted gateway is sent its routes: {changed:?}");
        d.cluster.gateway_settings = Some("caddy:2|8080|127.0.0.1".into());
        observed.gateway.as_mut().unwrap().running = true;
        observed.gateway.as_mut().unwrap().settings = Some("caddy:2|80|127.0.0.1".into());
        let changed: Vec<String> = plan(&d, &observed).unwrap().changes().map(|s| s.describe()).collect();
        assert!(changed[0].starts_with("recreate gateway"), "{changed:?}");
        // Another component never repairs the owner's gateway.
        observed.gateway.as_mut().unwrap().component = Some("billing".into());
        observed.gateway.as_mut().unwrap().running = false;
        assert!(matches!(plan(&d, &observed), Err(PlanError::GatewayNotOurs { .. })));
    }

    #[test]
    fn volumes_keep_their_mode() {
        let d =
            desired_for(&MONO.replace("    image: pg\n", "    image: pg\n    volumes: [\"data:/var/lib/pg:ro\", \"logs:/logs\"]\n"), &[]);
        let v = &d.service("db").unwrap().volumes;
        assert_eq!(v[0], VolumeMount { name: "nk-shop-local-data".into(), target: "/var/lib/pg".into(), read_only: true });
        assert!(!v[1].read_only);
    }

    #[test]
    fn a_path_outside_the_project_is_refused_unless_allowed() {
        let text = MONO.replace("path: ./auth", "path: /");
        let analysis = analyze(&text, &AnalyzeOptions { env: Some("local".into()), ..AnalyzeOptions::default() });
        let env = analysis.environment("local").unwrap();
        let err = desired(&env.resolved, &env.graph, &[], Path::new("/repo"), &DeployOptions::default()).unwrap_err();
        assert!(matches!(err, PlanError::PathOutsideProject { .. }), "{err}");
        let allowed = DeployOptions { allow_outside_paths: true, ..DeployOptions::default() };
        assert!(desired(&env.resolved, &env.graph, &[], Path::new("/repo"), &allowed).is_ok());
    }
}
