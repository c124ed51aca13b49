//! Progress of a deploy: spinners on a terminal (indicatif), plain lines otherwise, or JSON
//! lines for machines. One `Reporter` interface, as the providers see it.

use nanokit_core::plan::Step;
use nanokit_deploy::provider::{ProviderError, Reporter};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub enum Mode {
    Tty,
    Plain,
    Json,
}

pub struct Progress {
    mode: Mode,
    bars: indicatif::MultiProgress,
    active: Mutex<HashMap<String, (indicatif::ProgressBar, Instant)>>,
}

impl Progress {
    pub fn new(mode: Mode) -> Self {
        Progress { mode, bars: indicatif::MultiProgress::new(), active: Mutex::new(HashMap::new()) }
    }

    fn key(step: &Step) -> String {
        step.describe()
    }

    pub fn event(&self, value: serde_json::Value) {
        if let Mode::Json = self.mode {
            say!("{value}");
        }
    }
}

impl Reporter for Progress {
    fn step_started(&self, step: &Step) {
        let started = Instant::now();
        match self.mode {
            Mode::Tty => {
                let bar = self.bars.add(indicatif::ProgressBar::new_spinner());
                bar.set_style(
                    indicatif::ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                bar.set_message(step.describe());
                bar.enable_steady_tick(Duration::from_millis(100));
                self.active.lock().unwrap_or_else(|p| p.into_inner()).insert(Self::key(step), (bar, started));
            }
            Mode::Plain => {
                say!("  … {}", step.describe());
                self.active.lock().unwrap_or_else(|p| p.into_inner()).insert(Self::key(step), (indicatif::ProgressBar::hidden(), started));
            }
            Mode::Json => {
                self.event(serde_json::json!({"event": "step-started", "step": step}));
                self.active.lock().unwrap_or_else(|p| p.into_inner()).insert(Self::key(step), (indicatif::ProgressBar::hidden(), started));
            }
        }
    }

    fn step_finished(&self, step: &Step, result: &Result<(), ProviderError>) {
        let entry = self.active.lock().unwrap_or_else(|p| p.into_inner()).remove(&Self::key(step));
        let elapsed = entry.as_ref().map(|(_, t)| t.elapsed()).unwrap_or_default();
        let status = if result.is_ok() { "done" } else { "failed" };
        match self.mode {
            Mode::Tty => {
                if let Some((bar, _)) = entry {
                    let mark = if result.is_ok() { "✓" } else { "✗" };
                    bar.finish_with_message(format!("{mark} {} ({:.1}s)", step.describe(), elapsed.as_secs_f64()));
                }
            }
            Mode::Plain => say!("  {} {} ({:.1}s)", if result.is_ok() { "✓" } else { "✗" }, step.describe(), elapsed.as_secs_f64()),
            Mode::Json => {
                self.event(serde_json::json!({"event": "step-finished", "step": step, "status": status, "seconds": elapsed.as_secs_f64()}))
            }
        }
        let _ = std::io::stdout().flush();
    }

    fn note(&self, message: &str) {
        match self.mode {
            Mode::Json => self.event(serde_json::json!({"event": "note", "message": message})),
            Mode::Tty => {
                let _ = self.bars.println(format!("  {message}"));
            }
            Mode::Plain => say!("  {message}"),
        }
    }
}
