//! The Docker provider's ownership guard: which named objects each step touches, and the one
//! check every such object passes before the provider changes it (`ownership::check`, the
//! invariant written once in the core). The preflight runs it for every step before the
//! first change; `apply` runs it again at the moment of change.

use crate::{engine_err, is_not_found, DockerProvider};
use nanokit_core::ownership::{self, Intent, Labels, ObjectKind};
use nanokit_core::plan::{Action, Cluster, Desired, Step};
use nanokit_deploy::provider::ProviderError;
use std::collections::HashMap;

/// The kinds of Docker object nkdev names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Container,
    Network,
    Volume,
}

impl Object {
    fn what(self) -> &'static str {
        match self {
            Object::Container => "container",
            Object::Network => "network",
            Object::Volume => "volume",
        }
    }
}

/// One named object a step is about to touch, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub object: Object,
    pub kind: ObjectKind,
    pub intent: Intent,
    pub name: String,
}

/// The temporary name a replacement runs under until it is ready. `_` appears in no service,
/// environment or project name (they are DNS labels), so it cannot be another service's name.
pub fn replacement_name(instance: &str) -> String {
    format!("{instance}_next")
}

pub fn is_replacement_name(name: &str) -> bool {
    name.ends_with("_next")
}

/// The volume holding the gateway's certificates and CA keys: `nk-<project>-<env>_gateway-data`.
/// A file's volumes are named `nk-<project>-<env>-<volume>` (project and environment are DNS
/// labels, without `_`), so the `_` right after the environment is a name no file can ask for.
pub fn gateway_data_volume(cluster: &Cluster) -> String {
    format!("{}_gateway-data", cluster.network)
}

impl Target {
    /// The gateway's certificate volume: infrastructure, changed only by the infra owner.
    pub fn gateway_data(cluster: &Cluster) -> Target {
        Target { object: Object::Volume, kind: ObjectKind::Infra, intent: Intent::Change, name: gateway_data_volume(cluster) }
    }
}

/// Every named object `step` creates, changes or removes (the first is the step's own).
pub fn targets(step: &Step, desired: &Desired) -> Vec<Target> {
    let c = &desired.cluster;
    let t = |object, kind, intent, name: &str| Target { object, kind, intent, name: name.to_string() };
    let instance = |service: &str| desired.service(service).map(|s| s.instance.clone());
    match &step.action {
        Action::CreateNetwork | Action::RemoveNetwork => vec![t(Object::Network, ObjectKind::Infra, Intent::Change, &c.network)],
        Action::CreateGateway | Action::RecreateGateway => {
            vec![t(Object::Container, ObjectKind::Infra, Intent::Change, &c.gateway), Target::gateway_data(c)]
        }
        Action::StartGateway | Action::RemoveGateway => vec![t(Object::Container, ObjectKind::Infra, Intent::Change, &c.gateway)],
        // Routes are every component's (each deploy rebuilds them from all); the gateway itself
        // is only adopted.
        Action::UpdateRoutes { .. } => vec![t(Object::Container, ObjectKind::Infra, Intent::Adopt, &c.gateway)],
        Action::CreateVolume { name } => vec![t(Object::Volume, ObjectKind::Volume, Intent::Change, name)],
        Action::Start { service } => {
            instance(service).map(|i| vec![t(Object::Container, ObjectKind::Service, Intent::Change, &i)]).unwrap_or_default()
        }
        // Create and recreate also meet a replacement an interrupted deploy left (`…_next`), and
        // mount the service's volumes: each must be this component's own volume (not another
        // component's, not the gateway's certificates).
        Action::Create { service } | Action::Recreate { service } => desired
            .service(service)
            .map(|s| {
                let mut targets = vec![
                    t(Object::Container, ObjectKind::Service, Intent::Change, &s.instance),
                    t(Object::Container, ObjectKind::Service, Intent::Change, &replacement_name(&s.instance)),
                ];
                targets.extend(s.volumes.iter().map(|v| t(Object::Volume, ObjectKind::Volume, Intent::Adopt, &v.name)));
                targets
            })
            .unwrap_or_default(),
        Action::Remove { instance, .. } => vec![
            t(Object::Container, ObjectKind::Service, Intent::Change, instance),
            t(Object::Container, ObjectKind::Service, Intent::Change, &replacement_name(instance)),
        ],
        Action::Keep { .. } => Vec::new(),
    }
}

