//! Command-line interface (SPEC §8). Every command takes `--env` and `-f/--file`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "nkdev", version, about = "Validate, resolve and deploy nanokit.yml", propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct FileArgs {
    /// Path to nanokit.yml (default: ./nanokit.yml, then ./nanokit.yaml)
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Environment to use [default: local; `validate` checks every environment unless given]
    #[arg(long)]
    pub env: Option<String>,
    /// When to colour output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// [`FileArgs`] without the `-f` short option, which `logs` uses for `--follow`.
#[derive(Debug, Clone, Args)]
pub struct LogsFileArgs {
    /// Path to nanokit.yml (default: ./nanokit.yml, then ./nanokit.yaml)
    #[arg(long = "file")]
    pub file: Option<PathBuf>,
    /// Environment to use [default: local]
    #[arg(long)]
    pub env: Option<String>,
    /// When to colour output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

impl From<LogsFileArgs> for FileArgs {
    fn from(a: LogsFileArgs) -> Self {
        FileArgs { file: a.file, env: a.env, color: a.color }
    }
}

impl FileArgs {
    pub fn env(&self) -> &str {
        self.env.as_deref().unwrap_or(nanokit_core::resolve::DEFAULT_ENV)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// rustc-style messages with source snippets
    Human,
    /// `file:line:col: severity[CODE]: message`, one per line
    Short,
    /// a JSON array of diagnostics
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// One JSON object a line (`status --watch`: an event per change)
    Jsonl,
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// Output: progress on a terminal, plain lines otherwise, or JSON lines
    #[arg(long = "progress", value_enum, default_value_t = ProgressFormat::Auto)]
    pub progress: ProgressFormat,
    /// Gateway image (Caddy 2)
    #[arg(long, env = "NANOKIT_GATEWAY_IMAGE", default_value = nanokit_deploy::options::DEFAULT_GATEWAY_IMAGE)]
    pub gateway_image: String,
    /// Host port of the gateway's HTTP [default: 80]
    #[arg(long, env = "NANOKIT_GATEWAY_PORT")]
    pub gateway_port: Option<u16>,
    /// Host port of the gateway's HTTPS, when it serves HTTPS [default: 443]
    #[arg(long, env = "NANOKIT_GATEWAY_HTTPS_PORT")]
    pub gateway_https_port: Option<u16>,
    /// Host address the gateway's ports bind to [default: 127.0.0.1 on a local engine, 0.0.0.0 on a remote one]
    #[arg(long, env = "NANOKIT_GATEWAY_BIND")]
    pub gateway_bind: Option<String>,
    /// How the gateway serves its hosts: plain HTTP, or HTTPS with public certificates for public names and its own CA for private ones (auto), or its own CA for all (internal) [default: off on a local engine, auto on a remote one]
    #[arg(long = "tls", env = "NANOKIT_GATEWAY_TLS", value_enum)]
    pub tls: Option<Tls>,
    /// Seconds a service may take to become ready (1 to 86400)
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// Show what a provider plugin writes to its stderr as it runs
    #[arg(short, long)]
    pub verbose: bool,
}

impl DeployArgs {
    /// Every flag at its default (`infra unlock`, which takes none of them).
    pub fn for_unlock() -> DeployArgs {
        DeployArgs {
            progress: ProgressFormat::Plain,
            gateway_image: nanokit_deploy::options::DEFAULT_GATEWAY_IMAGE.into(),
            gateway_port: None,
            gateway_https_port: None,
            gateway_bind: None,
            tls: None,
            timeout: 60,
            verbose: false,
        }
    }

