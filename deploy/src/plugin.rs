//! The host side of the provider protocol ([`crate::protocol`]): a `nkdev-provider-<id>`
//! executable, spawned per command, seen by the rest of nkdev as one more [`Provider`].
//!
//! Everything that can go wrong with another process is turned into an error naming the
//! plugin and what it did: it exited (with its status and last stderr lines), did not answer
//! within a timeout (it is then stopped), wrote something that is not JSON-RPC to stdout, or
//! speaks no protocol version this nkdev does. Once a plugin has failed so, every further
//! call fails with the same account, so the deploy stops under the usual rules (lock
//! released, unready services recorded).

use crate::factory::{Environment, Factory, ProviderInfo};
use crate::lock::LockInfo;
use crate::options::Options;
use crate::protocol::{self, codes, methods, InitializeParams, InitializeResult, Peer, RpcError};
use crate::provider::{Capabilities, HeldLock, LockPlace, LogLine, LogRequest, Observed, Provider, ProviderError, Reporter, StatusRow};
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use nanokit_core::plan::{Desired, DesiredService, Plan, Step};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

/// Whether plugins' stderr is shown as it comes (`-v`); it is always kept for error messages.
static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// `NANOKIT_PROVIDER_TIMEOUT` (seconds) bounds every call but `apply` and `wait_ready`.
pub const TIMEOUT_VAR: &str = "NANOKIT_PROVIDER_TIMEOUT";

/// How long a plugin may take to answer `method`.
fn timeout_of(method: &str, options: &Options) -> Duration {
    let configured = std::env::var(TIMEOUT_VAR).ok().and_then(|v| v.parse::<u64>().ok()).map(Duration::from_secs);
    match method {
        // Creating a service may pull an image; waiting is bounded by the deploy's own timeout.
        methods::APPLY => Duration::from_secs(30 * 60),
        methods::WAIT_READY => options.ready_timeout + Duration::from_secs(30),
        methods::INITIALIZE => configured.unwrap_or(Duration::from_secs(15)),
        _ => configured.unwrap_or(Duration::from_secs(120)),
    }
}

/// Lines of a plugin's stderr kept for its error messages.
const STDERR_KEPT: usize = 20;

pub struct PluginFactory {
    id: String,
    path: PathBuf,
}

impl PluginFactory {
    pub fn new(id: &str, path: PathBuf) -> Self {
        PluginFactory { id: id.to_string(), path }
    }
}

#[async_trait]
impl Factory for PluginFactory {
    fn id(&self) -> &str {
        &self.id
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo { id: self.id.clone(), version: String::new(), origin: self.path.display().to_string(), capabilities: None }
    }

    async fn connect(&self, env: &Environment, options: &Options) -> Result<Box<dyn Provider>, ProviderError> {
        Ok(Box::new(PluginProvider::start(&self.id, &self.path, env, options).await?))
    }
}

/// Ask an installed plugin its version and capabilities (`nkdev providers`): it is started,
/// initialized for an empty environment, and stopped.
pub async fn probe(id: &str, path: &Path) -> Result<ProviderInfo, ProviderError> {
    let env = Environment {
        project: String::new(),
        env: String::new(),
        component: String::new(),
        shared: false,
        provider: id.to_string(),
        infra: Default::default(),
        project_dir: std::env::current_dir().unwrap_or_default(),
    };
    let p = PluginProvider::start(id, path, &env, &Options::default()).await?;
    Ok(ProviderInfo {
        id: id.to_string(),
        version: p.version.clone(),
        origin: path.display().to_string(),
        capabilities: Some(p.capabilities),
    })
}

type Reply = Result<Value, RpcError>;

/// A call that failed: the error to show, and the plugin's own JSON-RPC error when it answered
/// with one (so its code is read as a number, never guessed from the message).
struct Failure {
    error: ProviderError,
    answered: Option<RpcError>,
}

impl Failure {
    fn code(&self) -> Option<i64> {
        self.answered.as_ref().map(|e| e.code)
    }
}

impl From<ProviderError> for Failure {
    fn from(error: ProviderError) -> Self {
        Failure { error, answered: None }
    }
}

impl From<Failure> for ProviderError {
    fn from(f: Failure) -> Self {
        f.error
    }
}

