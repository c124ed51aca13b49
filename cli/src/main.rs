fn main() -> std::process::ExitCode {
    nanokit_cli::run()
}
