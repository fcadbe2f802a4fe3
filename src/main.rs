fn main() -> std::process::ExitCode {
    attrsync::cli::main()
}
