//! The cluster's network: a VPC carved into two public subnets from `infra.cidr`, an internet
//! gateway, a route table, and the `nanokit` security group. Every piece is ensured on its
//! own, so a deploy that failed half-way is completed by the next; `observe` reports the
//! network only when every piece is there, so the plan runs `create network` again until it is.
//!
//! The security group admits, from the VPC's own block only (the network load balancer's IP
//! targets see the balancer's private addresses), the `expose` port of each service of the
//! cluster, and all traffic between its members. Each port's rule names the service it is for
//! in its description; a deploy revokes only its own component's rules.

use crate::guard::{self, Tags};
use crate::{code, ec2_tags, err, filter, names, AwsProvider};
use nanokit_core::ownership::{Intent, ObjectKind};
use nanokit_core::plan::Desired;
use nanokit_deploy::provider::{labels, ProviderError};
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types as ec2t;

const GROUP: &str = "nanokit";
const ANYWHERE: &str = "0.0.0.0/0";

/// What exists of the network of one VPC.
pub struct Pieces {
    pub vpc: String,
    pub cidr: String,
    pub subnets: Vec<ec2t::Subnet>,
    pub igw: Option<String>,
    pub table: Option<ec2t::RouteTable>,
    pub group: Option<ec2t::SecurityGroup>,
}

fn tag_map(tags: &[ec2t::Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect()
}

/// The rule that let every port in from anywhere, which earlier versions created (TCP 1–65535
/// from 0.0.0.0/0) — exactly that one: a rule the user added (SSH from anywhere, say) is theirs.
fn is_wide_open(p: &ec2t::IpPermission) -> bool {
    p.ip_protocol() == Some("tcp")
        && p.from_port() == Some(1)
        && p.to_port() == Some(65535)
        && p.ip_ranges().iter().any(|r| r.cidr_ip() == Some(ANYWHERE))
}

fn admits_members(group: &ec2t::SecurityGroup) -> bool {
    group
        .ip_permissions()
        .iter()
        .any(|p| p.ip_protocol() == Some("-1") && p.user_id_group_pairs().iter().any(|g| g.group_id() == group.group_id()))
}

/// The group's single-port TCP rules from `cidr`: port → the owner its description names.
fn port_rules(group: &ec2t::SecurityGroup, cidr: &str) -> BTreeMap<u16, Tags> {
    let mut rules = BTreeMap::new();
    for p in group.ip_permissions().iter().filter(|p| p.ip_protocol() == Some("tcp") && p.from_port() == p.to_port()) {
        for r in p.ip_ranges().iter().filter(|r| r.cidr_ip() == Some(cidr)) {
            if let Some(port) = p.from_port().and_then(|p| u16::try_from(p).ok()) {
                rules.insert(port, guard::rule_owner(r.description().unwrap_or_default()));
            }
        }
    }
    rules
}

fn port_permission(port: u16, cidr: &str, description: Option<String>) -> ec2t::IpPermission {
    ec2t::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port))
        .ip_ranges(ec2t::IpRange::builder().cidr_ip(cidr).set_description(description).build())
        .build()
}

impl Pieces {
    /// The pieces that are missing or wrong, in words (empty: the network is complete).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        let zones: BTreeSet<&str> = self.subnets.iter().filter_map(|s| s.availability_zone()).collect();
        if zones.len() < 2 {
            missing.push("subnets in two availability zones");
        }
        if self.igw.is_none() {
            missing.push("internet gateway");
        }
        match &self.table {
            None => missing.push("route table"),
            Some(t) => {
                let default = t.routes().iter().any(|r| {
                    r.destination_cidr_block() == Some(ANYWHERE)
                        && r.gateway_id().is_some()
                        && r.gateway_id() == self.igw.as_deref()
                        && r.state() != Some(&ec2t::RouteState::Blackhole)
                });
                if !default {
                    missing.push("default route");
                }
                if !self.subnets.iter().all(|s| t.associations().iter().any(|a| a.subnet_id() == s.subnet_id())) {
                    missing.push("route table associations");
                }
            }
        }
        match &self.group {
            None => missing.push("security group"),
            Some(g) => {
                if !admits_members(g) {
                    missing.push("security group rule between the services");
                }
                if g.ip_permissions().iter().any(is_wide_open) {
                    missing.push("removal of the security group's rule open to 0.0.0.0/0");
                }
            }
        }
        missing
    }
}

