//! Retention: when a child-protection file comes up for review, and whether it may be disposed
//! of. Nothing is deleted automatically: the review date creates a task for the DSL, a legal
//! hold blocks disposal by anyone, and a disposal is itself recorded.

use jiff::civil::Date;

/// Years after the date of birth at which a child-protection file is reviewed (IRMS toolkit).
pub const REVIEW_AFTER_YEARS: i16 = 25;

/// The review date for a pupil's file: date of birth + 25 years.
pub fn review_date(date_of_birth: Date) -> Option<Date> {
    date_of_birth.checked_add(jiff::Span::new().years(REVIEW_AFTER_YEARS)).ok()
}

/// The review date from a stored ISO date of birth (`2015-04-01`), if it reads.
pub fn review_date_from_iso(date_of_birth: &str) -> Option<Date> {
    date_of_birth.trim().parse::<Date>().ok().and_then(review_date)
}

/// Why a disposal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisposalRefused {
    /// A legal hold stands (for example historic child sexual abuse).
    #[error("a legal hold stands on this file ({0}); nothing can be disposed of while it does")]
    LegalHold(String),
    /// The review date has not come.
    #[error("this file is kept until {0}; it cannot be disposed of before its review date")]
    NotDue(Date),
    /// No reason was given.
    #[error("a disposal needs a reason, recorded with it")]
    NoReason,
}

/// Whether a file may be disposed of today, with the reason that will be recorded.
pub fn check_disposal(legal_hold: Option<&str>, review: Option<Date>, today: Date, reason: &str) -> Result<(), DisposalRefused> {
    if let Some(hold) = legal_hold {
        return Err(DisposalRefused::LegalHold(hold.to_owned()));
    }
    if let Some(r) = review.filter(|r| today < *r) {
        return Err(DisposalRefused::NotDue(r));
    }
    if reason.trim().is_empty() {
        return Err(DisposalRefused::NoReason);
    }
    Ok(())
}
