//! `${VAR}` interpolation in string values, with Compose's forms:
//!
//! | form              | unset            | set but empty    |
//! |-------------------|------------------|------------------|
//! | `${VAR}`          | "" + warning     | ""               |
//! | `${VAR:-default}` | default          | default          |
//! | `${VAR-default}`  | default          | ""               |
//! | `${VAR:?message}` | error            | error            |
//! | `${VAR?message}`  | error            | ""               |
//! | `${VAR:+other}`   | ""               | ""  (else other) |
//! | `${VAR+other}`    | ""               | other            |
//!
//! `$$` is a literal `$`. Unlike Compose, a bare `$VAR` is left as it is: start commands are
//! shell lines (`exec app --port $PORT`) whose variables belong to the container, and nanokit
//! files written before interpolation existed rely on that. So is `${NANOKIT_…}`: nanokit's
//! injected variables (`${NANOKIT_URL_HUB}`) belong to the service. Defaults may hold `${…}`.

use crate::diagnostic::{Code, Diagnostic};
use crate::document::Document;
use crate::provenance::{Interpolation, VarUse};
use crate::source::Span;
use crate::variables::Variables;
use serde_json::Value as Json;
use std::ops::Range;

/// Variables nanokit injects into every service start with this; `${NANOKIT_…}` is left as
/// written for the service to read, never taken from the deploying machine.
pub const RESERVED_PREFIX: &str = "NANOKIT_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// `${VAR}` with VAR unset and no default.
    Unset { name: String },
    /// `${VAR:?message}` / `${VAR?message}` with VAR missing.
    Required { name: String, message: String },
    /// Not an interpolation nanokit can read (`${`, `${}`, `${1X}`).
    Syntax { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub range: Range<usize>,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    pub value: String,
    pub uses: Vec<VarUse>,
    pub problems: Vec<Problem>,
}

/// True when a string has anything interpolation would change (`${` or `$$`).
pub fn needs_interpolation(template: &str) -> bool {
    template.contains("${") || template.contains("$$")
}

/// How deep defaults may nest (`${A:-${B:-…}}`): far beyond any real file, and it bounds the
/// recursion and the rescans a crafted 4 MiB value could otherwise cause.
pub const MAX_NESTING: usize = 16;

pub fn interpolate(template: &str, vars: &Variables) -> Interpolated {
    let mut out = Interpolated { value: String::with_capacity(template.len()), uses: Vec::new(), problems: Vec::new() };
    let mut sink = Sink { vars, value: &mut out.value, uses: &mut out.uses, problems: &mut out.problems };
    expand(template, 0, 0, &mut sink);
    out
}

/// Where one interpolation writes: the value, the variables read, the problems found.
struct Sink<'a> {
    vars: &'a Variables,
    value: &'a mut String,
    uses: &'a mut Vec<VarUse>,
    problems: &'a mut Vec<Problem>,
}

/// Expand `text`, whose first byte is at `offset` in the outer template (for ranges), at
/// nesting `depth`.
fn expand(text: &str, offset: usize, depth: usize, out: &mut Sink<'_>) {
    if depth > MAX_NESTING {
        out.problems.push(Problem {
            range: offset..offset + text.len(),
            kind: ProblemKind::Syntax { message: format!("defaults nested more than {MAX_NESTING} deep") },
        });
        return;
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut literal_start = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        match bytes[i + 1] {
            b'$' => {
                out.value.push_str(&text[literal_start..i]);
                out.value.push('$');
                i += 2;
                literal_start = i;
            }
            b'{' => {
                out.value.push_str(&text[literal_start..i]);
                let Some(close) = matching_brace(bytes, i + 2) else {
                    out.problems.push(Problem {
                        range: offset + i..offset + text.len(),
                        kind: ProblemKind::Syntax { message: "`${` without its closing `}`".into() },
                    });
                    out.value.push_str(&text[i..]);
                    return;
                };
                let range = offset + i..offset + close + 1;
                if text[i + 2..close].starts_with(RESERVED_PREFIX) {
                    // nanokit's own variables (`${NANOKIT_URL_HUB}`) are the container's,
                    // set by the deploy; the deploying shell's value must not replace them.
                    out.value.push_str(&text[i..=close]);
                } else {
                    substitute(&text[i + 2..close], offset + i + 2, range, depth, out);
                }
                i = close + 1;
                literal_start = i;
            }
            _ => i += 1,
        }
    }
    out.value.push_str(&text[literal_start..]);
}

