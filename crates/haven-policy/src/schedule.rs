//! Named time windows ("lunch: Mon-Fri 12:15-13:15") in Europe/London local time.
//!
//! Local time comes from the zone's offset at the instant asked about, so a window means the
//! same wall-clock minutes on either side of the BST/GMT change.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Why a window span was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// Not of the form `DAYS HH:MM-HH:MM`.
    #[error("`{0}` is not of the form `Mon-Fri 12:15-13:15`")]
    Shape(String),
    /// An unknown day word.
    #[error("`{0}` is not a day (use Mon..Sun, weekdays, weekends or daily)")]
    Day(String),
    /// A time that is not `HH:MM` between 00:00 and 24:00.
    #[error("`{0}` is not a time between 00:00 and 24:00")]
    Time(String),
    /// Start and end are the same minute.
    #[error("`{0}` is empty: start and end are the same")]
    Empty(String),
}

/// Wall-clock time in the school's zone, reduced to what windows need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Minutes since local midnight.
    pub minute: u16,
}

impl LocalTime {
    /// The local time at an instant, using the zone's rules for that instant.
    pub fn at(ts: Timestamp, tz: &TimeZone) -> LocalTime {
        let offset = i64::from(tz.to_offset(ts).seconds());
        let local = ts.as_second() + offset;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        // 1970-01-01 was a Thursday (weekday 3 when Monday is 0).
        LocalTime { weekday: (days + 3).rem_euclid(7) as u8, minute: (secs / 60) as u16 }
    }
}

/// One weekly span: some days, from a start minute to an end minute (wrapping past midnight if end < start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    days: u8,
    start: u16,
    end: u16,
}

impl Span {
    /// Parse `Mon-Fri 12:15-13:15`, `Sat,Sun 00:00-24:00`, `weekdays 15:30-17:30` or `daily 22:00-06:00`.
    pub fn parse(text: &str) -> Result<Span, ScheduleError> {
        let mut parts = text.split_whitespace();
        let (Some(days), Some(times), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ScheduleError::Shape(text.to_string()));
        };
        let days = parse_days(days)?;
        let (a, b) = times.split_once('-').ok_or_else(|| ScheduleError::Shape(text.to_string()))?;
        let start = parse_time(a)?;
        let end = parse_time(b)?;
        if start == end {
            return Err(ScheduleError::Empty(text.to_string()));
        }
        Ok(Span { days, start, end })
    }

    /// True when the local time falls inside the span.
    pub fn contains(&self, t: LocalTime) -> bool {
        let today = self.days & (1 << t.weekday) != 0;
        if self.start < self.end {
            today && t.minute >= self.start && t.minute < self.end
        } else {
            // Wraps past midnight: the tail belongs to the day the span started.
            let yesterday = self.days & (1 << ((t.weekday + 6) % 7)) != 0;
            (today && t.minute >= self.start) || (yesterday && t.minute < self.end)
        }
    }
}

fn parse_days(s: &str) -> Result<u8, ScheduleError> {
    match s.to_ascii_lowercase().as_str() {
        "weekdays" => return Ok(0b001_1111),
        "weekends" => return Ok(0b110_0000),
        "daily" | "everyday" => return Ok(0b111_1111),
        _ => {}
    }
    let mut mask = 0u8;
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => mask |= 1 << day(part)?,
        }
    }
    Ok(mask)
}

fn day(s: &str) -> Result<u8, ScheduleError> {
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let l = s.to_ascii_lowercase();
    // A day is its full name or any prefix of it of three letters or more ("Mon", "Tues").
    DAYS.iter().position(|d| l.len() >= 3 && d.starts_with(l.as_str())).map(|p| p as u8).ok_or_else(|| ScheduleError::Day(s.to_string()))
}

fn parse_time(s: &str) -> Result<u16, ScheduleError> {
    let err = || ScheduleError::Time(s.to_string());
    let (h, m) = s.split_once(':').ok_or_else(err)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(err());
    }
    let h: u16 = h.parse().map_err(|_| err())?;
    let m: u16 = m.parse().map_err(|_| err())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(err());
    }
    Ok(h * 60 + m)
}

/// A named window such as "lunch" or "after school".
#[derive(Debug, Clone)]
pub struct Window {
    /// Configuration identifier.
    pub id: Box<str>,
    /// Plain-English title for block pages ("Lunch").
    pub title: Box<str>,
    /// The spans as written, for display.
    pub text: Box<[Box<str>]>,
    spans: Box<[Span]>,
}

