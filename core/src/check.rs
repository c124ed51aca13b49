//! Semantic rules over the typed model and each resolved environment. Each rule is a small
//! function with one code, so a rule can be read, tested and changed on its own.

use crate::diagnostic::{Code, Diagnostic};
use crate::document::{pointer, Document, Pointer};
use crate::model::{Project, ProviderId, Scaling, Service};
use crate::names;
use crate::resolve::ResolvedEnvironment;
use crate::source::Span;
use crate::yaml::Value;
use std::collections::HashMap;
use std::path::Path;

/// Rules that do not depend on the environment.
pub fn project_rules(project: &Project, doc: &Document, fs: Fs<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    unquoted_version(doc, &mut out);
    for (name, service) in &project.services {
        let base = Pointer::of(&["services", name]);
        if !names::is_dns_label(name) {
            out.push(
                crate::schema::invalid_name(doc.key_span_of(&base), "service name", name)
                    .help("service names become container and DNS names: lowercase letters, digits and `-`"),
            );
        }
        if names::RESERVED_SERVICE_NAMES.contains(&name.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::ReservedServiceName,
                    doc.key_span_of(&base),
                    format!("`{name}` is a reserved service name: the cluster's own `nk-<project>-<env>-{name}` has that name"),
                )
                .label("reserved")
                .help(format!("rename the service (reserved: {})", names::RESERVED_SERVICE_NAMES.join(", "))),
            );
        }
        service_rules(service, &base, doc, fs, &mut out);
    }
    instance_name_collisions(project, doc, &mut out);
    for (env, environment) in &project.environments {
        let base = Pointer::of(&["environments", env]);
        if !names::is_dns_label(env) {
            out.push(
                crate::schema::invalid_name(doc.key_span_of(&base), "environment name", env)
                    .help("environment names become part of resource names: lowercase letters, digits and `-`"),
            );
        }
        for (name, service) in &environment.services {
            service_rules(service, &base.child("services").child(name), doc, fs, &mut out);
        }
        infra_rules(project, env, doc, &mut out);
    }
    url_collisions(project, doc, &mut out);
    crate::secret_rules::project_rules(project, doc, &mut out);
    out
}

/// Two environment/service pairs of this file whose deployed names are the same (env `local`
/// with service `a-b`, and env `local-a` with service `b`, both give `nk-<p>-local-a-b`): each
/// deploy would find the other's container under its own name.
fn instance_name_collisions(project: &Project, doc: &Document, out: &mut Vec<Diagnostic>) {
    let envs: Vec<&String> = project.environments.keys().collect();
    if envs.len() < 2 {
        return;
    }
    // suffix after `nk-<project>-` → (env, kind, name)
    let mut seen: HashMap<String, (&str, &str, &str)> = HashMap::new();
    for env in &envs {
        let services = project.services.keys().map(|s| ("service", s.as_str()));
        let reserved = names::RESERVED_SERVICE_NAMES.iter().map(|r| ("the cluster's", *r));
        for (kind, name) in services.chain(reserved) {
            let full = format!("{env}-{name}");
            match seen.get(&full) {
                Some((other_env, other_kind, other_name)) if *other_env != env.as_str() => {
                    let (key, mine, theirs) = if kind == "service" {
                        (pointer(&["services", name]), format!("service `{name}`"), format!("{other_kind} `{other_name}`"))
                    } else {
                        (pointer(&["services", other_name]), format!("{other_kind} `{other_name}`"), format!("{kind} `{name}`"))
                    };
                    let (mine_env, their_env) = if kind == "service" { (env.as_str(), *other_env) } else { (*other_env, env.as_str()) };
                    out.push(
                        Diagnostic::new(
                            Code::InstanceNameCollision,
                            doc.key_span_of(&key),
                            format!(
                                "in environment `{mine_env}`, {mine} is deployed as `nk-{}-{full}`, the same name as {theirs} in environment `{their_env}`",
                                project.name.as_deref().unwrap_or("<project>")
                            ),
                        )
                        .label("name collides after joining with `-`")
                        .related(doc.key_span_of(&pointer(&["environments", their_env])), format!("environment `{their_env}`"))
                        .help("rename the service or one of the environments so the joined names differ"),
                    );
                }
                Some(_) => {}
                None => {
                    seen.insert(full, (env.as_str(), kind, name));
                }
            }
        }
    }
}

fn unquoted_version(doc: &Document, out: &mut Vec<Diagnostic>) {
    if let Some(node) = doc.node("/version") {
        if node.value == Value::Int(1) {
            out.push(
                Diagnostic::new(Code::UnquotedVersion, node.span, "`version` should be the string \"1\"")
                    .label("a number here")
                    .help("quote it: `version: \"1\"`")
                    .fix("Quote the version", node.span, "\"1\""),
            );
        }
    }
}

