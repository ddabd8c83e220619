//! Concern categories: the KCSIE defaults as data, each with guidance text for the person
//! recording and, where the law puts a duty on staff, a statutory-duty banner. A school can
//! replace or extend the list ([`Categories::with`]).

/// One category a concern can be filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Stored key (`fgm`).
    pub key: String,
    /// The name staff read.
    pub label: String,
    /// What to think about when recording it.
    pub guidance: String,
    /// A duty the law puts on the person recording, shown as a banner when chosen.
    pub statutory_banner: Option<String>,
}

/// The KCSIE defaults: key, label, guidance, statutory banner.
pub const DEFAULT_CATEGORIES: &[(&str, &str, &str, Option<&str>)] = &[
    ("physical_abuse", "Physical abuse", "Record marks on the body map; do not photograph injuries.", None),
    ("emotional_abuse", "Emotional abuse", "Write what you saw and heard; keep your opinion in its own box.", None),
    ("sexual_abuse", "Sexual abuse", "Do not question the child further. Tell a DSL in person now.", None),
    ("neglect", "Neglect", "Note dates: patterns over time matter (hunger, clothing, hygiene, attendance).", None),
    ("child_on_child", "Child-on-child abuse", "Link every pupil involved, each with their role.", None),
    ("online", "Online safety", "Attach the filter or monitoring evidence; do not copy indecent images.", None),
    ("cse_cce", "Child sexual or criminal exploitation", "Tell a DSL in person now.", None),
    ("county_lines", "County lines", "Tell a DSL in person now.", None),
    ("domestic_abuse", "Domestic abuse", "Note who told you and what they said, in their words.", None),
    (
        "fgm",
        "Female genital mutilation (FGM)",
        "Do not examine the child.",
        Some(
            "Mandatory reporting duty: if a girl under 18 tells you she has had FGM, or you see signs \
             that it has been carried out, you must report it to the police yourself (call 101) by the \
             end of the next working day, as well as telling a DSL (Serious Crime Act 2015, section 74).",
        ),
    ),
    ("honour_based_abuse", "Honour-based abuse", "Do not contact the family. Tell a DSL in person now.", None),
    ("forced_marriage", "Forced marriage", "Do not contact the family. Tell a DSL in person now.", None),
    (
        "radicalisation",
        "Radicalisation (Prevent)",
        "Record the words used exactly.",
        Some("Prevent duty: schools must have due regard to preventing people being drawn into terrorism; the DSL decides on a Channel referral."),
    ),
    ("mental_health", "Mental health and self-harm", "If there is immediate danger, call 999 first.", None),
    ("missing_education", "Missing from education", "Note the dates absent and who was contacted.", None),
    ("private_fostering", "Private fostering", "The school must tell the local authority about a private fostering arrangement.", None),
    ("staff_conduct", "Concern about an adult", "This becomes a staff allegation: only the headteacher and named people will see it.", None),
    ("other", "Other", "Say in the account why you are worried.", None),
];

/// The categories a school uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Categories(Vec<Category>);

impl Default for Categories {
    fn default() -> Self {
        Categories(
            DEFAULT_CATEGORIES
                .iter()
                .map(|(k, l, g, b)| Category { key: (*k).into(), label: (*l).into(), guidance: (*g).into(), statutory_banner: b.map(str::to_owned) })
                .collect(),
        )
    }
}

impl Categories {
    /// The defaults plus (or replaced by, for the same key) the school's own.
    pub fn with(mut self, own: Vec<Category>) -> Categories {
        for c in own {
            match self.0.iter_mut().find(|x| x.key == c.key) {
                Some(x) => *x = c,
                None => self.0.push(c),
            }
        }
        self
    }

    /// Every category, in form order.
    pub fn all(&self) -> &[Category] {
        &self.0
    }

    /// The category with this key.
    pub fn get(&self, key: &str) -> Option<&Category> {
        self.0.iter().find(|c| c.key == key)
    }

    /// A category's label, or the key itself for one no longer configured.
    pub fn label<'a>(&'a self, key: &'a str) -> &'a str {
        self.get(key).map_or(key, |c| c.label.as_str())
    }
}
