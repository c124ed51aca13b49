//! LSP latency on a 1,000-service file, through the real server over stdio:
//! keystroke (didChange) → publishDiagnostics, and completion, p50/p99, plus peak RSS.
//! `cargo build --release -p nanokit-lsp && cargo run --release -p nanokit-lsp --example latency`

#[path = "../tests/client.rs"]
mod client;

use client::Client;
use serde_json::json;
use std::time::{Duration, Instant};

fn generated(n: usize) -> String {
    let mut text = String::from("name: big\nversion: \"1\"\nruntimes:\n  node:\n    image: node:22-slim\nservices:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  svc-{i}:\n    runtime: node\n    expose: {}\n    host: svc-{i}.big.localhost\n    env:\n      INDEX: \"{i}\"\n",
            3000 + i % 1000
        ));
        if i > 0 {
            text.push_str(&format!("    depends_on: [svc-{}]\n", (i * 7) % i));
        }
    }
    text.push_str("environments:\n  local:\n    infra:\n      provider: docker\n");
    text
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let uri = "file:///tmp/nanokit-bench/nanokit.yml";
    let text = generated(1000);
    let mut c = Client::start();
    c.open(uri, &text);
    c.diagnostics(uri, 1);
    // Type into the last service's INDEX value, one character per change.
    let line = text.lines().count() - 6;
    let mut diag = Vec::with_capacity(rounds);
    let mut completion = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let version = i as i64 + 2;
        let started = Instant::now();
        c.change(
            uri,
            version,
            json!([{"range": {"start": {"line": line, "character": 16}, "end": {"line": line, "character": 16}}, "text": "1"}]),
        );
        c.diagnostics(uri, version);
        diag.push(started.elapsed());
        let started = Instant::now();
        c.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": {"line": line - 4, "character": 4}}));
        completion.push(started.elapsed());
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.child.id())).unwrap_or_default();
    let rss =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: ? kB").split_whitespace().nth(1).unwrap_or("?").to_string();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("| 1,000 services, {rounds} keystrokes | p50 | p99 |");
    println!("|---|---|---|");
    println!("| didChange → publishDiagnostics | {} | {} |", ms(percentile(&mut diag, 0.5)), ms(percentile(&mut diag, 0.99)));
    println!("| completion | {} | {} |", ms(percentile(&mut completion, 0.5)), ms(percentile(&mut completion, 0.99)));
    println!("| peak RSS of nanokit-lsp | {} MB | |", rss.parse::<f64>().map(|k| format!("{:.0}", k / 1024.0)).unwrap_or(rss));
    c.shutdown();
}
