//! What the examples' command lines share.

use std::process::ExitCode;

use mcnn_backends::BackendKind;
use sampled_linear::Kernel;

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

/// Parses a `--backend` value: `flex`, `ndarray` or `wgpu`, among those compiled in. For clap:
/// `#[arg(long, value_parser = mcnn::cli::compiled_backend, default_value_t =
/// mcnn::cli::default_backend())] backend: BackendKind`.
///
/// ```
/// use mcnn::backends::BackendKind;
///
/// for kind in BackendKind::compiled() {
///     assert_eq!(mcnn::cli::compiled_backend(kind.name()), Ok(kind));
/// }
/// assert!(mcnn::cli::compiled_backend("cuda").unwrap_err().contains("cuda"));
/// ```
pub fn compiled_backend(name: &str) -> Result<BackendKind, String> {
    BackendKind::parse_compiled(name).map_err(|e| e.to_string())
}

/// The examples' default backend: the first CPU backend compiled in (`flex` unless it is turned
/// off), else the first backend compiled in. With none compiled in it names `flex`, which
/// [`compiled_backend`] then refuses with a message saying so.
pub fn default_backend() -> BackendKind {
    BackendKind::default_cpu()
        .ok()
        .or_else(|| BackendKind::compiled().into_iter().next())
        .unwrap_or(BackendKind::Flex)
}

/// Parses a `--kernel` value for the sampled layers' forward: `auto`, `sparse` or `dense`
/// ([`Kernel`]). For clap: `#[arg(long, value_parser = mcnn::cli::kernel, default_value =
/// "auto")] kernel: Kernel`.
///
/// ```
/// use mcnn::sampled_linear::Kernel;
///
/// assert_eq!(mcnn::cli::kernel("sparse"), Ok(Kernel::Sparse));
/// assert!(mcnn::cli::kernel("fast").unwrap_err().contains("auto, sparse or dense"));
/// ```
pub fn kernel(name: &str) -> Result<Kernel, String> {
    match name {
        "auto" => Ok(Kernel::Auto),
        "sparse" => Ok(Kernel::Sparse),
        "dense" => Ok(Kernel::Dense),
        other => Err(format!(
            "unknown kernel `{other}`: expected auto, sparse or dense"
        )),
    }
}
