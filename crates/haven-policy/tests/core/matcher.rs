//! Property tests: the compiled matcher agrees with a naive reference on random lists and names.

use std::collections::BTreeSet;

use haven_policy::*;
use proptest::prelude::*;

use super::fixture::cat;

/// Labels chosen to collide: `ad` is a suffix of `bad`, `co` of `eco`, and so on.
const LABELS: [&str; 8] = ["ad", "bad", "co", "eco", "uk", "x", "ex", "a-b"];

fn name_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(LABELS.to_vec()), 1..5).prop_map(|ls| ls.join("."))
}

/// The obvious, slow definition: equal, or ends with "." + entry.
fn naive(entries: &[(String, usize, bool)], name: &str) -> BTreeSet<usize> {
    entries.iter().filter(|(e, _, exact)| name == e || (!exact && name.ends_with(&format!(".{e}")))).map(|(_, c, _)| *c).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn compiled_matcher_agrees_with_naive_reference(
        entries in prop::collection::vec((name_strategy(), 0usize..4, any::<bool>()), 0..40),
        queries in prop::collection::vec(name_strategy(), 1..40),
    ) {
        let t = Taxonomy::new((0..4).map(|i| cat(&format!("c{i}"), CategoryKind::Policy)).collect()).unwrap();
        let mut b = ListSetBuilder::new(&t, 4);
        // One source per (category, exactness).
        let mut ids = Vec::new();
        for c in 0..4 {
            for exact in [false, true] {
                let m = if exact { Matching::Exact } else { Matching::Subdomains };
                let id = b.add_source(Source { name: format!("c{c}{exact}").into(), category: t.id(&format!("c{c}")).unwrap(), origin: "".into(), matching: m }).unwrap();
                ids.push(((c, exact), id));
            }
        }
        let mut accepted = Vec::new();
        for (e, c, exact) in &entries {
            let id = ids.iter().find(|(k, _)| *k == (*c, *exact)).unwrap().1;
            // Public suffixes (`co.uk`, `uk`) are refused by design; the reference skips them too.
            if b.add_line(id, ListFormat::Domains, e).is_ok() {
                accepted.push((e.clone(), *c, *exact));
            }
        }
        let set = b.finish().unwrap();
        for q in &queries {
            let name = Name::parse(q).unwrap();
            let got: BTreeSet<usize> = set.match_name(&name).categories.iter().map(|c| c.index()).collect();
            prop_assert_eq!(got, naive(&accepted, q), "query {}", q);
        }
    }

    #[test]
    fn names_normalise_idempotently(s in "[A-Za-z0-9-]{1,20}(\\.[A-Za-z0-9-]{1,20}){0,4}\\.?") {
        if let Ok(n) = Name::parse(&s) {
            let again = Name::parse(n.as_str()).unwrap();
            prop_assert_eq!(n.as_str(), again.as_str());
            prop_assert_eq!(n.as_str(), s.trim_end_matches('.').to_ascii_lowercase());
        }
    }
}
