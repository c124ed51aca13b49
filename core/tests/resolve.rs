//! Resolution per SPEC §5: layer order, provenance, env merge, depends_on union,
//! injected variables, start levels.

use nanokit_core::resolve::Origin;
use nanokit_core::{analyze, AnalyzeOptions, Code};

fn analyze_env(text: &str, env: &str) -> nanokit_core::Analysis {
    analyze(text, &AnalyzeOptions { env: Some(env.into()), ..AnalyzeOptions::default() })
}

const LAYERS: &str = r#"
name: demo
runtimes:
  node:
    image: custom-node:1
    provisioning:
      install: npm ci
    env:
      FROM_RUNTIME: r
      SHARED: runtime
    depends_on: [hub, web]
services:
  hub:
    image: hub:1
  web:
    runtime: node
    env:
      SHARED: service
  api:
    runtime: node
    command: node api.js
    depends_on: [db]
  db:
    image: postgres:16
    expose: 5432
environments:
  prod:
    infra:
      provider: docker
    services:
      api:
        image: ignored:1
        expose: 9000
        host: api.example.com
        env:
          FROM_OVERRIDE: o
          SHARED: override
"#;

#[test]
fn layers_apply_in_the_seed_order_with_provenance() {
    let analysis = analyze_env(LAYERS, "prod");
    let env = &analysis.environment("prod").unwrap().resolved;
    let api = &env.services["api"];
    // runtime beats environment override
    assert_eq!(api.image.as_ref().unwrap().value, "custom-node:1");
    assert_eq!(api.image.as_ref().unwrap().origin, Origin::Runtime { id: "node".into() });
    // the override applies where service and runtime are silent
    assert_eq!(api.expose.as_ref().unwrap().value, 9000);
    assert_eq!(api.expose.as_ref().unwrap().origin, Origin::EnvOverride { env: "prod".into() });
    assert_eq!(api.host.as_ref().unwrap().value, "api.example.com");
    // command beats the runtime's start; install comes from the runtime
    assert_eq!(api.start.as_ref().unwrap().value, "node api.js");
    assert_eq!(api.install.as_ref().unwrap().value, "npm ci");
    // env merged key by key: runtime beats override for SHARED
    assert_eq!(api.env["SHARED"].value, "runtime");
    assert_eq!(api.env["FROM_RUNTIME"].value, "r");
    assert_eq!(api.env["FROM_OVERRIDE"].value, "o");
    assert_eq!(env.services["web"].env["SHARED"].value, "service");
    // the built-in default fills what nobody sets
    let web = &env.services["web"];
    assert_eq!(web.expose.as_ref().unwrap().value, 3000);
    assert_eq!(web.expose.as_ref().unwrap().origin, Origin::Default { runtime: "node".into() });
    // the override of image, and of SHARED, can never win: warnings
    let ineffective: Vec<_> =
        analysis.diagnostics.iter().filter(|d| d.code == Code::IneffectiveOverride).map(|d| d.message.clone()).collect();
    assert_eq!(ineffective.len(), 2, "{ineffective:?}");
    assert!(ineffective.iter().any(|m| m.contains("`image`")));
    assert!(ineffective.iter().any(|m| m.contains("`env.SHARED`")));
}

#[test]
fn depends_on_is_the_union_and_inherited_self_is_dropped() {
    let analysis = analyze_env(LAYERS, "prod");
    let env = &analysis.environment("prod").unwrap();
    let deps = |s: &str| env.resolved.services[s].depends_on.iter().map(|d| d.value.clone()).collect::<Vec<_>>();
    assert_eq!(deps("api"), vec!["db", "hub", "web"]);
    // web inherits [hub, web] from its runtime; the inherited self-edge is dropped silently
    assert_eq!(deps("web"), vec!["hub"]);
    assert!(!analysis.diagnostics.iter().any(|d| d.code == Code::SelfDependency));
    assert_eq!(env.graph.levels, vec![vec!["hub".to_string(), "db".into()], vec!["web".into()], vec!["api".into()]]);
    assert_eq!(env.graph.closure(&["web".into()]), vec!["hub".to_string(), "web".into()]);
}

