//! Secrets: where each is read (`env:`, `file:`, `aws-ssm:`, `aws-sm:`), how it reaches the
//! service, reading the local ones at deploy time, and the guard rail that spots a secret
//! written as a plain `env` value. A secret's value never enters the model: the model holds
//! its source, providers read the value when they deploy and keep only its digest.

use crate::model::{SecretDelivery, SecretSpec};
use crate::variables::Variables;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use crate::variables::REDACTED;

/// Where secret files are mounted in a container (`as: file`).
pub const SECRET_FILE_DIR: &str = "/run/secrets";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum SecretSource {
    /// A variable of the environment or `.env`.
    Env(String),
    /// A file, relative to nanokit.yml.
    File(String),
    /// An AWS SSM parameter (name or ARN).
    AwsSsm(String),
    /// An AWS Secrets Manager secret (name or ARN).
    AwsSm(String),
}

impl SecretSource {
    /// Parse `env:VAR` and friends; the error says what is wrong for the diagnostic.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (kind, rest) = text.split_once(':').ok_or_else(|| format!("`{text}` does not say where the secret is read"))?;
        if rest.is_empty() {
            return Err(format!("`{text}` names nothing after `{kind}:`"));
        }
        match kind {
            "env" if crate::names::is_env_name(rest) => Ok(SecretSource::Env(rest.to_string())),
            "env" => Err(format!("`{rest}` is not a variable name (letters, digits and `_`, not starting with a digit)")),
            "file" => Ok(SecretSource::File(rest.to_string())),
            "aws-ssm" => Ok(SecretSource::AwsSsm(rest.to_string())),
            "aws-sm" => Ok(SecretSource::AwsSm(rest.to_string())),
            other => Err(format!("`{other}:` is not a secret source")),
        }
    }

    /// Read by the cloud at start (ECS), never by nkdev.
    pub fn is_cloud(&self) -> bool {
        matches!(self, SecretSource::AwsSsm(_) | SecretSource::AwsSm(_))
    }
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(v) => write!(f, "env:{v}"),
            SecretSource::File(p) => write!(f, "file:{p}"),
            SecretSource::AwsSsm(p) => write!(f, "aws-ssm:{p}"),
            SecretSource::AwsSm(p) => write!(f, "aws-sm:{p}"),
        }
    }
}

/// A resolved secret: where it is read and how it is delivered. Never its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Secret {
    pub source: SecretSource,
    #[serde(rename = "as")]
    pub delivery: SecretDelivery,
}

impl Secret {
    pub fn from_spec(spec: &SecretSpec) -> Result<Self, String> {
        Ok(Secret { source: SecretSource::parse(spec.source())?, delivery: spec.delivery() })
    }

    /// What `config`, hover and plans show: `•••• (env:DB_PASSWORD)`.
    pub fn redacted(&self) -> String {
        match self.delivery {
            SecretDelivery::Env => format!("{REDACTED} ({})", self.source),
            SecretDelivery::File => format!("{REDACTED} ({}, as a file)", self.source),
        }
    }
}

/// A secret's value, read at deploy time. It prints as `••••` and cannot be serialized, so
/// it cannot reach a plan, the state file, a label or a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }
    /// The value itself, for the one place that delivers it to the service.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A secret as a deploy carries it: where it is read, how it is delivered, and (once read,
/// for `env:`/`file:` sources) its value, which is never serialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DesiredSecret {
    #[serde(flatten)]
    pub secret: Secret,
    #[serde(skip)]
    pub value: Option<SecretValue>,
}

/// A local secret that cannot be read: named by its source, never by a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read an `env:` or `file:` secret at deploy time (`None` for the cloud's own sources).
/// A file's one trailing newline is dropped (editors add one; `echo pw > file` too).
pub fn read_local(source: &SecretSource, vars: &Variables, base_dir: &Path) -> Result<Option<String>, Unreadable> {
    match source {
        SecretSource::Env(name) => match vars.get(name) {
            Some(v) => Ok(Some(v.value.clone())),
            None => Err(Unreadable(format!("variable `{name}` is not set (looked in {})", vars.searched()))),
        },
        SecretSource::File(path) => {
            let full = base_dir.join(path);
            let mut value = std::fs::read_to_string(&full).map_err(|e| Unreadable(format!("cannot read {}: {e}", full.display())))?;
            if value.ends_with('\n') {
                value.pop();
                if value.ends_with('\r') {
                    value.pop();
                }
            }
            Ok(Some(value))
        }
        SecretSource::AwsSsm(_) | SecretSource::AwsSm(_) => Ok(None),
    }
}

