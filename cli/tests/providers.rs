//! Providers out of process: the example plugin written in Python (examples/providers/)
//! deploys its example for real through `nkdev`, the conformance suite passes against it and
//! against the built-in Docker provider served through the protocol (`nkdev provider serve
//! docker`), and each way a plugin can misbehave (crash, hang, garbage, another protocol
//! version) stops the deploy with an error naming the plugin, the lock released.

mod support;

use nanokit_deploy::conformance;
use nanokit_deploy::options::{GatewayOptions, Options};
use nanokit_deploy::plugin::PluginProvider;
use nanokit_deploy::provider::Provider;
use nanokit_deploy::registry::Environment;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn example() -> PathBuf {
    root().join("examples/providers")
}

/// `nkdev` with the example plugin on PATH, its own NANOKIT_HOME and process state.
struct Plugged {
    home: tempfile::TempDir,
    state: tempfile::TempDir,
    port: u16,
}

impl Plugged {
    fn new() -> Plugged {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Plugged { home: tempfile::tempdir().unwrap(), state: tempfile::tempdir().unwrap(), port }
    }

    fn cmd(&self, args: &[&str], vars: &[(&str, &str)]) -> (bool, String) {
        let path = format!("{}:{}", example().display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new(assert_cmd::cargo::cargo_bin("nkdev"))
            .args(args)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .env("NANOKIT_HOME", self.home.path())
            .env("NANOKIT_PROCESS_HOME", self.state.path())
            .env("NANOKIT_GATEWAY_PORT", self.port.to_string())
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    }

    fn file(&self) -> String {
        example().join("nanokit.yml").display().to_string()
    }

    fn get(&self, host: &str) -> Option<(u16, String)> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(nanokit_provider_docker::probe::http_get(&format!("127.0.0.1:{}", self.port), host, "/"))
    }

    fn lock_file(&self) -> PathBuf {
        self.home.path().join("clusters/process_procs_local/lock")
    }
}

impl Drop for Plugged {
    /// Whatever a failed test left running is stopped (the plugin's own destroy).
    fn drop(&mut self) {
        let file = self.file();
        let _ = self.cmd(&["destroy", "-f", &file], &[]);
    }
}

#[test]
fn the_python_plugin_deploys_its_example_with_status_logs_and_destroy() {
    let p = Plugged::new();
    let file = p.file();
    let (ok, out) = p.cmd(&["providers"], &[]);
    assert!(ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("process ")).unwrap_or_else(|| panic!("the plugin is listed: {out}"));
    assert!(line.contains("deploy,status,logs") && line.contains("nkdev-provider-process"), "{line}");
    assert!(out.lines().any(|l| l.starts_with("docker ") && l.contains("built in")), "{out}");

    let (ok, out) = p.cmd(&["up", "-f", &file, "--timeout", "30"], &[]);
    assert!(ok, "{out}");
    assert!(out.contains("on local processes"), "the plan names the plugin's target: {out}");
    for (host, text) in [("web.procs.localhost", "web"), ("api.procs.localhost", "api"), ("DOCS.procs.localhost", "docs")] {
        let (status, body) = p.get(host).unwrap_or_else(|| panic!("{host}: no answer from the plugin's gateway"));
        assert_eq!(status, 200, "{host}: {body}");
        assert!(body.to_lowercase().contains(text), "{host}: {body}");
    }
    let (ok, out) = p.cmd(&["up", "-f", &file], &[]);
    assert!(ok && out.contains("nothing to do: 3 services up to date"), "{out}");

    let (ok, out) = p.cmd(&["status", "-f", &file], &[]);
    assert!(ok, "{out}");
    for s in ["api", "web", "docs"] {
        assert!(out.lines().any(|l| l.starts_with(s) && l.contains("running")), "{s}: {out}");
    }
    let (ok, out) = p.cmd(&["logs", "--file", &file, "web"], &[]);
    assert!(ok && out.contains("web | ") && out.contains("GET /index.html"), "the health probe's request is in web's log: {out}");
    assert!(!out.contains("api | "), "only web was asked: {out}");

    let (ok, out) = p.cmd(&["destroy", "-f", &file], &[]);
    assert!(ok, "{out}");
    assert!(p.get("web.procs.localhost").is_none(), "the gateway is gone");
    let (ok, out) = p.cmd(&["status", "-f", &file], &[]);
    assert!(ok && out.contains("no services deployed"), "{out}");
    assert!(!p.lock_file().exists());
}

