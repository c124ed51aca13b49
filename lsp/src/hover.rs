//! Hover: the resolved service (with the origin of every value), runtime usage, key docs.

use crate::documents::Snapshot;
use nanokit_core::resolve::{ResolvedEnvironment, ResolvedService, Sourced};
use nanokit_core::symbols::{self, SymbolKind};
use std::fmt::Write;

pub fn hover(snapshot: &Snapshot, offset: usize, env: &str) -> Option<(String, nanokit_core::Span)> {
    if let Some(occ) = symbols::at(&snapshot.occurrences, offset) {
        let text = match occ.kind {
            SymbolKind::Service => service_markdown(snapshot, &occ.name, env)?,
            SymbolKind::Runtime => runtime_markdown(snapshot, &occ.name, env),
        };
        return Some((text, occ.span));
    }
    let doc = &snapshot.analysis.document;
    let (pointer, on_key) = doc.pointer_at(offset)?;
    let loc = doc.location(&pointer)?;
    if !on_key {
        if let Some(text) = interpolation_markdown(doc, &pointer).or_else(|| secret_markdown(snapshot, &pointer)) {
            return Some((text, loc.value));
        }
    }
    // List indices and map keys stay as they are: the schema walker handles both.
    let info = nanokit_core::schema::key_info(&pointer)?;
    let mut text = format!("**{}**", info.name);
    if let Some(kind) = &info.kind {
        let _ = write!(text, " · `{kind}`");
    }
    if let Some(d) = &info.description {
        let _ = write!(text, "\n\n{d}");
    }
    if !info.values.is_empty() {
        let _ = write!(text, "\n\nOne of: {}", info.values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "));
    }
    if let Some(support) =
        nanokit_core::provider_support::key_of_pointer(&pointer).and_then(|k| nanokit_core::provider_support::describe(&k))
    {
        let _ = write!(text, "\n\n{support}");
    }
    Some((text, loc.key.unwrap_or(loc.value)))
}

/// A `${VAR}` value: what it resolves to and which variables it read. The value is hidden
/// when the variable's name or value looks like a secret.
fn interpolation_markdown(doc: &nanokit_core::document::Document, pointer: &str) -> Option<String> {
    let interpolation = doc.interpolated.get(pointer)?;
    let value = doc.json.pointer(pointer)?;
    let value = value.as_str().map_or_else(|| value.to_string(), str::to_string);
    let shown = if nanokit_core::secrets::hidden(doc, Some(pointer), &value) {
        nanokit_core::secrets::REDACTED.to_string()
    } else {
        format!("`{value}`")
    };
    let mut out = format!(
        "**`{}`** → {shown}

",
        interpolation.template
    );
    for u in &interpolation.uses {
        let _ = match &u.source {
            Some(source) => writeln!(out, "- `${}` from {source}", u.name),
            None => writeln!(out, "- `${}` is not set", u.name),
        };
    }
    Some(out)
}

/// A secret's source: where it is read and whether `nkdev up` could read it now, never the
/// value (hover is shown on screens, shared and recorded).
fn secret_markdown(snapshot: &Snapshot, pointer: &str) -> Option<String> {
    let parts: Vec<String> = pointer.split('/').skip(1).map(nanokit_core::document::unescape).collect();
    let name = match parts.as_slice() {
        [.., secrets, name] if secrets == "secrets" => name,
        [.., secrets, name, from] if secrets == "secrets" && from == "from" => name,
        _ => return None,
    };
    let text = snapshot.analysis.document.json.pointer(pointer)?.as_str()?;
    let source = nanokit_core::secrets::SecretSource::parse(text).ok()?;
    let base = snapshot.base_dir.as_deref().unwrap_or(std::path::Path::new("."));
    let status = if source.is_cloud() {
        "read by ECS when the task starts (the deploy checks that it exists)".to_string()
    } else {
        match nanokit_core::secrets::read_local(&source, &snapshot.variables, base) {
            Ok(_) => match &source {
                nanokit_core::secrets::SecretSource::Env(var) => {
                    let from = snapshot.variables.get(var).map(|v| v.source.to_string()).unwrap_or_default();
                    format!("set (in {from}); `nkdev up` can read it")
                }
                _ => "readable; `nkdev up` can read it".to_string(),
            },
            Err(problem) => format!("**not readable now**: {problem}. `nkdev up` stops until it is; `validate` does not mind"),
        }
    };
    Some(format!(
        "**secret `{name}`** = {}\n\nRead from `{source}` when deploying and given to the service; never written to the file, labels, state or nkdev's output.\n\n{status}",
        nanokit_core::secrets::REDACTED
    ))
}

/// Which environment hover resolves: the configured one if the file has it, else `local`,
/// else the first environment analysed.
pub fn pick_environment<'a>(snapshot: &'a Snapshot, wanted: &str) -> Option<&'a ResolvedEnvironment> {
    let envs = &snapshot.analysis.environments;
    envs.get(wanted).or_else(|| envs.get("local")).or_else(|| envs.values().next()).map(|e| &e.resolved)
}

