//! The cluster lock held on AWS itself, so two machines exclude each other: an SSM parameter
//! created without overwrite is an atomic "create if absent".

use crate::deploy::lock::LockInfo;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;

pub struct SsmLock {
    client: aws_sdk_ssm::Client,
    name: String,
}

pub async fn acquire(client: &aws_sdk_ssm::Client, name: &str, info: &LockInfo) -> anyhow::Result<SsmLock> {
    let value = serde_json::to_string(info)?;
    match client.put_parameter().name(name).value(value).r#type(ParameterType::String).overwrite(false).send().await {
        Ok(_) => Ok(SsmLock { client: client.clone(), name: name.to_string() }),
        Err(e) if e.code() == Some("ParameterAlreadyExists") => {
            let held = read(client, name).await;
            let holder = held.as_ref().map_or_else(|| "held by an unreadable lock".to_string(), |i| i.describe());
            let stale = held.as_ref().is_some_and(LockInfo::is_stale);
            if stale {
                anyhow::bail!("Shared modules are being initialized… but the lock is stale: it is {holder}, and that process is no longer running.\n  run `nkdev infra unlock --env <env>` to clear it")
            }
            anyhow::bail!("Shared modules are being initialized… another deploy of this cluster is running: the lock (SSM parameter {name}) is {holder}")
        }
        Err(e) => {
            Err(anyhow::anyhow!("cannot take the cluster lock (SSM parameter {name}): {}", aws_sdk_ssm::error::DisplayErrorContext(e)))
        }
    }
}

pub async fn read(client: &aws_sdk_ssm::Client, name: &str) -> Option<LockInfo> {
    let out = client.get_parameter().name(name).send().await.ok()?;
    serde_json::from_str(out.parameter()?.value()?).ok()
}

impl SsmLock {
    pub async fn release(self) {
        if let Err(e) = self.client.delete_parameter().name(&self.name).send().await {
            eprintln!("warning: could not release the cluster lock {}: {}", self.name, aws_sdk_ssm::error::DisplayErrorContext(e));
        }
    }
}

/// `nkdev infra unlock` on AWS.
pub async fn unlock(client: &aws_sdk_ssm::Client, name: &str) -> anyhow::Result<Option<LockInfo>> {
    let held = read(client, name).await;
    match client.delete_parameter().name(name).send().await {
        Ok(_) => Ok(Some(held.unwrap_or_else(LockInfo::unreadable))),
        Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot remove the lock {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e))),
    }
}
