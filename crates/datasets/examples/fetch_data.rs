//! Fetches and verifies data sets into the data directory.
//!
//! ```text
//! cargo run -p mcnn-datasets --example fetch_data                       # all three
//! cargo run -p mcnn-datasets --example fetch_data -- mnist cifar-10
//! cargo run -p mcnn-datasets --example fetch_data -- --data-dir /data mnist
//! ```
//!
//! The data directory is `--data-dir` if given, else `$MCNN_DATA`, else `./data`.

use std::path::PathBuf;
use std::process::ExitCode;

use mcnn_datasets::{Source, data_dir, fetch};

/// The data sets named on the command line (all when none is) and the `--data-dir` given.
fn parse(args: impl Iterator<Item = String>) -> Result<(Vec<Source>, Option<PathBuf>), String> {
    let mut sources = Vec::new();
    let mut dir = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        if let Some(value) = arg.strip_prefix("--data-dir=") {
            dir = Some(PathBuf::from(value));
        } else if arg == "--data-dir" {
            let value = args
                .next()
                .ok_or("--data-dir needs a directory: --data-dir DIR")?;
            dir = Some(PathBuf::from(value));
        } else if arg.starts_with('-') {
            return Err(format!(
                "unknown option `{arg}`: expected --data-dir DIR and data set names"
            ));
        } else {
            sources.push(arg.parse()?);
        }
    }
    if sources.is_empty() {
        sources = Source::ALL.to_vec();
    }
    Ok((sources, dir))
}

fn main() -> ExitCode {
    let (sources, dir) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let dir = data_dir(dir);
    for source in sources {
        match fetch::ensure(source, &dir) {
            Ok(path) => println!("{source}: verified in {}", path.display()),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> impl Iterator<Item = String> {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn data_dir_and_names_in_any_order() {
        let (sources, dir) = parse(args("--data-dir /tmp/x mnist")).unwrap();
        assert_eq!(
            (sources, dir),
            (vec![Source::Mnist], Some(PathBuf::from("/tmp/x")))
        );
        let (sources, dir) = parse(args("cifar-10 --data-dir=/d")).unwrap();
        assert_eq!(
            (sources, dir),
            (vec![Source::Cifar10], Some(PathBuf::from("/d")))
        );
        assert_eq!(parse(args("")).unwrap().0, Source::ALL.to_vec());
        assert!(
            parse(args("--data-dir"))
                .unwrap_err()
                .contains("needs a directory")
        );
        assert!(
            parse(args("--data"))
                .unwrap_err()
                .contains("unknown option")
        );
        assert!(
            parse(args("mnits"))
                .unwrap_err()
                .contains("unknown data set")
        );
    }
}
