//! `up`, `plan`, `destroy`, `status` and `logs` with the Docker provider.

use crate::args::{DeployArgs, FileArgs, OutputFormat, ProgressFormat};
use crate::deploy::interrupt::Signals;
use crate::deploy::lock::{self, LockInfo};
use crate::deploy::report::{Mode, Progress};
use crate::deploy::{executor, state};
use crate::docker::engine::Engine;
use crate::docker::{DockerProvider, DockerSettings};
use anyhow::{anyhow, bail, Result};
use nanokit_core::model::ProviderId;
use nanokit_core::plan::{self, Action, Desired, Plan};
use nanokit_core::provider::{labels, Provider, Reporter};
use nanokit_core::resolve::ResolvedEnvironment;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// The Docker provider's settings: the engine's defaults (local or remote), then the user's.
fn settings(args: &DeployArgs, engine: &Engine) -> DockerSettings {
    let defaults = DockerSettings::for_engine(engine.is_remote());
    DockerSettings {
        gateway_image: args.gateway_image.clone(),
        gateway_port: args.gateway_port.unwrap_or(defaults.gateway_port),
        gateway_https_port: args.gateway_https_port.unwrap_or(defaults.gateway_https_port),
        gateway_bind: args.gateway_bind.clone().unwrap_or(defaults.gateway_bind.clone()),
        tls: args.tls.unwrap_or(defaults.tls),
        ready_timeout: Duration::from_secs(args.timeout),
        ..defaults
    }
}

/// The Docker engine an environment deploys to: its `infra.host`, else what the `docker` CLI
/// would use. Known before connecting, so the plan (the gateway's settings) can depend on it.
pub fn engine_of(resolved: &ResolvedEnvironment) -> Result<Engine> {
    crate::docker::engine::current(&resolved.env, resolved.infra.host.as_deref()).map_err(|e| anyhow!(e))
}

fn progress(args: &DeployArgs) -> Progress {
    Progress::new(match args.progress {
        ProgressFormat::Json => Mode::Json,
        ProgressFormat::Plain => Mode::Plain,
        ProgressFormat::Auto if std::io::stdout().is_terminal() => Mode::Tty,
        ProgressFormat::Auto => Mode::Plain,
    })
}

struct Target {
    resolved: ResolvedEnvironment,
    graph: nanokit_core::graph::Graph,
    project_dir: PathBuf,
    /// The Docker engine, for `provider: docker`.
    engine: Option<Engine>,
    /// What `env:` secrets read (the process environment and the .env files).
    variables: nanokit_core::variables::Variables,
}

impl Target {
    /// What the plan should say about how services reach their files on this engine.
    fn engine_notes(&self, desired: &Desired) -> Vec<String> {
        let Some(engine) = self.engine.as_ref().filter(|e| e.is_remote()) else { return Vec::new() };
        desired
            .services
            .iter()
            .filter_map(|s| {
                let folder = s.mount.as_ref()?;
                let shown = folder.strip_prefix(&self.project_dir).unwrap_or(folder);
                Some(format!(
                    "`{}`: {} is copied into its container (the engine at {} cannot mount a folder of this machine); a change to its files redeploys it",
                    s.name,
                    shown.display(),
                    engine.address
                ))
            })
            .collect()
    }
}

impl Target {
    /// The desired state of `services` (all when empty), with who deploys it: this checkout
    /// (its machine and folder) and the user's opt-ins.
    /// (`deploying`: the services' files are read for their digest on a remote engine, and a
    /// folder that cannot be read is an error; `status` and `destroy` go on without it.)
    fn desired(&self, services: &[String], remove_orphans: bool, deploying: bool, args: &DeployArgs) -> Result<Desired> {
        let dir = std::fs::canonicalize(&self.project_dir).unwrap_or_else(|_| self.project_dir.clone());
        let options = plan::DeployOptions {
            source: crate::deploy::source::of(&dir, &lock::hostname()),
            remove_orphans,
            allow_outside_paths: nanokit_core::check::allows_outside_paths(
                std::env::var_os(nanokit_core::check::ALLOW_OUTSIDE_PATHS_VAR).as_deref(),
            ),
        };
        let mut desired = plan::desired(&self.resolved, &self.graph, services, &self.project_dir, &options).map_err(|e| anyhow!(e))?;
        self.read_secrets(&mut desired, deploying)?;
        if let Some(engine) = &self.engine {
            desired.cluster.gateway_settings = Some(settings(args, engine).gateway_fingerprint());
            if engine.is_remote() {
                // Copied, not mounted: a change to the files is a change to the service.
                for s in desired.services.iter_mut() {
                    if let Some(folder) = &s.mount {
                        match crate::docker::copy::digest(folder) {
                            Ok(files) => s.config_hash = crate::docker::copy::config_hash_with_files(&s.config_hash, &files),
                            Err(e) if deploying => bail!("service `{}`: cannot read its path {}: {e}", s.name, folder.display()),
                            Err(_) => {}
                        }
                    }
                }
            }
        }
        Ok(desired)
    }
}

