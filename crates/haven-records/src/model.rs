//! The words of a safeguarding record: record types, sensitivity, entry kinds, the role of a
//! linked pupil, where a concern came from, its status and risk level. Each has a stored name
//! (`as_str`, `parse`) and the words a school reads (`label`).

/// Declare a closed vocabulary: variants with a stored name and a label, `ALL`, `parse`.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $stored:literal, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in the order forms list them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $stored,)+ }
            }

            /// The words a school reads.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            /// Parse a stored name.
            pub fn parse(s: &str) -> Option<$name> {
                match s.trim() { $($stored => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What kind of record this is; decides who sees it by default.
    RecordType {
        /// Any worry about a child's welfare or safety (DSL team).
        SafeguardingConcern = "safeguarding_concern", "Safeguarding concern";
        /// A concern raised from a filter or monitoring event (DSL team).
        OnlineSafetyEvent = "online_safety_event", "Online safety event";
        /// Behaviour that is not (yet) a safeguarding matter (pastoral staff).
        BehaviourIncident = "behaviour_incident", "Behaviour incident";
        /// Contact or information that belongs in the chronology (DSL team).
        GeneralNote = "general_note", "General note";
        /// An allegation or low-level concern about an adult (LADO): named users only, never the subject.
        StaffAllegation = "staff_allegation", "Allegation about a member of staff";
        /// A worry sent by a pupil from the "tell someone" page (DSL team).
        PupilWorry = "pupil_worry", "Worry sent by a pupil";
    }
}

vocabulary! {
    /// How far a record travels inside the DSL team.
    Sensitivity {
        /// The record type's usual audience.
        Normal = "normal", "Normal";
        /// The DSL team only, whatever the record type.
        DslOnly = "dsl_only", "DSL team only";
        /// Named users only.
        Restricted = "restricted", "Restricted (named people only)";
    }
}

vocabulary! {
    /// What one entry of a record's chain says.
    EntryKind {
        /// The staff section: the concern as first written.
        Concern = "concern", "Concern";
        /// The DSL received it and set risk level and owner.
        Triage = "triage", "Triage";
        /// An action with owner and due date.
        Action = "action", "Action";
        /// An action done, with its outcome.
        ActionDone = "action_done", "Action completed";
        /// A referral to an agency.
        Referral = "referral", "Referral";
        /// Whether parents were told, or why not.
        ParentsInformed = "parents_informed", "Parents or carers";
        /// A decision with its reason.
        Decision = "decision", "Decision";
        /// A note added to the record.
        Note = "note", "Note";
        /// A correction of an earlier entry, with a reason; the original stays.
        Amendment = "amendment", "Amendment";
        /// Closure with an outcome code and a reason.
        Closure = "closure", "Closure";
        /// The DSL acknowledged the concern.
        Acknowledged = "acknowledged", "Acknowledged";
        /// A file received from another school was imported.
        Received = "received", "Received from another school";
        /// Retention: a review, a legal hold, or a recorded disposal.
        Retention = "retention", "Retention";
    }
}

vocabulary! {
    /// The part a linked pupil plays in a record; each pupil carries their own.
    LinkRole {
        /// The pupil the record is about.
        Subject = "subject", "The pupil this is about";
        /// A victim.
        Victim = "victim", "Victim";
        /// An alleged perpetrator.
        AllegedPerpetrator = "alleged_perpetrator", "Alleged perpetrator";
        /// A witness.
        Witness = "witness", "Witness";
        /// Involved in another way.
        Other = "other", "Other";
    }
}

vocabulary! {
    /// Where a concern came from.
    Source {
        /// The member of staff saw or heard it.
        StaffObservation = "staff_observation", "Staff observation";
        /// The child told someone.
        Disclosure = "disclosure", "Disclosure by the child";
        /// A parent or carer.
        Parent = "parent", "Parent or carer";
        /// Another pupil.
        AnotherPupil = "another_pupil", "Another pupil";
        /// An external agency.
        ExternalAgency = "external_agency", "External agency";
        /// The pupil "tell someone you're worried" page.
        PupilReport = "pupil_report", "Pupil report (worry page)";
        /// A monitoring alert.
        MonitoringAlert = "monitoring_alert", "Monitoring alert";
        /// A filtering event in the activity log.
        FilteringEvent = "filtering_event", "Filtering event";
    }
}

vocabulary! {
    /// Where a record stands.
    RecordStatus {
        /// New or being worked on.
        Open = "open", "Open";
        /// Being watched.
        Monitoring = "monitoring", "Monitoring";
        /// Referred to an agency.
        Referred = "referred", "Referred";
        /// Waiting for an agency's outcome.
        AwaitingOutcome = "awaiting_outcome", "Awaiting outcome";
        /// Decided: no further action.
        NoFurtherAction = "no_further_action", "No further action";
        /// Closed with an outcome.
        Closed = "closed", "Closed";
    }
}

vocabulary! {
    /// The DSL's view of the risk, set at triage.
    RiskLevel {
        /// Low.
        Low = "low", "Low";
        /// Medium.
        Medium = "medium", "Medium";
        /// High.
        High = "high", "High";
        /// Critical: act now.
        Critical = "critical", "Critical";
    }
}

vocabulary! {
    /// Agencies a referral goes to.
    Agency {
        /// MASH / children's social care.
        Mash = "mash", "MASH / children's social care";
        /// Early Help.
        EarlyHelp = "early_help", "Early Help";
        /// Police.
        Police = "police", "Police";
        /// CEOP (online child sexual exploitation).
        Ceop = "ceop", "CEOP";
        /// The Local Authority Designated Officer (allegations about staff).
        Lado = "lado", "LADO";
        /// CAMHS or another health service.
        Health = "health", "CAMHS / health";
        /// Prevent / Channel.
        Prevent = "prevent", "Prevent / Channel";
        /// Another local authority.
        OtherLa = "other_la", "Another local authority";
    }
}

vocabulary! {
    /// How a record was closed.
    Outcome {
        /// Nothing more needed.
        NoFurtherAction = "nfa", "No further action";
        /// Support in school.
        SupportInSchool = "support_in_school", "Support in school";
        /// Early Help plan.
        EarlyHelp = "early_help", "Early Help";
        /// Child in need.
        ChildInNeed = "cin", "Child in need (section 17)";
        /// Child protection.
        ChildProtection = "cp", "Child protection (section 47)";
        /// Passed to the police.
        Police = "police", "Police";
        /// Passed to the LADO.
        Lado = "lado", "LADO";
        /// Merged into another record.
        Merged = "merged", "Merged into another record";
    }
}

/// A new record id: 32 hex digits from the system's random source, prefixed by the school's URN
/// when it has one, so an id stays unique after a transfer.
pub fn new_record_id(urn: &str, random: [u8; 16]) -> String {
    let hex = haven_accounts::random::hex(&random);
    let id = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
    if urn.is_empty() { id } else { format!("{urn}:{id}") }
}
