//! A Docker engine on another machine, reached the way the `docker` CLI reaches one: the system
//! `ssh` runs `docker system dial-stdio` there, which joins its stdin/stdout to the remote
//! engine's socket. Running the system `ssh` (rather than an SSH library) keeps everything the
//! user already set up: `~/.ssh/config`, agents, ProxyJump, known_hosts.
//!
//! The engine client (bollard) speaks HTTP to a unix socket in a private temporary folder; each
//! connection it opens there becomes one `ssh … docker system dial-stdio` session. All sessions
//! share one SSH connection (OpenSSH's ControlMaster, kept under `~/.nanokit/ssh/`), so a deploy
//! costs one SSH handshake, not one per request, and a command run right after another reuses
//! the connection (ControlPersist).
//!
//! Why not bollard's own `ssh` feature (bollard ≥ 0.19)? It starts a new SSH master for every
//! HTTP connection the client opens (one handshake each; a deploy opens several in parallel),
//! and it needs a major bollard upgrade: this module is ~200 lines on tokio alone.

use nanokit_core::engine_host::SshDestination;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::UnixListener;
use tokio::process::Command;

/// How long the shared SSH connection outlives its last session (OpenSSH ControlPersist).
const PERSIST: &str = "60";

/// An open way to a remote engine: `socket()` is where the engine client connects.
pub struct SshTunnel {
    dest: SshDestination,
    /// The options of every `ssh` to this destination (through the shared connection).
    args: Vec<String>,
    /// Private (0700): nobody else on this machine can reach the remote engine through it.
    dir: tempfile::TempDir,
    accept: tokio::task::JoinHandle<()>,
    /// What the last failed `ssh` session said, for the error a lost connection causes.
    last_error: Arc<Mutex<Option<String>>>,
    /// Whether the host lets this user open TCP connections through SSH (`ssh -W`), found out
    /// at the first readiness probe.
    forwarding: tokio::sync::OnceCell<bool>,
}

impl Drop for SshTunnel {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl SshTunnel {
    /// Connect to `dest` (authenticating now, so that a refused key or an unknown host key is
    /// reported before anything else), and serve the local socket.
    pub async fn open(dest: &SshDestination, control_dir: &Path) -> Result<SshTunnel, String> {
        std::fs::create_dir_all(control_dir).map_err(|e| format!("cannot create {}: {e}", control_dir.display()))?;
        restrict(control_dir);
        let control = control_path(control_dir, dest).await?;
        let args = base_args(dest, &control)?;
        let dir = tempfile::Builder::new().prefix("nk-ssh-").tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
        // One nkdev at a time starts the shared connection (two at once would leave one of
        // them running unshared, and forever).
        let _starting = lock_file(control.with_extension("lock")).await?;
        start_master(dest, &args, &control, dir.path()).await?;
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
        let last_error = Arc::new(Mutex::new(None));
        let accept = tokio::spawn(serve(listener, args.clone(), dest.clone(), last_error.clone()));
        Ok(SshTunnel { dest: dest.clone(), args, dir, accept, last_error, forwarding: Default::default() })
    }

    /// The unix socket the engine client connects to.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// Why the last `ssh` session failed, in words for the user (naming the host), if one did.
    pub fn problem(&self) -> Option<String> {
        self.last_error.lock().ok()?.clone()
    }

    /// Whether readiness can be probed through SSH: the host allows TCP forwarding (sshd's
    /// `AllowTcpForwarding`, a key's `restrict`). Asked once, by forwarding to a port nothing
    /// listens on: a refused connection means forwarding works, "prohibited" that it does not.
    pub async fn forwarding(&self) -> bool {
        *self
            .forwarding
            .get_or_init(|| async {
                let Ok(mut child) = self.forward_command("127.0.0.1", 1).stderr(Stdio::piped()).spawn() else { return false };
                let mut said = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = tokio::time::timeout(Duration::from_secs(10), stderr.read_to_string(&mut said)).await;
                }
                let allowed = !(said.contains("prohibited") || said.contains("forwarding request failed") || said.contains("refused by peer"));
                if !allowed {
                    eprintln!(
                        "warning: {} does not allow TCP forwarding over SSH (sshd `AllowTcpForwarding`, or a `restrict`ed key): healthcheck paths cannot be requested from here; a service is ready once its port listens (read on the host)",
                        self.dest
                    );
                }
                allowed
            })
            .await
    }