/// One running plugin and the calls waiting on it.
struct Connection {
    id: String,
    path: PathBuf,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    child: Mutex<Option<Child>>,
    pending: Mutex<HashMap<u64, (String, oneshot::Sender<Reply>)>>,
    logs: Mutex<HashMap<u64, mpsc::UnboundedSender<Result<LogLine, ProviderError>>>>,
    next_id: AtomicU64,
    /// Why the plugin can no longer be used, once it cannot.
    failed: Mutex<Option<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Connection {
    fn name(&self) -> String {
        format!("provider plugin `{}` ({})", self.id, self.path.display())
    }

    /// The error for a plugin that failed: what it did, and its last stderr lines.
    fn error(&self, what: &str) -> ProviderError {
        let mut e = ProviderError::new(format!("{} {what}", self.name()));
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        if !tail.is_empty() {
            e.details.push("its last lines on stderr:".into());
            e.details.extend(tail.iter().cloned());
        }
        e
    }

    /// The plugin is unusable: say why to every waiting call, and stop it.
    fn fail(&self, why: String) {
        {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            if failed.is_some() {
                return;
            }
            *failed = Some(why.clone());
        }
        let pending: Vec<_> = self.pending.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        for (_, (method, tx)) in pending {
            let e = self.error(&format!("{why} while answering `{method}`"));
            let _ = tx.send(Err(RpcError {
                code: codes::PROVIDER_ERROR,
                message: e.message,
                data: Some(protocol::ErrorData { details: e.details, supported: Vec::new() }),
            }));
        }
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clear();
        if let Some(child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let _ = child.start_kill();
        }
    }

    fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn send(&self, message: &Value) -> Result<(), ProviderError> {
        let mut line = serde_json::to_string(message).map_err(|e| ProviderError::new(format!("cannot encode a message: {e}")))?;
        line.push('\n');
        let mut stdin = self.stdin.lock().await;
        let Some(pipe) = stdin.as_mut() else { return Err(self.error("is shut down")) };
        if let Err(e) = pipe.write_all(line.as_bytes()).await {
            return Err(self.error(&format!("cannot be written to ({e}); it has exited")));
        }
        pipe.flush().await.map_err(|e| self.error(&format!("cannot be written to ({e})")))
    }

    /// Send a request and wait for its answer, at most `timeout`.
    async fn call(&self, method: &str, params: Value, timeout: Duration) -> Result<Value, Failure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.call_with_id(id, method, params, timeout).await
    }

    async fn call_with_id(&self, id: u64, method: &str, params: Value, timeout: Duration) -> Result<Value, Failure> {
        if let Some(why) = self.failure() {
            return Err(self.error(&format!("{why}; `{method}` was not sent")).into());
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (method.to_string(), tx));
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(value))) => Ok(value),
            // The plugin failed (its account is already in the error): not an answer of its own.
            Ok(Ok(Err(e))) if self.failure().is_some() => Err(ProviderError::from(e).into()),
            Ok(Ok(Err(e))) => {
                let mut error: ProviderError = e.clone().into();
                if e.code != codes::PROVIDER_ERROR {
                    error.message = format!("{} answered `{method}` with error {}: {}", self.name(), e.code, e.message);
                }
                Err(Failure { error, answered: Some(e) })
            }
            Ok(Err(_)) => Err(self.error(&format!("stopped answering `{method}`")).into()),
            Err(_) => {
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                let why = format!("did not answer `{method}` within {} s and was stopped", timeout.as_secs());
                let e = self.error(&why);
                self.fail(why);
                Err(e.into())
            }
        }
    }

    /// One line the plugin wrote to stdout.
    fn received(&self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            let shown: String = line.chars().take(120).collect();
            self.fail(format!("wrote something that is not a JSON-RPC message to stdout: `{shown}`"));
            return;
        };
        if let Some(method) = message.get("method").and_then(Value::as_str) {
            let params = message.get("params").cloned().unwrap_or(Value::Null);
            match method {
                methods::NOTE => {
                    if let Some(text) = params.get("message").and_then(Value::as_str) {
                        eprintln!("  {}: {text}", self.id);
                    }
                }
                methods::LOG => {
                    if let Ok(p) = serde_json::from_value::<protocol::LogParams>(params) {
                        if let Some(tx) = self.logs.lock().unwrap_or_else(|p| p.into_inner()).get(&p.request) {
                            let _ = tx.send(Ok(LogLine { service: p.service, line: p.line }));
                        }
                    }
                }
                // Notifications of later protocol versions are ignored.
                _ => {}
            }
            return;
        }
        let Some(id) = message.get("id").and_then(Value::as_u64) else {
            let shown: String = line.chars().take(120).collect();
            self.fail(format!("wrote a message that is neither a notification nor an answer: `{shown}`"));
            return;
        };
        let Some((_, tx)) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) else { return };
        let reply = match (message.get("result"), message.get("error")) {
            (_, Some(error)) => Err(serde_json::from_value::<RpcError>(error.clone())
                .unwrap_or_else(|_| RpcError::new(codes::PROVIDER_ERROR, format!("malformed error: {error}")))),
            (Some(result), None) => Ok(result.clone()),
            (None, None) => Ok(Value::Null),
        };
        let _ = tx.send(reply);
    }
}

