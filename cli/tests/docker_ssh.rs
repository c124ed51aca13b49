//! Docker on a VPS: `nkdev` reaching an engine over SSH (Debian's sshd on 127.0.0.1, keys in a
//! temporary folder; support/sshd.rs), with the gateway serving HTTPS from its own CA. The
//! "remote" engine is this machine's, so every test also checks, from sshd's command log, that
//! the traffic really went through SSH. Without sshd or an engine these tests fail; they never
//! skip.

mod support;

#[path = "support/sshd.rs"]
mod sshd;

use sshd::Sshd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{docker, Project};

const DIAL: &str = "docker system dial-stdio";

/// A project deployed through `sshd`, its gateway on free ports of 127.0.0.1 (a real VPS would
/// publish 80 and 443 on all interfaces: the default, checked in the unit tests), with the
/// remote default `--tls auto` (the test hosts are `.localhost` names: the gateway's own CA).
struct Remote {
    p: Project,
    sshd: Sshd,
    https_port: u16,
}

impl Remote {
    fn new(tag: &str) -> Remote {
        Remote::with_sshd(tag, "")
    }

    fn with_sshd(tag: &str, extra_config: &str) -> Remote {
        let p = Project::new(tag);
        let sshd = Sshd::start_with(extra_config);
        let https_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Remote { p, sshd, https_port }
    }

    fn cmd(&self, repo: &Path, home: &Path) -> Command {
        let mut cmd = self.p.nkdev_std(repo);
        cmd.env("NANOKIT_HOME", home)
            .env("DOCKER_HOST", self.sshd.docker_host())
            .env("PATH", self.sshd.path())
            .env("NANOKIT_GATEWAY_BIND", "127.0.0.1")
            .env("NANOKIT_GATEWAY_HTTPS_PORT", self.https_port.to_string());
        cmd
    }

