//! The `ferry` binary: parse the command line, run, print an error once, exit with the
//! code from the one table in `ferry::error::Exit`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let plan = match ferry::cli::parse(std::env::args_os()) {
        Ok(plan) => plan,
        Err(err) => {
            // clap prints usage errors (exit 2) and --help/--version (exit 0) itself.
            let _ = err.print();
            return ExitCode::from(err.exit_code() as u8);
        }
    };
    match ferry::run(plan) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("ferry: {err:#}");
            ferry::error::Exit::Usage.into()
        }
    }
}
