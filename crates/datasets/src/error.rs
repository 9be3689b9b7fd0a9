use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while fetching, verifying or reading a data set.
///
/// Every message names the file or command involved and says what to run to fix it.
#[derive(Debug)]
pub enum DataError {
    /// A command-line client needed to fetch the data (npm, apt-get, dpkg-deb, tar) is not
    /// installed.
    MissingClient {
        /// The program that was not found.
        client: &'static str,
        /// What it was needed for, and how to install it.
        hint: String,
    },
    /// A fetch command ran but failed.
    CommandFailed {
        /// The command line that failed.
        command: String,
        /// Its exit status and the last lines it printed.
        output: String,
        /// What to run instead or first.
        hint: String,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file exists but its md5 is not the published one (corrupted, truncated or a
    /// different file).
    Checksum {
        /// The file.
        path: PathBuf,
        /// The published md5.
        expected: &'static str,
        /// The md5 of the file on disk.
        actual: String,
    },
    /// A file's content is not in the expected format (wrong magic number, truncated, wrong
    /// size).
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingClient { client, hint } => {
                write!(f, "`{client}` is not installed: {hint}")
            }
            Self::CommandFailed {
                command,
                output,
                hint,
            } => write!(f, "`{command}` failed: {output}\n{hint}"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Checksum {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: md5 is {actual}, expected {expected}: the file is corrupted, truncated or \
                 not the original; delete it and run again to fetch it anew",
                path.display()
            ),
            Self::Format { path, problem } => write!(
                f,
                "{}: {problem}; delete it and run again to fetch it anew",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
