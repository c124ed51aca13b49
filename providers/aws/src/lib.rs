//! `provider: aws`: a VPC (or an adopted one) with two public subnets, an internet gateway and
//! a security group; a Network Load Balancer with a TCP listener and IP target group per
//! exposed service; an ECS cluster running each service on Fargate; a CloudWatch log group
//! and a task execution role. Every resource is tagged nk-project / nk-env / nk-component
//! (and nk-service), and only this component's are ever changed (SPEC §6).
//!
//! Clients come from the standard aws-config chain, so `AWS_ENDPOINT_URL` (moto in the tests),
//! profiles and regions work as with the AWS CLI.

pub mod dns;
pub mod guard;
pub mod lock;
pub mod names;
pub mod network;
pub mod secrets;

use nanokit_core::model::{DnsProvider, Infra, Scaling};
use nanokit_core::names::injected;
use nanokit_core::ownership::{Intent, ObjectKind};
use nanokit_core::plan::{Action, Desired, DesiredService, Plan, Route, Step};
use nanokit_deploy::lock::LockInfo;
use nanokit_deploy::options::Options;
use nanokit_deploy::provider::{
    labels, Capabilities, HeldLock, LockPlace, Observed, ObservedResource, ObservedService, Provider, ProviderError,
};
use nanokit_deploy::registry::{Environment, Factory, ProviderInfo};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types as ec2t;
use aws_sdk_ecs::types as ecst;
use aws_sdk_elasticloadbalancingv2::types as elbt;

/// What a Fargate task execution role needs: pull images, write logs. Inline rather than the
/// AWS-managed policy, so the role is self-contained in every partition (and in moto).
const EXECUTION_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:BatchGetImage","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#;
const EXECUTION_POLICY_NAME: &str = "nanokit-task-execution";
/// Who may assume a task execution role: ECS tasks.
const TASK_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub struct AwsProvider {
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub route53: aws_sdk_route53::Client,
    pub region: String,
    infra: Infra,
    ready_timeout: Duration,
}

/// An SDK error as one line: the service's code and message when it answered, else the
/// whole error chain (connection refused, no credentials…).
fn err<E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static>(context: impl std::fmt::Display, e: E) -> ProviderError {
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => ProviderError::new(format!("{context}: {code}: {message}")),
        _ => ProviderError::new(format!("{context}: {}", aws_sdk_ec2::error::DisplayErrorContext(e))),
    }
}

fn build_err(context: &str, e: aws_smithy_types::error::operation::BuildError) -> ProviderError {
    ProviderError::new(format!("{context}: {e}"))
}

fn code<E: aws_sdk_ec2::error::ProvideErrorMetadata>(e: &E) -> Option<String> {
    e.code().map(str::to_string)
}

/// The tags of everything this component creates.
fn tags(desired: &Desired, role: &str, service: Option<&str>) -> Vec<(String, String)> {
    let c = &desired.cluster;
    let mut t = vec![
        (labels::PROJECT.to_string(), c.project.clone()),
        (labels::ENV.to_string(), c.env.clone()),
        (labels::COMPONENT.to_string(), c.component.clone()),
        (labels::ROLE.to_string(), role.to_string()),
        ("Name".to_string(), service.map_or_else(|| c.network.clone(), |s| format!("{}-{s}", c.network))),
    ];
    if let Some(s) = service {
        t.push((labels::SERVICE.to_string(), s.to_string()));
        t.push((labels::SOURCE.to_string(), c.source.id.clone()));
        t.push((labels::SOURCE_PATH.to_string(), c.source.describe.clone()));
    }
    t
}

fn ec2_tags(desired: &Desired, kind: ec2t::ResourceType, role: &str) -> ec2t::TagSpecification {
    let mut spec = ec2t::TagSpecification::builder().resource_type(kind);
    for (k, v) in tags(desired, role, None) {
        spec = spec.tags(ec2t::Tag::builder().key(k).value(v).build());
    }
    spec.build()
}

fn filter(name: &str, value: &str) -> ec2t::Filter {
    ec2t::Filter::builder().name(name).values(value).build()
}

/// Logs go to CloudWatch and status is read from `observe`; the lock is an SSM parameter.
const CAPABILITIES: Capabilities =
    Capabilities { status: false, logs: false, lock: true, volumes: false, services_need_gateway: true, restart: false };

/// Connects the AWS provider for an environment's `region`.
pub struct AwsFactory;

#[async_trait::async_trait]
impl Factory for AwsFactory {
    fn id(&self) -> &str {
        "aws"
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            id: "aws".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            origin: "built in".into(),
            capabilities: Some(CAPABILITIES),
        }
    }

    async fn connect(&self, env: &Environment, options: &Options) -> Result<Box<dyn Provider>, ProviderError> {
        let region = env.infra.region.clone().ok_or_else(|| ProviderError::new("`provider: aws` needs a `region`"))?;
        Ok(Box::new(AwsProvider::connect(&region, env.infra.clone(), options.ready_timeout).await?))
    }
}

