//! `nkdev up`/`destroy`/`status`/`logs` against a real Docker engine with locally built images
//! (scripts/test-deps.sh starts the engine and builds them). Without an engine these tests
//! fail with that instruction; they never skip.

mod support;

use std::path::PathBuf;
use support::{docker, Project};

const WEB_RUNTIME: &str = "runtimes:\n  web:\n    image: nk-test/busybox:1\n    provisioning:\n      install: mkdir -p /tmp/www && cp -r /app/. /tmp/www/\n      start: env | sort > /tmp/www/env.txt && exec httpd -f -p \"$PORT\" -h /tmp/www\n";

fn monorepo() -> String {
    format!(
        "name: {{project}}\n{WEB_RUNTIME}services:\n  auth:\n    runtime: web\n    path: ./apps/auth\n    expose: 3001\n    host: auth.{{project}}.localhost\n  billing:\n    runtime: web\n    path: ./apps/billing\n    expose: 3002\n    host: billing.{{project}}.localhost\n    depends_on: [auth]\n  api:\n    runtime: web\n    path: ./apps/api\n    expose: 3000\n    host: {{project}}.localhost\n    depends_on: [auth, billing]\n    healthcheck:\n      path: /index.html\n    volumes:\n      - cache:/cache\nenvironments:\n  local:\n    infra:\n      provider: docker\n"
    )
}