impl Target {
    /// Read the `env:` and `file:` secrets of the services to deploy, and fold a digest of
    /// their values into each config hash (a changed value rolls the service; the value is
    /// never stored). Deploying, a secret that cannot be read stops everything before any
    /// change, naming every such secret and its source; `status` and `destroy` go on without.
    fn read_secrets(&self, desired: &mut Desired, deploying: bool) -> Result<()> {
        // One read per secret: what was checked is what is delivered.
        let mut missing = Vec::new();
        for s in desired.services.iter_mut() {
            let mut read = Vec::new();
            for (name, secret) in s.secrets.iter_mut() {
                match nanokit_core::secrets::read_local(&secret.secret.source, &self.variables, &self.project_dir) {
                    Ok(Some(value)) => {
                        read.push((name.clone(), value.clone()));
                        secret.value = Some(nanokit_core::secrets::SecretValue::new(value));
                    }
                    // The cloud's own sources are read by the cloud.
                    Ok(None) => {}
                    Err(e) => missing.push(format!("secret `{name}` of service `{}` ({}): {e}", s.name, secret.secret.source)),
                }
            }
            if !read.is_empty() {
                let digest = nanokit_core::secrets::digest(read.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                s.config_hash = nanokit_core::resolve::fold_config_hash(&s.config_hash, "secrets", &digest);
            }
        }
        if deploying && !missing.is_empty() {
            bail!(
                "cannot read {} secret{}; nothing was changed:\n{}\nset the variables (in the environment or a .env beside nanokit.yml) or create the files",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" },
                missing.iter().map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// The `env:`/`file:` secrets of `desired` that were not read, with why (for the plan's
    /// notes): each named with its service and source, never a value.
    fn unread_secrets(&self, desired: &Desired) -> Vec<String> {
        let mut out = Vec::new();
        for s in &desired.services {
            for (name, secret) in s.secrets.iter().filter(|(_, v)| v.value.is_none() && !v.secret.source.is_cloud()) {
                let why = nanokit_core::secrets::read_local(&secret.secret.source, &self.variables, &self.project_dir)
                    .err()
                    .map_or_else(|| "not read".to_string(), |e| e.to_string());
                out.push(format!("secret `{name}` of service `{}` ({}): {why}", s.name, secret.secret.source));
            }
        }
        out
    }
}

/// Load the file, check it, and check that this build can deploy its provider.
fn target(common: &FileArgs) -> Result<Target> {
    let loaded = super::load_valid(common)?;
    let env = common.env();
    let with_graph =
        loaded.analysis.environment(env).ok_or_else(|| anyhow!("environment `{env}` is not defined in {}", loaded.path.display()))?;
    let provider = with_graph.resolved.provider;
    if !crate::providers::deployable_providers().contains(&provider) {
        let list: Vec<&str> = crate::providers::deployable_providers().iter().map(|p| p.as_str()).collect();
        bail!(
            "environment `{env}` uses provider `{}`, which this build of nkdev cannot deploy to; it deploys to: {}",
            provider.as_str(),
            list.join(", ")
        );
    }
    let project_dir =
        loaded.path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }).unwrap_or(Path::new(".")).to_path_buf();
    let engine = if provider == ProviderId::Docker { Some(engine_of(&with_graph.resolved)?) } else { None };
    let t = Target {
        resolved: with_graph.resolved.clone(),
        graph: with_graph.graph.clone(),
        project_dir,
        engine,
        variables: loaded.variables.clone(),
    };
    // Where state will be kept is known before any engine is reached (no HOME: refused now).
    state_dir(&t)?;
    Ok(t)
}

fn print_plan(plan: &Plan, desired: &Desired, target: &str) {
    let c = &desired.cluster;
    let on = if target.is_empty() { String::new() } else { format!(" on {target}") };
    println!(
        "plan for {}/{}{on} (component `{}`{}):",
        c.project,
        c.env,
        c.component,
        if c.shared { ", shared infrastructure" } else { "" }
    );
    for step in &plan.steps {
        let mark = match step.action {
            Action::Keep { .. } => "=",
            Action::Remove { .. } | Action::RemoveGateway | Action::RemoveNetwork => "-",
            Action::Recreate { .. }
            | Action::UpdateRoutes { .. }
            | Action::Start { .. }
            | Action::StartGateway
            | Action::RecreateGateway => "~",
            _ => "+",
        };
        println!("  {mark} {}", step.describe());
    }
    for note in &plan.notes {
        println!("  ! {note}");
    }
}

/// The cluster lock, on the platform itself so that every machine sees it: a never-started
/// container on the Docker engine, an SSM parameter on AWS.
enum HeldLock {
    Engine(crate::docker::lock::EngineLock),
    #[cfg(feature = "aws")]
    Ssm(crate::aws::lock::SsmLock),
}

impl HeldLock {
    async fn release(self) {
        match self {
            HeldLock::Engine(l) => l.release().await,
            #[cfg(feature = "aws")]
            HeldLock::Ssm(l) => l.release().await,
        }
    }
}

/// One connected provider of either kind, so commands are written once, generically.
enum Backend {
    Docker(Box<DockerProvider>),
    #[cfg(feature = "aws")]
    Aws(Box<crate::aws::AwsProvider>),
}

// `desired` is read by the AWS provider's checks only.
#[cfg_attr(not(feature = "aws"), allow(unused_variables))]
async fn connect(t: &Target, desired: &Desired, args: &DeployArgs) -> Result<Backend> {
    match t.resolved.provider {
        #[cfg(feature = "aws")]
        ProviderId::Aws => {
            let region = t.resolved.infra.region.clone().ok_or_else(|| anyhow!("`provider: aws` needs a `region`"))?;
            crate::aws::AwsProvider::check(desired, &t.resolved)?;
            Ok(Backend::Aws(Box::new(
                crate::aws::AwsProvider::connect(&region, t.resolved.infra.clone(), Duration::from_secs(args.timeout)).await?,
            )))
        }
        _ => Ok(Backend::Docker(Box::new(docker_provider(t, args).await?))),
    }
}

async fn docker_provider(t: &Target, args: &DeployArgs) -> Result<DockerProvider> {
    let engine = match &t.engine {
        Some(e) => e.clone(),
        None => engine_of(&t.resolved)?,
    };
    let settings = settings(args, &engine);
    Ok(DockerProvider::connect(engine, settings).await?)
}

impl Backend {
    /// Why the way to the platform failed, if it did (a lost SSH connection), to add to an error.
    fn transport_problem(&self) -> Option<String> {
        match self {
            Backend::Docker(p) => p.transport_problem(),
            #[cfg(feature = "aws")]
            Backend::Aws(_) => None,
        }
    }

    /// `result`, with the transport's own account of a failure added when the failure is the
    /// engine not answering (not, say, an ownership conflict after a session that failed once).
    fn explain<T>(&self, result: Result<T>) -> Result<T> {
        match (result, self.transport_problem()) {
            (Err(e), Some(problem)) if crate::docker::is_transport_failure(&format!("{e:#}")) => Err(e.context(problem)),
            (result, _) => result,
        }
    }

    async fn lock(&self, t: &Target, command: &str, args: &DeployArgs) -> Result<HeldLock> {
        let info = LockInfo::current(&t.resolved.component, command);
        match self {
            Backend::Docker(p) => {
                crate::docker::lock::acquire(p.client(), &args.gateway_image, &t.resolved.project, &t.resolved.env, &info)
                    .await
                    .map(HeldLock::Engine)
            }
            #[cfg(feature = "aws")]
            Backend::Aws(p) => {
                let name = crate::aws::names::lock_parameter(&t.resolved.project, &t.resolved.env);
                crate::aws::lock::acquire(&p.ssm, &name, &info).await.map(HeldLock::Ssm)
            }
        }
    }
}

/// Run `body` with the provider inside the cluster lock; the lock is released on success,
/// on error and on SIGINT, SIGTERM or SIGHUP.
macro_rules! with_provider {
    ($backend:expr, $p:ident => $body:expr) => {
        match $backend {
            Backend::Docker($p) => {
                let $p = &**$p;
                $body
            }
            #[cfg(feature = "aws")]
            Backend::Aws($p) => {
                let $p = &**$p;
                $body
            }
        }
    };
}

/// Run a deploy future; SIGINT, SIGTERM or SIGHUP stops it (nothing more is changed) and
/// returns an error naming the signal, so the caller releases the lock and exits non-zero.
/// What the deploy had not yet seen ready is already in the state file (`run_up`).
async fn interruptible<T>(signals: &mut Signals, t: &Target, next: &str, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        r = f => r,
        signal = signals.recv() => {
            let unready = unready_from_state(t).unwrap_or_default();
            let retried = if unready.is_empty() {
                String::new()
            } else {
                format!(" (not yet seen ready, recorded to be retried: {})", unready.join(", "))
            };
            bail!("interrupted by {signal}; stopped before finishing{retried}, nothing more was changed and the cluster lock is released. Run `{next}` again to converge")
        }
    }
}

pub fn up(services: &[String], dry_run: bool, remove_orphans: bool, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let t = target(common)?;
    let desired = t.desired(services, remove_orphans, !dry_run, args)?;
    let reporter = progress(args);
    runtime()?.block_on(async {
        let mut signals = Signals::install()?;
        let backend = interruptible(&mut signals, &t, "nkdev up", connect(&t, &desired, args)).await?;
        // Planning changes nothing, so it needs no lock: a dry run, or a deploy with nothing to
        // do, never takes one (on Docker the lock is a container created and removed on the
        // engine, which would cost a no-op `up` most of its time). A deploy that changes
        // something takes the lock, then observes and plans again under it.
        let read_only = dry_run
            || with_provider!(&backend, p => interruptible(&mut signals, &t, "nkdev up", plan_up(p, &desired, &t)).await)?.is_noop();
        let command = format!("nkdev up {}", services.join(" ")).trim().to_string();
        let lock = if read_only { None } else { Some(backend.lock(&t, &command, args).await?) };
        let result = with_provider!(&backend, p => interruptible(&mut signals, &t, "nkdev up", run_up(p, &desired, &t, dry_run, lock.is_some(), args, &reporter)).await);
        let result = backend.explain(result);
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    })
}

/// Observe and plan, changing nothing.
async fn plan_up<P: Provider>(provider: &P, desired: &Desired, t: &Target) -> Result<Plan> {
    let mut observed = provider.observe(desired).await?;
    // The provider may know of unready services too (a replacement an interrupted deploy left).
    observed.unready.extend(unready_from_state(t)?);
    let mut plan = plan::plan(desired, &observed).map_err(|e| anyhow!(e))?;
    plan.notes.extend(t.engine_notes(desired));
    Ok(plan)
}

async fn run_up<P: Provider>(
    provider: &P,
    desired: &Desired,
    t: &Target,
    dry_run: bool,
    locked: bool,
    args: &DeployArgs,
    reporter: &Progress,
) -> Result<u8> {
    let plan = plan_up(provider, desired, t).await?;
    if args.progress == ProgressFormat::Json {
        reporter.event(serde_json::json!({"event": "plan", "plan": plan, "dry_run": dry_run}));
    } else {
        print_plan(&plan, desired, &provider.target());
    }
    if dry_run {
        for problem in t.unread_secrets(desired) {
            reporter.note(&format!("`nkdev up` would stop here: {problem}"));
        }
        return Ok(crate::exit::OK);
    }
    if plan.is_noop() {
        reporter.note(&format!(
            "nothing to do: {} service{} up to date",
            desired.services.len(),
            if desired.services.len() == 1 { "" } else { "s" }
        ));
        return Ok(crate::exit::OK);
    }
    if !locked {
        // Planned as "nothing to do" without the lock, changed since: another deploy is at work.
        bail!("the cluster changed while this deploy was planning (another deploy is running?); nothing was changed. Run `nkdev up` again");
    }
    // Until seen ready, every service the plan changes is unready, on disk first: a deploy
    // stopped by any signal (SIGKILL included) leaves them recorded for the next to retry.
    let changed = executor::changed_services(&plan);
    if !changed.is_empty() {
        mark_unready(t, &changed)?;
    }
    if let Err(failed) = executor::apply(provider, &plan, desired, reporter).await {
        // Record what did get deployed, so the next run's plan is accurate. When the platform
        // itself went away (an engine restart) that fails too; the deploy's own error is the
        // one to show, with the state left as the last good run wrote it.
        let mut error = failed.error;
        if let Err(state_error) = save_state(provider, desired, t, &failed.unready).await {
            error.details.push(format!("could not read back what was deployed ({state_error:#})"));
            if let Err(e) = mark_unready(t, &failed.unready) {
                error.details.push(format!("the state file was not updated: {e:#}"));
            }
        }
        return Err(anyhow!(error));
    }
    let after = save_state(provider, desired, t, &[]).await?;
    if let Some(engine) = &t.engine {
        // Where the gateway really serves: a shared repo's, or one this deploy did not
        // recreate, may differ from this command's settings.
        let mine = settings(args, engine).gateway_fingerprint();
        let fingerprint = after.gateway.as_ref().and_then(|g| g.settings.clone()).unwrap_or(mine.clone());
        let (scheme, port) = crate::docker::fingerprint_served(&fingerprint).unwrap_or(("http", 80));
        if fingerprint != mine && desired.cluster.shared {
            reporter.note(&format!("the shared gateway serves {scheme} on port {port} (its owner's settings, not this command's)"));
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        for s in desired.services.iter().filter(|s| s.host.is_some()) {
            let shown = if port == default_port { String::new() } else { format!(":{port}") };
            reporter.note(&format!("{} → {scheme}://{}{shown}", s.name, s.host.as_deref().unwrap_or_default()));
        }
    }
    Ok(crate::exit::OK)
}

fn state_dir(t: &Target) -> Result<std::path::PathBuf> {
    state::state_dir(t.resolved.provider.as_str(), &t.resolved.project, &t.resolved.env, t.resolved.shared, &t.project_dir)
}

/// This component's services that the last deploy left unready, from the state file.
fn unready_from_state(t: &Target) -> Result<Vec<String>> {
    let st = state::load(&state_dir(t)?, &t.resolved.env)?;
    Ok(st.and_then(|mut s| s.components.remove(&t.resolved.component)).map(|c| c.unready).unwrap_or_default())
}

/// Write this component's entry of the state file from what the platform now has, with the
/// services a failed deploy left `unready`.
async fn save_state<P: Provider>(
    provider: &P,
    desired: &Desired,
    t: &Target,
    unready: &[String],
) -> Result<nanokit_core::provider::Observed> {
    let observed = provider.observe(desired).await?;
    write_state_entry(
        t,
        Some(&|entry: &mut state::ComponentState| {
            for o in observed.services.iter().filter(|o| o.component == t.resolved.component) {
                let image = desired.service(&o.service).map(|s| s.image.clone()).unwrap_or_default();
                entry.services.insert(
                    o.service.clone(),
                    state::ServiceState { instance: o.name.clone(), image, config_hash: o.config_hash.clone(), host: o.host.clone() },
                );
            }
            entry.unready = unready.to_vec();
        }),
    )?;
    Ok(observed)
}

/// The services a plan creates, recreates or starts.
/// Without the platform to observe, keep this component's last entry and add what to retry.
fn mark_unready(t: &Target, unready: &[String]) -> Result<()> {
    let dir = state_dir(t)?;
    let mut st = state::load(&dir, &t.resolved.env)?.unwrap_or_else(|| new_state(t));
    let entry = st.components.entry(t.resolved.component.clone()).or_default();
    for u in unready {
        if !entry.unready.contains(u) {
            entry.unready.push(u.clone());
        }
    }
    state::save(&dir, &st)
}

fn new_state(t: &Target) -> state::State {
    state::State {
        project: t.resolved.project.clone(),
        env: t.resolved.env.clone(),
        provider: t.resolved.provider.as_str().into(),
        ..state::State::default()
    }
}

/// Rewrite this component's entry (`fill` gets a fresh one), or drop it when `fill` is `None`.
fn write_state_entry(t: &Target, fill: Option<&dyn Fn(&mut state::ComponentState)>) -> Result<()> {
    let dir = state_dir(t)?;
    let mut st = state::load(&dir, &t.resolved.env)?.unwrap_or_else(|| new_state(t));
    match fill {
        None => {
            st.components.remove(&t.resolved.component);
        }
        Some(fill) => {
            let mut entry = state::ComponentState { deployed_at: lock::now(), ..Default::default() };
            fill(&mut entry);
            st.components.insert(t.resolved.component.clone(), entry);
        }
    }
    state::save(&dir, &st)
}

pub fn destroy(dry_run: bool, volumes: bool, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let t = target(common)?;
    let desired = t.desired(&[], false, false, args)?;
    let reporter = progress(args);
    runtime()?.block_on(async {
        let mut signals = Signals::install()?;
        let backend = interruptible(&mut signals, &t, "nkdev destroy", connect(&t, &desired, args)).await?;
        let lock = if dry_run { None } else { Some(backend.lock(&t, "nkdev destroy", args).await?) };
        let result =
            with_provider!(&backend, p => interruptible(&mut signals, &t, "nkdev destroy", run_destroy(p, &desired, &t, dry_run, &reporter)).await);
        let result = backend.explain(result);
        let result = match (result, volumes && !dry_run, &backend) {
            (Ok(code), true, Backend::Docker(p)) => remove_volumes(p, &desired, &reporter).await.map(|()| code),
            (result, _, _) => result,
        };
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    })
}

async fn run_destroy<P: Provider>(provider: &P, desired: &Desired, t: &Target, dry_run: bool, reporter: &Progress) -> Result<u8> {
    let observed = provider.observe(desired).await?;
    let (plan, notes) = plan::destroy(&desired.cluster, &observed);
    print_plan(&plan, desired, &provider.target());
    for n in &notes {
        reporter.note(n);
    }
    if dry_run {
        return Ok(crate::exit::OK);
    }
    // Removals run in plan order: services, then routes, then gateway and network.
    for step in &plan.steps {
        reporter.step_started(step);
        let result = provider.apply(step, desired).await;
        reporter.step_finished(step, &result);
        result?;
    }
    write_state_entry(t, None)?;
    Ok(crate::exit::OK)
}

async fn remove_volumes(provider: &DockerProvider, desired: &Desired, reporter: &dyn Reporter) -> Result<()> {
    use bollard::volume::{ListVolumesOptions, RemoveVolumeOptions};
    let c = &desired.cluster;
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![
            format!("{}={}", labels::PROJECT, c.project),
            format!("{}={}", labels::ENV, c.env),
            format!("{}={}", labels::COMPONENT, c.component),
        ],
    )]);
    let list = provider.client().list_volumes(Some(ListVolumesOptions { filters })).await?;
    // The gateway's certificate volume goes with the gateway only: while other components
    // still use the gateway (so destroy kept it), its certificates stay.
    let gateway_kept = provider.client().inspect_container(&c.gateway, None).await.is_ok();
    for v in list.volumes.unwrap_or_default() {
        if gateway_kept && v.labels.get(labels::ROLE).map(String::as_str) == Some("gateway") {
            reporter.note(&format!("kept volume {} (the certificates of the gateway, still in use)", v.name));
            continue;
        }
        provider.client().remove_volume(&v.name, Some(RemoveVolumeOptions { force: false })).await?;
        reporter.note(&format!("removed volume {}", v.name));
    }
    Ok(())
}

