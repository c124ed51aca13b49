//! The one gate every AWS object found by *name* passes before nanokit changes, reuses or
//! deletes it: read the object's tags and ask [`nanokit_core::ownership::check`]. Nothing
//! here has rules of its own; it only knows how to read each kind of object's tags.
//!
//! The provider's `preflight` runs the same checks for every step of the plan before the
//! first step, so a conflict is reported before anything changes; the call sites check again
//! (a deploy's objects may appear between the preflight and the step).

use crate::{code, err, AwsProvider};
use nanokit_core::ownership::{self, Intent, Labels, ObjectKind};
use nanokit_core::plan::Desired;
use nanokit_deploy::provider::{labels, ProviderError};
use std::collections::HashMap;

use aws_sdk_ecs::types as ecst;

pub type Tags = HashMap<String, String>;

/// `ownership::check` on an object's tags, as a provider error naming the owner.
pub fn check(desired: &Desired, kind: ObjectKind, intent: Intent, what: &str, name: &str, tags: &Tags) -> Result<(), ProviderError> {
    let found = Labels::from_lookup(|k| tags.get(k).map(String::as_str));
    ownership::check(&desired.cluster, kind, intent, what, name, &found).map_err(|c| ProviderError::new(c.to_string()))
}

/// Whether `tags` name this deploy's component of this project environment (no error: for
/// filtering what is ours among many objects, e.g. listeners of the shared load balancer).
pub fn is_ours(desired: &Desired, tags: &Tags) -> bool {
    check(desired, ObjectKind::Service, Intent::Change, "", "", tags).is_ok()
}

