//! The nanokit language server. Every diagnostic, resolution and schema fact comes from
//! nanokit-core; this crate translates positions and speaks LSP.

pub mod actions;
pub mod analyzer;
pub mod completion;
pub mod context;
pub mod convert;
pub mod documents;
pub mod hover;
pub mod live;
pub mod navigation;
pub mod outline;
pub mod workspace;

use analyzer::Analyzer;
use documents::{snapshot, Snapshot, Store};
use nanokit_core::project_set;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

/// Serve LSP on stdin/stdout until the client exits.
pub fn run_stdio() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let (service, socket) = LspService::new(Backend::new);
        // One message at a time: edits must apply in the order they were sent. Handlers are
        // cheap; analysis is spawned off the loop.
        Server::new(tokio::io::stdin(), tokio::io::stdout(), socket).concurrency_level(1).serve(service).await;
    });
}

#[derive(Debug, Default)]
struct Config {
    /// Environment hover and inlay hints resolve (`initializationOptions.environment`).
    environment: String,
    /// The client pulls diagnostics (LSP 3.17); then we do not push them.
    pull_diagnostics: bool,
    folders: Vec<PathBuf>,
    /// `initializationOptions.liveStatus`.
    live: live::Options,
    /// The client asks for code lenses again on `workspace/codeLens/refresh`.
    lens_refresh: bool,
    /// The client shows `$/progress` of work the server starts.
    work_done_progress: bool,
    /// The client opens documents on `window/showDocument`.
    show_document: bool,
}

#[derive(Debug, Clone)]
struct Shared {
    client: Client,
    store: Store,
    config: Arc<Mutex<Config>>,
    /// Analyses of nanokit.yml files in the workspace that are not open, for cross-file checks.
    workspace_files: Arc<Mutex<HashMap<PathBuf, Arc<Snapshot>>>>,
    analyzer: Arc<Analyzer>,
    /// What runs, per open file (opt-in).
    live: Arc<live::Live>,
    /// A code lens refresh is on its way (refreshes are debounced).
    lens_refresh_pending: Arc<std::sync::atomic::AtomicBool>,
    /// A private folder (0700, removed on exit) for the output of the commands lenses run.
    scratch: Arc<Option<tempfile::TempDir>>,
}

#[derive(Debug)]
pub struct Backend {
    shared: Shared,
}

impl Backend {
    pub fn new(client: Client) -> Self {
        Backend {
            shared: Shared {
                client,
                store: Store::default(),
                config: Arc::new(Mutex::new(Config { environment: "local".into(), ..Config::default() })),
                workspace_files: Arc::default(),
                analyzer: Arc::new(Analyzer::start()),
                live: Arc::default(),
                lens_refresh_pending: Arc::default(),
                scratch: Arc::new(tempfile::Builder::new().prefix("nanokit-lsp-").tempdir().ok()),
            },
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run a handler body; a panic becomes a logged internal error instead of a dead server.
fn guard<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let msg =
            panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
        eprintln!("nanokit-lsp: internal error in {what}: {msg}");
        Error::internal_error()
    })
}

fn file_path(uri: &Uri) -> Option<PathBuf> {
    uri.to_file_path().map(|p| p.into_owned())
}

impl Shared {
    fn environment(&self) -> String {
        lock(&self.config).environment.clone()
    }

    /// Analyse `version` of a document off the message loop, then publish its diagnostics.
    fn refresh(&self, uri: Uri, text: String, version: i32) {
        let this = self.clone();
        tokio::spawn(async move {
            let store = this.store.clone();
            let key = uri.clone();
            let base_dir = file_path(&uri).and_then(|p| p.parent().map(|d| d.to_path_buf()));
            let job = this.analyzer.run(move || {
                // A newer edit has arrived: its own refresh will do the work.
                if store.version(&key).is_some_and(|v| v > version) {
                    return None;
                }
                Some(Arc::new(snapshot(text, version, base_dir, None)))
            });
            match job.await {
                Some(Some(snapshot)) => {
                    if let Ok(displaced) = this.store.set_snapshot(&uri, snapshot.clone()) {
                        this.follow_live(&uri, &snapshot);
                        this.publish_all().await;
                        this.analyzer.drop_later(displaced);
                    }
                }
                Some(None) => {}
                None => eprintln!("nanokit-lsp: analysis of {} failed", uri.as_str()),
            }
        });
    }