pub fn status(format: OutputFormat, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let t = target(common)?;
    let desired = t.desired(&[], false, false, args)?;
    runtime()?.block_on(async {
        let provider = match connect(&t, &desired, args).await? {
            Backend::Docker(p) => p,
            #[cfg(feature = "aws")]
            Backend::Aws(p) => return status_from_observe(&*p, &desired, format).await,
        };
        let containers = provider.containers(&desired).await?;
        let mut rows = Vec::new();
        for c in &containers {
            let l = c.labels.clone().unwrap_or_default();
            if l.get(labels::ROLE).map(String::as_str) != Some("service") {
                continue;
            }
            let name = c.names.as_ref().and_then(|n| n.first()).map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
            let health = c
                .status
                .as_deref()
                .and_then(|s| s.split('(').nth(1))
                .map(|h| h.trim_end_matches(')').to_string())
                .unwrap_or_else(|| "-".into());
            let ours = desired
                .service(l.get(labels::SERVICE).map(String::as_str).unwrap_or_default())
                .is_some_and(|d| Some(&d.config_hash) == l.get(labels::CONFIG_HASH));
            rows.push(serde_json::json!({
                "service": l.get(labels::SERVICE),
                "component": l.get(labels::COMPONENT),
                "state": c.state,
                "health": health,
                "host": l.get(labels::HOST),
                "container": name,
                "up_to_date": ours,
            }));
        }
        rows.sort_by_key(|r| {
            (r["component"].as_str().unwrap_or_default().to_string(), r["service"].as_str().unwrap_or_default().to_string())
        });
        if format == OutputFormat::Text {
            println!("{}/{} on docker engine {}", desired.cluster.project, desired.cluster.env, provider.engine());
        }
        if rows.is_empty() && format == OutputFormat::Text {
            println!("no services deployed in {}/{}", desired.cluster.project, desired.cluster.env);
        }
        print_rows(
            &rows,
            &[
                ("SERVICE", "service", 20),
                ("COMPONENT", "component", 14),
                ("STATE", "state", 9),
                ("HEALTH", "health", 10),
                ("HOST", "host", 36),
                ("CONTAINER", "container", 0),
            ],
            format,
        )?;
        Ok(crate::exit::OK)
    })
}

