//! Resolution of one environment (SPEC §5): every service's fields from the strict layer
//! order service → runtime → environment override → system default, with the origin of
//! every value recorded so `nkdev config --explain` and LSP hover can say where it came from.

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::document::{pointer, Document};
use crate::model::{Healthcheck, Infra, Project, ProviderId, Runtime, Service};
use crate::names;
use crate::runtimes::{self, Discovery};
use crate::secrets::Secret;
use indexmap::IndexMap;
use serde::Serialize;
use std::path::Path;

pub const DEFAULT_ENV: &str = "local";

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Origin {
    /// `services.<name>`
    Service,
    /// `runtimes.<id>`
    Runtime { id: String },
    /// `environments.<env>.services.<name>`
    EnvOverride { env: String },
    /// The built-in runtime table.
    Default { runtime: String },
    /// Inferred from the files in the service's `path`.
    AutoDiscovered { marker: String },
    /// Added by nanokit (NANOKIT_*, PORT).
    Injected,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Service => f.write_str("service"),
            Origin::Runtime { id } => write!(f, "runtime `{id}`"),
            Origin::EnvOverride { env } => write!(f, "environment `{env}` override"),
            Origin::Default { runtime } => write!(f, "built-in default of `{runtime}`"),
            Origin::AutoDiscovered { marker } => write!(f, "auto-discovered from {marker}"),
            Origin::Injected => f.write_str("injected by nanokit"),
        }
    }
}

/// A resolved value, its origin, and the JSON pointer of its definition in the file (if any).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    #[serde(flatten)]
    pub origin: Origin,
    #[serde(skip)]
    pub pointer: Option<String>,
}

