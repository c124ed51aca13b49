//! The JSON Schema of nanokit.yml, generated from the model, and validation of a document
//! against it. Structural errors (unknown keys, wrong types, bad enum values, ranges) come
//! from here; semantic ones (cycles, unknown runtimes…) come from [`crate::check`].

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::document::{escape, Document};
use crate::model::Project;
use jsonschema::error::ValidationErrorKind;
use serde::Deserialize;
use serde_json::Value as Json;
use std::sync::OnceLock;

pub const SCHEMA_ID: &str = "https://nanokit.dev/schema/nanokit.schema.json";

/// The published schema (draft-07, as SchemaStore and yaml-language-server expect).
pub fn json_schema() -> &'static Json {
    static SCHEMA: OnceLock<Json> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let generator = schemars::generate::SchemaSettings::draft07().into_generator();
        let schema = generator.into_root_schema_for::<Project>();
        let mut json = serde_json::to_value(schema).expect("schema serialises");
        strip_null(&mut json);
        let obj = json.as_object_mut().expect("root schema is an object");
        // `name` is Option in the model (so a broken file still yields one) but required in the file.
        obj.insert("required".into(), serde_json::json!(["name"]));
        obj.insert("$id".into(), Json::String(SCHEMA_ID.into()));
        let mut ordered = serde_json::Map::new();
        for key in ["$schema", "$id", "title", "description"] {
            if let Some(v) = obj.remove(key) {
                ordered.insert(key.into(), v);
            }
        }
        ordered.extend(std::mem::take(obj));
        Json::Object(ordered)
    })
}

/// Options are "the key may be absent", not "the key may be null". Without the null branch an
/// error inside an optional block is reported on the bad field, not as a vague `anyOf` failure.
fn strip_null(schema: &mut Json) {
    match schema {
        Json::Object(obj) => {
            if let Some(Json::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".into(), only);
                }
            }
            let is_null = |b: &Json| b.get("type").and_then(Json::as_str) == Some("null");
            if let Some(Json::Array(branches)) = obj.get("anyOf") {
                if branches.len() == 2 && branches.iter().any(is_null) {
                    let keep = branches.iter().find(|b| !is_null(b)).cloned().unwrap_or_default();
                    obj.remove("anyOf");
                    if let Json::Object(inner) = keep {
                        for (k, v) in inner {
                            obj.entry(k).or_insert(v);
                        }
                    }
                }
            }
            obj.values_mut().for_each(strip_null);
        }
        Json::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options().with_draft(jsonschema::Draft::Draft7).build(json_schema()).expect("the generated schema is valid")
    })
}

/// Validate the document's JSON view; returns diagnostics and the typed model built from
/// everything that was valid (invalid values are dropped, so one typo does not hide the rest).
pub fn validate(doc: &Document) -> (Vec<Diagnostic>, Project) {
    let mut diagnostics = Vec::new();
    if doc.root().is_none() {
        if doc.yaml.problems.is_empty() {
            diagnostics.push(
                Diagnostic::new(Code::WrongType, crate::source::Span::new(0, 0), "the file is empty; a nanokit.yml needs at least `name`")
                    .help("start with `name: my-project`"),
            );
        }
        return (diagnostics, Project::default());
    }
    if !doc.json.is_object() {
        let what = doc.root().map_or("nothing", |n| n.type_name());
        let msg = if doc.json.is_null() {
            "the file is empty; a nanokit.yml needs at least `name`".to_string()
        } else {
            format!("nanokit.yml must be a mapping of keys, found {what}")
        };
        diagnostics.push(Diagnostic::new(Code::WrongType, doc.span_of(""), msg).help("start with `name: my-project`"));
        return (diagnostics, Project::default());
    }

    let mut remove = Vec::new();
    for error in validator().iter_errors(&doc.json) {
        let pointer = error.instance_path().as_str().to_string();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed: Vec<String> = keys_at(&pointer).into_iter().map(|k| k.name).collect();
                for key in unexpected {
                    let child = format!("{pointer}/{}", escape(key));
                    diagnostics.push(unknown_key(doc, &pointer, &child, key, &allowed));
                    remove.push(child);
                }
            }
            ValidationErrorKind::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                let span = doc.key_span_of(&pointer);
                let span = if pointer.is_empty() { crate::source::Span::new(0, 0) } else { span };
                diagnostics.push(
                    Diagnostic::new(Code::MissingKey, span, format!("missing required key `{property}`"))
                        .help(format!("add `{property}:`{}", describe_key(&pointer, property))),
                );
            }
            kind => {
                // One value, one error: `provider:` left empty fails both `type` and `enum`.
                if !remove.contains(&pointer) {
                    diagnostics.push(value_error(doc, &pointer, kind, error.instance()));
                    remove.push(pointer);
                }
            }
        }
    }
    let project = if remove.is_empty() {
        Project::deserialize(&doc.json).unwrap_or_default()
    } else {
        let mut pruned = doc.json.clone();
        for pointer in remove {
            remove_pointer(&mut pruned, &pointer);
        }
        serde_json::from_value(pruned).unwrap_or_default()
    };
    (diagnostics, project)
}

