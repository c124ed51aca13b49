//! The running cluster in the editor: for each open nanokit.yml, a child process `nkdev status
//! --watch --format jsonl` reports what runs (the provider's own status, from the engine's
//! events on Docker, polling elsewhere), and this module turns its events into what the code
//! lenses and the hover say. The server links no Docker or cloud client: nkdev does the
//! talking. Opt-in (`initializationOptions.liveStatus.enable`); off for AWS unless
//! `liveStatus.aws` (polling costs API calls).

use crate::documents::Snapshot;
use crate::outline::{self, SymbolKind};
use nanokit_core::Span;
use nanokit_deploy::provider::StatusRow;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// `initializationOptions.liveStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Options {
    pub enable: bool,
    /// Also for environments deployed to AWS.
    pub aws: bool,
    /// The nkdev executable.
    pub command: String,
}

impl Default for Options {
    fn default() -> Self {
        Options { enable: false, aws: false, command: "nkdev".into() }
    }
}

impl Options {
    /// From the initialization options (`liveStatus: true` is short for `{enable: true}`).
    pub fn from_init(value: Option<&serde_json::Value>) -> Options {
        match value.and_then(|o| o.get("liveStatus")) {
            Some(serde_json::Value::Bool(enable)) => Options { enable: *enable, ..Options::default() },
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_default(),
            None => Options::default(),
        }
    }
}

const AWS_OFF: &str = "live status is off for AWS (each refresh costs API calls): enable it with the liveStatus.aws setting";

/// What is known of one file's cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Waiting for nkdev's first event.
    Starting,
    /// Live status does not run for this file, and why.
    Off(String),
    /// nkdev cannot tell (not installed, the engine is down, the file does not load).
    Unavailable(String),
    /// What runs: a row per deployed service of the project and environment.
    Status { component: String, rows: Vec<StatusRow> },
}

/// A line of `nkdev status --watch --format jsonl`.
#[derive(Debug, Deserialize)]
struct Event {
    event: String,
    #[serde(default)]
    component: String,
    #[serde(default)]
    services: Vec<StatusRow>,
    #[serde(default)]
    message: String,
}

fn provider_of(line: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(line).ok()?.get("provider")?.as_str().map(str::to_string)
}

fn parse_event(line: &str) -> Option<State> {
    let event: Event = serde_json::from_str(line).ok()?;
    match event.event.as_str() {
        "status" => Some(State::Status { component: event.component, rows: event.services }),
        "unavailable" => Some(State::Unavailable(event.message)),
        _ => None,
    }
}

/// One watched file: its environment, its state, and the nkdev process (killed when dropped).
struct Watch {
    env: String,
    /// The environment's provider when the watch started (an edit may change it).
    provider: Option<String>,
    state: Arc<Mutex<State>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self._task.abort();
    }
}

