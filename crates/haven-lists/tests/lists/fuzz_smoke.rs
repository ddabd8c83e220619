//! Runs every fuzz body in `haven_policy::fuzz` (and the UT1 tarball reader) over a few thousand
//! generated inputs, so the fuzz targets' code and invariants are exercised on every CI run on
//! stable Rust. Real fuzzing (coverage-guided, long-running) lives in `fuzz/`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use haven_lists::{LoadError, Ut1Mapping, build_from_ut1_reader};
use haven_policy::{ListFormat, fuzz};
use proptest::prelude::*;

use crate::support::{cat, taxonomy};

const CASES: u32 = 3000;

/// Inputs that reach past the first checks: raw bytes, printable text, and list-shaped lines.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "[ -~]{0,120}".prop_map(String::into_bytes),
        "(0\\.0\\.0\\.0 |127\\.0\\.0\\.1 |::1 )?[A-Za-z0-9*_.-]{1,70}( [a-z0-9.-]{1,20})?( #.*)?".prop_map(String::into_bytes),
        "(\\|\\||@@)?[a-z0-9.*-]{1,40}(\\^|\\^\\||/[a-z]*)?(\\$[a-z,-]{0,20})?".prop_map(String::into_bytes),
        "(https?://)?(www\\.)?[a-zA-Z0-9.-]{1,40}(:[0-9]{1,5})?(/[ -~]{0,40})?(#[a-z]*)?".prop_map(String::into_bytes),
        "[\\PC]{0,40}(\\.[\\PC]{1,10}){0,3}".prop_map(String::into_bytes),
        "(sha256:)?[0-9a-fA-F]{62,66}".prop_map(String::into_bytes),
        "[a-z(|)\\[\\].*+?{}0-9\\\\/^$]{0,60}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn list_lines_of_every_format(data in line()) {
        for format in [ListFormat::Domains, ListFormat::Urls, ListFormat::Hosts, ListFormat::Adblock, ListFormat::Expressions] {
            fuzz::list_line(format, &data);
        }
    }

    #[test]
    fn url_patterns(data in line()) {
        fuzz::url_pattern(&data);
    }

    #[test]
    fn names(data in line()) {
        fuzz::name(&data);
    }

    #[test]
    fn hashed_lines(data in line()) {
        fuzz::hashed(&data);
    }
}

/// A small valid UT1 tar archive (uncompressed), to mutate.
fn seed_tar() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, body) in [
        ("blacklists/adult/domains", "adult.example\nbad domain\n"),
        ("blacklists/adult/urls", "adult.example/x\n"),
        ("blacklists/gambling/domains", "bet.example\r\n"),
        ("blacklists/gambling/expressions", "casino[0-9]+\n"),
        ("blacklists/README", "readme\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

/// The same archive gzipped, as UT1 distributes it.
fn seed_tarball() -> Vec<u8> {
    let raw = seed_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap()
}

fn load_tarball(data: &[u8]) -> Result<(), LoadError> {
    let t = taxonomy();
    let mapping = Ut1Mapping(HashMap::from([("adult".to_string(), Some(cat(&t, "adult"))), ("gambling".to_string(), None)]));
    build_from_ut1_reader(&t, "ut1", Path::new("fuzz.tar.gz"), &mapping, data).map(|_| ())
}

#[test]
fn seed_tarball_loads() {
    let t = taxonomy();
    let mapping = Ut1Mapping(HashMap::from([("adult".to_string(), Some(cat(&t, "adult"))), ("gambling".to_string(), None)]));
    let seed = seed_tarball();
    let (set, report) = build_from_ut1_reader(&t, "ut1", Path::new("seed.tar.gz"), &mapping, seed.as_slice()).unwrap();
    assert_eq!(report.sources.len(), 1);
    assert_eq!((report.total_lines, report.total_rejected), (3, 1));
    assert_eq!(report.not_imported, ["ut1/gambling"]);
    assert_eq!(set.distinct_domains(), 1);
    let plain = build_from_ut1_reader(&t, "ut1", Path::new("seed.tar"), &mapping, seed_tar().as_slice()).unwrap().1;
    assert_eq!(plain.total_lines, 3);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Damaged archives, gzipped or plain (bytes flipped, cut short), fail cleanly or load; they never panic.
    #[test]
    fn damaged_tarballs_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
                                    cut in any::<prop::sample::Index>(), truncate in any::<bool>(), gzip in any::<bool>()) {
        let mut data = if gzip { seed_tarball() } else { seed_tar() };
        for (i, b) in flips {
            let i = i.index(data.len());
            data[i] ^= b;
        }
        if truncate {
            let n = cut.index(data.len());
            data.truncate(n);
        }
        let _ = load_tarball(&data);
    }

    /// Uncompressed tar bytes, damaged, reach the tar parser directly.
    #[test]
    fn raw_bytes_as_tarball_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = load_tarball(&data);
    }
}