/// The opt-in for service paths outside the project folder, read by each front end from its
/// environment (the core reads no environment).
pub const ALLOW_OUTSIDE_PATHS_VAR: &str = "NANOKIT_ALLOW_OUTSIDE_PATHS";

/// Whether an environment value of [`ALLOW_OUTSIDE_PATHS_VAR`] opts in.
pub fn allows_outside_paths(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1" || v == "true")
}

/// What the filesystem rules need: the folder of nanokit.yml (`None` skips them) and whether
/// the user opted in to service paths outside it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fs<'a> {
    pub base_dir: Option<&'a Path>,
    pub allow_outside_paths: bool,
}

/// `path` joined to `base`, with `.` and `..` resolved as text, then through symlinks when it
/// exists: the folder that would really be mounted.
fn effective_path(base: &Path, path: &str) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in base.join(path).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out.canonicalize().unwrap_or(out)
}

/// Where the service's `path` really points, when it lies outside the project folder.
pub fn path_outside_project(base: &Path, path: &str) -> Option<std::path::PathBuf> {
    let root = base.canonicalize().unwrap_or_else(|_| effective_path(base, "."));
    let full = effective_path(&root, path);
    (!full.starts_with(&root)).then_some(full)
}

fn service_rules(service: &Service, base: &Pointer, doc: &Document, fs: Fs<'_>, out: &mut Vec<Diagnostic>) {
    let base_dir = fs.base_dir;
    if let (Some(expose), Some(port)) = (service.expose, service.port) {
        if expose != port {
            let p = base.child("port");
            out.push(
                Diagnostic::new(Code::ExposePortConflict, doc.span_of(&p), format!("`port: {port}` conflicts with `expose: {expose}`"))
                    .label("`port` is an alias of `expose`")
                    .related(doc.span_of(&base.child("expose")), "`expose` is set here")
                    .help("keep one of them; `expose` is the documented name"),
            );
        }
    }
    if let (Some(path), Some(dir)) = (&service.path, base_dir) {
        let full = dir.join(path);
        let outside = if fs.allow_outside_paths { None } else { path_outside_project(dir, path) };
        if let Some(real) = outside {
            out.push(
                Diagnostic::new(
                    Code::PathOutsideProject,
                    doc.span_of(&base.child("path")),
                    format!("path `{path}` is outside the project folder (it is {})", real.display()),
                )
                .label("outside the folder of nanokit.yml")
                .help(format!("the path is mounted read-write and `install` runs in it as root; move the code inside the project, or opt in by setting {ALLOW_OUTSIDE_PATHS_VAR}=1 where nkdev and the editor run")),
            );
        } else if !full.exists() {
            out.push(
                Diagnostic::new(Code::PathNotFound, doc.span_of(&base.child("path")), format!("path `{path}` does not exist"))
                    .label("no such directory")
                    .help("paths are relative to the folder that holds nanokit.yml"),
            );
        } else if !full.is_dir() {
            out.push(
                Diagnostic::new(Code::PathNotFound, doc.span_of(&base.child("path")), format!("path `{path}` is a file, not a directory"))
                    .label("not a directory"),
            );
        }
    }
    for (i, volume) in service.volumes.iter().enumerate() {
        if let Err(problem) = crate::model::Volume::parse(volume) {
            out.push(
                Diagnostic::new(
                    Code::InvalidVolume,
                    doc.span_of(&base.child("volumes").child(i)),
                    format!("invalid volume `{volume}`: {problem}"),
                )
                .label("expected `name:/container/path`")
                .help("named volumes are written `name:/absolute/path/in/container`, e.g. `node_modules:/app/node_modules`"),
            );
        }
    }
    if let Some(hc) = &service.healthcheck {
        let p = base.child("healthcheck");
        let problem = match (&hc.path, &hc.cmd) {
            (Some(_), Some(_)) => Some("sets both `path` and `cmd`; use one"),
            (None, None) => Some("needs `path` (HTTP probe) or `cmd` (command probe)"),
            _ => None,
        };
        if let Some(problem) = problem {
            out.push(Diagnostic::new(Code::InvalidHealthcheck, doc.key_span_of(&p), format!("healthcheck {problem}")));
        }
        if let Some(path) = &hc.path {
            if !path.starts_with('/') {
                let span = doc.span_of(&p.child("path"));
                let mut d = Diagnostic::new(Code::InvalidHealthcheck, span, "healthcheck `path` must start with `/`");
                if let Some(at) = leading_slash_insert(doc, span) {
                    d = d.fix("Add a leading `/`", Span::new(at, at), "/");
                }
                out.push(d);
            }
        }
        for field in ["interval", "timeout"] {
            let value = if field == "interval" { &hc.interval } else { &hc.timeout };
            if value.as_ref().is_some_and(|d| d.as_millis().is_none_or(|ms| ms == 0 || ms > names::MAX_DURATION_MS)) {
                out.push(Diagnostic::new(
                    Code::InvalidHealthcheck,
                    doc.span_of(&p.child(field)),
                    format!("healthcheck `{field}` must be a positive duration of at most 24h"),
                ));
            }
        }
    }
    if let Some(host) = &service.host {
        if let Some(problem) = names::hostname_problem(host) {
            out.push(
                Diagnostic::new(Code::InvalidHost, doc.span_of(&base.child("host")), format!("invalid host `{host}`: {problem}"))
                    .label("not a hostname"),
            );
        }
    }
}

