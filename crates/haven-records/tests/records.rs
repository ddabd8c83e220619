//! The records core: the access matrix over every record type x sensitivity x role x standing
//! x action; the hash chain and its breaks; body-map clicks; retention dates and legal hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access {
    //! Every cell of the access table, asserted against the rules as the reference states them.

    use haven_accounts::{Role, RoleSet};
    use haven_records::{Action, RecordType, Sensitivity, Viewer, allows};

    /// The reference's rules (§6), written out independently of the table.
    fn expected(t: RecordType, s: Sensitivity, role: Role, author: bool, named: bool, subject: bool, pastoral: bool, a: Action) -> bool {
        if subject && t == RecordType::StaffAllegation {
            return false; // never visible to the subject, whoever they are
        }
        if named {
            return true; // restricted records: the named people do everything
        }
        let dsl = matches!(role, Role::Dsl | Role::DeputyDsl);
        let not_restricted = s != Sensitivity::Restricted;
        if dsl && not_restricted && t != RecordType::StaffAllegation {
            return true;
        }
        if role == Role::Headteacher && not_restricted && t == RecordType::StaffAllegation {
            return true;
        }
        if role == Role::Staff && pastoral && t == RecordType::BehaviourIncident && s == Sensitivity::Normal && matches!(a, Action::View | Action::Search | Action::Print) {
            return true;
        }
        author && matches!(a, Action::View | Action::Amend)
    }

    #[test]
    fn every_cell() {
        let mut cells = 0;
        for &t in RecordType::ALL {
            for &s in Sensitivity::ALL {
                for role in Role::ALL {
                    for flags in 0..16u8 {
                        let (author, named, subject, pastoral) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0, flags & 8 != 0);
                        let v = Viewer { roles: RoleSet::of(&[role]), is_author: author, is_named: named, is_subject: subject, in_pastoral_scope: pastoral };
                        for a in Action::ALL {
                            assert_eq!(
                                allows(t, s, &v, a),
                                expected(t, s, role, author, named, subject, pastoral, a),
                                "{t} {s} {role} author={author} named={named} subject={subject} pastoral={pastoral} {a:?}"
                            );
                            cells += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cells, 6 * 3 * 7 * 16 * 5);
    }

    fn v(roles: &[Role]) -> Viewer {
        Viewer { roles: RoleSet::of(roles), ..Default::default() }
    }

    #[test]
    fn pinned_cases() {
        use Action::*;
        let concern = RecordType::SafeguardingConcern;
        // The DSL team sees concerns, not restricted ones, not staff allegations.
        assert!(allows(concern, Sensitivity::DslOnly, &v(&[Role::Dsl]), Search));
        assert!(!allows(concern, Sensitivity::Restricted, &v(&[Role::DeputyDsl]), View));
        assert!(!allows(RecordType::StaffAllegation, Sensitivity::Normal, &v(&[Role::Dsl]), View));
        // IT runs the system but reads no content; governors see counts only.
        for a in Action::ALL {
            assert!(!allows(concern, Sensitivity::Normal, &v(&[Role::ItAdmin]), a));
            assert!(!allows(concern, Sensitivity::Normal, &v(&[Role::Governor]), a));
            assert!(!allows(concern, Sensitivity::Normal, &v(&[Role::Auditor]), a));
        }
        // A teacher sees what they wrote, cannot search or export it.
        let author = Viewer { is_author: true, ..v(&[Role::Staff]) };
        assert!(allows(concern, Sensitivity::Restricted, &author, View));
        assert!(!allows(concern, Sensitivity::Normal, &author, Search));
        assert!(!allows(concern, Sensitivity::Normal, &author, Export));
        assert!(!allows(concern, Sensitivity::Normal, &v(&[Role::Staff]), View));
        // A headteacher who is the subject of an allegation sees nothing of it, even if named.
        let subject = Viewer { is_subject: true, is_named: true, ..v(&[Role::Headteacher, Role::Dsl]) };
        for a in Action::ALL {
            assert!(!allows(RecordType::StaffAllegation, Sensitivity::Restricted, &subject, a));
        }
        assert!(allows(RecordType::StaffAllegation, Sensitivity::DslOnly, &v(&[Role::Headteacher]), View));
        assert!(haven_records::access::may_search_records(RoleSet::of(&[Role::DeputyDsl])));
        assert!(!haven_records::access::may_search_records(RoleSet::of(&[Role::Staff, Role::ItAdmin])));
    }
}

mod chain {
    //! Hashes, links and gaps.

    use haven_records::chain::{ChainVerifier, canonical_bytes};
    use haven_records::{ChainBreak, EntryHashInput, GENESIS_HASH, entry_hash};

    fn input<'a>(seq: i64, body: &'a str, prev: &'a str) -> EntryHashInput<'a> {
        EntryHashInput {
            seq,
            record_id: "URN1:r",
            kind: "concern",
            record_type: "safeguarding_concern",
            sensitivity: "normal",
            author_id: Some(3),
            author: "Jo",
            occurred_ms: 1,
            created_ms: 2,
            body,
            prev_hash: prev,
        }
    }

    #[test]
    fn canonical_bytes_are_length_prefixed() {
        // "ab" + "c" and "a" + "bc" must not hash alike.
        let mut a = input(1, "x", GENESIS_HASH);
        a.author = "ab";
        a.kind = "c";
        let mut b = a;
        b.author = "a";
        b.kind = "bc";
        assert_ne!(entry_hash(&a), entry_hash(&b));
        assert!(canonical_bytes(&a).starts_with(b"haven-record-entry-v1"));
        assert_eq!(entry_hash(&a).len(), 64);
    }

    #[test]
    fn verifier_names_content_link_and_gap_breaks() {
        let h1 = entry_hash(&input(1, "one", GENESIS_HASH));
        let h2 = entry_hash(&input(2, "two", &h1));
        let mut v = ChainVerifier::new();
        v.check(&input(1, "one", GENESIS_HASH), &h1).unwrap();
        v.check(&input(2, "two", &h1), &h2).unwrap();
        assert_eq!((v.checked(), v.head()), (2, h2.as_str()));

        let mut v = ChainVerifier::new();
        assert!(matches!(v.check(&input(1, "onf", GENESIS_HASH), &h1), Err(ChainBreak::Content { seq: 1, .. })));
        let mut v = ChainVerifier::new();
        v.check(&input(1, "one", GENESIS_HASH), &h1).unwrap();
        assert!(matches!(v.check(&input(2, "two", GENESIS_HASH), &h2), Err(ChainBreak::Link { seq: 2, previous: 1, .. })));
        assert!(matches!(v.check(&input(3, "two", &h1), &h2), Err(ChainBreak::Gap { expected: 2, found: 3 })));
    }
}

mod bodymap {
    //! Clicks become positions independent of drawing size.

    use haven_records::bodymap::{BodyView, Mark, OUTLINE_HEIGHT, OUTLINE_WIDTH, outline_data_url};

    #[test]
    fn clicks_scale_and_clamp() {
        let m = Mark::from_click(BodyView::Back, OUTLINE_WIDTH / 2, OUTLINE_HEIGHT / 4);
        assert_eq!((m.x, m.y), (500, 250));
        let edge = Mark::from_click(BodyView::Front, 10_000, 10_000);
        assert_eq!((edge.x, edge.y), (1000, 1000));
        assert_eq!(Mark::parse_position(&m.position_key()).unwrap(), m);
        assert_eq!(Mark::parse_position("top:1:2").unwrap_err().field, "view");
        assert_eq!(Mark::parse_position("front:1:2000").unwrap_err().field, "y");
        let url = outline_data_url(BodyView::Back, &[m]);
        assert!(url.starts_with("data:image/svg+xml,") && url.contains("fill=%27red%27"));
        assert!(!outline_data_url(BodyView::Front, &[Mark::from_click(BodyView::Back, 1, 1)]).contains("red"));
    }
}

mod retention {
    //! Review at DOB + 25 years; a legal hold blocks disposal.

    use haven_records::retention::{DisposalRefused, check_disposal, review_date_from_iso};
    use jiff::civil::date;

    #[test]
    fn review_and_hold() {
        let review = review_date_from_iso("2015-04-01").unwrap();
        assert_eq!(review, date(2040, 4, 1));
        assert_eq!(check_disposal(None, Some(review), date(2039, 1, 1), "x"), Err(DisposalRefused::NotDue(review)));
        assert!(matches!(check_disposal(Some("IICSA"), Some(review), date(2041, 1, 1), "x"), Err(DisposalRefused::LegalHold(_))));
        assert_eq!(check_disposal(None, Some(review), date(2041, 1, 1), " "), Err(DisposalRefused::NoReason));
        assert_eq!(check_disposal(None, Some(review), date(2041, 1, 1), "review done"), Ok(()));
        assert_eq!(review_date_from_iso("not a date"), None);
    }
}

mod categories {
    //! KCSIE defaults, statutory banners, a school's own.

    use haven_records::{Categories, Category};

    #[test]
    fn defaults_and_overrides() {
        let c = Categories::default();
        assert!(c.get("fgm").unwrap().statutory_banner.as_deref().unwrap().contains("police"));
        assert!(c.get("neglect").unwrap().statutory_banner.is_none());
        let own = Category { key: "neglect".into(), label: "Neglect (our words)".into(), guidance: String::new(), statutory_banner: None };
        let extra = Category { key: "attendance".into(), label: "Attendance".into(), guidance: String::new(), statutory_banner: None };
        let c = c.with(vec![own, extra]);
        assert_eq!(c.label("neglect"), "Neglect (our words)");
        assert_eq!(c.all().last().unwrap().key, "attendance");
        assert_eq!(c.label("gone"), "gone");
    }
}
