//! The one entry point both front ends call: text in, model + resolved environments +
//! every diagnostic out.

use crate::check;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::document::Document;
use crate::graph::{self, Graph};
use crate::model::{Project, ProviderId};
use crate::resolve::{resolve_environment, ResolvedEnvironment, DEFAULT_ENV};
use crate::schema;
use crate::source::Span;
use crate::variables::Variables;
use crate::yaml::YamlProblemKind;
use indexmap::IndexMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Folder of nanokit.yml: service paths are relative to it. `None` skips filesystem rules
    /// (path existence, auto-discovery), e.g. for an unsaved editor buffer.
    pub base_dir: Option<PathBuf>,
    /// Providers the calling binary can deploy to; others get an info diagnostic.
    pub deployable: Vec<ProviderId>,
    /// Resolve only this environment (an error if the file does not define it). `None`:
    /// every environment the file defines, or `local` when it defines none.
    pub env: Option<String>,
    /// The user opted in to service paths outside the folder of nanokit.yml (NK048).
    pub allow_outside_paths: bool,
    /// What `${VAR}` reads ([`Variables::load`]). `None` leaves string values as written
    /// (schema tools, fuzzing); the front ends always pass the process environment and `.env`.
    pub variables: Option<Variables>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            base_dir: None,
            deployable: vec![ProviderId::DOCKER, ProviderId::AWS],
            env: None,
            allow_outside_paths: false,
            variables: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResolvedWithGraph {
    pub resolved: ResolvedEnvironment,
    pub graph: Graph,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub document: Document,
    pub project: Project,
    pub environments: IndexMap<String, ResolvedWithGraph>,
    /// Sorted by position, deduplicated across environments.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
    pub fn environment(&self, env: &str) -> Option<&ResolvedWithGraph> {
        self.environments.get(env)
    }
}

pub fn analyze(text: impl Into<String>, options: &AnalyzeOptions) -> Analysis {
    let mut document = Document::parse(text);
    let mut diagnostics: Vec<Diagnostic> = document.yaml.problems.iter().map(yaml_problem).collect();
    if let Some(variables) = &options.variables {
        diagnostics.extend(crate::interpolate::apply(&mut document, variables));
    }
    let (schema_diagnostics, project) = schema::validate(&document);
    diagnostics.extend(schema_diagnostics);

    let mut environments = IndexMap::new();
    if document.root().is_some() {
        diagnostics.extend(check::project_rules(
            &project,
            &document,
            check::Fs { base_dir: options.base_dir.as_deref(), allow_outside_paths: options.allow_outside_paths },
        ));
        for env in environments_to_resolve(&project, &document, options, &mut diagnostics) {
            let (resolved, resolve_diagnostics) = resolve_environment(&project, &document, &env, options.base_dir.as_deref());
            let graph = Graph::build(&resolved);
            diagnostics.extend(resolve_diagnostics);
            diagnostics.extend(graph::check(&resolved, &graph, &document));
            diagnostics.extend(check::environment_rules(&resolved, &document, &options.deployable));
            environments.insert(env, ResolvedWithGraph { resolved, graph });
        }
        let resolved: Vec<&ResolvedEnvironment> = environments.values().map(|e| &e.resolved).collect();
        diagnostics.extend(crate::provider_support::check(&resolved, &document));
    }
    drop_fixes_inside_interpolations(&document, &mut diagnostics);
    sort_and_dedup(&mut diagnostics);
    Analysis { document, project, environments, diagnostics }
}

fn environments_to_resolve(project: &Project, doc: &Document, options: &AnalyzeOptions, diagnostics: &mut Vec<Diagnostic>) -> Vec<String> {
    match &options.env {
        Some(env) if project.environments.contains_key(env) || (env == DEFAULT_ENV && project.environments.is_empty()) => {
            vec![env.clone()]
        }
        Some(env) => {
            let known: Vec<&str> = project.environments.keys().map(String::as_str).collect();
            let mut d = Diagnostic::new(
                Code::UnknownEnvironment,
                doc.key_span_of("/environments"),
                format!("environment `{env}` is not defined in this file"),
            );
            d = match crate::diagnostic::did_you_mean(env, known.iter().copied()) {
                Some(best) => d.help(format!("did you mean `{best}`?")),
                None if known.is_empty() => d.help("this file defines no `environments`; only `local` (docker) is available"),
                None => d.help(format!("environments defined: {}", known.join(", "))),
            };
            diagnostics.push(d);
            Vec::new()
        }
        None if project.environments.is_empty() => vec![DEFAULT_ENV.to_string()],
        None => project.environments.keys().cloned().collect(),
    }
}

fn yaml_problem(problem: &crate::yaml::YamlProblem) -> Diagnostic {
    let code = match problem.kind {
        YamlProblemKind::Syntax | YamlProblemKind::MultipleDocuments => Code::Syntax,
        YamlProblemKind::DuplicateKey => Code::DuplicateKey,
        YamlProblemKind::TooDeep | YamlProblemKind::AliasBomb => Code::InputTooComplex,
        YamlProblemKind::TooLarge => Code::FileTooLarge,
    };
    let mut d = Diagnostic::new(code, problem.span, problem.message.clone());
    if problem.kind == YamlProblemKind::TooLarge {
        d = d.help("is this the right file? A large project splits into components, one nanokit.yml per repo");
    }
    if let Some(first) = problem.first {
        d = d
            .related(first, "first defined here")
            .label("defined again here")
            .help("YAML keys must be unique in a mapping; remove or merge one of them");
    }
    d
}

/// A fix is computed from the value the rules saw, which for `${VAR}` is the interpolated one:
/// written over the text, it would replace the variable with its value (a local `.env`
/// value committed). Such fixes are dropped; removing the whole entry stays.
fn drop_fixes_inside_interpolations(doc: &Document, diagnostics: &mut [Diagnostic]) {
    if doc.interpolated.is_empty() {
        return;
    }
    let values: Vec<Span> = doc.interpolated.keys().map(|p| doc.span_of(p)).collect();
    for d in diagnostics {
        d.fixes.retain(|fix| !fix.edits.iter().any(|e| values.iter().any(|v| v.start <= e.span.start && e.span.end <= v.end)));
    }
}

/// Position order, each finding once (environments resolved one by one repeat some).
pub fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        (a.span.start, a.severity, a.code.as_str(), &a.message).cmp(&(b.span.start, b.severity, b.code.as_str(), &b.message))
    });
    diagnostics.dedup_by(|a, b| a.code == b.code && a.span == b.span && a.message == b.message);
}

/// Counts by severity, for summaries ("2 errors, 1 warning").
pub fn summary(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
    (errors, warnings)
}
