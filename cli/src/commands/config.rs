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
            services.insert(name.clone(), service_json(env, service, doc, explain.then_some(doc)));
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

fn field<T: serde::Serialize>(value: &Option<Sourced<T>>, explain: Option<&Document>) -> Option<Value> {
    value.as_ref().map(|s| sourced(s, explain))
}

fn sourced<T: serde::Serialize>(s: &Sourced<T>, explain: Option<&Document>) -> Value {
    let v = serde_json::to_value(&s.value).unwrap_or(Value::Null);
    match explain {
        Some(doc) => json!({"value": v, "from": from(s, doc)}),
        None => v,
    }
}

/// "service, from $DB_HOST (.env line 3)" for an interpolated value; the layer alone otherwise.
fn from<T>(s: &Sourced<T>, doc: &Document) -> String {
    match s.pointer.as_deref().and_then(|p| doc.interpolated.get(p)) {
        Some(interpolation) => format!("{}, {}", s.origin, interpolation.describe()),
        None => s.origin.to_string(),
    }
}

fn service_json(env: &ResolvedEnvironment, service: &ResolvedService, doc: &Document, explain: Option<&Document>) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(key.into(), v);
        }
    };
    put("container", Some(Value::String(service.internal_host.clone())));
    put("runtime", field(&service.runtime, explain));
    put("image", field(&service.image, explain));
    put("path", field(&service.path, explain));
    put("expose", field(&service.expose, explain));
    put("host", field(&service.host, explain));
    put("install", field(&service.install, explain));
    put("start", field(&service.start, explain));
    put("healthcheck", field(&service.healthcheck, explain));
    if !service.volumes.is_empty() {
        put("volumes", Some(Value::Array(service.volumes.iter().map(|v| sourced(v, explain)).collect())));
    }
    if !service.depends_on.is_empty() {
        put("depends_on", Some(Value::Array(service.depends_on.iter().map(|d| sourced(d, explain)).collect())));
    }
    let mut environment = Map::new();
    for (k, v) in &env.urls {
        if !service.env.contains_key(k) {
            let value = Value::String(v.clone());
            environment.insert(k.clone(), if explain.is_some() { json!({"value": value, "from": "injected by nanokit"}) } else { value });
        }
    }
    for (k, v) in &service.env {
        // A value read from the environment that looks like a secret is not printed: it is
        // not in the file, and this output ends up in CI logs and bug reports.
        let interpolation = v.pointer.as_deref().and_then(|p| doc.interpolated.get(p));
        if interpolation.is_some_and(|i| nanokit_core::secrets::sensitive(k, &v.value, i)) {
            let hidden = Value::String(nanokit_core::secrets::REDACTED.to_string());
            environment.insert(k.clone(), if explain.is_some() { json!({"value": hidden, "from": from(v, doc)}) } else { hidden });
        } else {
            environment.insert(k.clone(), sourced(v, explain));
        }
    }
    put("environment", Some(Value::Object(environment)));
    // Never a value: where each secret is read, redacted, and how it is delivered.
    if !service.secrets.is_empty() {
        let secrets: Map<String, Value> = service
            .secrets
            .iter()
            .map(|(k, s)| {
                let shown = Value::String(s.value.redacted());
                (k.clone(), if let Some(doc) = explain { json!({"value": shown, "from": from(s, doc)}) } else { shown })
            })
            .collect();
        put("secrets", Some(Value::Object(secrets)));
    }
    Value::Object(out)
}
