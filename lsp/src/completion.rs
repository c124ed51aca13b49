//! Completion from the cursor context (raw text) and the last model that parsed.

use crate::context::{self, CursorContext, Slot};
use crate::convert;
use crate::documents::Snapshot;
use nanokit_core::provider_support;
use nanokit_core::runtimes::BUILTIN_RUNTIMES;
use nanokit_core::schema::{self, KeyInfo};
use nanokit_core::{names, LineIndex, Span};
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat, MarkupContent, MarkupKind, TextEdit,
};

struct Names {
    services: Vec<String>,
    runtimes: Vec<String>,
    environments: Vec<String>,
    /// Variables the .env files define, with where (for `${…}` and `env:` values).
    dotenv: Vec<(String, String)>,
}

fn names_from(good: Option<&Snapshot>) -> Names {
    let Some(project) = good.map(|s| &s.analysis.project) else {
        return Names {
            services: vec![],
            runtimes: BUILTIN_RUNTIMES.iter().map(|r| r.id.to_string()).collect(),
            environments: vec![],
            dotenv: vec![],
        };
    };
    let mut runtimes: Vec<String> = project.runtimes.keys().cloned().collect();
    for r in BUILTIN_RUNTIMES {
        if !runtimes.iter().any(|x| x == r.id) {
            runtimes.push(r.id.to_string());
        }
    }
    let dotenv =
        good.map_or_else(Vec::new, |s| s.variables.from_files().into_iter().map(|(k, v)| (k.to_string(), v.source.to_string())).collect());
    Names {
        services: project.services.keys().cloned().collect(),
        runtimes,
        environments: project.environments.keys().cloned().collect(),
        dotenv,
    }
}

