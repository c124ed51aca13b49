//! The provider conformance suite: what every provider must do, written once against the
//! [`Provider`] trait and run against the in-memory fake (`deploy/tests/conformance.rs`), the
//! built-in Docker provider served through the protocol and the example Python plugin
//! (`cli/tests/providers.rs`).
//!
//! Each check drives the provider the way `nkdev` does (through [`Session`]) and reads the
//! platform back through `observe`, so it judges what the provider did, not what it said.

use crate::provider::{LogRequest, Provider, Silent};
use crate::session::{Book, Outcome, Session};
use anyhow::{anyhow, bail, ensure, Result};
use nanokit_core::analysis::{analyze, AnalyzeOptions};
use nanokit_core::plan::{self, Action, DeployOptions, Desired, Source};
use std::path::Path;

/// The desired state of environment `env` of `yaml`, as `nkdev up` computes it for a
/// checkout in `dir`.
pub fn desired_from_yaml(yaml: &str, env: &str, dir: &Path) -> Result<Desired> {
    let options = AnalyzeOptions { env: Some(env.into()), base_dir: Some(dir.to_path_buf()), ..AnalyzeOptions::default() };
    let analysis = analyze(yaml, &options);
    let errors: Vec<String> = analysis.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
    ensure!(errors.is_empty(), "the scenario's file has errors: {errors:?}");
    let e = analysis.environment(env).ok_or_else(|| anyhow!("no environment `{env}`"))?;
    let options = DeployOptions { source: Source::of("conformance", dir), ..DeployOptions::default() };
    plan::desired(&e.resolved, &e.graph, &[], dir, &options).map_err(|e| anyhow!(e))
}

/// The state book of a desired state, kept in `dir`.
pub fn book(desired: &Desired, provider: &str, dir: &Path) -> Book {
    let c = &desired.cluster;
    Book {
        project: c.project.clone(),
        env: c.env.clone(),
        component: c.component.clone(),
        provider: provider.into(),
        state_dir: dir.to_path_buf(),
    }
}

async fn up(provider: &dyn Provider, desired: &Desired, book: &Book) -> Result<Outcome> {
    let session = Session { provider, book, reporter: &Silent };
    session.up(desired, false, true, &|_| {}).await
}

/// A first deploy creates every service, running, labelled with the deploy's component and
/// config hash; the next plan has nothing to do.
pub async fn deploys_then_plans_nothing(provider: &dyn Provider, desired: &Desired, book: &Book) -> Result<()> {
    let before = provider.observe(desired).await?;
    ensure!(
        !before.services.iter().any(|o| o.component == desired.cluster.component),
        "the scenario must start from a clean platform: {:?}",
        before.services
    );
    match up(provider, desired, book).await? {
        Outcome::Deployed(..) => {}
        other => bail!("a first deploy should deploy, it ended as {other:?}"),
    }
    let after = provider.observe(desired).await?;
    for s in &desired.services {
        let o = after.services.iter().find(|o| o.service == s.name).ok_or_else(|| anyhow!("`{}` is not observed after up", s.name))?;
        ensure!(o.running, "`{}` is not running after up", s.name);
        ensure!(o.component == desired.cluster.component, "`{}` carries component `{}`", s.name, o.component);
        ensure!(o.config_hash == s.config_hash, "`{}` carries config hash `{}`, not `{}`", s.name, o.config_hash, s.config_hash);
        ensure!(o.source.as_deref() == Some(desired.cluster.source.id.as_str()), "`{}` does not carry the checkout it came from", s.name);
    }
    let again = Session { provider, book, reporter: &Silent }.plan(desired).await?;
    ensure!(again.is_noop(), "a second plan should change nothing: {:?}", again.changes().collect::<Vec<_>>());
    ensure!(book.unready()?.is_empty(), "nothing is unready after a successful deploy");
    Ok(())
}

/// After a change to one service's configuration only that service is recreated, and the
/// others keep running untouched.
pub async fn changes_only_what_changed(provider: &dyn Provider, changed: &Desired, service: &str, book: &Book) -> Result<()> {
    let plan = Session { provider, book, reporter: &Silent }.plan(changed).await?;
    let changes: Vec<&Action> = plan.changes().map(|s| &s.action).collect();
    ensure!(
        changes.iter().any(|a| matches!(a, Action::Recreate { service: s } if s == service)),
        "`{service}` should be recreated: {changes:?}"
    );
    ensure!(
        !changes.iter().any(|a| matches!(a, Action::Recreate { service: s } | Action::Create { service: s } if s != service)),
        "only `{service}` should change: {changes:?}"
    );
    up(provider, changed, book).await?;
    let after = provider.observe(changed).await?;
    let o = after.services.iter().find(|o| o.service == service).ok_or_else(|| anyhow!("`{service}` is gone"))?;
    ensure!(o.running && o.config_hash == changed.service(service).map(|s| s.config_hash.clone()).unwrap_or_default());
    Ok(())
}

