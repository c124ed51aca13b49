//! Secrets on ECS: every secret becomes a task definition `secrets` entry (`valueFrom` an ARN),
//! never a plain `environment` value.
//!
//! - `aws-ssm:` / `aws-sm:` name the user's own parameter or secret: looked up (it must exist:
//!   checked before anything changes) and referenced by ARN; nanokit never writes them.
//! - `env:` / `file:` values were read on this machine; they are stored as SSM SecureString
//!   parameters under the service's own path (`/nanokit/<project>/<env>/<service>/<NAME>`),
//!   tagged like every object of the deploy, and referenced. A parameter at that path that is
//!   not this component's is refused, never overwritten.
//! - A service with secrets runs with its own task execution role, whose inline policy reads
//!   exactly those ARNs: the shared role of the cluster (the infra owner's) is never widened
//!   by a service, and one service cannot read another's secrets.

use crate::guard::{self, Tags};
use crate::{code, err, names, tags, AwsProvider, EXECUTION_POLICY, EXECUTION_POLICY_NAME};
use nanokit_core::ownership::{Intent, ObjectKind};
use nanokit_core::plan::{Desired, DesiredService};
use nanokit_core::secrets::SecretSource;
use nanokit_deploy::provider::{labels, ProviderError};

const SECRETS_POLICY_NAME: &str = "nanokit-secrets";

/// The SSM path under which a service's `env:`/`file:` secrets are stored.
pub fn parameter_path(desired: &Desired, service: &str) -> String {
    format!("/nanokit/{}/{}/{service}", desired.cluster.project, desired.cluster.env)
}

/// A service's own execution role (IAM names: at most 64 characters). `-secrets`, never
/// `-exec`: the cluster's role is `nk-<project>-<env>-exec`, and an environment named
/// `e-api` must not make it the same name as service `api`'s role in environment `e`.
pub fn service_role(instance: &str) -> String {
    names::fit(&format!("{instance}-secrets"), 64)
}

/// What SSM's standard tier stores: 1 to 4096 bytes.
const MAX_PARAMETER_VALUE: usize = 4096;

/// One ECS secret: the variable and the ARN ECS reads it from.
pub struct Reference {
    pub name: String,
    pub arn: String,
    /// Secrets Manager (else SSM): the two need different read permissions.
    pub secrets_manager: bool,
}

impl AwsProvider {
    /// The references of `s`'s secrets. `store`: write the `env:`/`file:` values first (the
    /// deploy's step); without it every source is only checked (the preflight), so a missing
    /// parameter or a foreign one at our path is reported before anything changes.
    pub(super) async fn secret_references(
        &self,
        s: &DesiredService,
        desired: &Desired,
        store: bool,
    ) -> Result<Vec<Reference>, ProviderError> {
        let mut out = Vec::with_capacity(s.secrets.len());
        for (name, secret) in &s.secrets {
            let what = || format!("secret `{name}` of service `{}`", s.name);
            let reference = match &secret.secret.source {
                SecretSource::AwsSsm(parameter) => {
                    let found = self.ssm.get_parameter().name(parameter).send().await.map_err(|e| match code(&e).as_deref() {
                        Some("ParameterNotFound") => ProviderError::new(format!(
                            "{}: SSM parameter `{parameter}` does not exist in {}; create it (aws ssm put-parameter --type SecureString) or fix the name",
                            what(),
                            self.region
                        )),
                        _ => err(format!("{}: cannot read SSM parameter `{parameter}`", what()), e),
                    })?;
                    let arn = found.parameter().and_then(|p| p.arn()).unwrap_or_default().to_string();
                    Reference { name: name.clone(), arn, secrets_manager: false }
                }
                SecretSource::AwsSm(id) => {
                    let found =
                        self.secretsmanager.describe_secret().secret_id(id).send().await.map_err(|e| match code(&e).as_deref() {
                            Some("ResourceNotFoundException") => ProviderError::new(format!(
                                "{}: Secrets Manager secret `{id}` does not exist in {}; create it or fix the name",
                                what(),
                                self.region
                            )),
                            _ => err(format!("{}: cannot read Secrets Manager secret `{id}`", what()), e),
                        })?;
                    Reference { name: name.clone(), arn: found.arn().unwrap_or_default().to_string(), secrets_manager: true }
                }
                SecretSource::Env(_) | SecretSource::File(_) => {
                    let path = format!("{}/{name}", parameter_path(desired, &s.name));
                    // Checked in the preflight too: SSM refuses these, and mid-deploy is too late.
                    if let Some(value) = &secret.value {
                        // SSM counts bytes.
                        let len = value.expose().len();
                        if len == 0 || len > MAX_PARAMETER_VALUE {
                            return Err(ProviderError::new(format!(
                                "{} ({}): SSM stores 1 to {MAX_PARAMETER_VALUE} bytes, this value has {len}; nothing was changed",
                                what(),
                                secret.secret.source
                            )));
                        }
                    }
                    let existing = self.guard_parameter(desired, &path).await?;
                    if !store {
                        Reference { name: name.clone(), arn: existing.unwrap_or_default(), secrets_manager: false }
                    } else {
                        let value = secret
                            .value
                            .as_ref()
                            .ok_or_else(|| ProviderError::new(format!("{} ({}) was not read", what(), secret.secret.source)))?;
                        let arn = self.put_parameter(desired, s, &path, value.expose(), existing.is_some()).await?;
                        Reference { name: name.clone(), arn, secrets_manager: false }
                    }
                }
            };
            out.push(reference);
        }
        Ok(out)
    }

