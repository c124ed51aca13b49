//! `nkdev up --watch`: deploy, then keep the cluster in step with the files while the user
//! works. A change to nanokit.yml is planned and applied like `nkdev up` (only what changed;
//! a file with errors prints its diagnostics and changes nothing); a change under a service's
//! `path` restarts that service in place (its folder is mounted), running `install` again when
//! one of its inputs changed; on a remote engine, where the files are copied and their digest
//! is part of the config hash, the service is redeployed instead. The services' logs are shown
//! below nkdev's own lines. The cluster lock is held throughout and released on Ctrl-C.

use super::deploy::{lock_or_end, print_plan, progress, runtime, target, Target};
use crate::args::{DeployArgs, FileArgs};
use crate::changes::{Changes, Watched};
use crate::report::Progress;
use anyhow::{anyhow, bail, Result};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use nanokit_core::plan::{Action, Desired, Plan};
use nanokit_deploy::interrupt::Signals;
use nanokit_deploy::provider::{LogRequest, Provider};
use nanokit_deploy::session::{self, Outcome, Session};
use notify::{RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events this close together are one change (an editor's save, a `git checkout`).
const DEBOUNCE: Duration = Duration::from_millis(120);
/// A burst never holds a change back longer than this.
const DEBOUNCE_MAX: Duration = Duration::from_secs(2);

/// What `--watch` deploys: the same selection of the same file each time.
struct Selection<'a> {
    services: &'a [String],
    remove_orphans: bool,
    common: &'a FileArgs,
}

impl Selection<'_> {
    fn load(&self) -> Result<(Target, Desired)> {
        let t = target(self.common)?;
        let desired = t.desired(self.services, self.remove_orphans, true)?;
        Ok((t, desired))
    }
}

/// What the lock and the connection were taken for: a reloaded file that names another
/// cluster (another project, environment, component, provider or engine) is not deployed.
fn identity(t: &Target) -> (String, String, String, bool, String, Option<String>) {
    let r = &t.resolved;
    (r.project.clone(), r.env.clone(), r.component.clone(), r.shared, r.provider.to_string(), r.infra.host.clone())
}

pub fn run(services: &[String], remove_orphans: bool, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    // The file is found once: a later `git checkout` that briefly removes it is a broken file,
    // not another one.
    let file = crate::load::locate(common.file.as_deref())?;
    let common = FileArgs { file: Some(file), ..common.clone() };
    let selection = Selection { services, remove_orphans, common: &common };
    let (t, mut desired) = selection.load()?;
    let reporter = progress(args);
    runtime()?.block_on(async {
        let mut signals = Signals::install()?;
        let provider = session::interruptible(&mut signals, &t.book, "nkdev up --watch", t.connect(&mut desired, true, args)).await?;
        let provider = &*provider;
        if !provider.capabilities().restart {
            provider.shutdown().await;
            bail!(
                "`nkdev up --watch` is not supported by provider `{}`: it restarts services in place, which only the Docker provider does. Run `nkdev up` after a change instead",
                provider.id()
            );
        }
        let lock = lock_or_end(provider, &desired, "nkdev up --watch").await?;
        let result = watch(provider, &selection, t, desired, &reporter, &mut signals).await;
        let result = session::explain(provider, result);
        session::finish(provider, Some(lock)).await;
        result.map(|()| crate::exit::OK)
    })
}