/// Every watched file, keyed by path.
#[derive(Default)]
pub struct Live {
    watches: Mutex<HashMap<PathBuf, Watch>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Live {
    pub fn state(&self, path: &Path) -> Option<State> {
        lock(&self.watches).get(path).map(|w| lock(&w.state).clone())
    }

    pub fn stop(&self, path: &Path) {
        lock(&self.watches).remove(path);
    }

    /// Start following `path`'s environment `env` unless already doing so. `changed` is called
    /// after each new state (the server refreshes the lenses, debounced).
    pub fn ensure(&self, options: &Options, path: &Path, env: &str, snapshot: &Snapshot, changed: Arc<dyn Fn() + Send + Sync>) {
        let mut watches = lock(&self.watches);
        let provider = snapshot.analysis.environment(env).map(|e| e.resolved.provider.as_str().to_string());
        if watches.get(path).is_some_and(|w| w.env == env && w.provider == provider) {
            return;
        }
        let state = Arc::new(Mutex::new(State::Starting));
        let task = match provider.as_deref() {
            None => {
                *lock(&state) = State::Off(format!("environment `{env}` is not defined in this file"));
                tokio::spawn(async {})
            }
            Some("aws") if !options.aws => {
                *lock(&state) = State::Off(AWS_OFF.into());
                tokio::spawn(async {})
            }
            Some(_) => tokio::spawn(follow(options.clone(), path.to_path_buf(), env.to_string(), state.clone(), changed.clone())),
        };
        watches.insert(path.to_path_buf(), Watch { env: env.to_string(), provider, state, _task: task });
        drop(watches);
        changed();
    }
}

/// Run nkdev and keep `state` up to date with its events; when it ends, say why, and start it
/// again a little later (a file fixed, an engine back).
async fn follow(options: Options, path: PathBuf, env: String, state: Arc<Mutex<State>>, changed: Arc<dyn Fn() + Send + Sync>) {
    let command = options.command.clone();
    let set = |s: State| {
        let mut current = lock(&state);
        if *current != s {
            *current = s;
            drop(current);
            changed();
        }
    };
    loop {
        let child = tokio::process::Command::new(&command)
            // `--exit-on-eof`: when this server goes away, however it ends, the pipe closes and
            // nkdev stops (besides being killed when the watch is dropped).
            .args(["status", "--watch", "--exit-on-eof", "--format", "jsonl", "--env", &env, "--file"])
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                // Not installed: said once, in the lenses; nothing else of the server changes.
                set(State::Unavailable(format!(
                    "live status needs `{command}` ({e}): install nkdev or set the liveStatus.command setting"
                )));
                return;
            }
        };
        // Held, never written: its end is the child's signal to stop.
        let _stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let errors = tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            let mut last = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                last.push(line);
                if last.len() > 5 {
                    last.remove(0);
                }
            }
            last
        });
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            // The file on disk decides: an environment that turned out to be on AWS is not
            // polled unless asked for.
            if !options.aws && provider_of(&line).as_deref() == Some("aws") {
                set(State::Off(AWS_OFF.into()));
                return;
            }
            if let Some(s) = parse_event(&line) {
                set(s);
            }
        }
        let status = child.wait().await;
        let last = errors.await.unwrap_or_default();
        let why = last.iter().rev().find(|l| !l.trim().is_empty()).cloned().unwrap_or_else(|| format!("{status:?}"));
        set(State::Unavailable(format!("`{command} status --watch` stopped: {why}")));
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// What a code lens does when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deploy,
    Logs,
    Restart,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Deploy, Action::Logs, Action::Restart];

    pub fn command(self) -> &'static str {
        match self {
            Action::Deploy => "nanokit.deployService",
            Action::Logs => "nanokit.showLogs",
            Action::Restart => "nanokit.restartService",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Action::Deploy => "▶ Deploy",
            Action::Logs => "≡ Logs",
            Action::Restart => "↻ Restart",
        }
    }

    pub fn from_command(command: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.command() == command)
    }
}

/// A code lens: where, what it says, and what it runs (for `service`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lens {
    pub span: Span,
    pub title: String,
    pub action: Option<Action>,
    pub service: Option<String>,
}

/// The services of the file and their keys.
fn service_keys(snapshot: &Snapshot) -> Vec<(String, Span)> {
    outline::symbols(snapshot)
        .into_iter()
        .filter(|s| s.name == "services")
        .flat_map(|s| s.children)
        .filter(|s| s.kind == SymbolKind::Service)
        .map(|s| (s.name, s.selection))
        .collect()
}

fn ago(seconds: i64, now: i64) -> String {
    let d = (now - seconds).max(0);
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{} min ago", d / 60),
        3600..=86_399 => format!("{} h ago", d / 3600),
        _ => format!("{} days ago", d / 86_400),
    }
}

/// The row of this file's `service`: the same name, of this file's component.
fn row_of<'a>(component: &str, rows: &'a [StatusRow], service: &str) -> Option<&'a StatusRow> {
    rows.iter().find(|r| r.service == service && (r.component == component || component.is_empty()))
}

fn now() -> i64 {
    nanokit_deploy::lock::now() as i64
}

/// The status lens of a service: what runs, whether it is the file's configuration, where.
pub fn describe(row: Option<&StatusRow>, now: i64) -> String {
    let Some(row) = row else { return "○ not deployed".into() };
    let mut text = match (row.state.as_str(), row.health.as_deref()) {
        ("running", Some("starting")) => "◐ starting".to_string(),
        ("running", Some("unhealthy")) => "✕ running, unhealthy".to_string(),
        ("running", _) => "● running".to_string(),
        ("restarting", _) => "◐ restarting".to_string(),
        ("created", _) => "◐ starting".to_string(),
        ("exited", _) => {
            let code = row.exit_code.map(|c| format!(" ({c})")).unwrap_or_default();
            let when = row.finished_at.map(|t| format!(" {}", ago(t, now))).unwrap_or_default();
            format!("✕ exited{code}{when}")
        }
        (other, _) => format!("✕ {other}"),
    };
    if !row.up_to_date {
        text.push_str(" · ⚠ changed since deploy");
    }
    if row.state == "running" {
        if let Some(url) = &row.url {
            text.push_str(&format!(" · {url}"));
        }
    }
    text
}

