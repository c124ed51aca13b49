//! One module per subcommand; `dispatch` routes the parsed command line.

mod config;
mod deploy;
mod explain;
mod graph;
mod init;
mod live;
mod validate;
mod watch;

use crate::args::{Cli, Command};
use anyhow::Result;

pub fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Validate { files, workspace, format, deny_warnings, fix, common } => {
            validate::run(&files, &workspace, validate::Options { format, deny_warnings, fix }, &common)
        }
        Command::Config { format, service, explain, common } => config::run(format, service.as_deref(), explain, &common),
        Command::Schema { output } => schema(output.as_deref()),
        Command::Graph { format, common } => graph::run(format, &common),
        Command::Explain { code, markdown, color } => explain::run(code.as_deref(), markdown, color),
        Command::Up { services, dry_run: false, remove_orphans, watch: true, deploy, common } => {
            watch::run(&services, remove_orphans, &deploy, &common)
        }
        Command::Up { services, dry_run, remove_orphans, watch: _, deploy, common } => {
            deploy::up(&services, dry_run, remove_orphans, &deploy, &common)
        }
        Command::Restart { services, reinstall, deploy, common } => live::restart(&services, reinstall, &deploy, &common),
        Command::Plan { services, remove_orphans, deploy, common } => deploy::up(&services, true, remove_orphans, &deploy, &common),
        Command::Destroy { dry_run, volumes, deploy, common } => deploy::destroy(dry_run, volumes, &deploy, &common),
        Command::Status { format, watch: true, interval, exit_on_eof, deploy, common } => {
            live::status_watch(format, interval, exit_on_eof, &deploy, &common)
        }
        Command::Status { format, watch: false, deploy, common, .. } => deploy::status(format, &deploy, &common),
        Command::Logs { services, follow, tail, deploy, common } => deploy::logs(&services, follow, tail, &deploy, &common.into()),
        Command::Infra { command: crate::args::InfraCommand::Unlock { force, common } } => deploy::infra_unlock(force, &common),
        Command::Providers { format } => deploy::providers(format),
        Command::Provider { command: crate::args::ProviderCommand::Serve { id } } => deploy::serve(&id),
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

fn schema(output: Option<&std::path::Path>) -> Result<u8> {
    let text = format!("{}\n", serde_json::to_string_pretty(nanokit_core::schema::json_schema())?);
    match output {
        None => print!("{text}"),
        Some(path) => {
            nanokit_core::files::write_atomically(path, text.as_bytes())?;
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
