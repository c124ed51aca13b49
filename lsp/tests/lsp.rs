//! The real nanokit-lsp binary, driven over stdio.

mod client;

use client::{pos, Client};
use serde_json::{json, Value};

const URI: &str = "file:///tmp/nanokit-lsp-test/nanokit.yml";

const PROJECT: &str = "name: demo\nruntimes:\n  node:\n    image: node:22-slim\nservices:\n  hub:\n    image: hub:1\n  api:\n    runtime: node\n    expose: 3000\n    host: api.localhost\n    depends_on: [hub]\n    env:\n      HUB: http://${NANOKIT_URL_HUB}/x\nenvironments:\n  local:\n    infra:\n      provider: docker\n";

fn codes(diags: &[Value]) -> Vec<String> {
    diags.iter().map(|d| d["code"].as_str().unwrap_or_default().to_string()).collect()
}

fn labels(result: &Value) -> Vec<String> {
    let items = result.as_array().cloned().or_else(|| result["items"].as_array().cloned()).unwrap_or_default();
    items.iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
}

#[test]
fn diagnostics_follow_edits_with_utf16_ranges() {
    let mut c = Client::start();
    let text = "name: demo\n# é😀 comment\nservices:\n  api:\n    image: x\n    env: {GRÜSSE: \"😀\"}\n    expse: 3000\n";
    c.open(URI, text);
    let diags = c.diagnostics(URI, 1);
    assert_eq!(codes(&diags), vec!["NK002"]);
    assert_eq!(diags[0]["range"]["start"], json!({"line": 6, "character": 4}));
    assert_eq!(diags[0]["range"]["end"], json!({"line": 6, "character": 9}));
    assert!(diags[0]["message"].as_str().unwrap().contains("did you mean `expose`?"));
    // fix the typo with an incremental edit: insert the missing `o`
    c.change(URI, 2, json!([{"range": {"start": {"line": 6, "character": 7}, "end": {"line": 6, "character": 7}}, "text": "o"}]));
    assert_eq!(c.diagnostics(URI, 2), Vec::<Value>::new());
    c.shutdown();
}

#[test]
fn completion_of_keys_values_and_names_even_mid_edit() {
    let mut c = Client::start();
    c.open(URI, PROJECT);
    c.diagnostics(URI, 1);
    // break the file (unclosed flow list) and ask for keys inside `api`
    let broken = PROJECT.replace("    depends_on: [hub]\n", "    depends_on: [hub\n    ex\n");
    c.change(URI, 2, json!([{"text": broken}]));
    let at = pos(&broken, "    ex\n", 6);
    let result = c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": at}));
    let got = labels(&result);
    assert!(got.contains(&"healthcheck".to_string()) && got.contains(&"command".to_string()), "{got:?}");
    assert!(!got.contains(&"runtime".to_string()), "keys already set are not offered: {got:?}");

    // provider values come from the schema enum
    let text = PROJECT.replace("provider: docker", "provider: ");
    c.change(URI, 3, json!([{"text": text}]));
    let result = c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": pos(&text, "provider: ", 10)}));
    let got = labels(&result);
    assert!(got.contains(&"aws".to_string()) && got.contains(&"fly.io".to_string()), "{got:?}");

    // depends_on offers the other services, runtime offers declared and built-in ids
    let text = PROJECT.replace("depends_on: [hub]", "depends_on: [hub, ]");
    c.change(URI, 4, json!([{"text": text}]));
    let got = labels(&c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": pos(&text, "hub, ]", 5)})));
    assert_eq!(got, vec!["hub"], "api itself is not offered");
    let got =
        labels(&c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": pos(&text, "runtime: node", 9)})));
    assert!(got.contains(&"node".to_string()) && got.contains(&"python".to_string()), "{got:?}");
    // NANOKIT_URL_* inside env values
    let got = labels(
        &c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": pos(&text, "NANOKIT_URL_HUB}", 12)})),
    );
    assert!(got.contains(&"NANOKIT_URL_API".to_string()) && got.contains(&"NANOKIT_URL_HUB".to_string()), "{got:?}");
    c.shutdown();
}

#[test]
fn hover_shows_the_resolved_service_with_origins() {
    let mut c = Client::start();
    c.open(URI, PROJECT);
    c.diagnostics(URI, 1);
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": URI}, "position": pos(PROJECT, "  api:", 3)}));
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("resolved for environment `local`"), "{text}");
    assert!(text.contains("| image | `node:22-slim` | runtime `node` |"), "{text}");
    assert!(text.contains("| install | `npm install` | built-in default of `node` |"), "{text}");
    assert!(text.contains("| NANOKIT_URL_API | `api.localhost` | injected by nanokit |"), "{text}");
    // on a runtime reference: who uses it
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": URI}, "position": pos(PROJECT, "runtime: node", 10)}));
    assert!(hover["contents"]["value"].as_str().unwrap().contains("Used by 1 service: `api`"));
    // on a plain key: its schema documentation
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": URI}, "position": pos(PROJECT, "expose:", 1)}));
    assert!(hover["contents"]["value"].as_str().unwrap().contains("port the service listens on"));
    c.shutdown();
}