    /// What the provider is told of these flags.
    pub fn options(&self) -> nanokit_deploy::options::Options {
        nanokit_deploy::options::Options {
            ready_timeout: std::time::Duration::from_secs(self.timeout),
            gateway: nanokit_deploy::options::GatewayOptions {
                image: self.gateway_image.clone(),
                port: self.gateway_port,
                https_port: self.gateway_https_port,
                bind: self.gateway_bind.clone(),
                tls: self.tls.map(Tls::into),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    Auto,
    Plain,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Serve the built-in provider ID over the provider protocol
    Serve { id: String },
}

#[derive(Debug, Subcommand)]
pub enum InfraCommand {
    /// Clear a stale deploy lock of this cluster
    Unlock {
        /// Clear the lock even when its holder may still be running (alive on this host, or
        /// taken on another machine)
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        common: FileArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DataFormat {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check nanokit.yml files and report every problem (exit 1 on errors)
    Validate {
        /// Files to check (default: the project's nanokit.yml); pre-commit passes several.
        /// Files of one project are also checked against each other (NK060–NK072)
        files: Vec<PathBuf>,
        /// Also check every nanokit.yml below DIR (4 levels deep), together: the repositories
        /// of a multi-repo project checked against each other
        #[arg(long, value_name = "DIR")]
        workspace: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
        format: DiagnosticFormat,
        /// Treat warnings as errors
        #[arg(long)]
        deny_warnings: bool,
        /// Apply the fixes that are safe (`nkdev explain CODE` says which), then report what is left
        #[arg(long)]
        fix: bool,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Print the fully resolved model of one environment
    Config {
        #[arg(long, value_enum, default_value_t = DataFormat::Yaml)]
        format: DataFormat,
        /// Only this service
        #[arg(long)]
        service: Option<String>,
        /// Show where every value comes from
        #[arg(long)]
        explain: bool,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Print the JSON Schema of nanokit.yml
    Schema {
        /// Write it to this file instead of standard output
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print the depends_on graph and start order
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Explain a diagnostic code (e.g. NK031) with examples, or list them all
    Explain {
        code: Option<String>,
        /// Every rule as Markdown: how docs/rules.md is generated
        #[arg(long, conflicts_with = "code")]
        markdown: bool,
        /// When to colour output
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
    },
    /// Deploy the resolved model (all services, or SERVICE… and what they depend on)
    Up {
        services: Vec<String>,
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Also remove this component's services that left nanokit.yml when they were deployed
        /// from another checkout (those of this checkout are always removed)
        #[arg(long)]
        remove_orphans: bool,
        /// Then keep watching: a change to nanokit.yml is deployed, a change under a service's
        /// `path` restarts it in place (and runs `install` again when an install input changed),
        /// and the services' logs are shown; Ctrl-C stops watching (Docker only)
        #[arg(long, conflicts_with = "dry_run")]
        watch: bool,
        #[command(flatten)]
        deploy: DeployArgs,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Restart services in place (same container; `install` runs again with --reinstall)
    Restart {
        /// Services to restart (default: every service of the file)
        services: Vec<String>,
        /// Run `install` again before `start`
        #[arg(long)]
        reinstall: bool,
        #[command(flatten)]
        deploy: DeployArgs,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Print what `up` would do (same as `up --dry-run`)
    Plan {
        services: Vec<String>,
        /// Plan the removal of orphans of other checkouts too (see `up --remove-orphans`)
        #[arg(long)]
        remove_orphans: bool,
        #[command(flatten)]
        deploy: DeployArgs,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Remove this component's services (shared infrastructure stays while others use it)
    Destroy {
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Also remove this component's named volumes
        #[arg(long)]
        volumes: bool,
        #[command(flatten)]
        deploy: DeployArgs,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Show the services of the cluster, of every component
    Status {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Keep watching: print the status again on every change (the engine's events on
        /// Docker, polling elsewhere); with `--format jsonl`, one event a line
        #[arg(long)]
        watch: bool,
        /// Seconds between two polls of a provider without an event stream (AWS, plugins)
        #[arg(long, default_value_t = 10, requires = "watch")]
        interval: u64,
        /// Stop when standard input closes (how the language server ties it to itself)
        #[arg(long, hide = true, requires = "watch")]
        exit_on_eof: bool,
        #[command(flatten)]
        deploy: DeployArgs,
        #[command(flatten)]
        common: FileArgs,
    },
    /// Print (or follow) the logs of services
    Logs {
        services: Vec<String>,
        /// Keep printing new lines (`-f` as in `docker compose logs -f`; the file is `--file` here)
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines of each service
        #[arg(long)]
        tail: Option<usize>,
        #[command(flatten)]
        deploy: DeployArgs,
        #[command(flatten)]
        common: LogsFileArgs,
    },
    /// List the providers `infra.provider` can name: built in, and plugins installed as
    /// `nkdev-provider-<id>` on PATH or in ~/.nanokit/providers
    Providers {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Run a provider of this nkdev as a provider plugin (the provider protocol on
    /// stdin/stdout): how the protocol is tested and measured against a real provider
    #[command(hide = true)]
    Provider {
        #[command(subcommand)]
        command: ProviderCommand,
    },
    /// Cluster-level operations
    Infra {
        #[command(subcommand)]
        command: InfraCommand,
    },
    /// Write a nanokit.yml for the folders found here (runtime auto-discovery)
    Init {
        /// Folder to scan (default: the current directory)
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Accept every proposal without asking (the default when not on a terminal)
        #[arg(short, long)]
        yes: bool,
        /// Replace an existing nanokit.yml
        #[arg(long)]
        force: bool,
        /// Project name (default: the folder's name as a DNS label)
        #[arg(long)]
        name: Option<String>,
    },
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff)
    Man,
    /// Run the language server on standard input/output
    Lsp {
        /// Accepted for editor compatibility; stdio is the only transport
        #[arg(long)]
        stdio: bool,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

/// How the gateway serves its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Tls {
    /// Plain HTTP (local development).
    Off,
    /// HTTPS: public certificates (ACME) for public names, Caddy's own CA for local and
    /// private names (`.localhost`, `.local`, `.internal`, `.test`, IPs, wildcards).
    Auto,
    /// HTTPS with Caddy's own CA for every host (`tls internal`).
    Internal,
}

impl From<Tls> for nanokit_deploy::options::Tls {
    fn from(t: Tls) -> Self {
        match t {
            Tls::Off => nanokit_deploy::options::Tls::Off,
            Tls::Auto => nanokit_deploy::options::Tls::Auto,
            Tls::Internal => nanokit_deploy::options::Tls::Internal,
        }
    }
}
