//! Which built-in provider honours which key of nanokit.yml: one table that drives the rules
//! (NK073 for a key the environment's provider ignores, NK074 for one it refuses), completion
//! and hover in the editor, and the table in the README. A key the file accepts is never
//! dropped without a word.
//!
//! The verdicts describe the providers in the CLI crate (`cli/src/docker`, `cli/src/aws`);
//! change a row here when a provider learns or drops a key.

use crate::diagnostic::{Code, Diagnostic};
use crate::document::{unescape, Document, Pointer};
use crate::model::ProviderId;
use crate::resolve::ResolvedEnvironment;

/// What a provider does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Honoured,
    /// Honoured in part; the text says what the provider does instead.
    Partly(&'static str),
    /// Read by nothing: the text says what happens instead.
    Ignored(&'static str),
    /// The deploy would fail on it: refused before anything changes.
    Refused(&'static str),
}

/// One key (`infra.scaling`, `service.volumes`) and what each built-in provider does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySupport {
    pub key: &'static str,
    pub docker: Support,
    pub aws: Support,
}

use Support::{Honoured as H, Ignored, Partly, Refused};

/// Every key whose support differs between providers, or is partial. Keys not listed are
/// honoured by both.
pub const TABLE: &[KeySupport] = &[
    KeySupport { key: "infra.host", docker: H, aws: Ignored("the engine address is Docker's; AWS deploys to the account and region") },
    KeySupport { key: "infra.region", docker: Ignored("the engine runs where `host` (or DOCKER_HOST) points"), aws: H },
    KeySupport {
        key: "infra.vpc",
        docker: Ignored("services share one Docker network per environment"),
        aws: Partly("the VPC is used as it is: nanokit adds no subnets or security group to it, and the load balancer and tasks use all of its subnets"),
    },
    KeySupport {
        key: "infra.cidr",
        docker: Ignored("the Docker network gets the engine's default address range"),
        aws: Partly("used only when nanokit creates the VPC; an existing VPC keeps its range"),
    },
    KeySupport {
        key: "infra.scaling",
        docker: Ignored("each service runs as one container"),
        aws: Partly("`auto` adds CPU target tracking (60 %) between `min` and `max`; `manual` sets up no scaling"),
    },
    KeySupport {
        key: "infra.min",
        docker: Ignored("each service runs as one container"),
        aws: Partly("the number of tasks each deploy sets, whatever `scaling` says; with `scaling: auto` also the lower bound"),
    },
    KeySupport {
        key: "infra.max",
        docker: Ignored("each service runs as one container"),
        aws: Partly("the upper bound of `scaling: auto`; without it, no effect"),
    },
    KeySupport {
        key: "infra.instances",
        docker: Ignored("containers run on the engine's machine"),
        aws: Ignored("tasks run on Fargate with 0.25 vCPU and 512 MiB each"),
    },
    KeySupport {
        key: "infra.dns",
        docker: Ignored("the gateway answers for every host; point DNS at the engine's machine yourself"),
        aws: Partly("only `dns: aws` acts (a Route 53 record to the load balancer); other values are ignored"),
    },
    KeySupport {
        key: "infra.autoCreateDomain",
        docker: Ignored("no DNS records are made"),
        aws: Partly("only with `dns: aws`: creates a Route 53 hosted zone for the host's domain; it never registers a domain"),
    },
    KeySupport {
        key: "service.path",
        docker: H,
        aws: Partly("the code is not copied into the task: the service's own `image` must contain it; `install` still runs before `start`"),
    },
    KeySupport { key: "service.host", docker: H, aws: Partly("the load balancer routes by port, not by host; the host names the DNS record with `dns: aws`") },
    KeySupport {
        key: "service.provisioning.install",
        docker: Partly("runs only for a service with a `path`, in it, before `start`"),
        aws: Partly("runs only for a service with a `path`, at every task start, in the image's working directory"),
    },
    KeySupport {
        key: "service.healthcheck",
        docker: H,
        aws: Ignored("a service is ready when its tasks run; the load balancer checks the port with AWS's defaults"),
    },
    KeySupport {
        key: "service.healthcheck.path",
        docker: Partly("probed during the deploy only (readiness), not afterwards as a container healthcheck"),
        aws: Ignored("a service is ready when its tasks run"),
    },
    KeySupport { key: "service.volumes", docker: H, aws: Refused("ECS tasks on Fargate get no named volumes from nanokit") },
];

impl KeySupport {
    /// The code that reports this key when a provider ignores it: `infra.host` had its own
    /// rule first (NK062, with its own help), every other key NK073.
    pub fn ignored_code(&self) -> Code {
        if self.key == "infra.host" {
            Code::HostWithoutDocker
        } else {
            Code::ProviderIgnoresKey
        }
    }
    pub fn of(&self, provider: &ProviderId) -> Option<Support> {
        match provider.as_str() {
            "docker" => Some(self.docker),
            "aws" => Some(self.aws),
            // Not built in: what it honours is its own business.
            _ => None,
        }
    }
}

/// The row for a key path such as `infra.min` or `service.healthcheck.path`.
pub fn row(key: &str) -> Option<&'static KeySupport> {
    TABLE.iter().find(|r| r.key == key)
}

