//! What can go wrong with one transfer ([`TransferError`], typed so the retry loop can
//! branch on it) and the one exit-code table of the program ([`Exit`]).

use std::fmt;
use std::time::Duration;

use crate::headers::redact_url;
use crate::template::SrcPathError;

/// Which end of a transfer an error happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The server the file is downloaded from.
    Source,
    /// The server the file is uploaded to.
    Destination,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Destination => "destination",
        })
    }
}

/// Why one attempt at one transfer failed.
#[derive(Debug)]
pub enum TransferError {
    /// The server answered with a status that is not a success.
    Status {
        /// Which server answered.
        side: Side,
        /// The URL that was requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// How long the server asked us to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
    /// Connecting, sending or receiving failed (refused, reset, TLS, bad framing).
    Network {
        /// Which server we were talking to.
        side: Side,
        /// The URL of the request.
        url: String,
        /// What went wrong, from the HTTP client or the OS.
        message: String,
    },
    /// No byte moved for longer than the stall timeout, or the per-file time ran out.
    Timeout {
        /// Which server stopped moving.
        side: Side,
        /// The URL of the request.
        url: String,
        /// What timed out.
        message: String,
    },
    /// The server's TLS certificate did not verify: trying again will not change that.
    Tls {
        /// Which server.
        side: Side,
        /// The URL of the request.
        url: String,
        /// What the TLS library said, and what to do.
        message: String,
    },
    /// The source body ended before its `Content-Length` (or the expected size).
    Truncated {
        /// The source URL.
        url: String,
        /// Bytes promised.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// The bytes received do not match what the manifest or a digest header promised.
    Mismatch {
        /// The source URL.
        url: String,
        /// What did not match and how.
        message: String,
    },
    /// The source sent no length and `--unknown-length fail` was given.
    UnknownLength {
        /// The source URL.
        url: String,
    },
    /// The source redirected somewhere ferry will not follow (loop, no Location, bad scheme),
    /// or the destination answered an upload with a redirect.
    Redirect {
        /// Which server redirected.
        side: Side,
        /// The URL of the request.
        url: String,
        /// Why the redirect was not followed.
        message: String,
    },
    /// The local spool file for a body of unknown length could not be written or read.
    Spool {
        /// The source URL.
        url: String,
        /// The I/O error.
        message: String,
    },
    /// `--to` uses `{src_path}` and the source URL's path cannot give one (`..`, empty).
    SrcPath(SrcPathError),
    /// Another job of this run already uploads to the same destination URL, and the
    /// name is not part of it, so renaming cannot keep them apart.
    Conflict {
        /// The source URL of this job.
        url: String,
        /// The contested destination URL.
        dst: String,
        /// The index of the job that holds it.
        owner: u64,
    },
    /// The transfer was stopped by ctrl-c after the drain timeout.
    Aborted,
}

impl TransferError {
    /// Is another attempt worth making? Server-side hiccups (5xx, 408, 429, resets,
    /// timeouts, short bodies) are; answers that will not change (4xx, mismatches,
    /// refused redirects, ctrl-c) are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransferError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || (500..=599).contains(status)
            }
            TransferError::Network { .. }
            | TransferError::Timeout { .. }
            | TransferError::Truncated { .. }
            | TransferError::Spool { .. } => true,
            TransferError::Mismatch { .. }
            | TransferError::UnknownLength { .. }
            | TransferError::Redirect { .. }
            | TransferError::SrcPath(_)
            | TransferError::Conflict { .. }
            | TransferError::Tls { .. }
            | TransferError::Aborted => false,
        }
    }

    /// The delay the server asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TransferError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for TransferError {
    /// Every URL is shown through [`redact_url`]: no password reaches a message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = |url: &String| redact_url(url).into_owned();
        match self {
            TransferError::Status {
                side,
                url: u,
                status,
                ..
            } => {
                let reason = ureq::http::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                write!(f, "{side} {} answered HTTP {status} {reason}", url(u))?;
                if *side == Side::Destination && *status == 411 {
                    // ferry sends Content-Length whenever it knows it: only a chunked
                    // upload of a body without a length gets here.
                    f.write_str(
                        " (it wants a Content-Length and the source sent none: \
                         use --unknown-length spool)",
                    )?;
                }
                Ok(())
            }
            TransferError::Network {
                side,
                url: u,
                message,
            } => {
                write!(f, "{side} {}: {message}", url(u))
            }
            TransferError::Tls {
                side,
                url: u,
                message,
            } => write!(f, "{side} {}: {message}", url(u)),
            TransferError::Timeout {
                side,
                url: u,
                message,
            } => {
                write!(f, "{side} {} timed out: {message}", url(u))
            }
            TransferError::Truncated {
                url: u,
                expected,
                got,
            } => write!(
                f,
                "source {} ended after {got} of {expected} bytes (truncated body)",
                url(u)
            ),
            TransferError::Mismatch { url: u, message } => {
                write!(f, "source {}: {message}", url(u))
            }
            TransferError::UnknownLength { url: u } => write!(
                f,
                "source {} sent no Content-Length and --unknown-length is fail \
                 (use spool or chunked to copy it)",
                url(u)
            ),
            TransferError::Redirect {
                side,
                url: u,
                message,
            } => {
                write!(f, "{side} {}: {message}", url(u))
            }
            TransferError::Spool { url: u, message } => write!(
                f,
                "spooling {} to a temporary file failed: {message} \
                 (check free space in the temp dir, or use --unknown-length chunked)",
                url(u)
            ),
            TransferError::SrcPath(err) => write!(f, "{err}"),
            TransferError::Conflict { url: u, dst, owner } => write!(
                f,
                "source {}: job {owner} of this run already uploads to {}; not overwriting it \
                 (two sources give the same destination: put {{name}} or {{index}} in --to)",
                url(u),
                url(dst)
            ),
            TransferError::Aborted => f.write_str("aborted by interrupt"),
        }
    }
}

