//! ssh-transport-bench: how much does reaching a Docker engine over SSH cost a no-op `nkdev up`?
//!
//! Why this exists: the issue asked to decide between bollard's SSH support
//! (`Docker::connect_with_ssh`, bollard ≥ 0.19, via the `openssh` crate) and our own transport
//! (`providers/docker/src/ssh.rs`: a local unix socket, one `ssh … docker system dial-stdio` per
//! connection, all multiplexed over one OpenSSH ControlMaster) by measuring, not by reading code.
//!
//! It is NOT part of the nanokit workspace (see `[workspace]` in Cargo.toml); run it with
//! `./run.sh`, which starts a throw-away sshd on 127.0.0.1 (temp host key, temp client key,
//! temp known_hosts, temp sshd_config and ssh_config; nothing under /etc/ssh or ~/.ssh is written,
//! and no ssh_config of the system or the user is read) whose remote side is this same machine's
//! Docker engine, runs this binary, and tears everything down. Results: RESULTS.md.
//!
//! For each way the program runs the requests a no-op `nkdev up` sends: version negotiation,
//! list_containers (all, label filter), list_networks (name filter), inspect_container (404),
//! list_volumes (label filter), then 3 list_containers in parallel (a deploy starts services in
//! parallel, so the client opens several HTTP connections). Every run uses a fresh client.
//!
//! Ways measured, interleaved in each round so that drift in the machine's load hits all alike:
//! - `local`: the engine's own unix socket, no SSH: what the engine itself costs.
//! - `A bollard-ssh`: `Docker::connect_with_ssh` (bollard 0.21.1).
//! - `B ours cold`: our design with `Docker::connect_with_socket` (nkdev before commit 85474ee),
//!   with no ControlMaster running (first command in a while).
//! - `B ours warm`: the same, with the master left by the previous run (consecutive commands).
//! - `B+ka cold/warm`: our transport with a client that keeps idle connections, which is what
//!   nkdev does since 85474ee (`ssh::pooled_client`). B opens one `dial-stdio` session per
//!   request, because bollard's `connect_with_socket` builds its client with
//!   `pool_max_idle_per_host(0)`.
//!
//! Per run it counts SSH handshakes ("Accepted publickey" lines sshd logged from the start of
//! the run until everything it started has settled, which may be after the timed part ends), the
//! `ssh` processes started (the `ssh` wrapper on PATH logs each call), and the ssh processes of
//! this benchmark still alive after settling (at most 15 s).
//!
//! Environment (set by run.sh): BENCH_PORT, BENCH_KEY, BENCH_KNOWN_HOSTS, BENCH_SSHD_LOG,
//! BENCH_CALLS_LOG, BENCH_TMP, BENCH_RUNS (default 10).

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::net::UnixListener;
use tokio::process::Command;

struct Env {
    port: u16,
    key: String,
    known_hosts: String,
    sshd_log: PathBuf,
    calls_log: PathBuf,
    tmp: PathBuf,
    runs: usize,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (run ./run.sh)"))
}

/// The requests of a no-op `nkdev up`, on a fresh client.
async fn sequence(docker: Docker) -> Result<(), String> {
    let docker = docker.negotiate_version().await.map_err(|e| format!("version: {e}"))?;
    let labels = HashMap::from([("label", vec!["com.nanokit.project=ssh-bench"])]);
    let containers = || Some(ListContainersOptionsBuilder::new().all(true).filters(&labels).build());
    docker.list_containers(containers()).await.map_err(|e| format!("list_containers: {e}"))?;
    let names = HashMap::from([("name", vec!["ssh-bench_default"])]);
    docker
        .list_networks(Some(ListNetworksOptionsBuilder::new().filters(&names).build()))
        .await
        .map_err(|e| format!("list_networks: {e}"))?;
    match docker.inspect_container("ssh-bench-web-1", None).await {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(e) => return Err(format!("inspect_container: {e}")),
    }
    docker
        .list_volumes(Some(ListVolumesOptionsBuilder::new().filters(&labels).build()))
        .await
        .map_err(|e| format!("list_volumes: {e}"))?;
    let (a, b, c) = tokio::join!(
        docker.list_containers(containers()),
        docker.list_containers(containers()),
        docker.list_containers(containers()),
    );
    for r in [a, b, c] {
        r.map_err(|e| format!("parallel list_containers: {e}"))?;
    }
    Ok(())
}

