//! Deploy safety on AWS against moto_server (see tests/aws.rs), through the real SDK clients:
//! objects with a deploy's names but not its tags are refused before anything changes, the
//! load balancer's listeners and the security group follow each component's own services
//! only, the network is carved from `infra.cidr` and completed after a partial failure, hosts
//! are case-insensitive in Route 53, and `shared: true` never touches the infrastructure.
#![cfg(feature = "aws")]

#[path = "support/moto.rs"]
mod moto;

use moto::Setup;

const PROJECT: &str = "my-platform";
const CLUSTER: &str = "nk-my-platform-prod";
const INFRA: &str = "environments:\n  prod:\n    infra:\n      provider: aws\n      region: us-east-1\n";

/// The owner: a hosted service, an exposed service without a host, and an internal one.
const AUTH: &str = "name: my-platform\ncomponent: auth\nservices:\n  auth:\n    image: nginx:1.27\n    expose: 3001\n    host: auth.my-platform.example.com\n  metrics:\n    image: nginx:1.27\n    expose: 9100\n  db:\n    image: postgres:16\n";
/// A `shared: true` component with the same shapes.
const BILLING: &str = "name: my-platform\ncomponent: billing\nservices:\n  billing:\n    image: nginx:1.27\n    expose: 3002\n    host: billing.my-platform.example.com\n  worker:\n    image: nginx:1.27\n    expose: 3003\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: us-east-1\n      shared: true\n";

fn owner(services: &str) -> String {
    format!("name: my-platform\ncomponent: auth\nservices:\n{services}{INFRA}")
}

fn ec2_filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name(name).values(value).build()
}

fn ec2_tag(key: &str, value: &str) -> aws_sdk_ec2::types::Tag {
    aws_sdk_ec2::types::Tag::builder().key(key).value(value).build()
}

struct Clients {
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    route53: aws_sdk_route53::Client,
}

impl Setup {
    async fn clients(&self) -> Clients {
        let config = self.config().await;
        Clients {
            ec2: aws_sdk_ec2::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            route53: aws_sdk_route53::Client::new(&config),
        }
    }
}

impl Clients {
    /// VPCs tagged with the project.
    async fn vpcs(&self, project: &str) -> Vec<aws_sdk_ec2::types::Vpc> {
        self.ec2.describe_vpcs().filters(ec2_filter("tag:nk-project", project)).send().await.unwrap().vpcs().to_vec()
    }

    async fn subnets(&self, vpc: &str) -> Vec<aws_sdk_ec2::types::Subnet> {
        self.ec2.describe_subnets().filters(ec2_filter("vpc-id", vpc)).send().await.unwrap().subnets().to_vec()
    }

    async fn load_balancer(&self) -> Option<String> {
        let out = self.elb.describe_load_balancers().names(CLUSTER).send().await.ok()?;
        out.load_balancers().first().and_then(|l| l.load_balancer_arn()).map(str::to_string)
    }

    async fn listener_ports(&self) -> Vec<i32> {
        let lb = self.load_balancer().await.expect("the load balancer");
        let mut ports: Vec<i32> =
            self.elb.describe_listeners().load_balancer_arn(lb).send().await.unwrap().listeners().iter().filter_map(|l| l.port()).collect();
        ports.sort();
        ports
    }

    async fn target_group(&self, name: &str) -> Option<aws_sdk_elasticloadbalancingv2::types::TargetGroup> {
        let out = self.elb.describe_target_groups().names(name).send().await.ok()?;
        out.target_groups().first().cloned()
    }

    async fn elb_tags(&self, arn: &str) -> Vec<(String, String)> {
        let out = self.elb.describe_tags().resource_arns(arn).send().await.unwrap();
        let mut tags: Vec<(String, String)> = out
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect();
        tags.sort();
        tags
    }