#[test]
fn a_provider_that_is_not_installed_says_how_to_install_one() {
    let p = Plugged::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nanokit.yml"),
        "name: x\nservices:\n  a:\n    image: x\nenvironments:\n  local:\n    infra:\n      provider: hetzner\n",
    )
    .unwrap();
    let file = dir.path().join("nanokit.yml").display().to_string();
    let (ok, out) = p.cmd(&["validate", "-f", &file], &[]);
    assert!(ok && out.contains("NK052") && out.contains("nkdev-provider-hetzner"), "{out}");
    let (ok, out) = p.cmd(&["up", "-f", &file], &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("no provider `hetzner`") && out.contains("nkdev-provider-hetzner") && out.contains("docs/providers.md"), "{out}");
}

#[test]
fn up_watch_and_restart_say_a_plugin_cannot_restart_in_place_and_change_nothing() {
    let p = Plugged::new();
    let file = p.file();
    for args in [vec!["up", "--watch", "-f", &file], vec!["restart", "-f", &file]] {
        let (ok, out) = p.cmd(&args, &[]);
        assert!(!ok, "{out}");
        assert!(out.contains("provider `process`") && (out.contains("not supported") || out.contains("cannot restart")), "{out}");
        assert!(!out.contains("plan for"), "nothing may be deployed first: {out}");
    }
    let (_, status) = p.cmd(&["status", "-f", &file], &[]);
    assert!(status.contains("no services deployed"), "{status}");
}

/// Each misbehaviour, the message it must produce, and the plugin named in it.
#[test]
fn a_plugin_that_crashes_hangs_writes_garbage_or_speaks_another_version_stops_the_deploy_with_the_lock_released() {
    let p = Plugged::new();
    let file = p.file();
    for (fault, expected) in [
        ("crash-on-observe", "exited (exit status: 3) while answering `observe`"),
        ("hang-on-observe", "did not answer `observe` within 2 s and was stopped"),
        ("garbage", "wrote something that is not a JSON-RPC message to stdout"),
        ("version", "chose protocol version 99, which this nkdev does not speak"),
    ] {
        let start = std::time::Instant::now();
        let (ok, out) = p.cmd(&["up", "-f", &file], &[("NKDEV_PROCESS_FAULT", fault), ("NANOKIT_PROVIDER_TIMEOUT", "2")]);
        assert!(!ok, "{fault}: {out}");
        assert!(out.contains(expected) && out.contains("provider plugin `process`"), "{fault}: {out}");
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "{fault}: no hang");
        assert!(!p.lock_file().exists(), "{fault}: the lock is released");
    }
}

#[test]
fn a_plugin_that_dies_mid_deploy_leaves_the_lock_released_and_the_unready_recorded() {
    let p = Plugged::new();
    let file = p.file();
    let (ok, out) = p.cmd(&["up", "-f", &file, "--timeout", "30"], &[("NKDEV_PROCESS_FAULT", "crash-on-create:web")]);
    assert!(!ok, "{out}");
    assert!(out.contains("provider plugin `process`") && out.contains("while answering `apply`"), "{out}");
    assert!(!p.lock_file().exists(), "the lock is released: {out}");
    let state = std::fs::read_to_string(p.home.path().join("clusters/process_procs_local/state-local.json")).unwrap();
    assert!(state.contains("\"unready\"") && state.contains("\"web\""), "{state}");
    // The next deploy, with a working plugin, converges.
    let (ok, out) = p.cmd(&["up", "-f", &file, "--timeout", "30"], &[]);
    assert!(ok, "{out}");
    assert_eq!(p.get("web.procs.localhost").map(|(s, _)| s), Some(200));
}