    fn forward_command(&self, ip: &str, port: u16) -> Command {
        // `-W` must come before the destination (`--` and the host end `args`).
        let (options, destination) = self.args.split_at(self.args.len() - 2);
        let mut cmd = Command::new("ssh");
        cmd.args(options).args(["-W", &format!("{ip}:{port}")]).args(destination).stdin(Stdio::piped()).stdout(Stdio::piped());
        cmd.stderr(Stdio::null()).kill_on_drop(true).process_group(0);
        cmd
    }

    pub fn destination(&self) -> &SshDestination {
        &self.dest
    }

    /// A TCP connection made from the engine's host to `ip:port` (`ssh -W` over the shared
    /// connection): a container's address is only reachable from there.
    pub fn dial(&self, ip: &str, port: u16) -> std::io::Result<RemoteStream> {
        let mut child = self.forward_command(ip, port).spawn()?;
        let (stdout, stdin) = (child.stdout.take(), child.stdin.take());
        match (stdout, stdin) {
            (Some(out), Some(input)) => Ok(RemoteStream { _child: child, io: tokio::io::join(out, input) }),
            _ => Err(std::io::Error::other("ssh -W without pipes")),
        }
    }

    /// Whether a process of the container whose main process is `pid` on the engine's host
    /// listens on TCP `port`, as its network namespace says (`/proc/<pid>/net/tcp` and `tcp6`
    /// read there with `cat`, present on every Linux host).
    pub async fn listening(&self, pid: i64, port: u16) -> bool {
        if pid <= 0 {
            return false;
        }
        let read = Command::new("ssh")
            .args(&self.args)
            .args(["cat", &format!("/proc/{pid}/net/tcp"), &format!("/proc/{pid}/net/tcp6")])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .output();
        // (`cat` exits 1 without IPv6; what it did print counts.)
        match tokio::time::timeout(Duration::from_secs(10), read).await {
            Ok(Ok(out)) => listens_on(&String::from_utf8_lossy(&out.stdout), port),
            _ => false,
        }
    }
}

/// Whether a `/proc/net/tcp` table has a socket listening (state `0A`) on `port`.
fn listens_on(table: &str, port: u16) -> bool {
    let port = format!("{port:04X}");
    table.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && fields[3] == "0A" && fields[1].rsplit_once(':').is_some_and(|(_, p)| p == port)
    })
}

/// A connection through `ssh -W`: its stdout and stdin as one stream; the process ends with it.
pub struct RemoteStream {
    /// Held, not read: dropping the stream kills the `ssh -W` (kill_on_drop).
    _child: tokio::process::Child,
    io: tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>,
}

impl tokio::io::AsyncRead for RemoteStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for RemoteStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// An engine client speaking to the tunnel's socket with connections kept open between
/// requests. (bollard's unix client opens one per request, `pool_max_idle_per_host(0)`: free
/// on a local socket, but over SSH each connection is a session and a `docker` process on the
/// host, ~150 ms apiece.) Idle connections close after 30 s; hyper retries a request that
/// meets one the far side closed.
pub fn pooled_client(socket: PathBuf, timeout_secs: u64) -> Result<bollard::Docker, bollard::errors::Error> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    // The timer is what makes the idle timeout happen at all.
    let client = Arc::new(
        Client::builder(TokioExecutor::new())
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(hyperlocal::UnixConnector),
    );
    let transport = move |request: bollard::BollardRequest| {
        let client = client.clone();
        let socket = socket.clone();
        async move {
            let (mut parts, body) = request.into_parts();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
            parts.uri = hyperlocal::Uri::new(&socket, &path).into();
            client.request(bollard::BollardRequest::from_parts(parts, body)).await.map_err(bollard::errors::Error::from)
        }
    };
    bollard::Docker::connect_with_custom_transport(transport, Some("unix://nanokit-ssh"), timeout_secs, bollard::API_DEFAULT_VERSION)
}

