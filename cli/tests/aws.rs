//! The seed's "Multi-Repo on AWS" scenario against moto_server (PyPI moto[server], installed by
//! scripts/test-deps.sh) through the real AWS SDK clients: VPC, NLB and ECS created by the
//! owner, adopted by the secondary, tags on everything, idempotent re-runs, scoped destroy,
//! and the lock held on AWS. Without moto these tests fail with that instruction.
#![cfg(feature = "aws")]

#[path = "support/moto.rs"]
mod moto;

use moto::Setup;
use std::path::Path;

const AUTH: &str = "name: my-platform\ncomponent: auth\nservices:\n  auth:\n    image: nginx:1.27\n    expose: 3001\n    host: auth.my-platform.example.com\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: us-east-1\n";
const BILLING: &str = "name: my-platform\ncomponent: billing\nservices:\n  billing:\n    image: nginx:1.27\n    expose: 3002\n    host: billing.my-platform.example.com\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: us-east-1\n      shared: true\n";

/// Names of the cluster's services that are not deleted (ECS keeps INACTIVE ones listed).
async fn active_services(ecs: &aws_sdk_ecs::Client) -> Vec<String> {
    let arns = ecs.list_services().cluster("nk-my-platform-prod").send().await.unwrap().service_arns().to_vec();
    if arns.is_empty() {
        return Vec::new();
    }
    let described = ecs.describe_services().cluster("nk-my-platform-prod").set_services(Some(arns)).send().await.unwrap();
    let mut names: Vec<String> =
        described.services().iter().filter(|s| s.status() == Some("ACTIVE")).filter_map(|s| s.service_name().map(str::to_string)).collect();
    names.sort();
    names
}

