//! What can go wrong talking to the directory, each variant saying what to check.

/// A directory sync or sign-in failure.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The server could not be reached or the connection failed (TLS included).
    #[error("directory {url}: {detail}")]
    Connect {
        /// The configured URL.
        url: String,
        /// What the client library said.
        detail: String,
    },
    /// The server took longer than the configured timeout.
    #[error("directory {url}: no answer within the timeout while {what}")]
    Timeout {
        /// The configured URL.
        url: String,
        /// Which step.
        what: &'static str,
    },
    /// The service account's (or a user's) DN and password were refused.
    #[error("the directory refused the bind as `{dn}`: check directory.bind_dn and the password")]
    BindRefused {
        /// The DN that tried to bind.
        dn: String,
    },
    /// The base DN does not exist on the server.
    #[error("directory.base_dn `{base}` does not exist on the server")]
    NoSuchBase {
        /// The configured base.
        base: String,
    },
    /// Any other LDAP result code.
    #[error("the directory answered the {operation} with code {rc}: {text}")]
    Server {
        /// Which operation.
        operation: &'static str,
        /// The LDAP result code.
        rc: u32,
        /// The server's diagnostic text.
        text: String,
    },
    /// The server sent an entry the client could not parse.
    #[error("the directory sent a malformed entry")]
    Malformed,
    /// A configured group was not found, so its members would wrongly be marked as left.
    #[error("nothing changed: {0}")]
    MissingGroup(String),
    /// The sync would mark too many people as left.
    #[error(
        "nothing changed: this sync would mark {leavers} of {active} active people ({kinds}) as left ({percent}%, more than the {limit}% allowed by directory.max_leavers_percent); check the base DN and groups, or run `haven people sync --allow-mass-leavers` if it is right"
    )]
    MassLeavers {
        /// How many would leave.
        leavers: usize,
        /// How many are active now.
        active: usize,
        /// The kinds covered, in words.
        kinds: String,
        /// The share.
        percent: usize,
        /// The configured limit.
        limit: u32,
    },
    /// Reading or writing the people directory failed.
    #[error(transparent)]
    Store(#[from] haven_store::RecordError),
}