#[test]
fn infra_host_is_completed_documented_and_checked() {
    let mut c = Client::start();
    // the key is offered under `infra`, with its schema documentation
    let text = format!("{PROJECT}      ho");
    c.open(URI, &text);
    c.diagnostics(URI, 1);
    let result = c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": pos(&text, "      ho", 8)}));
    let items = result.as_array().cloned().or_else(|| result["items"].as_array().cloned()).unwrap_or_default();
    let host = items.iter().find(|i| i["label"] == "host").unwrap_or_else(|| panic!("no `host` under infra: {:?}", labels(&result)));
    assert!(host["documentation"]["value"].as_str().unwrap().contains("Docker engine this environment deploys to"), "{host}");
    // its value: the three forms of an engine address
    let text = format!("{PROJECT}      host: ");
    c.change(URI, 2, json!([{"text": text}]));
    let got =
        labels(&c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": pos(&text, "      host: ", 12)})));
    assert_eq!(got, vec!["ssh://", "tcp://", "unix:///var/run/docker.sock"]);
    // a service's `host` is a hostname: none of these
    let got =
        labels(&c.request("textDocument/completion", json!({"textDocument": {"uri": URI}, "position": pos(&text, "    host: api", 10)})));
    assert!(!got.contains(&"ssh://".to_string()), "{got:?}");
    // hover on the key, and a valid address has no diagnostic
    let text = format!("{PROJECT}      host: ssh://deploy@vps.example.com\n");
    c.change(URI, 3, json!([{"text": text}]));
    assert_eq!(codes(&c.diagnostics(URI, 3)), Vec::<String>::new());
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": URI}, "position": pos(&text, "      host: ssh", 7)}));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.starts_with("**host**") && value.contains("`DOCKER_HOST` and the Docker context apply"), "{value}");
    // an address the docker CLI would not take: NK061 on the value
    let text = format!("{PROJECT}      host: vps.example.com\n");
    c.change(URI, 4, json!([{"text": text}]));
    let diags = c.diagnostics(URI, 4);
    assert_eq!(codes(&diags), vec!["NK061"]);
    assert_eq!(diags[0]["range"]["start"], json!({"line": 18, "character": 12}));
    c.shutdown();
}

#[test]
fn definition_references_and_rename() {
    let mut c = Client::start();
    c.open(URI, PROJECT);
    c.diagnostics(URI, 1);
    let def = c.request("textDocument/definition", json!({"textDocument": {"uri": URI}, "position": pos(PROJECT, "[hub]", 2)}));
    assert_eq!(def["range"]["start"], pos(PROJECT, "  hub:", 2));
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": URI}, "position": pos(PROJECT, "  hub:", 2), "context": {"includeDeclaration": true}}),
    );
    assert_eq!(refs.as_array().unwrap().len(), 3, "definition, depends_on and NANOKIT_URL_HUB: {refs}");
    let edit =
        c.request("textDocument/rename", json!({"textDocument": {"uri": URI}, "position": pos(PROJECT, "  hub:", 2), "newName": "core"}));
    let edits = edit["changes"][URI].as_array().unwrap();
    let texts: Vec<&str> = edits.iter().map(|e| e["newText"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 3);
    assert!(texts.contains(&"NANOKIT_URL_CORE"), "{texts:?}");
    // invalid new names and built-in runtimes are refused with a message
    let bad = c.request_raw(
        "textDocument/rename",
        json!({"textDocument": {"uri": URI}, "position": pos(PROJECT, "  hub:", 2), "newName": "Core_1"}),
    );
    assert!(bad["error"]["message"].as_str().unwrap().contains("not a valid service name"), "{bad}");
    let text = PROJECT.replace("runtimes:\n  node:\n    image: node:22-slim\n", "");
    c.change(URI, 2, json!([{"text": text}]));
    c.diagnostics(URI, 2);
    let bad =
        c.request_raw("textDocument/prepareRename", json!({"textDocument": {"uri": URI}, "position": pos(&text, "runtime: node", 10)}));
    assert!(bad["error"]["message"].as_str().unwrap().contains("built-in runtime"), "{bad}");
    c.shutdown();
}

#[test]
fn quick_fix_for_a_typo() {
    let mut c = Client::start();
    let text = "name: demo\nservices:\n  api:\n    image: x\n    expse: 3000\n";
    c.open(URI, text);
    let diags = c.diagnostics(URI, 1);
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": diags[0]["range"], "context": {"diagnostics": diags}}),
    );
    let action = &actions[0];
    // A "did you mean" rename guesses: the rule's document calls it unsafe, and so does the title.
    assert_eq!(action["title"], "Rename to `expose` (unsafe fix: review the result)");
    assert_eq!(action["isPreferred"], false);
    assert!(diags[0]["codeDescription"]["href"].as_str().unwrap().ends_with("/docs/rules.md#nk002"), "{}", diags[0]);
    assert_eq!(action["edit"]["changes"][URI][0]["newText"], "expose");
    c.shutdown();
}