    /// Diagnostics of one open document: core's, plus the findings against the other files of
    /// its project in the workspace (the core's [`project_set`], as `nkdev validate` runs it).
    fn diagnostics_for(&self, uri: &Uri, snapshot: &Snapshot) -> Vec<Diagnostic> {
        let doc = &snapshot.analysis.document;
        let mut out: Vec<Diagnostic> =
            snapshot.analysis.diagnostics.iter().map(|d| convert::diagnostic(d, uri, &doc.lines, &doc.text)).collect();
        if let Some(path) = file_path(uri) {
            let mut files = self.project_files();
            // This document's own snapshot first: the one whose findings are wanted.
            files.retain(|(p, _)| *p != path);
            let members: Vec<project_set::Member<'_>> = std::iter::once(project_set::Member { path: &path, analysis: &snapshot.analysis })
                .chain(files.iter().map(|(p, s)| project_set::Member { path: p, analysis: &s.analysis }))
                .collect();
            out.extend(project_set::findings_for(&members, 0).iter().map(|d| convert::diagnostic(d, uri, &doc.lines, &doc.text)));
        }
        out
    }

    /// Open documents, and workspace files that are not open.
    fn project_files(&self) -> Vec<(PathBuf, Arc<Snapshot>)> {
        let mut files: HashMap<PathBuf, Arc<Snapshot>> = lock(&self.workspace_files).clone();
        for (uri, snap) in self.store.snapshots() {
            if let Some(p) = file_path(&uri) {
                files.insert(p, snap);
            }
        }
        files.into_iter().collect()
    }

    async fn publish_all(&self) {
        if lock(&self.config).pull_diagnostics {
            return;
        }
        for (uri, snapshot) in self.store.snapshots() {
            let diags = guard("diagnostics", || self.diagnostics_for(&uri, &snapshot)).unwrap_or_default();
            self.client.publish_diagnostics(uri, diags, Some(snapshot.version)).await;
        }
    }

    /// Start following what runs for this file, when live status is on.
    fn follow_live(&self, uri: &Uri, snapshot: &Snapshot) {
        let options = lock(&self.config).live.clone();
        if !options.enable {
            return;
        }
        if let Some(path) = file_path(uri) {
            let this = self.clone();
            let changed: Arc<dyn Fn() + Send + Sync> = Arc::new(move || this.lenses_changed());
            self.live.ensure(&options, &path, &self.environment(), snapshot, changed);
        }
    }

