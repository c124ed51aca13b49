//! The `nkdev` binary as users and pre-commit hooks call it.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn nkdev() -> Command {
    let mut cmd = Command::cargo_bin("nkdev").unwrap();
    cmd.env("NO_COLOR", "1").env_remove("NANOKIT_ENV");
    cmd
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_accepts_every_example() {
    for example in ["monorepo", "multi-repo/auth", "multi-repo/billing", "runtimes"] {
        nkdev().args(["validate", "-f"]).arg(root().join("examples").join(example).join("nanokit.yml")).assert().success();
    }
}

#[test]
fn validate_renders_rustc_style_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "nanokit.yml", b"name: demo\nservices:\n  api:\n    image: x\n    expse: 3000\n");
    let out = nkdev().current_dir(dir.path()).arg("validate").assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    insta::assert_snapshot!(text.replace(&file.display().to_string(), "nanokit.yml"), @r"
    error[NK002]: unknown key `expse` in `services.api`
     --> nanokit.yml:5:5
      |
    5 |     expse: 3000
      |     ^^^^^ not a nanokit.yml key here
      |
      = help: did you mean `expose`?
    ");
}

#[test]
fn validate_checks_several_files_for_pre_commit() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.yml", b"name: good\nservices:\n  a:\n    image: x\n");
    let bad = write(dir.path(), "bad.yml", b"name: Bad\n");
    nkdev()
        .args(["validate", "--format", "short"])
        .arg(&good)
        .arg(&bad)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("bad.yml:1:7: error[NK007]"));
    nkdev().arg("validate").arg(&good).assert().success().stderr(predicate::str::contains("ok"));
}

#[test]
fn validate_json_has_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "nanokit.yml", b"name: demo\nversion: 1\n");
    let out = nkdev().args(["validate", "--format", "json"]).arg(&file).assert().success().get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json[0]["code"], "NK009");
    assert_eq!(json[0]["severity"], "warning");
    assert_eq!(json[0]["start"]["line"], 2);
    assert_eq!(json[0]["start"]["column"], 10);
}

#[test]
fn deny_warnings_fails_on_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "nanokit.yml", b"name: demo\nversion: 1\n");
    nkdev().args(["validate", "--deny-warnings"]).arg(&file).assert().code(1);
}

#[test]
fn missing_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    nkdev().current_dir(dir.path()).arg("validate").assert().code(2).stderr(predicate::str::contains("no nanokit.yml or nanokit.yaml"));
    nkdev()
        .args(["validate", "nope.yml"])
        .current_dir(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope.yml: no such file"));
    nkdev().arg("frobnicate").assert().code(2);
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "nanokit.yml", b"name: demo\nservices:\n  a\xff: {}\n");
    nkdev().arg("validate").arg(&file).assert().code(1).stderr(predicate::str::contains("nanokit.yml:3:4: file is not valid UTF-8"));
}

#[test]
fn nanokit_yaml_is_found_too() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "nanokit.yaml", b"name: demo\n");
    nkdev().current_dir(dir.path()).arg("validate").assert().success();
}