impl AwsProvider {
    pub async fn connect(region: &str, infra: Infra, ready_timeout: Duration) -> Result<Self, ProviderError> {
        let config =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).region(aws_config::Region::new(region.to_string())).load().await;
        Ok(AwsProvider {
            ec2: aws_sdk_ec2::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            secretsmanager: aws_sdk_secretsmanager::Client::new(&config),
            scaling: aws_sdk_applicationautoscaling::Client::new(&config),
            route53: aws_sdk_route53::Client::new(&config),
            region: region.to_string(),
            infra,
            ready_timeout,
        })
    }

    /// Checks of the file against what AWS can do, before anything is observed or created.
    /// Fargate runs images, not folders: a service whose image is only a runtime default for
    /// its local `path` has nothing it could run there.
    pub fn check(desired: &Desired, infra: &Infra) -> Result<(), ProviderError> {
        // A block the network cannot be carved from is refused before anything is created.
        if let (Some(cidr), None) = (&infra.cidr, &infra.vpc) {
            names::subnet_cidrs(cidr).map_err(ProviderError::new)?;
        }
        let mut ports: HashMap<u16, &str> = HashMap::new();
        for s in desired.services.iter().filter(|s| s.expose.is_some()) {
            if let Some(other) = ports.insert(s.expose.unwrap_or_default(), &s.name) {
                return Err(ProviderError::new(format!(
                    "services `{other}` and `{}` both expose port {}; on aws the network load balancer routes by port, so each needs its own",
                    s.name,
                    s.expose.unwrap_or_default()
                )));
            }
        }
        if let Some(s) = desired.services.iter().find(|s| s.local_path_only) {
            return Err(ProviderError::new(format!(
                "service `{}` has only a local `path` ({}); on aws it needs an `image:` it can pull (build and push one, then set `image:` on the service or in an environment override)",
                s.name,
                s.mount.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            )));
        }
        Ok(())
    }

    fn desired_count(&self) -> i32 {
        self.infra.min.map_or(1, |m| m.max(1) as i32)
    }

    async fn vpc(&self, desired: &Desired) -> Result<Option<(String, Option<String>)>, ProviderError> {
        Ok(self.vpc_tagged(desired).await?.map(|(id, mut tags)| (id, tags.remove(labels::COMPONENT))))
    }

    async fn subnets_and_group(&self, vpc: &str) -> Result<(Vec<String>, Option<String>), ProviderError> {
        let subnets =
            self.ec2.describe_subnets().filters(filter("vpc-id", vpc)).send().await.map_err(|e| err("cannot describe subnets", e))?;
        let mut ids: Vec<String> = subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_string)).collect();
        ids.sort();
        Ok((ids, self.security_group(vpc).await?.and_then(|g| g.group_id().map(str::to_string))))
    }

    /// The cluster's load balancer (found by name, whoever owns it) with its tags.
    pub(crate) async fn load_balancer_tagged(&self, desired: &Desired) -> Result<Option<(String, guard::Tags)>, ProviderError> {
        let name = names::load_balancer(&desired.cluster.project, &desired.cluster.env);
        let out = match self.elb.describe_load_balancers().names(&name).send().await {
            Ok(o) => o,
            Err(e) if code(&e).as_deref() == Some("LoadBalancerNotFound") => return Ok(None),
            Err(e) => return Err(err("cannot describe load balancers", e)),
        };
        let Some(arn) = out.load_balancers().first().and_then(|l| l.load_balancer_arn()).map(str::to_string) else { return Ok(None) };
        let tags = self.elb_tags(&arn).await?;
        Ok(Some((arn, tags)))
    }

    async fn elb_tags(&self, arn: &str) -> Result<HashMap<String, String>, ProviderError> {
        let out = self.elb.describe_tags().resource_arns(arn).send().await.map_err(|e| err("cannot read load balancer tags", e))?;
        Ok(out
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect())
    }

    /// `create gateway`: the load balancer, the ECS cluster, the log group and the task
    /// execution role, each made unless it exists (and is this component's).
    async fn create_gateway(&self, desired: &Desired) -> Result<(), ProviderError> {
        let c = &desired.cluster;
        let (vpc, _) = self.vpc(desired).await?.ok_or_else(|| ProviderError::new("the VPC is missing"))?;
        let (subnets, _) = self.subnets_and_group(&vpc).await?;
        if self.guard_load_balancer(desired, Intent::Change).await?.is_none() {
            let mut lb = self
                .elb
                .create_load_balancer()
                .name(names::load_balancer(&c.project, &c.env))
                .r#type(elbt::LoadBalancerTypeEnum::Network)
                .scheme(elbt::LoadBalancerSchemeEnum::InternetFacing)
                .set_subnets(Some(subnets));
            for (k, v) in tags(desired, "gateway", None) {
                lb = lb.tags(elbt::Tag::builder().key(k).value(v).build());
            }
            lb.send().await.map_err(|e| err("cannot create the network load balancer", e))?;
        }
        if !self.guard_ecs_cluster(desired, Intent::Change).await? {
            let mut cluster = self.ecs.create_cluster().cluster_name(&c.network);
            for (k, v) in tags(desired, "gateway", None) {
                cluster = cluster.tags(ecst::Tag::builder().key(k).value(v).build());
            }
            cluster.send().await.map_err(|e| err("cannot create the ECS cluster", e))?;
        }
        if !self.guard_log_group(desired, Intent::Change).await? {
            let mut group = self.logs.create_log_group().log_group_name(names::log_group(&c.project, &c.env));
            for (k, v) in tags(desired, "gateway", None) {
                group = group.tags(k, v);
            }
            if let Err(e) = group.send().await {
                if code(&e).as_deref() != Some("ResourceAlreadyExistsException") {
                    return Err(err("cannot create the log group", e));
                }
            }
        }
        self.execution_role(desired, Intent::Change).await.map(|_| ())
    }

    /// The task execution role's ARN: the existing one if this deploy may `intent` it, else
    /// a new one, made only by the infra owner.
    async fn execution_role(&self, desired: &Desired, intent: Intent) -> Result<String, ProviderError> {
        if let Some(arn) = self.guard_role(desired, intent).await? {
            return Ok(arn);
        }
        let name = names::execution_role(&desired.cluster.project, &desired.cluster.env);
        if desired.cluster.shared {
            return Err(ProviderError::new(format!(
                "the task execution role `{name}` is missing; this repository has `infra.shared: true`, so it never creates it: run `nkdev up` in the infra-owner repository"
            )));
        }
        let arn = self.create_task_role(&name, tags(desired, "gateway", None)).await?;
        self.iam
            .put_role_policy()
            .role_name(&name)
            .policy_name(EXECUTION_POLICY_NAME)
            .policy_document(EXECUTION_POLICY)
            .send()
            .await
            .map_err(|e| err("cannot attach the execution policy", e))?;
        Ok(arn)
    }

    /// A new role ECS tasks may assume, tagged with `tags`; its ARN.
    async fn create_task_role(&self, name: &str, tags: Vec<(String, String)>) -> Result<String, ProviderError> {
        let mut role = self.iam.create_role().role_name(name).assume_role_policy_document(TASK_TRUST_POLICY);
        for (k, v) in tags {
            if let Ok(tag) = aws_sdk_iam::types::Tag::builder().key(k).value(v).build() {
                role = role.tags(tag);
            }
        }
        let created = role.send().await.map_err(|e| err(format!("cannot create IAM role `{name}`"), e))?;
        Ok(created.role().map(|r| r.arn().to_string()).unwrap_or_default())
    }

    /// The service's target group: this component's existing one (its host tag kept
    /// current), or a new one; one of the same name that is not this component's is refused.
    async fn target_group(&self, s: &DesiredService, port: u16, vpc: &str, desired: &Desired) -> Result<String, ProviderError> {
        let name = names::target_group(&s.instance);
        let host = s.host.as_deref().map(str::to_ascii_lowercase);
        if let Some(arn) = self.guard_target_group(desired, &name).await? {
            let current = self.elb_tags(&arn).await?.remove(labels::HOST);
            if current != host {
                match &host {
                    Some(h) => self.elb.add_tags().resource_arns(&arn).tags(elbt::Tag::builder().key(labels::HOST).value(h).build()),
                    None => return self.untag_host(&arn).await.map(|_| arn),
                }
                .send()
                .await
                .map_err(|e| err(format!("cannot tag target group `{name}`"), e))?;
            }
            return Ok(arn);
        }
        let mut tg = self
            .elb
            .create_target_group()
            .name(&name)
            .protocol(elbt::ProtocolEnum::Tcp)
            .port(i32::from(port))
            .vpc_id(vpc)
            .target_type(elbt::TargetTypeEnum::Ip);
        for (k, v) in tags(desired, "service", Some(&s.name))
            .into_iter()
            .chain(host.map(|h| (labels::HOST.to_string(), h)))
            .chain([(labels::PORT.to_string(), port.to_string())])
        {
            tg = tg.tags(elbt::Tag::builder().key(k).value(v).build());
        }
        let out = tg.send().await.map_err(|e| err(format!("cannot create target group `{name}`"), e))?;
        Ok(out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_string())
    }

    async fn untag_host(&self, arn: &str) -> Result<(), ProviderError> {
        self.elb.remove_tags().resource_arns(arn).tag_keys(labels::HOST).send().await.map_err(|e| err("cannot untag a target group", e))?;
        Ok(())
    }

    async fn listeners(&self, lb: &str) -> Result<Vec<(String, i32, String)>, ProviderError> {
        let out = self.elb.describe_listeners().load_balancer_arn(lb).send().await.map_err(|e| err("cannot describe listeners", e))?;
        Ok(out
            .listeners()
            .iter()
            .map(|l| {
                let tg = l.default_actions().first().and_then(|a| a.target_group_arn()).unwrap_or_default().to_string();
                (l.listener_arn().unwrap_or_default().to_string(), l.port().unwrap_or(0), tg)
            })
            .collect())
    }

    async fn ensure_port_is_ours(&self, lb: &str, port: u16, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        for (_, p, tg) in self.listeners(lb).await? {
            if p == i32::from(port) {
                let owner = self.elb_tags(&tg).await?;
                let ours = guard::is_ours(desired, &owner) && owner.get(labels::SERVICE) == Some(&s.name);
                if !ours {
                    return Err(ProviderError::new(format!(
                        "port {port} of the load balancer already routes to `{}` of component `{}`; on aws each exposed service needs its own `expose` port",
                        owner.get(labels::SERVICE).map_or("?", String::as_str),
                        owner.get(labels::COMPONENT).map_or("?", String::as_str)
                    )));
                }
            }
        }
        Ok(())
    }

    async fn ensure_listener(&self, lb: &str, port: u16, tg: &str) -> Result<(), ProviderError> {
        let existing = self.listeners(lb).await?;
        if let Some((_, _, current)) = existing.iter().find(|(_, p, _)| *p == i32::from(port)) {
            if current == tg {
                return Ok(());
            }
            // A network load balancer routes by port: one port, one service. Never take another's.
            let owner = self.elb_tags(current).await?;
            return Err(ProviderError::new(format!(
                "port {port} of the load balancer already routes to `{}` of component `{}`; on aws each exposed service needs its own `expose` port",
                owner.get(labels::SERVICE).map_or("?", String::as_str),
                owner.get(labels::COMPONENT).map_or("?", String::as_str)
            )));
        }
        let forward = elbt::Action::builder().r#type(elbt::ActionTypeEnum::Forward).target_group_arn(tg).build();
        self.elb
            .create_listener()
            .load_balancer_arn(lb)
            .protocol(elbt::ProtocolEnum::Tcp)
            .port(i32::from(port))
            .default_actions(forward)
            .send()
            .await
            .map_err(|e| err(format!("cannot create the listener on port {port}"), e))?;
        Ok(())
    }

    /// Every check `create` or `recreate` of `s` makes before changing anything.
    async fn check_service(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        self.guard_ecs_service(desired, &s.instance).await?;
        self.guard_task_family(desired, &s.instance).await?;
        if let Some(port) = s.expose {
            self.guard_target_group(desired, &names::target_group(&s.instance)).await?;
            if let Some(lb) = self.guard_load_balancer(desired, Intent::Adopt).await? {
                self.ensure_port_is_ours(&lb, port, s, desired).await?;
            }
        }
        if let (Some(host), Some(DnsProvider::Aws)) = (&s.host, &self.infra.dns) {
            dns::check(&self.route53, host, &names::load_balancer(&desired.cluster.project, &desired.cluster.env)).await?;
        }
        if !s.secrets.is_empty() {
            // Every source exists and every object at our names is ours, before any change.
            self.secret_references(s, desired, false).await?;
            self.guard_iam_role(desired, &secrets::service_role(&s.instance), ObjectKind::Service, Intent::Change).await?;
        }
        Ok(())
    }

    async fn create_service(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        let c = &desired.cluster;
        // Refuse before changing anything: a service, task definition family, target group or
        // listener port of this name that is not this component's stays as it is.
        self.check_service(s, desired).await?;
        let replace = self.guard_ecs_service(desired, &s.instance).await?.is_some();
        let (vpc, _) = self.vpc(desired).await?.ok_or_else(|| ProviderError::new("the VPC is missing"))?;
        let (subnets, group) = self.subnets_and_group(&vpc).await?;
        // Secrets first (stored, then referenced by ARN), read by the service's own role.
        let references = self.secret_references(s, desired, true).await?;
        let role = if references.is_empty() {
            self.execution_role(desired, Intent::Adopt).await?
        } else {
            self.service_execution_role(s, desired, &references).await?
        };
        let ecs_secrets = references
            .iter()
            .map(|r| ecst::Secret::builder().name(&r.name).value_from(&r.arn).build().map_err(|e| build_err("invalid secret reference", e)))
            .collect::<Result<Vec<_>, _>>()?;
        let host = s.host.as_deref().map(str::to_ascii_lowercase);
        let mut env: Vec<ecst::KeyValuePair> = s.env.iter().map(|(k, v)| ecst::KeyValuePair::builder().name(k).value(v).build()).collect();
        // Transparent metadata (seed 003): where the service runs.
        for (k, v) in
            [(injected::PROVIDER, "aws".to_string()), (injected::CLUSTER, c.network.clone()), (injected::REGION, self.region.clone())]
        {
            env.push(ecst::KeyValuePair::builder().name(k).value(v).build());
        }
        let logging = ecst::LogConfiguration::builder()
            .log_driver(ecst::LogDriver::Awslogs)
            .options("awslogs-group", names::log_group(&c.project, &c.env))
            .options("awslogs-region", &self.region)
            .options("awslogs-stream-prefix", &s.name)
            .build()
            .map_err(|e| build_err("invalid log configuration", e))?;
        let mut container = ecst::ContainerDefinition::builder()
            .name(&s.name)
            .image(&s.image)
            .essential(true)
            .set_environment(Some(env))
            .set_secrets((!ecs_secrets.is_empty()).then_some(ecs_secrets))
            .log_configuration(logging);
        if let Some(port) = s.expose {
            container = container
                .port_mappings(ecst::PortMapping::builder().container_port(i32::from(port)).protocol(ecst::TransportProtocol::Tcp).build());
        }
        if let Some(cmd) = &s.command {
            container = container.command("sh").command("-c").command(cmd);
        }
        let service_tags: Vec<ecst::Tag> = tags(desired, "service", Some(&s.name))
            .into_iter()
            .chain([(labels::CONFIG_HASH.to_string(), s.config_hash.clone())])
            .chain(host.clone().map(|h| (labels::HOST.to_string(), h)))
            .chain(s.expose.map(|p| (labels::PORT.to_string(), p.to_string())))
            .map(|(k, v)| ecst::Tag::builder().key(k).value(v).build())
            .collect();
        let task = self
            .ecs
            .register_task_definition()
            .family(&s.instance)
            .requires_compatibilities(ecst::Compatibility::Fargate)
            .network_mode(ecst::NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .execution_role_arn(role)
            .container_definitions(container.build())
            .set_tags(Some(
                tags(desired, "service", Some(&s.name)).into_iter().map(|(k, v)| ecst::Tag::builder().key(k).value(v).build()).collect(),
            ))
            .send()
            .await
            .map_err(|e| err(format!("cannot register the task definition of `{}`", s.name), e))?;
        let task_arn = task.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_string();
        if let Some(port) = s.expose {
            // The load balancer reaches the tasks on this port (from inside the VPC only).
            self.admit_port(desired, &s.name, port).await?;
        }
        if replace {
            let out = self
                .ecs
                .update_service()
                .cluster(&c.network)
                .service(&s.instance)
                .task_definition(&task_arn)
                .desired_count(self.desired_count())
                .send()
                .await
                .map_err(|e| err(format!("cannot update service `{}`", s.name), e))?;
            let arn = out.service().and_then(|x| x.service_arn()).unwrap_or_default().to_string();
            self.ecs
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(service_tags))
                .send()
                .await
                .map_err(|e| err("cannot tag the service", e))?;
            // A host or port the service no longer has is no longer routed.
            let stale: Vec<String> = [(labels::HOST, host.is_none()), (labels::PORT, s.expose.is_none())]
                .into_iter()
                .filter(|(_, gone)| *gone)
                .map(|(k, _)| k.to_string())
                .collect();
            if !stale.is_empty() {
                self.ecs
                    .untag_resource()
                    .resource_arn(&arn)
                    .set_tag_keys(Some(stale))
                    .send()
                    .await
                    .map_err(|e| err("cannot untag the service", e))?;
            }
            if let (Some(port), Some(_)) = (s.expose, self.guard_target_group(desired, &names::target_group(&s.instance)).await?) {
                self.target_group(s, port, &vpc, desired).await?;
            }
        } else {
            // Tasks get a public address for egress only (pulling images in public subnets
            // without a NAT gateway); the security group admits nothing from the Internet.
            let network = ecst::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    ecst::AwsVpcConfiguration::builder()
                        .set_subnets(Some(subnets))
                        .set_security_groups(group.map(|g| vec![g]))
                        .assign_public_ip(ecst::AssignPublicIp::Enabled)
                        .build()
                        .map_err(|e| build_err("invalid network configuration", e))?,
                )
                .build();
            let mut create = self
                .ecs
                .create_service()
                .cluster(&c.network)
                .service_name(&s.instance)
                .task_definition(&task_arn)
                .desired_count(self.desired_count())
                .launch_type(ecst::LaunchType::Fargate)
                .network_configuration(network)
                .set_tags(Some(service_tags));
            if let Some(port) = s.expose {
                let tg = self.target_group(s, port, &vpc, desired).await?;
                if let Some(lb) = self.guard_load_balancer(desired, Intent::Adopt).await? {
                    self.ensure_listener(&lb, port, &tg).await?;
                }
                create = create.load_balancers(
                    ecst::LoadBalancer::builder().target_group_arn(tg).container_name(&s.name).container_port(i32::from(port)).build(),
                );
            }
            create.send().await.map_err(|e| err(format!("cannot create service `{}`", s.name), e))?;
        }
        if self.infra.scaling == Some(Scaling::Auto) {
            self.autoscale(s, desired).await?;
        }
        if let (Some(host), Some(target)) = (&host, self.dns_target(desired).await?) {
            dns::upsert(&self.route53, host, &target, self.infra.auto_create_domain == Some(true)).await?;
        }
        // The service now runs without the stored values of secrets it no longer declares.
        self.prune_service_secrets(s, desired).await;
        Ok(())
    }

    /// The load balancer's DNS name, when this environment manages records in Route 53.
    async fn dns_target(&self, desired: &Desired) -> Result<Option<String>, ProviderError> {
        if self.infra.dns != Some(DnsProvider::Aws) {
            return Ok(None);
        }
        let name = names::load_balancer(&desired.cluster.project, &desired.cluster.env);
        let out = self.elb.describe_load_balancers().names(&name).send().await.map_err(|e| err("cannot describe the load balancer", e))?;
        Ok(out.load_balancers().first().and_then(|l| l.dns_name()).map(str::to_string))
    }

    /// `scaling: auto`: target tracking on CPU between `min` and `max` tasks.
    async fn autoscale(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        use aws_sdk_applicationautoscaling::types as ast;
        let resource = format!("service/{}/{}", desired.cluster.network, s.instance);
        let min = self.infra.min.unwrap_or(1) as i32;
        let max = self.infra.max.map_or(min.max(1), |m| m as i32);
        self.scaling
            .register_scalable_target()
            .service_namespace(ast::ServiceNamespace::Ecs)
            .resource_id(&resource)
            .scalable_dimension(ast::ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(min)
            .max_capacity(max)
            .send()
            .await
            .map_err(|e| err(format!("cannot register `{}` for auto scaling", s.name), e))?;
        let metric = ast::PredefinedMetricSpecification::builder()
            .predefined_metric_type(ast::MetricType::EcsServiceAverageCpuUtilization)
            .build()
            .map_err(|e| build_err("invalid scaling metric", e))?;
        let policy = ast::TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(60.0)
            .predefined_metric_specification(metric)
            .build()
            .map_err(|e| build_err("invalid scaling policy", e))?;
        self.scaling
            .put_scaling_policy()
            .policy_name(format!("{}-cpu", s.instance))
            .service_namespace(ast::ServiceNamespace::Ecs)
            .resource_id(&resource)
            .scalable_dimension(ast::ScalableDimension::EcsServiceDesiredCount)
            .policy_type(ast::PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(policy)
            .send()
            .await
            .map_err(|e| err(format!("cannot set the scaling policy of `{}`", s.name), e))?;
        Ok(())
    }

    /// The ECS service `instance`, its DNS record, listener, target group and security group
    /// rule: each only if it is this component's.
    async fn remove_service(&self, desired: &Desired, instance: &str) -> Result<(), ProviderError> {
        let c = &desired.cluster;
        let service = self.guard_ecs_service(desired, instance).await?;
        let mut port = service.as_ref().and_then(|s| ecs_tag(s, labels::PORT)).and_then(|p| p.parse::<u16>().ok());
        if let (Some(target), Some(host)) = (self.dns_target(desired).await?, service.as_ref().and_then(|s| ecs_tag(s, labels::HOST))) {
            dns::delete(&self.route53, host, &target).await?;
        }
        if service.is_some() {
            match self.ecs.delete_service().cluster(&c.network).service(instance).force(true).send().await {
                Ok(_) => {}
                Err(e) if matches!(code(&e).as_deref(), Some("ServiceNotFoundException") | Some("ClusterNotFoundException")) => {}
                Err(e) => return Err(err(format!("cannot delete service `{instance}`"), e)),
            }
        }
        let name = names::target_group(instance);
        if let Some(arn) = self.guard_target_group(desired, &name).await? {
            if let Some(lb) = self.guard_load_balancer(desired, Intent::Adopt).await? {
                for (listener, p, target) in self.listeners(&lb).await? {
                    if target == arn {
                        port = port.or(u16::try_from(p).ok());
                        self.elb.delete_listener().listener_arn(listener).send().await.map_err(|e| err("cannot delete a listener", e))?;
                    }
                }
            }
            self.elb
                .delete_target_group()
                .target_group_arn(&arn)
                .send()
                .await
                .map_err(|e| err(format!("cannot delete target group `{name}`"), e))?;
        }
        if let Some(port) = port {
            self.close_port(desired, port).await?;
        }
        if let Some(service) = instance.strip_prefix(&format!("{}-", c.network)) {
            self.remove_service_secrets(desired, instance, service).await;
        }
        Ok(())
    }

    /// The load balancer routes by port and each listener is made with its service, so
    /// there is nothing to route here; what is left are listeners of this component's
    /// services that a full deploy no longer has (a removal that stopped half-way), and the
    /// security group's rules. Listeners of services without a host, and every other
    /// component's, are never touched.
    async fn update_routes(&self, desired: &Desired) -> Result<(), ProviderError> {
        if let Some(lb) = self.guard_load_balancer(desired, Intent::Adopt).await? {
            for (arn, port, tg) in self.listeners(&lb).await? {
                let owner = self.elb_tags(&tg).await?;
                let service = owner.get(labels::SERVICE).map(String::as_str).unwrap_or_default();
                let source = owner.get(labels::SOURCE).map(String::as_str);
                if guard::is_ours(desired, &owner)
                    && nanokit_core::plan::removes_service(desired, &desired.cluster.component, service, source)
                {
                    self.elb
                        .delete_listener()
                        .listener_arn(arn)
                        .send()
                        .await
                        .map_err(|e| err(format!("cannot delete the stale listener on port {port}"), e))?;
                }
            }
        }
        self.sync_ingress(desired, true).await
    }

    async fn remove_gateway(&self, desired: &Desired) -> Result<(), ProviderError> {
        let c = &desired.cluster;
        if let Some(lb) = self.guard_load_balancer(desired, Intent::Change).await? {
            self.elb.delete_load_balancer().load_balancer_arn(lb).send().await.map_err(|e| err("cannot delete the load balancer", e))?;
        }
        if self.guard_ecs_cluster(desired, Intent::Change).await? {
            self.ecs.delete_cluster().cluster(&c.network).send().await.map_err(|e| err("cannot delete the ECS cluster", e))?;
        }
        if self.guard_log_group(desired, Intent::Change).await? {
            let _ = self.logs.delete_log_group().log_group_name(names::log_group(&c.project, &c.env)).send().await;
        }
        if self.guard_role(desired, Intent::Change).await?.is_some() {
            let role = names::execution_role(&c.project, &c.env);
            let _ = self.iam.delete_role_policy().role_name(&role).policy_name(EXECUTION_POLICY_NAME).send().await;
            let _ = self.iam.delete_role().role_name(&role).send().await;
        }
        Ok(())
    }

    async fn remove_network(&self, desired: &Desired) -> Result<(), ProviderError> {
        if self.infra.vpc.is_some() {
            return Ok(()); // adopted, never ours to delete
        }
        let Some(vpc) = self.guard_vpc(desired, Intent::Change).await? else { return Ok(()) };
        let (subnets, group) = self.subnets_and_group(&vpc).await?;
        if let Some(g) = group {
            self.ec2.delete_security_group().group_id(g).send().await.map_err(|e| err("cannot delete the security group", e))?;
        }
        for s in subnets {
            self.ec2.delete_subnet().subnet_id(s).send().await.map_err(|e| err("cannot delete a subnet", e))?;
        }
        let igws = self
            .ec2
            .describe_internet_gateways()
            .filters(filter("attachment.vpc-id", &vpc))
            .send()
            .await
            .map_err(|e| err("cannot describe internet gateways", e))?;
        for igw in igws.internet_gateways() {
            let id = igw.internet_gateway_id().unwrap_or_default();
            self.ec2
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(&vpc)
                .send()
                .await
                .map_err(|e| err("cannot detach the internet gateway", e))?;
            self.ec2
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map_err(|e| err("cannot delete the internet gateway", e))?;
        }
        let tables = self
            .ec2
            .describe_route_tables()
            .filters(filter("vpc-id", &vpc))
            .send()
            .await
            .map_err(|e| err("cannot describe route tables", e))?;
        for t in tables.route_tables() {
            let main = t.associations().iter().any(|a| a.main() == Some(true));
            for a in t.associations().iter().filter(|a| a.main() != Some(true)) {
                if let Some(id) = a.route_table_association_id() {
                    self.ec2
                        .disassociate_route_table()
                        .association_id(id)
                        .send()
                        .await
                        .map_err(|e| err("cannot disassociate a route table", e))?;
                }
            }
            if !main {
                self.ec2
                    .delete_route_table()
                    .route_table_id(t.route_table_id().unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| err("cannot delete a route table", e))?;
            }
        }
        self.ec2.delete_vpc().vpc_id(&vpc).send().await.map_err(|e| err("cannot delete the VPC", e))?;
        Ok(())
    }

    /// ECS services of the cluster with their tags.
    pub async fn services(&self, cluster: &str) -> Result<Vec<ecst::Service>, ProviderError> {
        let mut arns = Vec::new();
        let mut pages = self.ecs.list_services().cluster(cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(p) => arns.extend(p.service_arns().iter().cloned()),
                Err(e) if code(&e).as_deref() == Some("ClusterNotFoundException") => return Ok(Vec::new()),
                Err(e) => return Err(err("cannot list ECS services", e)),
            }
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(10) {
            let described = self
                .ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ecst::ServiceField::Tags)
                .send()
                .await
                .map_err(|e| err("cannot describe ECS services", e))?;
            out.extend(described.services().iter().filter(|s| s.status() != Some("INACTIVE")).cloned());
        }
        Ok(out)
    }
}

