//! The `vnetd` command line: see `vnetd --help`.

fn main() -> std::process::ExitCode {
    vnetd::cli::main()
}
