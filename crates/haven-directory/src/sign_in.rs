//! Directory sign-in for the captive portal: find the user's entry by any sign-in name with the
//! service account, then bind as them with their password on a fresh connection. An empty
//! password is refused before the server is asked (an LDAP bind with an empty password is an
//! anonymous bind, which many servers accept).

use ldap3::Scope;
use ldap3::ldap_escape;

use crate::client::{bind, connect, search, service_connection};
use crate::config::DirectoryConfig;
use crate::error::DirectoryError;

/// The directory's answer to a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectorySignIn {
    /// The password is right.
    Accepted {
        /// The user's DN.
        dn: String,
        /// Their sign-in names, lower case (to find them in the people directory).
        logins: Vec<String>,
        /// Their email, lower case.
        email: Option<String>,
    },
    /// The directory knows the name and refuses; the words go to the record, never the page.
    Refused(String),
    /// No such user in the directory.
    Unknown,
}

/// Check a name and password against the directory.
pub async fn sign_in(c: &DirectoryConfig, username: &str, password: &str) -> Result<DirectorySignIn, DirectoryError> {
    let name = username.trim();
    if name.is_empty() || name.len() > 256 {
        return Ok(DirectorySignIn::Unknown);
    }
    let mut ldap = service_connection(c).await?;
    let escaped = ldap_escape(name);
    let mut alternatives: Vec<String> = c.attributes.logins.iter().map(|a| format!("({a}={escaped})")).collect();
    alternatives.push(format!("({}={escaped})", c.attributes.email));
    let filter = format!("(&{}(|{}))", c.user_filter, alternatives.concat());
    let mut attrs = c.attributes.logins.clone();
    attrs.push(c.attributes.email.clone());
    let found = search(&mut ldap, c, &c.base_dn, Scope::Subtree, &filter, &attrs).await?;
    let _ = ldap.unbind().await;
    let entry = match found.len() {
        0 => return Ok(DirectorySignIn::Unknown),
        1 => &found[0],
        n => return Ok(DirectorySignIn::Refused(format!("the name matches {n} directory entries"))),
    };
    if password.is_empty() {
        return Ok(DirectorySignIn::Refused("empty password".into()));
    }
    let mut user = connect(c).await?;
    let outcome = bind(&mut user, c, &entry.dn, password).await;
    let _ = user.unbind().await;
    match outcome {
        Ok(()) => {}
        Err(DirectoryError::BindRefused { .. }) => return Ok(DirectorySignIn::Refused("wrong password, or the account is locked or disabled".into())),
        Err(e) => return Err(e),
    }
    let logins = entry.logins(&c.attributes.logins);
    let email = entry.first(&c.attributes.email).map(str::to_lowercase);
    Ok(DirectorySignIn::Accepted { dn: entry.dn.clone(), logins, email })
}