// ---- Way B: a minimal re-implementation of providers/docker/src/ssh.rs ----

fn b_args(env: &Env) -> Vec<String> {
    let control = env.tmp.join("ctl");
    let mut args: Vec<String> = vec![
        "-i".into(),
        env.key.clone(),
        "-o".into(),
        format!("UserKnownHostsFile={}", env.known_hosts),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        "BatchMode=yes".into(),
        // The rest as nkdev passes them.
        "-o".into(),
        "ConnectTimeout=15".into(),
        "-o".into(),
        "ServerAliveInterval=5".into(),
        "-o".into(),
        "ServerAliveCountMax=3".into(),
        "-o".into(),
        "ControlMaster=auto".into(),
        "-o".into(),
        format!("ControlPath={}", control.display()),
        "-o".into(),
        "ControlPersist=60".into(),
        "-l".into(),
        "root".into(),
        "-p".into(),
        env.port.to_string(),
        "--".into(),
        "127.0.0.1".into(),
    ];
    args.shrink_to_fit();
    args
}

/// As `SshTunnel::open`: reuse a live master, or start one (`-f -N`), then serve a private socket.
async fn b_open(args: &[String]) -> Result<(tempfile::TempDir, tokio::task::JoinHandle<()>), String> {
    let alive = Command::new("ssh").args(["-O", "check"]).args(args).stdin(Stdio::null()).output().await;
    if !alive.is_ok_and(|o| o.status.success()) {
        let status = Command::new("ssh")
            .args(["-f", "-N", "-o", "ControlMaster=yes"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .map_err(|e| format!("ssh: {e}"))?;
        if !status.success() {
            return Err(format!("master: ssh exited {status}"));
        }
    }
    let dir = tempfile::Builder::new().prefix("nk-ssh-").tempdir().map_err(|e| e.to_string())?;
    let listener = UnixListener::bind(dir.path().join("docker.sock")).map_err(|e| e.to_string())?;
    let args = args.to_vec();
    let accept = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(b_session(conn, args.clone()));
        }
    });
    Ok((dir, accept))
}

async fn b_session(conn: tokio::net::UnixStream, args: Vec<String>) {
    let Ok(mut child) = Command::new("ssh")
        .args(&args)
        .args(["docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
    else {
        return;
    };
    let (mut stdin, mut stdout) = (child.stdin.take(), child.stdout.take());
    let (mut from_client, mut to_client) = conn.into_split();
    let up = async {
        if let Some(s) = stdin.as_mut() {
            let _ = tokio::io::copy(&mut from_client, s).await;
        }
        drop(stdin.take());
    };
    let down = async {
        if let Some(s) = stdout.as_mut() {
            let _ = tokio::io::copy(s, &mut to_client).await;
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut to_client).await;
    };
    tokio::join!(up, down);
    let _ = child.wait().await;
}

/// `keep_alive: false` is what nkdev did before 85474ee: `Docker::connect_with_socket`, whose client bollard
/// builds with `pool_max_idle_per_host(0)` (0.18 and 0.21 alike), so every request is a new
/// connection to the socket, hence a new `ssh … docker system dial-stdio` session.
/// `keep_alive: true` (nkdev since 85474ee, `ssh::pooled_client`): the same socket, but through a
/// hyper client that keeps idle connections (hyper's default pool), via
/// `Docker::connect_with_custom_transport` (in bollard 0.18 too).
async fn way_b(env: &Env, keep_alive: bool) -> Result<(), String> {
    let args = b_args(env);
    let (dir, accept) = b_open(&args).await?;
    let socket = dir.path().join("docker.sock");
    let docker = if keep_alive {
        pooled_client(&socket)?
    } else {
        Docker::connect_with_socket(&socket.to_string_lossy(), 120, API_DEFAULT_VERSION).map_err(|e| e.to_string())?
    };
    let result = sequence(docker).await;
    accept.abort();
    result
}

fn pooled_client(socket: &Path) -> Result<Docker, String> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = std::sync::Arc::new(Client::builder(TokioExecutor::new()).build(hyperlocal::UnixConnector));
    Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let client = client.clone();
            Box::pin(async move { client.request(req).await.map_err(bollard::errors::Error::from) })
        },
        Some(format!("unix://{}", hex::encode(socket.to_string_lossy().as_bytes()))),
        120,
        API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())
}