/// The first deploy, then a loop over file changes until a signal.
async fn watch(
    provider: &dyn Provider,
    selection: &Selection<'_>,
    mut t: Target,
    desired: Desired,
    reporter: &Progress,
    signals: &mut Signals,
) -> Result<()> {
    let mut desired = Arc::new(desired);
    let deployed = Instant::now();
    session::interruptible(signals, &t.book, "nkdev up --watch", deploy_plan(provider, &t, &desired, reporter)).await?;
    let mut watched = watched(selection.common, &desired);
    let (events, mut incoming) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    // Weak: the watcher's own sender alone keeps the channel open (its end is an error).
    let requeue = events.downgrade();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if !event.kind.is_access() {
                for path in event.paths {
                    let _ = events.send(path);
                }
            }
        }
    })
    .map_err(|e| anyhow!("cannot watch files: {e}"))?;
    let mut paths = watch_paths(&mut watcher, &watched, &HashSet::new());
    say!(
        "watching {} and {} service folder(s) for changes; Ctrl-C stops watching (the services keep running)",
        shown(&watched.file),
        watched.folders.len()
    );
    let mut logs = followers(provider, &desired, deployed);
    // Service edits seen while the file could not be read: restarted once it can.
    let mut held = Changes::default();
    loop {
        tokio::select! {
            signal = signals.recv() => bail!("interrupted by {signal}; stopped watching. The services keep running; the cluster lock is released"),
            first = incoming.recv() => {
                let Some(first) = first else { bail!("the file watcher stopped") };
                let batch = gather(first, &mut incoming).await;
                // Read the ignore files again: one may be what changed.
                watched = self::watched(selection.common, &desired);
                // A folder removed (its watch went with it), or removed and created again within
                // this batch (a new inode), is watched again if it is there; watching a folder
                // twice is harmless, and what is gone is unwatched with its subfolders.
                let stale: Vec<PathBuf> = paths.iter().filter(|p| !p.exists() || batch.contains(p)).cloned().collect();
                for path in &stale {
                    let _ = watcher.unwatch(path);
                    paths.remove(path);
                }
                for dir in watched.new_directories(&batch, &paths) {
                    if add_watch(&mut watcher, &dir) {
                        paths.insert(dir);
                    }
                }
                let mut changes = watched.classify(&batch);
                if changes.is_empty() {
                    continue;
                }
                changes.absorb(std::mem::take(&mut held));
                let started = Instant::now();
                let step = react(provider, selection, &t, &desired, &changes, &watched.file, reporter);
                match session::interruptible(signals, &t.book, "nkdev up --watch", step).await {
                    Ok(Reaction::LeftAlone) => held = changes,
                    Ok(Reaction::Done { redeployed, reinstalled }) => {
                        // The lock files an install just rewrote are its doing, not the user's.
                        drain_install_churn(&mut incoming, &requeue, &watched, &reinstalled);
                        if let Some(next) = redeployed {
                            let (next_target, next) = *next;
                            t = next_target;
                            desired = Arc::new(next);
                            watched = self::watched(selection.common, &desired);
                            paths = watch_paths(&mut watcher, &watched, &paths);
                            logs = followers(provider, &desired, started);
                        }
                    }
                    Err(e) if e.to_string().starts_with("interrupted by") => return Err(e),
                    // The engine (or the SSH connection to it) is gone: stop, releasing what can be.
                    Err(e) if unreachable(provider, &desired).await.is_some() => return Err(e),
                    // A failed deploy is reported and watching goes on: the next save may fix it,
                    // and the service edits of this change are tried again with it.
                    Err(e) => {
                        complain!("error: {e:#}\n[watch] waiting for the next change");
                        held = changes;
                    }
                }
            }
            Some(lost) = logs.next(), if !logs.is_empty() => {
                // A log stream failed: the platform may be gone, which ends the watch.
                if let Some(why) = unreachable(provider, &desired).await {
                    bail!("lost the platform ({lost}): {why}; stopped watching, the cluster lock is released where it can be");
                }
                logs = followers(provider, &desired, Instant::now());
            }
        }
    }
}

/// Drop the events of the install inputs of the services that just ran `install`; keep the
/// rest for the next change.
fn drain_install_churn(
    incoming: &mut tokio::sync::mpsc::UnboundedReceiver<PathBuf>,
    requeue: &tokio::sync::mpsc::WeakUnboundedSender<PathBuf>,
    watched: &Watched,
    reinstalled: &[String],
) {
    if reinstalled.is_empty() {
        return;
    }
    let mut kept = Vec::new();
    while let Ok(path) = incoming.try_recv() {
        if !watched.is_install_churn(&path, reinstalled) {
            kept.push(path);
        }
    }
    // Nothing else reads the channel meanwhile: what is kept is handled with the next change.
    if let Some(requeue) = requeue.upgrade() {
        for path in kept {
            let _ = requeue.send(path);
        }
    }
}

