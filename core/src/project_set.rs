//! Rules across several nanokit.yml files: the multi-repo setup puts one file per repository of
//! one project side by side, and each deploys into the same clusters. Run by `nkdev validate`
//! given several files (or `--workspace DIR`) and by the language server over its workspace,
//! so both report the same findings from this one place.
//!
//! Two files meet only where they deploy to the same cluster: the same project and the same
//! environment. Each finding is reported in the file whose text has to change, naming the
//! other file.

use crate::analysis::Analysis;
use crate::diagnostic::{Code, Diagnostic};
use crate::document::{pointer, Document, Pointer};
use crate::resolve::ResolvedEnvironment;
use crate::source::Span;
use std::path::{Path, PathBuf};

/// One file of the set: where it is (for messages) and its analysis.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub path: &'a Path,
    pub analysis: &'a Analysis,
}

/// For each member, in the same order, the findings against the other members.
pub fn check(members: &[Member<'_>]) -> Vec<Vec<Diagnostic>> {
    let mut out: Vec<Vec<Diagnostic>> = vec![Vec::new(); members.len()];
    for (i, me) in members.iter().enumerate() {
        let Some(project) = me.analysis.project.name.as_deref() else { continue };
        let siblings: Vec<&Member<'_>> = members
            .iter()
            .enumerate()
            .filter(|(j, other)| *j != i && other.analysis.project.name.as_deref() == Some(project) && other.path != me.path)
            .map(|(_, other)| other)
            .collect();
        if siblings.is_empty() {
            continue;
        }
        let found = &mut out[i];
        shared_component(me, &siblings, found);
        for (env, mine) in &me.analysis.environments {
            let mine = &mine.resolved;
            let theirs: Vec<(&Member<'_>, &ResolvedEnvironment)> =
                siblings.iter().filter_map(|s| s.analysis.environments.get(env).map(|e| (*s, &e.resolved))).collect();
            for (other, other_env) in &theirs {
                same_host(me, mine, other, other_env, found);
                same_instance_name(me, mine, other, other_env, found);
            }
            infra_owners(me, mine, &theirs, found);
        }
    }
    for found in &mut out {
        found.sort_by_key(|d| d.span.start);
        found.dedup_by(|a, b| a.code == b.code && a.span == b.span && a.message == b.message);
    }
    out
}

fn doc<'a>(member: &Member<'a>) -> &'a Document {
    &member.analysis.document
}

/// NK060: two repositories with one component (it defaults to the project name) are one
/// ownership scope: each deploy would take the other's containers for its own stale ones.
fn shared_component(me: &Member<'_>, siblings: &[&Member<'_>], out: &mut Vec<Diagnostic>) {
    let project = &me.analysis.project;
    let Some(name) = project.name.as_deref() else { return };
    let component = project.component.as_deref().unwrap_or(name);
    for other in siblings {
        let other_component = other.analysis.project.component.as_deref().unwrap_or(name);
        if other_component != component {
            continue;
        }
        let span = doc(me).location("/component").map_or_else(|| doc(me).span_of("/name"), |l| l.value);
        let how = if project.component.is_none() { " (the project name, as no `component` is set)" } else { "" };
        out.push(
            Diagnostic::new(
                Code::SharedAcrossRepos,
                span,
                format!("component `{component}`{how} of project `{name}` is also used by {}", other.path.display()),
            )
            .label("one component, two repositories")
            .help("give each repository its own `component:`; with one, each deploy would take the other's services for its own"),
        );
    }
}