impl AwsProvider {
    /// The cluster's VPC: `infra.vpc`, or the one tagged with this project environment.
    pub(super) async fn find_vpc(&self, desired: &Desired) -> Result<Option<ec2t::Vpc>, ProviderError> {
        let request = match &self.infra.vpc {
            Some(id) => self.ec2.describe_vpcs().vpc_ids(id),
            None => self
                .ec2
                .describe_vpcs()
                .filters(filter(&format!("tag:{}", labels::PROJECT), &desired.cluster.project))
                .filters(filter(&format!("tag:{}", labels::ENV), &desired.cluster.env))
                .filters(filter(&format!("tag:{}", labels::ROLE), "network")),
        };
        match request.send().await {
            Ok(o) => Ok(o.vpcs().first().cloned()),
            Err(e) if code(&e).as_deref() == Some("InvalidVpcID.NotFound") => Ok(None),
            Err(e) => Err(err("cannot describe VPCs", e)),
        }
    }

    pub(super) async fn vpc_tagged(&self, desired: &Desired) -> Result<Option<(String, Tags)>, ProviderError> {
        Ok(self.find_vpc(desired).await?.map(|v| (v.vpc_id().unwrap_or_default().to_string(), tag_map(v.tags()))))
    }

    pub(super) async fn security_group(&self, vpc: &str) -> Result<Option<ec2t::SecurityGroup>, ProviderError> {
        let groups = self
            .ec2
            .describe_security_groups()
            .filters(filter("vpc-id", vpc))
            .filters(filter("group-name", GROUP))
            .send()
            .await
            .map_err(|e| err("cannot describe security groups", e))?;
        Ok(groups.security_groups().first().cloned())
    }

    pub(super) async fn pieces(&self, desired: &Desired, vpc: &ec2t::Vpc) -> Result<Pieces, ProviderError> {
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        let subnets =
            self.ec2.describe_subnets().filters(filter("vpc-id", &id)).send().await.map_err(|e| err("cannot describe subnets", e))?;
        let igws = self
            .ec2
            .describe_internet_gateways()
            .filters(filter("attachment.vpc-id", &id))
            .send()
            .await
            .map_err(|e| err("cannot describe internet gateways", e))?;
        let tables = self
            .ec2
            .describe_route_tables()
            .filters(filter("vpc-id", &id))
            .filters(filter(&format!("tag:{}", labels::PROJECT), &desired.cluster.project))
            .send()
            .await
            .map_err(|e| err("cannot describe route tables", e))?;
        Ok(Pieces {
            vpc: id.clone(),
            cidr: vpc.cidr_block().unwrap_or_default().to_string(),
            subnets: subnets.subnets().to_vec(),
            igw: igws.internet_gateways().first().and_then(|g| g.internet_gateway_id()).map(str::to_string),
            table: tables.route_tables().iter().find(|t| !t.associations().iter().any(|a| a.main() == Some(true))).cloned(),
            group: self.security_group(&id).await?,
        })
    }

