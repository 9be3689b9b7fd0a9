use std::fmt;

/// A parameter of the fan-in op or layer that is out of its allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanInError {
    /// The parameter, as named in the API (`indices`, `weight`, `fan_in`, …).
    pub parameter: &'static str,
    /// The value that was given.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

impl FanInError {
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

impl fmt::Display for FanInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid `{}` = {}: {}",
            self.parameter, self.value, self.allowed
        )
    }
}

impl std::error::Error for FanInError {}