/// The lenses of a file: above each service, its state and its actions; when nkdev cannot
/// tell, one lens on the first line says why (once, not per service).
pub fn lenses(snapshot: &Snapshot, state: &State) -> Vec<Lens> {
    let keys = service_keys(snapshot);
    let first = Span { start: 0, end: 0 };
    let (component, rows) = match state {
        State::Starting => return vec![Lens { span: first, title: "live status: asking nkdev…".into(), action: None, service: None }],
        State::Off(why) | State::Unavailable(why) => {
            return vec![Lens { span: first, title: format!("live status: {why}"), action: None, service: None }]
        }
        State::Status { component, rows } => (component, rows),
    };
    let now = now();
    let mut out = Vec::new();
    for (name, span) in keys {
        let row = row_of(component, rows, &name);
        out.push(Lens { span, title: describe(row, now), action: None, service: Some(name.clone()) });
        for action in Action::ALL {
            if action != Action::Deploy && row.is_none() {
                continue;
            }
            out.push(Lens { span, title: action.title().into(), action: Some(action), service: Some(name.clone()) });
        }
    }
    out
}

/// The facts the hover of a service adds below its resolved model.
pub fn hover_facts(state: &State, service: &str) -> Option<String> {
    let State::Status { component, rows } = state else { return None };
    let now = now();
    let Some(row) = row_of(component, rows, service) else {
        return Some("**Live** · not deployed in this environment".into());
    };
    let mut lines = vec![format!("**Live** · {}", describe(Some(row), now))];
    lines.push(format!("- container: `{}`", row.instance));
    if let Some(image) = &row.image {
        lines.push(format!("- image: `{image}`"));
    }
    if row.state == "running" {
        if let Some(started) = row.started_at {
            lines.push(format!("- (re)started {}", ago(started, now)));
        }
    }
    if let Some(n) = row.restarts.filter(|n| *n > 0) {
        lines.push(format!("- restarted {n} time{} by the engine", if n == 1 { "" } else { "s" }));
    }
    if !row.up_to_date {
        lines.push("- runs another configuration than this file's: `nkdev up` deploys it".into());
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str) -> StatusRow {
        StatusRow::new("api", "shop", state, "nk-shop-local-api", true)
    }

    #[test]
    fn a_lens_says_what_runs() {
        let now = 1_000_000;
        assert_eq!(describe(None, now), "○ not deployed");
        let mut r = row("running");
        r.url = Some("http://shop.localhost".into());
        assert_eq!(describe(Some(&r), now), "● running · http://shop.localhost");
        r.health = Some("starting".into());
        assert!(describe(Some(&r), now).starts_with("◐ starting"));
        let mut r = row("exited");
        r.exit_code = Some(137);
        r.finished_at = Some(now - 5);
        r.up_to_date = false;
        assert_eq!(describe(Some(&r), now), "✕ exited (137) 5s ago · ⚠ changed since deploy");
    }

    #[test]
    fn events_read_as_states() {
        let line = r#"{"event":"status","component":"shop","services":[{"service":"api","component":"shop","state":"running","instance":"x","up_to_date":true}]}"#;
        let Some(State::Status { component, rows }) = parse_event(line) else { panic!() };
        assert_eq!((component.as_str(), rows.len()), ("shop", 1));
        assert_eq!(parse_event(r#"{"event":"unavailable","message":"engine down"}"#), Some(State::Unavailable("engine down".into())));
        assert_eq!(parse_event("not json"), None);
    }

    #[test]
    fn options_are_off_by_default_and_read_from_the_init_options() {
        assert_eq!(Options::from_init(None), Options::default());
        assert!(!Options::default().enable);
        let o = Options::from_init(Some(&serde_json::json!({"liveStatus": {"enable": true, "command": "/x/nkdev"}})));
        assert!(o.enable && !o.aws && o.command == "/x/nkdev");
        assert!(Options::from_init(Some(&serde_json::json!({"liveStatus": true}))).enable);
    }
}
