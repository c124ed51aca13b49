//! The cluster lock on a real engine and on moto: it lives on the engine (a never-started
//! container), it is released on SIGINT, SIGTERM and SIGHUP alike with what is unready
//! recorded, `infra unlock` refuses to clear a lock whose holder may be alive unless
//! `--force`, a container that only looks like the lock is never removed, and a holder only
//! ever removes its own lock (a token), never the one taken after a forced unlock.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::{docker, Project};

const LOCKED: &str = "Shared modules are being initialized…";

/// One service that takes `secs` seconds to listen on its port.
fn slow(secs: u32) -> String {
    format!(
        "name: {{project}}\nservices:\n  slow:\n    image: nk-test/busybox:1\n    command: sleep {secs} && mkdir -p /tmp/www && exec httpd -f -p 3000 -h /tmp/www\n    expose: 3000\nenvironments:\n  local:\n    infra:\n      provider: docker\n"
    )
}

fn lock_container(p: &Project) -> String {
    format!("nk-{}-local-lock", p.name)
}

fn exists(container: &str) -> bool {
    docker(&["container", "inspect", container]).0
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

/// A lock container written by hand, as another deploy (or another tool) would leave it.
fn plant_lock(p: &Project, labels: &[String]) {
    let mut args = vec!["create".to_string(), "--name".into(), lock_container(p), "--network".into(), "none".into()];
    for l in labels {
        args.push("--label".into());
        args.push(l.clone());
    }
    args.extend([support::BUSYBOX.to_string(), "true".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = docker(&args);
    assert!(ok, "{out}");
}

fn lock_labels(p: &Project, host: &str, pid: u32, token: &str) -> Vec<String> {
    let info = serde_json::json!({
        "pid": pid, "host": host, "user": "ci", "component": "billing", "command": "nkdev up", "since": 1_795_500_000u64, "token": token,
    });
    vec![format!("nk-project={}", p.name), "nk-env=local".into(), "nk-role=lock".into(), format!("nk-lock={info}")]
}

fn run(p: &Project, repo: &Path, args: &[&str]) -> (bool, String) {
    let out = p.nkdev(repo).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

fn state_file(repo: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(repo.join(".nanokit/state-local.json")).expect("the state file is written");
    serde_json::from_str(&text).unwrap()
}

/// `nkdev up` stopped by `signal` once it has created the slow service's container.
fn interrupted_by(signal: &str) {
    let p = Project::new(&format!("sig{}", signal.to_lowercase()));
    let repo = p.repo("sig", &slow(6), &[]);
    let child = p.nkdev_std(&repo).args(["up", "--timeout", "30"]).spawn().unwrap();
    let container = p.container("slow");
    wait_for("the service's container", Duration::from_secs(30), || exists(&container));
    std::thread::sleep(Duration::from_millis(300));
    let sent = std::process::Command::new("kill").args(["-s", signal, &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an interrupted deploy fails: {err}");
    assert!(err.contains(&format!("interrupted by SIG{signal}")) && err.contains("nkdev up"), "{err}");
    // the lock was released: neither on the engine nor (as it used to be) under NANOKIT_HOME
    assert!(!exists(&lock_container(&p)), "the engine lock is left: {err}");
    let file_lock = p.home.path().join("clusters").join(format!("docker_{}_local", p.name)).join("lock");
    assert!(!file_lock.exists(), "a lock file is left: {err}");
    // what it never saw ready is recorded, and the next plan recreates it
    assert_eq!(state_file(&repo)["components"][&p.name]["unready"], serde_json::json!(["slow"]), "{err}");
    let (ok, plan) = run(&p, &repo, &["plan"]);
    assert!(ok && plan.contains("recreate slow"), "{plan}");
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok && out.contains("recreate slow"), "{out}");
    assert_eq!(state_file(&repo)["components"][&p.name].get("unready"), None);
    assert!(!exists(&lock_container(&p)));
}

#[test]
fn sigterm_releases_the_lock_and_records_what_is_unready() {
    interrupted_by("TERM");
}

#[test]
fn sighup_releases_the_lock_and_records_what_is_unready() {
    interrupted_by("HUP");
}

#[test]
fn sigint_releases_the_lock_and_records_what_is_unready() {
    interrupted_by("INT");
}

#[test]
fn the_lock_lives_on_the_engine_and_names_its_holder() {
    let p = Project::new("engine");
    let repo = p.repo("engine", &slow(4), &[]);
    let first = p.nkdev_std(&repo).args(["up", "--timeout", "30"]).spawn().unwrap();
    let lock = lock_container(&p);
    wait_for("the lock container", Duration::from_secs(30), || exists(&lock));
    let (_, labels) = docker(&["inspect", "-f", "{{json .Config.Labels}}", &lock]);
    let labels: serde_json::Value = serde_json::from_str(labels.trim()).unwrap();
    assert_eq!(labels["nk-role"], "lock", "{labels}");
    let info: serde_json::Value = serde_json::from_str(labels["nk-lock"].as_str().unwrap()).unwrap();
    assert_eq!(info["pid"], first.id(), "{info}");
    assert!(info["token"].as_str().is_some_and(|t| t.len() >= 16), "{info}");
    let (_, state) = docker(&["inspect", "-f", "{{.State.Status}}", &lock]);
    assert_eq!(state.trim(), "created", "the lock container is never started");
    // a second deploy (another machine would see the same) is refused, naming the holder
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains(LOCKED) && out.contains(&format!("pid {}", first.id())), "{out}");
    // while held, `status` shows services only
    let (ok, out) = run(&p, &repo, &["status"]);
    assert!(ok && !out.contains("lock"), "{out}");
    // and an `infra unlock` without --force refuses: the holder is alive on this host
    let (ok, out) = run(&p, &repo, &["infra", "unlock"]);
    assert!(!ok && out.contains("still running") && out.contains("--force"), "{out}");
    assert!(exists(&lock));
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(!exists(&lock), "released after the deploy");
    // destroy takes and releases it too, and leaves nothing of the project behind
    let (ok, out) = run(&p, &repo, &["destroy"]);
    assert!(ok, "{out}");
    let (_, left) = docker(&["ps", "-aq", "--filter", &format!("label=nk-project={}", p.name)]);
    assert_eq!(left.trim(), "", "{out}");
}

#[test]
fn a_lock_from_another_machine_needs_force_to_clear() {
    let p = Project::new("remote");
    let repo = p.repo("remote", &slow(0), &[]);
    plant_lock(&p, &lock_labels(&p, "build-agent-7", 4242, "their-token"));
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains(LOCKED) && out.contains("build-agent-7") && out.contains("component `billing`"), "{out}");
    assert!(p.services().is_empty(), "nothing deployed while locked");
    let (ok, out) = run(&p, &repo, &["infra", "unlock"]);
    assert!(!ok && out.contains("build-agent-7") && out.contains("--force"), "{out}");
    assert!(exists(&lock_container(&p)), "not cleared without --force");
    let (ok, out) = run(&p, &repo, &["infra", "unlock", "--force"]);
    assert!(ok && out.contains("removed the lock") && out.contains("build-agent-7"), "{out}");
    assert!(!exists(&lock_container(&p)));
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
}

#[test]
fn a_stale_engine_lock_is_reported_and_cleared_without_force() {
    let p = Project::new("stale");
    let repo = p.repo("stale", &slow(0), &[]);
    plant_lock(&p, &lock_labels(&p, &hostname(), u32::MAX - 1, "dead-token"));
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains(LOCKED) && out.contains("stale") && out.contains("nkdev infra unlock"), "{out}");
    let (ok, out) = run(&p, &repo, &["infra", "unlock"]);
    assert!(ok && out.contains("removed the lock"), "{out}");
    assert!(!exists(&lock_container(&p)));
    let (ok, out) = run(&p, &repo, &["infra", "unlock"]);
    assert!(ok && out.contains("no lock"), "{out}");
}

#[test]
fn a_container_that_only_looks_like_the_lock_is_never_removed() {
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            docker(&["rm", "-f", &self.0]);
        }
    }
    let p = Project::new("foreign");
    let repo = p.repo("foreign", &slow(0), &[]);
    let _cleanup = Remove(lock_container(&p));
    plant_lock(&p, &["owner=someone-else".to_string()]);
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok && out.contains(&lock_container(&p)) && out.contains("not a nanokit lock"), "{out}");
    for args in [&["infra", "unlock"][..], &["infra", "unlock", "--force"]] {
        let (ok, out) = run(&p, &repo, args);
        assert!(!ok && out.contains("not a nanokit lock"), "{out}");
        assert!(exists(&lock_container(&p)), "never removed: {out}");
    }
}