/// NK060 for hosts: the gateway of one cluster routes a host to one service. Resolution has
/// lowercased the hosts, as DNS and the gateway ignore case.
fn same_host(me: &Member<'_>, mine: &ResolvedEnvironment, other: &Member<'_>, theirs: &ResolvedEnvironment, out: &mut Vec<Diagnostic>) {
    for (service, s) in &mine.services {
        let Some(host) = &s.host else { continue };
        let Some(other_service) =
            theirs.services.iter().find(|(_, o)| o.host.as_ref().is_some_and(|h| h.value == host.value)).map(|(n, _)| n)
        else {
            continue;
        };
        out.push(
            Diagnostic::new(
                Code::SharedAcrossRepos,
                span_of(doc(me), host.pointer.as_deref(), &pointer(&["services", service, "host"])),
                format!(
                    "host `{}` is also routed to `{other_service}` by {} in environment `{}`",
                    host.value,
                    other.path.display(),
                    mine.env
                ),
            )
            .label("routed by two repositories")
            .help("the cluster's gateway sends a host to one service; give one of them another host"),
        );
    }
}

/// NK071: containers and ECS services are named `nk-<project>-<env>-<service>`, without the
/// component, so two repositories deploying a service of one name into one cluster collide;
/// the second deploy is refused.
fn same_instance_name(
    me: &Member<'_>,
    mine: &ResolvedEnvironment,
    other: &Member<'_>,
    theirs: &ResolvedEnvironment,
    out: &mut Vec<Diagnostic>,
) {
    for (service, s) in &mine.services {
        if !theirs.services.contains_key(service) {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::InstanceClaimedTwice,
                doc(me).key_span_of(&pointer(&["services", service])),
                format!(
                    "service `{service}` is also deployed by {} into environment `{}`: both would be `{}`",
                    other.path.display(),
                    mine.env,
                    s.internal_host
                ),
            )
            .label("same deployed name in another repository")
            .help("rename the service in one repository; the cluster holds one service of each name"),
        );
    }
}

/// NK072: the repository that owns an environment's infrastructure (network, gateway, VPC,
/// load balancer) is the one without `shared: true`. With none in the set, the sharing repos
/// have nothing to join; with two, the second one's deploy is refused.
fn infra_owners(me: &Member<'_>, mine: &ResolvedEnvironment, theirs: &[(&Member<'_>, &ResolvedEnvironment)], out: &mut Vec<Diagnostic>) {
    let owners: Vec<&Member<'_>> = theirs.iter().filter(|(_, e)| !e.shared).map(|(m, _)| *m).collect();
    let env = &mine.env;
    let infra = Pointer::of(&["environments", env, "infra"]);
    let span = match (doc(me).location(&infra.child("shared")), doc(me).location(&infra)) {
        (Some(shared), _) => shared.key_or_value(),
        (None, Some(infra)) => infra.key_or_value(),
        // No infra block (the default `local`): the project name stands for the file.
        (None, None) => doc(me).span_of("/name"),
    };
    if mine.shared && owners.is_empty() {
        out.push(
            Diagnostic::new(
                Code::InfraOwnership,
                span,
                format!("environment `{env}` is `shared: true` here, and no other repository of project `{}` in this set owns it", mine.project),
            )
            .label("shares infrastructure nobody creates")
            .help("one repository per environment leaves out `shared: true` and creates the network and gateway; check that it is in this set"),
        );
    } else if !mine.shared {
        if let Some(owner) = owners.first() {
            out.push(
                Diagnostic::new(
                    Code::InfraOwnership,
                    span,
                    format!("environment `{env}` is also owned by {}: both would create its network and gateway", owner.path.display()),
                )
                .label("a second owner")
                .help("set `infra.shared: true` in every repository but one"),
            );
        }
    }
}

/// The span of a sourced value's pointer, or of `fallback`.
fn span_of(doc: &Document, sourced: Option<&str>, fallback: &str) -> Span {
    doc.span_of(sourced.unwrap_or(fallback))
}

/// nanokit.yml files below `dir` (at most 4 levels, skipping dependency and build folders),
/// sorted: what `--workspace DIR` and the language server check together.
pub fn discover(dirs: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 4 || out.len() > 200 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "node_modules" | "target" | ".git" | ".nanokit" | "vendor") {
                    walk(&path, depth + 1, out);
                }
            } else if crate::FILE_NAMES.contains(&name.as_ref()) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        walk(dir, 0, &mut out);
    }
    out
}
