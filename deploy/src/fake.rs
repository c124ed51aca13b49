//! An in-memory provider: a platform that is a few maps, with the ownership guard every
//! provider must have, a log of calls, and faults on demand. The executor's and the
//! session's behaviour (ordering, parallel levels, unready bookkeeping, failures, signals,
//! refusals) is tested against it in milliseconds; the conformance suite runs against it
//! as against the real providers.

use crate::provider::{Capabilities, Observed, ObservedResource, ObservedService, Provider, ProviderError};
use async_trait::async_trait;
use nanokit_core::plan::{Action, Desired, DesiredService, Step};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The fake platform, shared by the fakes of several components (two repositories deploying
/// to one cluster).
#[derive(Debug, Default)]
pub struct Platform {
    pub network: Option<ObservedResource>,
    pub gateway: Option<ObservedResource>,
    /// By instance name.
    pub services: BTreeMap<String, ObservedService>,
    pub routes: Option<Vec<nanokit_core::observed::Route>>,
    pub volumes: Vec<String>,
}

/// What to get wrong, for the failure tests.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// `apply` of a step whose description contains this fails.
    pub fail_apply: Option<String>,
    /// `wait_ready` of this service fails.
    pub fail_ready: Option<String>,
    /// `apply` of a step whose description contains this never returns.
    pub hang_apply: Option<String>,
}

pub struct Fake {
    pub platform: Arc<Mutex<Platform>>,
    /// Every call, in order: `observe`, `apply <step>`, `ready <service>`.
    pub calls: Arc<Mutex<Vec<String>>>,
    pub faults: Faults,
    pub capabilities: Capabilities,
    /// Without the ownership guard: a careless provider, for the test that the conformance
    /// suite catches one.
    pub unguarded: bool,
    in_flight: AtomicUsize,
    /// The most service steps that ran at once.
    pub max_in_flight: AtomicUsize,
}

impl Fake {
    pub fn new(platform: Arc<Mutex<Platform>>) -> Fake {
        Fake {
            platform,
            calls: Default::default(),
            faults: Faults::default(),
            capabilities: Capabilities {
                status: false,
                logs: false,
                lock: false,
                volumes: false,
                services_need_gateway: true,
                restart: false,
            },
            unguarded: false,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn log(&self, call: String) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(call);
    }

    fn platform(&self) -> std::sync::MutexGuard<'_, Platform> {
        self.platform.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The guard: an object whose component is not the deploy's own is never touched.
fn guard(unguarded: bool, kind: &str, name: &str, owner: Option<&str>, desired: &Desired) -> Result<(), ProviderError> {
    match owner {
        _ if unguarded => Ok(()),
        Some(owner) if owner != desired.cluster.component => Err(ProviderError::new(format!(
            "{kind} `{name}` belongs to component `{owner}`, not `{}`; nothing was changed",
            desired.cluster.component
        ))),
        _ => Ok(()),
    }
}

#[async_trait]
impl Provider for Fake {
    fn id(&self) -> &str {
        "fake"
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn target(&self) -> String {
        "memory".into()
    }

    async fn observe(&self, desired: &Desired) -> Result<Observed, ProviderError> {
        self.log("observe".into());
        let p = self.platform();
        let services = p.services.values().filter(|s| s.name.starts_with(&format!("{}-", desired.cluster.network))).cloned().collect();
        Ok(Observed {
            network: p.network.clone(),
            gateway: p.gateway.clone(),
            services,
            routes: p.routes.clone(),
            volumes: p.volumes.clone(),
            unready: Vec::new(),
        })
    }

    async fn apply(&self, step: &Step, desired: &Desired) -> Result<(), ProviderError> {
        let what = step.describe();
        self.log(format!("apply {what}"));
        if self.faults.hang_apply.as_ref().is_some_and(|h| what.contains(h.as_str())) {
            std::future::pending::<()>().await;
        }
        if self.faults.fail_apply.as_ref().is_some_and(|f| what.contains(f.as_str())) {
            return Err(ProviderError::new(format!("failed on purpose: {what}")));
        }
        let c = &desired.cluster;
        let service_step = matches!(step.action, Action::Create { .. } | Action::Recreate { .. } | Action::Start { .. });
        if service_step {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            // Long enough for steps of one level to overlap.
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        let mut p = self.platform();
        match &step.action {
            Action::CreateNetwork => {
                guard(self.unguarded, "network", &c.network, p.network.as_ref().and_then(|n| n.component.as_deref()), desired)?;
                p.network = Some(ObservedResource::present(c.network.clone(), Some(c.component.clone())));
            }
            Action::CreateGateway | Action::RecreateGateway | Action::StartGateway => {
                guard(self.unguarded, "gateway", &c.gateway, p.gateway.as_ref().and_then(|g| g.component.as_deref()), desired)?;
                p.gateway = Some(ObservedResource {
                    name: c.gateway.clone(),
                    component: Some(c.component.clone()),
                    running: true,
                    settings: c.gateway_settings.clone(),
                });
            }
            Action::CreateVolume { name } => p.volumes.push(name.clone()),
            Action::Create { service } | Action::Recreate { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                guard(self.unguarded, "service", &s.instance, p.services.get(&s.instance).map(|o| o.component.as_str()), desired)?;
                p.services.insert(
                    s.instance.clone(),
                    ObservedService {
                        service: s.name.clone(),
                        name: s.instance.clone(),
                        component: c.component.clone(),
                        config_hash: s.config_hash.clone(),
                        running: true,
                        host: s.host.clone(),
                        port: s.expose,
                        source: Some(c.source.id.clone()),
                        source_path: Some(c.source.describe.clone()),
                    },
                );
            }
            Action::Start { service } => {
                let instance = desired.service(service).map(|s| s.instance.clone()).unwrap_or_default();
                let o = p.services.get_mut(&instance).ok_or_else(|| ProviderError::new(format!("no instance `{instance}`")))?;
                guard(self.unguarded, "service", &instance, Some(&o.component), desired)?;
                o.running = true;
            }
            Action::Keep { .. } => {}
            Action::Remove { instance, .. } => {
                guard(self.unguarded, "service", instance, p.services.get(instance).map(|o| o.component.as_str()), desired)?;
                p.services.remove(instance);
            }
            Action::UpdateRoutes { routes } => p.routes = Some(routes.clone()),
            Action::RemoveGateway => {
                guard(self.unguarded, "gateway", &c.gateway, p.gateway.as_ref().and_then(|g| g.component.as_deref()), desired)?;
                p.gateway = None;
                p.routes = None;
            }
            Action::RemoveNetwork => {
                guard(self.unguarded, "network", &c.network, p.network.as_ref().and_then(|n| n.component.as_deref()), desired)?;
                p.network = None;
            }
        }
        Ok(())
    }

    async fn wait_ready(&self, service: &DesiredService, _desired: &Desired) -> Result<(), ProviderError> {
        self.log(format!("ready {}", service.name));
        if self.faults.fail_ready.as_deref() == Some(service.name.as_str()) {
            return Err(ProviderError::new(format!("`{}` never became ready (on purpose)", service.name)));
        }
        Ok(())
    }
}