#[test]
fn keys_a_provider_ignores_are_flagged_explained_and_removable() {
    let mut c = Client::start();
    let text = "name: demo\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra:\n      provider: docker\n      min: 2\n";
    c.open(URI, text);
    let diags = c.diagnostics(URI, 1);
    assert_eq!(codes(&diags), vec!["NK073"]);
    assert!(diags[0]["message"].as_str().unwrap().contains("provider `docker` ignores `min`"), "{}", diags[0]);
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": diags[0]["range"], "context": {"diagnostics": diags}}),
    );
    // Removing a key the provider never reads is safe: plain title, preferred.
    assert_eq!(actions[0]["title"], "Remove `min`");
    assert_eq!(actions[0]["isPreferred"], true);
    assert_eq!(actions[0]["edit"]["changes"][URI][0]["newText"], "");
    // Hover on the key shows what each provider does with it.
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": URI}, "position": pos(text, "      min", 7)}));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("`docker`: **ignored**") && value.contains("`aws`: partly"), "{value}");
    c.shutdown();
}

#[test]
fn outline_folding_links_and_inlay_hints() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("web")).unwrap();
    std::fs::write(dir.path().join("web/package.json"), "{}").unwrap();
    let file = dir.path().join("nanokit.yml");
    let text = "name: demo\nservices:\n  web:\n    path: ./web\n    host: web.localhost\n";
    std::fs::write(&file, text).unwrap();
    let uri = format!("file://{}", file.display());
    let mut c = Client::start();
    c.open(&uri, text);
    assert_eq!(c.diagnostics(&uri, 1), Vec::<Value>::new());
    let symbols = c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    assert_eq!(symbols[1]["name"], "services");
    assert_eq!(symbols[1]["children"][0]["name"], "web");
    let folds = c.request("textDocument/foldingRange", json!({"textDocument": {"uri": uri}}));
    assert!(folds.as_array().unwrap().iter().any(|f| f["startLine"] == 1 && f["endLine"] == 4), "{folds}");
    let links = c.request("textDocument/documentLink", json!({"textDocument": {"uri": uri}}));
    assert!(links[0]["target"].as_str().unwrap().ends_with("/web"), "{links}");
    let hints = c.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 9, "character": 0}}}),
    );
    assert_eq!(hints[0]["label"], " node (auto) · node:22-slim · :3000");
    c.shutdown();
}

#[test]
fn pull_diagnostics_when_the_client_asks_for_them() {
    let mut c = Client::start_with(json!({"textDocument": {"diagnostic": {"dynamicRegistration": false}}}));
    c.open(URI, "name: Bad\n");
    let report = c.request("textDocument/diagnostic", json!({"textDocument": {"uri": URI}}));
    assert_eq!(report["kind"], "full");
    assert_eq!(codes(report["items"].as_array().unwrap()), vec!["NK007"]);
    c.shutdown();
}

#[test]
fn multi_root_workspace_sees_both_repositories() {
    let dir = tempfile::tempdir().unwrap();
    for repo in ["auth", "billing"] {
        std::fs::create_dir_all(dir.path().join(repo)).unwrap();
    }
    // billing forgot to change the component it copied from auth
    let auth = "name: shop\ncomponent: auth\nservices:\n  auth:\n    image: a\n    expose: 80\n    host: auth.localhost\n";
    let billing = "name: shop\ncomponent: auth\nservices:\n  billing:\n    image: b\n    expose: 80\n    host: auth.localhost\n";
    std::fs::write(dir.path().join("auth/nanokit.yml"), auth).unwrap();
    std::fs::write(dir.path().join("billing/nanokit.yml"), billing).unwrap();
    let folders = vec![dir.path().join("auth").display().to_string(), dir.path().join("billing").display().to_string()];
    let mut c = Client::start_full(json!({}), Value::Null, Some(folders));
    let uri = format!("file://{}/billing/nanokit.yml", dir.path().display());
    c.open(&uri, billing);
    let msg = c.wait_for(|m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["uri"] == uri.as_str()
            && m["params"]["diagnostics"].as_array().is_some_and(|d| d.len() == 3)
    });
    let diags = msg["params"]["diagnostics"].as_array().unwrap();
    let messages: Vec<&str> = diags.iter().map(|d| d["message"].as_str().unwrap()).collect();
    // The core's project-set rules, as `nkdev validate --workspace` reports them.
    assert_eq!(codes(diags), ["NK072", "NK060", "NK060"], "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("environment `local` is also owned by")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("component `auth` of project `shop` is also used by")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("host `auth.localhost` is also routed to `auth`")), "{messages:?}");
    c.shutdown();
}

