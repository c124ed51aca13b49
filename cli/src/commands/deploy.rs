//! `up`, `plan`, `destroy`, `status`, `logs` and `infra unlock` with whichever provider the
//! environment names: picked from the registry (`crate::providers`), driven through the
//! `Provider` trait by `nanokit_deploy::session`. Nothing here knows a provider.

use crate::args::{DeployArgs, FileArgs, OutputFormat, ProgressFormat};
use crate::report::{Mode, Progress};
use anyhow::{anyhow, bail, Result};
use nanokit_core::plan::{self, Action, Desired, Plan};
use nanokit_core::resolve::ResolvedEnvironment;
use nanokit_deploy::interrupt::Signals;
use nanokit_deploy::provider::{LogRequest, Provider, Reporter, StatusRow};
use nanokit_deploy::registry::Environment;
use nanokit_deploy::session::{self, Book, Outcome, Session};
use nanokit_deploy::state;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

pub(super) fn progress(args: &DeployArgs) -> Progress {
    Progress::new(match args.progress {
        ProgressFormat::Json => Mode::Json,
        ProgressFormat::Plain => Mode::Plain,
        ProgressFormat::Auto if std::io::stdout().is_terminal() => Mode::Tty,
        ProgressFormat::Auto => Mode::Plain,
    })
}

/// One environment of a checked file, ready to deploy.
pub(super) struct Target {
    pub(super) resolved: ResolvedEnvironment,
    graph: nanokit_core::graph::Graph,
    pub(super) project_dir: PathBuf,
    /// What `env:` secrets read (the process environment and the .env files).
    variables: nanokit_core::variables::Variables,
    pub(super) book: Book,
}

/// Load the file, check it, and check that a provider for it is built in or installed.
pub(super) fn target(common: &FileArgs) -> Result<Target> {
    target_with(common, true)
}

/// [`target`]; without `require_provider` an uninstalled provider is no error (`infra unlock`).
fn target_with(common: &FileArgs, require_provider: bool) -> Result<Target> {
    let loaded = super::load_valid(common)?;
    let env = common.env();
    let with_graph =
        loaded.analysis.environment(env).ok_or_else(|| anyhow!("environment `{env}` is not defined in {}", loaded.path.display()))?;
    let resolved = with_graph.resolved.clone();
    let registry = crate::providers::registry();
    if require_provider && registry.find(resolved.provider.as_str()).is_none() {
        return Err(anyhow!(registry.not_found(resolved.provider.as_str())).context(format!("environment `{env}`")));
    }
    let project_dir =
        loaded.path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }).unwrap_or(Path::new(".")).to_path_buf();
    // Where state will be kept is known before any platform is reached (no HOME: refused now).
    let state_dir = state::state_dir(resolved.provider.as_str(), &resolved.project, &resolved.env, resolved.shared, &project_dir)?;
    let book = Book {
        project: resolved.project.clone(),
        env: resolved.env.clone(),
        component: resolved.component.clone(),
        provider: resolved.provider.to_string(),
        state_dir,
    };
    Ok(Target { resolved, graph: with_graph.graph.clone(), project_dir, variables: loaded.variables.clone(), book })
}

impl Target {
    /// Each of `services` is a service of the file (a usage error otherwise).
    pub(super) fn require_services(&self, services: &[String]) -> Result<()> {
        match services.iter().find(|s| !self.resolved.services.contains_key(*s)) {
            Some(s) => Err(crate::load::UsageError(format!("no service `{s}` in this file")).into()),
            None => Ok(()),
        }
    }

    /// The desired state of `services` (all when empty), with who deploys it: this checkout
    /// (its machine and folder) and the user's opt-ins, and the secrets read.
    /// (`deploying`: a secret that cannot be read is an error; `status` and `destroy` go on.)
    pub(super) fn desired(&self, services: &[String], remove_orphans: bool, deploying: bool) -> Result<Desired> {
        let dir = std::fs::canonicalize(&self.project_dir).unwrap_or_else(|_| self.project_dir.clone());
        let options = plan::DeployOptions {
            source: nanokit_deploy::source::of(&dir, &nanokit_deploy::lock::hostname()),
            remove_orphans,
            allow_outside_paths: nanokit_core::check::allows_outside_paths(
                std::env::var_os(nanokit_core::check::ALLOW_OUTSIDE_PATHS_VAR).as_deref(),
            ),
        };
        let mut desired = plan::desired(&self.resolved, &self.graph, services, &self.project_dir, &options).map_err(|e| anyhow!(e))?;
        self.read_secrets(&mut desired, deploying)?;
        Ok(desired)
    }

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