/// The key path of a JSON pointer into the file: `/environments/prod/infra/min` →
/// `infra.min`, `/services/api/healthcheck/path` → `service.healthcheck.path`, also for
/// environment overrides and runtimes (a runtime's keys are a service's defaults).
pub fn key_of_pointer(pointer: &str) -> Option<String> {
    let segments: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
    let rest: &[String] = match segments.as_slice() {
        [e, _, i, rest @ ..] if e == "environments" && i == "infra" => return rest.first().map(|k| format!("infra.{k}")),
        [e, _, s, _, rest @ ..] if e == "environments" && s == "services" => rest,
        [s, _, rest @ ..] if s == "services" || s == "runtimes" => rest,
        _ => return None,
    };
    let keys: Vec<&str> = rest.iter().map(String::as_str).take_while(|k| k.parse::<usize>().is_err()).collect();
    if keys.is_empty() {
        return None;
    }
    Some(format!("service.{}", keys.join(".")))
}

/// Hover and completion text for a key: what each built-in provider does with it.
pub fn describe(key: &str) -> Option<String> {
    let row = row(key)?;
    let line = |provider: &str, s: Support| match s {
        Support::Honoured => format!("- `{provider}`: honoured"),
        Support::Partly(what) => format!("- `{provider}`: partly: {what}"),
        Support::Ignored(what) => format!("- `{provider}`: **ignored**: {what}"),
        Support::Refused(what) => format!("- `{provider}`: **refused**: {what}"),
    };
    Some(format!("Providers:\n{}\n{}", line("docker", row.docker), line("aws", row.aws)))
}

/// The table for the README, generated so it cannot disagree with the rules.
pub fn markdown_table() -> String {
    let cell = |row: &KeySupport, s: Support| match s {
        Support::Honoured => "yes".to_string(),
        Support::Partly(what) => format!("partly: {what}"),
        Support::Ignored(what) => format!("**ignored** ({}): {what}", row.ignored_code()),
        Support::Refused(what) => format!("**refused** ({}): {what}", Code::ProviderRefusesKey),
    };
    let mut out = String::from("| Key | `docker` | `aws` |\n|---|---|---|\n");
    for row in TABLE {
        out.push_str(&format!("| `{}` | {} | {} |\n", row.key, cell(row, row.docker), cell(row, row.aws)));
    }
    out.push_str("| every other key | yes | yes |\n");
    out
}

/// NK073 and NK074 over the environments analysed. A key of an environment's own block
/// (`environments.<env>.infra`, `environments.<env>.services`) is judged by that environment's
/// provider; a key of a top-level service only when every environment analysed ignores it
/// (otherwise some environment uses it).
pub fn check(environments: &[&ResolvedEnvironment], doc: &Document) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut judged: Vec<&ResolvedEnvironment> = Vec::with_capacity(environments.len());
    for resolved in environments {
        let own = Pointer::of(&["environments", &resolved.env]);
        // A provider the file misspells is resolved as the default; judging keys by that
        // default would only add noise to the provider's own error.
        let written = doc.json.pointer(&own.child("infra").child("provider"));
        if written.is_some_and(|w| w.as_str() != Some(resolved.provider.as_str())) {
            continue;
        }
        judged.push(resolved);
        for p in keys_below(doc, &own.child("infra"), 1).into_iter().chain(keys_below(doc, &own.child("services"), 2)) {
            out.extend(judge(doc, &p, &resolved.provider, resolved));
        }
    }
    // Top-level service keys: only those with a row can be ignored anywhere (a cheap filter,
    // as this runs on every keystroke of a file with a thousand services).
    let Some(services) = doc.json.get("services").and_then(|s| s.as_object()) else { return out };
    let every_provider = providers_of_file(doc);
    for (name, body) in services {
        for key in body.as_object().into_iter().flat_map(|b| b.keys()) {
            let Some(row) = TABLE.iter().find(|r| r.key.strip_prefix("service.") == Some(key.as_str())) else { continue };
            let p = Pointer::of(&["services", name, key]);
            // Ignored: only when no environment of the file (checked here or not, so that
            // `validate --env prod --fix` never removes what `local` uses) reads it.
            let ignored_everywhere =
                every_provider.iter().all(|p| p.as_ref().and_then(|p| row.of(p)).is_some_and(|s| matches!(s, Support::Ignored(_))));
            if ignored_everywhere {
                if let Some(env) = judged.first() {
                    out.extend(judge(doc, &p, &env.provider, env));
                }
                continue;
            }
            // Refused: by any environment checked, which then needs the key moved out of it.
            for env in &judged {
                if matches!(row.of(&env.provider), Some(Support::Refused(_))) {
                    out.extend(judge(doc, &p, &env.provider, env));
                }
            }
        }
    }
    out
}

