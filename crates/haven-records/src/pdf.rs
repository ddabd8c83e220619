//! The printed file: a pupil's front sheet and chronology as a PDF that stands up in court.
//! Every page carries the school, the pupil, "page N of M", when it was generated, who
//! printed it and the chain head; every entry carries its own chain hash, so a printed page
//! can be checked against `haven records verify` years later. Hand-written PDF 1.4 objects
//! with the standard Helvetica and Courier fonts (WinAnsi), no I/O and no dependencies.

use std::fmt::Write as _;

/// What every page's header says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrintHeader {
    /// The school.
    pub school: String,
    /// The pupil's full name.
    pub pupil: String,
    /// Unique pupil number, when known.
    pub upn: Option<String>,
    /// ISO date of birth, when known.
    pub date_of_birth: Option<String>,
    /// When the PDF was generated (school time, as printed).
    pub generated: String,
    /// Who printed it (name and job title).
    pub printed_by: String,
    /// The chain head at the time of printing.
    pub chain_head: String,
    /// The front sheet: label and value (status such as CIN, CP or LAC, agencies, open or closed).
    pub front_sheet: Vec<(String, String)>,
}

/// One chronology line as printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrintEntry {
    /// When it happened (school time, as printed).
    pub occurred: String,
    /// What it is (entry kind label, or "Filter event").
    pub kind: String,
    /// The record it belongs to.
    pub record_id: String,
    /// Who wrote it.
    pub author: String,
    /// Its text, already rendered from the entry body.
    pub text: String,
    /// The entry's chain hash (empty for a linked event, which has none).
    pub hash: String,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
/// Characters per line of 9 pt Helvetica across the text width (conservative).
const WRAP: usize = 100;
const TOP: f32 = PAGE_H - MARGIN - 62.0;
const BOTTOM: f32 = MARGIN + 24.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Font {
    Regular,
    Bold,
    Mono,
}

impl Font {
    fn name(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
            Font::Mono => "F3",
        }
    }
}

/// One line of body text: font, size, leading, text.
#[derive(Debug, Clone)]
struct Line(Font, f32, f32, String);

/// Break text into lines of at most `width` characters at spaces (long words are cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let mut word = word.to_owned();
            while word.chars().count() > width {
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                }
                out.push(head);
            }
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        out.push(line);
    }
    out
}

/// A PDF string literal in WinAnsi: ASCII as is, Latin-1 as octal escapes, anything else `?`.
fn pdf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('(');
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            '\u{2018}' | '\u{2019}' => out.push('\''),
            '\u{201c}' | '\u{201d}' => out.push('"'),
            '\u{2013}' | '\u{2014}' => out.push('-'),
            '\u{a0}'..='\u{ff}' => {
                let _ = write!(out, "\\{:03o}", u32::from(c));
            }
            '\t' => out.push(' '),
            _ => out.push('?'),
        }
    }
    out.push(')');
    out
}

fn blocks(header: &PrintHeader, entries: &[PrintEntry]) -> Vec<Vec<Line>> {
    let mut blocks = Vec::new();
    let mut front = vec![Line(Font::Bold, 13.0, 18.0, "Front sheet".into())];
    let mut facts: Vec<(String, String)> = vec![("Pupil".into(), header.pupil.clone())];
    facts.extend(header.upn.iter().map(|u| ("UPN".to_owned(), u.clone())));
    facts.extend(header.date_of_birth.iter().map(|d| ("Date of birth".to_owned(), d.clone())));
    facts.extend(header.front_sheet.iter().cloned());
    facts.push(("Entries in this chronology".into(), entries.len().to_string()));
    for (label, value) in facts {
        for (i, l) in wrap(&format!("{label}: {value}"), WRAP).into_iter().enumerate() {
            front.push(Line(if i == 0 { Font::Bold } else { Font::Regular }, 10.0, 13.0, l));
        }
    }
    front.push(Line(Font::Regular, 8.0, 12.0, "Each entry below carries its SHA-256 chain hash; `haven records verify` at the school checks them.".into()));
    front.push(Line(Font::Bold, 13.0, 22.0, "Chronology".into()));
    blocks.push(front);
    for e in entries {
        let mut b = vec![Line(Font::Bold, 10.0, 16.0, format!("{}  {}  (record {})", e.occurred, e.kind, e.record_id))];
        if !e.author.is_empty() {
            b.push(Line(Font::Regular, 9.0, 12.0, format!("Written by {}", e.author)));
        }
        b.extend(wrap(&e.text, WRAP).into_iter().map(|l| Line(Font::Regular, 9.0, 12.0, l)));
        b.push(Line(Font::Mono, 7.0, 10.0, if e.hash.is_empty() { "no chain hash: a linked filter event".into() } else { format!("chain hash {}", e.hash) }));
        blocks.push(b);
    }
    blocks
}

