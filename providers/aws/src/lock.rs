//! The cluster lock held on AWS itself, so two machines exclude each other: an SSM parameter
//! created without overwrite is an atomic "create if absent". Its value is the holder's
//! `LockInfo`, token included: release compares it before deleting.

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use nanokit_deploy::lock::{self, LockInfo};

pub struct SsmLock {
    client: aws_sdk_ssm::Client,
    name: String,
    token: String,
}

pub async fn acquire(client: &aws_sdk_ssm::Client, name: &str, info: &LockInfo) -> anyhow::Result<SsmLock> {
    let value = serde_json::to_string(info)?;
    match client.put_parameter().name(name).value(value).r#type(ParameterType::String).overwrite(false).send().await {
        Ok(_) => Ok(SsmLock { client: client.clone(), name: name.to_string(), token: info.token.clone() }),
        Err(e) if e.code() == Some("ParameterAlreadyExists") => {
            let held = read(client, name).await.unwrap_or_else(LockInfo::unreadable);
            anyhow::bail!(lock::held_message(&held, &format!("SSM parameter {name}")))
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
    /// Delete the parameter, only while it still holds our token: after a forced unlock it
    /// may be the next holder's lock. (SSM has no conditional delete; the window between the
    /// read and the delete is one round trip.)
    pub async fn release(self) {
        match read(&self.client, &self.name).await {
            Some(info) if info.token == self.token => {}
            _ => {
                eprintln!(
                    "warning: the cluster lock (SSM parameter {}) is no longer ours (cleared by `nkdev infra unlock --force`?); left it in place",
                    self.name
                );
                return;
            }
        }
        if let Err(e) = self.client.delete_parameter().name(&self.name).send().await {
            eprintln!("warning: could not release the cluster lock {}: {}", self.name, aws_sdk_ssm::error::DisplayErrorContext(e));
        }
    }
}

/// `nkdev infra unlock` on AWS: without `force`, only a lock whose holder is gone.
pub async fn unlock(client: &aws_sdk_ssm::Client, name: &str, force: bool) -> anyhow::Result<Option<LockInfo>> {
    let held = match client.get_parameter().name(name).send().await {
        Ok(out) => out.parameter().and_then(|p| p.value()).and_then(|v| serde_json::from_str(v).ok()).unwrap_or_else(LockInfo::unreadable),
        Err(e) if e.code() == Some("ParameterNotFound") => return Ok(None),
        Err(e) => anyhow::bail!("cannot read the lock {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e)),
    };
    lock::check_unlock(&held, force, &format!("SSM parameter {name}"))?;
    match client.delete_parameter().name(name).send().await {
        Ok(_) => Ok(Some(held)),
        Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot remove the lock {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e))),
    }
}

#[async_trait::async_trait]
impl nanokit_deploy::provider::HeldLock for SsmLock {
    async fn release(self: Box<Self>) {
        SsmLock::release(*self).await
    }
}
