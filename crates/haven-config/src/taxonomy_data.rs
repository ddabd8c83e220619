//! The built-in category taxonomy (`data/categories.toml`) and each category's audience defaults.

use indexmap::IndexMap;

use haven_policy::{Category, CategoryKind, FourCs, PolicyError, Severity, Taxonomy};

use crate::raw::RawCategory;

/// The built-in taxonomy file.
pub const CATEGORIES: &str = include_str!("../data/categories.toml");

/// Which column of the defaults a group starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Pupil and unknown groups.
    Pupil,
    /// Staff groups.
    Staff,
    /// Guest groups.
    Guest,
}

/// A category's default action per audience: `allow`, `block` or `free_time`.
#[derive(Debug, Clone)]
pub struct AudienceDefault {
    pupil: String,
    staff: String,
    guest: String,
}

impl AudienceDefault {
    /// The default for one audience.
    pub fn for_audience(&self, a: Audience) -> &str {
        match a {
            Audience::Pupil => &self.pupil,
            Audience::Staff => &self.staff,
            Audience::Guest => &self.guest,
        }
    }
}

/// Haven's taxonomy plus a school's extra categories, with audience defaults.
pub fn builtin_taxonomy(extra: &IndexMap<String, RawCategory>) -> Result<(Taxonomy, Vec<AudienceDefault>), Vec<PolicyError>> {
    let builtin: toml::Table = toml::from_str(CATEGORIES).map_err(|e| vec![perr("(built-in categories)", e.to_string())])?;
    let mut errors = Vec::new();
    let mut cats = Vec::new();
    let mut defaults = Vec::new();
    for (id, v) in builtin {
        match v.try_into::<RawCategory>() {
            Ok(raw) => push(&id, &raw, "(built-in categories)", &mut cats, &mut defaults, &mut errors),
            Err(e) => errors.push(perr(format!("(built-in categories).{id}"), e.to_string())),
        }
    }
    for (id, raw) in extra {
        if raw.kind == "illegal" {
            errors.push(PolicyError {
                field: format!("categories.{id}.kind"),
                message: "only Haven's own illegal-content categories exist; a school cannot add or redefine one".into(),
                floor_override: true,
            });
            continue;
        }
        push(id, raw, "categories", &mut cats, &mut defaults, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let taxonomy = Taxonomy::new(cats).map_err(|e| vec![perr("categories", e.to_string())])?;
    Ok((taxonomy, defaults))
}

fn push(
    id: &str,
    raw: &RawCategory,
    prefix: &str,
    cats: &mut Vec<Category>,
    defaults: &mut Vec<AudienceDefault>,
    errors: &mut Vec<PolicyError>,
) {
    let field = format!("{prefix}.{id}");
    let Some(kind) = CategoryKind::parse(&raw.kind) else {
        errors.push(perr(format!("{field}.kind"), format!("`{}` must be harm, bypass, security, policy or allow", raw.kind)));
        return;
    };
    let mut four_cs = FourCs::default();
    for c in &raw.four_cs {
        if !four_cs.set(c) {
            errors.push(perr(format!("{field}.four_cs"), format!("`{c}` must be content, contact, conduct or commerce")));
        }
    }
    let severity = match raw.severity.as_deref().map(Severity::parse) {
        None => Severity::Digest,
        Some(Some(s)) => s,
        Some(None) => {
            errors.push(perr(format!("{field}.severity"), "must be none, digest, low, medium, high or critical"));
            Severity::Digest
        }
    };
    let mut aud = |key: &str, v: &Option<String>| -> String {
        let v = v.clone().unwrap_or_else(|| "block".into());
        if !matches!(v.as_str(), "allow" | "block" | "free_time") {
            errors.push(perr(format!("{field}.{key}"), format!("`{v}` must be allow, block or free_time")));
        }
        v
    };
    let d = AudienceDefault { pupil: aud("pupil", &raw.pupil), staff: aud("staff", &raw.staff), guest: aud("guest", &raw.guest) };
    cats.push(Category {
        id: id.into(),
        title: raw.title.as_str().into(),
        kind,
        four_cs,
        severity,
        description: raw.description.clone().unwrap_or_default().into(),
    });
    defaults.push(d);
}

fn perr(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError { field: field.into(), message: message.into(), floor_override: false }
}
