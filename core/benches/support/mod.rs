//! The generated file the criterion bench and the `phases` example both measure.

/// A realistic large file: runtimes, hosts, env, dependencies and overrides.
pub fn generated(services: usize) -> String {
    let mut text = String::from(
        "name: big\nversion: \"1\"\nruntimes:\n  node:\n    image: node:22-slim\n    env:\n      NODE_ENV: production\nservices:\n",
    );
    for i in 0..services {
        text.push_str(&format!("  svc-{i}:\n    runtime: node\n    expose: {}\n    host: svc-{i}.big.localhost\n    env:\n      INDEX: {i}\n      NAME: service {i}\n", 3000 + (i % 1000)));
        if i > 0 {
            text.push_str(&format!("    depends_on: [svc-{}]\n", (i * 7) % i));
        }
    }
    text.push_str("environments:\n  local:\n    infra:\n      provider: docker\n  prod:\n    infra:\n      provider: aws\n      region: us-east-1\n    services:\n");
    for i in (0..services).step_by(10) {
        text.push_str(&format!("      svc-{i}:\n        env:\n          EXTRA: yes\n"));
    }
    text
}