pub fn complete(text: &str, offset: usize, good: Option<&Snapshot>) -> Vec<CompletionItem> {
    let ctx = context::at(text, offset);
    let lines = LineIndex::new(text);
    let range = convert::range(&lines, text, Span::new(ctx.prefix_start, offset));
    let names = names_from(good);
    let existing = existing_keys(&ctx, good);
    let mut items: Vec<CompletionItem> = match &ctx.slot {
        Slot::Key => key_items(&ctx, &names, &existing),
        Slot::Value { key } => value_items(&ctx, key, &names),
        Slot::ListItem { key } if key == "depends_on" => {
            let this = service_of(&ctx);
            names
                .services
                .iter()
                .filter(|s| Some(s.as_str()) != this.as_deref())
                .map(|s| simple(s, CompletionItemKind::REFERENCE, "service"))
                .collect()
        }
        Slot::ListItem { .. } => Vec::new(),
    };
    for item in &mut items {
        let new_text = item.insert_text.take().unwrap_or_else(|| item.label.clone());
        item.text_edit = Some(CompletionTextEdit::Edit(TextEdit { range, new_text }));
    }
    items
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

fn key_items(ctx: &CursorContext, names: &Names, existing: &[String]) -> Vec<CompletionItem> {
    let path: Vec<&str> = ctx.path.iter().map(String::as_str).collect();
    let fresh = |s: &String| !existing.contains(s);
    match path.as_slice() {
        ["services"] => Vec::new(),
        ["runtimes"] => BUILTIN_RUNTIMES
            .iter()
            .filter(|r| fresh(&r.id.to_string()))
            .map(|r| {
                let mut item = simple(r.id, CompletionItemKind::MODULE, &format!("built-in runtime ({})", r.image));
                item.insert_text = Some(format!("{}:\n{}image: {}", r.id, " ".repeat(ctx.indent + 2), r.image));
                item
            })
            .collect(),
        ["environments"] => ["local", "stage", "prod"]
            .iter()
            .map(|s| s.to_string())
            .filter(|s| fresh(s))
            .map(|e| {
                let mut item = simple(&e, CompletionItemKind::MODULE, "environment");
                let pad = " ".repeat(ctx.indent + 2);
                item.insert_text = Some(format!("{e}:\n{pad}infra:\n{pad}  provider: {}", if e == "local" { "docker" } else { "aws" }));
                item
            })
            .collect(),
        ["environments", _, "services"] => names
            .services
            .iter()
            .filter(|s| fresh(s))
            .map(|s| {
                let mut item = simple(s, CompletionItemKind::REFERENCE, "override this service");
                item.insert_text = Some(format!("{s}:\n{}", " ".repeat(ctx.indent + 2)));
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

fn key_item(key: &KeyInfo, parent: &str, indent: usize) -> CompletionItem {
    let inner = " ".repeat(indent + 2);
    let insert = match key.kind.as_deref() {
        Some("object") => format!("{}:\n{inner}", key.name),
        Some("array") => format!("{}:\n{inner}- ", key.name),
        _ => format!("{}: ", key.name),
    };
    CompletionItem {
        label: key.name.clone(),
        kind: Some(CompletionItemKind::PROPERTY),
        detail: key.kind.clone(),
        documentation: key_documentation(key, parent).map(|d| markdown(&d)),
        insert_text: Some(insert),
        insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
        ..CompletionItem::default()
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

fn value_items(ctx: &CursorContext, key: &str, names: &Names) -> Vec<CompletionItem> {
    let in_env = ctx.path.last().is_some_and(|p| p == "env");
    if in_env {
        let mut vars: Vec<CompletionItem> = names
            .services
            .iter()
            .map(|s| simple(&names::url_variable(s), CompletionItemKind::VARIABLE, &format!("primary hostname of `{s}`")))
            .collect();
        for (v, what) in names::injected::DESCRIBED {
            vars.push(simple(v, CompletionItemKind::VARIABLE, &format!("set by nanokit: {what}")));
        }
        for (name, source) in &names.dotenv {
            vars.push(simple(&format!("${{{name}}}"), CompletionItemKind::VARIABLE, &format!("from {source}")));
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
            vec![simple(&format!("env:{name}"), CompletionItemKind::VALUE, "read from this variable (environment or .env) when deploying")];
        for (var, source) in &names.dotenv {
            if *var != name {
                items.push(simple(&format!("env:{var}"), CompletionItemKind::VALUE, &format!("defined in {source}")));
            }
        }
        for (v, detail) in [
            ("file:./", "read from a file, relative to nanokit.yml"),
            ("aws-ssm:/", "an AWS SSM parameter, read by ECS at start (provider aws)"),
            ("aws-sm:", "an AWS Secrets Manager secret, read by ECS at start (provider aws)"),
        ] {
            items.push(simple(v, CompletionItemKind::VALUE, detail));
        }
        return items;
    }
    match key {
        "runtime" => names.runtimes.iter().map(|r| simple(r, CompletionItemKind::MODULE, "runtime")).collect(),
        "version" => vec![{
            let mut item = simple("\"1\"", CompletionItemKind::VALUE, "format version");
            item.filter_text = Some("1".into());
            item
        }],
        // The engine address of an environment (`services.<s>.host` is a hostname: nothing to offer).
        "host" if ctx.path.last().is_some_and(|p| p == "infra") => [
            ("ssh://", "the engine of another machine, over ssh: ssh://user@host[:port]"),
            ("tcp://", "an engine on plain TCP: tcp://host:port"),
            ("unix:///var/run/docker.sock", "the local engine's socket"),
        ]
        .iter()
        .map(|(v, detail)| simple(v, CompletionItemKind::VALUE, detail))
        .collect(),
        "depends_on" => names
            .services
            .iter()
            .map(|s| {
                let mut item = simple(s, CompletionItemKind::REFERENCE, "service");
                item.insert_text = Some(format!("[{s}]"));
                item
            })
            .collect(),
        _ => {
            let pointer = format!("{}/{}", ctx.pointer(), nanokit_core::document::escape(key));
            let info = schema::key_info(&pointer);
            let values = info.as_ref().map(|i| i.values.clone()).unwrap_or_default();
            if !values.is_empty() {
                return values.iter().map(|v| simple(v, CompletionItemKind::ENUM_MEMBER, key)).collect();
            }
            if info.as_ref().and_then(|i| i.kind.as_deref()) == Some("boolean") {
                return ["true", "false"].iter().map(|v| simple(v, CompletionItemKind::VALUE, key)).collect();
            }
            let _ = &names.environments;
            Vec::new()
        }
    }
}

fn simple(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem { label: label.to_string(), kind: Some(kind), detail: Some(detail.to_string()), ..CompletionItem::default() }
}

fn markdown(text: &str) -> Documentation {
    Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: text.to_string() })
}
