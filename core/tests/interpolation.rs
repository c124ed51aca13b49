//! `${VAR}` end to end through the analysis: values, types, provenance, .env precedence, and
//! secrets that never carry a value.

use nanokit_core::variables::Variables;
use nanokit_core::{analyze, AnalyzeOptions, Code};

const FILE: &str = r#"name: shop
version: "1"
services:
  api:
    image: shop/api:${TAG:-latest}
    expose: ${PORT}
    host: "${SUB}.shop.localhost"
    command: exec api --port $PORT --price $$5
    env:
      FROM_SHELL: ${SHELL_ONLY}
      FROM_FILE: ${SHARED}
      QUOTED_NUMBER: "${PORT}"
      ZIP: ${ZIP}
    secrets:
      DB_PASSWORD: env:DB_PASSWORD
environments:
  local: {}
  prod:
    infra:
      provider: docker
"#;

fn analysis(env: Option<&str>) -> (tempfile::TempDir, nanokit_core::Analysis) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "PORT=3000\nSHARED=from-dotenv\nSUB=api\n# comment\nSHELL_ONLY=loses\nZIP=007\n").unwrap();
    std::fs::write(dir.path().join(".env.prod"), "SHARED=from-prod\n").unwrap();
    let vars = Variables::load_with(Some(dir.path()), env, [("SHELL_ONLY".to_string(), "wins".to_string())]);
    let options = AnalyzeOptions { env: env.map(str::to_string), variables: Some(vars), ..AnalyzeOptions::default() };
    let a = analyze(FILE, &options);
    (dir, a)
}

#[test]
fn values_types_and_provenance() {
    let (_dir, a) = analysis(None);
    assert!(!a.has_errors(), "{:#?}", a.diagnostics);
    let api = &a.environment("local").unwrap().resolved.services["api"];
    assert_eq!(api.image.as_ref().unwrap().value, "shop/api:latest");
    assert_eq!(api.expose.as_ref().unwrap().value, 3000, "an unquoted `${{PORT}}` is a number, as in Compose");
    assert_eq!(api.host.as_ref().unwrap().value, "api.shop.localhost");
    assert_eq!(api.start.as_ref().unwrap().value, "exec api --port $PORT --price $5", "bare $PORT is the container's");
    assert_eq!(api.env["FROM_SHELL"].value, "wins", "the process environment wins over .env");
    assert_eq!(api.env["FROM_FILE"].value, "from-dotenv", ".env.prod is read only for --env prod");
    assert_eq!(api.env["QUOTED_NUMBER"].value, "3000");
    assert_eq!(api.env["ZIP"].value, "007", "an env value stays text");
    let p = api.env["FROM_FILE"].pointer.clone().unwrap();
    assert_eq!(a.document.interpolated[&p].describe(), "from $SHARED (.env line 2)");
    let p = api.env["FROM_SHELL"].pointer.clone().unwrap();
    assert_eq!(a.document.interpolated[&p].describe(), "from $SHELL_ONLY (the environment)");
    // The model holds where the secret is read, never a value.
    assert_eq!(api.secrets["DB_PASSWORD"].value.redacted(), "•••• (env:DB_PASSWORD)");
}

#[test]
fn the_environments_own_file_wins_over_dotenv() {
    let (_dir, a) = analysis(Some("prod"));
    let api = &a.environment("prod").unwrap().resolved.services["api"];
    assert_eq!(api.env["FROM_FILE"].value, "from-prod");
    let p = api.env["FROM_FILE"].pointer.clone().unwrap();
    assert_eq!(a.document.interpolated[&p].describe(), "from $SHARED (.env.prod line 1)");
}

#[test]
fn a_missing_secret_is_not_a_validate_problem() {
    // Pre-commit: nothing is set, and the file is still valid.
    let a = analyze(
        FILE.replace("${PORT}", "3000").replace("${SUB}", "${SUB:-api}"),
        &AnalyzeOptions { variables: Some(Variables::from_pairs::<&str, &str>([])), ..Default::default() },
    );
    assert!(!a.has_errors(), "{:#?}", a.diagnostics);
    assert!(a.diagnostics.iter().all(|d| d.code == Code::UnsetVariable), "{:#?}", a.diagnostics);
}

#[test]
fn a_broken_dotenv_is_reported_and_nothing_of_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "PORT=3000\nBROKEN='no end\n").unwrap();
    let vars = Variables::load_with(Some(dir.path()), None, []);
    let a = analyze(FILE, &AnalyzeOptions { variables: Some(vars), ..Default::default() });
    let d = a.diagnostics.iter().find(|d| d.code == Code::InvalidDotenv).expect("NK066");
    assert!(d.message.contains(".env"), "{}", d.message);
    assert!(a.diagnostics.iter().any(|d| d.code == Code::UnsetVariable && d.message.contains("`PORT`")));
}

