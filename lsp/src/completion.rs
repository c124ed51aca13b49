//! Completion from the cursor context (raw text) and the last model that parsed.

use crate::context::{self, CursorContext, Slot};
use crate::documents::Snapshot;
use nanokit_core::provider_support;
use nanokit_core::runtimes::BUILTIN_RUNTIMES;
use nanokit_core::schema::{self, KeyInfo};
use nanokit_core::{names, Span};

/// What the cursor can complete to, in the server's own terms; `convert::completion_items`
/// makes LSP items of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completions {
    /// The typed prefix each item replaces.
    pub replace: Span,
    pub items: Vec<Completion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    /// Markdown.
    pub documentation: Option<String>,
    /// The text inserted, when it is not the label (a key with its indented body).
    pub insert: Option<String>,
    /// What the client matches the typed prefix against, when it is not the label.
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Property,
    Module,
    Reference,
    Variable,
    Value,
    EnumMember,
}

struct Names {
    services: Vec<String>,
    runtimes: Vec<String>,
    /// Variables the .env files define, with where (for `${…}` and `env:` values).
    dotenv: Vec<(String, String)>,
}

fn names_from(good: Option<&Snapshot>) -> Names {
    let Some(project) = good.map(|s| &s.analysis.project) else {
        return Names { services: vec![], runtimes: BUILTIN_RUNTIMES.iter().map(|r| r.id.to_string()).collect(), dotenv: vec![] };
    };
    let mut runtimes: Vec<String> = project.runtimes.keys().cloned().collect();
    for r in BUILTIN_RUNTIMES {
        if !runtimes.iter().any(|x| x == r.id) {
            runtimes.push(r.id.to_string());
        }
    }
    let dotenv =
        good.map_or_else(Vec::new, |s| s.variables.from_files().into_iter().map(|(k, v)| (k.to_string(), v.source.to_string())).collect());
    Names { services: project.services.keys().cloned().collect(), runtimes, dotenv }
}

pub fn complete(text: &str, offset: usize, good: Option<&Snapshot>) -> Completions {
    let ctx = context::at(text, offset);
    let names = names_from(good);
    let existing = existing_keys(&ctx, good);
    let items: Vec<Completion> = match &ctx.slot {
        Slot::Key => key_items(&ctx, &names, &existing),
        Slot::Value { key } => value_items(&ctx, key, &names),
        Slot::ListItem { key } if key == "depends_on" => {
            let this = service_of(&ctx);
            names
                .services
                .iter()
                .filter(|s| Some(s.as_str()) != this.as_deref())
                .map(|s| simple(s, CompletionKind::Reference, "service"))
                .collect()
        }
        Slot::ListItem { .. } => Vec::new(),
    };
    Completions { replace: Span::new(ctx.prefix_start, offset), items }
}

/// The service a cursor is inside (`services.<s>` or an override of `<s>`).
fn service_of(ctx: &CursorContext) -> Option<String> {
    match ctx.path.as_slice() {
        [s, name, ..] if s == "services" => Some(name.clone()),
        [e, _, s, name, ..] if e == "environments" && s == "services" => Some(name.clone()),
        _ => None,
    }
}

/// Keys already present in the mapping at the cursor, from the last model that parsed
/// (re-parsing a large file on every completion would cost more than the answer is worth).
fn existing_keys(ctx: &CursorContext, good: Option<&Snapshot>) -> Vec<String> {
    good.and_then(|g| {
        g.analysis.document.node(&ctx.pointer()).map(|n| n.entries().iter().map(|e| e.key.key_text().into_owned()).collect::<Vec<_>>())
    })
    .unwrap_or_default()
    .into_iter()
    .filter(|k| *k != ctx.prefix)
    .collect()
}

fn key_items(ctx: &CursorContext, names: &Names, existing: &[String]) -> Vec<Completion> {
    let path: Vec<&str> = ctx.path.iter().map(String::as_str).collect();
    let fresh = |s: &String| !existing.contains(s);
    match path.as_slice() {
        ["services"] => Vec::new(),
        ["runtimes"] => BUILTIN_RUNTIMES
            .iter()
            .filter(|r| fresh(&r.id.to_string()))
            .map(|r| {
                let mut item = simple(r.id, CompletionKind::Module, &format!("built-in runtime ({})", r.image));
                item.insert = Some(format!("{}:\n{}image: {}", r.id, " ".repeat(ctx.indent + 2), r.image));
                item
            })
            .collect(),
        ["environments"] => ["local", "stage", "prod"]
            .iter()
            .map(|s| s.to_string())
            .filter(|s| fresh(s))
            .map(|e| {
                let mut item = simple(&e, CompletionKind::Module, "environment");
                let pad = " ".repeat(ctx.indent + 2);
                item.insert = Some(format!("{e}:\n{pad}infra:\n{pad}  provider: {}", if e == "local" { "docker" } else { "aws" }));
                item
            })
            .collect(),
        ["environments", _, "services"] => names
            .services
            .iter()
            .filter(|s| fresh(s))
            .map(|s| {
                let mut item = simple(s, CompletionKind::Reference, "override this service");
                item.insert = Some(format!("{s}:\n{}", " ".repeat(ctx.indent + 2)));
                item
            })
            .collect(),
        [.., "env"] => Vec::new(),
        _ => {
            let parent = ctx.pointer();
            schema::keys_at(&parent).into_iter().filter(|k| fresh(&k.name)).map(|k| key_item(&k, &parent, ctx.indent)).collect()
        }
    }
}

