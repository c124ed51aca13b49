//! Language-server latency through a real server over stdio, for nanokit-lsp and for a peer
//! (yaml-language-server with the generated schema), on the same generated document:
//!
//! - `latency keystrokes SERVICES ROUNDS LABEL -- CMD…`: one markdown row: didChange →
//!   publishDiagnostics and completion, p50/p99, and the server's peak RSS.
//! - `latency open FILE RUNS -- CMD…`: the median time from starting the server to the first
//!   diagnostics of FILE (what an editor waits for when it opens the file), and their count.
//! - `latency document SERVICES SCHEMA`: prints the generated document, with a
//!   `yaml-language-server: $schema=` modeline so the peer validates it against SCHEMA.
//!
//! scripts/bench runs all three and writes docs/benchmarks.md.

#[path = "../tests/client.rs"]
mod client;

use client::Client;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn document(n: usize, schema: &str) -> String {
    let mut text = format!(
        "# yaml-language-server: $schema={schema}\nname: big\nversion: \"1\"\nruntimes:\n  node:\n    image: node:22-slim\nservices:\n"
    );
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

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The command after `--`.
fn server_command(args: &[String]) -> Command {
    let at = args.iter().position(|a| a == "--").expect("usage: … -- SERVER-COMMAND [ARGS…]");
    let mut cmd = Command::new(&args[at + 1]);
    cmd.args(&args[at + 2..]).stderr(Stdio::null());
    cmd
}

fn start(args: &[String]) -> Client {
    let mut c = Client::spawn(server_command(args));
    c.initialize(json!({"textDocument": {"publishDiagnostics": {"versionSupport": true}}}), json!(null), None);
    c
}

fn peak_rss_mb(c: &Client) -> String {
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.child.id())).unwrap_or_default();
    let kb = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok());
    kb.map_or_else(|| "?".into(), |k| format!("{:.0} MB", k / 1024.0))
}

fn keystrokes(n: usize, rounds: usize, label: &str, args: &[String]) {
    let dir = std::env::temp_dir().join("nanokit-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let schema = format!("file://{}", std::fs::canonicalize("schema/nanokit.schema.json").expect("run from the repository root").display());
    let uri = format!("file://{}/nanokit.yml", dir.display());
    let text = document(n, &schema);
    let mut c = start(args);
    c.open(&uri, &text);
    c.next_diagnostics(&uri, 1);
    // Type into the last service's INDEX value, one character per change.
    let line = text.lines().count() - 6;
    let mut diag = Vec::with_capacity(rounds);
    let mut completion = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let version = i as i64 + 2;
        let started = Instant::now();
        c.change(
            &uri,
            version,
            json!([{"range": {"start": {"line": line, "character": 16}, "end": {"line": line, "character": 16}}, "text": "1"}]),
        );
        c.next_diagnostics(&uri, version);
        diag.push(started.elapsed());
        let started = Instant::now();
        c.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": {"line": line - 4, "character": 4}}));
        completion.push(started.elapsed());
    }
    println!(
        "| {label} | {n} | {} | {} | {} | {} | {} |",
        ms(percentile(&mut diag, 0.5)),
        ms(percentile(&mut diag, 0.99)),
        ms(percentile(&mut completion, 0.5)),
        ms(percentile(&mut completion, 0.99)),
        peak_rss_mb(&c)
    );
    c.shutdown();
}

fn open(file: &str, runs: usize, args: &[String]) {
    let path = std::fs::canonicalize(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let uri = format!("file://{}", path.display());
    let text = std::fs::read_to_string(&path).unwrap();
    let mut found = 0;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let mut c = start(args);
            c.open(&uri, &text);
            found = c.next_diagnostics(&uri, 1).len();
            let took = started.elapsed();
            c.shutdown();
            took
        })
        .collect();
    // The count shows both servers judged the file alike (0 on a valid file).
    println!("{:.1} {found}", percentile(&mut times, 0.5).as_secs_f64() * 1000.0);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "keystrokes" => keystrokes(arg(2).parse().unwrap(), arg(3).parse().unwrap(), &arg(4), &args),
        "open" => open(&arg(2), arg(3).parse().unwrap(), &args),
        "document" => print!("{}", document(arg(2).parse().unwrap(), &arg(3))),
        _ => {
            eprintln!("usage: latency keystrokes SERVICES ROUNDS LABEL -- CMD… | open FILE RUNS -- CMD… | document SERVICES SCHEMA-URI");
            std::process::exit(2);
        }
    }
}