    /// `create network`: make or complete each piece of the network.
    pub(super) async fn ensure_network(&self, desired: &Desired) -> Result<(), ProviderError> {
        if let Some(id) = &self.infra.vpc {
            if self.find_vpc(desired).await?.is_some() {
                return Ok(()); // the user's VPC, adopted as it is
            }
            return Err(ProviderError::new(format!("VPC `{id}` (infra.vpc) does not exist in {}", self.region)));
        }
        let vpc = match self.find_vpc(desired).await? {
            Some(v) => {
                guard::check(desired, ObjectKind::Infra, Intent::Change, "VPC", v.vpc_id().unwrap_or_default(), &tag_map(v.tags()))?;
                v
            }
            None => {
                let cidr = self.infra.cidr.clone().unwrap_or_else(|| "10.0.0.0/16".into());
                names::subnet_cidrs(&cidr).map_err(ProviderError::new)?;
                let out = self
                    .ec2
                    .create_vpc()
                    .cidr_block(&cidr)
                    .tag_specifications(ec2_tags(desired, ec2t::ResourceType::Vpc, "network"))
                    .send()
                    .await
                    .map_err(|e| err("cannot create the VPC", e))?;
                out.vpc().cloned().ok_or_else(|| ProviderError::new("AWS did not return the new VPC"))?
            }
        };
        let pieces = self.pieces(desired, &vpc).await?;
        let vpc_id = pieces.vpc.clone();

        // Subnets: two, in two zones, from the VPC's block.
        let slots = names::subnet_cidrs(&pieces.cidr).map_err(ProviderError::new)?;
        let mut subnets: Vec<(String, String, String)> = pieces
            .subnets
            .iter()
            .map(|s| {
                (
                    s.subnet_id().unwrap_or_default().to_string(),
                    s.availability_zone().unwrap_or_default().to_string(),
                    s.cidr_block().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let zones = self.ec2.describe_availability_zones().send().await.map_err(|e| err("cannot list availability zones", e))?;
        for zone in zones.availability_zones().iter().filter_map(|z| z.zone_name()) {
            let used: BTreeSet<&str> = subnets.iter().map(|(_, z, _)| z.as_str()).collect();
            if used.len() >= 2 {
                break;
            }
            if used.contains(zone) {
                continue;
            }
            let Some(cidr) = slots.iter().find(|slot| !subnets.iter().any(|(_, _, c)| names::cidrs_overlap(c, slot))) else {
                return Err(ProviderError::new(format!("VPC `{vpc_id}` ({}) has no room left for a subnet in {zone}", pieces.cidr)));
            };
            let out = self
                .ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(cidr)
                .availability_zone(zone)
                .tag_specifications(ec2_tags(desired, ec2t::ResourceType::Subnet, "network"))
                .send()
                .await
                .map_err(|e| err("cannot create a subnet", e))?;
            subnets.push((out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default().to_string(), zone.to_string(), cidr.clone()));
        }

        // The internet gateway, attached.
        let igw = match &pieces.igw {
            Some(id) => id.clone(),
            None => {
                let out = self
                    .ec2
                    .create_internet_gateway()
                    .tag_specifications(ec2_tags(desired, ec2t::ResourceType::InternetGateway, "network"))
                    .send()
                    .await
                    .map_err(|e| err("cannot create the internet gateway", e))?;
                let id = out.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_string();
                self.ec2
                    .attach_internet_gateway()
                    .internet_gateway_id(&id)
                    .vpc_id(&vpc_id)
                    .send()
                    .await
                    .map_err(|e| err("cannot attach the internet gateway", e))?;
                id
            }
        };

        // The route table: the default route to the gateway, every subnet associated.
        let table = match &pieces.table {
            Some(t) => t.clone(),
            None => self
                .ec2
                .create_route_table()
                .vpc_id(&vpc_id)
                .tag_specifications(ec2_tags(desired, ec2t::ResourceType::RouteTable, "network"))
                .send()
                .await
                .map_err(|e| err("cannot create the route table", e))?
                .route_table()
                .cloned()
                .ok_or_else(|| ProviderError::new("AWS did not return the new route table"))?,
        };
        let table_id = table.route_table_id().unwrap_or_default().to_string();
        match table.routes().iter().find(|r| r.destination_cidr_block() == Some(ANYWHERE)) {
            Some(r) if r.gateway_id() == Some(igw.as_str()) && r.state() != Some(&ec2t::RouteState::Blackhole) => {}
            Some(_) => {
                self.ec2
                    .replace_route()
                    .route_table_id(&table_id)
                    .destination_cidr_block(ANYWHERE)
                    .gateway_id(&igw)
                    .send()
                    .await
                    .map_err(|e| err("cannot replace the default route", e))?;
            }
            None => {
                self.ec2
                    .create_route()
                    .route_table_id(&table_id)
                    .destination_cidr_block(ANYWHERE)
                    .gateway_id(&igw)
                    .send()
                    .await
                    .map_err(|e| err("cannot create the default route", e))?;
            }
        }
        for (subnet, _, _) in &subnets {
            if table.associations().iter().any(|a| a.subnet_id() == Some(subnet.as_str())) {
                continue;
            }
            self.ec2
                .associate_route_table()
                .route_table_id(&table_id)
                .subnet_id(subnet)
                .send()
                .await
                .map_err(|e| err("cannot associate the route table", e))?;
        }

        // The security group: its members reach each other; nothing is open to the Internet.
        let group = match &pieces.group {
            Some(g) => {
                let id = g.group_id().unwrap_or_default();
                guard::check(desired, ObjectKind::Infra, Intent::Change, "security group", id, &tag_map(g.tags()))?;
                g.clone()
            }
            None => {
                let out = self
                    .ec2
                    .create_security_group()
                    .group_name(GROUP)
                    .description("nanokit services")
                    .vpc_id(&vpc_id)
                    .tag_specifications(ec2_tags(desired, ec2t::ResourceType::SecurityGroup, "network"))
                    .send()
                    .await
                    .map_err(|e| err("cannot create the security group", e))?;
                ec2t::SecurityGroup::builder().group_id(out.group_id().unwrap_or_default()).build()
            }
        };
        let group_id = group.group_id().unwrap_or_default().to_string();
        if !admits_members(&group) {
            let members = ec2t::IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(ec2t::UserIdGroupPair::builder().group_id(&group_id).description("nanokit services").build())
                .build();
            self.authorize(&group_id, members).await?;
        }
        let open: Vec<ec2t::IpPermission> = group.ip_permissions().iter().filter(|p| is_wide_open(p)).cloned().collect();
        if !open.is_empty() {
            self.ec2
                .revoke_security_group_ingress()
                .group_id(&group_id)
                .set_ip_permissions(Some(open))
                .send()
                .await
                .map_err(|e| err("cannot close the security group's rule open to 0.0.0.0/0", e))?;
        }
        // The services already running keep being reachable through the load balancer.
        self.sync_ingress(desired, false).await
    }

    async fn authorize(&self, group: &str, permission: ec2t::IpPermission) -> Result<(), ProviderError> {
        match self.ec2.authorize_security_group_ingress().group_id(group).ip_permissions(permission).send().await {
            Ok(_) => Ok(()),
            Err(e) if code(&e).as_deref() == Some("InvalidPermission.Duplicate") => Ok(()),
            Err(e) => Err(err("cannot add a security group rule", e)),
        }
    }

    /// The `nanokit` group of the cluster's VPC and the VPC's block, if both exist.
    async fn group_and_cidr(&self, desired: &Desired) -> Result<Option<(ec2t::SecurityGroup, String)>, ProviderError> {
        let Some(vpc) = self.find_vpc(desired).await? else { return Ok(None) };
        let cidr = vpc.cidr_block().unwrap_or_default().to_string();
        Ok(self.security_group(vpc.vpc_id().unwrap_or_default()).await?.map(|g| (g, cidr)))
    }

    /// Admit the load balancer on `port`, for `service` of this deploy.
    pub(super) async fn admit_port(&self, desired: &Desired, service: &str, port: u16) -> Result<(), ProviderError> {
        let Some((group, cidr)) = self.group_and_cidr(desired).await? else { return Ok(()) };
        if port_rules(&group, &cidr).contains_key(&port) {
            return Ok(());
        }
        let permission = port_permission(port, &cidr, Some(guard::rule_description(desired, service)));
        self.authorize(group.group_id().unwrap_or_default(), permission).await
    }

    /// Close `port` if its rule is this component's (another component's rule stays).
    pub(super) async fn close_port(&self, desired: &Desired, port: u16) -> Result<(), ProviderError> {
        let Some((group, cidr)) = self.group_and_cidr(desired).await? else { return Ok(()) };
        match port_rules(&group, &cidr).get(&port) {
            Some(owner) if guard::is_ours(desired, owner) => self.revoke_port(&group, &cidr, port).await,
            _ => Ok(()),
        }
    }

    async fn revoke_port(&self, group: &ec2t::SecurityGroup, cidr: &str, port: u16) -> Result<(), ProviderError> {
        match self
            .ec2
            .revoke_security_group_ingress()
            .group_id(group.group_id().unwrap_or_default())
            .ip_permissions(port_permission(port, cidr, None))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e).as_deref() == Some("InvalidPermission.NotFound") => Ok(()),
            Err(e) => Err(err(format!("cannot close port {port} in the security group"), e)),
        }
    }

    /// Every exposed port of the cluster's live services is admitted (whichever component's;
    /// the rule names its owner); with `close`, this component's rules for ports none of its
    /// services expose any longer are revoked. Others' rules are never revoked.
    pub(super) async fn sync_ingress(&self, desired: &Desired, close: bool) -> Result<(), ProviderError> {
        let Some((group, cidr)) = self.group_and_cidr(desired).await? else { return Ok(()) };
        let c = &desired.cluster;
        let mut wanted: BTreeMap<u16, Tags> = BTreeMap::new();
        for s in self.services(&c.network).await? {
            let tags = guard::ecs_tags(s.tags());
            if tags.get(labels::PROJECT) != Some(&c.project) || tags.get(labels::ENV) != Some(&c.env) || s.status() == Some("DRAINING") {
                continue;
            }
            let service = tags.get(labels::SERVICE).cloned().unwrap_or_default();
            let source = tags.get(labels::SOURCE).map(String::as_str);
            let removed = guard::is_ours(desired, &tags)
                && nanokit_core::plan::removes_service(desired, &desired.cluster.component, &service, source);
            if let (Some(port), false) = (tags.get(labels::PORT).and_then(|p| p.parse::<u16>().ok()), removed) {
                wanted.insert(port, tags);
            }
        }
        let existing = port_rules(&group, &cidr);
        let group_id = group.group_id().unwrap_or_default();
        for (port, owner) in &wanted {
            if !existing.contains_key(port) {
                let description = [labels::PROJECT, labels::ENV, labels::COMPONENT, labels::SERVICE]
                    .iter()
                    .map(|k| format!("{k}={}", owner.get(*k).map_or("", String::as_str)))
                    .collect::<Vec<_>>()
                    .join(";");
                self.authorize(group_id, port_permission(*port, &cidr, Some(description))).await?;
            }
        }
        if close {
            for (port, owner) in &existing {
                if !wanted.contains_key(port) && guard::is_ours(desired, owner) {
                    self.revoke_port(&group, &cidr, *port).await?;
                }
            }
        }
        Ok(())
    }
}
