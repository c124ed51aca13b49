//! Times each analysis phase on the benchmark's generated file (median of 30 runs):
//! `cargo run --release -p nanokit-core --example phases [N]`.
use nanokit_core::document::Document;

#[path = "../benches/support/mod.rs"]
mod support;
use std::time::{Duration, Instant};
use support::generated;

fn median<T>(mut f: impl FnMut() -> T) -> Duration {
    let mut samples: Vec<Duration> = (0..30)
        .map(|_| {
            let t = Instant::now();
            let out = f();
            let elapsed = t.elapsed();
            drop(out);
            elapsed
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let text = generated(n);
    let doc = Document::parse(text.clone());
    let (_, project) = nanokit_core::schema::validate(&doc);
    let (env, _) = nanokit_core::resolve::resolve_environment(&project, &doc, "local", None);
    let graph = nanokit_core::graph::Graph::build(&env);
    let phases: Vec<(&str, Duration)> = vec![
        ("yaml", median(|| nanokit_core::yaml::parse(&text))),
        ("document (yaml + json view)", median(|| Document::parse(text.clone()))),
        ("schema + model", median(|| nanokit_core::schema::validate(&doc))),
        ("project rules", median(|| nanokit_core::check::project_rules(&project, &doc, Default::default()))),
        ("resolve", median(|| nanokit_core::resolve::resolve_environment(&project, &doc, "local", None))),
        ("graph", median(|| nanokit_core::graph::Graph::build(&env))),
        (
            "graph + environment rules",
            median(|| (nanokit_core::graph::check(&env, &graph, &doc), nanokit_core::check::environment_rules(&env, &doc, &[]))),
        ),
        ("symbols", median(|| nanokit_core::symbols::occurrences(&doc))),
        ("analyze (all of the above but symbols)", median(|| nanokit_core::analyze(text.as_str(), &Default::default()))),
        (
            "drop of an analysis",
            median(|| drop(nanokit_core::analyze(text.as_str(), &Default::default())))
                - median(|| nanokit_core::analyze(text.as_str(), &Default::default())),
        ),
    ];
    for (name, d) in phases {
        println!("{name:40} {:>8.3} ms", d.as_secs_f64() * 1000.0);
    }
}
