//! What the Docker test binaries share: the engine check, and one isolated project per
//! test (its own name, NANOKIT_HOME and gateway port), removed from the engine on drop.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BUSYBOX: &str = "nk-test/busybox:1";
pub const CADDY: &str = "nk-test/caddy:1";

pub fn docker(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("docker").args(args).output().expect("the `docker` CLI is installed (scripts/test-deps.sh)");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

pub fn require_engine() {
    let (ok, out) = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(ok, "no Docker engine answers ({out}); run scripts/test-deps.sh, which installs and starts one");
    for image in [BUSYBOX, CADDY] {
        assert!(docker(&["image", "inspect", image]).0, "test image {image} is missing; run scripts/build-test-images.sh");
    }
}

/// One isolated project: its own name, NANOKIT_HOME, gateway port; everything removed on drop.
pub struct Project {
    pub name: String,
    pub home: tempfile::TempDir,
    pub root: tempfile::TempDir,
    pub port: u16,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Project {
    pub fn new(tag: &str) -> Project {
        require_engine();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}-{tag}-{n}", std::process::id() % 100_000);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Project { name, home: tempfile::tempdir().unwrap(), root: tempfile::tempdir().unwrap(), port }
    }

    /// A repository folder holding `nanokit.yml` (with `{project}` replaced) and app folders.
    pub fn repo(&self, dir: &str, yaml: &str, apps: &[&str]) -> PathBuf {
        let repo = self.root.path().join(dir);
        for app in apps {
            std::fs::create_dir_all(repo.join("apps").join(app)).unwrap();
            std::fs::write(repo.join("apps").join(app).join("index.html"), format!("hello from {app}\n")).unwrap();
        }
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join("nanokit.yml"), yaml.replace("{project}", &self.name)).unwrap();
        repo
    }

    /// The offline example (examples/offline), renamed to this project, in a folder `dir`.
    pub fn offline_example(&self, dir: &str) -> PathBuf {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/offline");
        let yaml = std::fs::read_to_string(example.join("nanokit.yml")).unwrap();
        let yaml = yaml.replace("name: shop", "name: {project}").replace("shop.localhost", "{project}.localhost");
        let repo = self.repo(dir, &yaml, &[]);
        for app in ["auth", "billing", "api"] {
            std::fs::create_dir_all(repo.join("apps").join(app)).unwrap();
            std::fs::copy(example.join("apps").join(app).join("index.html"), repo.join("apps").join(app).join("index.html")).unwrap();
        }
        repo
    }

    pub fn nkdev(&self, repo: &Path) -> Command {
        Command::from_std(self.nkdev_std(repo))
    }

    /// The same invocation as a std command, for a deploy that runs in the background.
    pub fn nkdev_std(&self, repo: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("nkdev"));
        cmd.current_dir(repo)
            .env("NO_COLOR", "1")
            .env("NANOKIT_HOME", self.home.path())
            .env("NANOKIT_GATEWAY_IMAGE", CADDY)
            .env("NANOKIT_GATEWAY_PORT", self.port.to_string())
            .env_remove("NANOKIT_ENV")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    pub fn up(&self, repo: &Path, args: &[&str]) -> (bool, String) {
        let mut cmd = self.nkdev(repo);
        cmd.arg("up").args(args);
        if !args.contains(&"--timeout") {
            cmd.args(["--timeout", "30"]);
        }
        let out = cmd.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    }

    pub fn get(&self, host: &str, path: &str) -> Option<(u16, String)> {
        let addr = format!("127.0.0.1:{}", self.port);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(nanokit_provider_docker::probe::http_get(&addr, host, path))
    }

    pub fn container(&self, service: &str) -> String {
        format!("nk-{}-local-{service}", self.name)
    }

    pub fn container_id(&self, service: &str) -> String {
        docker(&["inspect", "-f", "{{.Id}}", &self.container(service)]).1.trim().to_string()
    }

    pub fn services(&self) -> Vec<String> {
        let (_, out) = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=nk-project={}", self.name),
            "--filter",
            "label=nk-role=service",
            "--format",
            "{{.Names}}",
        ]);
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let (_, ids) = docker(&["ps", "-aq", "--filter", &format!("label=nk-project={}", self.name)]);
        for id in ids.lines() {
            docker(&["rm", "-f", id]);
        }
        let (_, nets) = docker(&["network", "ls", "-q", "--filter", &format!("label=nk-project={}", self.name)]);
        for id in nets.lines() {
            docker(&["network", "rm", id]);
        }
        let (_, vols) = docker(&["volume", "ls", "-q", "--filter", &format!("label=nk-project={}", self.name)]);
        for id in vols.lines() {
            docker(&["volume", "rm", "-f", id]);
        }
    }
}
