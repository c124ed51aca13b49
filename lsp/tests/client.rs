//! A minimal LSP client for tests: frames JSON-RPC over the real server's stdio.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Generous: only reached when the server is broken, never a performance assertion.
const WAIT: Duration = Duration::from_secs(20);

/// The server under test: Cargo names it for tests; examples (benchmarks) find it beside themselves.
pub fn server_binary() -> std::path::PathBuf {
    match option_env!("CARGO_BIN_EXE_nanokit-lsp") {
        Some(p) => p.into(),
        None => std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("nanokit-lsp"),
    }
}

pub struct Client {
    pub child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    backlog: Vec<Value>,
    next_id: i64,
}

impl Client {
    pub fn start() -> Client {
        Self::start_with(json!({}))
    }

    /// `capabilities` are the client capabilities sent in `initialize`.
    pub fn start_with(capabilities: Value) -> Client {
        Self::start_full(capabilities, Value::Null, None)
    }

    pub fn start_full(capabilities: Value, options: Value, folders: Option<Vec<String>>) -> Client {
        let mut client = Self::spawn(Command::new(server_binary()));
        let result = client.initialize(capabilities, options, folders);
        assert!(result["capabilities"]["completionProvider"].is_object(), "{result}");
        client
    }

    /// Any language server over stdio (the benchmark drives peers with the same client).
    pub fn spawn(mut command: Command) -> Client {
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        length = v.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client { child, stdin, incoming: rx, backlog: Vec::new(), next_id: 1 }
    }

    /// `initialize` + `initialized`; returns the server's `InitializeResult`.
    pub fn initialize(&mut self, capabilities: Value, options: Value, folders: Option<Vec<String>>) -> Value {
        let folders = folders.map(|f| f.iter().map(|p| json!({"uri": format!("file://{p}"), "name": p})).collect::<Vec<_>>());
        let result = self.request("initialize", json!({"processId": null, "rootUri": null, "capabilities": capabilities, "initializationOptions": options, "workspaceFolders": folders}));
        self.notify("initialized", json!({}));
        result
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Send a request and return its `result` (panics on an error response).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    pub fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_for(|m| m["id"] == id && m.get("method").is_none())
    }

    /// The next message matching `pred`; other messages are kept for later waits.
    pub fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(msg) if pred(&msg) => return msg,
                Ok(msg) => {
                    // Answer server-to-client requests so the server is never left waiting.
                    if msg.get("id").is_some() && msg.get("method").is_some() {
                        let id = msg["id"].clone();
                        let result = configuration(&msg);
                        self.send(json!({"jsonrpc": "2.0", "id": id, "result": result}));
                    }
                    self.backlog.push(msg)
                }
                Err(RecvTimeoutError::Timeout) => panic!("no matching message from the server; got: {:#?}", self.backlog),
                Err(RecvTimeoutError::Disconnected) => panic!("the server exited"),
            }
        }
    }

    /// The next diagnostics published for `uri`, for servers that do not send a version
    /// (yaml-language-server); a versioned publish must be for `version`.
    pub fn next_diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let msg = self.wait_for(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && (m["params"]["version"].is_null() || m["params"]["version"] == version)
        });
        msg["params"]["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// Diagnostics published for `uri` at exactly `version`.
    pub fn diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let msg = self.wait_for(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri && m["params"]["version"] == version
        });
        msg["params"]["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}));
    }

    pub fn change(&mut self, uri: &str, version: i64, changes: Value) {
        self.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}));
    }

    pub fn shutdown(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "server exit status {status}");
    }
}

pub fn pos(text: &str, needle: &str, extra: usize) -> Value {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle} not in text")) + extra;
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let col: usize = before.rsplit('\n').next().unwrap().encode_utf16().count();
    json!({"line": line, "character": col})
}

/// The answer to a server's request: `workspace/configuration` gets one value per item (the
/// `yaml` section turns validation, completion and hover on, for yaml-language-server);
/// anything else gets `null`.
fn configuration(request: &Value) -> Value {
    if request["method"] != "workspace/configuration" {
        return Value::Null;
    }
    let items = request["params"]["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|item| match item["section"].as_str() {
            Some("yaml") => json!({"validate": true, "completion": true, "hover": true, "schemaStore": {"enable": false}}),
            _ => Value::Null,
        })
        .collect()
}
