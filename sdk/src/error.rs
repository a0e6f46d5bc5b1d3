//! Errors that cross the boundary: a kind code and a message.

use abi_stable::{std_types::RString, StableAbi};

/// What went wrong, as a stable numeric code (see [`PluginError::kind`]).
///
/// The code is a plain `u32` on the wire so that later SDK versions can add
/// kinds without changing the layout; unknown codes read as [`ErrorKind::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The component's YAML configuration is invalid.
    InvalidConfig,
    /// A batch, request or argument is malformed (wrong lengths, ids out of range…).
    InvalidInput,
    /// The component does not implement this operation (e.g. beam search).
    Unsupported,
    /// Reading or writing a file failed (checkpoints).
    Io,
    /// A loss, gradient or output became NaN or infinite.
    Numerical,
    /// The device (`cuda:N`) is not available in this build or machine.
    Device,
    /// The plugin panicked; the SDK's guard caught it.
    Panic,
    /// An earlier call panicked, so the component's state cannot be trusted.
    Poisoned,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The wire code of this kind.
    pub const fn code(self) -> u32 {
        match self {
            ErrorKind::InvalidConfig => 1,
            ErrorKind::InvalidInput => 2,
            ErrorKind::Unsupported => 3,
            ErrorKind::Io => 4,
            ErrorKind::Numerical => 5,
            ErrorKind::Device => 6,
            ErrorKind::Panic => 7,
            ErrorKind::Poisoned => 8,
            ErrorKind::Other => 0,
        }
    }

    /// The kind of a wire code; unknown codes (from newer SDKs) are `Other`.
    pub const fn from_code(code: u32) -> Self {
        match code {
            1 => ErrorKind::InvalidConfig,
            2 => ErrorKind::InvalidInput,
            3 => ErrorKind::Unsupported,
            4 => ErrorKind::Io,
            5 => ErrorKind::Numerical,
            6 => ErrorKind::Device,
            7 => ErrorKind::Panic,
            8 => ErrorKind::Poisoned,
            _ => ErrorKind::Other,
        }
    }

    /// A short lower-case name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "invalid config",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Io => "i/o error",
            ErrorKind::Numerical => "numerical error",
            ErrorKind::Device => "device error",
            ErrorKind::Panic => "panic",
            ErrorKind::Poisoned => "poisoned",
            ErrorKind::Other => "error",
        }
    }
}

/// An error returned by a plugin: a kind code and a human-readable message.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    /// [`ErrorKind::code`] of the kind.
    pub code: u32,
    /// What happened and, where possible, how to fix it.
    pub message: RString,
}

/// `Result` with a [`PluginError`], for plugin authors.
pub type PluginResult<T> = Result<T, PluginError>;

impl PluginError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            code: kind.code(),
            message: RString::from(message.into()),
        }
    }

    /// [`ErrorKind::InvalidConfig`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig, message)
    }

    /// [`ErrorKind::InvalidInput`].
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// [`ErrorKind::Io`].
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }

    /// [`ErrorKind::Numerical`].
    pub fn numerical(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Numerical, message)
    }

    /// [`ErrorKind::Other`].
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_code(self.code)
    }

    /// The message.
    pub fn message(&self) -> &str {
        self.message.as_str()
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind() {
            // "error: …" after the host's "… failed: " says nothing more.
            ErrorKind::Other => write!(f, "{}", self.message),
            kind => write!(f, "{}: {}", kind.name(), self.message),
        }
    }
}

impl std::error::Error for PluginError {}

#[cfg(feature = "candle")]
impl From<candle_core::Error> for PluginError {
    fn from(error: candle_core::Error) -> Self {
        PluginError::other(format!("candle: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_code() {
        for kind in [
            ErrorKind::InvalidConfig,
            ErrorKind::InvalidInput,
            ErrorKind::Unsupported,
            ErrorKind::Io,
            ErrorKind::Numerical,
            ErrorKind::Device,
            ErrorKind::Panic,
            ErrorKind::Poisoned,
            ErrorKind::Other,
        ] {
            assert_eq!(ErrorKind::from_code(kind.code()), kind);
        }
        assert_eq!(ErrorKind::from_code(999), ErrorKind::Other);
    }

    #[test]
    fn an_error_of_no_particular_kind_is_its_message() {
        assert_eq!(
            PluginError::other("step gave [2]").to_string(),
            "step gave [2]"
        );
        assert_eq!(
            PluginError::config("lr below 0").to_string(),
            "invalid config: lr below 0"
        );
    }
}
