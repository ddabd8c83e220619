//! UT1 (Université Toulouse 1 Capitole) blacklists, as a directory tree or the distributed tarball.
//!
//! Layout: `blacklists/<category>/{domains,urls,expressions,usage,...}`. Each category directory
//! becomes one source `<name>/<category>`; `domains`, `urls` and `expressions` are read, everything
//! else (usage, README, very_restrictive_expression, LICENSE.pdf) is ignored. Symbolic-link
//! categories (aliases such as `porn` -> `adult`) and link entries in a tarball are skipped so
//! nothing is counted twice.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use haven_policy::{ListFormat, Matching};

use crate::error::LoadError;
use crate::load::Loader;
use crate::read::{self, BUF_SIZE};
use crate::report::FileKind;
use crate::{Ut1Class, Ut1Mapping};

/// The files of a category directory that hold entries, in reading order, with their formats.
const UT1_FILES: [(&str, ListFormat); 3] =
    [("domains", ListFormat::Domains), ("urls", ListFormat::Urls), ("expressions", ListFormat::Expressions)];

/// The format of a category's file, or `None` for files that are not lists.
fn file_format(file: &str) -> Option<ListFormat> {
    UT1_FILES.iter().find(|(f, _)| *f == file).map(|(_, fmt)| *fmt)
}

/// Reading order of a file kind within a source, so directory and tarball reports line up.
fn file_rank(kind: FileKind) -> usize {
    UT1_FILES.iter().position(|(_, fmt)| FileKind::List(*fmt) == kind).unwrap_or(UT1_FILES.len())
}

/// What the counting pass found in a UT1 directory or tarball.
pub(crate) struct Ut1Plan {
    /// Where the category directories are: a directory on disk, or `None` for a tarball.
    root: Option<PathBuf>,
    /// Every (non-alias) category directory, sorted.
    categories: BTreeSet<String>,
    /// Symbolic-link category directories.
    aliases: BTreeSet<String>,
    /// Lines of the imported categories' `domains` files.
    pub expected: u64,
}

/// Count a UT1 directory or tarball and find its categories.
pub(crate) fn plan(path: &Path, mapping: &Ut1Mapping) -> Result<Ut1Plan, LoadError> {
    let meta = fs::metadata(path).map_err(|e| LoadError::io(path, e))?;
    if meta.is_dir() { plan_dir(path, mapping) } else { plan_tar(path, mapping) }
}

/// Load a UT1 source whose plan was made by `plan`.
pub(crate) fn load(loader: &mut Loader<'_>, name: &str, path: &Path, mapping: &Ut1Mapping, plan: Ut1Plan) -> Result<(), LoadError> {
    match &plan.root {
        Some(root) => load_dir(loader, name, root, mapping, &plan),
        None => {
            let file = File::open(path).map_err(|e| LoadError::io(path, e))?;
            load_tar_reader(loader, name, path, mapping, file, read::named_gzip(path), Some(&plan))
        }
    }
}

// ----- directories -----

/// The directory that holds the categories: `path/blacklists` when it exists, else `path` itself.
fn blacklists_root(path: &Path) -> PathBuf {
    let inner = path.join("blacklists");
    if inner.is_dir() { inner } else { path.to_path_buf() }
}

