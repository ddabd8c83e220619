//! Talking to the directory: connect (plain, StartTLS or LDAPS), bind as the service account,
//! and read every user and group under the base DN with paged searches. Nothing here decides
//! who is who; that is [`crate::mapping`].

use std::panic::AssertUnwindSafe;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, ResultEntry, Scope, SearchEntry};

use crate::config::{DirectoryConfig, Transport};
use crate::error::DirectoryError;
use crate::mapping::Entry;

/// Everything one read of the directory found.
#[derive(Debug, Clone, Default)]
pub struct DirectoryRead {
    /// Group entries (with their member attributes).
    pub groups: Vec<Entry>,
    /// User entries (with the mapped attributes).
    pub users: Vec<Entry>,
}

/// Open a connection, protected as configured, with its driver running.
pub async fn connect(c: &DirectoryConfig) -> Result<Ldap, DirectoryError> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(c.timeout);
    match &c.transport {
        Transport::Plain => {}
        Transport::StartTls(tls) => settings = settings.set_starttls(true).set_config(tls.clone()),
        Transport::Tls(tls) => settings = settings.set_config(tls.clone()),
    }
    let (conn, mut ldap) = tokio::time::timeout(c.timeout, LdapConnAsync::with_settings(settings, &c.url))
        .await
        .map_err(|_| DirectoryError::Timeout { url: c.url.clone(), what: "connecting" })?
        .map_err(|e| DirectoryError::Connect { url: c.url.clone(), detail: e.to_string() })?;
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(error = %e, "directory connection closed");
        }
    });
    ldap.with_timeout(c.timeout);
    Ok(ldap)
}

/// Bind with a DN and password; a wrong password is [`DirectoryError::BindRefused`].
pub async fn bind(ldap: &mut Ldap, c: &DirectoryConfig, dn: &str, password: &str) -> Result<(), DirectoryError> {
    let res = tokio::time::timeout(c.timeout, ldap.simple_bind(dn, password))
        .await
        .map_err(|_| DirectoryError::Timeout { url: c.url.clone(), what: "binding" })?
        .map_err(|e| DirectoryError::Connect { url: c.url.clone(), detail: e.to_string() })?;
    match res.rc {
        0 => Ok(()),
        49 => Err(DirectoryError::BindRefused { dn: dn.to_owned() }),
        rc => Err(DirectoryError::Server { operation: "bind", rc, text: res.text }),
    }
}

/// Connect and bind as the service account.
pub async fn service_connection(c: &DirectoryConfig) -> Result<Ldap, DirectoryError> {
    let mut ldap = connect(c).await?;
    bind(&mut ldap, c, &c.bind_dn, c.bind_password.expose()).await?;
    Ok(ldap)
}

/// A subtree search with paging, every entry turned into an [`Entry`] (attribute names lower case).
pub async fn search(ldap: &mut Ldap, c: &DirectoryConfig, base: &str, scope: Scope, filter: &str, attrs: &[String]) -> Result<Vec<Entry>, DirectoryError> {
    let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(c.page_size))];
    let server = |e: ldap3::LdapError| DirectoryError::Connect { url: c.url.clone(), detail: e.to_string() };
    let mut stream = ldap.streaming_search_with(adapters, base, scope, filter, attrs.to_vec()).await.map_err(server)?;
    let mut out = Vec::new();
    loop {
        let next = tokio::time::timeout(c.timeout, stream.next()).await.map_err(|_| DirectoryError::Timeout { url: c.url.clone(), what: "searching" })?;
        match next.map_err(server)? {
            Some(raw) => out.push(entry_of(raw)?),
            None => break,
        }
    }
    let res = stream.finish().await;
    match res.rc {
        0 => Ok(out),
        32 => Err(DirectoryError::NoSuchBase { base: base.to_owned() }),
        rc => Err(DirectoryError::Server { operation: "search", rc, text: res.text }),
    }
}

/// Active Directory hands back a group of more than 1,500 members a slice at a time
/// (`member;range=0-1499`); fetch the remaining slices so no member is missed.
async fn complete_ranged_members(ldap: &mut Ldap, c: &DirectoryConfig, g: &mut Entry) -> Result<(), DirectoryError> {
    let mut next = take_range(g);
    let mut guard = 0;
    while let Some(start) = next {
        guard += 1;
        if guard > 10_000 {
            return Err(DirectoryError::Server { operation: "ranged member read", rc: 0, text: format!("{} never finished its member ranges", g.dn) });
        }
        let attr = vec![format!("member;range={start}-*")];
        let found = search(ldap, c, &g.dn, Scope::Base, "(objectClass=*)", &attr).await?;
        let Some(mut slice) = found.into_iter().next() else { break };
        next = take_range(&mut slice);
        g.attrs.entry("member".into()).or_default().extend(slice.attrs.remove("member").unwrap_or_default());
    }
    Ok(())
}

/// Move `member;range=A-B` values into `member`; the start of the next slice, unless B is `*`.
fn take_range(e: &mut Entry) -> Option<u64> {
    let key = e.attrs.keys().find(|k| k.starts_with("member;range="))?.clone();
    let values = e.attrs.remove(&key).unwrap_or_default();
    e.attrs.entry("member".into()).or_default().extend(values);
    let (_, end) = key.trim_start_matches("member;range=").split_once('-')?;
    end.parse::<u64>().ok().map(|e| e + 1)
}

/// Parse one raw entry; a malformed one from the server is an error, never a panic.
fn entry_of(raw: ResultEntry) -> Result<Entry, DirectoryError> {
    let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw))).map_err(|_| DirectoryError::Malformed)?;
    Ok(Entry { dn: parsed.dn, attrs: parsed.attrs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect() })
}

/// Read every group and user under the base DN.
pub async fn read_directory(c: &DirectoryConfig) -> Result<DirectoryRead, DirectoryError> {
    let mut ldap = service_connection(c).await?;
    let group_attrs = vec!["member".to_owned(), "uniqueMember".to_owned(), "cn".to_owned()];
    let mut groups = search(&mut ldap, c, &c.base_dn, Scope::Subtree, &c.group_filter, &group_attrs).await?;
    for g in &mut groups {
        complete_ranged_members(&mut ldap, c, g).await?;
    }
    let users = search(&mut ldap, c, &c.base_dn, Scope::Subtree, &c.user_filter, &c.attributes.requested()).await?;
    let _ = ldap.unbind().await;
    Ok(DirectoryRead { groups, users })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranged_member_slices_are_followed_until_the_star() {
        let mut e = Entry { dn: "cn=big".into(), attrs: [("member;range=0-1499".to_owned(), vec!["uid=a".to_owned()])].into_iter().collect() };
        assert_eq!(take_range(&mut e), Some(1500));
        assert_eq!(e.all("member"), ["uid=a"]);
        let mut last = Entry { dn: "cn=big".into(), attrs: [("member;range=1500-*".to_owned(), vec!["uid=b".to_owned()])].into_iter().collect() };
        assert_eq!(take_range(&mut last), None);
        assert_eq!(last.all("member"), ["uid=b"]);
        let mut plain = Entry { dn: "cn=small".into(), attrs: [("member".to_owned(), vec!["uid=c".to_owned()])].into_iter().collect() };
        assert_eq!(take_range(&mut plain), None);
        assert_eq!(plain.all("member"), ["uid=c"]);
    }
}