/// The provider of every environment the file defines (`local` on docker when it defines
/// none); `None` for one it misspells, which the file's own error reports.
fn providers_of_file(doc: &Document) -> Vec<Option<ProviderId>> {
    let Some(envs) = doc.json.get("environments").and_then(|e| e.as_object()).filter(|e| !e.is_empty()) else {
        return vec![Some(ProviderId::DOCKER)];
    };
    envs.values()
        .map(|env| match env.pointer("/infra/provider") {
            None => Some(ProviderId::DOCKER),
            Some(written) => serde_json::from_value(written.clone()).ok(),
        })
        .collect()
}

/// The diagnostic for one key under one provider, if it is ignored or refused there.
fn judge(doc: &Document, p: &str, provider: &ProviderId, env: &ResolvedEnvironment) -> Option<Diagnostic> {
    let key = key_of_pointer(p)?;
    let loc = doc.location(p)?;
    let short = key.trim_start_matches("infra.").trim_start_matches("service.");
    let name = provider.as_str();
    if row(&key).is_some_and(|r| r.ignored_code() != Code::ProviderIgnoresKey) {
        return None; // reported by its own rule
    }
    // `dns` acts on AWS for one value only.
    let support = match (key.as_str(), provider.as_str()) {
        ("infra.dns", "aws") if doc.json.pointer(p).and_then(|v| v.as_str()) != Some("aws") => {
            Support::Ignored("only `dns: aws` acts on AWS")
        }
        _ => row(&key)?.of(provider)?,
    };
    let scope = match support {
        Support::Ignored(_) if p.starts_with("/services/") => "every environment of this file".to_string(),
        _ => format!("environment `{}`", env.env),
    };
    match support {
        Support::Ignored(instead) => {
            let mut d = Diagnostic::new(
                Code::ProviderIgnoresKey,
                loc.key_or_value(),
                format!("provider `{name}` ignores `{short}` (in {scope}): {instead}"),
            )
            .label(format!("not used by `{name}`"))
            .help(format!("remove `{short}`, or deploy this environment with a provider that uses it"));
            if let Some((span, text)) = doc.entry_removal(p) {
                d = d.fix(format!("Remove `{short}`"), span, text);
            }
            Some(d)
        }
        Support::Refused(why) => Some(
            Diagnostic::new(
                Code::ProviderRefusesKey,
                loc.key_or_value(),
                format!("provider `{name}` cannot deploy `{short}` (in {scope}): {why}"),
            )
            .label(format!("refused by `{name}`"))
            .help(format!("move `{short}` into the environments whose provider supports it (`environments.<env>.services.<service>`)")),
        ),
        Support::Honoured | Support::Partly(_) => None,
    }
}