impl Window {
    /// Build a window from its spans as written in configuration.
    pub fn new(id: &str, title: &str, spans: &[String]) -> Result<Window, (usize, ScheduleError)> {
        let parsed = spans.iter().enumerate().map(|(i, s)| Span::parse(s).map_err(|e| (i, e))).collect::<Result<Vec<_>, _>>()?;
        Ok(Window {
            id: id.into(),
            title: title.into(),
            text: spans.iter().map(|s| Box::from(s.as_str())).collect(),
            spans: parsed.into_boxed_slice(),
        })
    }

    /// A window with no spans, never open: keeps indexes aligned after a refused definition.
    pub fn empty(id: &str, title: &str) -> Window {
        Window { id: id.into(), title: title.into(), text: Box::new([]), spans: Box::new([]) }
    }

    /// True when any span contains the local time.
    pub fn contains(&self, t: LocalTime) -> bool {
        self.spans.iter().any(|s| s.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london() -> TimeZone {
        TimeZone::get("Europe/London").unwrap()
    }

    fn local(s: &str) -> LocalTime {
        LocalTime::at(s.parse::<Timestamp>().unwrap(), &london())
    }

    #[test]
    fn spans_parse_and_contain() {
        let lunch = Span::parse("Mon-Fri 12:15-13:15").unwrap();
        assert!(lunch.contains(LocalTime { weekday: 0, minute: 12 * 60 + 15 }));
        assert!(!lunch.contains(LocalTime { weekday: 0, minute: 13 * 60 + 15 }));
        assert!(!lunch.contains(LocalTime { weekday: 5, minute: 12 * 60 + 30 }));
        let night = Span::parse("Fri 22:00-06:00").unwrap();
        assert!(night.contains(LocalTime { weekday: 4, minute: 23 * 60 }));
        assert!(night.contains(LocalTime { weekday: 5, minute: 60 }));
        assert!(!night.contains(LocalTime { weekday: 4, minute: 60 }));
        assert_eq!(Span::parse("Sat,Sun 00:00-24:00").unwrap().days, 0b110_0000);
        assert_eq!(Span::parse("weekdays 15:30-17:00").unwrap().days, 0b001_1111);
        assert_eq!(Span::parse("Fri-Mon 09:00-10:00").unwrap().days, 0b111_0001);
        assert_eq!(Span::parse("Tuesday 09:00-10:00").unwrap().days, 0b10);
    }

    #[test]
    fn bad_spans_say_why() {
        assert!(matches!(Span::parse("lunch"), Err(ScheduleError::Shape(_))));
        assert!(matches!(Span::parse("Funday 12:00-13:00"), Err(ScheduleError::Day(_))));
        assert!(matches!(Span::parse("Mon 25:00-26:00"), Err(ScheduleError::Time(_))));
        assert!(matches!(Span::parse("Mon 12:60-13:00"), Err(ScheduleError::Time(_))));
        assert!(matches!(Span::parse("Mon 12:00-12:00"), Err(ScheduleError::Empty(_))));
    }

    #[test]
    fn local_time_follows_bst_and_gmt() {
        // Sun 30 Mar 2025: clocks go forward at 01:00 UTC.
        assert_eq!(local("2025-03-30T00:59:00Z"), LocalTime { weekday: 6, minute: 59 });
        assert_eq!(local("2025-03-30T01:00:00Z"), LocalTime { weekday: 6, minute: 120 });
        // Mon 31 Mar 2025 12:20 BST is 11:20 UTC.
        assert_eq!(local("2025-03-31T11:20:00Z"), LocalTime { weekday: 0, minute: 12 * 60 + 20 });
        // Sun 26 Oct 2025: clocks go back at 01:00 UTC.
        assert_eq!(local("2025-10-26T00:59:00Z"), LocalTime { weekday: 6, minute: 60 + 59 });
        assert_eq!(local("2025-10-26T01:00:00Z"), LocalTime { weekday: 6, minute: 60 });
        // Mon 27 Oct 2025 12:20 GMT is 12:20 UTC.
        assert_eq!(local("2025-10-27T12:20:00Z"), LocalTime { weekday: 0, minute: 12 * 60 + 20 });
    }
}