/// `~/.nanokit/ssh/<hash>`: short (a unix socket path has ~100 bytes), one per destination *as
/// ssh resolves it* (`ssh -G`: HostName, User, Port, ProxyJump… from `~/.ssh/config`), so a
/// changed config never reuses a connection to the old server.
async fn control_path(control_dir: &Path, dest: &SshDestination) -> Result<PathBuf, String> {
    use sha2::{Digest, Sha256};
    let mut cmd = Command::new("ssh");
    cmd.arg("-G");
    if let Some(user) = &dest.user {
        cmd.args(["-l", user]);
    }
    if let Some(port) = dest.port {
        cmd.args(["-p", &port.to_string()]);
    }
    let out = cmd.args(["--", &dest.host]).stdin(Stdio::null()).output().await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "reaching the Docker engine on ssh://{dest} needs the `ssh` client, which is not installed (apt install openssh-client)"
        ),
        _ => format!("cannot run ssh: {e}"),
    })?;
    if !out.status.success() {
        return Err(format!("ssh cannot read its configuration for {dest}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let hash = Sha256::digest(&out.stdout);
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(control_dir.join(hex))
}

/// An exclusive lock on `path` (created if needed), held until the file is dropped.
async fn lock_file(path: PathBuf) -> Result<std::fs::File, String> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    tokio::task::spawn_blocking(move || {
        // SAFETY: flock on a descriptor this function owns; released when the file is closed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            Ok(file)
        } else {
            Err(format!("cannot lock {}: {}", path.display(), std::io::Error::last_os_error()))
        }
    })
    .await
    .map_err(|e| format!("cannot lock: {e}"))?
}