fn plan_dir(path: &Path, mapping: &Ut1Mapping) -> Result<Ut1Plan, LoadError> {
    let root = blacklists_root(path);
    let mut categories = BTreeSet::new();
    let mut aliases = BTreeSet::new();
    let entries = fs::read_dir(&root).map_err(|e| LoadError::io(&root, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::io(&root, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(|e| LoadError::io(&entry.path(), e))?;
        if kind.is_symlink() {
            if fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
                aliases.insert(name);
            }
        } else if kind.is_dir() {
            categories.insert(name);
        }
    }
    let has_lists = categories.iter().any(|c| UT1_FILES.iter().any(|(f, _)| root.join(c).join(f).is_file()));
    if !has_lists {
        return Err(LoadError::NotUt1 { path: path.to_path_buf() });
    }
    let mut expected = 0u64;
    for cat in categories.iter().filter(|c| matches!(mapping.class(c), Ut1Class::Import(_))) {
        let file = root.join(cat).join("domains");
        match File::open(&file) {
            Ok(f) => {
                let n = read::count_lines(&mut BufReader::with_capacity(BUF_SIZE, f)).map_err(|e| LoadError::io(&file, e))?;
                expected = expected.saturating_add(n);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(LoadError::io(&file, e)),
        }
    }
    Ok(Ut1Plan { root: Some(root), categories, aliases, expected })
}

fn load_dir(loader: &mut Loader<'_>, name: &str, root: &Path, mapping: &Ut1Mapping, plan: &Ut1Plan) -> Result<(), LoadError> {
    for cat in &plan.categories {
        let Some(idx) = register(loader, name, root.join(cat), mapping, cat)? else { continue };
        for (file, format) in UT1_FILES {
            let path = root.join(cat).join(file);
            let f = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(LoadError::io(&path, e)),
            };
            let mut reader = BufReader::with_capacity(BUF_SIZE, f);
            loader.feed(idx, FileKind::List(format), &mut reader, &path, None).map_err(|e| e.into_load(|io| LoadError::io(&path, io)))?;
        }
    }
    for alias in &plan.aliases {
        loader.report.aliases.push(format!("{name}/{alias}"));
    }
    Ok(())
}

/// Register a category's source if the mapping imports it, else note it in the report.
/// Returns the source's report index when imported.
fn register(loader: &mut Loader<'_>, name: &str, origin: PathBuf, mapping: &Ut1Mapping, cat: &str) -> Result<Option<usize>, LoadError> {
    let full = format!("{name}/{cat}");
    match mapping.class(cat) {
        Ut1Class::Import(category) => loader.add_source(full, category, origin, Matching::Subdomains).map(Some),
        Ut1Class::NotImported => {
            loader.report.not_imported.push(full);
            Ok(None)
        }
        Ut1Class::Unmapped => {
            loader.report.unmapped.push(full);
            Ok(None)
        }
    }
}

// ----- tarballs -----

/// What one tar member means for UT1.
enum Member {
    /// A category directory.
    Category(String),
    /// A link standing in for a category directory.
    Alias(String),
    /// A file inside a category directory; `format` is `None` for files that are not lists.
    File { category: String, format: Option<ListFormat> },
}

/// Classify a member path such as `blacklists/gambling/domains` (a leading `./` and the
/// `blacklists/` prefix are optional). Anything else, including `..` paths, is not ours.
fn classify(path: &Path, kind: tar::EntryType) -> Option<Member> {
    let mut parts = Vec::with_capacity(3);
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if parts.first().is_some_and(|p| p == "blacklists") {
        parts.remove(0);
    }
    let is_link = kind.is_symlink() || kind.is_hard_link();
    match parts.as_slice() {
        [cat] if kind.is_dir() => Some(Member::Category(cat.to_string())),
        [cat] if is_link => Some(Member::Alias(cat.to_string())),
        [cat, file] if kind.is_file() || kind.is_contiguous() => {
            Some(Member::File { category: cat.to_string(), format: file_format(file) })
        }
        // A link to a file inside a category: skipped, but the category still exists.
        [cat, _] if is_link => Some(Member::File { category: cat.to_string(), format: None }),
        _ => None,
    }
    .filter(|m| match m {
        Member::Category(c) | Member::Alias(c) | Member::File { category: c, .. } => !c.starts_with('.'),
    })
}

/// Visit every member of a tar stream in archive order; any damage is a `Corrupt` error on `origin`.
fn walk_tar(
    origin: &Path,
    reader: impl Read,
    mut visit: impl FnMut(Member, &str, &mut dyn BufRead) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| LoadError::decode(origin, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| LoadError::decode(origin, e))?;
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(|e| LoadError::decode(origin, e))?.into_owned();
        let Some(member) = classify(&path, kind) else { continue };
        let member_path = path.to_string_lossy().into_owned();
        let mut body = BufReader::with_capacity(BUF_SIZE, &mut entry);
        visit(member, &member_path, &mut body)?;
    }
    Ok(())
}

