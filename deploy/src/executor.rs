//! Applying a plan with any provider: infrastructure first, then services level by level
//! (in parallel within a level, each waited for until ready before its dependents start;
//! on Docker beside the gateway's creation), then removals, then the gateway's routes. The
//! first failure stops the deploy.

use crate::provider::{Provider, ProviderError, Reporter};
use nanokit_core::plan::{Action, Desired, Plan, Step};

/// A deploy that stopped: the error, and the services it changed but never saw ready (the
/// state file records them so that the next deploy retries them).
#[derive(Debug)]
pub struct Failed {
    pub error: ProviderError,
    pub unready: Vec<String>,
}

impl From<ProviderError> for Failed {
    fn from(error: ProviderError) -> Self {
        Failed { error, unready: Vec::new() }
    }
}

async fn run<P: Provider + ?Sized>(provider: &P, step: &Step, desired: &Desired, reporter: &dyn Reporter) -> Result<(), ProviderError> {
    reporter.step_started(step);
    let mut result = provider.apply(step, desired).await;
    if result.is_ok() {
        if let (Action::Create { .. } | Action::Recreate { .. } | Action::Start { .. }, Some(s)) =
            (&step.action, step.service().and_then(|s| desired.service(s)))
        {
            result = provider.wait_ready(s, desired).await;
        }
    }
    reporter.step_finished(step, &result);
    result
}

/// The services a plan creates, recreates or starts: unready until seen ready.
pub fn changed_services(plan: &Plan) -> Vec<String> {
    plan.steps.iter().filter(is_service_change).filter_map(|s| s.service().map(str::to_string)).collect()
}

fn is_service_change(s: &&Step) -> bool {
    s.changes_something() && matches!(s.action, Action::Create { .. } | Action::Recreate { .. } | Action::Start { .. })
}

/// Steps that bring the gateway up (create, start or recreate it).
fn is_gateway(step: &&Step) -> bool {
    matches!(step.action, Action::CreateGateway | Action::StartGateway | Action::RecreateGateway)
}

pub async fn apply<P: Provider + ?Sized>(provider: &P, plan: &Plan, desired: &Desired, reporter: &dyn Reporter) -> Result<(), Failed> {
    // A failure before the services are reached leaves every service the plan changes (and
    // those an earlier deploy left unready, which it recreates) to be retried.
    let all_unready = |error| Failed { error, unready: changed_services(plan) };
    provider.preflight(plan, desired).await.map_err(all_unready)?;
    // Services need the network and their volumes first; the gateway too unless the
    // provider says otherwise, in which case it comes up while the services start.
    let gateway_first = provider.capabilities().services_need_gateway;
    let is_infra = |s: &&Step| matches!(s.action, Action::CreateNetwork | Action::CreateVolume { .. }) || (gateway_first && is_gateway(s));
    for step in plan.steps.iter().filter(is_infra) {
        run(provider, step, desired, reporter).await.map_err(all_unready)?;
    }
    let gateway = async {
        for step in plan.steps.iter().filter(|s| !gateway_first && is_gateway(s)) {
            run(provider, step, desired, reporter).await?;
        }
        Ok::<(), ProviderError>(())
    };
    let (gateway, services) = futures_util::future::join(gateway, start_services(provider, plan, desired, reporter)).await;
    services?;
    gateway?;
    let rest =
        |s: &&Step| matches!(s.action, Action::Remove { .. } | Action::UpdateRoutes { .. } | Action::RemoveGateway | Action::RemoveNetwork);
    for step in plan.steps.iter().filter(rest) {
        run(provider, step, desired, reporter).await?;
    }
    Ok(())
}

/// Each start level in parallel, every service waited for until ready before the next level.
async fn start_services<P: Provider + ?Sized>(provider: &P, plan: &Plan, desired: &Desired, reporter: &dyn Reporter) -> Result<(), Failed> {
    // Until it is seen ready, every service the plan changes counts as unready: a failure
    // anywhere leaves the ones not yet reached to be retried too.
    let mut unready = changed_services(plan);
    for level in desired.levels() {
        let steps: Vec<&Step> =
            plan.steps.iter().filter(is_service_change).filter(|s| level.iter().any(|d| Some(d.name.as_str()) == s.service())).collect();
        let results = futures_util::future::join_all(steps.iter().map(|s| run(provider, s, desired, reporter))).await;
        for (step, result) in steps.iter().zip(&results) {
            if result.is_ok() {
                unready.retain(|u| Some(u.as_str()) != step.service());
            }
        }
        if let Some(error) = results.into_iter().find_map(Result::err) {
            return Err(Failed { error, unready });
        }
    }
    Ok(())
}
