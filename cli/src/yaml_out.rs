//! A small YAML emitter for the plain data `nkdev config` prints (maps, lists, scalars).
//!
//! Written here rather than pulling a serde YAML serializer because the output must also
//! carry `# origin` comments for `--explain`, which serializers cannot emit. Strings are
//! emitted plain only when the core YAML reader reads them back as the same string; every
//! other string is written JSON-quoted, which is valid YAML.

use serde_json::Value;

/// Objects of exactly `{value, from}` are printed as `value  # from` (the --explain form).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    emit(value, 0, &mut out, true);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn explained(value: &Value) -> Option<(&Value, &str)> {
    let obj = value.as_object()?;
    if obj.len() == 2 {
        if let (Some(v), Some(Value::String(from))) = (obj.get("value"), obj.get("from")) {
            return Some((v, from));
        }
    }
    None
}

fn emit(value: &Value, indent: usize, out: &mut String, top: bool) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if map.is_empty() => out.push_str(" {}\n"),
        Value::Array(items) if items.is_empty() => out.push_str(" []\n"),
        Value::Object(map) => {
            if !top {
                out.push('\n');
            }
            for (k, v) in map {
                out.push_str(&pad);
                out.push_str(&scalar_string(k));
                out.push(':');
                if let Some((inner, from)) = explained(v) {
                    emit_inline_or_block(inner, indent, out);
                    trim_newline(out);
                    out.push_str(&format!("  # {from}\n"));
                    continue;
                }
                emit_inline_or_block(v, indent, out);
            }
        }
        Value::Array(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&pad);
                out.push('-');
                if let Some((inner, from)) = explained(item) {
                    emit_inline_or_block(inner, indent, out);
                    trim_newline(out);
                    out.push_str(&format!("  # {from}\n"));
                    continue;
                }
                match item {
                    Value::Array(inner) if !inner.is_empty() && inner.iter().all(|v| !v.is_object() && !v.is_array()) => {
                        let parts: Vec<String> = inner.iter().map(scalar_text).collect();
                        out.push_str(&format!(" [{}]\n", parts.join(", ")));
                    }
                    Value::Object(m) if !m.is_empty() && explained(item).is_none() => {
                        // `- key: value` with following keys aligned under the first.
                        let mut nested = String::new();
                        emit(item, indent + 2, &mut nested, true);
                        out.push(' ');
                        out.push_str(nested.trim_start());
                    }
                    _ => emit_inline_or_block(item, indent, out),
                }
            }
        }
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn emit_inline_or_block(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(m) if !m.is_empty() => emit(value, indent + 2, out, false),
        Value::Array(a) if !a.is_empty() => emit(value, indent + 2, out, false),
        _ => {
            if !matches!(value, Value::Object(_) | Value::Array(_)) {
                out.push(' ');
            }
            emit(value, indent, out, false)
        }
    }
}

fn trim_newline(out: &mut String) {
    if out.ends_with('\n') {
        out.pop();
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s),
        _ => unreachable!("containers are emitted by `emit`"),
    }
}

/// Plain when it reads back as the same string, JSON-quoted otherwise.
fn scalar_string(s: &str) -> String {
    let plain_safe = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || " _-./@+$=,():".contains(c))
        && !s.starts_with([' ', '-', '@', '.', '$'])
        && !s.ends_with(' ')
        && matches!(nanokit_core::yaml::parse(&format!("k: {s}")).root.as_ref().and_then(|r| r.get("k")).map(|e| &e.value.value),
            Some(nanokit_core::yaml::Value::Str { text, .. }) if text == s);
    if plain_safe {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) {
        let text = to_yaml(v);
        let doc = nanokit_core::document::Document::parse(text.clone());
        assert!(doc.yaml.problems.is_empty(), "{text}");
        assert_eq!(&doc.json, v, "{text}");
    }

    #[test]
    fn emits_yaml_that_reads_back_the_same() {
        round_trip(&json!({"name": "demo", "n": 3, "t": true, "s": "true", "num": "3000", "empty": {}, "list": [],
            "services": {"api": {"env": {"A": "x: y", "B": "#c", "C": "", "D": "node:22-slim", "E": "npm start"}, "depends_on": ["a", "b"]}},
            "nested": [{"a": 1, "b": [1, 2]}, "x", [1]]}));
    }

    #[test]
    fn explained_values_get_comments() {
        let text = to_yaml(&json!({"image": {"value": "node:22-slim", "from": "runtime `node`"}}));
        assert_eq!(text, "image: node:22-slim  # runtime `node`\n");
    }
}