/// Lay blocks on pages, keeping a block on one page when it fits on one.
fn paginate(blocks: Vec<Vec<Line>>) -> Vec<Vec<(f32, Line)>> {
    let mut pages = vec![Vec::new()];
    let mut y = TOP;
    for block in blocks {
        let height: f32 = block.iter().map(|l| l.2).sum();
        if y - height < BOTTOM && height <= TOP - BOTTOM && y < TOP {
            pages.push(Vec::new());
            y = TOP;
        }
        for line in block {
            if y - line.2 < BOTTOM {
                pages.push(Vec::new());
                y = TOP;
            }
            y -= line.2;
            if let Some(p) = pages.last_mut() {
                p.push((y, line));
            }
        }
    }
    pages
}

fn page_content(header: &PrintHeader, lines: &[(f32, Line)], n: usize, total: usize) -> String {
    let mut s = String::new();
    let mut text = |font: Font, size: f32, x: f32, y: f32, t: &str| {
        let _ = writeln!(s, "BT /{} {size} Tf {x:.1} {y:.1} Td {} Tj ET", font.name(), pdf_string(t));
    };
    let top = PAGE_H - MARGIN;
    text(Font::Bold, 12.0, MARGIN, top - 12.0, &format!("{} - safeguarding file (confidential)", header.school));
    let mut who = header.pupil.clone();
    if let Some(u) = &header.upn {
        let _ = write!(who, "  UPN {u}");
    }
    if let Some(d) = &header.date_of_birth {
        let _ = write!(who, "  born {d}");
    }
    text(Font::Regular, 10.0, MARGIN, top - 27.0, &who);
    text(Font::Regular, 8.0, MARGIN, top - 40.0, &format!("Generated {} by {}", header.generated, header.printed_by));
    text(Font::Mono, 7.0, MARGIN, top - 51.0, &format!("chain head {}", header.chain_head));
    text(Font::Bold, 9.0, PAGE_W - MARGIN - 80.0, top - 12.0, &format!("Page {n} of {total}"));
    for (y, Line(font, size, _, t)) in lines {
        text(*font, *size, MARGIN, *y, t);
    }
    text(Font::Regular, 7.0, MARGIN, MARGIN, &format!("{} - {} - page {n} of {total} - printed by {} at {}", header.school, header.pupil, header.printed_by, header.generated));
    let mut out = String::new();
    let _ = write!(out, "0.6 w {MARGIN} {:.1} m {:.1} {:.1} l S\n{s}", top - 56.0, PAGE_W - MARGIN, top - 56.0);
    out
}

/// An entry's stored JSON body as the lines a court bundle prints (`field: value`, one per line),
/// so the console and `haven records print` print the same words.
pub fn body_text(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{}: {s}", k.replace('_', " ")),
                v => format!("{}: {v}", k.replace('_', " ")),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => body.to_owned(),
    }
}