    /// Connect the environment's provider and fit `desired` to it (changing nothing).
    pub(super) async fn connect(&self, desired: &mut Desired, deploying: bool, args: &DeployArgs) -> Result<Box<dyn Provider>> {
        let provider = self.connect_only(args).await?;
        provider.prepare(desired, deploying).await?;
        Ok(provider)
    }

    /// Connect the environment's provider, without checking the file against it (`infra
    /// unlock` must work whatever the file says).
    async fn connect_only(&self, args: &DeployArgs) -> Result<Box<dyn Provider>> {
        nanokit_deploy::plugin::set_verbose(args.verbose);
        let registry = crate::providers::registry();
        let id = self.resolved.provider.as_str();
        let factory = registry.find(id).ok_or_else(|| anyhow!(registry.not_found(id)))?;
        let env = Environment::of(&self.resolved, &std::fs::canonicalize(&self.project_dir).unwrap_or_else(|_| self.project_dir.clone()));
        Ok(factory.connect(&env, &args.options()).await?)
    }
}

/// Take the cluster lock; when that fails the command ends, and the provider with it.
pub(super) async fn lock_or_end(provider: &dyn Provider, desired: &Desired, command: &str) -> Result<session::Held> {
    let lock = session::lock(provider, desired, command).await;
    if lock.is_err() {
        provider.shutdown().await;
    }
    lock
}

pub(super) fn print_plan(plan: &Plan, desired: &Desired, target: &str) {
    let c = &desired.cluster;
    let on = if target.is_empty() { String::new() } else { format!(" on {target}") };
    say!("plan for {}/{}{on} (component `{}`{}):", c.project, c.env, c.component, if c.shared { ", shared infrastructure" } else { "" });
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
        say!("  {mark} {}", step.describe());
    }
    for note in &plan.notes {
        say!("  ! {note}");
    }
}

pub fn up(services: &[String], dry_run: bool, remove_orphans: bool, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let t = target(common)?;
    let mut desired = t.desired(services, remove_orphans, !dry_run)?;
    let reporter = progress(args);
    let command = format!("nkdev up {}", services.join(" ")).trim().to_string();
    runtime()?.block_on(async {
        let mut signals = Signals::install()?;
        let provider = session::interruptible(&mut signals, &t.book, "nkdev up", t.connect(&mut desired, !dry_run, args)).await?;
        let provider = &*provider;
        let session = Session { provider, book: &t.book, reporter: &reporter };
        // Planning changes nothing, so it needs no lock: a dry run, or a deploy with nothing to
        // do, never takes one (on Docker the lock is a container created and removed on the
        // engine, which would cost a no-op `up` most of its time). A deploy that changes
        // something takes the lock, then observes and plans again under it.
        let read_only = dry_run || session::interruptible(&mut signals, &t.book, "nkdev up", session.plan(&desired)).await?.is_noop();
        // Not interruptible: a lock being taken is either taken (and released below, a signal
        // meanwhile stopping the deploy at its next step) or not, never left behind.
        let lock = if read_only { None } else { Some(lock_or_end(provider, &desired, &command).await?) };
        let show = |plan: &Plan| {
            if args.progress == ProgressFormat::Json {
                reporter.event(serde_json::json!({"event": "plan", "plan": plan, "dry_run": dry_run}));
            } else {
                print_plan(plan, &desired, &provider.target());
            }
        };
        let result = session::interruptible(&mut signals, &t.book, "nkdev up", session.up(&desired, dry_run, lock.is_some(), &show)).await;
        let result = session::explain(provider, result);
        session::finish(provider, lock).await;
        match result? {
            Outcome::DryRun(_) => {
                for problem in t.unread_secrets(&desired) {
                    reporter.note(&format!("`nkdev up` would stop here: {problem}"));
                }
            }
            Outcome::UpToDate(_) => reporter.note(&format!(
                "nothing to do: {} service{} up to date",
                desired.services.len(),
                if desired.services.len() == 1 { "" } else { "s" }
            )),
            Outcome::Deployed(_, after) => {
                for note in provider.served_notes(&desired, &after) {
                    reporter.note(&note);
                }
            }
        }
        Ok(crate::exit::OK)
    })
}