/// Stop the shared connection, so that the next B run starts cold.
async fn b_stop_master(env: &Env) {
    let _ = Command::new("ssh")
        .args(["-O", "exit"])
        .args(b_args(env))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    // `-O exit` returns once the master was told; wait until its socket is gone.
    for _ in 0..100 {
        if !env.tmp.join("ctl").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- Way A: bollard's own SSH transport ----

/// `with_port`: put the port in the URL, as `DOCKER_HOST=ssh://root@host:2222` would. bollard
/// 0.21.1 then runs `ssh … root@127.0.0.1:PORT`, which ssh cannot resolve; run.sh's ssh_config
/// gives the port instead (`Host 127.0.0.1 / Port …`), and the measured runs use the URL without it.
async fn way_a(env: &Env, with_port: bool) -> Result<(), String> {
    let url = if with_port { format!("ssh://root@127.0.0.1:{}", env.port) } else { "ssh://root@127.0.0.1".to_string() };
    let docker = Docker::connect_with_ssh(
        &url,
        120,
        API_DEFAULT_VERSION,
        Some(env.key.clone()),
    )
    .map_err(|e| e.to_string())?;
    sequence(docker).await
}

// ---- Baseline: no SSH at all ----

async fn way_local() -> Result<(), String> {
    let docker = Docker::connect_with_socket("/var/run/docker.sock", 120, API_DEFAULT_VERSION)
        .map_err(|e| e.to_string())?;
    sequence(docker).await
}

// ---- Counting ----

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn lines_since(p: &Path, offset: u64) -> String {
    let text = std::fs::read(p).unwrap_or_default();
    String::from_utf8_lossy(&text[(offset as usize).min(text.len())..]).into_owned()
}

/// ssh processes of this benchmark (their command line names its temp dir) still running.
fn live_ssh(env: &Env) -> usize {
    let tmp = env.tmp.to_string_lossy().into_owned();
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.starts_with("/usr/bin/ssh ") && cmd.contains(&tmp) {
            n += 1;
        }
    }
    n
}

#[derive(Default)]
struct Stats {
    ms: Vec<f64>,
    handshakes: Vec<usize>,
    ssh_calls: Vec<usize>,
    left_alive: Vec<usize>,
    errors: Vec<String>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 }
}

/// "median (min–max)" of a count, or the one value when all runs agree.
fn summary(v: &[usize]) -> String {
    let (Some(min), Some(max)) = (v.iter().min(), v.iter().max()) else { return "-".into() };
    if min == max {
        return format!("{min}");
    }
    let m = median(&v.iter().map(|&x| x as f64).collect::<Vec<_>>());
    format!("{m} ({min}–{max})")
}