/// Pointers of mapping keys `depth` levels below `base` (1: its own keys).
fn keys_below(doc: &Document, base: &Pointer, depth: usize) -> Vec<String> {
    let mut level = vec![base.clone()];
    for _ in 0..depth {
        level = level
            .iter()
            .flat_map(|p| match doc.json.pointer(p).and_then(|v| v.as_object()) {
                Some(map) => map.keys().map(|k| p.child(k)).collect::<Vec<_>>(),
                None => Vec::new(),
            })
            .collect();
    }
    level.into_iter().map(|p| p.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, AnalyzeOptions};

    fn found(text: &str) -> Vec<(Code, String, usize)> {
        let a = analyze(text, &AnalyzeOptions::default());
        a.diagnostics
            .iter()
            .filter(|d| matches!(d.code, Code::ProviderIgnoresKey | Code::ProviderRefusesKey))
            .map(|d| (d.code, d.message.clone(), d.fixes.len()))
            .collect()
    }

    #[test]
    fn pointers_map_to_key_paths() {
        assert_eq!(key_of_pointer("/environments/prod/infra/min").as_deref(), Some("infra.min"));
        assert_eq!(key_of_pointer("/environments/prod/infra/instances/0/type").as_deref(), Some("infra.instances"));
        assert_eq!(key_of_pointer("/services/api/healthcheck/path").as_deref(), Some("service.healthcheck.path"));
        assert_eq!(key_of_pointer("/environments/e/services/api/volumes/0").as_deref(), Some("service.volumes"));
        assert_eq!(key_of_pointer("/runtimes/node/provisioning/install").as_deref(), Some("service.provisioning.install"));
        assert_eq!(key_of_pointer("/name"), None);
    }

    #[test]
    fn each_ignored_infra_key_of_a_docker_environment_is_named_with_a_fix() {
        let text = "name: s\nenvironments:\n  local:\n    infra:\n      provider: docker\n      scaling: auto\n      min: 1\n      max: 3\n      instances:\n        - type: t3.small\n          count: 2\n";
        let found = found(text);
        let keys: Vec<&str> = found.iter().map(|(_, m, _)| m.split('`').nth(3).unwrap()).collect();
        assert_eq!(keys, ["scaling", "min", "max", "instances"], "{found:?}");
        assert!(found.iter().all(|(c, m, fixes)| *c == Code::ProviderIgnoresKey && m.contains("provider `docker`") && *fixes == 1));
        // The fix of a block value removes the whole block and nothing else.
        let a = analyze(text, &AnalyzeOptions::default());
        let d = a.diagnostics.iter().find(|d| d.message.contains("`instances`")).unwrap();
        let edit = &d.fixes[0].edits[0];
        let mut fixed = text.to_string();
        fixed.replace_range(edit.span.start..edit.span.end, &edit.new_text);
        assert!(fixed.ends_with("      max: 3\n"), "{fixed}");
    }

    #[test]
    fn removing_the_only_key_leaves_an_empty_mapping_not_a_null() {
        let text = "name: s\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra:\n      min: 2\n";
        let a = analyze(text, &AnalyzeOptions::default());
        let d = a.diagnostics.iter().find(|d| d.code == Code::ProviderIgnoresKey).unwrap();
        let (fixed, n) =
            crate::rules::fix_safely(
                text,
                |t| if t == text { vec![d.clone()] } else { analyze(t, &AnalyzeOptions::default()).diagnostics },
            );
        assert_eq!((fixed.as_str(), n), ("name: s\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra: {}\n", 1));
        assert!(!analyze(fixed, &AnalyzeOptions::default()).has_errors());
    }

    #[test]
    fn fixing_every_ignored_key_of_a_mapping_leaves_it_empty_and_valid() {
        let text = "name: s\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra:\n      scaling: auto\n      min: 1\n      max: 3\n";
        let (fixed, n) = crate::rules::fix_safely(text, |t| analyze(t, &AnalyzeOptions::default()).diagnostics);
        assert_eq!((fixed.as_str(), n), ("name: s\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra: {}\n", 3));
        assert!(analyze(fixed, &AnalyzeOptions::default()).diagnostics.is_empty());
    }

    #[test]
    fn a_key_an_anchor_shares_with_another_environment_is_never_removed() {
        let text = "name: s\nservices:\n  api:\n    image: x\nenvironments:\n  local:\n    infra: &infra\n      min: 2\n      max: 4\n  prod:\n    infra:\n      <<: *infra\n      provider: aws\n      region: eu-west-1\n";
        let (fixed, n) = crate::rules::fix_safely(text, |t| analyze(t, &AnalyzeOptions::default()).diagnostics);
        assert_eq!((fixed.as_str(), n), (text, 0), "prod's task count comes from the same lines");
    }

    #[test]
    fn the_healthcheck_slash_is_inserted_not_retyped() {
        let fix = |value: &str| {
            let text = format!(
                "name: s\nservices:\n  api:\n    image: x\n    expose: 80\n    healthcheck:\n      path: {value}\n      interval: 5s\n"
            );
            crate::rules::fix_safely(&text, |t| analyze(t, &AnalyzeOptions::default()).diagnostics)
        };
        assert!(fix("health").0.contains("      path: /health\n      interval: 5s\n"));
        assert!(fix("\"health\"").0.contains("      path: \"/health\"\n"));
        // A folded block scalar's span runs into the next line: no fix rather than a broken file.
        let (text, n) = fix(">-\n        health");
        assert_eq!(n, 0, "{text}");
    }

    #[test]
    fn no_fix_inside_a_flow_mapping_and_none_for_a_misspelled_provider() {
        let flow = found("name: s\nenvironments:\n  local:\n    infra: {provider: docker, min: 2}\n");
        assert_eq!(flow.len(), 1, "{flow:?}");
        assert_eq!(flow[0].2, 0, "deleting the line would delete the whole infra block");
        assert!(found("name: s\nenvironments:\n  prod:\n    infra:\n      provider: awz\n      region: x\n").is_empty());
    }

    #[test]
    fn a_top_level_key_counts_only_when_every_environment_ignores_it() {
        let service = "name: s\nservices:\n  api:\n    image: a\n    expose: 80\n    healthcheck:\n      path: /\n";
        let aws = "  prod:\n    infra:\n      provider: aws\n      region: eu-west-1\n";
        let only_aws = found(&format!("{service}environments:\n{aws}"));
        assert_eq!(only_aws.len(), 1, "{only_aws:?}");
        assert!(only_aws[0].1.contains("provider `aws` ignores `healthcheck` (in every environment of this file)"), "{only_aws:?}");
        // With a docker environment beside it, the healthcheck is used there: nothing to say,
        // also when only the AWS environment is checked (`validate --env prod --fix` must
        // never remove what `local` uses).
        let both = format!("{service}environments:\n  local: {{}}\n{aws}");
        assert!(found(&both).is_empty());
        let prod_only = analyze(both.as_str(), &AnalyzeOptions { env: Some("prod".into()), ..AnalyzeOptions::default() });
        assert!(!prod_only.diagnostics.iter().any(|d| d.code == Code::ProviderIgnoresKey), "{:?}", prod_only.diagnostics);
        // An override in the AWS environment is that environment's own: reported.
        let overridden =
            format!("{service}environments:\n  local: {{}}\n{aws}    services:\n      api:\n        healthcheck:\n          cmd: 'true'\n");
        assert_eq!(found(&overridden).len(), 1);
    }

    #[test]
    fn top_level_volumes_are_refused_for_the_aws_environment_even_beside_a_docker_one() {
        let text = "name: s\nservices:\n  db:\n    image: p\n    volumes: ['d:/d']\nenvironments:\n  local: {}\n  prod:\n    infra:\n      provider: aws\n      region: eu-west-1\n";
        let found = found(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("provider `aws` cannot deploy `volumes` (in environment `prod`)"), "{found:?}");
        let local_only = analyze(text, &AnalyzeOptions { env: Some("local".into()), ..AnalyzeOptions::default() });
        assert!(!local_only.has_errors(), "{:?}", local_only.diagnostics);
    }

    #[test]
    fn volumes_on_aws_are_refused_and_dns_other_than_aws_is_ignored_there() {
        let text = "name: s\nservices:\n  db:\n    image: p\n    volumes: ['d:/d']\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: eu-west-1\n      dns: cloudflare\n";
        let found = found(text);
        assert!(found.iter().any(|(c, m, _)| *c == Code::ProviderRefusesKey && m.contains("`volumes`")), "{found:?}");
        assert!(found.iter().any(|(c, m, _)| *c == Code::ProviderIgnoresKey && m.contains("`dns`")), "{found:?}");
        assert!(analyze(text, &AnalyzeOptions::default()).has_errors());
    }

    #[test]
    fn every_row_names_a_key_the_file_accepts() {
        for row in TABLE {
            let (scope, key) = row.key.split_once('.').unwrap();
            let pointer = match scope {
                "infra" => format!("/environments/e/infra/{}", key.replace('.', "/")),
                _ => format!("/services/s/{}", key.replace('.', "/")),
            };
            assert!(crate::schema::key_info(&pointer).is_some(), "{} is not a key of nanokit.yml", row.key);
        }
    }
}