/// Why the platform does not answer, if it does not.
async fn unreachable(provider: &dyn Provider, desired: &Desired) -> Option<String> {
    provider.observe(desired).await.err().map(|e| e.to_string())
}

/// The first event and every one that follows it closely (debounced).
async fn gather(first: PathBuf, incoming: &mut tokio::sync::mpsc::UnboundedReceiver<PathBuf>) -> Vec<PathBuf> {
    let mut batch = vec![first];
    let deadline = Instant::now() + DEBOUNCE_MAX;
    while Instant::now() < deadline {
        match tokio::time::timeout(DEBOUNCE, incoming.recv()).await {
            Ok(Some(path)) => batch.push(path),
            _ => break,
        }
    }
    batch
}

/// React to one change. The file is read again whatever changed: a broken file (or one
/// briefly gone) leaves everything alone, and a file that now names another cluster is not
/// deployed under this one's lock. Services whose config hash changed with their files (a
/// remote engine copies them) are redeployed; the others are restarted in place.
async fn react(
    provider: &dyn Provider,
    selection: &Selection<'_>,
    t: &Target,
    desired: &Arc<Desired>,
    changes: &Changes,
    file: &std::path::Path,
    reporter: &Progress,
) -> Result<Reaction> {
    if changes.file {
        let names: Vec<String> = changes.project_files.iter().map(|f| shown(f)).collect();
        say!("[watch] {} changed: planning again", names.join(", "));
    }
    let (next_target, mut next) = match selection.load() {
        Ok(loaded) => loaded,
        Err(e) => {
            // The diagnostics were printed as `nkdev validate` prints them.
            complain!("[watch] {e:#}\n[watch] the running services are left alone; waiting for the next change");
            return Ok(Reaction::LeftAlone);
        }
    };
    if identity(&next_target) != identity(t) {
        complain!(
            "[watch] {} now names another cluster (project, environment, component, provider or engine): nothing was changed; stop and run `nkdev up --watch` again to deploy it",
            shown(file)
        );
        return Ok(Reaction::LeftAlone);
    }
    provider.prepare(&mut next, true).await?;
    let files_changed_hash =
        changes.services.keys().any(|s| next.service(s).map(|n| &n.config_hash) != desired.service(s).map(|d| &d.config_hash));
    let mut redeployed = None;
    let mut recreated: Vec<String> = Vec::new();
    if changes.file || files_changed_hash {
        let plan = deploy_plan(provider, &next_target, &next, reporter).await?;
        recreated = plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Create { service } | Action::Recreate { service } => Some(service.clone()),
                _ => None,
            })
            .collect();
        redeployed = Some(Box::new((next_target, next)));
    }
    let current = redeployed.as_ref().map(|b| &b.1).unwrap_or(desired);
    let book = &redeployed.as_ref().map(|b| &b.0).unwrap_or(t).book;
    let session = Session { provider, book, reporter };
    let mut reinstalled = Vec::new();
    for (service, change) in &changes.services {
        if recreated.contains(service) {
            continue;
        }
        let Some(s) = current.service(service) else { continue };
        let files: Vec<String> = change.files.iter().map(|f| f.display().to_string()).collect();
        let why = if files.len() > 3 { format!("{} and {} more", files[..3].join(", "), files.len() - 3) } else { files.join(", ") };
        let what = if change.reinstall && s.provisioning.is_some() { "running install again and restarting" } else { "restarting" };
        say!("[watch] {why} changed: {what} {service}");
        let started = Instant::now();
        // One service failing does not keep the others (or a redeploy) from being kept.
        match session.restart(current, std::slice::from_ref(service), change.reinstall).await {
            Ok(()) => {
                say!("[watch] {service} restarted and ready in {:.2} s", started.elapsed().as_secs_f64());
                if change.reinstall {
                    reinstalled.push(service.clone());
                }
            }
            Err(e) => complain!("[watch] {service} did not come back: {e:#}"),
        }
    }
    Ok(Reaction::Done { redeployed, reinstalled })
}