    /// Ask the client for the lenses again, at most once per burst of changes.
    fn lenses_changed(&self) {
        use std::sync::atomic::Ordering;
        if !lock(&self.config).lens_refresh || self.lens_refresh_pending.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            this.lens_refresh_pending.store(false, Ordering::SeqCst);
            let _ = this.client.code_lens_refresh().await;
        });
    }

    /// Run `nkdev <args>` for a lens or code action, with work-done progress, and report a
    /// failure with nkdev's own message.
    async fn run_nkdev(&self, title: String, args: Vec<String>) -> Option<String> {
        let (command, progress) = {
            let c = lock(&self.config);
            (c.live.command.clone(), c.work_done_progress)
        };
        // Its output goes to files, not pipes: an editor that quits mid-deploy must not turn
        // the deploy's next line into a broken pipe (the deploy finishes, its lock released).
        static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let Some(dir) = self.scratch.as_ref().as_ref().map(|d| d.path().to_path_buf()) else {
            self.client.show_message(MessageType::ERROR, format!("{title}: no temporary folder for nkdev's output")).await;
            return None;
        };
        let token = NumberOrString::String(format!("nanokit-{n}"));
        let progress = if progress
            && self
                .client
                .send_request::<request::WorkDoneProgressCreate>(WorkDoneProgressCreateParams { token: token.clone() })
                .await
                .is_ok()
        {
            Some(self.client.progress(token, title.clone()).with_message(format!("{command} {}", args.join(" "))).begin().await)
        } else {
            None
        };
        let (out_path, err_path) = (dir.join(format!("run-{n}.out")), dir.join(format!("run-{n}.err")));
        let output = async {
            let out = std::fs::File::create(&out_path)?;
            let err = std::fs::File::create(&err_path)?;
            let status = tokio::process::Command::new(&command)
                .args(&args)
                .stdin(std::process::Stdio::null())
                .stdout(out)
                .stderr(err)
                .status()
                .await?;
            let read = |p: &PathBuf| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            Ok::<_, std::io::Error>((status, read(&out_path), read(&err_path)))
        }
        .await;
        let _ = (std::fs::remove_file(&out_path), std::fs::remove_file(&err_path));
        let result = match output {
            Ok((status, stdout, _)) if status.success() => Ok(stdout),
            Ok((_, _, stderr)) => {
                let err = stderr;
                let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
                Err(format!("{title} failed: {}", lines[lines.len().saturating_sub(8)..].join("\n")))
            }
            Err(e) => Err(format!("{title}: cannot run `{command}` ({e}); install nkdev or set the liveStatus.command setting")),
        };
        if let Some(p) = progress {
            p.finish_with_message(if result.is_ok() { "done" } else { "failed" }).await;
        }
        match result {
            Ok(out) => Some(out),
            Err(message) => {
                self.client.show_message(MessageType::ERROR, message).await;
                None
            }
        }
    }

    /// A lens or code action: deploy, show the logs of, or restart a service.
    async fn service_action(&self, action: live::Action, uri: Uri, service: String) {
        let Some(path) = file_path(&uri) else { return };
        let env = self.environment();
        let file = path.display().to_string();
        let common = |mut v: Vec<String>| {
            v.extend(["--env".to_string(), env.clone(), "--file".to_string(), file.clone()]);
            v
        };
        match action {
            live::Action::Deploy => {
                let args = common(vec!["up".into(), service.clone(), "--progress".into(), "plain".into()]);
                if self.run_nkdev(format!("Deploying {service}"), args).await.is_some() {
                    self.client.show_message(MessageType::INFO, format!("{service} is deployed ({env})")).await;
                }
            }
            live::Action::Restart => {
                let args = common(vec!["restart".into(), service.clone()]);
                if self.run_nkdev(format!("Restarting {service}"), args).await.is_some() {
                    self.client.show_message(MessageType::INFO, format!("{service} restarted ({env})")).await;
                }
            }
            live::Action::Logs => {
                let args = common(vec!["logs".into(), service.clone(), "--tail".into(), "200".into()]);
                let Some(text) = self.run_nkdev(format!("Reading the logs of {service}"), args).await else { return };
                let Some(dir) = self.scratch.as_ref().as_ref().map(|d| d.path().to_path_buf()) else { return };
                let file = dir.join(format!("{service}.{env}.log"));
                let written = std::fs::write(&file, text.as_bytes());
                let shown = match (written, lock(&self.config).show_document, Uri::from_file_path(&file)) {
                    (Ok(()), true, Some(uri)) => {
                        Some(ShowDocumentParams { uri, external: Some(false), take_focus: Some(true), selection: None })
                    }
                    _ => None,
                };
                match shown {
                    Some(params) => {
                        let _ = self.client.show_document(params).await;
                    }
                    None => {
                        let tail: Vec<&str> = text.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
                        self.client.show_message(MessageType::INFO, format!("logs of {service}:\n{}", tail.join("\n"))).await;
                    }
                }
            }
        }
    }

    fn snapshot_at(&self, uri: &Uri) -> Result<Arc<Snapshot>> {
        self.store.snapshot(uri).ok_or_else(|| Error::invalid_params(format!("{} is not open", uri.as_str())))
    }
}

