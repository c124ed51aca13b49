//! `nkdev config`: the fully resolved model, like `docker compose config`.

use crate::args::{DataFormat, FileArgs};
use anyhow::Result;
use nanokit_core::document::Document;
use nanokit_core::resolve::{ResolvedEnvironment, ResolvedService, Sourced};
use serde_json::{json, Map, Value};

pub fn run(format: DataFormat, only: Option<&str>, explain: bool, common: &FileArgs) -> Result<u8> {
    let loaded = super::load_valid(common)?;
    let env = common.env();
    let Some(resolved) = loaded.analysis.environment(env) else { anyhow::bail!("environment `{env}` is not defined") };
    if let Some(name) = only {
        if !resolved.resolved.services.contains_key(name) {
            return Err(crate::load::UsageError(format!("no service `{name}` in {}", loaded.path.display())).into());
        }
    }
    let value = environment_json(&resolved.resolved, &resolved.graph.levels, only, &loaded.analysis.document, explain);
    match format {
        DataFormat::Json => println!("{}", serde_json::to_string_pretty(&value)?),
        DataFormat::Yaml => print!("{}", crate::yaml_out::to_yaml(&value)),
    }
    Ok(crate::exit::OK)
}

/// `doc`: the document the values came from, to name the variables interpolated ones read
/// (`explain`) and to hide those that look like secrets.
pub fn environment_json(env: &ResolvedEnvironment, levels: &[Vec<String>], only: Option<&str>, doc: &Document, explain: bool) -> Value {
    let mut services = Map::new();
    for (name, service) in &env.services {
        if only.is_none_or(|o| o == name) {
            services.insert(name.clone(), service_json(env, service, doc, explain));
        }
    }
    json!({
        "name": env.project,
        "component": env.component,
        "environment": env.env,
        "provider": env.provider.as_str(),
        "shared": env.shared,
        "network": nanokit_core::names::cluster_prefix(&env.project, &env.env),
        "start_order": levels,
        "services": services,
    })
}

fn field<T: serde::Serialize>(value: &Option<Sourced<T>>, doc: &Document, explain: bool) -> Option<Value> {
    value.as_ref().map(|s| sourced(s, doc, explain))
}

/// A value, with where it came from when explaining. A value read from the environment that
/// looks like a secret (`start: app --token ${API_TOKEN}`) is not printed: it is not in the
/// file, and this output ends up in CI logs and bug reports.
fn sourced<T: serde::Serialize>(s: &Sourced<T>, doc: &Document, explain: bool) -> Value {
    let mut v = serde_json::to_value(&s.value).unwrap_or(Value::Null);
    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    if nanokit_core::secrets::hidden(doc, s.pointer.as_deref(), &text) {
        v = Value::String(nanokit_core::secrets::REDACTED.to_string());
    }
    if explain {
        json!({"value": v, "from": from(s, doc)})
    } else {
        v
    }
}

/// "service, from $DB_HOST (.env line 3)" for an interpolated value; the layer alone otherwise.
fn from<T>(s: &Sourced<T>, doc: &Document) -> String {
    match s.pointer.as_deref().and_then(|p| doc.interpolated.get(p)) {
        Some(interpolation) => format!("{}, {}", s.origin, interpolation.describe()),
        None => s.origin.to_string(),
    }
}

fn service_json(env: &ResolvedEnvironment, service: &ResolvedService, doc: &Document, explain: bool) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(key.into(), v);
        }
    };
    put("container", Some(Value::String(service.internal_host.clone())));
    put("runtime", field(&service.runtime, doc, explain));
    put("image", field(&service.image, doc, explain));
    put("path", field(&service.path, doc, explain));
    put("expose", field(&service.expose, doc, explain));
    put("host", field(&service.host, doc, explain));
    put("install", field(&service.install, doc, explain));
    put("start", field(&service.start, doc, explain));
    put("healthcheck", field(&service.healthcheck, doc, explain));
    if !service.volumes.is_empty() {
        put("volumes", Some(Value::Array(service.volumes.iter().map(|v| sourced(v, doc, explain)).collect())));
    }
    if !service.depends_on.is_empty() {
        put("depends_on", Some(Value::Array(service.depends_on.iter().map(|d| sourced(d, doc, explain)).collect())));
    }
    let environment: Map<String, Value> = env.environment(service).iter().map(|(k, v)| (k.clone(), sourced(v, doc, explain))).collect();
    put("environment", Some(Value::Object(environment)));
    // Never a value: where each secret is read, redacted, and how it is delivered.
    if !service.secrets.is_empty() {
        let secrets: Map<String, Value> = service
            .secrets
            .iter()
            .map(|(k, s)| {
                let shown = Value::String(s.value.redacted());
                (k.clone(), if explain { json!({"value": shown, "from": from(s, doc)}) } else { shown })
            })
            .collect();
        put("secrets", Some(Value::Object(secrets)));
    }
    Value::Object(out)
}