pub struct PluginProvider {
    conn: Arc<Connection>,
    options: Options,
    capabilities: Capabilities,
    target: String,
    version: String,
}

impl PluginProvider {
    /// Start the plugin and shake hands: it must answer `initialize` with a version this
    /// nkdev speaks.
    pub async fn start(id: &str, path: &Path, env: &Environment, options: &Options) -> Result<PluginProvider, ProviderError> {
        PluginProvider::start_with(id, path, &[], env, options).await
    }

    /// [`PluginProvider::start`] with arguments (`nkdev provider serve docker`).
    pub async fn start_with(
        id: &str,
        path: &Path,
        args: &[&str],
        env: &Environment,
        options: &Options,
    ) -> Result<PluginProvider, ProviderError> {
        let name = format!("provider plugin `{id}` ({})", path.display());
        let dir = if env.project_dir.is_dir() { env.project_dir.clone() } else { PathBuf::from(".") };
        let mut child = Command::new(path)
            .args(args)
            .current_dir(dir)
            // Its own process group: a Ctrl-C at the terminal reaches nkdev only, which stops
            // the deploy in order and then ends the plugin (`shutdown`), rather than the
            // plugin dying mid-step with a lock it holds.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ProviderError::new(format!("cannot start {name}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let conn = Arc::new(Connection {
            id: id.to_string(),
            path: path.to_path_buf(),
            stdin: tokio::sync::Mutex::new(stdin),
            child: Mutex::new(Some(child)),
            pending: Mutex::new(HashMap::new()),
            logs: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            failed: Mutex::new(None),
            stderr: Arc::new(Mutex::new(VecDeque::new())),
        });
        if let Some(stderr) = stderr {
            let tail = conn.stderr.clone();
            let id = id.to_string();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stderr);
                // Bytes, not UTF-8 lines: a plugin's stderr may carry anything (a tool's
                // Latin-1 output); it is shown, never a reason to stop reading it.
                while let Some(line) = read_line(&mut reader, MAX_LOG_LINE).await {
                    if VERBOSE.load(Ordering::Relaxed) {
                        eprintln!("[{id}] {line}");
                    }
                    let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                    if tail.len() == STDERR_KEPT {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        if let Some(stdout) = stdout {
            let weak = Arc::downgrade(&conn);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stdout);
                loop {
                    let line = read_line(&mut reader, MAX_MESSAGE).await;
                    let Some(conn) = weak.upgrade() else { return };
                    match line {
                        Some(line) => conn.received(&line),
                        None => {
                            // Give stderr a moment to deliver the plugin's last words.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            let status =
                                conn.child.lock().unwrap_or_else(|p| p.into_inner()).as_mut().and_then(|c| c.try_wait().ok().flatten());
                            let status = match status {
                                Some(s) => format!("exited ({s})"),
                                None => "closed its stdout".to_string(),
                            };
                            conn.fail(status);
                            return;
                        }
                    }
                }
            });
        }
        let params = InitializeParams {
            protocol_versions: protocol::VERSIONS.to_vec(),
            host: Peer { name: "nkdev".into(), version: env!("CARGO_PKG_VERSION").into() },
            environment: env.clone(),
            options: options.clone(),
        };
        let answer = conn.call(methods::INITIALIZE, to_value(&params)?, timeout_of(methods::INITIALIZE, options)).await;
        let answer = match answer {
            Err(f) if f.code() == Some(codes::UNSUPPORTED_VERSION) => {
                let supported = f.answered.and_then(|e| e.data).map(|d| d.supported).unwrap_or_default();
                return Err(ProviderError::new(format!(
                    "{name} speaks protocol version {}, and this nkdev speaks {}; update the plugin or nkdev",
                    if supported.is_empty() { "unknown".to_string() } else { versions(&supported) },
                    versions(protocol::VERSIONS)
                )));
            }
            other => other?,
        };
        let result: InitializeResult = serde_json::from_value(answer)
            .map_err(|e| conn.error(&format!("answered `initialize` with something that is not an initialize result ({e})")))?;
        if !protocol::VERSIONS.contains(&result.protocol_version) {
            conn.fail("chose an unknown protocol version".into());
            return Err(ProviderError::new(format!(
                "{name} chose protocol version {}, which this nkdev does not speak (it speaks {}); update the plugin or nkdev",
                result.protocol_version,
                versions(protocol::VERSIONS)
            )));
        }
        Ok(PluginProvider {
            conn,
            options: options.clone(),
            capabilities: result.capabilities,
            target: result.target,
            version: result.provider.version,
        })
    }

    async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, ProviderError> {
        let value = self.conn.call(method, params, timeout_of(method, &self.options)).await?;
        serde_json::from_value(value).map_err(|e| self.conn.error(&format!("answered `{method}` with something unexpected ({e})")))
    }

    fn require(&self, has: bool, what: &str) -> Result<(), ProviderError> {
        if has {
            Ok(())
        } else {
            Err(ProviderError::new(format!("{} does not support {what}", self.conn.name())))
        }
    }
}