#[test]
fn an_oversized_document_gets_one_clear_diagnostic_and_the_server_keeps_serving() {
    let mut c = Client::start();
    let uri = "file:///tmp/nk-big/nanokit.yml";
    let service = "  svc:\n    image: registry.example.com/svc:1\n";
    let text = format!("name: big\nservices:\n{}", service.repeat(5 * 1024 * 1024 / service.len()));
    c.open(uri, &text);
    let diags = c.diagnostics(uri, 1);
    assert_eq!(codes(&diags), vec!["NK011"]);
    let limit = 4 * 1024 * 1024;
    assert_eq!(diags[0]["range"]["start"]["line"], text[..limit].matches('\n').count(), "{}", diags[0]);
    // Requests on it answer (with nothing much), and the server is still alive for the next file.
    c.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 5}}));
    c.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 4}}));
    c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    let small = "file:///tmp/nk-small/nanokit.yml";
    c.open(small, "name: ok\nservices:\n  a:\n    imag: x\n");
    assert!(codes(&c.diagnostics(small, 1)).contains(&"NK002".to_string()));
    c.shutdown();
}

#[test]
fn variables_and_secrets_in_the_editor() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "# local only\nAPI_TAG=2.4.1\nDB_PASSWORD=hunter2-from-dotenv\n").unwrap();
    let file = dir.path().join("nanokit.yml");
    let text = "name: demo\nservices:\n  api:\n    image: shop/api:${API_TAG}\n    env:\n      MODE: ${MODE:-dev}\n      GITHUB_TOKEN: ghp_x\n    secrets:\n      DB_PASSWORD: env:DB_PASSWORD\n      STRIPE_KEY: env:NK_LSP_TEST_NEVER_SET\n      CERT: \n";
    std::fs::write(&file, text).unwrap();
    let uri = format!("file://{}", file.display());
    let mut c = Client::start();
    c.open(&uri, text);
    let diags = c.diagnostics(&uri, 1);
    // A plain token is flagged with a fix; a secret whose source is unset is not a problem here.
    assert!(codes(&diags).contains(&"NK070".to_string()), "{diags:?}");
    assert!(!codes(&diags).iter().any(|c| c == "NK063" || c == "NK068"), "{diags:?}");

    // Hover on `${API_TAG}`: the resolved value and where it came from.
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": pos(text, "shop/api:", 3)}));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("`shop/api:2.4.1`") && value.contains("`$API_TAG` from .env line 2"), "{value}");
    // Hover on a secret: its source and whether up can read it, never its value.
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": pos(text, "env:DB_PASSWORD", 5)}));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("secret `DB_PASSWORD`") && value.contains("set (in .env line 3)"), "{value}");
    assert!(!value.contains("hunter2"), "{value}");
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": pos(text, "env:NK_LSP", 5)}));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("not readable now") && value.contains("NK_LSP_TEST_NEVER_SET"), "{value}");
    // The resolved service lists its secrets by source.
    let hover = c.request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": pos(text, "  api:", 3)}));
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains("| DB_PASSWORD | •••• (env:DB_PASSWORD) |"), "{value}");
    assert!(!value.contains("hunter2"), "{value}");

    // Completion of a secret's source offers the secret's own variable and the forms.
    let got =
        labels(&c.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": pos(text, "      CERT: ", 12)})));
    for expected in ["env:CERT", "env:API_TAG", "file:./", "aws-ssm:/", "aws-sm:"] {
        assert!(got.contains(&expected.to_string()), "{expected} missing from {got:?}");
    }

    // The quick fix moves the token to `secrets:`.
    let nk070 = diags.iter().find(|d| d["code"] == "NK070").unwrap().clone();
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": nk070["range"], "context": {"diagnostics": [nk070]}}),
    );
    let action = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap_or_default().starts_with("Move `GITHUB_TOKEN`"))
        .expect("the fix");
    let edits = action["edit"]["changes"][&uri].as_array().unwrap();
    assert!(edits.iter().any(|e| e["newText"] == "      GITHUB_TOKEN: env:GITHUB_TOKEN\n"), "{edits:?}");
    assert!(edits.iter().any(|e| e["newText"] == ""), "the plain value is removed: {edits:?}");
    c.shutdown();
}