pub fn destroy(dry_run: bool, volumes: bool, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let t = target(common)?;
    let mut desired = t.desired(&[], false, false)?;
    let reporter = progress(args);
    runtime()?.block_on(async {
        let mut signals = Signals::install()?;
        let provider = session::interruptible(&mut signals, &t.book, "nkdev destroy", t.connect(&mut desired, false, args)).await?;
        let provider = &*provider;
        if volumes && !provider.capabilities().volumes {
            provider.shutdown().await;
            bail!("provider `{}` keeps no volumes: `--volumes` does not apply; nothing was changed", provider.id());
        }
        let lock = if dry_run { None } else { Some(lock_or_end(provider, &desired, "nkdev destroy").await?) };
        let session = Session { provider, book: &t.book, reporter: &reporter };
        let show = |plan: &Plan| print_plan(plan, &desired, &provider.target());
        let mut result = session::interruptible(&mut signals, &t.book, "nkdev destroy", session.destroy(&desired, dry_run, &show)).await;
        if result.is_ok() && volumes && !dry_run {
            result = provider.remove_volumes(&desired, &reporter).await.map_err(Into::into);
        }
        let result = session::explain(provider, result);
        session::finish(provider, lock).await;
        result.map(|()| crate::exit::OK)
    })
}

pub fn status(format: OutputFormat, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let t = target(common)?;
    let mut desired = t.desired(&[], false, false)?;
    runtime()?.block_on(async {
        let provider = t.connect(&mut desired, false, args).await?;
        let rows = provider.status(&desired).await;
        provider.shutdown().await;
        let mut rows = rows?;
        rows.sort_by(|a, b| (&a.component, &a.service).cmp(&(&b.component, &b.service)));
        if format == OutputFormat::Jsonl {
            println!("{}", super::live::status_event(&desired, &*provider, &rows));
            return Ok(crate::exit::OK);
        }
        if format == OutputFormat::Json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(crate::exit::OK);
        }
        let c = &desired.cluster;
        println!("{}/{} on {}", c.project, c.env, provider.target());
        if rows.is_empty() {
            println!("no services deployed in {}/{}", c.project, c.env);
        }
        print_status(&rows);
        Ok(crate::exit::OK)
    })
}