/// Another component of the same project and environment, with the same service names,
/// is refused before anything changes: by the plan, and by the provider's own guard when a
/// step reaches it anyway (a provider must not rely on the plan). The first component's
/// services keep running as they were.
pub async fn refuses_another_components_services(provider: &dyn Provider, mine: &Desired, theirs: &Desired, book: &Book) -> Result<()> {
    ensure!(mine.cluster.component != theirs.cluster.component, "the scenario needs two components");
    ensure!(
        !mine.cluster.network.contains(&mine.cluster.component),
        "name the component apart from the project, so that a message naming it proves something"
    );
    let before = provider.observe(mine).await?;
    let unchanged = |after: &nanokit_core::observed::Observed| -> Result<()> {
        for o in &before.services {
            let now = after.services.iter().find(|a| a.name == o.name).ok_or_else(|| anyhow!("`{}` was removed", o.name))?;
            ensure!(now == o, "`{}` was changed: {o:?} → {now:?}", o.name);
        }
        Ok(())
    };
    let result = up(provider, theirs, book).await;
    let Err(e) = result else {
        bail!("a deploy of component `{}` over `{}`'s services should be refused", theirs.cluster.component, mine.cluster.component)
    };
    let text = format!("{e:#}");
    ensure!(text.contains(&mine.cluster.component), "the refusal should name the owner `{}`: {text}", mine.cluster.component);
    unchanged(&provider.observe(mine).await?)?;
    // The provider's own guard: steps the plan would never give it, straight to `apply`,
    // on a service of `mine` that `theirs` names too.
    let s = theirs
        .services
        .iter()
        .find(|s| before.services.iter().any(|o| o.name == s.instance && o.component == mine.cluster.component))
        .ok_or_else(|| anyhow!("the scenario needs a service both components name"))?;
    for action in [Action::Recreate { service: s.name.clone() }, Action::Remove { service: s.name.clone(), instance: s.instance.clone() }] {
        let step = nanokit_core::plan::Step { action, reason: "conformance: another component's object".into() };
        match provider.apply(&step, theirs).await {
            Ok(()) => bail!(
                "`{}` of component `{}`'s service was carried out for component `{}`",
                step.describe(),
                mine.cluster.component,
                theirs.cluster.component
            ),
            Err(e) => ensure!(e.to_string().contains(&mine.cluster.component), "the refusal should name the owner: {e}"),
        }
        let after = provider.observe(mine).await?;
        unchanged(&after)?;
        let left: Vec<&str> = after.services.iter().filter(|o| o.component == theirs.cluster.component).map(|o| o.name.as_str()).collect();
        ensure!(left.is_empty(), "a refused step left objects of `{}`: {left:?}", theirs.cluster.component);
    }
    Ok(())
}

/// `status` (or `observe`, without the capability) lists every service, up to date.
pub async fn status_lists_each_service(provider: &dyn Provider, desired: &Desired) -> Result<()> {
    let rows = provider.status(desired).await?;
    for s in &desired.services {
        let row = rows.iter().find(|r| r.service == s.name).ok_or_else(|| anyhow!("no status row for `{}`: {rows:?}", s.name))?;
        ensure!(row.up_to_date, "`{}` should be up to date: {row:?}", s.name);
        ensure!(row.state == "running", "`{}` should be running: {row:?}", s.name);
    }
    Ok(())
}

/// `logs` without follow ends, and names only the services asked for.
pub async fn logs_end_and_name_their_service(provider: &dyn Provider, desired: &Desired, service: &str) -> Result<Vec<String>> {
    use futures_util::StreamExt;
    if !provider.capabilities().logs {
        return Ok(Vec::new());
    }
    let request = LogRequest { services: vec![service.to_string()], follow: false, tail: Some(50), since: None };
    let lines: Vec<_> = tokio::time::timeout(std::time::Duration::from_secs(30), provider.logs(desired, request).collect::<Vec<_>>())
        .await
        .map_err(|_| anyhow!("logs without follow did not end"))?;
    let mut out = Vec::new();
    for line in lines {
        let line = line?;
        ensure!(line.service == service, "a line of `{}` when only `{service}` was asked", line.service);
        out.push(line.line);
    }
    Ok(out)
}

/// `destroy` removes every service of the component, and the state entry with them.
pub async fn destroy_removes_the_component(provider: &dyn Provider, desired: &Desired, book: &Book) -> Result<()> {
    Session { provider, book, reporter: &Silent }.destroy(desired, false, &|_| {}).await?;
    let after = provider.observe(desired).await?;
    let left: Vec<&str> = after.services.iter().filter(|o| o.component == desired.cluster.component).map(|o| o.name.as_str()).collect();
    ensure!(left.is_empty(), "destroy left {left:?}");
    Ok(())
}