fn plan_tar(path: &Path, mapping: &Ut1Mapping) -> Result<Ut1Plan, LoadError> {
    let opened = read::open(path).map_err(|e| LoadError::io(path, e))?;
    let mut categories = BTreeSet::new();
    let mut aliases = BTreeSet::new();
    let mut expected = 0u64;
    let mut has_lists = false;
    walk_tar(path, opened.reader, |member, _, body| {
        match member {
            Member::Category(c) => {
                categories.insert(c);
            }
            Member::Alias(a) => {
                aliases.insert(a);
            }
            Member::File { category, format } => {
                has_lists |= format.is_some();
                if format == Some(ListFormat::Domains) && matches!(mapping.class(&category), Ut1Class::Import(_)) {
                    let n = read::count_lines(body).map_err(|e| LoadError::decode(path, e))?;
                    expected = expected.saturating_add(n);
                }
                categories.insert(category);
            }
        }
        Ok(())
    })?;
    if !has_lists {
        return Err(LoadError::NotUt1 { path: path.to_path_buf() });
    }
    Ok(Ut1Plan { root: None, categories, aliases, expected })
}

/// Load a UT1 tar stream: gzip when it starts with the gzip magic or `gzip` says so, else plain tar.
/// With a plan, sources are registered in sorted category order first; without one (single-pass
/// use), in archive order.
pub(crate) fn load_tar_reader<R: Read>(
    loader: &mut Loader<'_>,
    name: &str,
    origin: &Path,
    mapping: &Ut1Mapping,
    reader: R,
    gzip: bool,
    plan: Option<&Ut1Plan>,
) -> Result<(), LoadError> {
    let opened = read::decompress(BufReader::with_capacity(BUF_SIZE, reader), gzip).map_err(|e| LoadError::decode(origin, e))?;
    let mut seen: BTreeMap<String, Option<usize>> = BTreeMap::new();
    let mut aliases: BTreeSet<String> = plan.map(|p| p.aliases.clone()).unwrap_or_default();
    let mut has_lists = false;
    if let Some(plan) = plan {
        for cat in &plan.categories {
            let idx = register(loader, name, origin.to_path_buf(), mapping, cat)?;
            seen.insert(cat.clone(), idx);
        }
    }
    walk_tar(origin, opened.reader, |member, member_path, body| {
        let (category, format) = match member {
            Member::Alias(a) => {
                aliases.insert(a);
                return Ok(());
            }
            Member::Category(c) => (c, None),
            Member::File { category, format } => {
                has_lists |= format.is_some();
                (category, format)
            }
        };
        let idx = match seen.get(&category) {
            Some(idx) => *idx,
            None => {
                let idx = register(loader, name, origin.to_path_buf(), mapping, &category)?;
                seen.insert(category, idx);
                idx
            }
        };
        if let (Some(idx), Some(format)) = (idx, format) {
            loader
                .feed(idx, FileKind::List(format), body, origin, Some(member_path.to_string()))
                .map_err(|e| e.into_load(|io| LoadError::decode(origin, io)))?;
        }
        Ok(())
    })?;
    if !has_lists {
        return Err(LoadError::NotUt1 { path: origin.to_path_buf() });
    }
    for idx in seen.values().flatten() {
        if let Some(s) = loader.report.sources.get_mut(*idx) {
            s.files.sort_by_key(|f| file_rank(f.kind));
        }
    }
    for alias in aliases {
        loader.report.aliases.push(format!("{name}/{alias}"));
    }
    Ok(())
}
