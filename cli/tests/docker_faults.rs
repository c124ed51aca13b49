//! Faults during `nkdev up` on a real engine: the gateway's host port already taken, a service
//! that never gets healthy, and the engine restarting mid-deploy. Each must end in an error
//! that says what happened, leave nothing half-made that the next run would mistake for done,
//! release the lock, and let the next `nkdev up` converge.
//!
//! The engine-restart test stops the shared engine, so the tests of this binary run one at a
//! time (`SERIAL`); cargo runs test binaries one after another, so no other binary is affected.

mod support;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::{docker, Project};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const LOCKED: &str = "Shared modules are being initialized";

fn state_file(repo: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(repo.join(".nanokit/state-local.json")).expect("the state file is written");
    serde_json::from_str(&text).unwrap()
}

fn containers_of(p: &Project, role: &str) -> Vec<String> {
    let (_, out) = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=nk-project={}", p.name),
        "--filter",
        &format!("label=nk-role={role}"),
        "--format",
        "{{.Names}} {{.State}}",
    ]);
    out.lines().map(str::to_string).collect()
}

#[test]
fn a_taken_gateway_port_is_named_before_anything_is_created() {
    let _serial = serial();
    let p = Project::new("port");
    let yaml = "name: {project}\nservices:\n  web:\n    image: nk-test/busybox:1\n    command: mkdir -p /w && exec httpd -f -p 8080 -h /w\n    expose: 8080\n    host: web.{project}.localhost\nenvironments:\n  local:\n    infra:\n      provider: docker\n";
    let repo = p.repo("port", yaml, &[]);
    let squatter = std::net::TcpListener::bind(("127.0.0.1", p.port)).expect("the test's own port is free");
    let (ok, out) = p.up(&repo, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("host port 127.0.0.1:{} is taken", p.port)) && out.contains("--gateway-port"), "{out}");
    assert!(out.contains("nothing was created or changed"), "{out}");
    assert!(containers_of(&p, "gateway").is_empty(), "{:?}", containers_of(&p, "gateway"));
    assert!(containers_of(&p, "service").is_empty(), "{:?}", containers_of(&p, "service"));
    let (network_exists, _) = docker(&["network", "inspect", &format!("nk-{}-local", p.name)]);
    assert!(!network_exists, "the network is not created either");
    // Nothing is recorded as deployed; `web` is recorded as not yet seen ready, to be retried.
    let recorded = std::fs::read_to_string(repo.join(".nanokit/state-local.json")).unwrap_or_default();
    let state: serde_json::Value = serde_json::from_str(&recorded).unwrap_or_default();
    let component = &state["components"][p.name.as_str()];
    assert!(component["services"].get("web").is_none(), "no service is recorded as deployed: {recorded}");
    assert_eq!(component["unready"], serde_json::json!(["web"]), "{recorded}");
    // Once the port is free, the next run creates the gateway and routes through it.
    drop(squatter);
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    assert!(!out.contains(LOCKED), "the failed run released its lock: {out}");
    let (status, _) = p.get(&format!("web.{}.localhost", p.name), "/").expect("the gateway answers");
    assert_ne!(status, 502, "the gateway reaches the service");
}

