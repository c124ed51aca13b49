//! What runs now, followed: `nkdev status --watch` (a status event on every change, which the
//! language server reads for its code lenses) and `nkdev restart`.

use super::deploy::{lock_or_end, print_status, progress, runtime, target, Target};
use crate::args::{DeployArgs, FileArgs, OutputFormat};
use anyhow::Result;
use futures_util::StreamExt;
use nanokit_core::plan::Desired;
use nanokit_deploy::interrupt::Signals;
use nanokit_deploy::provider::{Provider, StatusRow};
use nanokit_deploy::session;
use serde_json::json;
use std::time::{Duration, SystemTime};

/// After an event, further events this close are the same change (create, start, health…).
const SETTLE: Duration = Duration::from_millis(60);
/// When the state is read again after a change.
const RECHECK: Duration = Duration::from_millis(300);
/// How often the file is checked for a change (its config hashes decide "changed since deploy").
const FILE_CHECK: Duration = Duration::from_millis(500);
/// How long to wait before trying an unreachable platform again.
const RETRY: Duration = Duration::from_secs(3);

/// One `status` event: the cluster and a row per deployed service (the schema of a line of
/// `nkdev status --format jsonl`; docs/live-status.md).
pub fn status_event(desired: &Desired, provider: &dyn Provider, rows: &[StatusRow]) -> serde_json::Value {
    let c = &desired.cluster;
    json!({
        "event": "status",
        "project": c.project,
        "env": c.env,
        "component": c.component,
        "provider": provider.id(),
        "target": provider.target(),
        "services": rows,
    })
}

fn unavailable_event(message: &str) -> serde_json::Value {
    json!({"event": "unavailable", "message": message})
}

/// What one watch prints: an event a line (jsonl), or the table again with the time.
struct Printer {
    format: OutputFormat,
    last: Option<serde_json::Value>,
    /// Its reader went away (the editor closed): time to stop.
    gone: bool,
}

impl Printer {
    /// Print `event` unless it says what the last one said.
    fn print(&mut self, event: serde_json::Value) {
        if self.last.as_ref() == Some(&event) {
            return;
        }
        match self.format {
            OutputFormat::Text => {
                let time = humantime_now();
                match event["event"].as_str() {
                    Some("status") => {
                        let rows: Vec<StatusRow> = serde_json::from_value(event["services"].clone()).unwrap_or_default();
                        println!(
                            "-- {time} {}/{} on {}",
                            event["project"].as_str().unwrap_or(""),
                            event["env"].as_str().unwrap_or(""),
                            event["target"].as_str().unwrap_or("")
                        );
                        if rows.is_empty() {
                            println!("no services deployed");
                        }
                        print_status(&rows);
                    }
                    _ => println!("-- {time} {}", event["message"].as_str().unwrap_or("")),
                }
            }
            _ => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                self.gone |= writeln!(out, "{event}").and_then(|()| out.flush()).is_err();
            }
        }
        self.last = Some(event);
    }
}

fn humantime_now() -> String {
    let secs = nanokit_deploy::lock::now();
    format!("{:02}:{:02}:{:02} UTC", secs / 3600 % 24, secs / 60 % 60, secs % 60)
}