/// Where a `/` goes in front of a scalar written on one line, plainly or in quotes (after the
/// opening quote). Nothing for block scalars, aliases, or text with `$` (`${VAR}`, `$$`), whose
/// written form is not the value the rule saw.
fn leading_slash_insert(doc: &Document, span: Span) -> Option<usize> {
    let raw = doc.text.get(span.start..span.end)?;
    if raw.contains(['\n', '$']) || raw.starts_with(['|', '>', '*', '&', '!']) {
        return None;
    }
    Some(if raw.starts_with(['"', '\'']) { span.start + 1 } else { span.start })
}

fn infra_rules(project: &Project, env: &str, doc: &Document, out: &mut Vec<Diagnostic>) {
    let Some(infra) = project.environments.get(env).and_then(|e| e.infra.as_ref()) else {
        return;
    };
    let base = Pointer::of(&["environments", env, "infra"]);
    if let Some(host) = &infra.host {
        engine_host_rules(host, infra.provider.as_ref(), &base, doc, out);
    }
    if let Some(cidr) = &infra.cidr {
        if let Some(problem) = names::cidr_problem(cidr).or_else(|| names::vpc_cidr_size_problem(cidr)) {
            out.push(
                Diagnostic::new(Code::InvalidCidr, doc.span_of(&base.child("cidr")), format!("invalid CIDR `{cidr}`: {problem}"))
                    .label("expected e.g. 10.0.0.0/16"),
            );
        }
    }
    if let (Some(min), Some(max)) = (infra.min, infra.max) {
        if min > max {
            out.push(
                Diagnostic::new(Code::MinAboveMax, doc.span_of(&base.child("min")), format!("`min: {min}` is greater than `max: {max}`"))
                    .related(doc.span_of(&base.child("max")), "`max` is set here"),
            );
        }
    }
    // `max` bounds automatic scaling only; `min` is also the task count, so it always acts.
    // Under `docker`, which reads neither, NK073 says so instead.
    let docker = infra.provider.as_ref().is_none_or(|p| *p == ProviderId::DOCKER);
    if infra.max.is_some() && infra.scaling == Some(Scaling::Manual) && !docker {
        out.push(
            Diagnostic::new(
                Code::ScalingBoundsWithoutAuto,
                doc.key_span_of(&base.child("max")),
                "`max` has no effect with `scaling: manual`",
            )
            .related(doc.span_of(&base.child("scaling")), "scaling is manual here")
            .help("set `scaling: auto` to scale between `min` and `max`, or remove `max` (`min` stays the number of instances)"),
        );
    }
    if infra.provider == Some(ProviderId::AWS) && infra.region.is_none() {
        out.push(
            Diagnostic::new(Code::AwsWithoutRegion, doc.key_span_of(&base.child("provider")), "`provider: aws` needs a `region`")
                .label("no region in this infra block")
                .help("add `region: us-east-1` (or your region) to this `infra` block"),
        );
    }
    if infra.shared == Some(true) && project.component.is_none() {
        out.push(
            Diagnostic::new(Code::SharedWithoutComponent, doc.key_span_of(&base.child("shared")), "`shared: true` needs a top-level `component`")
                .label("adopts another repository's infrastructure")
                .help("without `component`, this repository's ownership scope defaults to the project name, the same as an owner repo that set none; add `component: <this-repo>` at the top level so it can never touch the owner's resources"),
        );
    }
}