impl std::error::Error for TransferError {}

/// The process exit codes: one table, shown in `--help` and the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every job was done.
    Success,
    /// The run finished but at least one job failed.
    SomeFailed,
    /// Bad usage or a startup error (bad option, missing manifest, unreachable port).
    Usage,
    /// Interrupted by SIGINT or SIGTERM.
    Interrupted,
}

impl Exit {
    /// The numeric code the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::SomeFailed => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
        }
    }

    /// The table as printed in `--help` and the README.
    pub const TABLE: &'static str = "\
Exit codes:
  0    every job done
  1    finished, but some jobs failed (see the journal or the messages)
  2    usage or startup error (bad option, missing manifest, bad URL)
  130  interrupted (SIGINT/SIGTERM); finished jobs are in the journal";
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_the_table() {
        for exit in [
            Exit::Success,
            Exit::SomeFailed,
            Exit::Usage,
            Exit::Interrupted,
        ] {
            let line = format!("  {:<4} ", exit.code());
            assert!(Exit::TABLE.contains(&line), "{exit:?} missing from table");
        }
    }

    #[test]
    fn server_errors_are_retried_client_errors_are_not() {
        let status = |status| TransferError::Status {
            side: Side::Source,
            url: "http://h/x".into(),
            status,
            retry_after: None,
        };
        for code in [500, 502, 503, 504, 429, 408] {
            assert!(status(code).is_retryable(), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 411, 413] {
            assert!(!status(code).is_retryable(), "{code}");
        }
    }

    #[test]
    fn messages_hide_url_passwords() {
        let err = TransferError::Network {
            side: Side::Source,
            url: "http://me:s3cret@h/x".into(),
            message: "connection refused".into(),
        };
        assert_eq!(
            err.to_string(),
            "source http://me:***@h/x: connection refused"
        );
    }

    #[test]
    fn status_message_names_url_and_reason() {
        let err = TransferError::Status {
            side: Side::Destination,
            url: "http://h/up".into(),
            status: 413,
            retry_after: None,
        };
        assert_eq!(
            err.to_string(),
            "destination http://h/up answered HTTP 413 Payload Too Large"
        );
    }
}
