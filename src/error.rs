//! The one error type at the edge of the program: every failure becomes a `CliError`
//! whose `code` is the process exit code (docs/cli.md#exit-codes).

use std::fmt;

/// Process exit codes, docs/cli.md#exit-codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; for `plan --detailed-exitcode`, no changes.
    Ok = 0,
    /// The command ran and failed (API error, auth failure, a failed run under `status --wait`).
    Failed = 1,
    /// `plan --detailed-exitcode` only: success, changes pending.
    ChangesPending = 2,
    /// Usage error (bad flags).
    Usage = 64,
    /// Invalid profile.
    Profile = 78,
    /// Stopped by SIGINT (128 + 2).
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15).
    Terminated = 143,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// `error.kind` in the JSON document of a failure.
    pub fn kind(self) -> &'static str {
        match self {
            Exit::Ok | Exit::ChangesPending => "none",
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Profile => "profile",
            Exit::Interrupted => "interrupted",
            Exit::Terminated => "terminated",
        }
    }
}

/// A failure with the exit code it maps to. The message is what the user reads on stderr and,
/// under `--output json`, the `error.message` of the one document on stdout
/// (docs/cli.md#json-output).
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub error: anyhow::Error,
    /// The command's own JSON document with `error` added (its keys in their order), when it
    /// has one (a failed apply: its changes); the edge prints it instead of a bare
    /// `{"error": ...}`.
    pub document: Option<Box<serde_json::value::RawValue>>,
    /// What stderr says instead of the message when the command's human output already showed
    /// the details (a failed apply lists each failure once, in its result).
    pub shown: Option<String>,
}

impl CliError {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit,
            error: error.into(),
            document: None,
            shown: None,
        }
    }

    /// Carries the command's JSON document, printed with `error` added.
    pub fn with_document(mut self, document: &impl serde::Serialize) -> Self {
        let whole = WithError {
            document,
            error: self.body(),
        };
        self.document = serde_json::to_string_pretty(&whole)
            .ok()
            .and_then(|text| serde_json::value::RawValue::from_string(text).ok());
        self
    }

    /// The `error` object of the JSON document (docs/cli.md#json-output).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            message: self.message(),
            exit_code: self.exit.code(),
            kind: self.exit.kind(),
        }
    }

    /// The human output already showed the details: stderr says `brief` instead.
    pub fn shown_as(mut self, brief: impl Into<String>) -> Self {
        self.shown = Some(brief.into());
        self
    }

    /// The message, with its whole context chain on one line.
    pub fn message(&self) -> String {
        format!("{:#}", self.error)
    }

    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Failed, error)
    }

    pub fn usage(message: impl fmt::Display) -> Self {
        Self::new(Exit::Usage, anyhow::anyhow!("{message}"))
    }
}

/// `"error": {"message", "exit_code", "kind"}` in the one JSON document a failure prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErrorBody {
    pub message: String,
    pub exit_code: i32,
    pub kind: &'static str,
}

/// A command's document with `error` after its own keys.
#[derive(serde::Serialize)]
struct WithError<'a, T: serde::Serialize> {
    #[serde(flatten)]
    document: &'a T,
    error: ErrorBody,
}

/// A failure without a document of its own: `{"error": {...}}`.
#[derive(serde::Serialize)]
pub struct ErrorDocument {
    pub error: ErrorBody,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:#}` prints the whole context chain on one line: "creating flow ...: 400 ...".
        write!(f, "{:#}", self.error)
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        Self::failed(error)
    }
}

impl From<crate::api::ApiError> for CliError {
    fn from(error: crate::api::ApiError) -> Self {
        Self::failed(error)
    }
}

impl From<crate::auth::zoho::ZohoAuthError> for CliError {
    fn from(error: crate::auth::zoho::ZohoAuthError) -> Self {
        Self::failed(error)
    }
}

impl From<crate::api::crm::ZohoApiError> for CliError {
    fn from(error: crate::api::crm::ZohoApiError) -> Self {
        Self::failed(error)
    }
}

impl From<crate::profile::ProfileError> for CliError {
    fn from(error: crate::profile::ProfileError) -> Self {
        Self::new(Exit::Profile, error)
    }
}

pub type CliResult<T = Exit> = Result<T, CliError>;
