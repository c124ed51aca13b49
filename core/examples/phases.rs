//! Times each analysis phase on a generated file: `cargo run --release -p nanokit-core --example phases [N]`.
use nanokit_core::document::Document;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut text = String::from("name: big\nruntimes:\n  node:\n    image: node:22-slim\nservices:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  svc-{i}:\n    runtime: node\n    expose: 3000\n    host: svc-{i}.big.localhost\n    env:\n      INDEX: {i}\n"
        ));
    }
    let t = Instant::now();
    let parsed = nanokit_core::yaml::parse(&text);
    println!("yaml        {:?}", t.elapsed());
    drop(parsed);
    let t = Instant::now();
    let doc = Document::parse(text.clone());
    println!("document    {:?}", t.elapsed());
    let t = Instant::now();
    let (_, project) = nanokit_core::schema::validate(&doc);
    println!("schema      {:?}", t.elapsed());
    let t = Instant::now();
    let _ = nanokit_core::check::project_rules(&project, &doc, None);
    println!("rules       {:?}", t.elapsed());
    let t = Instant::now();
    let (env, _) = nanokit_core::resolve::resolve_environment(&project, &doc, "local", None);
    println!("resolve     {:?}", t.elapsed());
    let t = Instant::now();
    let g = nanokit_core::graph::Graph::build(&env);
    let _ = nanokit_core::graph::check(&env, &g, &doc);
    let _ = nanokit_core::check::environment_rules(&env, &doc, &[]);
    println!("graph+env   {:?}", t.elapsed());
    let t = Instant::now();
    for _ in 0..20 {
        let _ = nanokit_core::analyze(text.as_str(), &Default::default());
    }
    println!("total       {:?}", t.elapsed() / 20);
}
