//! Secrets and `${VAR}` on a real engine: a secret from `env:`, `.env` and `file:` reaches the
//! service (which serves it back through the gateway) while nkdev's own output, plan, status,
//! config, labels and state never hold it; a missing secret stops `up` before anything changes;
//! a changed value rolls the service.

mod support;

use support::{docker, Project};

const TOKEN: &str = "tok-3b1f9c0e7d";
const DB_PASSWORD: &str = "pw-from-dotenv-51a2";
const TLS_KEY: &str = "-----KEY 7e44-----";

fn yaml() -> String {
    "name: {project}\nservices:\n  api:\n    image: nk-test/busybox:1\n    path: ./apps/api\n    expose: 3000\n    host: api.{project}.localhost\n    provisioning:\n      install: mkdir -p /tmp/www && cp -r /app/. /tmp/www/\n      start: env | sort > /tmp/www/env.txt && cat \"$TLS_KEY_FILE\" > /tmp/www/key.txt && (cat /app/.env /app/.env.local /app/.env.a:b > /tmp/www/dotenv.txt || true) && exec httpd -f -p \"$PORT\" -h /tmp/www # ${NK_TEST_API_TOKEN:-none}\n    env:\n      GREETING: hello-${NK_TEST_WHO:-nobody}\n      LEGACY_STYLE: ${NK_TEST_API_TOKEN:-none}\n    secrets:\n      API_TOKEN: env:NK_TEST_API_TOKEN\n      DB_PASSWORD: env:DB_PASSWORD\n      TLS_KEY:\n        from: file:./tls.key\n        as: file\nenvironments:\n  local:\n    infra:\n      provider: docker\n".to_string()
}

fn nkdev_out(p: &Project, repo: &std::path::Path, args: &[&str], token: Option<&str>) -> (bool, String) {
    let mut cmd = p.nkdev(repo);
    cmd.args(args).env("NK_TEST_WHO", "world").env_remove("NK_TEST_API_TOKEN");
    if let Some(t) = token {
        cmd.env("NK_TEST_API_TOKEN", t);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [TOKEN, "tok-second-value", DB_PASSWORD, TLS_KEY] {
        assert!(!text.contains(secret), "{what} shows a secret value:\n{text}");
    }
}

#[test]
fn secrets_reach_the_service_and_nothing_else() {
    let p = Project::new("secrets");
    let repo = p.repo("secrets", &yaml(), &["api"]);
    std::fs::write(repo.join(".env"), format!("# not committed\nDB_PASSWORD={DB_PASSWORD}\n")).unwrap();
    std::fs::write(repo.join("tls.key"), format!("{TLS_KEY}\n")).unwrap();
    std::fs::write(repo.join("apps/api/.env"), "LEAK=the-deploying-machine\n").unwrap();
    std::fs::write(repo.join("apps/api/.env.a:b"), "LEAK=a-name-with-a-colon\n").unwrap();
    std::os::unix::fs::symlink("../../.env", repo.join("apps/api/.env.local")).unwrap();

    // The plan says so; validate does not mind (pre-commit has no secrets).
    let (ok, out) = nkdev_out(&p, &repo, &["up", "--dry-run"], None);
    assert!(ok && out.contains("`nkdev up` would stop here: secret `API_TOKEN` of service `api` (env:NK_TEST_API_TOKEN): variable `NK_TEST_API_TOKEN` is not set"), "{out}");
    let (ok, out) = nkdev_out(&p, &repo, &["validate"], None);
    assert!(ok, "{out}");
    // A secret that cannot be read stops the deploy before anything exists.
    let (ok, out) = nkdev_out(&p, &repo, &["up", "--timeout", "30"], None);
    assert!(!ok, "{out}");
    assert!(out.contains("secret `API_TOKEN` of service `api` (env:NK_TEST_API_TOKEN)") && out.contains("nothing was changed"), "{out}");
    assert!(p.services().is_empty(), "nothing created");
    assert!(!docker(&["network", "inspect", &format!("nk-{}-local", p.name)]).0, "no network either");

    let (ok, out) = nkdev_out(&p, &repo, &["up", "--timeout", "30"], Some(TOKEN));
    assert!(ok, "{out}");
    assert_no_secret("`up`", &out);
    let host = format!("api.{}.localhost", p.name);
    let (status, env) = p.get(&host, "/env.txt").expect("served");
    assert_eq!(status, 200);
    for expected in [
        format!("API_TOKEN={TOKEN}"),
        format!("DB_PASSWORD={DB_PASSWORD}"),
        "TLS_KEY_FILE=/run/secrets/TLS_KEY".to_string(),
        "GREETING=hello-world".to_string(),
    ] {
        assert!(env.lines().any(|l| l == expected), "{expected} missing from:\n{env}");
    }
    assert!(!env.contains("TLS_KEY="), "a file secret is not also a variable:\n{env}");
    assert_eq!(p.get(&host, "/key.txt").unwrap().1, TLS_KEY, "the file secret, its trailing newline dropped");
    let dotenv = p.get(&host, "/dotenv.txt").map(|(_, body)| body).unwrap_or_default();
    assert!(
        !dotenv.contains("LEAK") && !dotenv.contains(DB_PASSWORD),
        "the .env files beside the code (a link, a `:` in a name) are hidden from the container: {dotenv}"
    );

    // Nothing nkdev prints or writes holds a value.
    for args in [&["config"][..], &["config", "--explain"], &["config", "--format", "json"], &["status"], &["up", "--dry-run"]] {
        let (ok, out) = nkdev_out(&p, &repo, args, Some(TOKEN));
        assert!(ok, "{args:?}: {out}");
        assert_no_secret(&format!("{args:?}"), &out);
    }
    let (_, config) = nkdev_out(&p, &repo, &["config", "--explain"], Some(TOKEN));
    assert!(config.contains("•••• (env:NK_TEST_API_TOKEN)"), "{config}");
    assert!(config.contains("from $NK_TEST_WHO (the environment)"), "{config}");
    assert!(config.contains("LEGACY_STYLE:") && config.contains("from $NK_TEST_API_TOKEN"), "read into plain env, hidden: {config}");
    let state = std::fs::read_to_string(repo.join(".nanokit/state-local.json")).unwrap();
    assert_no_secret("the state file", &state);
    let (_, labels) = docker(&["inspect", "-f", "{{json .Config.Labels}}", &p.container("api")]);
    assert_no_secret("the labels", &labels);

    // The same values: nothing to do. A changed value: the service rolls and serves it.
    let id = p.container_id("api");
    let (ok, out) = nkdev_out(&p, &repo, &["up", "--timeout", "30"], Some(TOKEN));
    assert!(ok && out.contains("nothing to do"), "{out}");
    let (ok, out) = nkdev_out(&p, &repo, &["up", "--timeout", "30"], Some("tok-second-value"));
    assert!(ok, "{out}");
    assert!(out.contains("recreate api (configuration changed"), "{out}");
    assert_no_secret("the second `up`", &out);
    assert_ne!(p.container_id("api"), id);
    let (_, env) = p.get(&host, "/env.txt").unwrap();
    assert!(env.lines().any(|l| l == "API_TOKEN=tok-second-value"), "{env}");
}
