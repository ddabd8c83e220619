//! The real UT1 tarball loads whole: every imported category has a source, every file's lines are
//! all read (checked against counts taken independently with the `tar` crate), and the directory
//! form gives exactly the same result as the tarball. A synthetic tree checks alias handling.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use haven_lists::{LoadReport, SourceSpec, Ut1Mapping, build, build_from_ut1_reader};
use haven_policy::{ListSet, Taxonomy};

use crate::support::{cat, name, taxonomy, ut1_tarball};

/// UT1 directory deliberately not imported, and one left out of the mapping, to check both lists.
const NOT_IMPORTED: &str = "liste_blanche";
const UNMAPPED: &str = "ai";

/// Everything the tarball holds, read independently of haven-lists.
struct TarContents {
    /// Category directories (from directory entries and file paths).
    dirs: BTreeSet<String>,
    /// Line counts of `domains`, `urls` and `expressions` files, by (category, file).
    lines: BTreeMap<(String, String), u64>,
    /// The first line of `gambling/domains`, to spot-check matching.
    first_gambling: String,
}

fn line_count(bytes: &[u8]) -> u64 {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(bytes.last().is_some_and(|&b| b != b'\n'))
}

fn read_tar(path: &Path) -> TarContents {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut out = TarContents { dirs: BTreeSet::new(), lines: BTreeMap::new(), first_gambling: String::new() };
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let p = entry.path().unwrap().to_string_lossy().into_owned();
        let parts: Vec<&str> = p.trim_end_matches('/').split('/').collect();
        let kind = entry.header().entry_type();
        match parts.as_slice() {
            ["blacklists", dir] if kind.is_dir() => {
                out.dirs.insert((*dir).to_string());
            }
            ["blacklists", dir, file] if kind.is_file() => {
                out.dirs.insert((*dir).to_string());
                if ["domains", "urls", "expressions"].contains(file) {
                    let mut bytes = Vec::new();
                    entry.read_to_end(&mut bytes).unwrap();
                    if *dir == "gambling" && *file == "domains" {
                        out.first_gambling = String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap()).trim().to_string();
                    }
                    out.lines.insert(((*dir).to_string(), (*file).to_string()), line_count(&bytes));
                }
            }
            _ => {}
        }
    }
    out
}

/// Map every UT1 directory to a non-illegal test category, except the two deliberate exceptions.
fn mapping(t: &Taxonomy, dirs: &BTreeSet<String>) -> Ut1Mapping {
    let mut m = HashMap::new();
    for d in dirs {
        let target = match d.as_str() {
            UNMAPPED => continue,
            NOT_IMPORTED => None,
            "adult" | "mixed_adult" | "lingerie" => Some(cat(t, "adult")),
            "gambling" | "arjel" => Some(cat(t, "gambling")),
            "vpn" | "doh" | "redirector" | "strict_redirector" | "strong_redirector" | "residential-proxies" => Some(cat(t, "bypass")),
            "malware" | "phishing" | "cryptojacking" | "stalkerware" => Some(cat(t, "security")),
            "educational_games" | "exceptions_liste_bu" => Some(cat(t, "allowed")),
            _ => Some(cat(t, "other")),
        };
        m.insert(d.clone(), target);
    }
    Ut1Mapping(m)
}

/// A comparable digest of a report: per source, per file kind, every count and sampled line.
type Digest = BTreeMap<String, Vec<(String, u64, u64, u64, u64, u64, u64, Vec<u64>)>>;

fn digest(report: &LoadReport) -> Digest {
    report
        .sources
        .iter()
        .map(|s| {
            let files = s
                .files
                .iter()
                .map(|f| {
                    (
                        f.kind.to_string(),
                        f.lines,
                        f.accepted_lines,
                        f.ignored_lines,
                        f.rejected,
                        f.entries,
                        f.repeats,
                        f.samples.iter().map(|b| b.line).collect(),
                    )
                })
                .collect();
            (format!("{} -> {}", s.name, s.category.index()), files)
        })
        .collect()
}

