//! Diagnostics: computed once here, rendered by the CLI (rustc style / JSON) and the LSP.

use crate::source::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Hint => "hint",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $sev:ident, $summary:literal;)*) => {
        /// Stable diagnostic codes. Never renumber: users grep for them and CI logs keep them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }
            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev),* }
            }
            /// One line on what the rule checks, for `nkdev explain` and the README.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary),* }
            }
            /// The rule's long explanation, `core/rules/<code>.md` ([`crate::rules`]).
            pub fn doc_text(self) -> &'static str {
                match self { $(Code::$variant => include_str!(concat!("../rules/", $code, ".md"))),* }
            }
        }
    };
}

codes! {
    Syntax = "NK001", Error, "The file is not valid YAML.";
    UnknownKey = "NK002", Error, "A key that nanokit.yml does not define at this place.";
    WrongType = "NK003", Error, "A value of the wrong type (e.g. a list where a string is expected).";
    InvalidValue = "NK004", Error, "A value outside the allowed set (providers, scaling, dns, version).";
    MissingKey = "NK005", Error, "A required key is missing (`name`).";
    OutOfRange = "NK006", Error, "A number outside its allowed range (ports are 1–65535).";
    InvalidName = "NK007", Error, "A project, component, service or environment name that is not a DNS label.";
    DuplicateKey = "NK008", Error, "The same key twice in one mapping.";
    UnquotedVersion = "NK009", Warning, "`version: 1` as a number; it is accepted, but write it as the string \"1\".";
    InputTooComplex = "NK010", Error, "Nesting or alias expansion beyond the safety limits.";
    FileTooLarge = "NK011", Error, "A file larger than nanokit reads (4 MiB); nothing after the limit is read.";
    UnknownRuntime = "NK020", Error, "A runtime id that is neither declared under `runtimes` nor built in.";
    RuntimeNotDiscovered = "NK021", Error, "No runtime, no image, and nothing in `path` that auto-discovery recognises.";
    PathNotFound = "NK022", Error, "A service `path` that does not exist.";
    NoImage = "NK023", Error, "A service whose image cannot be resolved (custom runtime without image).";
    NoPort = "NK024", Error, "A service with a `host` but no port to route to (no `expose` and no runtime default).";
    UnknownDependency = "NK030", Error, "A `depends_on` entry naming no service.";
    DependencyCycle = "NK031", Error, "Services that depend on each other in a cycle.";
    SelfDependency = "NK032", Error, "A service that declares a dependency on itself.";
    DuplicateHost = "NK040", Error, "Two services routed from the same `host`.";
    ExposePortConflict = "NK041", Error, "`expose` and its alias `port` set to different values.";
    InvalidCidr = "NK042", Error, "An `infra.cidr` that is not an IPv4 CIDR block.";
    MinAboveMax = "NK043", Error, "`infra.min` greater than `infra.max`.";
    IneffectiveOverride = "NK044", Warning, "An environment override that can never win: the service or its runtime already sets the field.";
    UrlNameCollision = "NK045", Error, "Two services whose `NANOKIT_URL_<NAME>` variables would have the same name.";
    InjectedVariableOverridden = "NK046", Warning, "A user variable with the name of a variable nanokit injects; the user's value wins.";
    UnknownOverrideTarget = "NK047", Error, "An environment override for a service that does not exist.";
    PathOutsideProject = "NK048", Error, "A service `path` outside the folder of nanokit.yml (opt in with NANOKIT_ALLOW_OUTSIDE_PATHS=1).";
    SharedWithoutComponent = "NK050", Error, "`infra.shared: true` without a `component`: the repo would share the owner's ownership scope.";
    AwsWithoutRegion = "NK051", Error, "`provider: aws` without `region`.";
    ProviderNotDeployable = "NK052", Info, "A provider that is neither built into nkdev nor installed as a plugin (valid in the file).";
    InvalidVolume = "NK053", Error, "A volume that is not `name:/container/path`.";
    InvalidHealthcheck = "NK054", Error, "A healthcheck with neither or both of `path` and `cmd`.";
    InvalidHost = "NK055", Error, "A `host` that is not a valid hostname.";
    UnknownEnvironment = "NK056", Error, "The environment asked for is not defined in the file.";
    ScalingBoundsWithoutAuto = "NK057", Warning, "`max` with `scaling: manual` has no effect (`min` is still the number of instances).";
    ReservedServiceName = "NK058", Error, "A service name that a provider uses for its own objects (`gateway`, `lock`).";
    InstanceNameCollision = "NK059", Error, "Two environment/service pairs whose deployed names (`nk-<project>-<env>-<service>`) are the same.";
    SharedAcrossRepos = "NK060", Warning, "Two repositories of one project (a workspace, or files given together) with the same component, or routing the same host.";
    InvalidEngineHost = "NK061", Error, "An `infra.host` that is not a Docker engine address (`ssh://`, `tcp://`, `unix://`).";
    HostWithoutDocker = "NK062", Warning, "`infra.host` under a provider other than `docker`, which ignores it.";
    UnsetVariable = "NK063", Warning, "`${VAR}` with VAR set nowhere (environment, .env) and no default: it is read as \"\".";
    RequiredVariable = "NK064", Error, "`${VAR:?message}` with VAR not set: the file says it must be.";
    InvalidInterpolation = "NK065", Error, "A `${` that is not an interpolation nanokit reads (unclosed, no name, unknown operator).";
    InvalidDotenv = "NK066", Error, "A `.env` file beside nanokit.yml that cannot be parsed; none of its variables are read.";
    InvalidSecretSource = "NK067", Error, "A secret whose source is not `env:VAR`, `file:./path`, `aws-ssm:/path` or `aws-sm:name`.";
    SecretUnsupported = "NK068", Error, "A secret the environment's provider cannot deliver (`aws-ssm`/`aws-sm` outside `provider: aws`, `as: file` outside `docker`).";
    SecretShadowsEnv = "NK069", Error, "A name both in `env` and in `secrets` of one service, or a secret named like a variable nanokit sets.";
    PlainSecret = "NK070", Warning, "An `env` value that looks like a secret (its name or its randomness); it would be committed and printed.";
    InstanceClaimedTwice = "NK071", Error, "Two repositories of one project deploying a service of the same name into one environment (`nk-<project>-<env>-<service>`).";
    InfraOwnership = "NK072", Warning, "An environment whose infrastructure no repository of the set owns (all `shared: true`), or two repositories own.";
    ProviderIgnoresKey = "NK073", Warning, "A key the environment's provider does not use (e.g. `scaling` under `docker`); it would be silently dropped.";
    ProviderRefusesKey = "NK074", Error, "A key the environment's provider cannot deploy (`volumes` under `aws`): the deploy would fail part-way.";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another place that explains the diagnostic (the first definition, the rest of a cycle).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

/// A text replacement in the same file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edit {
    pub span: Span,
    pub new_text: String,
}

/// A machine-applicable fix, offered as an LSP quick fix and by `nkdev validate --fix` later.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Short text shown under the caret in rendered snippets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.default_severity(),
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related { span, message: message.into() });
        self
    }
    pub fn fix(mut self, title: impl Into<String>, span: Span, new_text: impl Into<String>) -> Self {
        self.fixes.push(Fix { title: title.into(), edits: vec![Edit { span, new_text: new_text.into() }] });
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The closest candidate within a small edit distance, for "did you mean" help.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_lower = wrong.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&wrong_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(wrong.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
        }
    }

    #[test]
    fn did_you_mean_finds_close_keys() {
        let keys = ["expose", "image", "runtime", "depends_on"];
        assert_eq!(did_you_mean("expse", keys), Some("expose"));
        assert_eq!(did_you_mean("dependson", keys), Some("depends_on"));
        assert_eq!(did_you_mean("Runtime", keys), Some("runtime"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
    }
}
