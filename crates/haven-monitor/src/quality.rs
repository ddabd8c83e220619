//! Alert quality from the DSL's own outcomes: precision per rule and category, and how fast
//! alerts are acknowledged and closed (median and 90th percentile).

/// One closed or open alert, as the quality report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scored {
    /// Rule id.
    pub rule: String,
    /// Category.
    pub category: String,
    /// Outcome word (`concern`, `no_further_action`, `false_positive`, `excluded`), if closed.
    pub outcome: Option<String>,
    /// Milliseconds from raised to acknowledged, if acknowledged.
    pub ack_ms: Option<i64>,
    /// Milliseconds from raised to outcome, if closed.
    pub outcome_ms: Option<i64>,
}

/// Precision of one rule or category.
#[derive(Debug, Clone, PartialEq)]
pub struct Precision {
    /// Rule or category id.
    pub key: String,
    /// Alerts with an outcome.
    pub closed: u64,
    /// Of which false positives.
    pub false_positives: u64,
    /// Of which acted on (raised as a concern or no further action after a real look).
    pub acted_on: u64,
    /// `acted_on / closed` (None when nothing is closed yet).
    pub precision: Option<f64>,
}

/// The quality report.
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    /// Per rule, by id.
    pub by_rule: Vec<Precision>,
    /// Per category, by id.
    pub by_category: Vec<Precision>,
    /// Median and p90 time to acknowledge, milliseconds.
    pub ack: Option<(i64, i64)>,
    /// Median and p90 time to outcome, milliseconds.
    pub outcome: Option<(i64, i64)>,
    /// Share of closed alerts acted on (the goal is more than half).
    pub overall: Option<f64>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn precision_by(items: &[Scored], key: impl Fn(&Scored) -> &str) -> Vec<Precision> {
    let mut keys: Vec<&str> = items.iter().map(&key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let closed: Vec<&Scored> = items.iter().filter(|s| key(s) == k && s.outcome.is_some()).collect();
            let fp = closed.iter().filter(|s| s.outcome.as_deref() == Some("false_positive")).count() as u64;
            let acted = closed.iter().filter(|s| matches!(s.outcome.as_deref(), Some("concern" | "no_further_action"))).count() as u64;
            let n = closed.len() as u64;
            Precision {
                key: k.to_owned(),
                closed: n,
                false_positives: fp,
                acted_on: acted,
                precision: (n > 0).then(|| acted as f64 / n as f64),
            }
        })
        .collect()
}

fn median_p90(mut v: Vec<i64>) -> Option<(i64, i64)> {
    v.sort_unstable();
    Some((percentile(&v, 50.0)?, percentile(&v, 90.0)?))
}

/// Compute the report.
pub fn quality(items: &[Scored]) -> Quality {
    let closed = items.iter().filter(|s| s.outcome.is_some()).count();
    let acted = items.iter().filter(|s| matches!(s.outcome.as_deref(), Some("concern" | "no_further_action"))).count();
    Quality {
        by_rule: precision_by(items, |s| &s.rule),
        by_category: precision_by(items, |s| &s.category),
        ack: median_p90(items.iter().filter_map(|s| s.ack_ms).collect()),
        outcome: median_p90(items.iter().filter_map(|s| s.outcome_ms).collect()),
        overall: (closed > 0).then(|| acted as f64 / closed as f64),
    }
}