fn ecs_tag<'a>(s: &'a ecst::Service, key: &str) -> Option<&'a str> {
    s.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

#[async_trait::async_trait]
impl Provider for AwsProvider {
    fn id(&self) -> &str {
        "aws"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn prepare(&self, desired: &mut Desired, deploying: bool) -> Result<(), ProviderError> {
        // Refused for `status` and `destroy` too: a file AWS cannot run is never planned.
        let _ = deploying;
        AwsProvider::check(desired, &self.infra)
    }

    /// Services log to CloudWatch; nkdev does not stream them (yet): say where they are.
    fn logs<'a>(
        &'a self,
        desired: &'a Desired,
        _request: nanokit_deploy::provider::LogRequest,
    ) -> futures_util::stream::BoxStream<'a, Result<nanokit_deploy::provider::LogLine, ProviderError>> {
        let group = names::log_group(&desired.cluster.project, &desired.cluster.env);
        Box::pin(futures_util::stream::once(async move {
            Err(ProviderError::new(format!("`nkdev logs` does not read AWS yet; the services log to CloudWatch log group {group}")))
        }))
    }

    async fn lock(&self, desired: &Desired, holder: &LockInfo) -> Result<Option<Box<dyn HeldLock>>, ProviderError> {
        let name = names::lock_parameter(&desired.cluster.project, &desired.cluster.env);
        let held = lock::acquire(&self.ssm, &name, holder).await.map_err(|e| ProviderError::new(format!("{e:#}")))?;
        Ok(Some(Box::new(held)))
    }

    async fn unlock(&self, desired: &Desired, force: bool) -> Result<Option<(Option<LockInfo>, LockPlace)>, ProviderError> {
        let name = names::lock_parameter(&desired.cluster.project, &desired.cluster.env);
        let held = lock::unlock(&self.ssm, &name, force).await.map_err(|e| ProviderError::new(format!("{e:#}")))?;
        Ok(Some((held, format!("SSM parameter {name}"))))
    }

    fn target(&self) -> String {
        match std::env::var("AWS_ENDPOINT_URL") {
            Ok(url) if !url.is_empty() => format!("aws {} via {url}", self.region),
            _ => format!("aws {}", self.region),
        }
    }

    /// Every object the plan will change, reuse or delete that already exists by name is
    /// checked against its tags here, before the first step: a conflict changes nothing.
    async fn preflight(&self, plan: &Plan, desired: &Desired) -> Result<(), ProviderError> {
        let any = |f: &dyn Fn(&Action) -> bool| plan.steps.iter().any(|s| f(&s.action));
        let intent = |change: bool| if change { Intent::Change } else { Intent::Adopt };
        let network = intent(any(&|a| matches!(a, Action::CreateNetwork | Action::RemoveNetwork)));
        let gateway = intent(any(&|a| matches!(a, Action::CreateGateway | Action::RemoveGateway)));
        if network == Intent::Change && self.infra.vpc.is_none() {
            if let Some(cidr) = &self.infra.cidr {
                names::subnet_cidrs(cidr).map_err(ProviderError::new)?;
            }
        }
        self.guard_vpc(desired, network).await?;
        self.guard_load_balancer(desired, gateway).await?;
        self.guard_ecs_cluster(desired, gateway).await?;
        self.guard_role(desired, gateway).await?;
        if gateway == Intent::Change {
            self.guard_log_group(desired, gateway).await?;
        }
        for step in plan.changes() {
            match &step.action {
                Action::Create { service } | Action::Recreate { service } => {
                    if let Some(s) = desired.service(service) {
                        self.check_service(s, desired).await?;
                    }
                }
                Action::Start { service } => {
                    if let Some(s) = desired.service(service) {
                        self.guard_ecs_service(desired, &s.instance).await?;
                    }
                }
                Action::Remove { instance, .. } => {
                    self.guard_ecs_service(desired, instance).await?;
                    self.guard_target_group(desired, &names::target_group(instance)).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn observe(&self, desired: &Desired) -> Result<Observed, ProviderError> {
        let c = &desired.cluster;
        let mut observed = Observed::default();
        // A network nanokit made counts only when every piece is there: a deploy that failed
        // half-way through `create network` runs it again.
        if let Some(vpc) = self.find_vpc(desired).await? {
            let complete = self.infra.vpc.is_some() || self.pieces(desired, &vpc).await?.missing().is_empty();
            if complete {
                let owner = vpc.tags().iter().find(|t| t.key() == Some(labels::COMPONENT)).and_then(|t| t.value()).map(str::to_string);
                observed.network = Some(ObservedResource::present(vpc.vpc_id().unwrap_or_default().to_string(), owner));
            }
        }
        let lb = self.load_balancer_tagged(desired).await?;
        if let Some((_, tags)) = &lb {
            if self.ecs_cluster(desired).await?.is_some() {
                observed.gateway = Some(ObservedResource::present(c.network.clone(), tags.get(labels::COMPONENT).cloned()));
            }
        }
        for s in self.services(&c.network).await? {
            if ecs_tag(&s, labels::PROJECT) != Some(c.project.as_str()) {
                continue;
            }
            observed.services.push(ObservedService {
                service: ecs_tag(&s, labels::SERVICE).unwrap_or_default().to_string(),
                name: s.service_name().unwrap_or_default().to_string(),
                component: ecs_tag(&s, labels::COMPONENT).unwrap_or_default().to_string(),
                config_hash: ecs_tag(&s, labels::CONFIG_HASH).unwrap_or_default().to_string(),
                running: s.desired_count() > 0,
                host: ecs_tag(&s, labels::HOST).map(str::to_ascii_lowercase),
                port: ecs_tag(&s, labels::PORT).and_then(|p| p.parse().ok()),
                source: ecs_tag(&s, labels::SOURCE).map(str::to_string),
                source_path: ecs_tag(&s, labels::SOURCE_PATH).map(str::to_string),
            });
        }
        // The NLB routes by port: its listeners, matched to services through target groups.
        if let Some((lb, _)) = &lb {
            let mut routes = Vec::new();
            for (_, port, tg) in self.listeners(lb).await? {
                let t = self.elb_tags(&tg).await?;
                if let (Some(host), Some(service)) = (t.get(labels::HOST), t.get(labels::SERVICE)) {
                    routes.push(Route { host: host.to_ascii_lowercase(), upstream: format!("{}-{service}", c.network), port: port as u16 });
                }
            }
            nanokit_core::plan::sort_routes(&mut routes);
            observed.routes = Some(routes);
        }
        Ok(observed)
    }

    async fn apply(&self, step: &Step, desired: &Desired) -> Result<(), ProviderError> {
        match &step.action {
            Action::CreateNetwork => self.ensure_network(desired).await,
            Action::CreateGateway => self.create_gateway(desired).await,
            Action::CreateVolume { name } => {
                Err(ProviderError::new(format!("volume `{name}`: named volumes are not supported on aws (use EFS or S3 from the service)")))
            }
            Action::Create { service } | Action::Recreate { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                self.create_service(s, desired).await
            }
            Action::Start { service } => {
                let s = desired.service(service).ok_or_else(|| ProviderError::new(format!("no desired service `{service}`")))?;
                self.guard_ecs_service(desired, &s.instance).await?;
                self.ecs
                    .update_service()
                    .cluster(&desired.cluster.network)
                    .service(&s.instance)
                    .desired_count(self.desired_count())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| err(format!("cannot start `{}`", s.name), e))
            }
            Action::Keep { .. } => Ok(()),
            Action::Remove { instance, .. } => self.remove_service(desired, instance).await,
            Action::UpdateRoutes { .. } => self.update_routes(desired).await,
            Action::RemoveGateway => self.remove_gateway(desired).await,
            Action::RemoveNetwork => self.remove_network(desired).await,
            // The load balancer has no stopped state and no settings outside the file: the
            // planner never asks for these on AWS (observe reports it running, no settings).
            Action::StartGateway | Action::RecreateGateway => Ok(()),
        }
    }

    async fn wait_ready(&self, s: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut last = String::from("not found");
        while Instant::now() < deadline {
            let described = self
                .ecs
                .describe_services()
                .cluster(&desired.cluster.network)
                .services(&s.instance)
                .send()
                .await
                .map_err(|e| err("cannot describe the service", e))?;
            if let Some(svc) = described.services().first() {
                if svc.running_count() >= svc.desired_count() && svc.desired_count() > 0 {
                    return Ok(());
                }
                last = format!("{} of {} tasks running", svc.running_count(), svc.desired_count());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(ProviderError::new(format!(
            "service `{}` was not running after {}s ({last}); see the log group {}",
            s.name,
            self.ready_timeout.as_secs(),
            names::log_group(&desired.cluster.project, &desired.cluster.env)
        )))
    }
}