/// The PDF of a pupil's front sheet and chronology, ready to save or send.
pub fn chronology_pdf(header: &PrintHeader, entries: &[PrintEntry]) -> Vec<u8> {
    let pages = paginate(blocks(header, entries));
    let total = pages.len();
    // Objects: 1 catalog, 2 pages, 3-5 fonts, 6 info, then a page and its content per page.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let kids: Vec<String> = (0..total).map(|i| format!("{} 0 R", 7 + 2 * i)).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {total} >>", kids.join(" ")).into_bytes());
    for base in ["Helvetica", "Helvetica-Bold", "Courier"] {
        objects.push(format!("<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>").into_bytes());
    }
    objects.push(
        format!(
            "<< /Title {} /Author {} /Creator (Haven) /Producer (Haven safeguarding records) >>",
            pdf_string(&format!("Safeguarding file: {}", header.pupil)),
            pdf_string(&header.printed_by)
        )
        .into_bytes(),
    );
    for (i, lines) in pages.iter().enumerate() {
        let content = page_content(header, lines, i + 1, total);
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> /Contents {} 0 R >>",
                8 + 2 * i
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = writeln!(table, "{o:010} 00000 n ");
    }
    let _ = write!(table, "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    out.extend_from_slice(table.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn header() -> PrintHeader {
        PrintHeader {
            school: "St John's (C of E) Primary".into(),
            pupil: "Sam Pupil".into(),
            upn: Some("A123456789012".into()),
            date_of_birth: Some("2015-04-01".into()),
            generated: "2026-12-02 04:50 GMT".into(),
            printed_by: "Pat Dsl, Designated safeguarding lead".into(),
            chain_head: "ab".repeat(32),
            front_sheet: vec![("Status".into(), "CP".into()), ("Open records".into(), "2".into())],
        }
    }

    fn entry(i: usize) -> PrintEntry {
        PrintEntry {
            occurred: format!("2025-03-{:02} 09:00", 1 + i % 28),
            kind: "Concern".into(),
            record_id: format!("r{i}"),
            author: "Jo Teacher, Class teacher".into(),
            text: format!("Entry number {i}: Sam said (quietly) they were hungry and had not eaten since yesterday. {}", "More detail follows. ".repeat(i % 7)),
            hash: format!("{i:064x}"),
        }
    }

    #[test]
    fn the_pdf_parses_back_with_every_entry_and_page_numbers() {
        let entries: Vec<PrintEntry> = (0..120).map(entry).collect();
        let pdf = chronology_pdf(&header(), &entries);
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        let pages = doc.get_pages();
        let total = pages.len();
        assert!(total > 3, "120 entries span pages, got {total}");
        let mut all = String::new();
        for n in 1..=total as u32 {
            let text = doc.extract_text(&[n]).unwrap();
            assert!(text.contains(&format!("Page {n} of {total}")), "page {n}: {text}");
            assert!(text.contains("Sam Pupil") && text.contains("St John's (C of E) Primary"), "page {n} names school and pupil");
            assert!(text.contains("Pat Dsl") && text.contains("2026-12-02 04:50 GMT"), "page {n} names who printed it and when");
            assert!(text.contains(&format!("chain head {}", "ab".repeat(32))), "page {n} has the chain head");
            all.push_str(&text);
        }
        for e in &entries {
            assert!(all.contains(&format!("chain hash {}", e.hash)), "entry {} has its hash", e.record_id);
            assert!(all.contains(&format!("Entry number {}:", &e.record_id[1..])), "entry {} has its text", e.record_id);
        }
        assert!(all.contains("Status: CP"));
    }

    #[test]
    fn awkward_text_stays_readable() {
        let e = PrintEntry { text: "Brackets (a) \\ back-slash, caf\u{e9}, \u{201c}quotes\u{201d}, emoji \u{1f600}\n".repeat(3) + &"x".repeat(250), ..entry(1) };
        let pdf = chronology_pdf(&header(), &[e]);
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        let text = doc.extract_text(&[1]).unwrap();
        assert!(text.contains("Brackets (a) \\ back-slash"), "{text}");
        assert!(text.contains("caf\u{e9}"), "{text}");
        assert!(text.contains(&"x".repeat(100)), "a long word is cut, not lost");
        assert_eq!(doc.get_pages().len(), 1);
    }

    #[test]
    fn wrap_keeps_every_word() {
        let t = "one two three four five six seven";
        let lines = wrap(t, 10);
        assert!(lines.iter().all(|l| l.chars().count() <= 10));
        assert_eq!(lines.join(" "), t);
    }
}
