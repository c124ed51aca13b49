//! The rules about secrets: sources that parse (NK067), sources the provider can deliver
//! (NK068), a name in both `env` and `secrets` (NK069), and the guard rail that spots a
//! secret written as a plain `env` value (NK070), with a fix that moves it to `secrets:`.

use crate::diagnostic::{Code, Diagnostic, Edit, Fix};
use crate::document::{pointer, Document};
use crate::model::{EnvValue, Project, ProviderId, SecretDelivery, SecretSpec};
use crate::resolve::{Origin, ResolvedEnvironment};
use crate::secrets::{looks_secret, secret_name, Secret};
use crate::source::Span;
use indexmap::IndexMap;

/// One place that writes `env` and `secrets`: its pointer segments and both maps.
type Maps<'a> = (Vec<&'a str>, &'a IndexMap<String, EnvValue>, &'a IndexMap<String, SecretSpec>);

/// Every `env` and `secrets` map the file writes: services, runtimes, environment overrides.
fn maps(project: &Project) -> Vec<Maps<'_>> {
    let mut out = Vec::new();
    for (name, s) in &project.services {
        out.push((vec!["services", name.as_str()], &s.env, &s.secrets));
    }
    for (id, r) in &project.runtimes {
        out.push((vec!["runtimes", id.as_str()], &r.env, &r.secrets));
    }
    for (env, e) in &project.environments {
        for (name, s) in &e.services {
            out.push((vec!["environments", env.as_str(), "services", name.as_str()], &s.env, &s.secrets));
        }
    }
    out
}

pub fn project_rules(project: &Project, doc: &Document, out: &mut Vec<Diagnostic>) {
    for (base, env, secrets) in maps(project) {
        for (name, spec) in secrets {
            let mut at: Vec<&str> = base.clone();
            at.extend(["secrets", name.as_str()]);
            if !crate::names::is_env_name(name) {
                out.push(
                    Diagnostic::new(
                        Code::InvalidSecretSource,
                        doc.key_span_of(&pointer(&at)),
                        format!("secret name `{name}` is not a variable name"),
                    )
                    .label("becomes an environment variable")
                    .help("use letters, digits and `_`, not starting with a digit"),
                );
            }
            if let Err(problem) = Secret::from_spec(spec) {
                if matches!(spec, SecretSpec::Detailed(_)) {
                    at.push("from");
                }
                out.push(
                    Diagnostic::new(Code::InvalidSecretSource, doc.span_of(&pointer(&at)), format!("secret `{name}`: {problem}"))
                        .label("not a secret source")
                        .help("write `env:VAR`, `file:./path`, `aws-ssm:/parameter/path` or `aws-sm:name-or-arn`"),
                );
            }
        }
        for (key, value) in env {
            let text = value.to_string();
            let mut at: Vec<&str> = base.clone();
            at.extend(["env", key.as_str()]);
            let p = pointer(&at);
            match doc.interpolated.get(&p) {
                // `KEY: ${DB_PASSWORD}`: Compose's habit, but the value becomes plain config
                // (printed by `config`, stored as is by providers); a secret reads it instead.
                Some(interpolation) => {
                    // The variable's name, or the key's when the value is that variable alone
                    // (`DB_PASSWORD: ${PW}`).
                    let alone = interpolation
                        .uses
                        .first()
                        .filter(|u| interpolation.uses.len() == 1 && interpolation.template == format!("${{{}}}", u.name));
                    let var = interpolation.uses.iter().find(|u| secret_name(&u.name)).or(alone.filter(|_| secret_name(key)));
                    if let Some(var) = var {
                        let whole = interpolation.template == format!("${{{}}}", var.name);
                        let why =
                            if secret_name(&var.name) { "it reads a variable named like a secret" } else { "its name says it is a secret" };
                        out.push(plain_secret(doc, &base, key, &var.name, &p, why, secrets.is_empty(), whole));
                    }
                }
                None => {
                    if let Some(why) = looks_secret(key, &text) {
                        out.push(plain_secret(doc, &base, key, key, &p, why, secrets.is_empty(), true));
                    }
                }
            }
        }
    }
}

/// NK070 for `env.<key>`; the fix (when `fixable`: the value is the variable alone, or
/// written in the file) makes it the secret `key: env:<var>`.
#[allow(clippy::too_many_arguments)]
fn plain_secret(
    doc: &Document,
    base: &[&str],
    key: &str,
    var: &str,
    entry: &str,
    why: &str,
    no_secrets_yet: bool,
    fixable: bool,
) -> Diagnostic {
    let span = doc.span_of(entry);
    let mut d = Diagnostic::new(Code::PlainSecret, span, format!("`{key}` looks like a secret ({why}) but is a plain `env` value"))
        .label("plain configuration: printed by `nkdev config`, stored as is by providers")
        .help(format!(
            "make it a secret (`secrets:` → `{key}: env:{var}`) and set `{var}` in the environment or in a .env that git ignores"
        ));
    if fixable {
        if let Some(fix) = move_to_secrets(doc, base, key, var, entry, no_secrets_yet) {
            d.fixes.push(fix);
        }
    }
    d
}

