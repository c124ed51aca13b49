//! One deploy command against one connected provider, the same for every provider: plan
//! without the lock, take the lock (the provider's, else a lock file), plan again under it,
//! record what is unready before changing anything, apply, read back what the platform has,
//! and stop cleanly on SIGINT, SIGTERM or SIGHUP. The front end only renders.

use crate::executor;
use crate::interrupt::Signals;
use crate::lock::{self, ClusterLock, LockInfo};
use crate::provider::{HeldLock, Observed, Provider, Reporter};
use crate::state;
use anyhow::{anyhow, bail, Result};
use nanokit_core::plan::{self, Desired, Plan};
use std::path::PathBuf;

/// Where this component's deploy is recorded, and where a lock file would live.
#[derive(Debug, Clone)]
pub struct Book {
    pub project: String,
    pub env: String,
    pub component: String,
    pub provider: String,
    /// The state file's folder ([`state::state_dir`]).
    pub state_dir: PathBuf,
}

impl Book {
    /// This component's services that the last deploy left unready, from the state file.
    pub fn unready(&self) -> Result<Vec<String>> {
        let st = state::load(&self.state_dir, &self.env)?;
        Ok(st.and_then(|mut s| s.components.remove(&self.component)).map(|c| c.unready).unwrap_or_default())
    }

    fn new_state(&self) -> state::State {
        state::State { project: self.project.clone(), env: self.env.clone(), provider: self.provider.clone(), ..state::State::default() }
    }

    /// Add `unready` to this component's entry, keeping the rest: written before a deploy
    /// changes anything, so that a deploy stopped by any signal (SIGKILL included) leaves them
    /// recorded for the next one to retry.
    pub fn mark_unready(&self, unready: &[String]) -> Result<()> {
        let mut st = state::load(&self.state_dir, &self.env)?.unwrap_or_else(|| self.new_state());
        let entry = st.components.entry(self.component.clone()).or_default();
        for u in unready {
            if !entry.unready.contains(u) {
                entry.unready.push(u.clone());
            }
        }
        state::save(&self.state_dir, &st)
    }

    /// Forget that these services were not seen ready (they have been since).
    pub fn clear_unready(&self, ready: &[String]) -> Result<()> {
        let Some(mut st) = state::load(&self.state_dir, &self.env)? else { return Ok(()) };
        if let Some(entry) = st.components.get_mut(&self.component) {
            entry.unready.retain(|u| !ready.contains(u));
        }
        state::save(&self.state_dir, &st)
    }

    /// Rewrite this component's entry from what the platform has, with `unready`.
    pub fn record(&self, observed: &Observed, desired: &Desired, unready: &[String]) -> Result<()> {
        let mut st = state::load(&self.state_dir, &self.env)?.unwrap_or_else(|| self.new_state());
        let mut entry = state::ComponentState { deployed_at: lock::now(), ..Default::default() };
        for o in observed.services.iter().filter(|o| o.component == self.component) {
            let image = desired.service(&o.service).map(|s| s.image.clone()).unwrap_or_default();
            entry.services.insert(
                o.service.clone(),
                state::ServiceState { instance: o.name.clone(), image, config_hash: o.config_hash.clone(), host: o.host.clone() },
            );
        }
        entry.unready = unready.to_vec();
        st.components.insert(self.component.clone(), entry);
        state::save(&self.state_dir, &st)
    }

    /// Drop this component's entry (after `destroy`).
    pub fn forget(&self) -> Result<()> {
        let Some(mut st) = state::load(&self.state_dir, &self.env)? else { return Ok(()) };
        st.components.remove(&self.component);
        state::save(&self.state_dir, &st)
    }
}

/// The cluster lock a deploy holds: the provider's own on the platform, or a lock file on
/// this machine for a provider that keeps none.
pub enum Held {
    Platform(Box<dyn HeldLock>),
    File(ClusterLock),
}

impl Held {
    pub async fn release(self) {
        match self {
            Held::Platform(l) => l.release().await,
            Held::File(l) => drop(l),
        }
    }
}

/// End a command: the provider is shut down in order and the lock released, in the order
/// that never leaves a provider working without the lock (a plugin that holds the lock
/// itself releases it before it is shut down; a lock file outlives the plugin's last step).
pub async fn finish(provider: &dyn Provider, lock: Option<Held>) {
    match lock {
        Some(Held::Platform(l)) => {
            l.release().await;
            provider.shutdown().await;
        }
        Some(Held::File(l)) => {
            provider.shutdown().await;
            drop(l);
        }
        None => provider.shutdown().await,
    }
}

/// Clear the lock file of a provider that cannot be reached (`nkdev infra unlock` for a
/// plugin that is gone or broken): who held it, and where it lived.
pub fn unlock_file(provider: &str, project: &str, env: &str, force: bool) -> Result<(Option<LockInfo>, String)> {
    let dir = state::cluster_dir(provider, project, env)?;
    Ok((lock::unlock(&dir, force)?, lock::lock_path(&dir).display().to_string()))
}

/// Take the cluster lock for `command`.
pub async fn lock(provider: &dyn Provider, desired: &Desired, command: &str) -> Result<Held> {
    let holder = LockInfo::current(&desired.cluster.component, command);
    if let Some(held) = provider.lock(desired, &holder).await? {
        return Ok(Held::Platform(held));
    }
    let dir = state::cluster_dir(provider.id(), &desired.cluster.project, &desired.cluster.env)?;
    Ok(Held::File(lock::acquire(&dir, &holder)?))
}