/// How a change was met.
enum Reaction {
    /// The file could not be read, or names another cluster: nothing was changed.
    LeftAlone,
    /// Deployed again (`redeployed`: this is now what is watched) and/or restarted in place
    /// (`reinstalled`: those that ran `install`).
    Done { redeployed: Option<Box<(Target, Desired)>>, reinstalled: Vec<String> },
}

/// Deploy `desired` (under the lock this command holds) and say where it is served.
async fn deploy_plan(provider: &dyn Provider, t: &Target, desired: &Desired, reporter: &Progress) -> Result<Plan> {
    use nanokit_deploy::provider::Reporter;
    let session = Session { provider, book: &t.book, reporter };
    let show = |plan: &Plan| print_plan(plan, desired, &provider.target());
    Ok(match session.up(desired, false, true, &show).await? {
        Outcome::Deployed(plan, after) => {
            for note in provider.served_notes(desired, &after) {
                reporter.note(&note);
            }
            plan
        }
        Outcome::UpToDate(plan) | Outcome::DryRun(plan) => {
            reporter.note("nothing to do: every service is up to date");
            plan
        }
    })
}

fn watched(common: &FileArgs, desired: &Desired) -> Watched {
    let file = common.file.clone().unwrap_or_default();
    let folders: Vec<(String, PathBuf)> = desired.services.iter().filter_map(|s| Some((s.name.clone(), s.mount.clone()?))).collect();
    Watched::new(&file, &folders)
}

/// Watch the project file's folder (editors save by renaming a new file over the old one)
/// and each service folder's folders one by one (ignored ones are not watched); stop watching
/// what is no longer wanted. A folder that cannot be watched is said, and skipped.
fn watch_paths(watcher: &mut notify::RecommendedWatcher, watched: &Watched, before: &HashSet<PathBuf>) -> HashSet<PathBuf> {
    let mut wanted: HashSet<PathBuf> = watched.directories().into_iter().collect();
    wanted.insert(watched.project_dir.clone());
    for path in before.difference(&wanted) {
        let _ = watcher.unwatch(path);
    }
    let added: Vec<PathBuf> = wanted.difference(before).cloned().collect();
    for path in added {
        if !add_watch(watcher, &path) {
            wanted.remove(&path);
        }
    }
    wanted
}

/// Watch one folder; whether it is watched (a failure is said: changes in it go unseen).
fn add_watch(watcher: &mut notify::RecommendedWatcher, path: &std::path::Path) -> bool {
    match watcher.watch(path, RecursiveMode::NonRecursive) {
        Ok(()) => true,
        // Gone meanwhile (a build's temporary folder): nothing to watch.
        Err(_) if !path.exists() => false,
        Err(e) => {
            complain!(
                "[watch] warning: cannot watch {}: {e} (on Linux, a tree this large may need a higher fs.inotify.max_user_watches); changes in it are not seen",
                path.display()
            );
            false
        }
    }
}

fn shown(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// Every service's logs, followed again after each restart, each line prefixed with the
/// service's name, from `since` on.
fn followers<'a>(provider: &'a dyn Provider, desired: &Arc<Desired>, since: Instant) -> FuturesUnordered<BoxFuture<'a, String>> {
    let width = desired.services.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let since = unix_now() - since.elapsed().as_secs() as i64;
    desired.services.iter().map(|s| follow_logs(provider, desired.clone(), s.name.clone(), width, since).boxed()).collect()
}

fn unix_now() -> i64 {
    nanokit_deploy::lock::now() as i64
}

/// One service's output: a stream ends when its container stops (a restart), and is opened
/// again from then on (lines of the second it ended in may be shown twice). Ends only when the
/// platform fails to give the logs, with why.
async fn follow_logs(provider: &dyn Provider, desired: Arc<Desired>, service: String, width: usize, since: i64) -> String {
    let mut since = since;
    loop {
        {
            let request = LogRequest { services: vec![service.clone()], follow: true, tail: None, since: Some(since) };
            let mut lines = provider.logs(&desired, request);
            while let Some(line) = lines.next().await {
                match line {
                    Ok(line) => say!("{:<width$} | {}", line.service, line.line),
                    Err(e) => {
                        // Not at once: a failure that persists must not become a busy loop.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        return e.to_string();
                    }
                }
            }
        }
        since = unix_now();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
