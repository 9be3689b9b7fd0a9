//! The one error type of the crate: which parameter was bad, its value, and what is allowed.

use std::fmt;

/// A bad argument: the parameter, its value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// The parameter, as named in the API.
    pub parameter: &'static str,
    /// The value given.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

impl PathError {
    pub(crate) fn new(
        parameter: &'static str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Self {
            parameter,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid `{}` = {}: {}",
            self.parameter, self.value, self.allowed
        )
    }
}

impl std::error::Error for PathError {}