fn load(t: &Taxonomy, path: PathBuf, mapping: &Ut1Mapping) -> (ListSet, LoadReport) {
    build(t, &[SourceSpec::Ut1 { name: "ut1".into(), path, mapping: mapping.clone() }]).unwrap()
}

#[test]
fn real_tarball_loads_every_imported_category_whole() {
    let t = taxonomy();
    let tarball = ut1_tarball();
    let contents = read_tar(&tarball);
    assert!(contents.dirs.len() > 50, "UT1 has dozens of categories; found {}", contents.dirs.len());
    let mapping = mapping(&t, &contents.dirs);
    let (set, report) = load(&t, tarball.clone(), &mapping);

    // Every imported directory has a source, in the mapped category, and nothing else does.
    let imported: Vec<&String> = contents.dirs.iter().filter(|d| *d != NOT_IMPORTED && *d != UNMAPPED).collect();
    assert_eq!(report.sources.len(), imported.len());
    for d in &imported {
        let s = report.source(&format!("ut1/{d}")).unwrap_or_else(|| panic!("no source for UT1 category {d}"));
        assert_eq!(Some(s.category), mapping.0[d.as_str()]);
        assert_eq!(set.source(s.id).name.as_ref(), s.name);
        assert_eq!(s.origin, tarball);
    }
    assert_eq!(report.not_imported, [format!("ut1/{NOT_IMPORTED}")]);
    assert_eq!(report.unmapped, [format!("ut1/{UNMAPPED}")]);
    assert!(report.aliases.is_empty());
    assert!(report.to_string().contains(&format!("unmapped UT1 categories skipped: ut1/{UNMAPPED}")), "{report}");

    // Every list file is read to its last line, and each line is accounted for exactly once.
    let mut expected_total = 0;
    let mut expected_domains = 0;
    for ((dir, file), &lines) in &contents.lines {
        if !imported.contains(&dir) {
            continue;
        }
        expected_total += lines;
        if file == "domains" {
            expected_domains += lines;
        }
        let s = report.source(&format!("ut1/{dir}")).unwrap();
        let f = s.file(file).unwrap_or_else(|| panic!("ut1/{dir}: no report for {file}"));
        assert_eq!(f.member.as_deref(), Some(format!("blacklists/{dir}/{file}").as_str()));
        assert_eq!(f.lines, lines, "ut1/{dir}/{file}: lines read");
        assert_eq!(f.accepted_lines + f.rejected + f.ignored_lines, f.lines, "ut1/{dir}/{file}: lines accounted for");
        assert_eq!(f.kind.to_string(), *file);
    }
    for s in &report.sources {
        assert!(s.files.len() <= 3, "{}: only domains, urls and expressions are read", s.name);
        assert_eq!(set.counts(s.id).rejected, s.rejected(), "{}: builder and report agree on rejects", s.name);
    }
    assert_eq!(report.total_lines, expected_total);
    assert_eq!(report.expected_domain_lines, expected_domains, "counting pass");
    assert!(report.total_entries > 600_000, "entries: {}", report.total_entries);
    assert!(set.distinct_domains() > 300_000, "distinct domains: {}", set.distinct_domains());
    assert_eq!(report.distinct_domains, set.distinct_domains());
    // Real lists have a few odd lines, but they are the exception.
    assert!(report.total_rejected * 100 < report.total_lines, "rejected {} of {}", report.total_rejected, report.total_lines);

    // Spot-check that entries really match.
    let g = name(&contents.first_gambling);
    assert!(set.match_name(&g).categories.contains(cat(&t, "gambling")), "{g} from gambling/domains");
    assert!(set.match_name(&name(&format!("www.{g}"))).categories.contains(cat(&t, "gambling")));

    eprintln!("UT1 tarball: {report}");
    for b in report.bad_lines().take(10) {
        eprintln!("  {b}");
    }

    // The directory form, given either as the parent or as `blacklists/` itself, loads identically.
    let dir = tempfile::tempdir().unwrap();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&tarball).unwrap());
    tar::Archive::new(gz).unpack(dir.path()).unwrap();
    let want = digest(&report);
    for path in [dir.path().to_path_buf(), dir.path().join("blacklists")] {
        let (dset, dreport) = load(&t, path.clone(), &mapping);
        assert_eq!(digest(&dreport), want, "directory form {} differs from the tarball", path.display());
        assert_eq!(dset.distinct_domains(), set.distinct_domains());
        assert_eq!((dreport.not_imported.clone(), dreport.unmapped.clone()), (report.not_imported.clone(), report.unmapped.clone()));
        assert_eq!(dreport.expected_domain_lines, report.expected_domain_lines);
        let s = dreport.source("ut1/gambling").unwrap();
        assert_eq!(s.origin, dir.path().join("blacklists/gambling"));
        eprintln!("UT1 directory: {dreport}");
    }

    // The single-pass reader form (used by the fuzz target) agrees too.
    let (rset, rreport) = build_from_ut1_reader(&t, "ut1", &tarball, &mapping, std::fs::File::open(&tarball).unwrap()).unwrap();
    assert_eq!(digest(&rreport), want);
    assert_eq!(rset.distinct_domains(), set.distinct_domains());
    eprintln!("UT1 reader: {rreport}");
}