fn environment(desired: &nanokit_core::plan::Desired, provider: &str, dir: &Path) -> Environment {
    let c = &desired.cluster;
    Environment {
        project: c.project.clone(),
        env: c.env.clone(),
        component: c.component.clone(),
        shared: c.shared,
        provider: provider.into(),
        infra: Default::default(),
        project_dir: dir.to_path_buf(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_against_the_python_plugin() {
    let p = Plugged::new();
    std::env::set_var("NANOKIT_PROCESS_HOME", p.state.path());
    let dir = tempfile::tempdir().unwrap();
    // Ports of its own, so it never meets the end-to-end test's services.
    let yaml = std::fs::read_to_string(example().join("nanokit.yml"))
        .unwrap()
        .replace("name: procs", "name: procsconf\ncomponent: webteam")
        .replace("3840", "3850");
    for app in ["api", "web", "docs"] {
        std::fs::create_dir_all(dir.path().join("apps").join(app)).unwrap();
        std::fs::write(dir.path().join("apps").join(app).join("index.html"), app).unwrap();
    }
    let desired = conformance::desired_from_yaml(&yaml, "local", dir.path()).unwrap();
    let book = conformance::book(&desired, "process", dir.path());
    let options = Options { gateway: GatewayOptions { port: Some(p.port), ..GatewayOptions::default() }, ..Options::default() };
    let plugin = example().join("nkdev-provider-process");
    let provider = PluginProvider::start("process", &plugin, &environment(&desired, "process", dir.path()), &options).await.unwrap();
    conformance::deploys_then_plans_nothing(&provider, &desired, &book).await.unwrap();
    let changed = conformance::desired_from_yaml(&yaml.replace("38503", "38513"), "local", dir.path()).unwrap();
    conformance::changes_only_what_changed(&provider, &changed, "docs", &book).await.unwrap();
    conformance::status_lists_each_service(&provider, &changed).await.unwrap();
    let lines = conformance::logs_end_and_name_their_service(&provider, &changed, "web").await.unwrap();
    assert!(lines.iter().any(|l| l.contains("GET /index.html")), "the health probe is in web's log: {lines:?}");
    let theirs = conformance::desired_from_yaml(&yaml.replace("component: webteam", "component: intruder"), "local", dir.path()).unwrap();
    let their_book = conformance::book(&theirs, "process", &dir.path().join("intruder"));
    conformance::refuses_another_components_services(&provider, &changed, &theirs, &their_book).await.unwrap();
    conformance::destroy_removes_the_component(&provider, &changed, &book).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_against_docker_served_through_the_protocol() {
    let project = support::Project::new("conf");
    let repo = project.repo(
        "repo",
        &format!(
            "name: {{project}}\ncomponent: frontteam\nruntimes:\n  http:\n    image: {img}\n    provisioning:\n      start: exec httpd -f -p 8080 -h /\n  idle:\n    image: {img}\n    provisioning:\n      start: exec sleep 3600\nservices:\n  api:\n    runtime: http\n    expose: 8080\n    host: api.{{project}}.localhost\n  worker:\n    runtime: idle\n    depends_on: [api]\n",
            img = support::BUSYBOX
        ),
        &[],
    );
    let yaml = std::fs::read_to_string(repo.join("nanokit.yml")).unwrap();
    let desired = conformance::desired_from_yaml(&yaml, "local", &repo).unwrap();
    let book = conformance::book(&desired, "docker", &repo.join(".nanokit"));
    let options = Options {
        gateway: GatewayOptions { image: support::CADDY.into(), port: Some(project.port), ..GatewayOptions::default() },
        ..Options::default()
    };
    let nkdev = assert_cmd::cargo::cargo_bin("nkdev");
    let env = environment(&desired, "docker", &repo);
    let provider = PluginProvider::start_with("docker", &nkdev, &["provider", "serve", "docker"], &env, &options).await.unwrap();
    // The served provider fits the desired state itself (the gateway's settings), as `nkdev` asks it to.
    let mut desired = desired;
    provider.prepare(&mut desired, true).await.unwrap();
    assert_eq!(desired.cluster.gateway_settings, Some(format!("{}|127.0.0.1:{}", support::CADDY, project.port)));
    conformance::deploys_then_plans_nothing(&provider, &desired, &book).await.unwrap();
    let mut changed = conformance::desired_from_yaml(&yaml.replace("sleep 3600", "sleep 3601"), "local", &repo).unwrap();
    provider.prepare(&mut changed, true).await.unwrap();
    conformance::changes_only_what_changed(&provider, &changed, "worker", &book).await.unwrap();
    conformance::status_lists_each_service(&provider, &changed).await.unwrap();
    conformance::logs_end_and_name_their_service(&provider, &changed, "api").await.unwrap();
    let theirs = conformance::desired_from_yaml(&yaml.replace("component: frontteam", "component: intruder"), "local", &repo).unwrap();
    let mut theirs = theirs;
    provider.prepare(&mut theirs, true).await.unwrap();
    let their_book = conformance::book(&theirs, "docker", &repo.join("intruder"));
    conformance::refuses_another_components_services(&provider, &changed, &theirs, &their_book).await.unwrap();
    conformance::destroy_removes_the_component(&provider, &changed, &book).await.unwrap();
    assert!(project.services().is_empty(), "{:?}", project.services());
}
