//! Fetches and verifies data sets into the data directory.
//!
//! ```text
//! cargo run -p mcnn-datasets --example fetch_data                  # all three
//! cargo run -p mcnn-datasets --example fetch_data -- mnist cifar-10
//! ```
//!
//! The data directory is `$MCNN_DATA` if set, else `./data`.

use std::process::ExitCode;

use mcnn_datasets::{Source, data_dir, fetch};

fn main() -> ExitCode {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let sources: Result<Vec<Source>, String> = if names.is_empty() {
        Ok(Source::ALL.to_vec())
    } else {
        names.iter().map(|n| n.parse()).collect()
    };
    let sources = match sources {
        Ok(sources) => sources,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let dir = data_dir(None);
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