/// Clear the cluster lock (`nkdev infra unlock`): who held it, and where it lived.
pub async fn unlock(provider: &dyn Provider, desired: &Desired, force: bool) -> Result<(Option<LockInfo>, String)> {
    if let Some(found) = provider.unlock(desired, force).await? {
        return Ok(found);
    }
    unlock_file(provider.id(), &desired.cluster.project, &desired.cluster.env, force)
}

/// How `up` ended.
#[derive(Debug)]
pub enum Outcome {
    /// `--dry-run`: planned, nothing changed.
    DryRun(Plan),
    /// Everything was up to date.
    UpToDate(Plan),
    /// The plan was applied; what the platform has now.
    Deployed(Plan, Box<Observed>),
}

pub struct Session<'a> {
    pub provider: &'a dyn Provider,
    pub book: &'a Book,
    pub reporter: &'a dyn Reporter,
}

impl Session<'_> {
    /// Observe and plan, changing nothing.
    pub async fn plan(&self, desired: &Desired) -> Result<Plan> {
        let mut observed = self.provider.observe(desired).await?;
        // The provider may know of unready services too (a replacement an interrupted deploy left).
        observed.unready.extend(self.book.unready()?);
        let mut plan = plan::plan(desired, &observed).map_err(|e| anyhow!(e))?;
        plan.notes.extend(self.provider.plan_notes(desired));
        Ok(plan)
    }

    /// Plan (again, under the lock when `locked`), show it, and apply it.
    pub async fn up(&self, desired: &Desired, dry_run: bool, locked: bool, show: &dyn Fn(&Plan)) -> Result<Outcome> {
        let plan = self.plan(desired).await?;
        show(&plan);
        if dry_run {
            return Ok(Outcome::DryRun(plan));
        }
        if plan.is_noop() {
            return Ok(Outcome::UpToDate(plan));
        }
        if !locked {
            // Planned as "nothing to do" without the lock, changed since: another deploy is at work.
            bail!("the cluster changed while this deploy was planning (another deploy is running?); nothing was changed. Run `nkdev up` again");
        }
        let changed = executor::changed_services(&plan);
        if !changed.is_empty() {
            self.book.mark_unready(&changed)?;
        }
        if let Err(failed) = executor::apply(self.provider, &plan, desired, self.reporter).await {
            // Record what did get deployed, so the next run's plan is accurate. When the
            // platform itself went away (an engine restart) that fails too; the deploy's own
            // error is the one to show, with the state left as the last good run wrote it.
            let mut error = failed.error;
            if let Err(state_error) = self.read_back(desired, &failed.unready).await {
                error.details.push(format!("could not read back what was deployed ({state_error:#})"));
                if let Err(e) = self.book.mark_unready(&failed.unready) {
                    error.details.push(format!("the state file was not updated: {e:#}"));
                }
            }
            return Err(anyhow!(error));
        }
        let after = self.read_back(desired, &[]).await?;
        Ok(Outcome::Deployed(plan, Box::new(after)))
    }

    /// Restart services in place (`nkdev restart`, `nkdev up --watch`): they are recorded as
    /// unready first, so that a restart that is interrupted or never comes back is retried by
    /// the next `up` (which then recreates them), and forgotten as such once seen ready.
    pub async fn restart(&self, desired: &Desired, services: &[String], reinstall: bool) -> Result<()> {
        self.book.mark_unready(services)?;
        self.provider.restart(desired, services, reinstall, self.reporter).await?;
        for name in services {
            let s = desired.service(name).ok_or_else(|| anyhow!("no service `{name}` in this file"))?;
            self.provider.wait_ready(s, desired).await?;
        }
        self.book.clear_unready(services)
    }

    /// Write this component's state from what the platform now has.
    async fn read_back(&self, desired: &Desired, unready: &[String]) -> Result<Observed> {
        let observed = self.provider.observe(desired).await?;
        self.book.record(&observed, desired, unready)?;
        Ok(observed)
    }

    /// Remove this component's services (and the infrastructure, when nothing else uses it),
    /// in plan order: services, then routes, then gateway and network.
    pub async fn destroy(&self, desired: &Desired, dry_run: bool, show: &dyn Fn(&Plan)) -> Result<()> {
        let observed = self.provider.observe(desired).await?;
        let (plan, notes) = plan::destroy(&desired.cluster, &observed);
        show(&plan);
        for n in &notes {
            self.reporter.note(n);
        }
        if dry_run {
            return Ok(());
        }
        for step in &plan.steps {
            self.reporter.step_started(step);
            let result = self.provider.apply(step, desired).await;
            self.reporter.step_finished(step, &result);
            result?;
        }
        self.book.forget()
    }
}

/// Run a deploy future; SIGINT, SIGTERM or SIGHUP stops it (nothing more is changed) and
/// returns an error naming the signal, so the caller releases the lock and exits non-zero.
/// What the deploy had not yet seen ready is already in the state file ([`Session::up`]).
pub async fn interruptible<T>(
    signals: &mut Signals,
    book: &Book,
    next: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = f => r,
        signal = signals.recv() => {
            let unready = book.unready().unwrap_or_default();
            let retried = if unready.is_empty() {
                String::new()
            } else {
                format!(" (not yet seen ready, recorded to be retried: {})", unready.join(", "))
            };
            bail!("interrupted by {signal}; stopped before finishing{retried}, nothing more was changed and the cluster lock is released. Run `{next}` again to converge")
        }
    }
}

/// `result`, with the transport's own account of a failure added when the failure is the way
/// to the platform going away (a lost SSH connection).
pub fn explain<T>(provider: &dyn Provider, result: Result<T>) -> Result<T> {
    match result {
        Err(e) => match provider.transport_problem(&format!("{e:#}")) {
            Some(problem) => Err(e.context(problem)),
            None => Err(e),
        },
        ok => ok,
    }
}