    fn run(&self, repo: &Path, args: &[&str]) -> (bool, String) {
        let out = self.cmd(repo, self.p.home.path()).args(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    }

    fn dials(&self) -> usize {
        self.sshd.commands().iter().filter(|c| c.as_str() == DIAL).count()
    }

    /// The offline example (examples/offline), renamed to this test's project.
    fn offline_example(&self) -> PathBuf {
        self.p.offline_example("offline")
    }

    /// GET https://host/path through the gateway, trusting only the gateway's own CA.
    fn https(&self, host: &str, path: &str) -> Result<String, String> {
        let ca = self.p.root.path().join("gateway-ca.crt");
        let gateway = format!("nk-{}-local-gateway", self.p.name);
        let (ok, out) = docker(&["cp", &format!("{gateway}:/data/caddy/pki/authorities/local/root.crt"), &ca.to_string_lossy()]);
        if !ok {
            return Err(format!("no gateway CA yet: {out}"));
        }
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--max-time", "5", "--cacert"])
            .arg(&ca)
            .args(["--resolve", &format!("{host}:{}:127.0.0.1", self.https_port)])
            .arg(format!("https://{host}:{}{path}", self.https_port))
            .output()
            .expect("curl is installed (scripts/test-deps.sh)");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// Caddy issues its certificates just after it loads the routes: wait for them.
    fn https_eventually(&self, host: &str, path: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.https(host, path) {
                Ok(body) => return body,
                Err(e) if Instant::now() > deadline => panic!("https://{host}{path} never answered: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }
}

#[test]
fn the_offline_example_deploys_over_ssh_and_is_served_over_https() {
    let r = Remote::new("ssh");
    let repo = r.offline_example();
    let (ok, out) = r.run(&repo, &["up", "--timeout", "30"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("ssh://root@127.0.0.1:{} (DOCKER_HOST)", r.sshd.port)), "the plan names the engine: {out}");
    assert!(out.contains("apps/auth is copied into its container"), "the plan says the folder is copied: {out}");
    assert!(r.dials() > 0, "no session reached sshd: {:?}", r.sshd.commands());
    // readiness was probed from the engine's host (a container address means nothing elsewhere):
    // the healthcheck path through a forward, open ports read from /proc there
    assert!(r.sshd.log().contains("server_request_direct_tcpip"), "no probe went through SSH");
    assert!(r.sshd.commands().iter().any(|c| c.starts_with("cat /proc/")), "{:?}", r.sshd.commands());
    // every host over HTTPS, with a certificate from the gateway's CA
    for (host, app) in [
        (format!("auth.{}.localhost", r.p.name), "auth"),
        (format!("billing.{}.localhost", r.p.name), "billing"),
        (format!("{}.localhost", r.p.name), "api"),
    ] {
        let served = std::fs::read_to_string(repo.join("apps").join(app).join("index.html")).unwrap();
        assert_eq!(r.https_eventually(&host, "/index.html"), served, "{host}");
    }
    // the folders were copied, not bind-mounted from this machine
    let (_, binds) = docker(&["inspect", "-f", "{{json .HostConfig.Binds}}", &r.p.container("auth")]);
    assert!(!binds.contains("apps/auth"), "a local folder was mounted on a remote engine: {binds}");
    // the certificates live in the gateway's own labelled volume
    let volume = format!("nk-{}-local_gateway-data", r.p.name);
    let (ok, labels) = docker(&["volume", "inspect", "-f", "{{json .Labels}}", &volume]);
    assert!(ok && labels.contains("\"nk-role\":\"gateway\""), "{labels}");
    // nothing changed: nothing to do, still through SSH
    let before = r.dials();
    let (ok, out) = r.run(&repo, &["up"]);
    assert!(ok && out.contains("nothing to do: 3 services up to date"), "{out}");
    assert!(r.dials() > before, "the no-op up did not go through sshd");
    // a changed file on this machine redeploys only its service
    std::fs::write(repo.join("apps/auth/index.html"), "auth, changed\n").unwrap();
    let ids: Vec<String> = ["billing", "api"].iter().map(|s| r.p.container_id(s)).collect();
    let (ok, out) = r.run(&repo, &["up", "--timeout", "30"]);
    assert!(ok && out.contains("~ recreate auth"), "{out}");
    assert_eq!(ids, ["billing", "api"].iter().map(|s| r.p.container_id(s)).collect::<Vec<_>>(), "{out}");
    assert_eq!(r.https_eventually(&format!("auth.{}.localhost", r.p.name), "/index.html").trim(), "auth, changed");
    // a restart in place (what `up --watch` does on an edit) copies the files again: same container
    std::fs::write(repo.join("apps/auth/index.html"), "auth, synced\n").unwrap();
    let auth = r.p.container_id("auth");
    let (ok, out) = r.run(&repo, &["restart", "auth"]);
    assert!(ok && out.contains("restarted auth"), "{out}");
    assert_eq!(r.p.container_id("auth"), auth, "a restart must keep the container");
    assert_eq!(r.https_eventually(&format!("auth.{}.localhost", r.p.name), "/index.html").trim(), "auth, synced");
    // status and logs read the remote engine
    let (ok, out) = r.run(&repo, &["status"]);
    assert!(ok && out.contains(&format!("on docker engine ssh://root@127.0.0.1:{}", r.sshd.port)) && out.contains("running"), "{out}");
    let (ok, out) = r.run(&repo, &["logs", "auth"]);
    assert!(ok, "{out}");
    // a recreated gateway keeps its CA: the certificate volume outlives the container
    let ca = || {
        let file = r.p.root.path().join("ca-now.crt");
        let (ok, out) =
            docker(&["cp", &format!("nk-{}-local-gateway:/data/caddy/pki/authorities/local/root.crt", r.p.name), &file.to_string_lossy()]);
        assert!(ok, "{out}");
        std::fs::read_to_string(file).unwrap()
    };
    let ca_before = ca();
    let (ok, out) = r.run(&repo, &["up", "--gateway-https-port", &r.https_port.to_string(), "--gateway-port", &free_port().to_string()]);
    assert!(ok && out.contains("gateway"), "{out}");
    let ca_after = ca();
    assert!(
        ca_before.contains("BEGIN CERTIFICATE") && ca_before == ca_after,
        "the gateway CA changed on recreate:\n{ca_before}\n{ca_after}\n{out}"
    );
    // destroy --volumes through SSH leaves no service, and the certificates go with the gateway
    let (ok, out) = r.run(&repo, &["destroy", "--volumes"]);
    assert!(ok, "{out}");
    assert!(r.p.services().is_empty(), "{out}");
    assert!(!docker(&["volume", "inspect", &volume]).0, "{out}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One service that takes `secs` seconds to listen on its port.
fn slow(secs: u32) -> String {
    format!(
        "name: {{project}}\nservices:\n  slow:\n    image: nk-test/busybox:1\n    command: sleep {secs} && mkdir -p /tmp/www && exec httpd -f -p 3000 -h /tmp/www\n    expose: 3000\nenvironments:\n  local:\n    infra:\n      provider: docker\n"
    )
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_machines_deploying_over_ssh_exclude_each_other_by_the_lock_on_the_engine() {
    let r = Remote::new("sshlock");
    let repo = r.p.repo("lock", &slow(4), &[]);
    // two machines: two NANOKIT_HOMEs (their own state, their own SSH connection)
    let other_home = tempfile::tempdir().unwrap();
    let first = r.cmd(&repo, r.p.home.path()).args(["up", "--timeout", "30"]).spawn().unwrap();
    let lock = format!("nk-{}-local-lock", r.p.name);
    wait_for("the lock container", Duration::from_secs(30), || docker(&["container", "inspect", &lock]).0);
    let second = r.cmd(&repo, other_home.path()).args(["up", "--timeout", "30"]).output().unwrap();
    let said = String::from_utf8_lossy(&second.stdout).to_string() + &String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success() && said.contains(&format!("pid {}", first.id())), "the second deploy was not refused: {said}");
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(!docker(&["container", "inspect", &lock]).0, "released after the deploy");
    assert!(r.dials() > 0);
    // the other machine deploys once the lock is free (nothing to do)
    let again = r.cmd(&repo, other_home.path()).args(["up"]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn ssh_failures_name_the_host_and_what_to_do_and_change_nothing() {
    let r = Remote::new("sshfail");
    let repo = r.p.repo("fail", &slow(0), &[]);
    let host = format!("root@127.0.0.1:{}", r.sshd.port);
    // a host key this machine does not know
    r.sshd.client_uses("client_key", "empty_known_hosts");
    let (ok, out) = r.run(&repo, &["up"]);
    assert!(!ok && out.contains(&format!("the host key of {host} is not trusted")) && out.contains("known_hosts"), "{out}");
    // a key the host does not accept
    r.sshd.client_uses("other_key", "known_hosts");
    let (ok, out) = r.run(&repo, &["up"]);
    assert!(!ok && out.contains(&format!("{host} refused the SSH login")) && out.contains("authorized_keys"), "{out}");
    // a host without Docker
    r.sshd.client_uses("client_key", "known_hosts");
    r.sshd.set_docker_missing(true);
    let (ok, out) = r.run(&repo, &["up"]);
    assert!(!ok && out.contains(&format!("Docker is not installed on {host}")), "{out}");
    assert!(r.p.services().is_empty(), "nothing may be created: {out}");
    // and once fixed, it deploys
    r.sshd.set_docker_missing(false);
    let (ok, out) = r.run(&repo, &["up", "--timeout", "30"]);
    assert!(ok, "{out}");
}

#[test]
fn a_connection_dropped_mid_deploy_is_reported_and_the_next_up_converges() {
    let mut r = Remote::new("sshdrop");
    let repo = r.p.repo("drop", &slow(6), &[]);
    let deploy = r.cmd(&repo, r.p.home.path()).args(["up", "--timeout", "30"]).spawn().unwrap();
    // cut every SSH connection while the deploy waits for its service
    let container = r.p.container("slow");
    wait_for("the service container", Duration::from_secs(30), || docker(&["container", "inspect", &container]).0);
    std::thread::sleep(Duration::from_millis(500));
    r.sshd.stop();
    std::thread::sleep(Duration::from_secs(3));
    r.sshd.restart();
    let out = deploy.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a deploy whose connection was cut reported success: {said}");
    assert!(said.contains(&format!("the SSH connection to root@127.0.0.1:{} was lost", r.sshd.port)), "the error names the host: {said}");
    // the lock was released once the host answered again
    assert!(!docker(&["container", "inspect", &format!("nk-{}-local-lock", r.p.name)]).0, "{said}");
    // the next deploy reconnects and converges
    let (ok, out) = r.run(&repo, &["up", "--timeout", "30"]);
    assert!(ok, "{out}");
    let (ok, out) = r.run(&repo, &["up"]);
    assert!(ok && out.contains("nothing to do"), "{out}");
}

#[test]
fn each_environment_names_its_engine_and_the_docker_context_is_honoured() {
    let r = Remote::new("sshenv");
    // `vps` names its engine in the file; `local` does not and stays on the local socket.
    let yaml = format!(
        "name: {{project}}\nservices:\n  web:\n    image: nk-test/busybox:1\n    command: mkdir -p /tmp/www && exec httpd -f -p 3000 -h /tmp/www\n    expose: 3000\nenvironments:\n  local:\n    infra:\n      provider: docker\n  vps:\n    infra:\n      provider: docker\n      host: {}\n",
        r.sshd.docker_host()
    );
    let repo = r.p.repo("envs", &yaml, &[]);
    let run = |args: &[&str], extra: &[(&str, &str)]| {
        let mut cmd = r.cmd(&repo, r.p.home.path());
        cmd.env_remove("DOCKER_HOST").args(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let before = r.dials();
    let (ok, out) = run(&["up", "--env", "vps", "--timeout", "30"], &[]);
    assert!(ok && out.contains(&format!("{} (infra.host of `vps`)", r.sshd.docker_host())), "{out}");
    assert!(r.dials() > before, "the vps environment did not go through SSH");
    let (ok, out) = run(&["status", "--env", "vps"], &[("DOCKER_HOST", "unix:///nonexistent.sock")]);
    assert!(ok && out.contains("(infra.host of `vps`)"), "the file's host wins over DOCKER_HOST: {out}");
    let before = r.dials();
    let (ok, out) = run(&["plan"], &[]);
    assert!(ok && out.contains("on docker engine unix:///var/run/docker.sock"), "{out}");
    assert_eq!(r.dials(), before, "the local environment went through SSH");
    // A context made by the docker CLI itself, picked by DOCKER_CONTEXT, for `local`.
    let config = tempfile::tempdir().unwrap();
    let (ok, made) = support::docker(&[
        "--config",
        &config.path().to_string_lossy(),
        "context",
        "create",
        "vps-ctx",
        "--docker",
        &format!("host={}", r.sshd.docker_host()),
    ]);
    assert!(ok, "{made}");
    let config_dir = config.path().to_string_lossy().to_string();
    let (ok, out) = run(&["plan"], &[("DOCKER_CONFIG", &config_dir), ("DOCKER_CONTEXT", "vps-ctx")]);
    assert!(ok && out.contains(&format!("{} (docker context `vps-ctx`)", r.sshd.docker_host())), "{out}");
    assert!(r.dials() > before, "the context's engine was not reached through SSH");
    let (ok, out) = run(&["destroy", "--env", "vps"], &[]);
    assert!(ok, "{out}");
}

#[test]
fn a_host_without_tcp_forwarding_still_deploys_and_says_how_readiness_was_judged() {
    let r = Remote::with_sshd("sshnofwd", "AllowTcpForwarding no");
    let with_path = slow(2).replace("    expose: 3000\n", "    expose: 3000\n    healthcheck:\n      path: /\n");
    let repo = r.p.repo("nofwd", &with_path, &[]);
    let (ok, out) = r.run(&repo, &["up", "--timeout", "30"]);
    assert!(ok, "{out}");
    assert!(out.contains("does not allow TCP forwarding"), "{out}");
    // readiness came from the port listening, read on the host: the deploy waited for it
    assert!(r.sshd.commands().iter().any(|c| c.starts_with("cat /proc/")), "{:?}", r.sshd.commands());
    let (ok, out) = r.run(&repo, &["up"]);
    assert!(ok && out.contains("nothing to do"), "{out}");
}