    /// The SecureString at `path`: created with the deploy's tags, or overwritten when it is
    /// already this component's (checked by the caller through [`Self::guard_parameter`]).
    async fn put_parameter(
        &self,
        desired: &Desired,
        s: &DesiredService,
        path: &str,
        value: &str,
        exists: bool,
    ) -> Result<String, ProviderError> {
        let mut put = self.ssm.put_parameter().name(path).value(value).r#type(aws_sdk_ssm::types::ParameterType::SecureString);
        if exists {
            put = put.overwrite(true);
        } else {
            for (k, v) in tags(desired, "service", Some(&s.name)) {
                if let Ok(tag) = aws_sdk_ssm::types::Tag::builder().key(k).value(v).build() {
                    put = put.tags(tag);
                }
            }
        }
        // Only the error's code: the message of a refused request could quote what was sent.
        put.send().await.map_err(|e| {
            ProviderError::new(format!("cannot store secret parameter `{path}`: {}", code(&e).unwrap_or_else(|| "request failed".into())))
        })?;
        let found =
            self.ssm.get_parameter().name(path).send().await.map_err(|e| err(format!("cannot read secret parameter `{path}`"), e))?;
        Ok(found.parameter().and_then(|p| p.arn()).unwrap_or_default().to_string())
    }

    /// The parameter at `path` (its ARN) if it exists and is this component's; refused if not.
    pub(super) async fn guard_parameter(&self, desired: &Desired, path: &str) -> Result<Option<String>, ProviderError> {
        let found = match self.ssm.get_parameter().name(path).send().await {
            Ok(o) => o,
            Err(e) if code(&e).as_deref() == Some("ParameterNotFound") => return Ok(None),
            Err(e) => return Err(err(format!("cannot read SSM parameter `{path}`"), e)),
        };
        let tags = self.parameter_tags(path).await?;
        guard::check(desired, ObjectKind::Service, Intent::Change, "SSM parameter", path, &tags)?;
        Ok(Some(found.parameter().and_then(|p| p.arn()).unwrap_or_default().to_string()))
    }

    /// The service's own execution role (its ARN), made or updated so that it reads exactly
    /// `references` and nothing else.
    pub(super) async fn service_execution_role(
        &self,
        s: &DesiredService,
        desired: &Desired,
        references: &[Reference],
    ) -> Result<String, ProviderError> {
        let name = service_role(&s.instance);
        let arn = match self.guard_iam_role(desired, &name, ObjectKind::Service, Intent::Change).await? {
            Some(arn) => arn,
            None => self.create_task_role(&name, tags(desired, "service", Some(&s.name))).await?,
        };
        for (policy, document) in [(EXECUTION_POLICY_NAME, EXECUTION_POLICY.to_string()), (SECRETS_POLICY_NAME, secrets_policy(references))]
        {
            self.iam
                .put_role_policy()
                .role_name(&name)
                .policy_name(policy)
                .policy_document(document)
                .send()
                .await
                .map_err(|e| err(format!("cannot set policy `{policy}` of IAM role `{name}`"), e))?;
        }
        Ok(arn)
    }