impl DockerProvider {
    /// The labels of the object called `name`, or `None` when there is none.
    pub(super) async fn existing_labels(&self, object: Object, name: &str) -> Result<Option<HashMap<String, String>>, ProviderError> {
        Ok(self.existing(object, name).await?.map(|(_, labels)| labels))
    }

    /// The ID (a container's; the name for networks and volumes) and labels of the object
    /// called `name`, or `None` when there is none.
    async fn existing(&self, object: Object, name: &str) -> Result<Option<(String, HashMap<String, String>)>, ProviderError> {
        let context = || format!("cannot inspect {} `{name}`", object.what());
        let mut id = name.to_string();
        let labels = match object {
            Object::Container => self.docker.inspect_container(name, None).await.map(|c| {
                id = c.id.unwrap_or(id.clone());
                c.config.and_then(|c| c.labels)
            }),
            Object::Network => {
                self.docker.inspect_network(name, None::<bollard::network::InspectNetworkOptions<String>>).await.map(|n| {
                    // The engine also matches a name by ID prefix: only the exact name counts.
                    if n.name.as_deref() == Some(name) {
                        n.labels
                    } else {
                        None
                    }
                })
            }
            Object::Volume => self.docker.inspect_volume(name).await.map(|v| Some(v.labels)),
        };
        match labels {
            Ok(l) => Ok(Some((id, l.unwrap_or_default()))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(engine_err(context(), &e)),
        }
    }

    /// The guard: may this deploy touch `target`? `Ok(true)`: it exists and is the deploy's
    /// own; `Ok(false)`: nothing has that name; an error names the owner, and nothing changes.
    pub(super) async fn guard(&self, desired: &Desired, target: &Target) -> Result<bool, ProviderError> {
        Ok(self.guard_id(desired, target).await?.is_some())
    }

    /// The guard, giving the ID of the object it let through: a change made by ID reaches
    /// that object, not whatever took its name since.
    pub(super) async fn guard_id(&self, desired: &Desired, target: &Target) -> Result<Option<String>, ProviderError> {
        let Some((id, found)) = self.existing(target.object, &target.name).await? else {
            return Ok(None);
        };
        let owner = Labels::from_lookup(|k| found.get(k).map(String::as_str));
        ownership::check(&desired.cluster, target.kind, target.intent, target.object.what(), &target.name, &owner).map_err(|c| {
            let mut e = ProviderError::new(c.to_string());
            e.details.push("nothing was changed".into());
            e
        })?;
        Ok(Some(id))
    }

    /// Whether the recreated gateway publishes another host port than the one it replaces
    /// (then the new port must be free; the old one is the gateway's own).
    pub(super) async fn gateway_port_changes(&self, desired: &Desired) -> Result<bool, ProviderError> {
        let labels = self.existing_labels(Object::Container, &desired.cluster.gateway).await?.unwrap_or_default();
        let old = labels
            .get(nanokit_deploy::provider::labels::GATEWAY_SETTINGS)
            .and_then(|f| super::DockerSettings::from_fingerprint(f, &self.settings))
            .map(|old| (old.gateway_bind, old.gateway_port));
        Ok(old != Some((self.settings.gateway_bind.clone(), self.settings.gateway_port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_certificates_are_no_volume_a_file_can_name_or_mount() {
        let analysis = nanokit_core::analyze(
            "name: shop\nservices:\n  web:\n    image: x\n    volumes: [\"gateway_data:/a\", \"gateway-data:/b\"]\nenvironments:\n  local:\n    infra:\n      provider: docker\n",
            &Default::default(),
        );
        let env = analysis.environment("local").unwrap();
        let d = nanokit_core::plan::desired(&env.resolved, &env.graph, &[], std::path::Path::new("."), &Default::default()).unwrap();
        let certs = gateway_data_volume(&d.cluster);
        assert!(d.services[0].volumes.iter().all(|v| v.name != certs), "{certs}");
        // and every mounted volume passes the guard when its service is created
        let step = Step { action: Action::Create { service: "web".into() }, reason: String::new() };
        let mounted: Vec<_> = targets(&step, &d).into_iter().filter(|t| t.object == Object::Volume).collect();
        assert_eq!(mounted.len(), 2);
        assert!(mounted.iter().all(|t| t.kind == ObjectKind::Volume && t.intent == Intent::Adopt));
    }

    #[test]
    fn replacement_names_cannot_be_service_names() {
        let next = replacement_name("nk-shop-local-api");
        assert!(is_replacement_name(&next));
        assert!(!nanokit_core::names::is_dns_label(next.trim_start_matches("nk-shop-local-")));
    }
}
