//! Keyword matching and rule evaluation throughput: search strings against a 10,000-entry
//! library generated deterministically, and one event through the default rules.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use haven_activity::{Channel, Event, Flags};
use haven_monitor::{Engine, KeywordMatcher, Library, RuleSet};

/// A deterministic pseudo-random word source (xorshift), so every run builds the same library.
struct Words(u64);

impl Words {
    fn word(&mut self) -> String {
        const SYL: &[&str] = &["ka", "lo", "mi", "sen", "tor", "vel", "dra", "qui", "pex", "zu", "nor", "bai", "ush", "ren"];
        let mut s = String::new();
        let n = 2 + (self.next() % 3) as usize;
        for _ in 0..n {
            s.push_str(SYL[(self.next() % SYL.len() as u64) as usize]);
        }
        s
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn library(entries: usize) -> Library {
    let mut w = Words(0x9e37_79b9_7f4a_7c15);
    let mut text = String::from("library: bench\nlanguage: Generated\nversion: 1\n");
    for i in 0..entries {
        let term = if i % 3 == 0 { format!("{} {}", w.word(), w.word()) } else { w.word() };
        text.push_str(&format!("drugs | medium | {term} | generated entry {i}\n"));
    }
    Library::parse("bench", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn searches(n: usize) -> Vec<String> {
    let mut w = Words(0x2545_f491_4f6c_dd1d);
    (0..n).map(|_| format!("how to {} the {} for homework", w.word(), w.word())).collect()
}

fn bench(c: &mut Criterion) {
    let matcher = KeywordMatcher::new(&[library(10_000)]).unwrap_or_else(|e| panic!("{e}"));
    let texts = searches(1000);
    let mut g = c.benchmark_group("keywords");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("find_10k_entries_1000_searches", |b| {
        let mut scratch = String::new();
        b.iter(|| {
            let mut n = 0;
            for t in &texts {
                n += matcher.find_with(black_box(t), &mut scratch).len();
            }
            n
        })
    });
    g.finish();

    let shipped = KeywordMatcher::new(&Library::shipped().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::defaults().unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::new(rules, shipped, jiff::tz::TimeZone::UTC);
    let event = Event {
        time: jiff::Timestamp::now(),
        channel: Channel::Dns,
        client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
        device: None,
        user: Some("pupil".into()),
        group: "ks3".into(),
        name: "www.example.com".into(),
        qtype: "A".into(),
        action: "allow".into(),
        category: Some("education".into()),
        rule: "ks3/default".into(),
        list_source: None,
        list_entry: None,
        flags: Flags::default(),
        upstream: None,
        latency_us: 100,
        web: None,
    };
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(1));
    g.bench_function("evaluate_allowed_dns_event_default_rules", |b| b.iter(|| engine.evaluate(black_box(&event))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