    /// The `nanokit` security group of the project's VPC.
    async fn security_group(&self) -> aws_sdk_ec2::types::SecurityGroup {
        let vpc = self.vpcs(PROJECT).await[0].vpc_id().unwrap().to_string();
        let out = self
            .ec2
            .describe_security_groups()
            .filters(ec2_filter("vpc-id", &vpc))
            .filters(ec2_filter("group-name", "nanokit"))
            .send()
            .await
            .unwrap();
        out.security_groups()[0].clone()
    }

    async fn active_ecs_cluster(&self) -> bool {
        let out = self.ecs.describe_clusters().clusters(CLUSTER).send().await.unwrap();
        out.clusters().iter().any(|c| c.status() == Some("ACTIVE"))
    }
}

/// `a.b.c.d/n` as (first, last) addresses.
fn range(cidr: &str) -> (u32, u32) {
    let (addr, prefix) = cidr.split_once('/').unwrap();
    let ip = u32::from(addr.parse::<std::net::Ipv4Addr>().unwrap());
    let prefix: u32 = prefix.parse().unwrap();
    (ip, ip + ((1u64 << (32 - prefix)) - 1) as u32)
}

fn inside(inner: &str, outer: &str) -> bool {
    let (a, b) = range(inner);
    let (c, d) = range(outer);
    c <= a && b <= d
}