/// A small UT1 tree with an alias (`porn` -> `adult`), a top-level README and a non-list file.
fn synthetic_tree(root: &Path) {
    let bl = root.join("blacklists");
    std::fs::create_dir_all(bl.join("adult")).unwrap();
    std::fs::create_dir_all(bl.join("gambling")).unwrap();
    std::fs::write(bl.join("README"), "UT1 test tree\n").unwrap();
    std::fs::write(bl.join("adult/domains"), "adult-one.example\nadult-two.example\r\nbad domain\n").unwrap();
    std::fs::write(bl.join("adult/urls"), "adult-three.example/videos\n").unwrap();
    std::fs::write(bl.join("adult/usage"), "black\nadult\nporn\n").unwrap();
    std::fs::write(bl.join("adult/very_restrictive_expression"), "(porn|sex)\n").unwrap();
    std::fs::write(bl.join("gambling/domains"), "bet.example\n").unwrap();
    std::fs::write(bl.join("gambling/expressions"), "casino[0-9]+\\.example/\n").unwrap();
    std::os::unix::fs::symlink("adult", bl.join("porn")).unwrap();
}

#[test]
fn aliases_are_skipped_in_directories_and_tarballs() {
    let t = taxonomy();
    let dir = tempfile::tempdir().unwrap();
    synthetic_tree(dir.path());
    let mapping = Ut1Mapping(HashMap::from([
        ("adult".to_string(), Some(cat(&t, "adult"))),
        ("porn".to_string(), Some(cat(&t, "adult"))),
        ("gambling".to_string(), Some(cat(&t, "gambling"))),
    ]));

    // A plain (not gzipped) tarball, with the symlink stored as a link entry and `./` prefixes.
    let tarball = dir.path().join("ut1.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all("./blacklists", dir.path().join("blacklists")).unwrap();
    b.finish().unwrap();
    drop(b);

    let mut digests = Vec::new();
    for path in [dir.path().to_path_buf(), tarball.clone()] {
        let (set, report) = load(&t, path.clone(), &mapping);
        assert_eq!(report.aliases, ["ut1/porn"], "{}", path.display());
        assert_eq!(report.sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["ut1/adult", "ut1/gambling"]);
        let adult = report.source("ut1/adult").unwrap();
        assert_eq!(adult.files.iter().map(|f| f.kind.to_string()).collect::<Vec<_>>(), ["domains", "urls"]);
        assert_eq!((adult.lines(), adult.entries(), adult.rejected()), (4, 3, 1));
        assert_eq!(adult.files[0].samples[0].line, 3);
        assert!(set.match_name(&name("x.adult-two.example")).categories.contains(cat(&t, "adult")));
        let u = set.match_url(&name("adult-three.example"), "/videos/1");
        assert!(u.categories.contains(cat(&t, "adult")));
        let x = set.match_url(&name("casino7.example"), "/");
        assert!(x.categories.contains(cat(&t, "gambling")), "UT1 expressions load");
        assert_eq!(report.total_lines, 4 + 2);
        digests.push(digest(&report));
    }
    assert_eq!(digests[0], digests[1]);
}