#[test]
fn the_plain_secret_fix_moves_the_value_out_of_the_file() {
    let text = "name: shop\nservices:\n  api:\n    image: redis:7\n    env:\n      NODE_ENV: production\n      DB_PASSWORD: hunter2\n";
    let a = analyze(text, &AnalyzeOptions { variables: Some(Variables::default()), ..Default::default() });
    let d = a.diagnostics.iter().find(|d| d.code == Code::PlainSecret).expect("NK070");
    let fixed = apply(text, &d.fixes[0].edits);
    assert_eq!(
        fixed,
        "name: shop\nservices:\n  api:\n    image: redis:7\n    secrets:\n      DB_PASSWORD: env:DB_PASSWORD\n    env:\n      NODE_ENV: production\n"
    );
    let again = analyze(fixed, &AnalyzeOptions { variables: Some(Variables::default()), ..Default::default() });
    assert!(again.diagnostics.is_empty(), "{:#?}", again.diagnostics);

    // The only entry: the whole `env:` goes; an existing `secrets:` gains a line.
    let text = "name: shop\nservices:\n  api:\n    image: redis:7\n    secrets:\n      A: env:A\n    env:\n      API_TOKEN: abc\n";
    let a = analyze(text, &AnalyzeOptions { variables: Some(Variables::default()), ..Default::default() });
    let d = a.diagnostics.iter().find(|d| d.code == Code::PlainSecret).expect("NK070");
    assert_eq!(
        apply(text, &d.fixes[0].edits),
        "name: shop\nservices:\n  api:\n    image: redis:7\n    secrets:\n      API_TOKEN: env:API_TOKEN\n      A: env:A\n"
    );
}

#[test]
fn a_secret_read_into_plain_env_is_flagged_and_moved() {
    let text = "name: shop\nservices:\n  api:\n    image: redis:7\n    env:\n      DATABASE_PASSWORD: ${DB_PASSWORD}\n      MODE: prod\n      API_KEY: ${K}\n";
    let vars = Variables::from_pairs([("DB_PASSWORD", "hunter2")]);
    let a = analyze(text, &AnalyzeOptions { variables: Some(vars), ..Default::default() });
    let d = a.diagnostics.iter().find(|d| d.code == Code::PlainSecret).expect("NK070");
    assert!(d.message.contains("reads a variable named like a secret"), "{}", d.message);
    assert_eq!(
        apply(text, &d.fixes[0].edits),
        "name: shop\nservices:\n  api:\n    image: redis:7\n    secrets:\n      DATABASE_PASSWORD: env:DB_PASSWORD\n    env:\n      MODE: prod\n      API_KEY: ${K}\n"
    );
    // A secret-named key reading a variable of any name.
    let d = a.diagnostics.iter().filter(|d| d.code == Code::PlainSecret).nth(1).expect("NK070 for API_KEY");
    assert!(d.message.contains("`API_KEY`"), "{}", d.message);
    assert!(apply(text, &d.fixes[0].edits).contains("      API_KEY: env:K\n"));
}

fn apply(text: &str, edits: &[nanokit_core::diagnostic::Edit]) -> String {
    let mut edits = edits.to_vec();
    edits.sort_by_key(|e| std::cmp::Reverse(e.span.start));
    let mut out = text.to_string();
    for e in edits {
        out.replace_range(e.span.start..e.span.end, &e.new_text);
    }
    out
}

#[test]
fn no_fix_writes_an_interpolated_value_over_its_variable() {
    let text = "name: demo\nservices:\n  api:\n    image: x\n    expose: 80\n    healthcheck:\n      path: ${HC_PATH}\n";
    let variables = Variables::from_pairs([("HC_PATH", "healthz")]);
    let a = analyze(text, &AnalyzeOptions { variables: Some(variables), ..AnalyzeOptions::default() });
    let d = a.diagnostics.iter().find(|d| d.code == Code::InvalidHealthcheck).expect("the interpolated path is checked");
    assert!(d.fixes.is_empty(), "a fix would replace ${{HC_PATH}} with its value: {:?}", d.fixes);
    // Written as text, the same problem keeps its fix.
    let plain = analyze(text.replace("${HC_PATH}", "healthz"), &AnalyzeOptions::default());
    assert!(plain.diagnostics.iter().any(|d| d.code == Code::InvalidHealthcheck && !d.fixes.is_empty()));
}
