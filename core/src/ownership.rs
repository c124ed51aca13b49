//! The deploy-safety invariant, written once (SPEC §6a; README "Ownership and safety").
//!
//! A deploy is of one (project, environment, component, checkout). Every object a provider
//! creates carries those as labels (Docker) or tags (AWS). Before a provider removes,
//! recreates, stops, starts, reroutes or adopts an object it found by *name*, it reads that
//! object's labels and asks [`check`]: only the deploy's own objects may be changed. An
//! object that merely has the name the deploy wants is a [`Conflict`], reported before
//! anything changes, naming whoever owns it.
//!
//! Providers call [`check`] from one guard each (Docker: `docker::guard`, AWS: `aws::guard`),
//! never with rules of their own.

use crate::labels;
use crate::plan::Cluster;
use std::fmt;

/// What kind of object a provider wants to touch; each kind has its own ownership rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A service instance (container, ECS service, target group, task definition…): belongs
    /// to one component.
    Service,
    /// A named volume: belongs to one component, like the services that mount it.
    Volume,
    /// Cluster infrastructure (network, gateway, VPC, load balancer): belongs to the project
    /// environment; created and changed only by the infra owner (a repo without
    /// `shared: true`), adopted (used, never changed) by the `shared: true` repos.
    Infra,
    /// The cluster lock: any component of the project environment may take and release it.
    Lock,
}

impl ObjectKind {
    /// The `nk-role` label value objects of this kind carry.
    pub fn roles(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Service => &["service"],
            ObjectKind::Volume => &["volume"],
            ObjectKind::Infra => &["network", "gateway"],
            ObjectKind::Lock => &["lock"],
        }
    }
}

/// What the provider is about to do with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Use it as it is (a shared repo's services join the owner's network).
    Adopt,
    /// Create, replace, start, stop, remove or reconfigure it.
    Change,
}

/// The owner an existing object's labels name (absent labels are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    pub project: Option<String>,
    pub env: Option<String>,
    pub component: Option<String>,
    pub role: Option<String>,
}

impl Labels {
    /// Read the nanokit labels from any key/value lookup (Docker labels, AWS tags).
    pub fn from_lookup<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Labels {
            project: get(labels::PROJECT).map(str::to_string),
            env: get(labels::ENV).map(str::to_string),
            component: get(labels::COMPONENT).map(str::to_string),
            role: get(labels::ROLE).map(str::to_string),
        }
    }

    fn describe_owner(&self) -> String {
        match (&self.project, &self.env) {
            (Some(p), Some(e)) => {
                let component = self.component.as_deref().map(|c| format!(", component `{c}`")).unwrap_or_default();
                let role = self.role.as_deref().map(|r| format!(" (a {r})")).unwrap_or_default();
                format!("project `{p}`, environment `{e}`{component}{role}")
            }
            _ => "nothing nanokit knows: it has no nanokit labels (created by hand or by another tool)".to_string(),
        }
    }
}