/// A status column: its title, its width (0: the last one) and its cell.
type Column = (&'static str, usize, fn(&StatusRow) -> String);

/// The status table, in columns.
pub(super) fn print_status(rows: &[StatusRow]) {
    let columns: [Column; 6] = [
        ("SERVICE", 20, |r| r.service.clone()),
        ("COMPONENT", 14, |r| r.component.clone()),
        ("STATE", 9, |r| r.state.clone()),
        ("HEALTH", 10, |r| r.health.clone().unwrap_or_else(|| "-".into())),
        ("HOST", 36, |r| r.host.clone().unwrap_or_else(|| "-".into())),
        ("INSTANCE", 0, |r| r.instance.clone()),
    ];
    let line = |cells: Vec<String>| {
        cells.iter().zip(&columns).map(|(c, (_, w, _))| format!("{c:<w$}", w = *w)).collect::<Vec<_>>().join(" ").trim_end().to_string()
    };
    println!("{}", line(columns.iter().map(|(title, _, _)| title.to_string()).collect()));
    for r in rows {
        println!("{}", line(columns.iter().map(|(_, _, cell)| cell(r)).collect()));
    }
}

pub fn logs(services: &[String], follow: bool, tail: Option<usize>, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    use futures_util::StreamExt;
    let t = target(common)?;
    t.require_services(services)?;
    let mut desired = t.desired(&[], false, false)?;
    let width =
        desired.services.iter().filter(|s| services.is_empty() || services.contains(&s.name)).map(|s| s.name.len()).max().unwrap_or(0);
    runtime()?.block_on(async {
        let provider = t.connect(&mut desired, false, args).await?;
        let printed = async {
            let mut lines = provider.logs(&desired, LogRequest { services: services.to_vec(), follow, tail, since: None });
            while let Some(line) = lines.next().await {
                let line = line?;
                println!("{:<width$} | {}", line.service, line.line);
            }
            Ok::<(), anyhow::Error>(())
        };
        // Ctrl-C (or SIGTERM, SIGHUP) ends a followed log; the provider is still shut down in order.
        let mut signals = Signals::install()?;
        let result = tokio::select! {
            r = printed => r,
            signal = signals.recv() => Err(anyhow!("interrupted by {signal}")),
        };
        provider.shutdown().await;
        result.map(|()| crate::exit::OK)
    })
}

/// `nkdev infra unlock`: clear the cluster lock, saying who held it. Without `--force`, only
/// a lock whose holder is gone (a dead process on this host).
pub fn infra_unlock(force: bool, common: &FileArgs) -> Result<u8> {
    let t = target_with(common, false)?;
    let desired = t.desired(&[], false, false)?;
    let cluster = format!("{}/{}", t.resolved.project, t.resolved.env);
    let args = crate::args::DeployArgs::for_unlock();
    let (held, place) = runtime()?.block_on(async {
        match t.connect_only(&args).await {
            Ok(provider) => {
                let result = session::unlock(&*provider, &desired, force).await;
                provider.shutdown().await;
                result
            }
            // A plugin that is gone or broken can still have left this machine's lock file.
            Err(e) if !crate::providers::registry().built_in().any(|f| f.id() == t.resolved.provider.as_str()) => {
                eprintln!("warning: {e:#}; clearing this machine's lock file only");
                session::unlock_file(t.resolved.provider.as_str(), &t.resolved.project, &t.resolved.env, force)
            }
            Err(e) => Err(e),
        }
    })?;
    match held {
        None => println!("no lock on cluster {cluster} ({place})"),
        Some(info) => println!("removed the lock of cluster {cluster}: it was {}", info.describe()),
    }
    Ok(crate::exit::OK)
}

/// `nkdev providers`: the built-in providers and the installed plugins, each asked its
/// version and capabilities.
pub fn providers(format: OutputFormat) -> Result<u8> {
    let registry = crate::providers::registry();
    let mut infos: Vec<(nanokit_deploy::registry::ProviderInfo, Option<String>)> = registry.built_in().map(|f| (f.info(), None)).collect();
    let plugins = nanokit_deploy::registry::discover_plugins();
    runtime()?.block_on(async {
        for (id, path) in plugins {
            if infos.iter().any(|(i, _)| i.id == id) {
                continue;
            }
            match nanokit_deploy::plugin::probe(&id, &path).await {
                Ok(info) => infos.push((info, None)),
                Err(e) => infos.push((
                    nanokit_deploy::registry::ProviderInfo {
                        id,
                        version: String::new(),
                        origin: path.display().to_string(),
                        capabilities: None,
                    },
                    Some(e.to_string()),
                )),
            }
        }
    });
    if format != OutputFormat::Text {
        let rows: Vec<serde_json::Value> = infos
            .iter()
            .map(|(i, problem)| serde_json::json!({"id": i.id, "version": i.version, "origin": i.origin, "capabilities": i.capabilities, "problem": problem}))
            .collect();
        if format == OutputFormat::Jsonl {
            for row in &rows {
                println!("{row}");
            }
        } else {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        return Ok(crate::exit::OK);
    }
    println!("{:<14} {:<9} {:<40} ORIGIN", "PROVIDER", "VERSION", "CAPABILITIES");
    for (i, problem) in &infos {
        let caps = match (&i.capabilities, problem) {
            (_, Some(p)) => format!("does not start: {}", p.lines().next().unwrap_or_default()),
            (Some(c), None) => {
                let mut names = vec!["deploy"];
                for (has, name) in [(c.status, "status"), (c.logs, "logs"), (c.lock, "lock"), (c.volumes, "volumes")] {
                    if has {
                        names.push(name);
                    }
                }
                names.join(",")
            }
            (None, None) => "-".into(),
        };
        println!("{:<14} {:<9} {:<40} {}", i.id, if i.version.is_empty() { "-" } else { &i.version }, caps, i.origin);
    }
    Ok(crate::exit::OK)
}

/// `nkdev provider serve ID`: a built-in provider over the provider protocol on stdin/stdout.
pub fn serve(id: &str) -> Result<u8> {
    let registry = crate::providers::registry();
    let factory = registry.built_in().find(|f| f.id() == id).ok_or_else(|| {
        let ids: Vec<&str> = registry.built_in().map(|f| f.id()).collect();
        anyhow!("no built-in provider `{id}` to serve (this build has: {})", ids.join(", "))
    })?;
    runtime()?.block_on(async {
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        nanokit_deploy::serve::serve(factory, input, tokio::io::stdout()).await
    })?;
    Ok(crate::exit::OK)
}