/// How long a plugin has to exit once its stdin is closed.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// The longest message read from a plugin's stdout (a large `observe` fits), and the longest
/// stderr line kept; the rest of a longer line is read and dropped, so memory stays bounded.
const MAX_MESSAGE: usize = 64 << 20;
const MAX_LOG_LINE: usize = 4 << 10;

/// One line (without its end, at most `max` bytes of it), invalid UTF-8 replaced; `None` at
/// the end of the stream.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> Option<String> {
    use tokio::io::AsyncBufReadExt;
    let mut bytes = Vec::new();
    let mut read_any = false;
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) if !buf.is_empty() => buf,
            _ if read_any => break,
            _ => return None,
        };
        read_any = true;
        let end = buf.iter().position(|b| *b == b'\n');
        let chunk = &buf[..end.unwrap_or(buf.len())];
        let room = max.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = end.map_or(buf.len(), |e| e + 1);
        reader.consume(used);
        if end.is_some() {
            break;
        }
    }
    while bytes.last().is_some_and(|b| *b == b'\r') {
        bytes.pop();
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

impl Drop for PluginProvider {
    /// Closing stdin asks the plugin to exit; one still running after [`EXIT_GRACE`] is
    /// killed (and `kill_on_drop` kills it at once if no runtime is left to wait on).
    fn drop(&mut self) {
        if let Ok(mut stdin) = self.conn.stdin.try_lock() {
            stdin.take();
        }
        let child = self.conn.child.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let (Some(mut child), Ok(runtime)) = (child, tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                if tokio::time::timeout(EXIT_GRACE, child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
            });
        }
    }
}

fn versions(list: &[u32]) -> String {
    list.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, ProviderError> {
    serde_json::to_value(value).map_err(|e| ProviderError::new(format!("cannot encode a request: {e}")))
}

/// The values of the secrets nkdev read, by service then variable (`apply` only).
fn secret_values(desired: &Desired) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    desired
        .services
        .iter()
        .map(|s| {
            (s.name.clone(), s.secrets.iter().filter_map(|(k, v)| Some((k.clone(), v.value.as_ref()?.expose().to_string()))).collect())
        })
        .filter(|(_, m): &(String, std::collections::BTreeMap<String, String>)| !m.is_empty())
        .collect()
}

#[async_trait]
impl Provider for PluginProvider {
    fn id(&self) -> &str {
        &self.conn.id
    }

    fn capabilities(&self) -> Capabilities {
        // The protocol has no `restart` method (yet): whatever a plugin claims, it cannot.
        Capabilities { restart: false, ..self.capabilities }
    }

    fn target(&self) -> String {
        self.target.clone()
    }

