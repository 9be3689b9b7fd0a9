//! The one error for a bad argument across the crates: which parameter, its value, and what
//! is allowed. The fan-in op calls it `FanInError`, path networks `PathError`.

use std::fmt;

/// A parameter out of its allowed range: the parameter, its value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter, as named in the API (`indices`, `weight`, `fan_in`, …).
    pub parameter: &'static str,
    /// The value that was given.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

impl ParamError {
    /// The error for `parameter` given `value`, where `allowed` is allowed.
    pub fn new(
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

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid `{}` = {}: {}",
            self.parameter, self.value, self.allowed
        )
    }
}

impl std::error::Error for ParamError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_parameter_value_and_allowed() {
        let e = ParamError::new("fan_in", 0, "at least 1");
        assert_eq!(e.to_string(), "invalid `fan_in` = 0: at least 1");
    }
}