async fn measure<F, Fut>(env: &Env, stats: &mut Stats, label: &str, round: usize, f: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let log0 = file_len(&env.sshd_log);
    let calls0 = file_len(&env.calls_log);
    let start = Instant::now();
    let result = f().await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    // Let everything the run started finish before counting, so nothing spills into the next
    // run: hyper may still be completing connections it began for the parallel requests (A), and
    // sessions wind down once the client is dropped. Done when only the expected ssh processes
    // are left (B's master, or none) and sshd's log has not grown for 300 ms (at most 15 s).
    let expected = if label.starts_with('B') { 1 } else { 0 };
    let settle = Instant::now();
    let mut last = (file_len(&env.sshd_log), Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let len = file_len(&env.sshd_log);
        if len != last.0 {
            last = (len, Instant::now());
        }
        let quiet = last.1.elapsed() >= Duration::from_millis(300);
        if (quiet && live_ssh(env) <= expected) || settle.elapsed() > Duration::from_secs(15) {
            break;
        }
    }
    let handshakes = lines_since(&env.sshd_log, log0).matches("Accepted publickey").count();
    let calls = lines_since(&env.calls_log, calls0).lines().count();
    let alive = live_ssh(env);
    match &result {
        Ok(()) => {
            stats.ms.push(ms);
            stats.handshakes.push(handshakes);
            stats.ssh_calls.push(calls);
            stats.left_alive.push(alive);
        }
        Err(e) => stats.errors.push(e.clone()),
    }
    println!(
        "round {round:2} {label:<14} {ms:8.1} ms  handshakes {handshakes}  ssh processes started {calls:2}  ssh alive after {alive}  {}",
        result.err().map(|e| format!("ERROR {e}")).unwrap_or_default()
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let env = Env {
        port: var("BENCH_PORT").parse().expect("BENCH_PORT"),
        key: var("BENCH_KEY"),
        known_hosts: var("BENCH_KNOWN_HOSTS"),
        sshd_log: var("BENCH_SSHD_LOG").into(),
        calls_log: var("BENCH_CALLS_LOG").into(),
        tmp: var("BENCH_TMP").into(),
        runs: std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(10),
    };
    let only: Vec<String> = std::env::args().skip(1).collect();
    let want = |w: &str| only.is_empty() || only.iter().any(|o| o == w);

    let labels = ["local", "A bollard-ssh", "B ours cold", "B ours warm", "B+ka cold", "B+ka warm"];
    let mut stats: Vec<Stats> = labels.iter().map(|_| Stats::default()).collect();

    // One unmeasured round first (page cache, the engine's own warm-up).
    let _ = way_local().await;
    if want("a") {
        // Does bollard's SSH transport take the port from the URL? (Reported, not measured.)
        let log0 = file_len(&env.calls_log);
        match way_a(&env, true).await {
            Ok(()) => println!("check: bollard ssh://root@127.0.0.1:{} works", env.port),
            Err(e) => println!(
                "check: bollard ssh://root@127.0.0.1:{} FAILS ({e}); it ran: ssh {}",
                env.port,
                lines_since(&env.calls_log, log0).lines().next().unwrap_or("?")
            ),
        }
    }

    for round in 1..=env.runs {
        // No master of B's is up during `local` and A (B's warm runs leave one).
        b_stop_master(&env).await;
        if want("local") {
            measure(&env, &mut stats[0], labels[0], round, way_local).await;
        }
        if want("a") {
            measure(&env, &mut stats[1], labels[1], round, || way_a(&env, false)).await;
        }
        for (i, keep_alive, want_it) in [(2, false, want("b")), (4, true, want("bka"))] {
            if !want_it {
                continue;
            }
            b_stop_master(&env).await;
            measure(&env, &mut stats[i], labels[i], round, || way_b(&env, keep_alive)).await;
            // The master the cold run started is still up (ControlPersist): what the next
            // nkdev command finds.
            measure(&env, &mut stats[i + 1], labels[i + 1], round, || way_b(&env, keep_alive)).await;
        }
    }
    b_stop_master(&env).await;

    println!();
    println!("| way | master | median ms | min ms | max ms | SSH handshakes / run | ssh processes started / run | ssh processes alive after | ok runs |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (i, s) in stats.iter().enumerate() {
        if s.ms.is_empty() && s.errors.is_empty() {
            continue;
        }
        let (way, master) = match i {
            0 => ("local socket, no SSH (baseline)", "-"),
            1 => ("A: bollard 0.21.1 `connect_with_ssh`", "one per HTTP connection"),
            2 => ("B: ours, a connection per request (nkdev before 85474ee)", "cold"),
            3 => ("B: ours, a connection per request (nkdev before 85474ee)", "warm"),
            4 => ("B + keep-alive client (nkdev since 85474ee)", "cold"),
            _ => ("B + keep-alive client (nkdev since 85474ee)", "warm"),
        };
        let min = s.ms.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = s.ms.iter().cloned().fold(0.0, f64::max);
        println!(
            "| {way} | {master} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {}/{} |",
            median(&s.ms),
            min,
            max,
            summary(&s.handshakes),
            summary(&s.ssh_calls),
            summary(&s.left_alive),
            s.ms.len(),
            s.ms.len() + s.errors.len()
        );
    }
    for (i, s) in stats.iter().enumerate() {
        for e in &s.errors {
            println!("error ({}): {e}", labels[i]);
        }
    }
}