fn tag<'a>(tags: &'a [aws_sdk_ecs::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_repo_on_aws_owner_creates_secondary_adopts_destroy_is_scoped() {
    let s = Setup::new();
    let auth = s.repo("repo-auth", AUTH);
    let billing = s.repo("repo-billing", BILLING);
    let env = ["--env", "prod"];

    // the secondary cannot go first
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(!ok && out.contains("run `nkdev up` in the infra-owner repository first"), "{out}");

    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let config = s.config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let vpcs = ec2
        .describe_vpcs()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:nk-project").values("my-platform").build())
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC, tagged");
    let vpc_tags = vpcs.vpcs()[0].tags();
    assert!(vpc_tags.iter().any(|t| t.key() == Some("nk-component") && t.value() == Some("auth")));
    let subnets = ec2
        .describe_subnets()
        .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(vpcs.vpcs()[0].vpc_id().unwrap()).build())
        .send()
        .await
        .unwrap();
    let zones: std::collections::HashSet<_> = subnets.subnets().iter().filter_map(|s| s.availability_zone()).collect();
    assert_eq!(zones.len(), 2, "subnets in two availability zones");
    let lbs = elb.describe_load_balancers().names("nk-my-platform-prod").send().await.unwrap();
    assert_eq!(lbs.load_balancers()[0].r#type().map(|t| t.as_str()), Some("network"));
    let listeners = elb.describe_listeners().load_balancer_arn(lbs.load_balancers()[0].load_balancer_arn().unwrap()).send().await.unwrap();
    assert_eq!(listeners.listeners().iter().map(|l| l.port().unwrap()).collect::<Vec<_>>(), vec![3001]);
    let services = ecs
        .describe_services()
        .cluster("nk-my-platform-prod")
        .services("nk-my-platform-prod-auth")
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .unwrap();
    let svc = &services.services()[0];
    assert_eq!(svc.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    assert_eq!(tag(svc.tags(), "nk-component"), Some("auth"));
    assert_eq!(tag(svc.tags(), "nk-service"), Some("auth"));
    assert!(tag(svc.tags(), "nk-config-hash").is_some());
    let task = ecs.describe_task_definition().task_definition(svc.task_definition().unwrap()).send().await.unwrap();
    let container = &task.task_definition().unwrap().container_definitions()[0];
    let env_of = |k: &str| container.environment().iter().find(|e| e.name() == Some(k)).and_then(|e| e.value()).map(str::to_string);
    assert_eq!(env_of("NANOKIT_SERVICE").as_deref(), Some("auth"));
    assert_eq!(env_of("NANOKIT_REGION").as_deref(), Some("us-east-1"));
    assert_eq!(env_of("NANOKIT_CLUSTER").as_deref(), Some("nk-my-platform-prod"));
    assert!(Path::new(s.home.path()).join("clusters/aws_my-platform_prod/state-prod.json").is_file(), "state in the cluster directory");

    // idempotent
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok && out.contains("nothing to do"), "{out}");

    // the secondary adopts VPC, NLB and cluster and creates none
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    assert!(!out.contains("create network") && !out.contains("create gateway"), "{out}");
    let vpcs = ec2
        .describe_vpcs()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:nk-project").values("my-platform").build())
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "still one VPC");
    assert_eq!(active_services(&ecs).await, vec!["nk-my-platform-prod-auth", "nk-my-platform-prod-billing"]);

    // the owner's destroy keeps the shared infrastructure while billing remains
    let (ok, out) = s.nkdev(&auth, &["destroy", "--env", "prod"]);
    assert!(ok && out.contains("keeping network and gateway: components billing still have services"), "{out}");
    assert_eq!(active_services(&ecs).await, vec!["nk-my-platform-prod-billing"]);
    assert_eq!(elb.describe_load_balancers().names("nk-my-platform-prod").send().await.unwrap().load_balancers().len(), 1);

    // the secondary's destroy removes only its service; the shared infra is never touched
    let (ok, out) = s.nkdev(&billing, &["destroy", "--env", "prod"]);
    assert!(ok && out.contains("never touched from a repository with `shared: true`"), "{out}");
    assert!(active_services(&ecs).await.is_empty());
    assert_eq!(
        ec2.describe_vpcs()
            .filters(aws_sdk_ec2::types::Filter::builder().name("tag:nk-project").values("my-platform").build())
            .send()
            .await
            .unwrap()
            .vpcs()
            .len(),
        1
    );

    // with no component left, the owner's destroy removes the infrastructure
    let (ok, out) = s.nkdev(&auth, &["destroy", "--env", "prod"]);
    assert!(ok && out.contains("remove network"), "{out}");
    assert!(ec2
        .describe_vpcs()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:nk-project").values("my-platform").build())
        .send()
        .await
        .unwrap()
        .vpcs()
        .is_empty());
    let _ = env;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_lives_on_aws_and_infra_unlock_clears_it() {
    let s = Setup::new();
    let auth = s.repo("repo-auth", AUTH);
    let config = s.config().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    // another machine holds the lock
    let holder = r#"{"pid":4242,"host":"build-agent-7","user":"ci","component":"billing","command":"nkdev up","since":1795500000}"#;
    ssm.put_parameter()
        .name("/nanokit/locks/my-platform/prod")
        .value(holder)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(
        !ok && out.contains("Shared modules are being initialized…")
            && out.contains("build-agent-7")
            && out.contains("component `billing`"),
        "{out}"
    );
    let (ok, out) = s.nkdev(&auth, &["infra", "unlock", "--env", "prod"]);
    assert!(!ok && out.contains("build-agent-7") && out.contains("--force"), "another machine's lock needs --force: {out}");
    let (ok, out) = s.nkdev(&auth, &["infra", "unlock", "--env", "prod", "--force"]);
    assert!(ok && out.contains("removed the lock") && out.contains("build-agent-7"), "{out}");
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    // released after the deploy
    assert!(ssm.get_parameter().name("/nanokit/locks/my-platform/prod").send().await.is_err());
}

#[test]
fn a_local_path_without_an_image_is_refused_on_aws() {
    let s = Setup::new();
    let repo = s.repo("repo", "name: web\nservices:\n  site:\n    path: ./site\n    expose: 80\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: eu-west-1\n");
    std::fs::create_dir_all(repo.join("site")).unwrap();
    std::fs::write(repo.join("site/index.html"), "hi").unwrap();
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(!ok && out.contains("service `site` has only a local `path`") && out.contains("needs an `image:`"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_auto_registers_min_and_max_with_application_auto_scaling() {
    let s = Setup::new();
    let yaml = AUTH.replace("      region: us-east-1\n", "      region: us-east-1\n      scaling: auto\n      min: 2\n      max: 5\n");
    let repo = s.repo("repo-auth", &yaml);
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let config = s.config().await;
    let scaling = aws_sdk_applicationautoscaling::Client::new(&config);
    let targets = scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .send()
        .await
        .unwrap();
    let target = &targets.scalable_targets()[0];
    assert_eq!(target.resource_id(), "service/nk-my-platform-prod/nk-my-platform-prod-auth");
    assert_eq!((target.min_capacity(), target.max_capacity()), (2, 5));
    let ecs = aws_sdk_ecs::Client::new(&config);
    let svc = ecs.describe_services().cluster("nk-my-platform-prod").services("nk-my-platform-prod-auth").send().await.unwrap();
    assert_eq!(svc.services()[0].desired_count(), 2, "starts at min");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_aws_points_each_host_at_the_load_balancer() {
    let s = Setup::new();
    let yaml = AUTH.replace("      region: us-east-1\n", "      region: us-east-1\n      dns: aws\n      autoCreateDomain: true\n");
    let repo = s.repo("repo-auth", &yaml);
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let config = s.config().await;
    let route53 = aws_sdk_route53::Client::new(&config);
    let zones = route53.list_hosted_zones().send().await.unwrap();
    let zone = zones.hosted_zones().iter().find(|z| z.name() == "example.com.").expect("autoCreateDomain created the zone");
    let records = route53.list_resource_record_sets().hosted_zone_id(zone.id()).send().await.unwrap();
    let cname = records
        .resource_record_sets()
        .iter()
        .find(|r| r.name().trim_end_matches('.') == "auth.my-platform.example.com")
        .expect("a record for the host");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let lb = elb.describe_load_balancers().names("nk-my-platform-prod").send().await.unwrap();
    assert_eq!(cname.resource_records()[0].value(), lb.load_balancers()[0].dns_name().unwrap());
    // destroy removes the record with the service
    let (ok, out) = s.nkdev(&repo, &["destroy", "--env", "prod"]);
    assert!(ok, "{out}");
    let records = route53.list_resource_record_sets().hosted_zone_id(zone.id()).send().await.unwrap();
    assert!(!records.resource_record_sets().iter().any(|r| r.name().trim_end_matches('.') == "auth.my-platform.example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_load_balancer_port_serves_one_service_only() {
    let s = Setup::new();
    let auth = s.repo("repo-auth", AUTH);
    let (ok, out) = s.nkdev(&auth, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    // billing copied auth's port: the NLB listener on 3001 is auth's and stays auth's
    let billing = s.repo("repo-billing", &BILLING.replace("expose: 3002", "expose: 3001"));
    let (ok, out) = s.nkdev(&billing, &["up", "--env", "prod"]);
    assert!(!ok && out.contains("port 3001 of the load balancer already routes to `auth` of component `auth`"), "{out}");
    let config = s.config().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let groups = elb.describe_target_groups().send().await.unwrap();
    assert_eq!(groups.target_groups().len(), 1, "the refused deploy left no target group behind");
    // and within one file
    let twice = s.repo(
        "repo-twice",
        &AUTH
            .replace("component: auth", "component: other")
            .replace("services:\n", "services:\n  extra:\n    image: nginx:1.27\n    expose: 3001\n"),
    );
    let (ok, out) = s.nkdev(&twice, &["up", "--env", "prod"]);
    assert!(!ok && out.contains("both expose port 3001"), "{out}");
}

/// The live status on AWS is `observe`, polled (`--interval`); watch and restart say they are
/// Docker's and change nothing.
#[test]
fn status_watch_polls_aws_and_watch_and_restart_are_refused() {
    let s = Setup::new();
    let repo = s.repo("repo-auth", AUTH);
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok, "{out}");
    let mut child = s
        .command(&repo, &["status", "--watch", "--format", "jsonl", "--interval", "1", "--env", "prod"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first line, read on a thread: a status --watch that never prints fails the test.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let first = first.expect("nkdev status --watch printed no event within 60 s");
    let event: serde_json::Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(event["event"], "status", "{event}");
    assert_eq!(event["provider"], "aws", "{event}");
    let rows = event["services"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["service"] == "auth" && r["component"] == "auth" && r["up_to_date"] == true), "{event}");
    for args in [vec!["up", "--watch", "--env", "prod"], vec!["restart", "auth", "--env", "prod"]] {
        let (ok, out) = s.nkdev(&repo, &args);
        assert!(!ok && out.contains("provider `aws`"), "{out}");
        assert!(!out.contains("plan for"), "{out}");
    }
    let (ok, out) = s.nkdev(&repo, &["up", "--env", "prod"]);
    assert!(ok && out.contains("nothing to do"), "{out}");
}