/// The fix: delete the `env` line (the whole `env:` block when it was the only entry) and add
/// `KEY: env:KEY` under `secrets:`. Offered for block-style maps only, where lines are entries.
fn move_to_secrets(doc: &Document, base: &[&str], key: &str, var: &str, entry: &str, no_secrets_yet: bool) -> Option<Fix> {
    let text = &doc.text;
    let entry_loc = doc.location(entry)?;
    let env_pointer = pointer(&[base, &["env"]].concat());
    let env_loc = doc.location(&env_pointer)?;
    let env_key = env_loc.key?;
    let starts_line = |span: Span| text[..span.start].rsplit('\n').next().is_some_and(|before| before.trim().is_empty());
    let entry_key = entry_loc.key?;
    if !starts_line(entry_key) || !starts_line(env_key) {
        return None;
    }
    let column = |span: Span| text[..span.start].rsplit('\n').next().map_or(0, str::len);
    let only_entry = doc.json.pointer(&env_pointer).and_then(|v| v.as_object()).is_some_and(|m| m.len() == 1);
    let removed = if only_entry {
        crate::source::line_removal_span(text, env_key.cover(env_loc.value))
    } else {
        crate::source::line_removal_span(text, entry_key.cover(entry_loc.value))
    };
    let child_indent = " ".repeat(column(entry_key));
    let line = format!("{child_indent}{key}: env:{var}\n");
    let insert = if no_secrets_yet {
        let at = crate::source::line_removal_span(text, env_key).start;
        Edit { span: Span::new(at, at), new_text: format!("{}secrets:\n{line}", " ".repeat(column(env_key))) }
    } else {
        let secrets_loc = doc.location(&pointer(&[base, &["secrets"]].concat()))?;
        let secrets_key = secrets_loc.key?;
        if !starts_line(secrets_key) {
            return None;
        }
        let at = crate::source::line_removal_span(text, secrets_key).end;
        Edit { span: Span::new(at, at), new_text: line }
    };
    // Edits apply to the original text: the insertion must not fall inside the removed range.
    if insert.span.start > removed.start && insert.span.start < removed.end {
        return None;
    }
    Some(Fix {
        title: format!("Move `{key}` to `secrets:` (read from ${var} at deploy time)"),
        edits: vec![insert, Edit { span: removed, new_text: String::new() }],
    })
}

pub fn environment_rules(env: &ResolvedEnvironment, doc: &Document, out: &mut Vec<Diagnostic>) {
    for (name, service) in &env.services {
        for (key, secret) in &service.secrets {
            let span = doc.span_of(secret.pointer.as_deref().unwrap_or_default());
            if secret.value.source.is_cloud() && env.provider != ProviderId::AWS {
                out.push(
                    Diagnostic::new(
                        Code::SecretUnsupported,
                        span,
                        format!(
                            "secret `{key}` of `{name}` is read from `{}`, which provider `{}` of environment `{}` cannot read",
                            secret.value.source,
                            env.provider.as_str(),
                            env.env
                        ),
                    )
                    .label("AWS reads this at task start")
                    .help("use `env:VAR` or `file:./path`, or declare this secret only under `environments.<env>.services` of the environments that can read it"),
                );
            }
            if secret.value.delivery == SecretDelivery::File && env.provider != ProviderId::DOCKER {
                out.push(
                    Diagnostic::new(
                        Code::SecretUnsupported,
                        span,
                        format!(
                            "secret `{key}` of `{name}` asks for `as: file`, which provider `{}` does not offer",
                            env.provider.as_str()
                        ),
                    )
                    .label("files under /run/secrets are a Docker delivery")
                    .help("remove `as: file`; the secret becomes an environment variable"),
                );
            }
            if key.starts_with(crate::interpolate::RESERVED_PREFIX) || service.env.get(key).is_some_and(|v| v.origin == Origin::Injected) {
                out.push(
                    Diagnostic::new(
                        Code::SecretShadowsEnv,
                        doc.key_span_of(secret.pointer.as_deref().unwrap_or_default()),
                        format!("secret `{key}` of service `{name}` has the name of a variable nanokit sets"),
                    )
                    .label("set by nanokit")
                    .help("rename the secret; `NANOKIT_*` and `PORT` are nanokit's"),
                );
            }
            if let Some(plain) = service.env.get(key).filter(|v| v.origin != Origin::Injected) {
                let mut d = Diagnostic::new(
                    Code::SecretShadowsEnv,
                    doc.key_span_of(secret.pointer.as_deref().unwrap_or_default()),
                    format!("`{key}` of service `{name}` is both a secret and an `env` variable"),
                )
                .label("also set in `env`")
                .help("keep one: the secret, if the value must stay out of the file");
                if let Some(p) = &plain.pointer {
                    d = d.related(doc.span_of(p), "the plain value is set here");
                }
                out.push(d);
            }
            if secret.value.delivery == SecretDelivery::File {
                let file_var = format!("{key}_FILE");
                let taken = service
                    .env
                    .get(&file_var)
                    .and_then(|v| v.pointer.clone())
                    .or_else(|| service.secrets.get(&file_var).and_then(|s| s.pointer.clone()));
                if let Some(p) = taken {
                    out.push(
                        Diagnostic::new(
                            Code::SecretShadowsEnv,
                            doc.key_span_of(&p),
                            format!("`{file_var}` is set by nanokit to the path of secret `{key}` (`as: file`)"),
                        )
                        .help(format!("remove `{file_var}` from `env`")),
                    );
                }
            }
        }
    }
}
