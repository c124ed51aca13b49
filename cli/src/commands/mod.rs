//! One module per subcommand; `dispatch` routes the parsed command line.

mod config;
#[cfg(feature = "docker")]
mod deploy;
mod explain;
mod graph;
mod init;
mod validate;

use crate::args::{Cli, Command};
use anyhow::Result;
use nanokit_core::model::ProviderId;

pub fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Validate { files, workspace, format, deny_warnings, fix, common } => {
            validate::run(&files, &workspace, validate::Options { format, deny_warnings, fix }, &common)
        }
        Command::Config { format, service, explain, common } => config::run(format, service.as_deref(), explain, &common),
        Command::Schema { output } => schema(output.as_deref()),
        Command::Graph { format, common } => graph::run(format, &common),
        Command::Explain { code, markdown, color } => explain::run(code.as_deref(), markdown, color),
        #[cfg(feature = "docker")]
        Command::Up { services, dry_run, remove_orphans, deploy, common } => {
            deploy::up(&services, dry_run, remove_orphans, &deploy, &common)
        }
        #[cfg(feature = "docker")]
        Command::Plan { services, remove_orphans, deploy, common } => deploy::up(&services, true, remove_orphans, &deploy, &common),
        #[cfg(feature = "docker")]
        Command::Destroy { dry_run, volumes, deploy, common } => deploy::destroy(dry_run, volumes, &deploy, &common),
        #[cfg(feature = "docker")]
        Command::Status { format, deploy, common } => deploy::status(format, &deploy, &common),
        #[cfg(feature = "docker")]
        Command::Logs { services, follow, tail, deploy, common } => deploy::logs(&services, follow, tail, &deploy, &common.into()),
        Command::Infra { command: crate::args::InfraCommand::Unlock { force, common } } => infra_unlock(force, &common),
        #[cfg(not(feature = "docker"))]
        Command::Up { .. } | Command::Plan { .. } | Command::Destroy { .. } | Command::Status { .. } | Command::Logs { .. } => {
            anyhow::bail!("this build of nkdev has no deploy provider (build with `--features docker`)")
        }
        Command::Init { dir, yes, force, name } => init::run(&dir, yes, force, name.as_deref()),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut crate::args::Cli::command(), "nkdev", &mut std::io::stdout());
            Ok(crate::exit::OK)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(crate::args::Cli::command()).render(&mut std::io::stdout())?;
            Ok(crate::exit::OK)
        }
        Command::Lsp { .. } => {
            nanokit_lsp::run_stdio();
            Ok(crate::exit::OK)
        }
    }
}

/// `nkdev infra unlock`: clear the cluster lock, saying who held it. Without `--force`, only
/// a lock whose holder is gone (a dead process on this host).
fn infra_unlock(force: bool, common: &crate::args::FileArgs) -> Result<u8> {
    let loaded = load_valid(common)?;
    let env = common.env();
    let resolved = &loaded.analysis.environment(env).ok_or_else(|| anyhow::anyhow!("environment `{env}` is not defined"))?.resolved;
    let cluster = format!("{}/{env}", resolved.project);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (held, place) = match resolved.provider {
        #[cfg(feature = "aws")]
        ProviderId::Aws => {
            let region = resolved.infra.region.clone().unwrap_or_default();
            let name = crate::aws::names::lock_parameter(&resolved.project, env);
            let held = runtime.block_on(async {
                let p = crate::aws::AwsProvider::connect(&region, resolved.infra.clone(), std::time::Duration::from_secs(1)).await?;
                crate::aws::lock::unlock(&p.ssm, &name, force).await
            })?;
            (held, format!("SSM parameter {name}"))
        }
        #[cfg(feature = "docker")]
        ProviderId::Docker => {
            let held = runtime.block_on(async {
                let engine = deploy::engine_of(resolved)?;
                let p = crate::docker::DockerProvider::connect(engine, crate::docker::DockerSettings::default()).await?;
                crate::docker::lock::unlock(p.client(), &resolved.project, env, force).await
            })?;
            (held, format!("container {} on the Docker engine", crate::docker::lock::container_name(&resolved.project, env)))
        }
        _ => {
            let dir = crate::deploy::state::cluster_dir(resolved.provider.as_str(), &resolved.project, env)?;
            (crate::deploy::lock::unlock(&dir, force)?, crate::deploy::lock::lock_path(&dir).display().to_string())
        }
    };
    match held {
        None => println!("no lock on cluster {cluster} ({place})"),
        Some(info) => println!("removed the lock of cluster {cluster}: it was {}", info.describe()),
    }
    Ok(crate::exit::OK)
}

fn schema(output: Option<&std::path::Path>) -> Result<u8> {
    let text = format!("{}\n", serde_json::to_string_pretty(nanokit_core::schema::json_schema())?);
    match output {
        None => print!("{text}"),
        Some(path) => {
            crate::files::write_atomically(path, text.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(crate::exit::OK)
}

/// Load the project file and stop with the rendered diagnostics when it has errors:
/// commands other than `validate` need a model they can trust.
pub fn load_valid(common: &crate::args::FileArgs) -> Result<crate::load::Loaded> {
    let path = crate::load::locate(common.file.as_deref())?;
    let loaded = crate::load::load(&path, Some(common.env()))?;
    if loaded.analysis.has_errors() {
        let color = crate::render::use_color(common.color, std::io::IsTerminal::is_terminal(&std::io::stderr()));
        validate::print_human(&loaded, color, &mut std::io::stderr())?;
        anyhow::bail!("{} has errors; fix them first (`nkdev validate` lists them)", path.display());
    }
    Ok(loaded)
}