    /// What this service's secrets left that is provably its own: its role (if any) and its
    /// stored parameters, each only when its tags name this project, environment, component
    /// and service. Anything else found there (another tool's parameter, a role someone else
    /// made, a listing this identity may not make) is left alone and never stops a deploy:
    /// cleaning up is never worth refusing a deploy or a destroy for.
    pub(super) async fn service_secret_objects(&self, desired: &Desired, instance: &str, service: &str) -> (Option<String>, Vec<String>) {
        let mine = |tags: &Tags| guard::is_ours(desired, tags) && tags.get(labels::SERVICE).map(String::as_str) == Some(service);
        let role_name = service_role(instance);
        let role = match self.iam.get_role().role_name(&role_name).send().await {
            Ok(found) => found.role().filter(|r| mine(&guard::iam_tags(r))).map(|_| role_name),
            Err(_) => None,
        };
        let path = parameter_path(desired, service);
        let prefix = format!("{path}/");
        let mut parameters = Vec::new();
        let mut token = None;
        loop {
            let Ok(page) = self.ssm.get_parameters_by_path().path(&path).set_next_token(token).send().await else { break };
            for p in page.parameters() {
                // Only this service's own path (`…/api/`, never `…/api-v2/`), and only ours.
                let Some(name) = p.name().filter(|n| n.starts_with(&prefix)) else { continue };
                if self.parameter_tags(name).await.is_ok_and(|tags| mine(&tags)) {
                    parameters.push(name.to_string());
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        (role, parameters)
    }

    /// After `s` is updated: delete this service's stored parameters of secrets it no longer
    /// has (a value must not outlive its declaration). A parameter an `aws-ssm:` secret now
    /// names is kept. The role stays until the service is removed: tasks of the previous
    /// revision, still draining, run with it. Best effort: a failure is a warning.
    pub(super) async fn prune_service_secrets(&self, s: &DesiredService, desired: &Desired) {
        let (_, parameters) = self.service_secret_objects(desired, &s.instance, &s.name).await;
        let path = parameter_path(desired, &s.name);
        let kept = |name: &str| {
            s.secrets.iter().any(|(k, v)| match &v.secret.source {
                SecretSource::Env(_) | SecretSource::File(_) => name == format!("{path}/{k}"),
                SecretSource::AwsSsm(parameter) => name == parameter,
                SecretSource::AwsSm(_) => false,
            })
        };
        for name in parameters.iter().filter(|n| !kept(n)) {
            if let Err(e) = self.ssm.delete_parameter().name(name).send().await {
                eprintln!("warning: could not delete the stored value {name} of a removed secret: {}", code(&e).unwrap_or_default());
            }
        }
    }

    async fn delete_service_role(&self, role: &str) -> Result<(), ProviderError> {
        for policy in [EXECUTION_POLICY_NAME, SECRETS_POLICY_NAME] {
            match self.iam.delete_role_policy().role_name(role).policy_name(policy).send().await {
                Ok(_) => {}
                Err(e) if code(&e).as_deref() == Some("NoSuchEntity") => {}
                Err(e) => return Err(err(format!("cannot delete policy `{policy}` of IAM role `{role}`"), e)),
            }
        }
        self.iam.delete_role().role_name(role).send().await.map_err(|e| err(format!("cannot delete IAM role `{role}`"), e))?;
        Ok(())
    }

    /// Remove what a removed service's secrets left (see [`Self::service_secret_objects`]).
    /// Best effort, after the service itself is gone: a failure is a warning, never a
    /// half-done removal.
    pub(super) async fn remove_service_secrets(&self, desired: &Desired, instance: &str, service: &str) {
        let (role, parameters) = self.service_secret_objects(desired, instance, service).await;
        if let Some(role) = role {
            if let Err(e) = self.delete_service_role(&role).await {
                eprintln!("warning: {e}");
            }
        }
        for name in parameters {
            if let Err(e) = self.ssm.delete_parameter().name(&name).send().await {
                eprintln!("warning: could not delete the stored secret value {name}: {}", code(&e).unwrap_or_default());
            }
        }
    }
}

/// Read access to exactly these ARNs: SSM parameters and Secrets Manager secrets.
pub fn secrets_policy(references: &[Reference]) -> String {
    let ssm: Vec<&str> = references.iter().filter(|r| !r.secrets_manager).map(|r| r.arn.as_str()).collect();
    let sm: Vec<&str> = references.iter().filter(|r| r.secrets_manager).map(|r| r.arn.as_str()).collect();
    let mut statements = Vec::new();
    if !ssm.is_empty() {
        statements.push(serde_json::json!({"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": ssm}));
    }
    if !sm.is_empty() {
        statements.push(serde_json::json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": sm}));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}