#[test]
fn monorepo_routes_resolves_and_is_idempotent() {
    let p = Project::new("mono");
    let repo = p.repo("mono", &monorepo(), &["auth", "billing", "api"]);
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    // every host reaches its service through the gateway
    for (host, app) in [
        (format!("auth.{}.localhost", p.name), "auth"),
        (format!("billing.{}.localhost", p.name), "billing"),
        (format!("{}.localhost", p.name), "api"),
    ] {
        let (status, body) = p.get(&host, "/index.html").unwrap_or_else(|| panic!("gateway did not answer for {host}"));
        assert_eq!((status, body.trim()), (200, format!("hello from {app}").as_str()), "{host}");
    }
    // injected variables inside the containers
    let (_, env) = p.get(&format!("{}.localhost", p.name), "/env.txt").unwrap();
    for expected in [
        format!("NANOKIT_PROJECT={}", p.name),
        "NANOKIT_SERVICE=api".into(),
        "NANOKIT_ENV=local".into(),
        format!("NANOKIT_URL_AUTH=auth.{}.localhost", p.name),
        "PORT=3000".into(),
        "NANOKIT_PROVIDER=docker".into(),
    ] {
        assert!(env.contains(&expected), "{expected} missing from:\n{env}");
    }
    // docker-init is PID 1, so a replaced service gets SIGTERM even behind `sh -c`
    let (_, init) = docker(&["inspect", "-f", "{{.HostConfig.Init}}", &p.container("api")]);
    assert_eq!(init.trim(), "true");
    // container-to-container DNS
    let (ok, body) = docker(&["exec", &p.container("api"), "wget", "-qO-", &format!("http://{}:3002/index.html", p.container("billing"))]);
    assert!(ok && body.contains("hello from billing"), "{body}");
    // state written beside the file
    assert!(repo.join(".nanokit/state-local.json").is_file());
    // a second up changes nothing
    let ids: Vec<String> = ["auth", "billing", "api"].iter().map(|s| p.container_id(s)).collect();
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok && out.contains("nothing to do: 3 services up to date"), "{out}");
    // changing one service recreates only it
    let yaml = std::fs::read_to_string(repo.join("nanokit.yml")).unwrap().replace("expose: 3002", "expose: 3012");
    std::fs::write(repo.join("nanokit.yml"), yaml).unwrap();
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("recreate billing (configuration changed"), "{out}");
    assert!(!out.contains("recreate auth") && !out.contains("recreate api"), "{out}");
    assert_eq!(p.container_id("auth"), ids[0]);
    assert_eq!(p.container_id("api"), ids[2]);
    assert_ne!(p.container_id("billing"), ids[1]);
    let (status, _) = p.get(&format!("billing.{}.localhost", p.name), "/index.html").unwrap();
    assert_eq!(status, 200, "the gateway follows the new port");
    // status lists every service
    let out = p.nkdev(&repo).arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("auth") && text.contains("running"), "{text}");
    // logs, prefixed by service
    let out = p.nkdev(&repo).args(["logs", "api", "--tail", "5"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // destroy removes everything of the only component
    let out = p.nkdev(&repo).arg("destroy").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(p.services().is_empty());
    assert!(!docker(&["network", "inspect", &format!("nk-{}-local", p.name)]).0, "the network is gone");
}

#[test]
fn up_of_one_service_brings_its_dependencies_only() {
    let p = Project::new("sel");
    let repo = p.repo("sel", &monorepo(), &["auth", "billing", "api"]);
    let (ok, out) = p.up(&repo, &["billing"]);
    assert!(ok, "{out}");
    assert_eq!(p.services(), vec![p.container("auth"), p.container("billing")]);
    let (ok, out) = p.up(&repo, &["nope"]);
    assert!(!ok && out.contains("no service `nope`"), "{out}");
}

fn owner_and_secondary(p: &Project) -> (PathBuf, PathBuf) {
    let auth = format!(
        "name: {{project}}\ncomponent: auth\n{WEB_RUNTIME}services:\n  auth:\n    runtime: web\n    path: ./apps/auth\n    expose: 3001\n    host: auth.{{project}}.localhost\nenvironments:\n  local:\n    infra:\n      provider: docker\n"
    );
    let billing = format!(
        "name: {{project}}\ncomponent: billing\n{WEB_RUNTIME}services:\n  billing:\n    runtime: web\n    path: ./apps/billing\n    expose: 3002\n    host: billing.{{project}}.localhost\nenvironments:\n  local:\n    infra:\n      provider: docker\n      shared: true\n"
    );
    (p.repo("repo-auth", &auth, &["auth"]), p.repo("repo-billing", &billing, &["billing"]))
}

#[test]
fn multi_repo_components_share_the_gateway_and_never_touch_each_other() {
    let p = Project::new("multi");
    let (auth, billing) = owner_and_secondary(&p);
    // the secondary cannot go first: it adopts, it never creates
    let (ok, out) = p.up(&billing, &[]);
    assert!(!ok && out.contains("run `nkdev up` in the infra-owner repository first"), "{out}");
    assert!(p.services().is_empty());
    let (ok, out) = p.up(&auth, &[]);
    assert!(ok, "{out}");
    let (ok, out) = p.up(&billing, &[]);
    assert!(ok, "{out}");
    assert!(!out.contains("create network") && !out.contains("create gateway"), "{out}");
    // the shared gateway routes both components
    assert_eq!(p.get(&format!("auth.{}.localhost", p.name), "/index.html").unwrap().0, 200);
    assert_eq!(p.get(&format!("billing.{}.localhost", p.name), "/index.html").unwrap().0, 200);
    // re-running the owner keeps billing's route and container
    let billing_id = p.container_id("billing");
    let (ok, out) = p.up(&auth, &[]);
    assert!(ok && out.contains("nothing to do"), "{out}");
    assert_eq!(p.get(&format!("billing.{}.localhost", p.name), "/index.html").unwrap().0, 200);
    // billing may not take over auth's service name, nor its host
    let original = std::fs::read_to_string(billing.join("nanokit.yml")).unwrap();
    let stolen = original.replace("  billing:\n", "  auth:\n");
    std::fs::write(billing.join("nanokit.yml"), &stolen).unwrap();
    let (ok, out) = p.up(&billing, &[]);
    assert!(!ok && out.contains("belongs to component `auth`"), "{out}");
    let host_taken = stolen.replace("  auth:\n", "  billing2:\n").replace("host: billing.", "host: auth.");
    std::fs::write(billing.join("nanokit.yml"), &host_taken).unwrap();
    let (ok, out) = p.up(&billing, &[]);
    assert!(!ok && out.contains("is already routed to `auth` of component `auth`"), "{out}");
    assert_eq!(p.container_id("billing"), billing_id, "a refused deploy changes nothing");
    std::fs::write(billing.join("nanokit.yml"), &original).unwrap();
    // the owner's destroy keeps the shared infra while billing lives
    let out = p.nkdev(&auth).arg("destroy").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("keeping network and gateway: components billing still have services"), "{text}");
    assert_eq!(p.services(), vec![p.container("billing")]);
    assert_eq!(p.get(&format!("billing.{}.localhost", p.name), "/index.html").unwrap().0, 200);
    let (status, body) = p.get(&format!("auth.{}.localhost", p.name), "/index.html").unwrap();
    assert_eq!((status, body.as_str()), (404, "nanokit: no service is routed for this host\n"), "auth's route is gone");
    // the secondary's destroy removes its own services only and never the shared infra
    let out = p.nkdev(&billing).arg("destroy").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(docker(&["network", "inspect", &format!("nk-{}-local", p.name)]).0, "the shared network stays");
}