/// A status table: JSON as is, or text columns of (title, key, width); width 0 is the last column.
fn print_rows(rows: &[serde_json::Value], columns: &[(&str, &str, usize)], format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    let line = |cells: Vec<String>| {
        cells.iter().zip(columns).map(|(c, (_, _, w))| format!("{c:<w$}", w = *w)).collect::<Vec<_>>().join(" ").trim_end().to_string()
    };
    println!("{}", line(columns.iter().map(|(title, _, _)| title.to_string()).collect()));
    for r in rows {
        println!("{}", line(columns.iter().map(|(_, key, _)| r[*key].as_str().unwrap_or("-").to_string()).collect()));
    }
    Ok(())
}

/// Status from any provider's view: service, component, running, host.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
async fn status_from_observe<P: Provider>(provider: &P, desired: &Desired, format: OutputFormat) -> Result<u8> {
    let observed = provider.observe(desired).await?;
    let mut rows: Vec<serde_json::Value> = observed
        .services
        .iter()
        .map(|o| serde_json::json!({"service": o.service, "component": o.component, "state": if o.running { "running" } else { "stopped" }, "host": o.host, "instance": o.name}))
        .collect();
    rows.sort_by_key(|r| (r["component"].as_str().unwrap_or_default().to_string(), r["service"].as_str().unwrap_or_default().to_string()));
    print_rows(
        &rows,
        &[
            ("SERVICE", "service", 20),
            ("COMPONENT", "component", 14),
            ("STATE", "state", 9),
            ("HOST", "host", 36),
            ("INSTANCE", "instance", 0),
        ],
        format,
    )?;
    Ok(crate::exit::OK)
}