#[test]
fn a_service_that_never_gets_healthy_times_out_is_retried_and_destroyed() {
    let _serial = serial();
    let p = Project::new("sick");
    let yaml = "name: {project}\nservices:\n  db:\n    image: nk-test/busybox:1\n    command: echo db warming up && exec sleep 600\n    healthcheck:\n      cmd: test -f /ready\n      interval: 1s\n      retries: 1\n  api:\n    image: nk-test/busybox:1\n    command: exec sleep 600\n    depends_on: [db]\nenvironments:\n  local:\n    infra:\n      provider: docker\n";
    let repo = p.repo("sick", yaml, &[]);
    let (ok, out) = p.up(&repo, &["--timeout", "4"]);
    assert!(!ok, "{out}");
    assert!(out.contains("service `db` was not ready after 4s (healthcheck status `unhealthy`)"), "{out}");
    assert!(out.contains("db warming up"), "the error shows the service's last log lines: {out}");
    assert_eq!(p.services(), vec![p.container("db")], "its dependent is not started");
    // The state records what was deployed and that it never got ready…
    let state = state_file(&repo);
    let component = &state["components"][&p.name];
    assert_eq!(component["unready"], serde_json::json!(["db", "api"]), "{state}");
    // …so the next run retries it instead of calling an unhealthy service "up to date".
    let (ok, out) = p.up(&repo, &["--timeout", "4"]);
    assert!(!ok && !out.contains(LOCKED), "{out}");
    assert!(out.contains("recreate db (the last deploy did not see it ready)"), "{out}");
    // Once the service is fixed, the next run converges and clears the record.
    std::fs::write(repo.join("nanokit.yml"), yaml.replace("{project}", &p.name).replace("test -f /ready", "test -d /")).unwrap();
    let (ok, out) = p.up(&repo, &["--timeout", "20"]);
    assert!(ok, "{out}");
    assert_eq!(state_file(&repo)["components"][&p.name].get("unready"), None);
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok && out.contains("nothing to do: 2 services up to date"), "{out}");
    let out = p.nkdev(&repo).arg("destroy").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(p.services().is_empty() && containers_of(&p, "gateway").is_empty());
}

/// The running engine's command line, to start it again the same way.
fn dockerd_command() -> (u32, Vec<String>) {
    let out = std::process::Command::new("pidof").arg("dockerd").output().expect("pidof (procps) is installed");
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a local dockerd runs (scripts/test-deps.sh starts one); this test restarts it");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv = cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).to_string()).collect();
    (pid, argv)
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn engine_answers() -> bool {
    docker(&["info", "--format", "{{.ServerVersion}}"]).0
}

/// Stop the engine (SIGTERM, as `systemctl restart` does) and start it again with the same
/// command line, detached into its own session like scripts/test-deps.sh starts it.
fn restart_engine() {
    let (pid, argv) = dockerd_command();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    wait_for("dockerd to exit", Duration::from_secs(60), || !Path::new(&format!("/proc/{pid}")).exists());
    let log = std::fs::OpenOptions::new().create(true).append(true).open("/tmp/nanokit-dockerd.log").unwrap();
    // `setsid --fork` returns at once, leaving the engine to run on its own.
    let started = std::process::Command::new("setsid")
        .arg("--fork")
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .expect("setsid (util-linux) starts dockerd again");
    assert!(started.success(), "setsid --fork {argv:?}: {started}");
    wait_for("dockerd to answer again", Duration::from_secs(90), engine_answers);
}

#[test]
fn an_engine_restart_mid_deploy_is_reported_and_the_next_up_converges() {
    let _serial = serial();
    let p = Project::new("restart");
    // `slow` takes a few seconds to open its port: the engine goes away while nkdev waits.
    let yaml = "name: {project}\nservices:\n  fast:\n    image: nk-test/busybox:1\n    command: mkdir -p /w && exec httpd -f -p 8080 -h /w\n    expose: 8080\n  slow:\n    image: nk-test/busybox:1\n    command: sleep 8 && mkdir -p /w && exec httpd -f -p 8080 -h /w\n    expose: 8080\n    host: slow.{project}.localhost\n    depends_on: [fast]\nenvironments:\n  local:\n    infra:\n      provider: docker\n";
    let repo = p.repo("restart", yaml, &[]);
    let deploy = p.nkdev_std(&repo).args(["up", "--timeout", "60"]).spawn().unwrap();
    wait_for("`slow` to be created", Duration::from_secs(60), || p.services().contains(&p.container("slow")));
    restart_engine();
    let out = deploy.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("the Docker engine stopped answering"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    // The next run takes the lock (it was released), retries `slow`, and converges.
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    assert!(!out.contains(LOCKED), "{out}");
    let (status, _) = p.get(&format!("slow.{}.localhost", p.name), "/").expect("the gateway is back after the restart");
    assert_ne!(status, 502, "the gateway reaches `slow`");
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok && out.contains("nothing to do: 2 services up to date"), "{out}");
}