    async fn prepare(&self, desired: &mut Desired, deploying: bool) -> Result<(), ProviderError> {
        let params = to_value(&protocol::PrepareParams { desired: desired.clone(), deploying })?;
        let result = match self.conn.call(methods::PREPARE, params, timeout_of(methods::PREPARE, &self.options)).await {
            Ok(value) => serde_json::from_value::<protocol::PrepareResult>(value)
                .map_err(|e| self.conn.error(&format!("answered `prepare` with something unexpected ({e})")))?,
            // Optional: a plugin without it leaves the desired state as it is.
            Err(f) if matches!(f.code(), Some(codes::METHOD_NOT_FOUND | codes::NOT_SUPPORTED)) => return Ok(()),
            Err(f) => return Err(f.into()),
        };
        // Only what the method may change is taken back: secret values never travel here.
        if result.gateway_settings.is_some() {
            desired.cluster.gateway_settings = result.gateway_settings;
        }
        for s in desired.services.iter_mut() {
            if let Some(hash) = result.config_hashes.get(&s.name) {
                s.config_hash = hash.clone();
            }
        }
        Ok(())
    }

    async fn preflight(&self, plan: &Plan, desired: &Desired) -> Result<(), ProviderError> {
        let params = protocol::PreflightParams { plan: plan.clone(), desired: desired.clone() };
        self.call::<Value>(methods::PREFLIGHT, to_value(&params)?).await.map(drop)
    }

    async fn observe(&self, desired: &Desired) -> Result<Observed, ProviderError> {
        self.call(methods::OBSERVE, to_value(&protocol::DesiredParams { desired: desired.clone() })?).await
    }

    async fn apply(&self, step: &Step, desired: &Desired) -> Result<(), ProviderError> {
        let params = protocol::ApplyParams { step: step.clone(), desired: desired.clone(), secrets: secret_values(desired) };
        self.call::<Value>(methods::APPLY, to_value(&params)?).await.map(drop)
    }

    async fn wait_ready(&self, service: &DesiredService, desired: &Desired) -> Result<(), ProviderError> {
        let params = protocol::WaitReadyParams { service: service.name.clone(), desired: desired.clone() };
        self.call::<Value>(methods::WAIT_READY, to_value(&params)?).await.map(drop)
    }

    async fn status(&self, desired: &Desired) -> Result<Vec<StatusRow>, ProviderError> {
        if !self.capabilities.status {
            let observed = self.observe(desired).await?;
            return Ok(crate::provider::rows_from_observed(&observed, desired));
        }
        self.call(methods::STATUS, to_value(&protocol::DesiredParams { desired: desired.clone() })?).await
    }

    fn logs<'a>(&'a self, desired: &'a Desired, request: LogRequest) -> BoxStream<'a, Result<LogLine, ProviderError>> {
        use futures_util::StreamExt;
        if let Err(e) = self.require(self.capabilities.logs, "`logs`") {
            return futures_util::stream::once(async move { Err(e) }).boxed();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.conn.next_id.fetch_add(1, Ordering::Relaxed);
        self.conn.logs.lock().unwrap_or_else(|p| p.into_inner()).insert(id, tx.clone());
        let conn = self.conn.clone();
        let params = match to_value(&protocol::LogsParams { desired: desired.clone(), request }) {
            Ok(p) => p,
            Err(e) => return futures_util::stream::once(async move { Err(e) }).boxed(),
        };
        // The request runs beside the stream; its end (or failure) ends the stream.
        let call = tokio::spawn(async move {
            let result = conn.call_with_id(id, methods::LOGS, params, Duration::MAX / 4).await;
            conn.logs.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            if let Err(f) = result {
                let _ = tx.send(Err(f.into()));
            }
        });
        let cancel = CancelOnDrop { conn: self.conn.clone(), id, call: Some(call) };
        futures_util::stream::unfold((rx, cancel), |(mut rx, cancel)| async move { rx.recv().await.map(|item| (item, (rx, cancel))) })
            .boxed()
    }

    async fn lock(&self, desired: &Desired, holder: &LockInfo) -> Result<Option<Box<dyn HeldLock>>, ProviderError> {
        if !self.capabilities.lock {
            return Ok(None);
        }
        let params = protocol::LockParams { desired: desired.clone(), holder: holder.clone() };
        self.call::<Value>(methods::LOCK, to_value(&params)?).await?;
        Ok(Some(Box::new(PluginLock {
            conn: self.conn.clone(),
            desired: desired.clone(),
            holder: holder.clone(),
            options: self.options.clone(),
        })))
    }

    async fn unlock(&self, desired: &Desired, force: bool) -> Result<Option<(Option<LockInfo>, LockPlace)>, ProviderError> {
        if !self.capabilities.lock {
            return Ok(None);
        }
        let params = protocol::UnlockParams { desired: desired.clone(), force, holder: None };
        let r: Option<protocol::UnlockResult> = self.call(methods::UNLOCK, to_value(&params)?).await?;
        let r = r.ok_or_else(|| self.conn.error("answered `unlock` without saying where its lock lives"))?;
        Ok(Some((r.held, r.place)))
    }

    async fn shutdown(&self) {
        // A plugin that stopped reading its input cannot block this: the kill below follows.
        if let Ok(mut stdin) = tokio::time::timeout(Duration::from_secs(2), self.conn.stdin.lock()).await {
            stdin.take();
        }
        let child = self.conn.child.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut child) = child {
            if tokio::time::timeout(EXIT_GRACE, child.wait()).await.is_err() {
                eprintln!("{} did not exit within {} s of its input closing; it was stopped", self.conn.name(), EXIT_GRACE.as_secs());
                let _ = child.kill().await;
            }
        }
    }