/// An object the deploy may not touch, with everything needed to say why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// `container`, `network`, `volume`, `ECS service`…
    pub what: String,
    pub name: String,
    pub owner: Box<Labels>,
    /// Why this deploy may not change it, in one sentence.
    pub reason: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}` already exists and belongs to {}; {}", self.what, self.name, self.owner.describe_owner(), self.reason)
    }
}

impl std::error::Error for Conflict {}

/// May the deploy of `cluster` do `intent` to the existing object `name` of `kind`, whose
/// labels are `found`? `what` names the object for the message (`container`, `VPC`…).
pub fn check(cluster: &Cluster, kind: ObjectKind, intent: Intent, what: &str, name: &str, found: &Labels) -> Result<(), Conflict> {
    let conflict = |reason: String| Conflict { what: what.to_string(), name: name.to_string(), owner: Box::new(found.clone()), reason };
    let same_cluster = found.project.as_deref() == Some(cluster.project.as_str()) && found.env.as_deref() == Some(cluster.env.as_str());
    if !same_cluster {
        return Err(conflict(format!(
            "nkdev only changes objects it created for project `{}`, environment `{}`: rename the service, the environment or the project so the names differ, or remove that object yourself if it is really unused",
            cluster.project, cluster.env
        )));
    }
    // Everything nanokit creates says what it is; an object with the right owner labels but no
    // role was not made by nanokit (or was made to look like it) and is not taken over.
    match &found.role {
        Some(role) if kind.roles().contains(&role.as_str()) => {}
        Some(role) => {
            return Err(conflict(format!(
                "it is a {role}, not a {}; nkdev never replaces one kind of object with another",
                kind.roles().join(" or ")
            )))
        }
        None => return Err(conflict("it has no `nk-role` label, so nanokit did not make it; nkdev does not take it over".to_string())),
    }
    let same_component = found.component.as_deref() == Some(cluster.component.as_str());
    match kind {
        ObjectKind::Service | ObjectKind::Volume if !same_component => Err(conflict(format!(
            "component `{}` cannot change it: rename this {} or deploy it from the repository of its component",
            cluster.component,
            if kind == ObjectKind::Service { "service" } else { "volume" }
        ))),
        ObjectKind::Infra if intent == Intent::Change && cluster.shared => Err(conflict(
            "this repository has `infra.shared: true`, so it never creates or changes the cluster's infrastructure; deploy the infra-owner repository"
                .to_string(),
        )),
        ObjectKind::Infra if intent == Intent::Change && !same_component => Err(conflict(format!(
            "only its owner changes the cluster's infrastructure; component `{}` should set `infra.shared: true`",
            cluster.component
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(component: &str, shared: bool) -> Cluster {
        Cluster {
            project: "shop".into(),
            env: "local".into(),
            component: component.into(),
            shared,
            network: "nk-shop-local".into(),
            gateway: "nk-shop-local-gateway".into(),
            source: Default::default(),
            gateway_settings: None,
        }
    }

    fn labels(project: &str, env: &str, component: &str, role: &str) -> Labels {
        Labels { project: Some(project.into()), env: Some(env.into()), component: Some(component.into()), role: Some(role.into()) }
    }

    #[test]
    fn own_objects_may_change() {
        let c = cluster("auth", false);
        assert!(check(&c, ObjectKind::Service, Intent::Change, "container", "x", &labels("shop", "local", "auth", "service")).is_ok());
        assert!(check(&c, ObjectKind::Infra, Intent::Change, "network", "x", &labels("shop", "local", "auth", "network")).is_ok());
    }

    #[test]
    fn another_environment_component_or_tool_is_a_conflict() {
        let c = cluster("auth", false);
        let other_env =
            check(&c, ObjectKind::Service, Intent::Change, "container", "nk-shop-local-a-b", &labels("shop", "local-a", "auth", "service"));
        let text = other_env.unwrap_err().to_string();
        assert!(text.contains("environment `local-a`") && text.contains("nk-shop-local-a-b"), "{text}");
        let other_component = check(&c, ObjectKind::Volume, Intent::Change, "volume", "v", &labels("shop", "local", "billing", "volume"));
        assert!(other_component.unwrap_err().to_string().contains("component `billing`"));
        let unlabelled = check(&c, ObjectKind::Service, Intent::Change, "container", "x", &Labels::default()).unwrap_err();
        assert!(unlabelled.to_string().contains("no nanokit labels"), "{unlabelled}");
    }

    #[test]
    fn a_service_never_replaces_the_gateway() {
        let c = cluster("auth", false);
        let e = check(
            &c,
            ObjectKind::Service,
            Intent::Change,
            "container",
            "nk-shop-local-gateway",
            &labels("shop", "local", "auth", "gateway"),
        );
        assert!(e.unwrap_err().to_string().contains("it is a gateway"));
    }

    #[test]
    fn shared_repositories_adopt_infrastructure_and_never_change_it() {
        let shared = cluster("billing", true);
        let gw = labels("shop", "local", "auth", "gateway");
        assert!(check(&shared, ObjectKind::Infra, Intent::Adopt, "gateway", "g", &gw).is_ok());
        assert!(check(&shared, ObjectKind::Infra, Intent::Change, "gateway", "g", &gw).unwrap_err().to_string().contains("shared: true"));
        let not_owner = cluster("billing", false);
        assert!(check(&not_owner, ObjectKind::Infra, Intent::Change, "gateway", "g", &gw).is_err());
    }
}
