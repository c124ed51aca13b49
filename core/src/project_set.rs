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
    (0..members.len()).map(|i| findings_for(members, i)).collect()
}

/// The findings of `members[i]` against the other members: what the language server needs
/// for the one document it publishes. A file given twice (through a link, or `./a` and `a`)
/// is one file, not a sibling of itself; paths are resolved only for files of the same
/// project, so a workspace of unrelated files costs no filesystem calls per keystroke.
pub fn findings_for(members: &[Member<'_>], i: usize) -> Vec<Diagnostic> {
    let Some(me) = members.get(i) else { return Vec::new() };
    let Some(project) = me.analysis.project.name.as_deref() else { return Vec::new() };
    let real = |m: &Member<'_>| m.path.canonicalize().unwrap_or_else(|_| m.path.to_path_buf());
    let same_project =
        members.iter().enumerate().filter(|(j, other)| *j != i && other.analysis.project.name.as_deref() == Some(project)).map(|(_, m)| m);
    let mut siblings: Vec<&Member<'_>> = same_project.collect();
    if !siblings.is_empty() {
        let this_file = real(me);
        siblings.retain(|other| real(other) != this_file);
    }
    if siblings.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    shared_component(me, &siblings, &mut found);
    for mine in me.analysis.environments.values().map(|e| &e.resolved) {
        // The same environment of the same project in the same place: one cluster.
        let theirs: Vec<(&Member<'_>, &ResolvedEnvironment)> = siblings
            .iter()
            .filter_map(|s| s.analysis.environments.get(&mine.env).map(|e| (*s, &e.resolved)))
            .filter(|(_, other)| same_target(mine, other))
            .collect();
        for (other, other_env) in &theirs {
            same_host(me, mine, other, other_env, &mut found);
        }
        infra_owners(me, mine, &theirs, &mut found);
        // Deployed names join environment and service with `-`, so `prod` + `eu-api` and
        // `prod-eu` + `api` collide too: every environment deployed to the same place.
        for other in &siblings {
            for other_env in other.analysis.environments.values().map(|e| &e.resolved).filter(|o| same_target(mine, o)) {
                same_instance_name(me, mine, other, other_env, &mut found);
            }
        }
    }
    found.sort_by_key(|d| d.span.start);
    found.dedup_by(|a, b| a.code == b.code && a.span == b.span && a.message == b.message);
    found
}

/// Whether two environments can collide: the same provider, and on Docker the same engine
/// (`infra.host`, unset being the local one). On AWS every region counts as one place: the
/// IAM roles nanokit names after the project, environment and service are account-wide.
fn same_target(a: &ResolvedEnvironment, b: &ResolvedEnvironment) -> bool {
    fn engine(e: &ResolvedEnvironment) -> Option<String> {
        let host = e.infra.host.as_deref().filter(|h| *h != "unix:///var/run/docker.sock")?;
        Some(host.strip_suffix(":22").filter(|_| host.starts_with("ssh://")).unwrap_or(host).to_string())
    }
    a.provider == b.provider && (a.provider != crate::model::ProviderId::DOCKER || engine(a) == engine(b))
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
        let Some((other_service, _)) = theirs.services.iter().find(|(_, o)| o.internal_host == s.internal_host) else { continue };
        let what = if *other_service == *service && theirs.env == mine.env {
            format!("service `{service}` is also deployed by {} into environment `{}`", other.path.display(), mine.env)
        } else {
            format!(
                "service `{service}` of environment `{}` and service `{other_service}` of environment `{}` in {} are deployed under one name",
                mine.env,
                theirs.env,
                other.path.display()
            )
        };
        out.push(
            Diagnostic::new(
                Code::InstanceClaimedTwice,
                doc(me).key_span_of(&pointer(&["services", service])),
                format!("{what}: both would be `{}`", s.internal_host),
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
    // A folder reached twice (a link to a sibling) holds one file, not two.
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, AnalyzeOptions};

    fn codes_of(a: &str, b: &str) -> Vec<Vec<String>> {
        let (a, b) = (analyze(a, &AnalyzeOptions::default()), analyze(b, &AnalyzeOptions::default()));
        let members =
            [Member { path: Path::new("/x/a/nanokit.yml"), analysis: &a }, Member { path: Path::new("/x/b/nanokit.yml"), analysis: &b }];
        check(&members).into_iter().map(|found| found.iter().map(|d| format!("{} {}", d.code, d.message)).collect()).collect()
    }

    #[test]
    fn two_docker_engines_are_two_clusters_and_aws_regions_are_one_account() {
        let docker = |component: &str, host: &str| {
            format!("name: shop\ncomponent: {component}\nservices:\n  api:\n    image: a\nenvironments:\n  prod:\n    infra:\n      host: {host}\n")
        };
        assert_eq!(
            codes_of(&docker("eu", "ssh://eu.example.com"), &docker("us", "ssh://us.example.com")),
            vec![Vec::<String>::new(), vec![]]
        );
        let same = codes_of(&docker("eu", "ssh://vps.example.com"), &docker("us", "ssh://vps.example.com:22"));
        assert!(same[0].iter().any(|m| m.starts_with("NK071")), "{same:?}");
        let aws = |component: &str, region: &str| {
            format!("name: shop\ncomponent: {component}\nservices:\n  api:\n    image: a\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: {region}\n")
        };
        let regions = codes_of(&aws("eu", "eu-west-1"), &aws("us", "us-east-1"));
        assert!(regions[0].iter().any(|m| m.starts_with("NK072")), "two owners of one environment in one account: {regions:?}");
    }

    #[test]
    fn names_that_collide_after_joining_environment_and_service() {
        let a = "name: shop\ncomponent: a\nservices:\n  eu-api:\n    image: a\nenvironments:\n  prod: {}\n";
        let b = "name: shop\ncomponent: b\nservices:\n  api:\n    image: b\nenvironments:\n  prod-eu:\n    infra:\n      shared: true\n";
        let found = codes_of(a, b);
        assert!(
            found[0].iter().any(|m| m.contains("NK071 service `eu-api` of environment `prod` and service `api` of environment `prod-eu`")),
            "{found:?}"
        );
    }

    #[test]
    fn a_file_given_twice_is_not_its_own_sibling() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/nanokit.yml"), "name: shop\nservices:\n  api:\n    image: a\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("link")).unwrap();
        let a = analyze("name: shop\nservices:\n  api:\n    image: a\n", &AnalyzeOptions::default());
        let (p1, p2) = (dir.path().join("a/nanokit.yml"), dir.path().join("link/nanokit.yml"));
        let found = check(&[Member { path: &p1, analysis: &a }, Member { path: &p2, analysis: &a }]);
        assert!(found.iter().all(Vec::is_empty), "{found:?}");
        assert_eq!(discover(&[dir.path().to_path_buf()]).len(), 1, "the linked folder holds the same file");
    }
}