    async fn remove_volumes(&self, desired: &Desired, _reporter: &dyn Reporter) -> Result<(), ProviderError> {
        self.require(self.capabilities.volumes, "removing volumes")?;
        self.call::<Value>(methods::REMOVE_VOLUMES, to_value(&protocol::DesiredParams { desired: desired.clone() })?).await.map(drop)
    }
}

/// Stops a `logs` request when its stream is dropped (Ctrl-C, or the reader is done).
struct CancelOnDrop {
    conn: Arc<Connection>,
    id: u64,
    call: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.call.as_ref().is_some_and(|c| c.is_finished()) {
            return;
        }
        let conn = self.conn.clone();
        let id = self.id;
        let call = self.call.take();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = conn.send(&json!({"jsonrpc": "2.0", "method": methods::CANCEL, "params": {"id": id}})).await;
                if let Some(call) = call {
                    call.abort();
                }
            });
        }
    }
}

/// How long a lock's release waits for a plugin's outstanding steps.
const LOCK_RELEASE_PATIENCE: Duration = Duration::from_secs(120);

/// A lock the plugin holds on its platform; released through `unlock` of our own holder.
struct PluginLock {
    conn: Arc<Connection>,
    desired: Desired,
    holder: LockInfo,
    options: Options,
}

#[async_trait]
impl HeldLock for PluginLock {
    async fn release(self: Box<Self>) {
        // After an interruption the plugin may still be carrying out the step nkdev stopped
        // waiting for: the lock is released only once no call is outstanding, never under
        // a step still running. One that does not finish keeps the lock (infra unlock).
        let deadline = tokio::time::Instant::now() + LOCK_RELEASE_PATIENCE;
        let mut told = false;
        while !self.conn.pending.lock().unwrap_or_else(|p| p.into_inner()).is_empty() && self.conn.failure().is_none() {
            if tokio::time::Instant::now() >= deadline {
                eprintln!(
                    "{} is still carrying out a step; its cluster lock is left to it. Once it is done, `nkdev infra unlock` clears the lock",
                    self.conn.name()
                );
                return;
            }
            if !told {
                eprintln!("waiting for {} to finish its current step before releasing the cluster lock…", self.conn.name());
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let params = protocol::UnlockParams { desired: self.desired.clone(), force: false, holder: Some(self.holder.clone()) };
        let released = match to_value(&params) {
            Ok(params) => self
                .conn
                .call(methods::UNLOCK, params, timeout_of(methods::UNLOCK, &self.options))
                .await
                .map(drop)
                .map_err(ProviderError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = released {
            eprintln!("could not release the cluster lock ({e}); `nkdev infra unlock` clears it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::read_line;

    #[tokio::test]
    async fn lines_are_read_as_bytes_bounded_and_without_their_end() {
        let mut input: Vec<u8> = b"first\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend(b"\nlatin-1: caf\xe9\nlast without newline");
        let mut reader = tokio::io::BufReader::with_capacity(1024, &input[..]);
        assert_eq!(read_line(&mut reader, 4096).await.as_deref(), Some("first"));
        assert_eq!(read_line(&mut reader, 4096).await.map(|l| l.len()), Some(4096), "a long line is cut, the rest skipped");
        assert_eq!(read_line(&mut reader, 4096).await.as_deref(), Some("latin-1: caf\u{fffd}"));
        assert_eq!(read_line(&mut reader, 4096).await.as_deref(), Some("last without newline"));
        assert_eq!(read_line(&mut reader, 4096).await, None);
    }
}