#[test]
fn config_prints_the_resolved_model() {
    let out = nkdev()
        .args(["config", "--format", "json", "-f"])
        .arg(root().join("examples/monorepo/nanokit.yml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let auth = &json["services"]["auth"];
    assert_eq!(auth["container"], "nk-my-platform-local-auth");
    assert_eq!(auth["image"], "node:22-slim");
    assert_eq!(auth["expose"], 3001);
    assert_eq!(auth["environment"]["NANOKIT_URL_BILLING"], "billing.my-platform.localhost");
    assert_eq!(auth["environment"]["PORT"], "3001");
}

#[test]
fn config_explain_names_origins() {
    let out = nkdev()
        .args(["config", "--explain", "--service", "web", "--env", "stage", "-f"])
        .arg(root().join("examples/runtimes/nanokit.yml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("runtime: node  # auto-discovered from package.json"), "{text}");
    assert!(text.contains("expose: 8080  # environment `stage` override"), "{text}");
    assert!(text.contains("image: node:22-slim  # runtime `node`"), "{text}");
}

#[test]
fn config_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "nanokit.yml", b"name: demo\nservices:\n  a:\n    runtime: nope\n");
    nkdev().arg("config").arg("-f").arg(&file).assert().code(1).stderr(predicate::str::contains("unknown runtime `nope`"));
}

#[test]
fn graph_prints_levels_and_dot() {
    let f = root().join("examples/runtimes/nanokit.yml");
    nkdev().arg("graph").arg("-f").arg(&f).assert().success().stdout(predicate::str::contains("level 0: hub, docs\nlevel 1: api, web"));
    nkdev().args(["graph", "--format", "dot", "-f"]).arg(&f).assert().success().stdout(predicate::str::contains("\"api\" -> \"hub\";"));
}

#[test]
fn checked_in_schema_matches_the_model() {
    let out = nkdev().arg("schema").assert().success().get_output().stdout.clone();
    let checked_in = std::fs::read_to_string(root().join("schema/nanokit.schema.json")).unwrap();
    assert!(
        String::from_utf8(out).unwrap() == checked_in,
        "schema/nanokit.schema.json is out of date: run `cargo run -p nanokit-cli --bin nkdev -- schema -o schema/nanokit.schema.json`"
    );
}

#[test]
fn explain_lists_codes() {
    nkdev().args(["explain", "nk031"]).assert().success().stdout(predicate::str::contains("NK031 (error)"));
    nkdev().args(["explain", "NK999"]).assert().code(2);
    let all = nkdev().arg("explain").assert().success().get_output().stdout.clone();
    let all = String::from_utf8(all).unwrap();
    assert_eq!(all.lines().count(), nanokit_core::Code::ALL.len(), "{all}");
    assert!(all.contains("NK071  error"), "{all}");
}

#[test]
fn explain_prints_the_rule_with_both_examples() {
    let out = nkdev().args(["explain", "NK040", "--color", "never"]).assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    for part in [
        "NK040 (error): Two services routed from the same `host`.",
        "Why it matters\n  The gateway picks",
        "Example\n",
        "Fixed\n",
        "host: api.shop.localhost",
    ] {
        assert!(out.contains(part), "missing {part:?} in:\n{out}");
    }
    // A rule with an automatic fix says whether it is safe.
    nkdev().args(["explain", "NK009"]).assert().success().stdout(predicate::str::contains("Fix safety\n  Safe."));
    nkdev().args(["explain", "NK002"]).assert().success().stdout(predicate::str::contains("Fix safety\n  Unsafe."));
}

#[test]
fn validate_checks_the_repositories_of_a_workspace_against_each_other() {
    // The bundled multi-repo example is consistent: an owner and a sharing repository.
    nkdev().args(["validate", "--workspace"]).arg(root().join("examples/multi-repo")).assert().success();
    let clash = root().join("core/tests/corpus/workspaces/clash");
    let out = nkdev().args(["validate", "--format", "short", "--workspace"]).arg(&clash).assert().code(1).get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    let billing = clash.join("billing/nanokit.yml").display().to_string();
    let storefront = clash.join("storefront/nanokit.yml").display().to_string();
    for expected in [
        format!("{billing}:4:12: warning[NK060]: component `storefront` of project `shop` is also used by {storefront}"),
        format!("{billing}:6:3: error[NK071]: service `api` is also deployed by {storefront} into environment `local`: both would be `nk-shop-local-api`"),
        // Hosts are compared as DNS does, without case.
        format!("{billing}:9:11: warning[NK060]: host `api.shop.localhost` is also routed to `api` by {storefront}"),
        format!("{storefront}:9:3: error[NK071]: service `api` is also deployed by {billing}"),
    ] {
        assert!(out.contains(&expected), "missing\n  {expected}\nin\n{out}");
    }
    // The same files named one by one are checked together too (what pre-commit passes).
    nkdev()
        .args(["validate", "--format", "short"])
        .arg(clash.join("billing/nanokit.yml"))
        .arg(clash.join("storefront/nanokit.yml"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[NK071]"));
    // Alone, each file is valid: the clash is between them.
    nkdev().args(["validate"]).arg(clash.join("billing/nanokit.yml")).assert().success();
    nkdev()
        .args(["validate", "--workspace"])
        .arg(root().join("docs"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no nanokit.yml below it"));
}

#[test]
fn validate_warns_for_each_key_the_provider_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: shop\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra:\n      provider: docker\n      scaling: auto\n      min: 2\n      max: 4\n      instances:\n        - type: t3.small\n";
    let file = write(dir.path(), "nanokit.yml", text.as_bytes());
    let out = nkdev().args(["validate", "--format", "short"]).arg(&file).assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    for (line, key) in [(9, "scaling"), (10, "min"), (11, "max"), (12, "instances")] {
        let expected = format!("nanokit.yml:{line}:7: warning[NK073]: provider `docker` ignores `{key}` (in environment `local`)");
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }
    nkdev().args(["validate", "--deny-warnings"]).arg(&file).assert().code(1);
}

#[test]
fn validate_fix_applies_only_the_safe_fixes() {
    let dir = tempfile::tempdir().unwrap();
    // NK009 (quote the version) and NK073 (remove a key docker ignores) are safe; NK002's
    // "did you mean" rename is a guess and stays for the user.
    let text = "version: 1\nname: shop\nservices:\n  api:\n    imagee: x\nenvironments:\n  local:\n    infra:\n      provider: docker\n      min: 2 # three in prod\n";
    let file = write(dir.path(), "nanokit.yml", text.as_bytes());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = nkdev().args(["validate", "--fix", "--format", "short"]).arg(&file).assert().code(1).get_output().clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("applied 2 safe fixes"), "{out:?}");
    let fixed = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        fixed,
        "version: \"1\"\nname: shop\nservices:\n  api:\n    imagee: x\nenvironments:\n  local:\n    infra:\n      provider: docker\n"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("error[NK002]") && !stdout.contains("NK009") && !stdout.contains("NK073"), "{stdout}");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    // Nothing left to fix safely: the file is not written again.
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    nkdev().args(["validate", "--fix"]).arg(&file).assert().code(1).stderr(predicate::str::contains("applied").not());
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), before);
}

#[test]
fn checked_in_rules_document_matches_the_rules() {
    let out = nkdev().args(["explain", "--markdown"]).assert().success().get_output().stdout.clone();
    let checked_in = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    assert!(
        String::from_utf8(out).unwrap() == checked_in,
        "docs/rules.md is out of date: run `cargo run -p nanokit-cli --bin nkdev -- explain --markdown > docs/rules.md`"
    );
}

#[test]
fn nkapp_is_the_same_program() {
    Command::cargo_bin("nkapp").unwrap().args(["explain", "NK001"]).assert().success();
}

#[test]
fn init_writes_a_valid_file_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("apps/web")).unwrap();
    std::fs::write(dir.path().join("apps/web/package.json"), "{}").unwrap();
    std::fs::create_dir_all(dir.path().join("apps/docs")).unwrap();
    std::fs::write(dir.path().join("apps/docs/index.html"), "<h1>").unwrap();
    nkdev()
        .args(["init", "--yes", "--name", "site"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("with 2 services"));
    let text = std::fs::read_to_string(dir.path().join("nanokit.yml")).unwrap();
    assert!(text.contains("  web:\n") && text.contains("path: ./apps/docs"), "{text}");
    nkdev().arg("validate").arg(dir.path().join("nanokit.yml")).assert().success();
    nkdev().args(["init", "--yes"]).arg(dir.path()).assert().code(1).stderr(predicate::str::contains("--force"));
}

