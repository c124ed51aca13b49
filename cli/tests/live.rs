//! The running cluster in the editor and `nkdev up --watch`, end to end against the real
//! engine: the language server (`nkdev lsp`, JSON-RPC over stdio) follows a real deploy with
//! its code lenses, headless Neovim does the same through editors/nvim, and `up --watch`
//! serves an edit without recreating the container.

#[path = "../../lsp/tests/client.rs"]
mod client;
mod support;

use serde_json::{json, Value};
use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};
use support::{docker, Project};

/// The acceptance bound of the issue: a change reaches the editor (or the gateway) this fast.
const PROMPT: Duration = Duration::from_secs(2);

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// `nkdev lsp` beside a copy of the offline example renamed to `p`: the client (not yet
/// initialized), the example's nanokit.yml and its text.
fn language_server(p: &Project) -> (client::Client, std::path::PathBuf, String) {
    let repo = p.offline_example("offline");
    let file = repo.join("nanokit.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut server = p.nkdev_std(&repo);
    server.arg("lsp").stderr(Stdio::inherit());
    (client::Client::spawn(server), file, text)
}

/// The title of `service`'s status lens.
fn status_lens(c: &mut client::Client, file: &str, text: &str, service: &str) -> String {
    let line = text.lines().position(|l| l == format!("  {service}:")).unwrap_or_else(|| panic!("no service {service}"));
    let lenses = c.request("textDocument/codeLens", json!({"textDocument": {"uri": file}}));
    let lenses = lenses.as_array().cloned().unwrap_or_default();
    lenses
        .iter()
        .find(|l| l["range"]["start"]["line"] == line && l["command"]["command"] == "")
        .map(|l| l["command"]["title"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| format!("(no status lens; lenses: {})", Value::Array(lenses.clone())))
}

/// Wait (on the server's `workspace/codeLens/refresh`) until api's lens says `want`; how long it took.
fn until_lens(c: &mut client::Client, file: &str, text: &str, want: &str) -> Duration {
    let start = Instant::now();
    loop {
        let title = status_lens(c, file, text, "api");
        if title.contains(want) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "api's lens never said `{want}`; it says `{title}`");
        c.wait_for(|m| m["method"] == "workspace/codeLens/refresh");
    }
}

#[test]
fn code_lenses_follow_a_real_deploy_and_a_kill_without_restarting_the_server() {
    let p = Project::new("lens");
    let (mut c, file, text) = language_server(&p);
    let nkdev = assert_cmd::cargo::cargo_bin("nkdev");
    let init = c.initialize(
        json!({"workspace": {"codeLens": {"refreshSupport": true}}, "window": {"workDoneProgress": true, "showDocument": {"support": true}}}),
        json!({"liveStatus": {"enable": true, "command": nkdev}}),
        None,
    );
    assert!(init["capabilities"]["codeLensProvider"].is_object(), "{init}");
    let commands = init["capabilities"]["executeCommandProvider"]["commands"].to_string();
    assert!(commands.contains("nanokit.deployService") && commands.contains("nanokit.restartService"), "{commands}");
    let u = uri(&file);
    c.open(&u, &text);
    until_lens(&mut c, &u, &text, "not deployed");

    let (ok, out) = p.up(file.parent().unwrap(), &[]);
    assert!(ok, "{out}");
    let took = until_lens(&mut c, &u, &text, "● running");
    assert!(took < PROMPT, "the lens said running {took:?} after the deploy");
    let title = status_lens(&mut c, &u, &text, "api");
    assert!(title.contains(&format!("http://{}.localhost", p.name)), "{title}");
    // The hover of the service adds what runs below the resolved model.
    let line = text.lines().position(|l| l == "  api:").unwrap();
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": u}, "position": {"line": line, "character": 3}}));
    let hover = hover["contents"]["value"].as_str().unwrap_or_default().to_string();
    assert!(hover.contains("**Live**") && hover.contains(&p.container("api")) && hover.contains("nk-test/busybox:1"), "{hover}");

    assert!(docker(&["kill", &p.container("api")]).0);
    let took = until_lens(&mut c, &u, &text, "✕ exited (137)");
    assert!(took < PROMPT, "the lens said exited {took:?} after the kill");

    // The code actions on a service offer what its lenses do.
    let at = json!({"line": line, "character": 3});
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": u}, "range": {"start": at, "end": at}, "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> = actions.as_array().unwrap().iter().filter_map(|a| a["title"].as_str()).collect();
    assert_eq!(titles, ["Deploy api", "Show the logs of api", "Restart api"], "{actions}");
    // The Restart lens runs `nkdev restart api` with progress, and api runs again, same container.
    let id = p.container_id("api");
    c.request("workspace/executeCommand", json!({"command": "nanokit.restartService", "arguments": [{"uri": u, "service": "api"}]}));
    until_lens(&mut c, &u, &text, "● running");
    assert_eq!(p.container_id("api"), id, "restart must keep the container");
    c.wait_for(|m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end");
    // Logs: the last lines, opened as a document.
    c.request("workspace/executeCommand", json!({"command": "nanokit.showLogs", "arguments": [{"uri": u, "service": "api"}]}));
    let shown = c.wait_for(|m| m["method"] == "window/showDocument");
    let log = shown["params"]["uri"].as_str().unwrap().trim_start_matches("file://").to_string();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("files on port 3000"), "{log}");
    // A command for something that is not a service of the file is refused, running nothing.
    let refused = c.request_raw(
        "workspace/executeCommand",
        json!({"command": "nanokit.deployService", "arguments": [{"uri": u, "service": "--remove-orphans"}]}),
    );
    assert!(refused["error"]["message"].as_str().unwrap_or_default().contains("is not a service"), "{refused}");
    c.shutdown();
}

#[test]
fn without_nkdev_the_lenses_say_so_once_and_the_rest_of_the_server_works() {
    let p = Project::new("nolens");
    let (mut c, file, text) = language_server(&p);
    c.initialize(
        json!({"workspace": {"codeLens": {"refreshSupport": true}}}),
        json!({"liveStatus": {"enable": true, "command": "/nonexistent/nkdev"}}),
        None,
    );
    let u = uri(&file);
    c.open(&u, &text);
    let start = Instant::now();
    let lenses = loop {
        let lenses = c.request("textDocument/codeLens", json!({"textDocument": {"uri": u}}));
        if lenses.to_string().contains("/nonexistent/nkdev") {
            break lenses;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{lenses}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(lenses.as_array().unwrap().len(), 1, "one lens says it, not one per service: {lenses}");
    assert!(lenses.to_string().contains("install nkdev or set the liveStatus.command setting"), "{lenses}");
    // hover and diagnostics are unaffected
    let line = text.lines().position(|l| l == "  api:").unwrap();
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": u}, "position": {"line": line, "character": 3}}));
    assert!(hover["contents"]["value"].as_str().unwrap_or_default().contains("api"), "{hover}");
    // an action says why it could not run, as an error message
    c.request("workspace/executeCommand", json!({"command": "nanokit.deployService", "arguments": [{"uri": u, "service": "api"}]}));
    let message = c.wait_for(|m| m["method"] == "window/showMessage");
    assert_eq!(message["params"]["type"], 1, "{message}");
    assert!(message["params"]["message"].as_str().unwrap_or_default().contains("/nonexistent/nkdev"), "{message}");
    c.shutdown();
}

#[test]
fn an_environment_on_aws_gets_no_live_status_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nanokit.yml");
    let text = "name: shop\nservices:\n  api:\n    image: nginx:1.27\n    expose: 80\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: eu-west-1\n";
    std::fs::write(&file, text).unwrap();
    // a command that would fail loudly if it were run: it must not be
    let mut c = client::Client::spawn({
        let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("nkdev"));
        server.arg("lsp").stderr(Stdio::inherit());
        server
    });
    c.initialize(
        json!({"workspace": {"codeLens": {"refreshSupport": true}}}),
        json!({"environment": "prod", "liveStatus": {"enable": true, "command": "/nonexistent/nkdev"}}),
        None,
    );
    let u = uri(&file);
    c.open(&u, text);
    let start = Instant::now();
    loop {
        let lenses = c.request("textDocument/codeLens", json!({"textDocument": {"uri": u}}));
        if lenses.to_string().contains("live status is off for AWS") {
            assert!(!lenses.to_string().contains("/nonexistent/nkdev"), "{lenses}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{lenses}");
        std::thread::sleep(Duration::from_millis(50));
    }
    c.shutdown();
}

#[test]
fn lenses_are_off_unless_asked_for() {
    let p = Project::new("offlens");
    let (mut c, file, text) = language_server(&p);
    c.initialize(json!({}), Value::Null, None);
    let u = uri(&file);
    c.open(&u, &text);
    c.wait_for(|m| m["method"] == "textDocument/publishDiagnostics");
    let lenses = c.request("textDocument/codeLens", json!({"textDocument": {"uri": u}}));
    assert!(lenses.is_null() || lenses.as_array().is_some_and(|a| a.is_empty()), "{lenses}");
    c.shutdown();
}

#[test]
fn neovim_shows_the_lenses_follow_a_deploy_and_a_kill() {
    let p = Project::new("nvimlens");
    let repo = p.offline_example("offline");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let screen = p.root.path().join("screen.txt");
    let result = p.root.path().join("result.txt");
    let nkdev = assert_cmd::cargo::cargo_bin("nkdev");
    let status = std::process::Command::new("nvim")
        .current_dir(&repo)
        .env("NO_COLOR", "1")
        .env("NANOKIT_HOME", p.home.path())
        .env("NANOKIT_GATEWAY_IMAGE", support::CADDY)
        .env("NANOKIT_GATEWAY_PORT", p.port.to_string())
        .env("NK_FILE", repo.join("nanokit.yml"))
        .env("NK_BIN", &nkdev)
        .env("NK_ENV", "local")
        .env("NK_SCREEN", &screen)
        .env("NK_RESULT", &result)
        .args(["--headless", "--clean", "-u", "NONE", "--cmd"])
        .arg(format!("set runtimepath^={}", root.join("editors/nvim").display()))
        .arg("-c")
        .arg(format!("luafile {}", root.join("tests/nvim/lens.lua").display()))
        .status()
        .expect("`nvim` must be installed for the editor end-to-end test (scripts/test-deps.sh installs it)");
    let said = std::fs::read_to_string(&result).unwrap_or_else(|_| format!("nvim wrote no result (exit {status})"));
    assert_eq!(said.trim(), "ok", "{said}");
    let shown = std::fs::read_to_string(&screen).unwrap();
    assert!(shown.contains("● running") || shown.contains("exited"), "{shown}");
    // The README's picture of the lenses is this capture (docs/lenses.txt), refreshed with
    // NANOKIT_UPDATE_DOCS=1.
    if std::env::var_os("NANOKIT_UPDATE_DOCS").is_some() {
        let shown = shown.replace(&p.name, "shop").replace(&format!(":{}", p.port), "");
        std::fs::write(root.join("docs/lenses.txt"), shown).unwrap();
    }
}

#[test]
fn restart_refuses_a_container_of_another_owner_under_the_services_name_and_leaves_it_running() {
    let p = Project::new("restart");
    let repo = p.offline_example("offline");
    // A careless second repo (or a hand-made container) took api's name; it is not this deploy's.
    let name = p.container("api");
    let (ok, out) = docker(&["run", "-d", "--name", &name, "--label", &format!("nk-project={}", p.name), support::BUSYBOX, "sleep", "600"]);
    assert!(ok, "{out}");
    let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &name]).1;
    let out = p.nkdev(&repo).args(["restart", "api"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(&name) && text.contains("nothing was changed"), "{text}");
    assert_eq!(docker(&["inspect", "-f", "{{.State.StartedAt}}", &name]).1, started, "the foreign container was restarted");
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &name]).1.trim(), "true");
    // and one that is not deployed at all is an error naming the way to deploy it
    let out = p.nkdev(&repo).args(["restart", "auth"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success() && text.contains("`nkdev up auth`"), "{text}");
}