fn restrict(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

/// The options every `ssh` of one destination shares. Non-interactive (BatchMode): a deploy
/// never hangs on a password or host-key prompt, it fails with the reason instead.
fn base_args(dest: &SshDestination, control: &Path) -> Result<Vec<String>, String> {
    let mut args: Vec<String> = [
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=15",
        // A vanished host or network is noticed in ~15 s, not at the next TCP timeout.
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        "ControlMaster=auto",
        "-o",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    // Quoted for ssh's option parser (a home with spaces), `%` escaped from its token expansion.
    let control = control.to_string_lossy();
    if control.contains('"') {
        return Err(format!("the nanokit home {control} contains `\"`, which ssh cannot take in a ControlPath"));
    }
    args.push(format!("ControlPath=\"{}\"", control.replace('%', "%%")));
    args.extend(["-o".to_string(), format!("ControlPersist={PERSIST}")]);
    if let Some(user) = &dest.user {
        args.extend(["-l".to_string(), user.clone()]);
    }
    if let Some(port) = dest.port {
        args.extend(["-p".to_string(), port.to_string()]);
    }
    // `--`: the host is never read as an option (engine_host::parse refuses a leading `-` too).
    args.extend(["--".to_string(), dest.host.clone()]);
    Ok(args)
}

/// Authenticate once, leaving the shared connection in the background (`-f -N`), or say why
/// not. An existing shared connection (a previous command's) is reused as it is.
async fn start_master(dest: &SshDestination, args: &[String], control: &Path, tmp: &Path) -> Result<(), String> {
    let alive = Command::new("ssh").args(["-O", "check"]).args(args).stdin(Stdio::null()).process_group(0).output().await;
    if alive.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    // No live connection answers there: a socket left by one that died would make the new one
    // run without multiplexing, and never end.
    let _ = std::fs::remove_file(control);
    let log = tmp.join("ssh.log");
    // `-E`: the backgrounded connection keeps its stderr; a pipe would never close. A file
    // holds what ssh said when it could not connect. (ssh takes the first value of an option:
    // `ControlMaster=yes` here wins over the shared `auto`.)
    let mut cmd = Command::new("ssh");
    cmd.args(["-f", "-N", "-o", "ControlMaster=yes", "-E"])
        .arg(&log)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Killed if it has not authenticated in time (a hardware key waiting for a touch); its
        // own process group, so a Ctrl-C meant for nkdev is nkdev's to handle.
        .kill_on_drop(true)
        .process_group(0);
    let status = match tokio::time::timeout(Duration::from_secs(30), cmd.status()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "reaching the Docker engine on ssh://{dest} needs the `ssh` client, which is not installed (apt install openssh-client)"
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot run ssh: {e}")),
        Err(_) => return Err(format!("ssh://{dest} did not answer within 30 s (is the host up, and its SSH port open?)")),
    };
    if status.success() {
        return Ok(());
    }
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    Err(explain_connect_failure(dest, &said, status.code()))
}

/// What ssh said, as what the user should do about it.
fn explain_connect_failure(dest: &SshDestination, said: &str, code: Option<i32>) -> String {
    let last = said.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no message");
    let last = last.strip_prefix("ssh: ").unwrap_or(last).to_string();
    let port = dest.port.map(|p| format!(" -p {p}")).unwrap_or_default();
    let user_host = match &dest.user {
        Some(u) => format!("{u}@{}", dest.host),
        None => dest.host.clone(),
    };
    if said.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return format!(
            "the host key of {dest} has CHANGED since it was trusted (ssh: {last}); if the server was reinstalled, remove the old key with `ssh-keygen -R {}` and check the new one; otherwise someone may be in the middle",
            dest.host
        );
    }
    if said.contains("Host key verification failed") || said.contains("No ED25519 host key is known") || said.contains("host key is known")
    {
        return format!(
            "the host key of {dest} is not trusted yet (ssh: {last}); connect once with `ssh{port} {user_host}` and check the fingerprint it shows, so it is added to ~/.ssh/known_hosts"
        );
    }
    if said.contains("Permission denied") {
        return format!(
            "{dest} refused the SSH login (ssh: {last}); add your public key to ~/.ssh/authorized_keys of that user on the host, or load the right key into ssh-agent or ~/.ssh/config (nkdev runs ssh without prompts, so a password is never asked)"
        );
    }
    if said.contains("Could not resolve hostname") {
        return format!("cannot resolve the host of ssh://{dest} (ssh: {last}); check infra.host or DOCKER_HOST");
    }
    if said.contains("Connection refused") || said.contains("timed out") || said.contains("No route to host") {
        return format!("cannot reach ssh://{dest} (ssh: {last}); is the host up, and its SSH port open?");
    }
    format!("ssh to {dest} failed (exit {}): {last}", code.map_or("by signal".to_string(), |c| c.to_string()))
}

/// What a failed `docker system dial-stdio` session said, as what to do about it.
fn explain_session_failure(dest: &SshDestination, stderr: &str, code: Option<i32>) -> String {
    let last = stderr.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no message").to_string();
    if code == Some(127) || stderr.contains("command not found") || stderr.contains("docker: not found") {
        return format!(
            "Docker is not installed on {dest} (or `docker` is not on the PATH of a non-interactive login there): {last}; install it (e.g. `apt install docker.io`)"
        );
    }
    if stderr.contains("permission denied") && stderr.contains("docker") {
        return format!(
            "the SSH user on {dest} may not use Docker ({last}); add it to the `docker` group there (`usermod -aG docker USER`) or log in as a user who can"
        );
    }
    if stderr.contains("Cannot connect to the Docker daemon") || stderr.contains("Is the docker daemon running") {
        return format!("the Docker engine on {dest} is not running ({last}); start it there (`systemctl start docker`)");
    }
    if code == Some(255) {
        return format!("the SSH connection to {dest} was lost ({last}); once `ssh {dest} docker info` works again, run the command again");
    }
    format!("`docker system dial-stdio` on {dest} exited {}: {last}", code.map_or("by signal".to_string(), |c| c.to_string()))
}

/// Accept the engine client's connections, each over its own multiplexed SSH session.
async fn serve(listener: UnixListener, args: Vec<String>, dest: SshDestination, last_error: Arc<Mutex<Option<String>>>) {
    while let Ok((conn, _)) = listener.accept().await {
        tokio::spawn(session(conn, args.clone(), dest.clone(), last_error.clone()));
    }
}

async fn session(conn: tokio::net::UnixStream, args: Vec<String>, dest: SshDestination, last_error: Arc<Mutex<Option<String>>>) {
    let child = Command::new("ssh")
        .args(&args)
        .args(["docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group: Ctrl-C in the terminal reaches nkdev, which stops the deploy
        // and releases the lock through these very sessions.
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("cannot run ssh for {dest}: {e}"));
            return;
        }
    };
    let (mut stdin, mut stdout, mut stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (mut from_client, mut to_client) = conn.into_split();
    let upstream = async {
        if let Some(stdin) = stdin.as_mut() {
            let _ = tokio::io::copy(&mut from_client, stdin).await;
        }
        // The client is done sending: end the remote side's input too.
        drop(stdin.take());
    };
    let downstream = async {
        if let Some(stdout) = stdout.as_mut() {
            let _ = tokio::io::copy(stdout, &mut to_client).await;
        }
        // The remote side is gone. Why is recorded *before* the client sees the connection
        // close, so that the error the client then returns can be explained.
        let mut said = String::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_string(&mut said).await;
        }
        let status = child.wait().await.ok();
        if status.is_some_and(|s| !s.success()) {
            let message = explain_session_failure(&dest, &said, status.and_then(|s| s.code()));
            *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut to_client).await;
    };
    tokio::join!(upstream, downstream);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest() -> SshDestination {
        SshDestination { user: Some("deploy".into()), host: "vps.example".into(), port: Some(2222) }
    }

    #[test]
    fn ssh_runs_without_prompts_and_never_reads_the_host_as_an_option() {
        let args = base_args(&dest(), Path::new("/h/ssh/ab")).unwrap();
        assert!(args.windows(2).any(|w| w == ["-o", "BatchMode=yes"]));
        assert!(args.windows(2).any(|w| w == ["-o", "ControlPath=\"/h/ssh/ab\""]));
        let args = base_args(&dest(), Path::new("/my home/100%/ab")).unwrap();
        assert!(args.windows(2).any(|w| w == ["-o", "ControlPath=\"/my home/100%%/ab\""]));
        assert_eq!(&args[args.len() - 6..], ["-l", "deploy", "-p", "2222", "--", "vps.example"]);
    }

    #[test]
    fn a_listening_port_is_read_from_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000\n   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000\n";
        assert!(listens_on(table, 3000));
        assert!(!listens_on(table, 8080), "an established connection is not a listener");
        assert!(!listens_on(table, 3001));
        let v6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000000000000:0BB9 00000000000000000000000000000000:0000 0A\n";
        assert!(listens_on(v6, 3001));
    }

    #[test]
    fn connection_failures_say_what_to_do() {
        let d = dest();
        let m = explain_connect_failure(&d, "Host key verification failed.\r\n", Some(255));
        assert!(m.contains("not trusted") && m.contains("ssh -p 2222 deploy@vps.example"), "{m}");
        let m = explain_connect_failure(&d, "deploy@vps.example: Permission denied (publickey).", Some(255));
        assert!(m.contains("refused the SSH login") && m.contains("authorized_keys"), "{m}");
        let m = explain_connect_failure(&d, "ssh: connect to host vps.example port 2222: Connection refused", Some(255));
        assert!(m.contains("cannot reach ssh://deploy@vps.example:2222"), "{m}");
        let m = explain_session_failure(&d, "sh: 1: docker: not found\n", Some(127));
        assert!(m.contains("Docker is not installed on deploy@vps.example:2222"), "{m}");
        let m = explain_session_failure(
            &d,
            "permission denied while trying to connect to the docker API at unix:///var/run/docker.sock",
            Some(1),
        );
        assert!(m.contains("`docker` group"), "{m}");
    }
}