#[test]
fn completions_and_man_page() {
    nkdev().args(["completions", "bash"]).assert().success().stdout(predicate::str::contains("nkdev"));
    nkdev().arg("man").assert().success().stdout(predicate::str::contains(".TH nkdev"));
}

#[test]
fn absurd_durations_and_timeouts_are_refused_not_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "nanokit.yml",
        b"name: demo\nservices:\n  api:\n    image: x\n    healthcheck:\n      cmd: true\n      interval: 9999999999999h\n      timeout: 25h\n",
    );
    let out = nkdev().current_dir(dir.path()).arg("validate").assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("nanokit.yml:7:17") && text.contains("at most 24h"), "{text}");
    assert!(text.contains("nanokit.yml:8:16"), "{text}");
    // --timeout is bounded by the parser: a usage error, never an overflowing deadline.
    nkdev().current_dir(dir.path()).args(["plan", "--timeout", "18446744073709551615"]).assert().code(2);
    nkdev().current_dir(dir.path()).args(["plan", "--timeout", "0"]).assert().code(2);
}

#[test]
fn without_home_the_deploy_commands_refuse_rather_than_use_tmp() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "nanokit.yml", b"name: demo\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra:\n      provider: docker\n      shared: true\ncomponent: web\n");
    let out = nkdev().current_dir(dir.path()).env_remove("HOME").env_remove("NANOKIT_HOME").args(["plan"]).assert().code(1);
    let text = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(text.contains("neither NANOKIT_HOME nor HOME is set"), "{text}");
}

/// The CLI is a front end: only `providers.rs` names a provider crate or a cargo feature, and
/// no file of it calls a Docker or AWS client.
#[test]
fn only_the_registry_knows_the_built_in_providers() {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                files(&e.path(), out);
            } else if e.path().extension().is_some_and(|x| x == "rs") {
                out.push(e.path());
            }
        }
    }
    let mut all = Vec::new();
    files(&root().join("cli/src"), &mut all);
    assert!(all.len() > 10, "the scan read cli/src: {all:?}");
    for f in all {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.strip_prefix(root()).unwrap().display().to_string();
        for word in ["bollard", "aws_sdk", "aws_config"] {
            assert!(!text.contains(word), "{name} calls a deploy client ({word})");
        }
        if name != "cli/src/providers.rs" {
            for word in ["nanokit_provider_", "cfg(feature"] {
                assert!(!text.contains(word), "{name} names a provider ({word}); only cli/src/providers.rs registers them");
            }
        }
    }
}