// ---- 1. ownership: objects with the deploy's names but not its tags are refused, untouched

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_ecs_service_with_the_deploys_name_is_refused_and_left_untouched() {
    let s = Setup::new();
    let repo = s.repo("repo-auth", &owner("  web:\n    image: nginx:1.27\n"));
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let c = s.clients().await;
    // another project's ECS service happens to be called what `api` of this deploy will be
    let family = c
        .ecs
        .register_task_definition()
        .family("intruder")
        .container_definitions(aws_sdk_ecs::types::ContainerDefinition::builder().name("x").image("busybox").memory(128).build())
        .send()
        .await
        .unwrap();
    let foreign_task = family.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    let tag = |k: &str, v: &str| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build();
    c.ecs
        .create_service()
        .cluster(CLUSTER)
        .service_name("nk-my-platform-prod-api")
        .task_definition(&foreign_task)
        .desired_count(1)
        .tags(tag("nk-project", "intruder"))
        .tags(tag("nk-env", "prod"))
        .tags(tag("nk-component", "x"))
        .send()
        .await
        .unwrap();

    std::fs::write(repo.join("nanokit.yml"), owner("  web:\n    image: nginx:1.27\n  api:\n    image: nginx:1.27\n    expose: 3005\n"))
        .unwrap();
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(!ok, "{out}");
    assert!(out.contains("ECS service `nk-my-platform-prod-api` already exists and belongs to project `intruder`"), "{out}");
    // untouched: same task definition, same tags; and nothing of `api` was made around it
    let found = c
        .ecs
        .describe_services()
        .cluster(CLUSTER)
        .services("nk-my-platform-prod-api")
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .unwrap();
    let svc = &found.services()[0];
    assert_eq!(svc.task_definition(), Some(foreign_task.as_str()));
    assert!(svc.tags().iter().any(|t| t.key() == Some("nk-project") && t.value() == Some("intruder")), "{:?}", svc.tags());
    assert!(!svc.tags().iter().any(|t| t.key() == Some("nk-config-hash")), "{:?}", svc.tags());
    assert!(c.target_group("nk-my-platform-prod-api").await.is_none(), "no target group for the refused service");
    assert!(!c.listener_ports().await.contains(&3005), "no listener for the refused service");
    assert!(c.ecs.describe_task_definition().task_definition("nk-my-platform-prod-api").send().await.is_err(), "no task definition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untagged_target_group_with_the_deploys_name_is_refused_before_anything_is_created() {
    let s = Setup::new();
    let c = s.clients().await;
    let vpc = c.ec2.create_vpc().cidr_block("172.31.0.0/16").send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
    let tg = c
        .elb
        .create_target_group()
        .name("nk-my-platform-prod-auth")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Tcp)
        .port(8080)
        .vpc_id(&vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let tg_arn = tg.target_groups()[0].target_group_arn().unwrap().to_string();
    let repo = s.repo("repo-auth", &owner("  auth:\n    image: nginx:1.27\n    expose: 3001\n"));
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(!ok, "{out}");
    assert!(out.contains("target group `nk-my-platform-prod-auth` already exists and belongs to nothing nanokit knows"), "{out}");
    assert!(c.vpcs(PROJECT).await.is_empty(), "refused before the VPC was created");
    assert!(c.load_balancer().await.is_none(), "refused before the load balancer was created");
    assert!(!c.active_ecs_cluster().await, "refused before the ECS cluster was created");
    assert!(c.elb_tags(&tg_arn).await.is_empty(), "the target group is untouched");
    let found = c.target_group("nk-my-platform-prod-auth").await.unwrap();
    assert_eq!((found.port(), found.vpc_id()), (Some(8080), Some(vpc.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancer_with_the_clusters_name_that_nanokit_did_not_make_is_refused() {
    let s = Setup::new();
    let c = s.clients().await;
    let vpc = c.ec2.create_vpc().cidr_block("172.31.0.0/16").send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string();
    let zones = c.ec2.describe_availability_zones().send().await.unwrap();
    let mut subnets = Vec::new();
    for (i, z) in zones.availability_zones().iter().take(2).enumerate() {
        let out = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("172.31.{i}.0/24"))
            .availability_zone(z.zone_name().unwrap())
            .send()
            .await
            .unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    c.elb
        .create_load_balancer()
        .name(CLUSTER)
        .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Network)
        .set_subnets(Some(subnets))
        .tags(aws_sdk_elasticloadbalancingv2::types::Tag::builder().key("team").value("payments").build())
        .send()
        .await
        .unwrap();
    let repo = s.repo("repo-auth", &owner("  auth:\n    image: nginx:1.27\n    expose: 3001\n"));
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(!ok, "{out}");
    assert!(out.contains("load balancer `nk-my-platform-prod` already exists and belongs to nothing nanokit knows"), "{out}");
    assert!(c.vpcs(PROJECT).await.is_empty(), "refused before the VPC was created");
    assert!(!c.active_ecs_cluster().await, "refused before the ECS cluster was created");
    let lb = c.load_balancer().await.unwrap();
    assert!(c.elb.describe_listeners().load_balancer_arn(lb).send().await.unwrap().listeners().is_empty(), "no listener added");
}

// ---- 2. listeners: a deploy removes only its own removed services' listeners

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_of_hostless_services_and_of_other_components_survive_deploys() {
    let s = Setup::new();
    let auth = s.repo("repo-auth", &format!("{AUTH}{INFRA}"));
    let billing = s.repo("repo-billing", BILLING);
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let c = s.clients().await;
    assert_eq!(c.listener_ports().await, vec![3001, 9100]);
    // billing's deploy changes the routes (its host is new): auth's host-less `metrics` and
    // billing's own host-less `worker` keep their listeners
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert_eq!(c.listener_ports().await, vec![3001, 3002, 3003, 9100]);
    // auth drops `metrics`: its listener and target group go, nothing else
    std::fs::write(
        auth.join("nanokit.yml"),
        format!("{}{INFRA}", AUTH.replace("  metrics:\n    image: nginx:1.27\n    expose: 9100\n", "")),
    )
    .unwrap();
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert_eq!(c.listener_ports().await, vec![3001, 3002, 3003]);
    assert!(c.target_group("nk-my-platform-prod-metrics").await.is_none());
    assert!(c.target_group("nk-my-platform-prod-worker").await.is_some());
    // and billing's re-deploy keeps auth's listener
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert_eq!(c.listener_ports().await, vec![3001, 3002, 3003]);
}

// ---- 3. the security group: listener ports from the VPC, the services among themselves

/// (port, cidr) of the group's TCP rules, whether a rule lets the group's own members in,
/// and every CIDR any rule admits.
fn ingress(group: &aws_sdk_ec2::types::SecurityGroup) -> (Vec<(i32, String)>, bool, Vec<String>) {
    let id = group.group_id().unwrap();
    let mut tcp = Vec::new();
    let mut members = false;
    let mut cidrs = Vec::new();
    for p in group.ip_permissions() {
        for r in p.ip_ranges() {
            cidrs.push(r.cidr_ip().unwrap_or_default().to_string());
            if p.ip_protocol() == Some("tcp") {
                assert_eq!(p.from_port(), p.to_port(), "one port per rule: {p:?}");
                tcp.push((p.from_port().unwrap(), r.cidr_ip().unwrap_or_default().to_string()));
            }
        }
        if p.ip_protocol() == Some("-1") && p.user_id_group_pairs().iter().any(|g| g.group_id() == Some(id)) {
            members = true;
        }
    }
    tcp.sort();
    (tcp, members, cidrs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_group_admits_only_listener_ports_from_the_vpc_and_follows_the_services() {
    let s = Setup::new();
    let auth = s.repo("repo-auth", &format!("{AUTH}{INFRA}"));
    let billing = s.repo("repo-billing", BILLING);
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let c = s.clients().await;
    let vpc_cidr = c.vpcs(PROJECT).await[0].cidr_block().unwrap().to_string();
    let expect = |ports: &[i32]| ports.iter().map(|p| (*p, vpc_cidr.clone())).collect::<Vec<_>>();
    let (tcp, members, cidrs) = ingress(&c.security_group().await);
    assert!(!cidrs.iter().any(|c| c == "0.0.0.0/0"), "nothing from the Internet: {cidrs:?}");
    assert!(members, "the services reach each other (db has no `expose`)");
    assert_eq!(tcp, expect(&[3001, 9100]), "only the exposed ports, from the VPC (db has no rule)");
    // the shared component's exposed services are admitted too
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert_eq!(ingress(&c.security_group().await).0, expect(&[3001, 3002, 3003, 9100]));
    // a removed service's port is closed; the other component's stay open
    std::fs::write(
        auth.join("nanokit.yml"),
        format!("{}{INFRA}", AUTH.replace("  metrics:\n    image: nginx:1.27\n    expose: 9100\n", "")),
    )
    .unwrap();
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert_eq!(ingress(&c.security_group().await).0, expect(&[3001, 3002, 3003]));
    // billing's destroy closes billing's ports only
    let (ok, out) = s.nkdev(&billing, &["destroy", "--env", "prod"]);
    assert!(ok, "{out}");
    assert_eq!(ingress(&c.security_group().await).0, expect(&[3001]));
}

// ---- 4. the network: carved from infra.cidr, completed after a partial failure

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_left_half_made_is_completed_by_the_next_deploy() {
    let s = Setup::new();
    let c = s.clients().await;
    // a first deploy failed right after creating the VPC
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                .tags(ec2_tag("nk-project", PROJECT))
                .tags(ec2_tag("nk-env", "prod"))
                .tags(ec2_tag("nk-component", "auth"))
                .tags(ec2_tag("nk-role", "network"))
                .tags(ec2_tag("Name", CLUSTER))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let repo = s.repo("repo-auth", &owner("  auth:\n    image: nginx:1.27\n    expose: 3001\n"));
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert!(out.contains("create network"), "the half-made network is planned again: {out}");
    assert_eq!(c.vpcs(PROJECT).await.len(), 1, "the existing VPC is completed, not another made");
    let subnets = c.subnets(&vpc).await;
    let zones: std::collections::HashSet<_> = subnets.iter().filter_map(|s| s.availability_zone()).collect();
    assert_eq!(zones.len(), 2, "subnets in two zones: {subnets:?}");
    let igws = c.ec2.describe_internet_gateways().filters(ec2_filter("attachment.vpc-id", &vpc)).send().await.unwrap();
    let igw = igws.internet_gateways()[0].internet_gateway_id().unwrap().to_string();
    let tables = c.ec2.describe_route_tables().filters(ec2_filter("vpc-id", &vpc)).send().await.unwrap();
    let table = tables
        .route_tables()
        .iter()
        .find(|t| t.routes().iter().any(|r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.gateway_id() == Some(igw.as_str())))
        .expect("a route table with the default route to the internet gateway");
    for subnet in &subnets {
        assert!(table.associations().iter().any(|a| a.subnet_id() == subnet.subnet_id()), "{subnet:?} uses the route table");
    }
    let (_, members, _) = ingress(&c.security_group().await);
    assert!(members);
    // complete now: the next run has nothing to do
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok && out.contains("nothing to do"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnets_are_carved_from_infra_cidr_and_a_too_small_block_is_refused_first() {
    let s = Setup::new();
    let c = s.clients().await;
    for (project, cidr) in [("wide", None), ("narrow", Some("10.20.16.0/20"))] {
        let infra = cidr.map(|c| format!("      cidr: {c}\n")).unwrap_or_default();
        let repo = s.repo(project, &format!("name: {project}\nservices:\n  web:\n    image: nginx:1.27\n    expose: 80\n{INFRA}{infra}"));
        let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
        assert!(ok, "{out}");
        let vpcs = c.vpcs(project).await;
        let vpc_cidr = vpcs[0].cidr_block().unwrap();
        assert_eq!(vpc_cidr, cidr.unwrap_or("10.0.0.0/16"));
        let subnets = c.subnets(vpcs[0].vpc_id().unwrap()).await;
        assert_eq!(subnets.len(), 2);
        for subnet in &subnets {
            assert!(inside(subnet.cidr_block().unwrap(), vpc_cidr), "{subnet:?} inside {vpc_cidr}");
        }
    }
    let repo =
        s.repo("tiny", &format!("name: tiny\nservices:\n  web:\n    image: nginx:1.27\n    expose: 80\n{INFRA}      cidr: 10.1.0.0/28\n"));
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    // A file error, with the place in the file, before anything is created.
    assert!(!ok && out.contains("NK042") && out.contains("too small") && out.contains("nanokit.yml:"), "{out}");
    assert!(c.vpcs("tiny").await.is_empty(), "refused before anything was created");
}

// ---- 5. hosts are case-insensitive

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_records_use_the_lower_cased_host_in_the_zone_that_holds_it() {
    let s = Setup::new();
    let c = s.clients().await;
    let zone = c.route53.create_hosted_zone().name("example.com").caller_reference("test").send().await.unwrap();
    let zone = zone.hosted_zone().unwrap().id().to_string();
    let repo = s.repo(
        "repo-auth",
        &owner("  auth:\n    image: nginx:1.27\n    expose: 3001\n    host: Auth.My-Platform.Example.COM\n")
            .replace("region: us-east-1\n", "region: us-east-1\n      dns: aws\n"),
    );
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let records = c.route53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap();
    let names: Vec<&str> = records.resource_record_sets().iter().filter(|r| r.r#type().as_str() == "CNAME").map(|r| r.name()).collect();
    assert_eq!(names, vec!["auth.my-platform.example.com."]);
    let (ok, out) = s.nkdev(&repo, &["destroy", "--env", "prod"]);
    assert!(ok, "{out}");
    let records = c.route53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap();
    assert!(!records.resource_record_sets().iter().any(|r| r.r#type().as_str() == "CNAME"), "the record goes with the service");
}

// ---- 6. `shared: true` never creates or changes the cluster's infrastructure

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_repository_never_creates_or_repairs_the_infrastructure() {
    let s = Setup::new();
    let auth = s.repo("repo-auth", &format!("{AUTH}{INFRA}"));
    let billing = s.repo("repo-billing", BILLING);
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let c = s.clients().await;
    let vpc = c.vpcs(PROJECT).await[0].vpc_id().unwrap().to_string();
    // the network loses a piece (its internet gateway)
    let igws = c.ec2.describe_internet_gateways().filters(ec2_filter("attachment.vpc-id", &vpc)).send().await.unwrap();
    let igw = igws.internet_gateways()[0].internet_gateway_id().unwrap().to_string();
    c.ec2.detach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
    c.ec2.delete_internet_gateway().internet_gateway_id(&igw).send().await.unwrap();
    // the shared repository neither repairs it nor deploys onto it
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(!ok && out.contains("run `nkdev up` in the infra-owner repository first"), "{out}");
    let igws = c.ec2.describe_internet_gateways().filters(ec2_filter("attachment.vpc-id", &vpc)).send().await.unwrap();
    assert!(igws.internet_gateways().is_empty(), "the shared repository made no internet gateway");
    assert!(c
        .ecs
        .describe_services()
        .cluster(CLUSTER)
        .services("nk-my-platform-prod-billing")
        .send()
        .await
        .unwrap()
        .services()
        .iter()
        .all(|s| s.status() != Some("ACTIVE")));
    // the owner repairs it; then the shared repository deploys and changes no infrastructure
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok && out.contains("create network"), "{out}");
    let lb = c.load_balancer().await.unwrap();
    let lb_tags = c.elb_tags(&lb).await;
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert!(!out.contains("create network") && !out.contains("create gateway"), "{out}");
    assert_eq!(c.elb_tags(&lb).await, lb_tags);
    assert!(lb_tags.contains(&("nk-component".to_string(), "auth".to_string())));
    let vpcs = c.vpcs(PROJECT).await;
    assert_eq!(vpcs.len(), 1);
    assert!(vpcs[0].tags().iter().any(|t| t.key() == Some("nk-component") && t.value() == Some("auth")));
    let cluster = c.ecs.describe_clusters().clusters(CLUSTER).include(aws_sdk_ecs::types::ClusterField::Tags).send().await.unwrap();
    assert!(cluster.clusters()[0].tags().iter().any(|t| t.key() == Some("nk-component") && t.value() == Some("auth")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_record_nanokit_did_not_make_is_never_overwritten() {
    let s = Setup::new();
    let c = s.clients().await;
    let zone = c.route53.create_hosted_zone().name("example.com").caller_reference("test").send().await.unwrap();
    let zone = zone.hosted_zone().unwrap().id().to_string();
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    let record = ResourceRecordSet::builder()
        .name("auth.my-platform.example.com")
        .r#type(RrType::Cname)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value("legacy.example.net").build().unwrap())
        .build()
        .unwrap();
    let batch = ChangeBatch::builder()
        .changes(Change::builder().action(ChangeAction::Create).resource_record_set(record).build().unwrap())
        .build()
        .unwrap();
    c.route53.change_resource_record_sets().hosted_zone_id(&zone).change_batch(batch).send().await.unwrap();
    let repo = s.repo(
        "repo-auth",
        &owner("  auth:\n    image: nginx:1.27\n    expose: 3001\n    host: auth.my-platform.example.com\n")
            .replace("region: us-east-1\n", "region: us-east-1\n      dns: aws\n"),
    );
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(!ok && out.contains("the DNS record of `auth.my-platform.example.com` (CNAME legacy.example.net) already exists"), "{out}");
    assert!(c.vpcs(PROJECT).await.is_empty(), "refused before anything was created");
    let records = c.route53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap();
    let cname = records.resource_record_sets().iter().find(|r| r.r#type().as_str() == "CNAME").unwrap();
    assert_eq!(cname.resource_records()[0].value(), "legacy.example.net", "the record is untouched");
}
