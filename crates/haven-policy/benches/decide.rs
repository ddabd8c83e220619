//! Policy-core benchmarks on the shared 1M-domain corpus (issue 3):
//!
//! * `build`: text already in memory → frozen `ListSet` (parse, insert, finish), 1M domains;
//! * `decide`: one decision (domain → category → group policy → time window) with the full 1M
//!   set loaded, over a rotating 20 % blocked / 80 % allowed mix from the DNS bench's queries,
//!   plus blocked-only, allowed-only, time-windowed and hashed-floor variants;
//! * `lookup`: raw `ListSet::match_name` on listed and unlisted names.
//!
//! Run: `cargo bench -p haven-policy --bench decide -- --warm-up-time 1 --measurement-time 5`
//! (add a filter such as `decide/` to run one group). Results: BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use haven_policy::*;
use jiff::Timestamp;

use common::*;

/// Names per rotating input vector: enough to defeat caching of any one name's slots.
const MIX: usize = 10_000;

/// Monday 23 Nov 2026, 10:00 GMT: a lesson, outside every window.
fn lesson() -> Timestamp {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

/// Monday 23 Nov 2026, 12:30 GMT: inside the lunch window.
fn lunch() -> Timestamp {
    "2026-11-23T12:30:00Z".parse().unwrap()
}

struct Corpus {
    taxonomy: Taxonomy,
    sources: Vec<(String, &'static str, String)>,
    lines: usize,
    plain: String,
    queries: String,
}

fn corpus() -> Corpus {
    let tsv = read_gz("blocklist-1m-categories.tsv.gz");
    let lines = tsv.lines().count();
    Corpus {
        taxonomy: taxonomy(),
        sources: sources_from_tsv(&tsv),
        lines,
        plain: read_gz("blocklist-1m.txt.gz"),
        queries: read_gz("queries.txt.gz"),
    }
}

fn bench_build(c: &mut Criterion, k: &Corpus) {
    let mut g = c.benchmark_group("build");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.bench_function("1m_104_sources", |b| {
        b.iter_batched(|| (), |()| build_lists(&k.taxonomy, &k.sources, k.lines), BatchSize::PerIteration)
    });
    g.bench_function("1m_one_source", |b| {
        b.iter_batched(|| (), |()| build_plain(&k.taxonomy, "malware", &k.plain, k.lines), BatchSize::PerIteration)
    });
    g.finish();
}

/// Rotate through `items`, one call per iteration.
fn rotate<T, R>(b: &mut criterion::Bencher<'_>, items: &[T], mut f: impl FnMut(&T) -> R) {
    let mut i = 0;
    b.iter(|| {
        let r = f(&items[i]);
        i += 1;
        if i == items.len() {
            i = 0;
        }
        black_box(r)
    });
}

fn bench_decide(c: &mut Criterion, k: &Corpus) {
    let lists = build_lists(&k.taxonomy, &k.sources, k.lines);
    let snap = snapshot(&k.taxonomy, lists, false);
    let lists = snap.lists();

    // The DNS bench's mix, in file order (already shuffled): 20 % listed, 80 % school names.
    let mix: Vec<What> = query_names(&k.queries).take(MIX).map(|n| What::name(n).unwrap()).collect();
    let listed = |w: &What| matches!(w, What::Name(n) if !lists.match_name(n).categories.is_empty());
    let blocked: Vec<What> = query_names(&k.queries).map(|n| What::name(n).unwrap()).filter(listed).take(MIX).collect();
    let allowed: Vec<What> = query_names(&k.queries).map(|n| What::name(n).unwrap()).filter(|w| !listed(w)).take(MIX).collect();
    // Names whose only category is the lunch-windowed `games`, so every decision converts the
    // instant to Europe/London time.
    let games = k.taxonomy.id("games").unwrap();
    let windowed: Vec<What> = k
        .sources
        .iter()
        .filter(|(_, c, _)| *c == "games")
        .flat_map(|(_, _, text)| text.lines())
        .map(|n| What::name(n).unwrap())
        .filter(|w| matches!(w, What::Name(n) if { let c = lists.match_name(n).categories; c.len() == 1 && c.contains(games) }))
        .take(MIX)
        .collect();

    let ks3 = snap.resolve(&Who { group: Some("ks3"), ..Who::default() });
    let staff = snap.resolve(&Who { group: Some("staff"), ..Who::default() });
    let (at, noon) = (lesson(), lunch());
    let share = |v: &[What], id: &Identity<'_>, t: Timestamp| {
        v.iter().filter(|w| snap.decide_for(id, w, t).is_blocked()).count() as f64 / v.len() as f64
    };
    eprintln!(
        "decide inputs: mix {} names ({:.1} % blocked for ks3), listed {} ({:.1} % blocked), unlisted {}, games-only {} ({:.1} % blocked at 12:30, {:.1} % at 10:00)",
        mix.len(),
        100.0 * share(&mix, &ks3, at),
        blocked.len(),
        100.0 * share(&blocked, &ks3, at),
        allowed.len(),
        windowed.len(),
        100.0 * share(&windowed, &ks3, noon),
        100.0 * share(&windowed, &ks3, at),
    );

    let mut g = c.benchmark_group("decide");
    g.bench_function("ks3_mix_decide_for", |b| rotate(b, &mix, |w| snap.decide_for(&ks3, w, at).action));
    g.bench_function("ks3_mix_decide_with_resolve", |b| {
        let who = Who { group: Some("ks3"), ..Who::default() };
        rotate(b, &mix, |w| snap.decide(&who, w, at).action)
    });
    g.bench_function("staff_mix_decide_for", |b| rotate(b, &mix, |w| snap.decide_for(&staff, w, at).action));
    g.bench_function("ks3_listed_only", |b| rotate(b, &blocked, |w| snap.decide_for(&ks3, w, at).action));
    g.bench_function("ks3_unlisted_only", |b| rotate(b, &allowed, |w| snap.decide_for(&ks3, w, at).action));
    g.bench_function("ks3_games_windowed_lunch", |b| rotate(b, &windowed, |w| snap.decide_for(&ks3, w, noon).action));
    g.bench_function("ks3_games_windowed_lesson", |b| rotate(b, &windowed, |w| snap.decide_for(&ks3, w, at).action));
    g.bench_function("staff_games_no_window", |b| rotate(b, &windowed, |w| snap.decide_for(&staff, w, at).action));
    // Control for the time-zone cost: the conversion alone.
    g.bench_function("london_local_time_only", |b| {
        let tz = snap.time_zone().clone();
        b.iter(|| LocalTime::at(black_box(noon), &tz))
    });
    g.finish();

    // Same lists with a floor that holds one SHA-256 entry, as a licensed hashed feed adds.
    let snap_h = snapshot(&k.taxonomy, build_lists(&k.taxonomy, &k.sources, k.lines), true);
    let ks3_h = snap_h.resolve(&Who { group: Some("ks3"), ..Who::default() });
    let mut g = c.benchmark_group("decide");
    g.bench_function("ks3_mix_hashed_floor", |b| rotate(b, &mix, |w| snap_h.decide_for(&ks3_h, w, at).action));
    g.finish();
    drop(snap_h);

    let hit_names: Vec<Name> = blocked.iter().filter_map(|w| if let What::Name(n) = w { Some(n.clone()) } else { None }).collect();
    let miss_names: Vec<Name> = allowed.iter().filter_map(|w| if let What::Name(n) = w { Some(n.clone()) } else { None }).collect();
    let mix_names: Vec<Name> = mix.iter().filter_map(|w| if let What::Name(n) = w { Some(n.clone()) } else { None }).collect();
    let mut g = c.benchmark_group("lookup");
    g.bench_function("match_name_hit", |b| rotate(b, &hit_names, |n| lists.match_name(n).categories));
    g.bench_function("match_name_miss", |b| rotate(b, &miss_names, |n| lists.match_name(n).categories));
    g.bench_function("match_name_mix", |b| rotate(b, &mix_names, |n| lists.match_name(n).categories));
    g.finish();
    drop(snap);

    // The same lists presized for 1.6x the lines (what a loader does when sources overlap):
    // a table load of 0.5 instead of 0.8, traded against memory.
    let roomy = build_lists(&k.taxonomy, &k.sources, k.lines * 8 / 5);
    eprintln!("presized 1.6x: domain index {:.2} B/domain", roomy.domain_index_bytes() as f64 / roomy.distinct_domains() as f64);
    let mut g = c.benchmark_group("lookup");
    g.bench_function("match_name_mix_presized_1.6x", |b| rotate(b, &mix_names, |n| roomy.match_name(n).categories));
    g.finish();
}

fn benches(c: &mut Criterion) {
    let k = corpus();
    bench_build(c, &k);
    bench_decide(c, &k);
}

criterion_group!(decide, benches);
criterion_main!(decide);
