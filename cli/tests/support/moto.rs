//! moto_server (PyPI moto[server], installed by scripts/test-deps.sh) for the AWS test
//! binaries: one server per test on a free port, the real `nkdev` run against it, and an SDK
//! config pointing at it. Without moto the tests fail with that instruction.
#![allow(dead_code)]
use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto() -> Moto {
    let tools = std::env::var_os("NANOKIT_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/nanokit-tools"));
    let bin = tools.join("venv/bin/moto_server");
    assert!(bin.is_file(), "moto_server is not installed at {}; run scripts/test-deps.sh", bin.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_ECS_SERVICE_RUNNING", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { child, url }
}

pub struct Setup {
    pub moto: Moto,
    pub home: tempfile::TempDir,
    pub root: tempfile::TempDir,
}

impl Setup {
    pub fn new() -> Setup {
        Setup { moto: moto(), home: tempfile::tempdir().unwrap(), root: tempfile::tempdir().unwrap() }
    }

    pub fn repo(&self, dir: &str, yaml: &str) -> PathBuf {
        let repo = self.root.path().join(dir);
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join("nanokit.yml"), yaml).unwrap();
        repo
    }

    pub fn nkdev(&self, repo: &Path, args: &[&str]) -> (bool, String) {
        self.nkdev_with(repo, args, &[])
    }

    /// `nkdev ARGS` in `repo`, pointed at this moto with test credentials (for a command that
    /// runs in the background, `status --watch`).
    pub fn command(&self, repo: &Path, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("nkdev"));
        cmd.current_dir(repo)
            .args(args)
            .env("NO_COLOR", "1")
            .env("NANOKIT_HOME", self.home.path())
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE");
        cmd
    }

    /// `nkdev` with extra environment variables (secrets read from the environment).
    pub fn nkdev_with(&self, repo: &Path, args: &[&str], vars: &[(&str, &str)]) -> (bool, String) {
        let mut cmd = self.command(repo, args);
        cmd.envs(vars.iter().copied());
        let out = Command::from_std(cmd).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    }

    pub async fn config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.moto.url)
            .credentials_provider(aws_sdk_ecs::config::Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await
    }
}
