//! The access table: for one record, whether a viewer may view, search, export, amend or print
//! it. This is the only place that decides; the console asks it for every record it shows, and
//! the tests walk every record type x sensitivity x standing x action.
//!
//! Rules, in the school's words (reference §6):
//! - the subject of a staff allegation sees nothing of it, whatever else they are;
//! - a restricted record is for the people named on it;
//! - the DSL team sees everything except restricted records and staff allegations;
//! - the headteacher sees staff allegations about others;
//! - pastoral staff see normal behaviour records for their year or tutor groups;
//! - whoever wrote a record keeps seeing it and may add to it, but cannot search or export;
//! - IT administrators, governors, auditors and other staff see no record content.

use haven_accounts::{Role, RoleSet};

use crate::model::{RecordType, Sensitivity};

/// Something done with a record; each is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Open it.
    View,
    /// Find it by searching.
    Search,
    /// Put it in an export or transfer package.
    Export,
    /// Add an amendment, action, note or decision to it.
    Amend,
    /// Print it (the chronology PDF).
    Print,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [Action::View, Action::Search, Action::Export, Action::Amend, Action::Print];

    /// The stored name, as written in the access audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Search => "search",
            Action::Export => "export",
            Action::Amend => "amend",
            Action::Print => "print",
        }
    }
}

/// Who is asking, as far as one record is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Viewer {
    /// The viewer's console roles.
    pub roles: RoleSet,
    /// They wrote the record.
    pub is_author: bool,
    /// They are named on it (restricted records and staff allegations).
    pub is_named: bool,
    /// The record is an allegation about them.
    pub is_subject: bool,
    /// The record's pupil is in their year or tutor group (pastoral staff).
    pub in_pastoral_scope: bool,
}

/// One standing a viewer can hold towards a record; a viewer may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Named on the record.
    Named,
    /// DSL or deputy DSL.
    DslTeam,
    /// Headteacher or named senior leader.
    Headteacher,
    /// Pastoral staff for the pupil's year or tutor group.
    Pastoral,
    /// Wrote the record.
    Author,
}

const ALL_ACTIONS: &[Action] = &Action::ALL;
const OWN: &[Action] = &[Action::View, Action::Amend];
const PASTORAL: &[Action] = &[Action::View, Action::Search, Action::Print];

/// Which record types a row covers.
#[derive(Debug, Clone, Copy)]
enum Types {
    Any,
    Except(RecordType),
    Only(RecordType),
}

/// Which sensitivities a row covers.
#[derive(Debug, Clone, Copy)]
enum Levels {
    Any,
    NotRestricted,
    NormalOnly,
}

/// The table: standing x record types x sensitivities -> actions.
const TABLE: &[(Standing, Types, Levels, &[Action])] = &[
    (Standing::Named, Types::Any, Levels::Any, ALL_ACTIONS),
    (Standing::DslTeam, Types::Except(RecordType::StaffAllegation), Levels::NotRestricted, ALL_ACTIONS),
    (Standing::Headteacher, Types::Only(RecordType::StaffAllegation), Levels::NotRestricted, ALL_ACTIONS),
    (Standing::Pastoral, Types::Only(RecordType::BehaviourIncident), Levels::NormalOnly, PASTORAL),
    (Standing::Author, Types::Any, Levels::Any, OWN),
];

impl Types {
    fn covers(self, t: RecordType) -> bool {
        match self {
            Types::Any => true,
            Types::Except(x) => t != x,
            Types::Only(x) => t == x,
        }
    }
}

impl Levels {
    fn covers(self, s: Sensitivity) -> bool {
        match self {
            Levels::Any => true,
            Levels::NotRestricted => s != Sensitivity::Restricted,
            Levels::NormalOnly => s == Sensitivity::Normal,
        }
    }
}

impl Viewer {
    /// The standings this viewer holds.
    pub fn standings(&self) -> Vec<Standing> {
        let mut s = Vec::new();
        if self.is_named {
            s.push(Standing::Named);
        }
        if self.roles.contains(Role::Dsl) || self.roles.contains(Role::DeputyDsl) {
            s.push(Standing::DslTeam);
        }
        if self.roles.contains(Role::Headteacher) {
            s.push(Standing::Headteacher);
        }
        if self.in_pastoral_scope && self.roles.contains(Role::Staff) {
            s.push(Standing::Pastoral);
        }
        if self.is_author {
            s.push(Standing::Author);
        }
        s
    }
}

/// Whether `viewer` may do `action` with a record of `record_type` at `sensitivity`.
pub fn allows(record_type: RecordType, sensitivity: Sensitivity, viewer: &Viewer, action: Action) -> bool {
    if viewer.is_subject && record_type == RecordType::StaffAllegation {
        return false;
    }
    let standings = viewer.standings();
    TABLE.iter().any(|(standing, types, levels, actions)| {
        standings.contains(standing) && types.covers(record_type) && levels.covers(sensitivity) && actions.contains(&action)
    })
}

/// Whether the viewer's roles let them search records at all (the search page itself): only
/// the DSL team and the headteacher; each hit is still checked with [`allows`].
pub fn may_search_records(roles: RoleSet) -> bool {
    [Role::Dsl, Role::DeputyDsl, Role::Headteacher].iter().any(|r| roles.contains(*r))
}
