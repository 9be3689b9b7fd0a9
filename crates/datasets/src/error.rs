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
        /// What to do about it, where that is known (a file of the data directory can be
        /// fetched anew; bytes a caller passed in cannot).
        fix: Option<String>,
    },
    /// A file's content is not in the expected format (wrong magic number, truncated, wrong
    /// size).
    Format {
        /// The file (or the name the bytes were given).
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What to do about it, where that is known.
        fix: Option<String>,
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
            fix: None,
        }
    }

    /// The same error, saying what fixes it (for checksum and format errors; others already
    /// say).
    pub(crate) fn with_fix(self, advice: impl Into<String>) -> Self {
        match self {
            Self::Checksum {
                path,
                expected,
                actual,
                ..
            } => Self::Checksum {
                path,
                expected,
                actual,
                fix: Some(advice.into()),
            },
            Self::Format { path, problem, .. } => Self::Format {
                path,
                problem,
                fix: Some(advice.into()),
            },
            other => other,
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
                fix,
            } => {
                write!(
                    f,
                    "{}: md5 is {actual}, expected {expected}: the file is corrupted, truncated \
                     or not the original",
                    path.display()
                )?;
                fix.iter().try_for_each(|fix| write!(f, "; {fix}"))
            }
            Self::Format { path, problem, fix } => {
                write!(f, "{}: {problem}", path.display())?;
                fix.iter().try_for_each(|fix| write!(f, "; {fix}"))
            }
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
