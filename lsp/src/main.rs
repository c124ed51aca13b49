fn main() {
    nanokit_lsp::run_stdio();
}