fn modified(common: &FileArgs) -> Option<SystemTime> {
    let path = crate::load::locate(common.file.as_deref()).ok()?;
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The file's environment as it is now, or why it cannot be read.
fn load(common: &FileArgs) -> Result<(Target, Desired), String> {
    let t = target(common).map_err(|e| format!("{e:#}"))?;
    let desired = t.desired(&[], false, false).map_err(|e| format!("{e:#}"))?;
    Ok((t, desired))
}

/// `nkdev status --watch`: an event now, then one each time what runs (or the file) changes.
/// It never gives up: an unreachable platform or a broken file is an `unavailable` event, and
/// it tries again. Ends on SIGINT/SIGTERM/SIGHUP, or when its reader goes away.
pub fn status_watch(format: OutputFormat, interval: u64, exit_on_eof: bool, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let format = if format == OutputFormat::Json { OutputFormat::Jsonl } else { format };
    let poll = Duration::from_secs(interval.max(1));
    runtime()?.block_on(async {
        let mut signals = Signals::install()?;
        let mut printer = Printer { format, last: None, gone: false };
        // Read on a thread of its own (detached: a blocked read never holds up the exit).
        let (closed, eof) = tokio::sync::oneshot::channel::<()>();
        if exit_on_eof {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                let _ = closed.send(());
            });
        } else {
            std::mem::forget(closed);
        }
        let mut eof = Box::pin(async move {
            let _ = eof.await;
        });
        loop {
            let watched = async {
                let stamp = modified(common);
                let (t, mut desired) = match load(common) {
                    Ok(loaded) => loaded,
                    Err(why) => return (why, stamp),
                };
                let provider = match t.connect(&mut desired, false, args).await {
                    Ok(p) => p,
                    Err(e) => return (format!("{e:#}"), stamp),
                };
                let why = follow(&*provider, &desired, poll, common, stamp, &mut printer).await;
                provider.shutdown().await;
                why
            };
            let (why, stamp) = tokio::select! {
                r = watched => r,
                signal = signals.recv() => anyhow::bail!("interrupted by {signal}; stopped watching"),
                () = &mut eof => return Ok(crate::exit::OK),
            };
            if !why.is_empty() {
                printer.print(unavailable_event(&why));
            }
            if printer.gone {
                return Ok(crate::exit::OK);
            }
            // Try again after a while, or as soon as the file changes.
            let retry = async {
                let deadline = tokio::time::Instant::now() + RETRY;
                while tokio::time::Instant::now() < deadline && modified(common) == stamp {
                    tokio::time::sleep(FILE_CHECK).await;
                }
            };
            tokio::select! {
                () = retry => {}
                signal = signals.recv() => anyhow::bail!("interrupted by {signal}; stopped watching"),
                () = &mut eof => return Ok(crate::exit::OK),
            }
        }
    })
}

/// Print the status on every change until the platform goes away (its error) or the file
/// changes (an empty reason: reload now).
async fn follow(
    provider: &dyn Provider,
    desired: &Desired,
    poll: Duration,
    common: &FileArgs,
    stamp: Option<SystemTime>,
    printer: &mut Printer,
) -> (String, Option<SystemTime>) {
    let mut changes = provider.changes(desired, poll);
    let mut file_check = tokio::time::interval(FILE_CHECK);
    // After a change, the state is read once more a little later: the engine reports some
    // facts (an exit code) only after the event that announced them.
    let mut recheck = false;
    loop {
        match provider.status(desired).await {
            Ok(mut rows) => {
                rows.sort_by(|a, b| (&a.component, &a.service).cmp(&(&b.component, &b.service)));
                printer.print(status_event(desired, provider, &rows));
                if printer.gone {
                    return (String::new(), stamp);
                }
            }
            Err(e) => return (e.to_string(), stamp),
        }
        loop {
            tokio::select! {
                () = tokio::time::sleep(RECHECK), if recheck => {
                    recheck = false;
                    break;
                }
                change = changes.next() => match change {
                    Some(Ok(())) => {
                        // Let the burst of one change arrive, then read the state once.
                        let _ = tokio::time::timeout(SETTLE, async { while let Some(Ok(())) = changes.next().await {} }).await;
                        recheck = true;
                        break;
                    }
                    Some(Err(e)) => return (e.to_string(), stamp),
                    None => return ("the platform's event stream ended".into(), stamp),
                },
                _ = file_check.tick() => {
                    if modified(common) != stamp {
                        return (String::new(), stamp);
                    }
                }
            }
        }
    }
}

/// `nkdev restart`: restart services in place, under the cluster lock.
pub fn restart(services: &[String], reinstall: bool, args: &DeployArgs, common: &FileArgs) -> Result<u8> {
    let t = target(common)?;
    t.require_services(services)?;
    let mut desired = t.desired(&[], false, false)?;
    let mut names: Vec<String> =
        if services.is_empty() { desired.services.iter().map(|s| s.name.clone()).collect() } else { services.to_vec() };
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let reporter = progress(args);
    runtime()?.block_on(async {
        let mut signals = Signals::install()?;
        let provider = session::interruptible(&mut signals, &t.book, "nkdev restart", t.connect(&mut desired, false, args)).await?;
        let provider = &*provider;
        if !provider.capabilities().restart {
            provider.shutdown().await;
            anyhow::bail!("provider `{}` cannot restart a service in place; `nkdev up` recreates it. Nothing was changed", provider.id());
        }
        let lock = lock_or_end(provider, &desired, "nkdev restart").await?;
        let session = session::Session { provider, book: &t.book, reporter: &reporter };
        // Interrupted, the services are recorded unready: `nkdev up` recreates them.
        let result = session::interruptible(&mut signals, &t.book, "nkdev up", session.restart(&desired, &names, reinstall)).await;
        let result = session::explain(provider, result);
        session::finish(provider, Some(lock)).await;
        result.map(|()| crate::exit::OK)
    })
}
