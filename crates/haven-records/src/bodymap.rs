//! Body maps: marks placed on front, back and side outlines. Positions are stored in thousandths
//! of the outline's width and height, so a mark lands in the same place whatever size the
//! outline was drawn at (a phone or a printed page).

/// Which outline a mark is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyView {
    /// Front.
    Front,
    /// Back.
    Back,
    /// Left side.
    Left,
    /// Right side.
    Right,
}

impl BodyView {
    /// Every outline, in the order the form shows them.
    pub const ALL: [BodyView; 4] = [BodyView::Front, BodyView::Back, BodyView::Left, BodyView::Right];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyView::Front => "front",
            BodyView::Back => "back",
            BodyView::Left => "left",
            BodyView::Right => "right",
        }
    }

    /// The words a school reads.
    pub fn label(self) -> &'static str {
        match self {
            BodyView::Front => "Front",
            BodyView::Back => "Back",
            BodyView::Left => "Left side",
            BodyView::Right => "Right side",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<BodyView> {
        BodyView::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The outline's drawing size in CSS pixels (the form shows it at exactly this size).
pub const OUTLINE_WIDTH: u32 = 120;
/// See [`OUTLINE_WIDTH`].
pub const OUTLINE_HEIGHT: u32 = 260;

/// One mark on a body map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The outline.
    pub view: BodyView,
    /// Across, in thousandths of the width (0 = left edge).
    pub x: u16,
    /// Down, in thousandths of the height (0 = top).
    pub y: u16,
    /// Size in millimetres, if measured.
    pub size_mm: Option<u16>,
    /// What it looks like (colour, shape), in the observer's words.
    pub description: String,
}

/// A mark that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("body map mark {field}: {message}")]
pub struct MarkError {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Mark {
    /// A mark from a click at pixel `(px, py)` on an outline drawn at [`OUTLINE_WIDTH`] x
    /// [`OUTLINE_HEIGHT`]; clicks outside are clamped to the edge.
    pub fn from_click(view: BodyView, px: u32, py: u32) -> Mark {
        let scale = |p: u32, size: u32| u16::try_from((u64::from(p.min(size)) * 1000 / u64::from(size)).min(1000)).unwrap_or(1000);
        Mark { view, x: scale(px, OUTLINE_WIDTH), y: scale(py, OUTLINE_HEIGHT), size_mm: None, description: String::new() }
    }

    /// The compact form carried in hidden form fields: `view:x:y`.
    pub fn position_key(&self) -> String {
        format!("{}:{}:{}", self.view.as_str(), self.x, self.y)
    }

    /// Read a `view:x:y` position key.
    pub fn parse_position(key: &str) -> Result<Mark, MarkError> {
        let mut parts = key.split(':');
        let view = parts.next().and_then(BodyView::parse).ok_or_else(|| MarkError { field: "view", message: format!("{key:?} does not name front, back, left or right") })?;
        let num = |p: Option<&str>, field: &'static str| {
            p.and_then(|v| v.parse::<u16>().ok()).filter(|v| *v <= 1000).ok_or_else(|| MarkError { field, message: format!("{key:?} needs a position 0-1000") })
        };
        let x = num(parts.next(), "x")?;
        let y = num(parts.next(), "y")?;
        Ok(Mark { view, x, y, size_mm: None, description: String::new() })
    }
}

/// The outline of one view as SVG, with `marks` drawn on it as numbered red circles (numbered
/// by their position in `marks`, counting every view).
pub fn outline_svg(view: BodyView, marks: &[Mark]) -> String {
    let (w, h) = (OUTLINE_WIDTH, OUTLINE_HEIGHT);
    let body = match view {
        BodyView::Front | BodyView::Back => {
            "<circle cx='60' cy='24' r='16'/><path d='M44 44h32l18 8 12 70-10 2-12-56v64l6 118h-16l-12-100-12 100h-16l6-118v-64l-12 56-10-2 12-70z'/>"
        }
        BodyView::Left | BodyView::Right => "<circle cx='60' cy='24' r='16'/><path d='M50 42h18l8 30-4 60 4 116h-16l-6-100-4 100h-12l2-116-6-60z'/>",
    };
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}'><rect width='{w}' height='{h}' fill='white'/>\
         <g fill='none' stroke='black' stroke-width='2'>{body}</g><text x='4' y='{}' font-size='10'>{}</text>",
        h - 4,
        view.label()
    );
    for (i, m) in marks.iter().enumerate().filter(|(_, m)| m.view == view) {
        let cx = u32::from(m.x) * w / 1000;
        let cy = u32::from(m.y) * h / 1000;
        svg.push_str(&format!(
            "<circle cx='{cx}' cy='{cy}' r='6' fill='red' fill-opacity='0.6'/><text x='{}' y='{}' font-size='10' fill='darkred'>{}</text>",
            cx + 7,
            cy + 4,
            i + 1
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The outline as a `data:` URL, for an `<img>` or an `<input type="image">` without JavaScript.
pub fn outline_data_url(view: BodyView, marks: &[Mark]) -> String {
    let svg = outline_svg(view, marks);
    let mut out = String::from("data:image/svg+xml,");
    for b in svg.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b' ' | b'=' | b'/' | b':' | b',' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