#[test]
fn concurrent_deploys_exclude_each_other_and_a_killed_deploy_leaves_a_stale_lock() {
    let p = Project::new("lock");
    // a slow service keeps the first deploy busy long enough to overlap
    let slow = format!(
        "name: {{project}}\n{WEB_RUNTIME}services:\n  slow:\n    runtime: web\n    path: ./apps/slow\n    expose: 3000\n    command: sleep 4 && mkdir -p /tmp/www && exec httpd -f -p 3000 -h /tmp/www\nenvironments:\n  local:\n    infra:\n      provider: docker\n"
    );
    let repo = p.repo("lock", &slow, &["slow"]);
    let spawn = || p.nkdev_std(&repo).arg("up").spawn().unwrap();
    let first = spawn();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let second = spawn().wait_with_output().unwrap();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success() && err.contains("Shared modules are being initialized…") && err.contains("nkdev up"), "{err}");

    // kill -9 a deploy mid-way: its lock stays, and is reported stale
    std::fs::write(repo.join("apps/slow/changed"), "x").unwrap();
    let yaml = std::fs::read_to_string(repo.join("nanokit.yml")).unwrap().replace("sleep 4", "sleep 5");
    std::fs::write(repo.join("nanokit.yml"), yaml).unwrap();
    let mut victim = spawn();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    victim.kill().unwrap();
    victim.wait().unwrap();
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains("stale") && out.contains("nkdev infra unlock"), "{out}");
    let out = p.nkdev(&repo).args(["infra", "unlock", "--env", "local"]).output().unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("removed the lock"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // and the next deploy converges
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
}

#[test]
fn a_service_that_never_gets_ready_fails_with_its_logs_and_releases_the_lock() {
    let p = Project::new("fail");
    let yaml = "name: {project}\nservices:\n  broken:\n    image: nk-test/busybox:1\n    command: echo starting up && echo cannot bind to port >&2 && exit 3\n    expose: 3000\nenvironments:\n  local:\n    infra:\n      provider: docker\n";
    let repo = p.repo("fail", yaml, &[]);
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("service `broken` keeps exiting (exit code 3)") && out.contains("cannot bind to port"), "{out}");
    // the lock was released: the next command gets past it (and fails the same way)
    let (ok, out) = p.up(&repo, &["--timeout", "5"]);
    assert!(!ok && out.contains("service `broken` keeps exiting"), "{out}");
}

#[test]
fn a_missing_image_is_named() {
    let p = Project::new("img");
    let yaml = "name: {project}\nservices:\n  ghost:\n    image: nk-test/does-not-exist:1\nenvironments:\n  local:\n    infra:\n      provider: docker\n";
    let repo = p.repo("img", yaml, &[]);
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains("image `nk-test/does-not-exist:1` is not available locally and could not be pulled"), "{out}");
}

#[test]
fn dry_run_changes_nothing() {
    let p = Project::new("dry");
    let repo = p.repo("dry", &monorepo(), &["auth", "billing", "api"]);
    let out = p.nkdev(&repo).arg("plan").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("+ create auth (new service)"), "{text}");
    assert!(p.services().is_empty());
    assert!(!repo.join(".nanokit").exists());
}