#[test]
fn a_restart_runs_install_again_only_when_asked() {
    let p = Project::new("reinstall");
    let yaml = r#"name: {project}
services:
  api:
    image: nk-test/busybox:1
    path: ./apps/api
    expose: 3000
    host: {project}.localhost
    provisioning:
      install: echo installed >> /tmp/installs
      start: mkdir -p /tmp/www && cp /tmp/installs /tmp/www/installs.txt && exec httpd -f -p "$PORT" -h /tmp/www
environments:
  local:
    infra:
      provider: docker
"#;
    let repo = p.repo("r", yaml, &["api"]);
    let (ok, out) = p.up(&repo, &[]);
    assert!(ok, "{out}");
    let host = format!("{}.localhost", p.name);
    let installs = |p: &Project| p.get(&host, "/installs.txt").map(|(_, body)| body.lines().count());
    let id = p.container_id("api");
    assert_eq!(installs(&p), Some(1));
    let out = p.nkdev(&repo).args(["restart", "api"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let start = Instant::now();
    while installs(&p) != Some(1) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(installs(&p), Some(1), "a plain restart must not install again");
    let out = p.nkdev(&repo).args(["restart", "api", "--reinstall"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let start = Instant::now();
    while installs(&p) != Some(2) && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(installs(&p), Some(2), "--reinstall runs install once more");
    assert_eq!(p.container_id("api"), id, "both keep the container");
}

/// `nkdev up --watch` in the background: its output lines, as they come.
struct Watch {
    child: std::process::Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(p: &Project, repo: &Path) -> Watch {
        let mut child = p.nkdev_std(repo).args(["up", "--watch", "--timeout", "30"]).spawn().unwrap();
        let (tx, lines) = channel();
        for out in [Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Watch { child, lines, seen: Vec::new() }
    }

    /// Wait until `n` lines seen so far contain all of `parts`.
    fn expect_lines(&mut self, parts: &[&str], n: usize) {
        let matches = |l: &String| parts.iter().all(|p| l.contains(p));
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.seen.iter().filter(|l| matches(l)).count() < n {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("`nkdev up --watch` printed fewer than {n} lines with {parts:?}:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Wait for a line containing `text`.
    fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
        panic!("`nkdev up --watch` never printed `{text}`; it printed:\n{}", self.seen.join("\n"));
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET through the gateway until the body contains `want`; how long it took.
fn served_within(p: &Project, host: &str, want: &str) -> Duration {
    let start = Instant::now();
    loop {
        if p.get(host, "/index.html").is_some_and(|(code, body)| code == 200 && body.contains(want)) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{host} never served `{want}`: {:?}", p.get(host, "/index.html"));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn up_watch_serves_an_edit_in_place_redeploys_the_file_and_survives_a_broken_one() {
    let p = Project::new("watch");
    let repo = p.offline_example("offline");
    let host = format!("{}.localhost", p.name);
    let mut w = Watch::start(&p, &repo);
    w.expect("watching");
    served_within(&p, &host, "api");
    let ids: Vec<String> = ["auth", "billing", "api"].iter().map(|s| p.container_id(s)).collect();

    // An edit under api's path: synced and restarted, the same container, served promptly.
    std::fs::write(repo.join("apps/api/index.html"), "edited by the watch test\n").unwrap();
    let took = served_within(&p, &host, "edited by the watch test");
    assert!(took < PROMPT, "the edit was served after {took:?}");
    let line = w.expect("restarting api");
    assert!(line.contains("apps/api/index.html"), "{line}");
    assert_eq!(p.container_id("api"), ids[2], "the container must stay");
    // the service's output is shown below, and again after its restart
    w.expect_lines(&["api", "| serving", "files on port 3000"], 2);
    // an ignored file changes nothing
    std::fs::write(repo.join(".gitignore"), "*.tmp\n").unwrap();
    std::fs::write(repo.join("apps/auth/scratch.tmp"), "x").unwrap();
    // an install input: install runs again before start
    std::fs::write(repo.join("apps/api/package.json"), "{}").unwrap();
    let line = w.expect("running install again and restarting api");
    assert!(line.contains("apps/api/package.json"), "{line}");
    w.expect("api restarted and ready");

    // a .env beside the file may change what is deployed: planned again (here, nothing to do)
    std::fs::write(repo.join(".env"), "UNUSED=1\n").unwrap();
    w.expect(".env changed: planning again");
    w.expect("nothing to do");
    // and a new folder under a service's path is watched from then on
    std::fs::create_dir_all(repo.join("apps/api/new")).unwrap();
    w.expect("api restarted and ready");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(repo.join("apps/api/new/page.html"), "new page\n").unwrap();
    let line = w.expect("restarting api");
    assert!(line.contains("apps/api/new/page.html"), "{line}");
    w.expect("api restarted and ready");
    // removed and created again at once (a checkout, a generator): a new folder, watched again
    std::fs::remove_dir_all(repo.join("apps/api/new")).unwrap();
    std::fs::create_dir_all(repo.join("apps/api/new")).unwrap();
    w.expect("api restarted and ready");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(repo.join("apps/api/new/again.html"), "again\n").unwrap();
    let line = w.expect("restarting api");
    assert!(line.contains("apps/api/new/again.html"), "{line}");
    // `expose` of one service in nanokit.yml: that service alone is recreated.
    let yaml = std::fs::read_to_string(repo.join("nanokit.yml")).unwrap();
    std::fs::write(repo.join("nanokit.yml"), yaml.replace("expose: 3002", "expose: 3012")).unwrap();
    w.expect("planning again");
    w.expect("billing → http://");
    served_within(&p, &format!("billing.{}.localhost", p.name), "billing");
    assert_ne!(p.container_id("billing"), ids[1], "billing must be recreated");
    assert_eq!(p.container_id("auth"), ids[0], "auth must stay");
    assert_eq!(p.container_id("api"), ids[2], "api must stay");
    assert!(!w.seen.iter().any(|l| l.contains("restarting auth")), "{}", w.seen.join("\n"));

    // A broken file: its diagnostic is printed, everything keeps running.
    std::fs::write(repo.join("nanokit.yml"), yaml.replace("expose: 3000", "expose: [3000")).unwrap();
    w.expect("nanokit.yml:");
    w.expect("left alone");
    assert_eq!(p.container_id("api"), ids[2]);
    served_within(&p, &host, "edited by the watch test");
    // an edit meanwhile waits for a file that reads again, then is served
    std::fs::write(repo.join("apps/api/index.html"), "edited while the file was broken\n").unwrap();
    w.expect("left alone");
    std::fs::write(repo.join("nanokit.yml"), yaml.replace("expose: 3002", "expose: 3012")).unwrap();
    w.expect("restarting api");
    served_within(&p, &host, "edited while the file was broken");
    assert_eq!(p.container_id("api"), ids[2]);

    // Ctrl-C: stops watching, releases the lock, exits non-zero saying so.
    assert!(std::process::Command::new("kill").args(["-INT", &w.child.id().to_string()]).status().unwrap().success());
    w.expect("lock is released");
    let status = w.child.wait().unwrap();
    assert!(!status.success());
    std::fs::write(repo.join("nanokit.yml"), &yaml).unwrap();
    let (ok, out) = p.up(&repo, &["api"]);
    assert!(ok, "the lock must be free after Ctrl-C: {out}");
}