#[test]
fn injected_variables_and_urls() {
    let text = "name: shop\ncomponent: front\nservices:\n  web:\n    image: w\n    expose: 8080\n    host: shop.localhost\n  api-v2:\n    image: a\n    env:\n      NANOKIT_SERVICE: custom\n";
    let analysis = analyze_env(text, "local");
    let env = &analysis.environment("local").unwrap().resolved;
    let web = env.full_env(&env.services["web"]);
    assert_eq!(web["NANOKIT_PROJECT"], "shop");
    assert_eq!(web["NANOKIT_SERVICE"], "web");
    assert_eq!(web["NANOKIT_ENV"], "local");
    assert_eq!(web["NANOKIT_COMPONENT"], "front");
    assert_eq!(web["PORT"], "8080");
    assert_eq!(web["NANOKIT_URL_WEB"], "shop.localhost");
    assert_eq!(web["NANOKIT_URL_API_V2"], "nk-shop-local-api-v2");
    let api = env.full_env(&env.services["api-v2"]);
    assert_eq!(api["NANOKIT_SERVICE"], "custom", "a user value wins over an injected one");
    assert!(!api.contains_key("PORT"), "no port, no PORT");
    assert!(analysis.diagnostics.iter().any(|d| d.code == Code::InjectedVariableOverridden));
}

#[test]
fn config_hash_changes_only_with_the_service() {
    let a = analyze_env("name: x\nservices:\n  a: {image: i, expose: 80}\n  b: {image: j}\n", "local");
    let b = analyze_env("name: x\nservices:\n  a: {image: i, expose: 81}\n  b: {image: j}\n", "local");
    let (ea, eb) = (&a.environment("local").unwrap().resolved, &b.environment("local").unwrap().resolved);
    assert_ne!(ea.config_hash(&ea.services["a"]), eb.config_hash(&eb.services["a"]));
    assert_eq!(ea.config_hash(&ea.services["b"]), eb.config_hash(&eb.services["b"]));
}

#[test]
fn unknown_environment_is_an_error_with_suggestion() {
    let analysis = analyze_env("name: x\nenvironments:\n  prod: {}\n", "prd");
    let d = analysis.diagnostics.iter().find(|d| d.code == Code::UnknownEnvironment).unwrap();
    assert_eq!(d.help.as_deref(), Some("did you mean `prod`?"));
}

#[test]
fn ineffective_override_offers_a_fix_that_removes_the_line() {
    let text = "name: x\nservices:\n  a:\n    image: i\n    expose: 80\nenvironments:\n  local:\n    services:\n      a:\n        expose: 81\n        host: a.localhost\n";
    let analysis = analyze_env(text, "local");
    let d = analysis.diagnostics.iter().find(|d| d.code == Code::IneffectiveOverride).unwrap();
    let edit = &d.fixes[0].edits[0];
    let mut fixed = text.to_string();
    fixed.replace_range(edit.span.start..edit.span.end, &edit.new_text);
    assert!(fixed.ends_with("      a:\n        host: a.localhost\n"), "{fixed}");
}

#[test]
fn infra_host_is_the_environments_own() {
    let text = "name: demo\nservices:\n  web:\n    image: nginx:alpine\nenvironments:\n  local:\n    infra:\n      provider: docker\n  prod:\n    infra:\n      provider: docker\n      host: ssh://deploy@vps.example.com\n";
    let analysis = analyze(text, &AnalyzeOptions::default());
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let host = |env: &str| analysis.environment(env).unwrap().resolved.infra.host.clone();
    assert_eq!(host("prod").as_deref(), Some("ssh://deploy@vps.example.com"));
    // none in the file: the front end falls back to DOCKER_HOST and the Docker context
    assert_eq!(host("local"), None);
}
