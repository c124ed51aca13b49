//! A real OpenSSH server on 127.0.0.1 for the "Docker on a VPS" tests: Debian's `sshd` with a
//! host key and a client key generated in a temporary folder. The machine's own ssh
//! configuration is never read or changed: clients get a `ssh` wrapper first on their PATH that
//! runs the system `ssh` with this folder's config (`-F`), keys and known_hosts.
//!
//! The "remote" engine is this machine's own; to prove traffic really went through SSH, sshd
//! runs every session through a `ForceCommand` that appends the requested command to a log
//! before running it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/test-deps.sh installs openssh-server)"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "nanokit-test", "-f"]).arg(path));
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_with("")
    }

    /// With more lines of sshd_config (e.g. `AllowTcpForwarding no`).
    pub fn start_with(extra_config: &str) -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(sshd.exists(), "/usr/sbin/sshd is missing; scripts/test-deps.sh installs Debian's openssh-server");
        // sshd's privilege separation folder (created by the package's service, which the
        // tests do not start).
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let dir = tempfile::Builder::new().prefix("nk-sshd-").tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        keygen(&d.join("other_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Every session's command is logged, then run; with `no-docker` present, `docker` is
        // not on the session's PATH (a host without Docker).
        let force = d.join("force.sh");
        std::fs::write(
            &force,
            format!(
                "#!/bin/sh\necho \"$SSH_ORIGINAL_COMMAND\" >> {log}\nif [ -e {dir}/no-docker ]; then PATH=/nonexistent; fi\nexec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                log = d.join("commands.log").display(),
                dir = d.display()
            ),
        )
        .unwrap();
        chmod_x(&force);
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             ForceCommand {force}\nLogLevel DEBUG1\n{extra_config}\n",
            d = d.display(),
            force = force.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let key = host_pub.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {key}\n")).unwrap();
        std::fs::write(d.join("empty_known_hosts"), "").unwrap();
        Sshd::write_client_config(d, "client_key", "known_hosts");
        let bin = d.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("ssh"), format!("#!/bin/sh\nexec /usr/bin/ssh -F {}/ssh_config \"$@\"\n", d.display())).unwrap();
        chmod_x(&bin.join("ssh"));
        let child = spawn(d, port);
        Sshd { dir, port, child }
    }

    /// A network cut: every connection dropped and none accepted until [`Sshd::restart`].
    pub fn stop(&mut self) {
        self.drop_connections();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.child = spawn(self.dir.path(), self.port);
    }

    /// Point the clients at another key or known_hosts file (the failure tests).
    pub fn client_uses(&self, key: &str, known_hosts: &str) {
        Sshd::write_client_config(self.dir.path(), key, known_hosts);
    }

    fn write_client_config(d: &Path, key: &str, known_hosts: &str) {
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {d}/{key}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {d}/{known_hosts}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
                d = d.display()
            ),
        )
        .unwrap();
    }

    pub fn docker_host(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// PATH with the `ssh` wrapper first.
    pub fn path(&self) -> String {
        format!("{}:{}", self.dir.path().join("bin").display(), std::env::var("PATH").unwrap_or_default())
    }

    /// The commands the SSH sessions asked sshd to run, in order.
    pub fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("commands.log")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn set_docker_missing(&self, missing: bool) {
        let flag = self.dir.path().join("no-docker");
        if missing {
            std::fs::write(flag, "").unwrap();
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }

    /// Drop every open SSH connection (the server side of each is killed), as a network cut
    /// would; the listener stays, so the next connection works.
    pub fn drop_connections(&self) {
        for pid in children_of(self.child.id()) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }

    pub fn control_dir_of(home: &Path) -> PathBuf {
        home.join("ssh")
    }
}

/// sshd in the foreground, once it listens.
fn spawn(d: &Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("sshd.log")).unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start sshd");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "sshd did not start listening on 127.0.0.1:{port}; its log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// The direct children of `pid` (sshd forks one per connection).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid …`; comm may hold spaces, so read after the last `)`.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Its connections first (once it is gone they would belong to init): the shared client
        // connections they served end with them.
        self.drop_connections();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