fn key_item(key: &KeyInfo, parent: &str, indent: usize) -> Completion {
    let inner = " ".repeat(indent + 2);
    let insert = match key.kind.as_deref() {
        Some("object") => format!("{}:\n{inner}", key.name),
        Some("array") => format!("{}:\n{inner}- ", key.name),
        _ => format!("{}: ", key.name),
    };
    Completion {
        label: key.name.clone(),
        kind: CompletionKind::Property,
        detail: key.kind.clone(),
        documentation: key_documentation(key, parent),
        insert: Some(insert),
        filter: None,
    }
}

/// The key's description, and what each built-in provider does with it when that differs.
fn key_documentation(key: &KeyInfo, parent: &str) -> Option<String> {
    let pointer = format!("{parent}/{}", nanokit_core::document::escape(&key.name));
    let support = provider_support::key_of_pointer(&pointer).and_then(|k| provider_support::describe(&k));
    match (&key.description, support) {
        (Some(d), Some(s)) => Some(format!("{d}\n\n{s}")),
        (d, s) => d.clone().or(s),
    }
}

fn value_items(ctx: &CursorContext, key: &str, names: &Names) -> Vec<Completion> {
    let in_env = ctx.path.last().is_some_and(|p| p == "env");
    if in_env {
        let mut vars: Vec<Completion> = names
            .services
            .iter()
            .map(|s| simple(&names::url_variable(s), CompletionKind::Variable, &format!("primary hostname of `{s}`")))
            .collect();
        for (v, what) in names::injected::DESCRIBED {
            vars.push(simple(v, CompletionKind::Variable, &format!("set by nanokit: {what}")));
        }
        for (name, source) in &names.dotenv {
            vars.push(simple(&format!("${{{name}}}"), CompletionKind::Variable, &format!("from {source}")));
        }
        return vars;
    }
    // A secret's source: `NAME: <here>` under `secrets`, or its `from:`.
    let secret_name = match ctx.path.as_slice() {
        [.., last] if last == "secrets" => Some(key.to_string()),
        [.., secrets, name] if secrets == "secrets" && key == "from" => Some(name.clone()),
        _ => None,
    };
    if let Some(name) = secret_name {
        let mut items =
            vec![simple(&format!("env:{name}"), CompletionKind::Value, "read from this variable (environment or .env) when deploying")];
        for (var, source) in &names.dotenv {
            if *var != name {
                items.push(simple(&format!("env:{var}"), CompletionKind::Value, &format!("defined in {source}")));
            }
        }
        for (v, detail) in [
            ("file:./", "read from a file, relative to nanokit.yml"),
            ("aws-ssm:/", "an AWS SSM parameter, read by ECS at start (provider aws)"),
            ("aws-sm:", "an AWS Secrets Manager secret, read by ECS at start (provider aws)"),
        ] {
            items.push(simple(v, CompletionKind::Value, detail));
        }
        return items;
    }
    match key {
        "runtime" => names.runtimes.iter().map(|r| simple(r, CompletionKind::Module, "runtime")).collect(),
        "version" => vec![{
            let mut item = simple("\"1\"", CompletionKind::Value, "format version");
            item.filter = Some("1".into());
            item
        }],
        // The engine address of an environment (`services.<s>.host` is a hostname: nothing to offer).
        "host" if ctx.path.last().is_some_and(|p| p == "infra") => [
            ("ssh://", "the engine of another machine, over ssh: ssh://user@host[:port]"),
            ("tcp://", "an engine on plain TCP: tcp://host:port"),
            ("unix:///var/run/docker.sock", "the local engine's socket"),
        ]
        .iter()
        .map(|(v, detail)| simple(v, CompletionKind::Value, detail))
        .collect(),
        "depends_on" => names
            .services
            .iter()
            .map(|s| {
                let mut item = simple(s, CompletionKind::Reference, "service");
                item.insert = Some(format!("[{s}]"));
                item
            })
            .collect(),
        _ => {
            let pointer = format!("{}/{}", ctx.pointer(), nanokit_core::document::escape(key));
            let info = schema::key_info(&pointer);
            let values = info.as_ref().map(|i| i.values.clone()).unwrap_or_default();
            if !values.is_empty() {
                return values.iter().map(|v| simple(v, CompletionKind::EnumMember, key)).collect();
            }
            if info.as_ref().and_then(|i| i.kind.as_deref()) == Some("boolean") {
                return ["true", "false"].iter().map(|v| simple(v, CompletionKind::Value, key)).collect();
            }
            Vec::new()
        }
    }
}

fn simple(label: &str, kind: CompletionKind, detail: &str) -> Completion {
    Completion { label: label.to_string(), kind, detail: Some(detail.to_string()), documentation: None, insert: None, filter: None }
}