/// One row of the resolved service; a value read from the environment that looks like a
/// secret (`start: app --token ${API_TOKEN}`) is hidden.
fn row<T: std::fmt::Display>(out: &mut String, doc: &nanokit_core::document::Document, field: &str, value: Option<&Sourced<T>>) {
    if let Some(v) = value {
        let text = v.value.to_string();
        if nanokit_core::secrets::hidden(doc, v.pointer.as_deref(), &text) {
            let _ = writeln!(out, "| {field} | {} | {} |", nanokit_core::secrets::REDACTED, v.origin);
        } else {
            let _ = writeln!(out, "| {field} | `{text}` | {} |", v.origin);
        }
    }
}

pub fn service_markdown(snapshot: &Snapshot, name: &str, env: &str) -> Option<String> {
    let resolved = pick_environment(snapshot, env)?;
    let service: &ResolvedService = resolved.services.get(name)?;
    let mut out = format!("**{name}** — resolved for environment `{}` ({})\n\n", resolved.env, resolved.provider.as_str());
    out.push_str("| field | value | from |\n|---|---|---|\n");
    let _ = writeln!(out, "| container | `{}` | derived |", service.internal_host);
    row(&mut out, &snapshot.analysis.document, "runtime", service.runtime.as_ref());
    row(&mut out, &snapshot.analysis.document, "image", service.image.as_ref());
    row(&mut out, &snapshot.analysis.document, "path", service.path.as_ref());
    row(&mut out, &snapshot.analysis.document, "expose", service.expose.as_ref());
    row(&mut out, &snapshot.analysis.document, "host", service.host.as_ref());
    row(&mut out, &snapshot.analysis.document, "install", service.install.as_ref());
    row(&mut out, &snapshot.analysis.document, "start", service.start.as_ref());
    if !service.depends_on.is_empty() {
        let deps: Vec<String> = service.depends_on.iter().map(|d| format!("`{}` ({})", d.value, d.origin)).collect();
        let _ = write!(out, "\n**depends on**: {}\n", deps.join(", "));
    }
    out.push_str("\n**environment**\n\n| variable | value | from |\n|---|---|---|\n");
    for (k, v) in &resolved.environment(service) {
        // A value read from the environment may be a secret the user has not moved yet.
        row(&mut out, &snapshot.analysis.document, k, Some(v));
    }
    if !service.secrets.is_empty() {
        out.push_str("\n**secrets** (read when deploying, never shown)\n\n| variable | source | from |\n|---|---|---|\n");
        for (k, v) in &service.secrets {
            let _ = writeln!(out, "| {k} | {} | {} |", v.value.redacted(), v.origin);
        }
    }
    Some(out)
}

fn runtime_markdown(snapshot: &Snapshot, id: &str, env: &str) -> String {
    let project = &snapshot.analysis.project;
    let mut out = format!("**runtime `{id}`**");
    if let Some(builtin) = nanokit_core::runtimes::builtin(id) {
        let _ = write!(
            out,
            "\n\nBuilt-in defaults: image `{}`, install `{}`, start `{}`, port `{}`; discovered from `{}`.",
            builtin.image,
            builtin.install.unwrap_or("(none)"),
            builtin.start.unwrap_or("(image default)"),
            builtin.port,
            builtin.marker
        );
    }
    if let Some(declared) = project.runtimes.get(id) {
        if let Some(image) = &declared.image {
            let _ = write!(out, "\n\nDeclared image: `{image}`");
        }
        if !declared.depends_on.is_empty() {
            let _ = write!(out, "\n\nEvery service of this runtime waits for: {}", declared.depends_on.join(", "));
        }
    }
    let users: Vec<String> = pick_environment(snapshot, env)
        .map(|e| {
            e.services.values().filter(|s| s.runtime.as_ref().is_some_and(|r| r.value == id)).map(|s| format!("`{}`", s.name)).collect()
        })
        .unwrap_or_default();
    if users.is_empty() {
        out.push_str("\n\nNo service uses it.");
    } else {
        let _ = write!(out, "\n\nUsed by {} service{}: {}", users.len(), if users.len() == 1 { "" } else { "s" }, users.join(", "));
    }
    out
}