/// A digest of secret values for a config hash: a changed value rolls the service.
///
/// The config hash is published (labels, tags, state) and the rest of it can be computed from
/// nanokit.yml, so a plain hash of a value would let anyone who reads tags test guesses of a
/// weak secret quickly. The digest is therefore deliberately slow (SHA-256 iterated
/// [`DIGEST_ROUNDS`] times, a few milliseconds per deploy) and truncated to 64 bits. That
/// raises the cost of guessing; it cannot make a guessable secret safe.
pub fn digest<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"nanokit secret digest v1\0");
    for (name, value) in values {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    let mut state: [u8; 32] = hasher.finalize().into();
    for _ in 0..DIGEST_ROUNDS {
        state = Sha256::digest(state).into();
    }
    state.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Rounds of [`digest`]: about 10 ms on one core.
pub const DIGEST_ROUNDS: u32 = 1 << 15;

/// Name parts that mark a variable as a secret (matched on `_`-separated words).
const SECRET_WORDS: &[&str] = &["PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "TOKEN", "APIKEY", "PRIVATE", "CREDENTIALS", "CREDENTIAL"];

/// Why a plain `env` entry looks like a secret, if it does: its name (`DB_PASSWORD`,
/// `API_KEY`, `GITHUB_TOKEN`) or a long random value. References (`${…}`), empty values and
/// obvious non-secrets (`true`, numbers, URLs without credentials) are not flagged.
pub fn looks_secret(name: &str, value: &str) -> Option<&'static str> {
    if value.is_empty() || value.contains("${") {
        return None;
    }
    if secret_name(name) && !matches!(value, "true" | "false") && value.parse::<f64>().is_err() {
        return Some("its name says it is a secret");
    }
    if let Some((_, rest)) = value.split_once("://") {
        if rest.split('/').next().is_some_and(|authority| authority.contains(':') && authority.contains('@')) {
            return Some("the URL holds a password");
        }
    }
    if value.len() >= 20 && !value.contains(' ') && !value.contains('/') && entropy_bits_per_char(value) >= 4.0 {
        let classes = [
            value.bytes().any(|b| b.is_ascii_lowercase()),
            value.bytes().any(|b| b.is_ascii_uppercase()),
            value.bytes().any(|b| b.is_ascii_digit()),
        ];
        if classes.iter().filter(|c| **c).count() >= 2 {
            return Some("the value looks random, like a key or token");
        }
    }
    None
}

/// Whether a variable's name says it holds a secret: `DB_PASSWORD`, `API_KEY`, `GITHUB_TOKEN`.
pub fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '-', '.']).collect();
    words.iter().any(|w| SECRET_WORDS.contains(w))
        || words.windows(2).any(|w| w[1] == "KEY" && matches!(w[0], "API" | "ACCESS" | "SECRET" | "PRIVATE" | "SIGNING" | "ENCRYPTION"))
}

/// Whether a value read from the environment (`${VAR}`) must not be shown: the key or one of
/// the variables it read is named like a secret, or the value looks like one.
pub fn sensitive(key: &str, value: &str, interpolation: &crate::provenance::Interpolation) -> bool {
    secret_name(key) || interpolation.uses.iter().any(|u| secret_name(&u.name)) || looks_secret("", value).is_some()
}

/// Whether the value at `pointer` is hidden wherever nkdev or the editor shows it: it was read
/// from the environment (`${…}`, so it is not in the file) and [`sensitive`] by the key it
/// sits under, the variables it read, or its shape.
pub fn hidden(doc: &crate::document::Document, pointer: Option<&str>, value: &str) -> bool {
    let Some((pointer, interpolation)) = pointer.and_then(|p| Some(p).zip(doc.interpolated.get(p))) else { return false };
    let key = crate::document::unescape(pointer.rsplit('/').next().unwrap_or_default());
    sensitive(&key, value, interpolation)
}

fn entropy_bits_per_char(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = value.chars().count() as f64;
    counts.values().map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_print_back() {
        for text in ["env:DB_PASSWORD", "file:./secrets/db", "aws-ssm:/shop/prod/db", "aws-sm:arn:aws:secretsmanager:us-east-1:1:secret:x"]
        {
            assert_eq!(SecretSource::parse(text).unwrap().to_string(), text);
        }
        for bad in ["DB_PASSWORD", "env:", "env:1X", "vault:secret/x", "env:A-B"] {
            assert!(SecretSource::parse(bad).is_err(), "{bad}");
        }
        assert!(SecretSource::parse("aws-sm:x").unwrap().is_cloud());
    }

    #[test]
    fn local_secrets_are_read_and_missing_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let vars = Variables::from_pairs([("DB", "hunter2")]);
        let read = |s: &str| read_local(&SecretSource::parse(s).unwrap(), &vars, dir.path());
        assert_eq!(read("env:DB").unwrap().as_deref(), Some("hunter2"));
        assert_eq!(read("file:pw").unwrap().as_deref(), Some("s3cret"));
        assert_eq!(read("aws-ssm:/x").unwrap(), None);
        assert!(read("env:NOPE").unwrap_err().0.contains("`NOPE` is not set"));
        assert!(read("file:missing").unwrap_err().0.contains("missing"));
    }

    #[test]
    fn digests_change_with_values_and_hide_them() {
        let a = digest([("DB", "one")]);
        assert_ne!(a, digest([("DB", "two")]));
        assert_eq!(a, digest([("DB", "one")]));
        assert!(!a.contains("one"));
    }

    #[test]
    fn secret_looking_values() {
        assert!(looks_secret("DB_PASSWORD", "hunter2").is_some());
        assert!(looks_secret("STRIPE_API_KEY", "sk_live_x").is_some());
        assert!(looks_secret("GITHUB_TOKEN", "x").is_some());
        assert!(looks_secret("DATABASE_URL", "postgres://app:hunter2@db:5432/app").is_some());
        assert!(looks_secret("SESSION", "q8ZkP3xV7mN2rT9wY4bL6cH1").is_some());
        for (k, v) in [
            ("NODE_ENV", "production"),
            ("DB_PASSWORD", "${DB_PASSWORD}"),
            ("AUTH_ENABLED", "true"),
            ("TOKEN_TTL", "3600"),
            ("DATABASE_URL", "postgres://db:5432/app"),
            ("KEYBOARD", "us"),
            ("IMAGE", "registry.example.com/team/app-server:2024.11"),
            ("PASSWORD_MIN_LENGTH", "12"),
        ] {
            assert_eq!(looks_secret(k, v), None, "{k}={v}");
        }
    }
}