/// The index of the `}` closing a `${` whose body starts at `from` (nested `${…}` allowed).
fn matching_brace(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// One `${body}`; `body_offset` is where `body` starts in the outer template.
fn substitute(body: &str, body_offset: usize, range: Range<usize>, depth: usize, out: &mut Sink<'_>) {
    let name_end = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
    let (name, rest) = body.split_at(name_end);
    if !crate::names::is_env_name(name) {
        let message = if body.is_empty() {
            "`${}` names no variable".to_string()
        } else {
            format!("`${{{body}}}` is not a variable: names are letters, digits and `_`, not starting with a digit")
        };
        out.problems.push(Problem { range, kind: ProblemKind::Syntax { message } });
        return;
    }
    let var = out.vars.get(name);
    let set = var.is_some();
    let non_empty = var.is_some_and(|v| !v.value.is_empty());
    out.uses.push(VarUse { name: name.to_string(), range: range.clone(), source: var.map(|v| v.source.clone()) });
    let current = var.map(|v| v.value.as_str()).unwrap_or_default();
    let (op, arg) = split_operator(rest);
    let arg_offset = body_offset + name_end + op.len();
    match op {
        "" => {
            if !set {
                out.problems.push(Problem { range, kind: ProblemKind::Unset { name: name.to_string() } });
            }
            out.value.push_str(current);
        }
        ":-" | "-" => {
            let use_default = if op == ":-" { !non_empty } else { !set };
            if use_default {
                expand(arg, arg_offset, depth + 1, out);
            } else {
                out.value.push_str(current);
            }
        }
        ":?" | "?" => {
            let missing = if op == ":?" { !non_empty } else { !set };
            if missing {
                let message = if arg.is_empty() { format!("`{name}` must be set") } else { arg.to_string() };
                out.problems.push(Problem { range, kind: ProblemKind::Required { name: name.to_string(), message } });
            } else {
                out.value.push_str(current);
            }
        }
        ":+" | "+" => {
            let use_other = if op == ":+" { non_empty } else { set };
            if use_other {
                expand(arg, arg_offset, depth + 1, out);
            }
        }
        _ => out.problems.push(Problem {
            range,
            kind: ProblemKind::Syntax {
                message: format!("`${{{body}}}`: after the name, nanokit reads `}}`, `:-`, `-`, `:?`, `?`, `:+` or `+`"),
            },
        }),
    }
}

fn split_operator(rest: &str) -> (&str, &str) {
    for op in [":-", ":?", ":+", "-", "?", "+"] {
        if let Some(arg) = rest.strip_prefix(op) {
            return (op, arg);
        }
    }
    if rest.is_empty() {
        ("", "")
    } else {
        ("invalid", rest)
    }
}

/// Interpolate every string value of the document in place (its JSON view; the text and spans
/// stay as written) and report what could not be read, at the `${…}` that caused it.
///
/// A plain (unquoted) scalar that becomes a number or a boolean is read as one, so
/// `expose: ${PORT:-3000}` is a port, as in Compose; a quoted one stays a string.
pub fn apply(doc: &mut Document, vars: &Variables) -> Vec<Diagnostic> {
    let mut diagnostics: Vec<Diagnostic> = vars
        .errors
        .iter()
        .map(|e| {
            Diagnostic::new(Code::InvalidDotenv, doc.key_span_of(""), format!("{e}; its variables are not read"))
                .help("lines are `NAME=value`; quote values with spaces or `#`, and close every quote")
        })
        .collect();
    if !doc.text.contains('$') {
        return diagnostics;
    }
    let mut pointers: Vec<String> =
        doc.locations.keys().filter(|p| doc.json.pointer(p).and_then(Json::as_str).is_some_and(needs_interpolation)).cloned().collect();
    pointers.sort();
    for pointer in pointers {
        let Some(template) = doc.json.pointer(&pointer).and_then(Json::as_str).map(str::to_string) else { continue };
        let out = interpolate(&template, vars);
        let value_span = doc.span_of(&pointer);
        // Map a range of the value onto the text when the value is written as is (plain, or
        // quoted without escapes); otherwise the whole value is the best place to point at.
        let at = |range: &Range<usize>| -> Span {
            let raw = doc.text.get(value_span.start..value_span.end).unwrap_or_default();
            match raw.find(template.as_str()) {
                Some(p) => Span::new(value_span.start + p + range.start, value_span.start + p + range.end),
                None => value_span,
            }
        };
        for problem in &out.problems {
            diagnostics.push(diagnostic(problem, at(&problem.range), vars));
        }
        let quoted = doc.node(&pointer).is_some_and(|n| matches!(n.value, crate::yaml::Value::Str { quoted: true, .. }));
        let field = pointer.rsplit('/').next().unwrap_or_default();
        let typed = if quoted || !template.contains("${") { Json::String(out.value) } else { retype(field, out.value) };
        if let Some(slot) = doc.json.pointer_mut(&pointer) {
            *slot = typed;
        }
        if !out.uses.is_empty() {
            doc.interpolated.insert(pointer, Interpolation { template, uses: out.uses });
        }
    }
    diagnostics
}

/// Fields whose schema wants a number or a boolean. Everywhere else (env values, commands,
/// images) the text stays text: `ZIP: ${ZIP}` with ZIP=007 is "007", not 7.
const NUMBER_FIELDS: &[&str] = &["expose", "port", "retries", "min", "max", "count", "interval", "timeout"];
const BOOLEAN_FIELDS: &[&str] = &["shared", "autoCreateDomain"];

fn retype(field: &str, value: String) -> Json {
    if NUMBER_FIELDS.contains(&field) {
        // Only a number that prints back as written (`+5` and `007` stay text, and fail there).
        if let Ok(i) = value.parse::<i64>() {
            if i.to_string() == value {
                return Json::Number(i.into());
            }
        }
    }
    if BOOLEAN_FIELDS.contains(&field) && (value == "true" || value == "false") {
        return Json::Bool(value == "true");
    }
    Json::String(value)
}

fn diagnostic(problem: &Problem, span: Span, vars: &Variables) -> Diagnostic {
    match &problem.kind {
        ProblemKind::Unset { name } => {
            Diagnostic::new(Code::UnsetVariable, span, format!("variable `{name}` is not set; it is read as an empty string"))
                .label(format!("looked in {}", vars.searched()))
                .help(format!("set `{name}`, add it to .env beside nanokit.yml, or give a default: `${{{name}:-value}}`"))
        }
        ProblemKind::Required { name, message } => {
            Diagnostic::new(Code::RequiredVariable, span, format!("variable `{name}` is required: {message}"))
                .label(format!("looked in {}", vars.searched()))
                .help(format!("set `{name}` in the environment or in .env beside nanokit.yml"))
        }
        ProblemKind::Syntax { message } => Diagnostic::new(Code::InvalidInterpolation, span, message.clone())
            .help("write `${NAME}`, `${NAME:-default}` or `${NAME:?message}`; `$$` is a literal `$`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::VarSource;

    fn vars() -> Variables {
        Variables::from_pairs([("SET", "value"), ("EMPTY", ""), ("PORT", "8080")])
    }

    fn value(template: &str) -> String {
        let out = interpolate(template, &vars());
        assert!(out.problems.is_empty(), "{template}: {:?}", out.problems);
        out.value
    }

    #[test]
    fn forms() {
        assert_eq!(value("a-${SET}-b"), "a-value-b");
        assert_eq!(value("${UNSET:-fallback}"), "fallback");
        assert_eq!(value("${EMPTY:-fallback}"), "fallback");
        assert_eq!(value("${EMPTY-fallback}"), "");
        assert_eq!(value("${UNSET-fallback}"), "fallback");
        assert_eq!(value("${SET:-fallback}"), "value");
        assert_eq!(value("${SET:+other}|${EMPTY:+other}|${EMPTY+other}|${UNSET+other}"), "other||other|");
        assert_eq!(value("${UNSET:-${PORT}}"), "8080");
        assert_eq!(value("${UNSET:-http://${SET}:${PORT}/}"), "http://value:8080/");
        assert_eq!(value("${EMPTY?}"), "");
    }

    #[test]
    fn dollars() {
        assert_eq!(value("$$"), "$");
        assert_eq!(value("$${SET}"), "${SET}");
        assert_eq!(value("cost: $$5"), "cost: $5");
        // A bare $NAME belongs to the container's shell.
        assert_eq!(value("exec app --port $PORT"), "exec app --port $PORT");
        assert_eq!(value("trailing $"), "trailing $");
        // nanokit's own variables are the service's, even when the deploying shell has one.
        let vars = Variables::from_pairs([("NANOKIT_URL_HUB", "from-the-shell")]);
        let out = interpolate("http://${NANOKIT_URL_HUB}/x ${NANOKIT_ENV:-y}", &vars);
        assert_eq!((out.value.as_str(), out.uses.len(), out.problems.len()), ("http://${NANOKIT_URL_HUB}/x ${NANOKIT_ENV:-y}", 0, 0));
    }

    #[test]
    fn problems_carry_their_range() {
        let out = interpolate("x ${NOPE} y", &vars());
        assert_eq!(out.value, "x  y");
        assert_eq!(out.problems, vec![Problem { range: 2..9, kind: ProblemKind::Unset { name: "NOPE".into() } }]);
        assert_eq!(out.uses[0].source, None);

        let out = interpolate("${EMPTY:?set EMPTY to the database URL}", &vars());
        assert_eq!(out.problems[0].kind, ProblemKind::Required { name: "EMPTY".into(), message: "set EMPTY to the database URL".into() });
        let out = interpolate("${UNSET?}", &vars());
        assert_eq!(out.problems[0].kind, ProblemKind::Required { name: "UNSET".into(), message: "`UNSET` must be set".into() });

        for bad in ["${", "a ${SET", "${}", "${1X}", "${SET!x}", "${A B}"] {
            let out = interpolate(bad, &vars());
            assert!(matches!(out.problems.as_slice(), [Problem { kind: ProblemKind::Syntax { .. }, .. }]), "{bad}: {:?}", out.problems);
        }
        // Nesting is bounded: a crafted value is an error, not a stack overflow.
        let deep = format!("{}x{}", "${A:-".repeat(10_000), "}".repeat(10_000));
        let out = interpolate(&deep, &vars());
        assert!(
            out.problems.iter().any(|p| matches!(&p.kind, ProblemKind::Syntax { message } if message.contains("nested"))),
            "{:?}",
            out.problems.first()
        );
        // Nested problems point into the default.
        let out = interpolate("${UNSET:-${ALSO_UNSET}}", &vars());
        assert_eq!(out.problems[0].range, 9..22);
    }

    #[test]
    fn provenance() {
        let out = interpolate("${SET}", &vars());
        assert_eq!(out.uses, vec![VarUse { name: "SET".into(), range: 0..6, source: Some(VarSource::Process) }]);
        assert!(!needs_interpolation("plain $PORT"));
        assert!(needs_interpolation("${X}"));
    }
}