fn describe_key(parent: &str, key: &str) -> String {
    keys_at(parent).into_iter().find(|k| k.name == key).and_then(|k| k.description).map(|d| format!(" — {d}")).unwrap_or_default()
}

fn unknown_key(doc: &Document, parent: &str, child: &str, key: &str, allowed: &[String]) -> Diagnostic {
    let span = doc.key_span_of(child);
    let place = match parent {
        "" => "at the top level".to_string(),
        p => format!("in `{}`", human_path(p)),
    };
    let mut d = Diagnostic::new(Code::UnknownKey, span, format!("unknown key `{key}` {place}")).label("not a nanokit.yml key here");
    if let Some(best) = did_you_mean(key, allowed.iter().map(String::as_str)) {
        d = d.help(format!("did you mean `{best}`?")).fix(format!("Rename to `{best}`"), span, best);
    } else if !allowed.is_empty() {
        d = d.help(format!("allowed keys here: {}", allowed.join(", ")));
    }
    d
}

fn value_error(doc: &Document, pointer: &str, kind: &ValidationErrorKind, instance: &Json) -> Diagnostic {
    let span = doc.span_of(pointer);
    let found = doc.node(pointer).map_or("nothing", |n| n.type_name());
    let key = last_segment(pointer);
    let field = human_path(pointer);
    match kind {
        ValidationErrorKind::Type { kind } => {
            let expected = expected_types(&format!("{kind:?}"));
            let message = if found == "null" {
                format!("`{field}` has no value; it must be {expected}")
            } else {
                format!("`{field}` must be {expected}, found {found}")
            };
            Diagnostic::new(Code::WrongType, span, message).label(format!("expected {expected}"))
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_string)).collect())
                .unwrap_or_default();
            let got = instance.as_str().map_or_else(|| instance.to_string(), str::to_string);
            let mut d = Diagnostic::new(Code::InvalidValue, span, format!("invalid value `{got}` for `{key}`"))
                .label(format!("expected one of: {}", options.join(", ")));
            if key == "version" {
                d = d.help("the only version of the format is \"1\": write `version: \"1\"`");
            } else if let Some(best) = did_you_mean(&got, options.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{best}`?")).fix(format!("Change to `{best}`"), span, best);
            } else {
                d = d.help(format!("allowed values: {}", options.join(", ")));
            }
            d
        }
        ValidationErrorKind::Minimum { limit } | ValidationErrorKind::Maximum { limit } => {
            let what = if matches!(key.as_str(), "expose" | "port") {
                "a port must be between 1 and 65535".to_string()
            } else {
                format!("limit is {limit}")
            };
            Diagnostic::new(Code::OutOfRange, span, format!("`{field}` is out of range: {instance}")).label(what)
        }
        ValidationErrorKind::Pattern { .. } | ValidationErrorKind::MaxLength { .. } | ValidationErrorKind::MinLength { .. }
            if matches!(key.as_str(), "name" | "component") =>
        {
            let got = instance.as_str().unwrap_or_default();
            invalid_name(span, key.as_str(), got)
        }
        ValidationErrorKind::Pattern { .. } | ValidationErrorKind::MaxLength { .. } if key == "provider" => {
            let got = instance.as_str().unwrap_or_default();
            let why = crate::names::provider_id_problem(got).unwrap_or_else(|| "is not a provider id".into());
            let d = Diagnostic::new(Code::InvalidValue, span, format!("invalid provider id `{got}`: {why}"))
                .label("not a provider id")
                .help("a provider id is lowercase letters, digits and `-`, with `.` between parts (`fly.io`): it names the plugin `nkdev-provider-<id>`");
            // `Docker` or `AWS`: the lowercase spelling is the likely meaning, offered, not applied.
            let lower = got.to_ascii_lowercase();
            if crate::names::is_provider_id(&lower) {
                d.fix(format!("Change to `{lower}`"), span, lower)
            } else {
                d
            }
        }
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::OneOfMultipleValid { .. } => {
            let expected = if pointer.contains("/env/") {
                "a string, number or boolean"
            } else if matches!(key.as_str(), "interval" | "timeout") {
                "a duration such as `5s`, `500ms`, `1m` or a number of seconds"
            } else {
                "a valid value"
            };
            Diagnostic::new(Code::WrongType, span, format!("`{field}` must be {expected}, found {found}"))
                .label(format!("expected {expected}"))
        }
        other => Diagnostic::new(Code::InvalidValue, span, format!("invalid value for `{field}`: {}", describe_kind(other, instance))),
    }
}

fn describe_kind(kind: &ValidationErrorKind, instance: &Json) -> String {
    match kind {
        ValidationErrorKind::Pattern { pattern } => {
            format!("{instance} does not match `{pattern}`")
        }
        ValidationErrorKind::MaxLength { limit } => format!("longer than {limit} characters"),
        ValidationErrorKind::MinLength { limit } => format!("shorter than {limit} characters"),
        other => format!("{other:?}"),
    }
}

/// "must be a DNS label" with the concrete reason and a corrected suggestion.
pub fn invalid_name(span: crate::source::Span, what: &str, got: &str) -> Diagnostic {
    let fixed = crate::names::to_dns_label(got);
    let reason = crate::names::dns_label_problem(got).unwrap_or("is not a DNS label");
    let mut d = Diagnostic::new(Code::InvalidName, span, format!("invalid {what} `{got}`: {reason}"))
        .label("not a DNS label")
        .help("names are DNS labels: lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 40 characters");
    if !fixed.is_empty() && fixed != got {
        d = d.fix(format!("Rename to `{fixed}`"), span, fixed);
    }
    d
}

fn expected_types(debug: &str) -> String {
    let names: Vec<&str> =
        ["Object", "Array", "String", "Integer", "Number", "Boolean", "Null"].into_iter().filter(|t| debug.contains(t)).collect();
    let words: Vec<&str> = names
        .iter()
        .map(|t| match *t {
            "Object" => "a mapping",
            "Array" => "a list",
            "String" => "a string",
            "Integer" => "a whole number",
            "Number" => "a number",
            "Boolean" => "a boolean (true or false)",
            _ => "null",
        })
        .collect();
    if words.is_empty() {
        "another type".into()
    } else {
        words.join(" or ")
    }
}

fn last_segment(pointer: &str) -> String {
    pointer.rsplit('/').next().map(crate::document::unescape).unwrap_or_default()
}

/// `/services/api/env/X` → `services.api.env.X`
pub fn human_path(pointer: &str) -> String {
    pointer.split('/').skip(1).map(crate::document::unescape).collect::<Vec<_>>().join(".")
}

fn remove_pointer(json: &mut Json, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = crate::document::unescape(last);
    match json.pointer_mut(parent) {
        Some(Json::Object(map)) => {
            map.shift_remove(&last);
        }
        Some(Json::Array(items)) => {
            if let Ok(i) = last.parse::<usize>() {
                if i < items.len() {
                    // Null keeps later indices stable for the other pointers still to remove.
                    items[i] = Json::Null;
                }
            }
            if items.iter().all(Json::is_null) {
                items.clear();
            }
        }
        _ => {}
    }
    if let Some(Json::Array(items)) = json.pointer_mut(parent) {
        items.retain(|i| !i.is_null());
    }
}

/// A key allowed at some place in the file, with its documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    pub name: String,
    pub description: Option<String>,
    /// Allowed values when the key is an enum (providers, scaling, dns…).
    pub values: Vec<String>,
    /// `object`, `array`, `string`, `integer`, `boolean` where the schema says.
    pub kind: Option<String>,
}

/// The keys allowed in the mapping at `pointer` (e.g. `/services/api`), read from the schema
/// itself so that validation, completion and hover can never disagree.
pub fn keys_at(pointer: &str) -> Vec<KeyInfo> {
    let Some(schema) = schema_at(pointer) else {
        return Vec::new();
    };
    let Some(props) = schema.get("properties").and_then(Json::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, s)| {
            let s = resolve(s);
            KeyInfo {
                name: name.clone(),
                description: s.get("description").and_then(Json::as_str).map(str::to_string),
                values: enum_values(s),
                kind: type_of(s),
            }
        })
        .collect()
}

/// Documentation and values for the key at `pointer` itself.
pub fn key_info(pointer: &str) -> Option<KeyInfo> {
    let (parent, key) = pointer.rsplit_once('/')?;
    let key = crate::document::unescape(key);
    keys_at(parent).into_iter().find(|k| k.name == key)
}

/// The sub-schema that applies at a pointer, following properties, map values and list items.
pub fn schema_at(pointer: &str) -> Option<&'static Json> {
    let mut schema = resolve(json_schema());
    for segment in pointer.split('/').skip(1) {
        let segment = crate::document::unescape(segment);
        schema = resolve(schema);
        let next = schema
            .get("properties")
            .and_then(|p| p.get(&segment))
            .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| schema.get("items").filter(|_| segment.parse::<usize>().is_ok()));
        schema = resolve(next?);
    }
    Some(schema)
}

fn resolve(schema: &'static Json) -> &'static Json {
    let mut s = schema;
    for _ in 0..8 {
        if let Some(r) = s.get("$ref").and_then(Json::as_str) {
            let path = r.trim_start_matches('#');
            match json_schema().pointer(path) {
                Some(target) => s = target,
                None => return s,
            }
        } else if let Some(any) = s.get("anyOf").and_then(Json::as_array) {
            // Option<T> is `anyOf: [T, null]`: the useful branch is the non-null one.
            match any.iter().find(|b| b.get("type").and_then(Json::as_str) != Some("null")) {
                Some(branch) if any.len() <= 2 && (branch.get("$ref").is_some() || branch.get("properties").is_some()) => s = branch,
                _ => return s,
            }
        } else {
            return s;
        }
    }
    s
}

fn enum_values(schema: &Json) -> Vec<String> {
    let direct = schema.get("enum").and_then(Json::as_array);
    let from_one_of = schema.get("oneOf").and_then(Json::as_array).map(|branches| {
        branches.iter().filter_map(|b| b.get("const").or_else(|| b.get("enum").and_then(|e| e.get(0)))).cloned().collect::<Vec<_>>()
    });
    // An open set (a pattern, such as provider ids) offers its known values, its examples.
    let known = schema.get("pattern").and(schema.get("examples")).and_then(Json::as_array);
    let values: Vec<Json> = direct.cloned().or(from_one_of).or(known.cloned()).unwrap_or_default();
    let mut out: Vec<String> = values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    out.dedup();
    out
}

fn type_of(schema: &Json) -> Option<String> {
    match schema.get("type") {
        Some(Json::String(t)) => Some(t.clone()),
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).find(|t| *t != "null").map(str::to_string),
        _ if schema.get("enum").is_some() || schema.get("oneOf").is_some() => Some("string".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_id_title_and_descriptions() {
        let s = json_schema();
        assert_eq!(s["$id"], SCHEMA_ID);
        assert_eq!(s["title"], "nanokit.yml");
        assert!(s["$schema"].as_str().unwrap().contains("draft-07"));
        let services = keys_at("/services/x");
        assert!(services.iter().any(|k| k.name == "depends_on"));
        assert!(services.iter().all(|k| k.description.is_some()), "every field is documented");
    }

    #[test]
    fn keys_at_walks_into_environment_infra() {
        let infra = keys_at("/environments/prod/infra");
        let provider = infra.iter().find(|k| k.name == "provider").unwrap();
        assert!(provider.values.contains(&"fly.io".to_string()));
        assert!(infra.iter().any(|k| k.name == "autoCreateDomain"));
        let host = infra.iter().find(|k| k.name == "host").unwrap();
        assert_eq!(host.kind.as_deref(), Some("string"));
        assert!(host.description.as_deref().unwrap().contains("`DOCKER_HOST`"));
        let overrides = keys_at("/environments/prod/services/api");
        assert!(overrides.iter().any(|k| k.name == "expose"));
    }

    #[test]
    fn unknown_key_is_reported_with_suggestion_and_rest_still_parses() {
        let doc = Document::parse("name: demo\nservices:\n  api:\n    image: x\n    expse: 3000\n");
        let (diags, project) = validate(&doc);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].code, Code::UnknownKey);
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `expose`?"));
        assert_eq!(&doc.text[diags[0].span.start..diags[0].span.end], "expse");
        assert_eq!(project.services["api"].image.as_deref(), Some("x"));
    }

    #[test]
    fn bad_values_are_dropped_not_fatal() {
        let doc = Document::parse("name: demo\nservices:\n  api:\n    image: x\n    expose: 99999\n    depends_on: nope\n");
        let (diags, project) = validate(&doc);
        let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
        assert!(codes.contains(&Code::OutOfRange), "{diags:?}");
        assert!(codes.contains(&Code::WrongType), "{diags:?}");
        assert_eq!(project.services["api"].expose, None);
        assert_eq!(project.services["api"].image.as_deref(), Some("x"));
    }
}