pub fn logs(services: &[String], follow: bool, tail: Option<usize>, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    use futures_util::StreamExt;
    let t = target(common)?;
    if t.resolved.provider != ProviderId::Docker {
        bail!(
            "`nkdev logs` reads Docker containers; on {} the services log to CloudWatch log group /nanokit/{}/{}",
            t.resolved.provider.as_str(),
            t.resolved.project,
            t.resolved.env
        );
    }
    for s in services {
        if !t.resolved.services.contains_key(s) {
            return Err(crate::load::UsageError(format!("no service `{s}` in this file")).into());
        }
    }
    let names: Vec<(String, String)> = t
        .resolved
        .services
        .values()
        .filter(|s| services.is_empty() || services.contains(&s.name))
        .map(|s| (s.name.clone(), s.internal_host.clone()))
        .collect();
    let width = names.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    runtime()?.block_on(async {
        let provider = docker_provider(&t, args).await?;
        let streams = names.iter().map(|(name, container)| {
            let prefix = format!("{name:<width$} | ");
            provider.logs(container, follow, tail).map(move |item| (prefix.clone(), item))
        });
        let mut merged = futures_util::stream::select_all(streams.map(Box::pin));
        while let Some((prefix, item)) = merged.next().await {
            match item {
                Ok(chunk) => {
                    for line in chunk.to_string().lines() {
                        println!("{prefix}{line}");
                    }
                }
                Err(e) if e.to_string().contains("No such container") => eprintln!("{prefix}(not deployed)"),
                Err(e) => return Err(anyhow!(e)),
            }
        }
        Ok(crate::exit::OK)
    })
}
