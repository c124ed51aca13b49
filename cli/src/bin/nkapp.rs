//! `nkapp` is `nkdev` under the second name the Nanokit docs use.
fn main() -> std::process::ExitCode {
    nanokit_cli::run()
}
