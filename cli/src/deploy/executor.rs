//! Applying a plan with any provider: infrastructure first, then services level by level
//! (in parallel within a level, each waited for until ready before its dependents start),
//! then removals, then the gateway's routes. The first failure stops the deploy.

use nanokit_core::plan::{Action, Desired, Plan, Step};
use nanokit_core::provider::{Provider, ProviderError, Reporter};

async fn run<P: Provider>(provider: &P, step: &Step, desired: &Desired, reporter: &dyn Reporter) -> Result<(), ProviderError> {
    reporter.step_started(step);
    let mut result = provider.apply(step, desired).await;
    if result.is_ok() {
        if let (Action::Create { service } | Action::Recreate { service } | Action::Start { service }, Some(s)) =
            (&step.action, step.service().and_then(|s| desired.service(s)))
        {
            let _ = service;
            result = provider.wait_ready(s, desired).await;
        }
    }
    reporter.step_finished(step, &result);
    result
}

pub async fn apply<P: Provider>(provider: &P, plan: &Plan, desired: &Desired, reporter: &dyn Reporter) -> Result<(), ProviderError> {
    let is_infra = |s: &&Step| matches!(s.action, Action::CreateNetwork | Action::CreateGateway | Action::CreateVolume { .. });
    for step in plan.steps.iter().filter(is_infra) {
        run(provider, step, desired, reporter).await?;
    }
    for level in desired.levels() {
        let steps: Vec<&Step> = plan
            .steps
            .iter()
            .filter(|s| s.changes_something() && matches!(s.action, Action::Create { .. } | Action::Recreate { .. } | Action::Start { .. }))
            .filter(|s| level.iter().any(|d| Some(d.name.as_str()) == s.service()))
            .collect();
        let results = futures_util::future::join_all(steps.iter().map(|s| run(provider, s, desired, reporter))).await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            return Err(err);
        }
    }
    let rest =
        |s: &&Step| matches!(s.action, Action::Remove { .. } | Action::UpdateRoutes { .. } | Action::RemoveGateway | Action::RemoveNetwork);
    for step in plan.steps.iter().filter(rest) {
        run(provider, step, desired, reporter).await?;
    }
    Ok(())
}
