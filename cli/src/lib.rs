//! The `nkdev` program (also installed as `nkapp`). Front end only: every diagnostic comes
//! from nanokit-core; every deploy goes through nanokit-deploy's `Provider` trait, to a
//! provider this crate registers (`providers`) or an installed plugin.

/// Print a line on standard output. A closed terminal or pipe is no reason to stop: a panic
/// in the middle of a deploy would skip the orderly release of its lock. (Defined before the
/// modules, so that every module can use it.)
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The same, on standard error.
macro_rules! complain {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod args;
pub mod changes;
pub mod commands;
pub mod load;
pub mod providers;
pub mod render;
pub mod report;
pub mod yaml_out;

use clap::Parser;
use std::process::ExitCode;

/// SPEC §8 exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERRORS: u8 = 1;
    pub const USAGE: u8 = 2;
}

pub fn run() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{} {e:#}", render::error_prefix());
            ExitCode::from(e.downcast_ref::<load::UsageError>().map_or(exit::ERRORS, |_| exit::USAGE))
        }
    }
}