fn offset_in(snapshot: &Snapshot, pos: Position) -> usize {
    let doc = &snapshot.analysis.document;
    convert::offset(&doc.lines, &doc.text, pos)
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        {
            let mut config = lock(&self.shared.config);
            if let Some(env) = params.initialization_options.as_ref().and_then(|o| o.get("environment")).and_then(|e| e.as_str()) {
                config.environment = env.to_string();
            }
            config.pull_diagnostics = params.capabilities.text_document.as_ref().and_then(|t| t.diagnostic.as_ref()).is_some();
            config.live = live::Options::from_init(params.initialization_options.as_ref());
            config.lens_refresh =
                params.capabilities.workspace.as_ref().and_then(|w| w.code_lens.as_ref()).and_then(|c| c.refresh_support).unwrap_or(false);
            let window = params.capabilities.window.as_ref();
            config.work_done_progress = window.and_then(|w| w.work_done_progress).unwrap_or(false);
            config.show_document = window.and_then(|w| w.show_document.as_ref()).is_some_and(|s| s.support);
            let mut folders: Vec<PathBuf> = params.workspace_folders.unwrap_or_default().iter().filter_map(|f| file_path(&f.uri)).collect();
            #[allow(deprecated)] // older clients (Neovim 0.7) only send rootUri
            if folders.is_empty() {
                folders.extend(params.root_uri.as_ref().and_then(file_path));
            }
            config.folders = folders;
        }
        let pull = lock(&self.shared.config).pull_diagnostics;
        Ok(InitializeResult {
            server_info: Some(ServerInfo { name: "nanokit-lsp".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..TextDocumentSyncOptions::default()
                })),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some([":", " ", "-", "[", ",", "_", "{"].iter().map(|s| s.to_string()).collect()),
                    ..CompletionOptions::default()
                }),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })),
                document_symbol_provider: Some(OneOf::Left(true)),
                folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
                document_link_provider: Some(DocumentLinkOptions {
                    resolve_provider: Some(false),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                }),
                inlay_hint_provider: Some(OneOf::Left(true)),
                code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: live::Action::ALL.iter().map(|a| a.command().to_string()).collect(),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                }),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    ..CodeActionOptions::default()
                })),
                diagnostic_provider: pull.then(|| {
                    DiagnosticServerCapabilities::Options(DiagnosticOptions {
                        identifier: Some("nanokit".into()),
                        inter_file_dependencies: true,
                        ..DiagnosticOptions::default()
                    })
                }),
                workspace: Some(WorkspaceServerCapabilities {
                    workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                        supported: Some(true),
                        change_notifications: Some(OneOf::Left(true)),
                    }),
                    file_operations: None,
                }),
                ..ServerCapabilities::default()
            },
            ..InitializeResult::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let folders = lock(&self.shared.config).folders.clone();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let loaded = tokio::task::spawn_blocking(move || {
                nanokit_core::project_set::discover(&folders)
                    .into_iter()
                    .filter_map(|p| workspace::load(&p).map(|s| (p, s)))
                    .collect::<HashMap<_, _>>()
            })
            .await;
            if let Ok(files) = loaded {
                *lock(&shared.workspace_files) = files;
                shared.publish_all().await;
            }
        });
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let mut config = lock(&self.shared.config);
        config.folders.retain(|f| !params.event.removed.iter().any(|r| file_path(&r.uri).as_ref() == Some(f)));
        config.folders.extend(params.event.added.iter().filter_map(|f| file_path(&f.uri)));
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.shared.store.open(doc.uri.clone(), &doc.text, doc.version);
        self.shared.refresh(doc.uri, doc.text, doc.version);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        if let Some((text, version)) = self.shared.store.change(&uri, params.text_document.version, params.content_changes) {
            self.shared.refresh(uri, text, version);
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        // The folders a file points to may have changed on disk: analyse again.
        let uri = params.text_document.uri;
        if let Some((text, version)) = self.shared.store.text(&uri) {
            if let Some(path) = file_path(&uri) {
                lock(&self.shared.workspace_files).remove(&path);
            }
            self.shared.refresh(uri, text, version);
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.shared.store.close(&uri);
        if let Some(path) = file_path(&uri) {
            self.shared.live.stop(&path);
        }
        if let Some(snapshot) = file_path(&uri).and_then(|p| workspace::load(&p).map(|s| (p, s))) {
            lock(&self.shared.workspace_files).insert(snapshot.0, snapshot.1);
        }
        self.shared.client.publish_diagnostics(uri, Vec::new(), None).await;
    }

    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        let uri = params.text_document.uri;
        // Pull requests may arrive before the first analysis finished: analyse inline then.
        let snapshot = match self.shared.store.snapshot(&uri) {
            Some(s) if Some(s.version) == self.shared.store.version(&uri) => s,
            _ => {
                let (text, version) = self.shared.store.text(&uri).ok_or_else(|| Error::invalid_params("document is not open"))?;
                let base = file_path(&uri).and_then(|p| p.parent().map(|d| d.to_path_buf()));
                let snap = Arc::new(guard("analysis", || snapshot(text, version, base, None))?);
                if let Ok(displaced) = self.shared.store.set_snapshot(&uri, snap.clone()) {
                    self.shared.analyzer.drop_later(displaced);
                }
                snap
            }
        };
        let items = guard("diagnostics", || self.shared.diagnostics_for(&uri, &snapshot))?;
        Ok(DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Full(RelatedFullDocumentDiagnosticReport {
            related_documents: None,
            full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id: Some(snapshot.version.to_string()), items },
        })))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let uri = params.text_document_position.text_document.uri;
        let Some((text, _)) = self.shared.store.text(&uri) else { return Ok(None) };
        let good = self.shared.store.last_good(&uri);
        let pos = params.text_document_position.position;
        guard("completion", || {
            let lines = nanokit_core::LineIndex::new(&text);
            let offset = convert::offset(&lines, &text, pos);
            Some(CompletionResponse::Array(convert::completion_items(&completion::complete(&text, offset, good.as_deref()), &lines, &text)))
        })
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let uri = params.text_document_position_params.text_document.uri;
        let Some(snapshot) = self.shared.store.last_good(&uri) else { return Ok(None) };
        let env = self.shared.environment();
        let live = file_path(&uri).and_then(|p| self.shared.live.state(&p));
        guard("hover", || {
            let offset = offset_in(&snapshot, params.text_document_position_params.position);
            let (mut text, span) = hover::hover(&snapshot, offset, &env)?;
            let service =
                nanokit_core::symbols::at(&snapshot.occurrences, offset).filter(|o| o.kind == nanokit_core::symbols::SymbolKind::Service);
            if let Some(facts) = service.zip(live.as_ref()).and_then(|(o, state)| live::hover_facts(state, &o.name)) {
                text.push_str("\n\n---\n\n");
                text.push_str(&facts);
            }
            Some(convert::hover(&snapshot, text, span))
        })
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        let uri = params.text_document_position_params.text_document.uri;
        let snapshot = self.shared.snapshot_at(&uri)?;
        guard("definition", || {
            let offset = offset_in(&snapshot, params.text_document_position_params.position);
            navigation::definition(&snapshot, offset).map(|span| GotoDefinitionResponse::Scalar(convert::location(&snapshot, &uri, span)))
        })
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let uri = params.text_document_position.text_document.uri;
        let snapshot = self.shared.snapshot_at(&uri)?;
        guard("references", || {
            let offset = offset_in(&snapshot, params.text_document_position.position);
            navigation::references(&snapshot, offset, params.context.include_declaration)
                .map(|spans| spans.into_iter().map(|span| convert::location(&snapshot, &uri, span)).collect())
        })
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        let snapshot = self.shared.snapshot_at(&params.text_document.uri)?;
        guard("prepareRename", || {
            let offset = offset_in(&snapshot, params.position);
            navigation::prepare(&snapshot, offset).map(|(span, placeholder)| PrepareRenameResponse::RangeWithPlaceholder {
                range: convert::snapshot_range(&snapshot, span),
                placeholder,
            })
        })?
        .map(Some)
        .map_err(Error::invalid_params)
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let uri = params.text_document_position.text_document.uri;
        let snapshot = self.shared.snapshot_at(&uri)?;
        guard("rename", || {
            let offset = offset_in(&snapshot, params.text_document_position.position);
            navigation::rename(&snapshot, offset, &params.new_name).map(|edits| convert::workspace_edit(&snapshot, &uri, &edits))
        })?
        .map(Some)
        .map_err(Error::invalid_params)
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        let Some(snapshot) = self.shared.store.last_good(&params.text_document.uri) else { return Ok(None) };
        guard("documentSymbol", || {
            Some(DocumentSymbolResponse::Nested(
                outline::symbols(&snapshot).iter().map(|s| convert::document_symbol(&snapshot, s)).collect(),
            ))
        })
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        let Some(snapshot) = self.shared.store.last_good(&params.text_document.uri) else { return Ok(None) };
        guard("foldingRange", || Some(outline::folding(&snapshot).into_iter().map(convert::folding_range).collect()))
    }

    async fn document_link(&self, params: DocumentLinkParams) -> Result<Option<Vec<DocumentLink>>> {
        let Some(snapshot) = self.shared.store.snapshot(&params.text_document.uri) else { return Ok(None) };
        guard("documentLink", || Some(outline::links(&snapshot).iter().filter_map(|l| convert::document_link(&snapshot, l)).collect()))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let Some(snapshot) = self.shared.store.snapshot(&params.text_document.uri) else { return Ok(None) };
        let env = self.shared.environment();
        guard("inlayHint", || Some(outline::inlay_hints(&snapshot, &env).iter().map(|h| convert::inlay_hint(&snapshot, h)).collect()))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let uri = params.text_document.uri;
        let Some(snapshot) = self.shared.store.last_good(&uri) else { return Ok(None) };
        let Some(state) = file_path(&uri).and_then(|p| self.shared.live.state(&p)) else { return Ok(None) };
        guard("codeLens", || Some(live::lenses(&snapshot, &state).iter().map(|l| convert::code_lens(&snapshot, &uri, l)).collect()))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        let action = live::Action::from_command(&params.command)
            .ok_or_else(|| Error::invalid_params(format!("unknown command {}", params.command)))?;
        let (uri, service) =
            convert::command_target(&params.arguments).ok_or_else(|| Error::invalid_params("expected [{uri, service}]"))?;
        // Only a service of the open file: the name becomes an argument of nkdev.
        let known = self.shared.store.last_good(&uri).is_some_and(|s| {
            s.analysis.environment(&self.shared.environment()).is_some_and(|e| e.resolved.services.contains_key(&service))
        });
        if !known || !nanokit_core::names::is_dns_label(&service) {
            return Err(Error::invalid_params(format!("`{service}` is not a service of {}", uri.as_str())));
        }
        let shared = self.shared.clone();
        tokio::spawn(async move { shared.service_action(action, uri, service).await });
        Ok(None)
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        let Some(snapshot) = self.shared.store.snapshot(&uri) else { return Ok(None) };
        let live = lock(&self.shared.config).live.enable;
        guard("codeAction", || {
            let doc = &snapshot.analysis.document;
            let start = convert::offset(&doc.lines, &doc.text, params.range.start);
            let end = convert::offset(&doc.lines, &doc.text, params.range.end);
            let mut out: Vec<CodeActionOrCommand> =
                actions::quick_fixes(&snapshot, start, end).iter().map(|f| convert::code_action(&snapshot, &uri, f)).collect();
            // With live status on, the service under the cursor can be deployed, restarted, or
            // its logs shown, as its lenses offer.
            let service =
                nanokit_core::symbols::at(&snapshot.occurrences, start).filter(|o| o.kind == nanokit_core::symbols::SymbolKind::Service);
            if let (true, Some(service)) = (live, service) {
                out.extend(live::Action::ALL.iter().map(|a| convert::service_command(&uri, &service.name, *a)));
            }
            Some(out)
        })
    }
}