#[test]
fn a_holder_releases_only_its_own_lock_not_the_next_one() {
    let p = Project::new("token");
    let repo = p.repo("token", &slow(4), &[]);
    let first = p.nkdev_std(&repo).args(["up", "--timeout", "30"]).spawn().unwrap();
    let lock = lock_container(&p);
    wait_for("the lock container", Duration::from_secs(30), || exists(&lock));
    // a forced unlock, then another machine takes the lock while the first deploy still runs
    let (ok, out) = run(&p, &repo, &["infra", "unlock", "--force"]);
    assert!(ok && out.contains("removed the lock"), "{out}");
    plant_lock(&p, &lock_labels(&p, "build-agent-7", 4242, "their-token"));
    let first = first.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{err}");
    assert!(exists(&lock), "the first deploy removed the lock it no longer held: {err}");
    assert!(err.contains("not ours") || err.contains("no longer"), "the first deploy says it left the lock: {err}");
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssm_lock_is_released_only_by_its_holder() {
    use nanokit_deploy::lock::LockInfo;
    use nanokit_provider_aws::lock;
    let tools = std::env::var_os("NANOKIT_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/nanokit-tools"));
    let bin = tools.join("venv/bin/moto_server");
    assert!(bin.is_file(), "moto_server is not installed at {}; run scripts/test-deps.sh", bin.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _moto = Kill(
        std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("moto_server", Duration::from_secs(30), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let name = "/nanokit/locks/tok/prod";
    let first = lock::acquire(&ssm, name, &LockInfo::current("auth", "nkdev up")).await.unwrap();
    // a forced unlock, and another deploy takes the lock
    ssm.delete_parameter().name(name).send().await.unwrap();
    let second = lock::acquire(&ssm, name, &LockInfo::current("billing", "nkdev up")).await.unwrap();
    first.release().await;
    let held = lock::read(&ssm, name).await.expect("the second holder's lock is still there");
    assert_eq!(held.component, "billing");
    second.release().await;
    assert!(lock::read(&ssm, name).await.is_none(), "the holder released its own lock");
}
