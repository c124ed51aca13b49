//! The plugin side of the provider protocol, for any in-process provider: `nkdev provider
//! serve docker` runs the built-in Docker provider as a plugin would run, so the protocol is
//! tested against a real provider (the conformance suite) and measured against the provider
//! called in process (the benchmarks).
//!
//! Requests are handled concurrently (a start level's services are applied in parallel);
//! answers are written by one task, a line each.

use crate::factory::Factory;
use crate::protocol::{self, codes, methods, ErrorData, InitializeParams, InitializeResult, Peer, RpcError};
use crate::provider::{LogRequest, Provider, ProviderError, Reporter};
use nanokit_core::plan::{Desired, Step};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

type Out = mpsc::UnboundedSender<Value>;

/// Serve `factory`'s provider on `input`/`output` until `input` closes.
pub async fn serve<R, W>(factory: &dyn Factory, input: R, mut output: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, mut queue) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            let mut line = message.to_string();
            line.push('\n');
            if output.write_all(line.as_bytes()).await.is_err() || output.flush().await.is_err() {
                return;
            }
        }
    });
    let mut provider: Option<Arc<dyn Provider>> = None;
    // Requests being handled: their method and how to stop them.
    let running: Arc<Mutex<HashMap<u64, (String, tokio::task::AbortHandle)>>> = Default::default();
    let mut lines = input.lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(m) => m,
            Err(e) => {
                reply(&out, Value::Null, Err(RpcError::new(codes::PARSE_ERROR, format!("not JSON: {e}"))));
                continue;
            }
        };
        let method = message.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let Some(id) = message.get("id").cloned() else {
            // A notification: the only one a host sends is `cancel`.
            if method == methods::CANCEL {
                if let Some(cancelled) = params.get("id").and_then(Value::as_u64) {
                    // Only a `logs` request is cancelled; a step is never cut halfway.
                    let mut running = running.lock().unwrap_or_else(|p| p.into_inner());
                    if running.get(&cancelled).is_some_and(|(m, _)| m == methods::LOGS) {
                        if let Some((_, task)) = running.remove(&cancelled) {
                            task.abort();
                            reply(&out, json!(cancelled), Ok(Value::Null));
                        }
                    }
                }
            }
            continue;
        };
        if method == methods::INITIALIZE {
            let result = initialize(factory, params).await;
            if let Ok((p, _)) = &result {
                provider = Some(p.clone());
            }
            reply(&out, id, result.map(|(_, r)| serde_json::to_value(r).unwrap_or(Value::Null)));
            continue;
        }
        let Some(p) = provider.clone() else {
            reply(&out, id, Err(RpcError::new(codes::INVALID_REQUEST, "`initialize` must come first")));
            continue;
        };
        let out2 = out.clone();
        let numeric = id.as_u64();
        let running2 = running.clone();
        // Registered before the task can finish, so a fast answer never leaves a stale entry.
        let mut table = running.lock().unwrap_or_else(|p| p.into_inner());
        let task = tokio::spawn(async move {
            use futures_util::FutureExt;
            // A provider that panics answers with an error (and the request is unregistered)
            // rather than leaving the host waiting and this process unable to exit.
            let result =
                std::panic::AssertUnwindSafe(handle(&*p, &method, params, numeric, &out2)).catch_unwind().await.unwrap_or_else(|_| {
                    Err(RpcError::new(codes::PROVIDER_ERROR, format!("the provider failed while handling `{method}` (a bug)")))
                });
            // Answered only while still registered: a cancelled request was answered already.
            let registered = numeric.is_none_or(|n| running2.lock().unwrap_or_else(|p| p.into_inner()).remove(&n).is_some());
            if registered {
                reply(&out2, id, result);
            }
        });
        if let Some(n) = numeric {
            table.insert(n, (message.get("method").and_then(Value::as_str).unwrap_or_default().to_string(), task.abort_handle()));
        }
    }
    // stdin closed: stop streaming logs, let every step finish, release the locks still held.
    running.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, (method, task)| {
        let logs = method == methods::LOGS;
        if logs {
            task.abort();
        }
        !logs
    });
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30 * 60);
    while !running.lock().unwrap_or_else(|p| p.into_inner()).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let held: Vec<_> = HELD.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, l)| l).collect();
    for lock in held {
        lock.release().await;
    }
    drop(out);
    let _ = writer.await;
    Ok(())
}

fn reply(out: &Out, id: Value, result: Result<Value, RpcError>) {
    let message = match result {
        Ok(value) => json!({"jsonrpc": "2.0", "id": id, "result": value}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e}),
    };
    let _ = out.send(message);
}

async fn initialize(factory: &dyn Factory, params: Value) -> Result<(Arc<dyn Provider>, InitializeResult), RpcError> {
    let params: InitializeParams = parse(params)?;
    let Some(version) = params.protocol_versions.iter().copied().find(|v| protocol::VERSIONS.contains(v)) else {
        return Err(RpcError {
            code: codes::UNSUPPORTED_VERSION,
            message: format!(
                "this provider speaks protocol version {}, the host offered {:?}",
                protocol::VERSIONS.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
                params.protocol_versions
            ),
            data: Some(ErrorData { details: Vec::new(), supported: protocol::VERSIONS.to_vec() }),
        });
    };
    let provider: Arc<dyn Provider> = Arc::from(factory.connect(&params.environment, &params.options).await?);
    let result = InitializeResult {
        protocol_version: version,
        provider: Peer { name: factory.id().to_string(), version: factory.info().version },
        target: provider.target(),
        // `restart` is not part of the protocol: a served provider does not offer it.
        capabilities: crate::provider::Capabilities { restart: false, ..provider.capabilities() },
    };
    Ok((provider, result))
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| RpcError::new(codes::INVALID_PARAMS, format!("invalid params: {e}")))
}