impl<T> Sourced<T> {
    fn new(value: T, origin: Origin, pointer: Option<String>) -> Self {
        Sourced { value, origin, pointer }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedService {
    pub name: String,
    pub runtime: Option<Sourced<String>>,
    pub image: Option<Sourced<String>>,
    pub path: Option<Sourced<String>>,
    pub expose: Option<Sourced<u16>>,
    pub host: Option<Sourced<String>>,
    pub install: Option<Sourced<String>>,
    /// The start command (`command` wins over `provisioning.start`).
    pub start: Option<Sourced<String>>,
    pub healthcheck: Option<Sourced<Healthcheck>>,
    pub volumes: Vec<Sourced<String>>,
    /// User variables merged key by key, plus the per-service injected ones.
    pub env: IndexMap<String, Sourced<String>>,
    /// Secrets merged key by key like `env`: their sources, never their values.
    pub secrets: IndexMap<String, Sourced<Secret>>,
    pub depends_on: Vec<Sourced<String>>,
    /// `nk-<project>-<env>-<service>`: container name and internal DNS name.
    pub internal_host: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedEnvironment {
    pub project: String,
    pub component: String,
    pub env: String,
    pub provider: ProviderId,
    pub shared: bool,
    pub infra: Infra,
    pub services: IndexMap<String, ResolvedService>,
    /// `NANOKIT_URL_<S>` → S's primary hostname, shared by every service of the environment.
    pub urls: IndexMap<String, String>,
}

impl ResolvedEnvironment {
    /// The complete environment of a container, each value with its origin: the injected
    /// `NANOKIT_URL_*`, then the service's own variables (a user value wins over an injected
    /// name and takes its place, as SPEC §5.3 says). The one merge that the deploy, the config
    /// hash, `nkdev config` and hover all read.
    pub fn environment(&self, service: &ResolvedService) -> IndexMap<String, Sourced<String>> {
        let mut env: IndexMap<String, Sourced<String>> = IndexMap::with_capacity(self.urls.len() + service.env.len());
        for (k, v) in &self.urls {
            env.insert(k.clone(), Sourced::new(v.clone(), Origin::Injected, None));
        }
        for (k, v) in &service.env {
            env.insert(k.clone(), v.clone());
        }
        env
    }

    /// [`Self::environment`] without the origins: what the container gets.
    pub fn full_env(&self, service: &ResolvedService) -> IndexMap<String, String> {
        self.environment(service).into_iter().map(|(k, v)| (k, v.value)).collect()
    }

    /// A stable hash of everything that, when changed, requires recreating the service's container.
    pub fn config_hash(&self, service: &ResolvedService) -> String {
        use sha2::{Digest, Sha256};
        let value = serde_json::json!({
            "image": service.image.as_ref().map(|s| &s.value),
            "path": service.path.as_ref().map(|s| &s.value),
            "expose": service.expose.as_ref().map(|s| s.value),
            "host": service.host.as_ref().map(|s| &s.value),
            "install": service.install.as_ref().map(|s| &s.value),
            "start": service.start.as_ref().map(|s| &s.value),
            "healthcheck": service.healthcheck.as_ref().map(|s| &s.value),
            "volumes": service.volumes.iter().map(|s| &s.value).collect::<Vec<_>>(),
            "env": self.full_env(service),
            "depends_on": service.depends_on.iter().map(|s| &s.value).collect::<Vec<_>>(),
        });
        let mut value = value;
        // Only when there are secrets, so the hash of every service without one is unchanged
        // (a changed hash recreates the container).
        if !service.secrets.is_empty() {
            let secrets: IndexMap<&String, &Secret> = service.secrets.iter().map(|(k, v)| (k, &v.value)).collect();
            value["secrets"] = serde_json::to_value(secrets).unwrap_or_default();
        }
        let digest = Sha256::digest(value.to_string().as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// A config hash with the digest of something the deploy reads beyond the file (`files` of a
/// copied folder, `secrets` values) folded in: a change there is a change of the service.
/// As long as the hash it replaces (at least 16 hex digits).
pub fn fold_config_hash(config_hash: &str, part: &str, digest: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(format!("{config_hash}|{part}={digest}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    hex[..config_hash.len().clamp(16, hex.len())].to_string()
}

/// Resolve one environment. Diagnostics are those that depend on resolution (unknown
/// runtimes, discovery, overrides); structural checks live in [`crate::check`].
pub fn resolve_environment(
    project: &Project,
    doc: &Document,
    env: &str,
    base_dir: Option<&Path>,
) -> (ResolvedEnvironment, Vec<Diagnostic>) {
    let name = project.name.clone().unwrap_or_default();
    let component = project.component.clone().unwrap_or_else(|| name.clone());
    let environment = project.environments.get(env);
    let infra = environment.and_then(|e| e.infra.clone()).unwrap_or_default();
    let mut r = Resolver { project, doc, env, base_dir, diagnostics: Vec::new() };

    let mut urls = IndexMap::with_capacity(project.services.len());
    let mut services = IndexMap::with_capacity(project.services.len());
    for (service_name, service) in &project.services {
        let overrides = environment.and_then(|e| e.services.get(service_name));
        let resolved = r.service(&name, &component, service_name, service, overrides);
        let primary = resolved.host.as_ref().map_or_else(|| resolved.internal_host.clone(), |h| h.value.clone());
        urls.insert(names::url_variable(service_name), primary);
        services.insert(service_name.clone(), resolved);
    }
    if let Some(environment) = environment {
        for (target, _) in &environment.services {
            if !project.services.contains_key(target) {
                let p = pointer(&["environments", env, "services", target]);
                let mut d = Diagnostic::new(
                    Code::UnknownOverrideTarget,
                    doc.key_span_of(&p),
                    format!("override for unknown service `{target}` in environment `{env}`"),
                )
                .label("no such service");
                if let Some(best) = did_you_mean(target, project.services.keys().map(String::as_str)) {
                    d = d.help(format!("did you mean `{best}`?")).fix(format!("Rename to `{best}`"), doc.key_span_of(&p), best);
                }
                r.diagnostics.push(d);
            }
        }
    }
    let resolved = ResolvedEnvironment {
        project: name,
        component,
        env: env.to_string(),
        provider: infra.provider.clone().unwrap_or(ProviderId::DOCKER),
        shared: infra.shared.unwrap_or(false),
        infra,
        services,
        urls,
    };
    (resolved, r.diagnostics)
}

struct Resolver<'a> {
    project: &'a Project,
    doc: &'a Document,
    env: &'a str,
    base_dir: Option<&'a Path>,
    diagnostics: Vec<Diagnostic>,
}

/// One candidate value for a field: the value and the pointer that defines it.
/// A value one layer sets, with the pointer where it is written.
type Layer<T> = Option<(T, String)>;

/// Every layer's candidate for one field, in the seed's precedence: the service, its runtime,
/// the environment's override, the runtime's built-in default. Named, so that a call site
/// reads as what it is rather than as seven positional arguments.
struct Layers<T> {
    service: Layer<T>,
    runtime: Layer<T>,
    env_override: Layer<T>,
    default: Option<T>,
}

/// How the runtime and default layers of one service are named in provenance.
struct LayerOrigins {
    runtime: Origin,
    default: Origin,
}

impl LayerOrigins {
    fn of(runtime_id: &str) -> Self {
        LayerOrigins {
            runtime: Origin::Runtime { id: runtime_id.to_string() },
            default: Origin::Default { runtime: runtime_id.to_string() },
        }
    }
}

impl Resolver<'_> {
    fn service(&mut self, project: &str, component: &str, name: &str, service: &Service, overrides: Option<&Service>) -> ResolvedService {
        let env = self.env;
        let sp = |field: &str| pointer(&["services", name, field]);
        let op = |field: &str| pointer(&["environments", env, "services", name, field]);
        let ov = overrides.cloned().unwrap_or_default();

        let runtime = self.runtime_of(name, service, &ov);
        let runtime_id = runtime.as_ref().map(|r| r.value.clone());
        let declared: Option<&Runtime> = runtime_id.as_deref().and_then(|id| self.project.runtimes.get(id));
        let builtin = runtime_id.as_deref().and_then(runtimes::builtin);
        let rp = |field: &str| pointer(&["runtimes", runtime_id.as_deref().unwrap_or_default(), field]);
        let origins = LayerOrigins::of(runtime_id.as_deref().unwrap_or_default());

        let image = self.layer(
            &"image",
            Layers {
                service: service.image.clone().map(|v| (v, sp("image"))),
                runtime: declared.and_then(|r| r.image.clone()).map(|v| (v, rp("image"))),
                env_override: ov.image.clone().map(|v| (v, op("image"))),
                default: builtin.map(|b| b.image.to_string()),
            },
            &origins,
        );
        let path = self.layer(
            &"path",
            Layers {
                service: service.path.clone().map(|v| (v, sp("path"))),
                runtime: None,
                env_override: ov.path.clone().map(|v| (v, op("path"))),
                default: None,
            },
            &origins,
        );
        let port_of =
            |s: &Service, p: &dyn Fn(&str) -> String| s.expose.map(|v| (v, p("expose"))).or_else(|| s.port.map(|v| (v, p("port"))));
        let expose = self
            .layer(
                &"expose",
                Layers {
                    service: port_of(service, &sp),
                    runtime: None,
                    env_override: port_of(&ov, &op),
                    default: builtin.map(|b| u32::from(b.port)),
                },
                &origins,
            )
            .and_then(|s| u16::try_from(s.value).ok().map(|v| Sourced::new(v, s.origin, s.pointer)));
        // Hosts are case-insensitive (DNS, Caddy's matcher): one lower-case spelling from here
        // on, so `AUTH.shop.localhost` and `auth.shop.localhost` are the same host everywhere
        // (NK040, the plan's host conflicts, gateway routes, Route 53).
        let host = self
            .layer(
                &"host",
                Layers {
                    service: service.host.clone().map(|v| (v, sp("host"))),
                    runtime: None,
                    env_override: ov.host.clone().map(|v| (v, op("host"))),
                    default: None,
                },
                &origins,
            )
            .map(|mut h| {
                h.value.make_ascii_lowercase();
                h
            });
        let prov = |s: &Service, field: &str, p: &dyn Fn(&str) -> String| -> Layer<String> {
            let value = s.provisioning.as_ref().and_then(|pr| if field == "install" { pr.install.clone() } else { pr.start.clone() });
            value.map(|v| (v, format!("{}/{field}", p("provisioning"))))
        };
        let rt_prov = |field: &str| -> Layer<String> {
            let pr = declared.and_then(|r| r.provisioning.as_ref())?;
            let value = if field == "install" { pr.install.clone() } else { pr.start.clone() };
            value.map(|v| (v, format!("{}/{field}", rp("provisioning"))))
        };
        let install = self.layer(
            &"provisioning.install",
            Layers {
                service: prov(service, "install", &sp),
                runtime: rt_prov("install"),
                env_override: prov(&ov, "install", &op),
                default: builtin.and_then(|b| b.install.map(str::to_string)),
            },
            &origins,
        );
        let command_or_start = |s: &Service, p: &dyn Fn(&str) -> String| -> Layer<String> {
            s.command.clone().map(|v| (v, p("command"))).or_else(|| prov(s, "start", p))
        };
        let start = self.layer(
            &"start command",
            Layers {
                service: command_or_start(service, &sp),
                runtime: rt_prov("start"),
                env_override: command_or_start(&ov, &op),
                default: builtin.and_then(|b| b.start.map(str::to_string)),
            },
            &origins,
        );
        let healthcheck = self.layer(
            &"healthcheck",
            Layers {
                service: service.healthcheck.clone().map(|v| (v, sp("healthcheck"))),
                runtime: None,
                env_override: ov.healthcheck.clone().map(|v| (v, op("healthcheck"))),
                default: None,
            },
            &origins,
        );
        let volumes_layer = self.layer(
            &"volumes",
            Layers {
                service: (!service.volumes.is_empty()).then(|| (service.volumes.clone(), sp("volumes"))),
                runtime: None,
                env_override: (!ov.volumes.is_empty()).then(|| (ov.volumes.clone(), op("volumes"))),
                default: None,
            },
            &origins,
        );
        let volumes = volumes_layer
            .map(|s| {
                s.value
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| Sourced::new(v, s.origin.clone(), s.pointer.as_ref().map(|p| format!("{p}/{i}"))))
                    .collect()
            })
            .unwrap_or_default();

        let env_map = self.env_map(name, service, declared, &ov, &runtime_id, project, component, expose.as_ref().map(|e| e.value));
        let secrets = self.secrets(name, service, declared, &ov, &runtime_id);
        let depends_on = self.depends_on(name, service, declared, &ov, &runtime_id);

        ResolvedService {
            name: name.to_string(),
            runtime,
            image,
            path,
            expose,
            host,
            install,
            start,
            healthcheck,
            volumes,
            env: env_map,
            secrets,
            depends_on,
            internal_host: names::container_name(project, env, name),
        }
    }

    /// Step 1 of SPEC §5: the runtime id, from the service, its override, or auto-discovery.
    fn runtime_of(&mut self, name: &str, service: &Service, ov: &Service) -> Option<Sourced<String>> {
        let env = self.env;
        let explicit =
            service.runtime.clone().map(|v| Sourced::new(v, Origin::Service, Some(pointer(&["services", name, "runtime"])))).or_else(
                || {
                    ov.runtime.clone().map(|v| {
                        Sourced::new(
                            v,
                            Origin::EnvOverride { env: env.into() },
                            Some(pointer(&["environments", env, "services", name, "runtime"])),
                        )
                    })
                },
            );
        if let Some(runtime) = explicit {
            if !self.project.runtimes.contains_key(&runtime.value) && runtimes::builtin(&runtime.value).is_none() {
                self.unknown_runtime(&runtime);
            }
            return Some(runtime);
        }
        if service.image.is_some() || ov.image.is_some() {
            return None;
        }
        let service_pointer = pointer(&["services", name]);
        let Some(path) = service.path.as_ref().or(ov.path.as_ref()) else {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::RuntimeNotDiscovered,
                    self.doc.key_span_of(&service_pointer),
                    format!("cannot tell how to run service `{name}`: it has no `runtime`, `image` or `path`"),
                )
                .help("set `runtime:` (node, python, go, php, ruby, static), `image:`, or a `path:` to a folder auto-discovery can read"),
            );
            return None;
        };
        let base = self.base_dir?;
        let path_pointer = if service.path.is_some() {
            pointer(&["services", name, "path"])
        } else {
            pointer(&["environments", env, "services", name, "path"])
        };
        match runtimes::discover(&base.join(path)) {
            Discovery::Found { runtime } => Some(Sourced::new(
                runtime.id.to_string(),
                Origin::AutoDiscovered { marker: runtime.marker.to_string() },
                Some(path_pointer),
            )),
            Discovery::MissingDirectory => None, // reported once by the path check
            Discovery::NoMarker => {
                let markers: Vec<String> = runtimes::BUILTIN_RUNTIMES.iter().map(|r| format!("{} ({})", r.marker, r.id)).collect();
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::RuntimeNotDiscovered,
                        self.doc.span_of(&path_pointer),
                        format!("cannot infer the runtime of service `{name}`: nothing in `{path}` that auto-discovery recognises"),
                    )
                    .label("no known project file here")
                    .help(format!("add `runtime:` or `image:` to the service, or one of: {}", markers.join(", "))),
                );
                None
            }
        }
    }

    fn unknown_runtime(&mut self, runtime: &Sourced<String>) {
        let p = runtime.pointer.clone().unwrap_or_default();
        let span = self.doc.span_of(&p);
        let candidates: Vec<&str> =
            self.project.runtimes.keys().map(String::as_str).chain(runtimes::BUILTIN_RUNTIMES.iter().map(|r| r.id)).collect();
        let mut d = Diagnostic::new(Code::UnknownRuntime, span, format!("unknown runtime `{}`", runtime.value))
            .label("not declared under `runtimes` and not built in");
        if let Some(best) = did_you_mean(&runtime.value, candidates.iter().copied()) {
            d = d.help(format!("did you mean `{best}`?")).fix(format!("Change to `{best}`"), span, best);
        } else {
            d = d.help(format!("declare it under `runtimes:` or use a built-in runtime: {}", candidates.join(", ")));
        }
        self.diagnostics.push(d);
    }

    /// Pick the first layer that sets a field; warn about an override that can never win.
    fn layer<T: Clone>(&mut self, field: &dyn std::fmt::Display, layers: Layers<T>, origins: &LayerOrigins) -> Option<Sourced<T>> {
        let Layers { service, runtime, env_override, default } = layers;
        if let Some((_, override_pointer)) = &env_override {
            if let Some((_, winner)) = service.as_ref().or(runtime.as_ref()) {
                let by = if service.is_some() { "the service" } else { "its runtime" };
                self.ineffective_override(field, override_pointer, winner, by);
            }
        }
        service
            .map(|(v, p)| Sourced::new(v, Origin::Service, Some(p)))
            .or_else(|| runtime.map(|(v, p)| Sourced::new(v, origins.runtime.clone(), Some(p))))
            .or_else(|| env_override.map(|(v, p)| Sourced::new(v, Origin::EnvOverride { env: self.env.to_string() }, Some(p))))
            .or_else(|| default.map(|v| Sourced::new(v, origins.default.clone(), None)))
    }

    fn ineffective_override(&mut self, field: &dyn std::fmt::Display, override_pointer: &str, winner: &str, by: &str) {
        let loc = self.doc.location(override_pointer);
        let span = loc.map_or_else(|| self.doc.span_of(override_pointer), |l| l.key_or_value());
        let mut d = Diagnostic::new(Code::IneffectiveOverride, span, format!("this override of `{field}` has no effect: {by} already sets it"))
            .label("never applied")
            .related(self.doc.span_of(winner), format!("`{field}` is set here, and the service and runtime win over environment overrides"))
            .help("service and runtime values win over environment overrides (seed: service → runtime → environment → defaults); remove this line or move the value out of the service");
        if let Some((span, text)) = self.doc.entry_removal(override_pointer) {
            d = d.fix("Remove the override with no effect", span, text);
        }
        self.diagnostics.push(d);
    }

    #[allow(clippy::too_many_arguments)]
    fn env_map(
        &mut self,
        name: &str,
        service: &Service,
        runtime: Option<&Runtime>,
        ov: &Service,
        runtime_id: &Option<String>,
        project: &str,
        component: &str,
        port: Option<u16>,
    ) -> IndexMap<String, Sourced<String>> {
        let mut out = self.merge_by_key(name, "env", &service.env, runtime.map(|r| &r.env), &ov.env, runtime_id, |v| Some(v.to_string()));
        use names::injected;
        let injected = [
            (injected::PROJECT, project.to_string()),
            (injected::SERVICE, name.to_string()),
            (injected::ENV, self.env.to_string()),
            (injected::COMPONENT, component.to_string()),
        ];
        let port = port.map(|p| (injected::PORT, p.to_string()));
        for (key, value) in injected.into_iter().chain(port) {
            if let Some(user) = out.get(key) {
                self.injected_overridden(key, user.pointer.clone());
            } else {
                out.insert(key.to_string(), Sourced::new(value, Origin::Injected, None));
            }
        }
        // NANOKIT_URL_* live on the environment; a user value of the same name still wins.
        for (key, value) in &out {
            if key.starts_with(names::injected::URL_PREFIX)
                && self.project.services.keys().any(|s| names::url_variable(s) == *key)
                && value.origin != Origin::Injected
            {
                let p = value.pointer.clone();
                self.injected_overridden(key, p);
                break;
            }
        }
        out
    }

    /// `secrets` merged like `env`; a source that does not parse is left out here and
    /// reported once by [`crate::check`] (NK067).
    fn secrets(
        &mut self,
        name: &str,
        service: &Service,
        runtime: Option<&Runtime>,
        ov: &Service,
        runtime_id: &Option<String>,
    ) -> IndexMap<String, Sourced<Secret>> {
        self.merge_by_key(name, "secrets", &service.secrets, runtime.map(|r| &r.secrets), &ov.secrets, runtime_id, |s| {
            Secret::from_spec(s).ok()
        })
    }

    /// A map field (`env`, `secrets`) merged key by key: each key takes the first layer that
    /// sets it (service → runtime → environment override), with its origin and pointer.
    /// `convert` drops values it cannot use.
    #[allow(clippy::too_many_arguments)]
    fn merge_by_key<V, T: Clone>(
        &mut self,
        name: &str,
        field: &str,
        service_map: &IndexMap<String, V>,
        runtime_map: Option<&IndexMap<String, V>>,
        ov_map: &IndexMap<String, V>,
        runtime_id: &Option<String>,
        convert: impl Fn(&V) -> Option<T>,
    ) -> IndexMap<String, Sourced<T>> {
        let env = self.env;
        let rid = runtime_id.as_deref().unwrap_or_default();
        let mut keys: Vec<&String> = service_map.keys().collect();
        for k in runtime_map.into_iter().flat_map(IndexMap::keys).chain(ov_map.keys()) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let origins = LayerOrigins::of(rid);
        let candidate =
            |map: Option<&IndexMap<String, V>>, key: &str, p: String| map.and_then(|m| m.get(key)).and_then(&convert).map(|v| (v, p));
        let (service_map, ov_map) = (Some(service_map), Some(ov_map));
        // Room for the variables nanokit injects after the user's (`env`).
        let mut out = IndexMap::with_capacity(keys.len() + 5);
        for key in keys {
            let value = self.layer(
                &format_args!("{field}.{key}"),
                Layers {
                    service: candidate(service_map, key, pointer(&["services", name, field, key])),
                    runtime: candidate(runtime_map, key, pointer(&["runtimes", rid, field, key])),
                    env_override: candidate(ov_map, key, pointer(&["environments", env, "services", name, field, key])),
                    default: None,
                },
                &origins,
            );
            if let Some(value) = value {
                out.insert(key.clone(), value);
            }
        }
        out
    }

    fn injected_overridden(&mut self, key: &str, at: Option<String>) {
        let Some(p) = at else { return };
        let span = self.doc.key_span_of(&p);
        self.diagnostics.push(
            Diagnostic::new(Code::InjectedVariableOverridden, span, format!("`{key}` is injected by nanokit; this value replaces it"))
                .label("overrides an injected variable")
                .help("the value you set wins; rename the variable if you did not mean to replace nanokit's"),
        );
    }

    fn depends_on(
        &mut self,
        name: &str,
        service: &Service,
        runtime: Option<&Runtime>,
        ov: &Service,
        runtime_id: &Option<String>,
    ) -> Vec<Sourced<String>> {
        let env = self.env;
        let mut out: Vec<Sourced<String>> = Vec::new();
        let add = |dep: &String, origin: Origin, p: String, out: &mut Vec<Sourced<String>>| {
            if !out.iter().any(|d| &d.value == dep) {
                out.push(Sourced::new(dep.clone(), origin, Some(p)));
            }
        };
        for (i, dep) in service.depends_on.iter().enumerate() {
            // A declared self-dependency is reported by the graph check; an inherited one is dropped.
            add(dep, Origin::Service, pointer(&["services", name, "depends_on", &i.to_string()]), &mut out);
        }
        if let (Some(r), Some(id)) = (runtime, runtime_id) {
            for (i, dep) in r.depends_on.iter().enumerate() {
                if dep != name {
                    add(dep, Origin::Runtime { id: id.clone() }, pointer(&["runtimes", id, "depends_on", &i.to_string()]), &mut out);
                }
            }
        }
        for (i, dep) in ov.depends_on.iter().enumerate() {
            if dep != name {
                add(
                    dep,
                    Origin::EnvOverride { env: env.into() },
                    pointer(&["environments", env, "services", name, "depends_on", &i.to_string()]),
                    &mut out,
                );
            }
        }
        out
    }
}