/// `infra.host`: an engine address (NK061, by [`crate::engine_host::parse`], the rules the CLI's
/// engine selection reads too) under provider `docker`, the only one that reads it (NK062).
fn engine_host_rules(host: &str, provider: Option<&ProviderId>, base: &Pointer, doc: &Document, out: &mut Vec<Diagnostic>) {
    let p = base.child("host");
    if let Err(problem) = crate::engine_host::parse(host) {
        out.push(
            // The parser's message already shows the accepted forms.
            Diagnostic::new(Code::InvalidEngineHost, doc.span_of(&p), problem).label("not a Docker engine address"),
        );
    }
    // An `infra` without `provider` deploys with `docker`, the default: nothing to warn about.
    if let Some(provider) = provider.filter(|p| **p != ProviderId::DOCKER) {
        out.push(
            Diagnostic::new(
                Code::HostWithoutDocker,
                doc.key_span_of(&p),
                format!("`infra.host` is read by provider `docker` only; provider `{}` ignores it", provider.as_str()),
            )
            .label("ignored")
            .related(doc.span_of(&base.child("provider")), format!("provider `{}` is set here", provider.as_str()))
            .help("remove `host`, or set `provider: docker` to deploy to that engine"),
        );
    }
}

fn url_collisions(project: &Project, doc: &Document, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<String, &String> = HashMap::new();
    for name in project.services.keys() {
        let var = names::url_variable(name);
        if let Some(first) = seen.get(&var) {
            out.push(
                Diagnostic::new(
                    Code::UrlNameCollision,
                    doc.key_span_of(&pointer(&["services", name])),
                    format!("services `{first}` and `{name}` would both be injected as `{var}`"),
                )
                .related(doc.key_span_of(&pointer(&["services", first])), format!("`{first}` is defined here"))
                .help("rename one of the services"),
            );
        } else {
            seen.insert(var, name);
        }
    }
}

/// Rules over one resolved environment.
pub fn environment_rules(env: &ResolvedEnvironment, doc: &Document, deployable: &[ProviderId]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut hosts: HashMap<&str, (&str, Option<&String>)> = HashMap::new();
    for (name, service) in &env.services {
        if let Some(host) = &service.host {
            match hosts.get(host.value.as_str()) {
                Some((first, first_pointer)) => {
                    let span = doc.span_of(host.pointer.as_deref().unwrap_or_default());
                    let mut d =
                        Diagnostic::new(Code::DuplicateHost, span, format!("host `{}` is already routed to service `{first}`", host.value))
                            .label("duplicate host")
                            .help("each host routes to one service; give this one another host");
                    if let Some(p) = first_pointer {
                        d = d.related(doc.span_of(p), format!("`{first}` uses this host"));
                    }
                    out.push(d);
                }
                None => {
                    hosts.insert(&host.value, (name, host.pointer.as_ref()));
                }
            }
            if service.expose.is_none() {
                out.push(
                    Diagnostic::new(
                        Code::NoPort,
                        doc.span_of(host.pointer.as_deref().unwrap_or_default()),
                        format!("service `{name}` has a host but no port to route to"),
                    )
                    .help("set `expose:` to the port the service listens on"),
                );
            }
        }
        if service.image.is_none() {
            if let Some(runtime) = &service.runtime {
                let span = doc.span_of(runtime.pointer.as_deref().unwrap_or_default());
                let known = env.services.contains_key(name)
                    && (crate::runtimes::builtin(&runtime.value).is_some() || doc.node(&pointer(&["runtimes", &runtime.value])).is_some());
                if known {
                    out.push(
                        Diagnostic::new(
                            Code::NoImage,
                            span,
                            format!("service `{name}` has no image: runtime `{}` does not set one", runtime.value),
                        )
                        .help(format!("add `image:` to `runtimes.{}` or to the service", runtime.value)),
                    );
                }
            }
        }
    }
    crate::secret_rules::environment_rules(env, doc, &mut out);
    if !deployable.contains(&env.provider) && crate::provider_plugins::find(env.provider.as_str()).is_none() {
        let p = pointer(&["environments", &env.env, "infra", "provider"]);
        let list: Vec<&str> = deployable.iter().map(|p| p.as_str()).collect();
        let plugin = format!("{}{}", crate::provider_plugins::PREFIX, env.provider);
        // A typo of a built-in id is likelier than a plugin nobody installed.
        let help = match list.iter().find(|known| strsim::levenshtein(known, env.provider.as_str()) <= 1) {
            Some(known) => format!("did you mean `{known}`? Otherwise install the plugin: an executable `{plugin}` on PATH or in ~/.nanokit/providers (docs/providers.md)"),
            None => format!(
                "`nkdev up` deploys to {} and to installed plugins; install one as an executable `{plugin}` on PATH or in ~/.nanokit/providers (docs/providers.md)",
                list.join(", ")
            ),
        };
        out.push(
            Diagnostic::new(
                Code::ProviderNotDeployable,
                doc.span_of(&p),
                format!("provider `{}` is neither built into nkdev nor installed as a plugin (`{plugin}`)", env.provider),
            )
            .help(help),
        );
    }
    out
}