/// Tags of an IAM role as a map.
pub fn iam_tags(role: &aws_sdk_iam::types::Role) -> Tags {
    role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

/// Tags of an ECS object as a map.
pub fn ecs_tags(tags: &[ecst::Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect()
}

/// A security group rule's owner, written in its description (rules have no tags in every
/// API version): `nk-project=…;nk-env=…;nk-component=…;nk-service=…`.
pub fn rule_description(desired: &Desired, service: &str) -> String {
    let c = &desired.cluster;
    format!(
        "{}={};{}={};{}={};{}={service}",
        labels::PROJECT,
        c.project,
        labels::ENV,
        c.env,
        labels::COMPONENT,
        c.component,
        labels::SERVICE
    )
}

pub fn rule_owner(description: &str) -> Tags {
    let mut owner: Tags = description.split(';').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    // A port rule is a service's (the description names project, env, component, service).
    if owner.contains_key(labels::SERVICE) {
        owner.entry(labels::ROLE.to_string()).or_insert_with(|| "service".to_string());
    }
    owner
}

impl AwsProvider {
    /// The ECS service `instance` of the cluster (any owner), with its tags.
    pub(super) async fn ecs_service(&self, desired: &Desired, instance: &str) -> Result<Option<(ecst::Service, Tags)>, ProviderError> {
        let out = match self
            .ecs
            .describe_services()
            .cluster(&desired.cluster.network)
            .services(instance)
            .include(ecst::ServiceField::Tags)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if code(&e).as_deref() == Some("ClusterNotFoundException") => return Ok(None),
            Err(e) => return Err(err(format!("cannot describe ECS service `{instance}`"), e)),
        };
        Ok(out
            .services()
            .iter()
            .find(|s| s.service_name() == Some(instance) && s.status() != Some("INACTIVE"))
            .map(|s| (s.clone(), ecs_tags(s.tags()))))
    }

    /// The ECS service `instance` if it exists and this deploy may `intent` it.
    pub(super) async fn guard_ecs_service(&self, desired: &Desired, instance: &str) -> Result<Option<ecst::Service>, ProviderError> {
        let Some((service, tags)) = self.ecs_service(desired, instance).await? else { return Ok(None) };
        check(desired, ObjectKind::Service, Intent::Change, "ECS service", instance, &tags)?;
        Ok(Some(service))
    }

    /// The target group called `name` (any owner) with its tags.
    pub(super) async fn target_group_named(&self, name: &str) -> Result<Option<(String, Tags)>, ProviderError> {
        let out = match self.elb.describe_target_groups().names(name).send().await {
            Ok(o) => o,
            Err(e) if code(&e).as_deref() == Some("TargetGroupNotFound") => return Ok(None),
            Err(e) => return Err(err(format!("cannot describe target group `{name}`"), e)),
        };
        let Some(arn) = out.target_groups().first().and_then(|t| t.target_group_arn()).map(str::to_string) else { return Ok(None) };
        let tags = self.elb_tags(&arn).await?;
        Ok(Some((arn, tags)))
    }

    /// The target group `name` if it exists and belongs to this deploy's component.
    pub(super) async fn guard_target_group(&self, desired: &Desired, name: &str) -> Result<Option<String>, ProviderError> {
        let Some((arn, tags)) = self.target_group_named(name).await? else { return Ok(None) };
        check(desired, ObjectKind::Service, Intent::Change, "target group", name, &tags)?;
        Ok(Some(arn))
    }

    /// A new revision goes into the task definition family `instance` only if its latest
    /// revision is this component's. Revisions registered before nanokit tagged them carry no
    /// tags: those are accepted only beside this component's own ECS service of that name.
    pub(super) async fn guard_task_family(&self, desired: &Desired, instance: &str) -> Result<(), ProviderError> {
        let out = match self.ecs.describe_task_definition().task_definition(instance).include(ecst::TaskDefinitionField::Tags).send().await
        {
            Ok(o) => o,
            Err(e) if matches!(code(&e).as_deref(), Some("ClientException") | Some("ResourceNotFoundException")) => return Ok(()),
            Err(e) => return Err(err(format!("cannot describe task definition `{instance}`"), e)),
        };
        let tags = ecs_tags(out.tags());
        if tags.is_empty() {
            if let Some((_, service_tags)) = self.ecs_service(desired, instance).await? {
                if is_ours(desired, &service_tags) {
                    return Ok(());
                }
            }
        }
        check(desired, ObjectKind::Service, Intent::Change, "task definition family", instance, &tags)
    }

    /// The cluster's load balancer if it exists and this deploy may `intent` it.
    pub(super) async fn guard_load_balancer(&self, desired: &Desired, intent: Intent) -> Result<Option<String>, ProviderError> {
        let Some((arn, tags)) = self.load_balancer_tagged(desired).await? else { return Ok(None) };
        let name = super::names::load_balancer(&desired.cluster.project, &desired.cluster.env);
        check(desired, ObjectKind::Infra, intent, "load balancer", &name, &tags)?;
        Ok(Some(arn))
    }

    /// The ACTIVE ECS cluster of the deploy (any owner) with its tags.
    pub(super) async fn ecs_cluster(&self, desired: &Desired) -> Result<Option<Tags>, ProviderError> {
        let out = self
            .ecs
            .describe_clusters()
            .clusters(&desired.cluster.network)
            .include(ecst::ClusterField::Tags)
            .send()
            .await
            .map_err(|e| err("cannot describe ECS clusters", e))?;
        Ok(out.clusters().iter().find(|c| c.status() == Some("ACTIVE")).map(|c| ecs_tags(c.tags())))
    }

    /// Whether the ECS cluster exists, refusing one this deploy may not `intent`.
    pub(super) async fn guard_ecs_cluster(&self, desired: &Desired, intent: Intent) -> Result<bool, ProviderError> {
        let Some(tags) = self.ecs_cluster(desired).await? else { return Ok(false) };
        check(desired, ObjectKind::Infra, intent, "ECS cluster", &desired.cluster.network, &tags)?;
        Ok(true)
    }

    /// The VPC nanokit made for this cluster (found by its tags), checked for `intent`. An
    /// `infra.vpc` the file names is the user's: adopted as it is and never checked or changed.
    pub(super) async fn guard_vpc(&self, desired: &Desired, intent: Intent) -> Result<Option<String>, ProviderError> {
        let Some((id, tags)) = self.vpc_tagged(desired).await? else { return Ok(None) };
        if self.infra.vpc.is_none() {
            check(desired, ObjectKind::Infra, intent, "VPC", &id, &tags)?;
        }
        Ok(Some(id))
    }

    /// The cluster's task execution role (found by name), checked for `intent`.
    pub(super) async fn guard_role(&self, desired: &Desired, intent: Intent) -> Result<Option<String>, ProviderError> {
        let name = super::names::execution_role(&desired.cluster.project, &desired.cluster.env);
        self.guard_iam_role(desired, &name, ObjectKind::Infra, intent).await
    }

    /// The IAM role `name` (its ARN) if it exists and this deploy may `intent` it as `kind`.
    pub(super) async fn guard_iam_role(
        &self,
        desired: &Desired,
        name: &str,
        kind: ObjectKind,
        intent: Intent,
    ) -> Result<Option<String>, ProviderError> {
        let found = match self.iam.get_role().role_name(name).send().await {
            Ok(o) => o,
            Err(e) if code(&e).as_deref() == Some("NoSuchEntity") => return Ok(None),
            Err(e) => return Err(err(format!("cannot read IAM role `{name}`"), e)),
        };
        let Some(role) = found.role() else { return Ok(None) };
        check(desired, kind, intent, "IAM role", name, &iam_tags(role))?;
        Ok(Some(role.arn().to_string()))
    }

    /// The tags of the SSM parameter `name`.
    pub(super) async fn parameter_tags(&self, name: &str) -> Result<Tags, ProviderError> {
        let out = self
            .ssm
            .list_tags_for_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| err(format!("cannot read the tags of SSM parameter `{name}`"), e))?;
        Ok(out.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
    }

    /// Whether the cluster's log group exists, refusing one this deploy may not `intent`.
    pub(super) async fn guard_log_group(&self, desired: &Desired, intent: Intent) -> Result<bool, ProviderError> {
        let name = super::names::log_group(&desired.cluster.project, &desired.cluster.env);
        let groups =
            self.logs.describe_log_groups().log_group_name_prefix(&name).send().await.map_err(|e| err("cannot describe log groups", e))?;
        if !groups.log_groups().iter().any(|g| g.log_group_name() == Some(name.as_str())) {
            return Ok(false);
        }
        #[allow(deprecated)]
        let tags = self.logs.list_tags_log_group().log_group_name(&name).send().await.map_err(|e| err("cannot read log group tags", e))?;
        let tags: Tags = tags.tags().cloned().unwrap_or_default().into_iter().collect();
        check(desired, ObjectKind::Infra, intent, "log group", &name, &tags)?;
        Ok(true)
    }
}