/// Sends each note as a `note` notification.
struct Notes(Out);

impl Reporter for Notes {
    fn step_started(&self, _: &Step) {}
    fn step_finished(&self, _: &Step, _: &Result<(), ProviderError>) {}
    fn note(&self, message: &str) {
        let _ = self.0.send(json!({"jsonrpc": "2.0", "method": methods::NOTE, "params": {"message": message}}));
    }
}

/// The desired state with the secret values of an `apply` put back where the provider reads them.
fn with_secrets(mut desired: Desired, secrets: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>) -> Desired {
    for s in desired.services.iter_mut() {
        if let Some(values) = secrets.get(&s.name) {
            for (name, secret) in s.secrets.iter_mut() {
                if let Some(v) = values.get(name) {
                    secret.value = Some(nanokit_core::secrets::SecretValue::new(v.clone()));
                }
            }
        }
    }
    desired
}

async fn handle(p: &dyn Provider, method: &str, params: Value, id: Option<u64>, out: &Out) -> Result<Value, RpcError> {
    let unit = |r: Result<(), ProviderError>| r.map(|()| Value::Null).map_err(RpcError::from);
    let value = |v: Result<Value, serde_json::Error>| v.map_err(|e| RpcError::new(codes::PROVIDER_ERROR, e.to_string()));
    match method {
        methods::PREPARE => {
            let p2: protocol::PrepareParams = parse(params)?;
            let mut desired = p2.desired.clone();
            p.prepare(&mut desired, p2.deploying).await?;
            let result = protocol::PrepareResult {
                gateway_settings: desired
                    .cluster
                    .gateway_settings
                    .clone()
                    .filter(|g| Some(g) != p2.desired.cluster.gateway_settings.as_ref()),
                config_hashes: desired
                    .services
                    .iter()
                    .zip(&p2.desired.services)
                    .filter(|(now, before)| now.config_hash != before.config_hash)
                    .map(|(now, _)| (now.name.clone(), now.config_hash.clone()))
                    .collect(),
            };
            value(serde_json::to_value(result))
        }
        methods::OBSERVE => {
            let p2: protocol::DesiredParams = parse(params)?;
            value(serde_json::to_value(p.observe(&p2.desired).await?))
        }
        methods::PREFLIGHT => {
            let p2: protocol::PreflightParams = parse(params)?;
            unit(p.preflight(&p2.plan, &p2.desired).await)
        }
        methods::APPLY => {
            let p2: protocol::ApplyParams = parse(params)?;
            let desired = with_secrets(p2.desired, &p2.secrets);
            unit(p.apply(&p2.step, &desired).await)
        }
        methods::WAIT_READY => {
            let p2: protocol::WaitReadyParams = parse(params)?;
            let service = p2
                .desired
                .service(&p2.service)
                .ok_or_else(|| RpcError::new(codes::INVALID_PARAMS, format!("no service `{}` in desired", p2.service)))?;
            unit(p.wait_ready(service, &p2.desired).await)
        }
        methods::STATUS => {
            let p2: protocol::DesiredParams = parse(params)?;
            value(serde_json::to_value(p.status(&p2.desired).await?))
        }
        methods::LOGS => {
            use futures_util::StreamExt;
            let p2: protocol::LogsParams = parse(params)?;
            let request: LogRequest = p2.request;
            let mut lines = p.logs(&p2.desired, request);
            while let Some(line) = lines.next().await {
                let line = line?;
                let params = protocol::LogParams { request: id.unwrap_or_default(), service: line.service, line: line.line };
                let _ = out.send(json!({"jsonrpc": "2.0", "method": methods::LOG, "params": params}));
            }
            Ok(Value::Null)
        }
        methods::LOCK => {
            // A served provider's lock is held by this process until `unlock` with the holder.
            let p2: protocol::LockParams = parse(params)?;
            match p.lock(&p2.desired, &p2.holder).await? {
                Some(held) => {
                    HELD.lock().unwrap_or_else(|p| p.into_inner()).insert(p2.holder.token.clone(), held);
                    Ok(Value::Null)
                }
                None => Err(RpcError::new(codes::NOT_SUPPORTED, "this provider keeps no lock")),
            }
        }
        methods::UNLOCK => {
            let p2: protocol::UnlockParams = parse(params)?;
            if let Some(holder) = &p2.holder {
                let held = HELD.lock().unwrap_or_else(|p| p.into_inner()).remove(&holder.token);
                if let Some(held) = held {
                    held.release().await;
                }
                return Ok(Value::Null);
            }
            match p.unlock(&p2.desired, p2.force).await? {
                Some((held, place)) => value(serde_json::to_value(protocol::UnlockResult { held, place })),
                None => Err(RpcError::new(codes::NOT_SUPPORTED, "this provider keeps no lock")),
            }
        }
        methods::REMOVE_VOLUMES => {
            let p2: protocol::DesiredParams = parse(params)?;
            unit(p.remove_volumes(&p2.desired, &Notes(out.clone())).await)
        }
        _ => Err(RpcError::new(codes::METHOD_NOT_FOUND, format!("no method `{method}`"))),
    }
}

/// Locks taken through `lock`, by their holder's token, until released through `unlock`.
static HELD: std::sync::LazyLock<Mutex<HashMap<String, Box<dyn crate::provider::HeldLock>>>> = std::sync::LazyLock::new(Default::default);
