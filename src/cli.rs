//! What the examples' command lines share.

use std::process::ExitCode;

/// The exit code of a command whose work returned `result`: success, or failure with the
/// message on stderr as `error: …` (a `main` returning `Result` would print it `Debug`-quoted).
///
/// ```
/// use std::process::ExitCode;
///
/// assert_eq!(mcnn::cli::exit_code(Ok(())), ExitCode::SUCCESS);
/// assert_eq!(mcnn::cli::exit_code(Err("--seeds must be at least 1".into())), ExitCode::FAILURE);
/// ```
pub fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
