//! One query from bytes to answer: parse, identify, decide, answer (floor, special name, block,
//! safe-search rewrite, cache or upstream), re-check the answer against the illegal floor,
//! encode within the client's size, and hand exactly one event to the sink.
//!
//! This is socket-free, so the fuzz target and the property tests drive it directly.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use haven_activity::{Channel, Event, EventSink, Flags};
use haven_policy::special_names::{self, RewriteTarget, SpecialAnswer};
use haven_policy::{Action, BlockAnswer, CategoryKind, DecidedBy, Decision, Group, Identity, PolicyHandle, Snapshot, What};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use jiff::Timestamp;
use tokio::time::Instant;

use crate::cache::{Cache, Entry, Key};
use crate::config::DnsConfig;
use crate::error::DnsError;
use haven_identity::Identify;
use crate::metrics::{DnsMetrics, Outcome};
use crate::upstream::{Forwarder, UpstreamError};
use crate::wire::{self, Head, OwnedQuery, Sections};

/// Largest UDP answer Haven sends, whatever a client advertises (DNS flag day 2020).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// UDP answer size for clients that send no EDNS (RFC 1035).
pub const MIN_UDP_PAYLOAD: u16 = 512;

/// How a query arrived, which decides whether an answer must fit a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram: answers beyond the client's payload size are truncated (TC).
    Udp,
    /// A TCP stream: answers up to 65,535 bytes.
    Tcp,
}

/// The answer to one question before encoding.
struct Reply {
    rcode: ResponseCode,
    answers: Vec<Record>,
    authorities: Vec<Record>,
}

impl Reply {
    fn rcode(rcode: ResponseCode) -> Reply {
        Reply { rcode, answers: Vec::new(), authorities: Vec::new() }
    }
}

/// The event being filled in while the query is answered; owned, so it outlives the snapshot.
struct Draft {
    device: Option<String>,
    user: Option<String>,
    group: String,
    name: String,
    qtype: String,
    action: Action,
    category: Option<String>,
    rule: String,
    list_source: Option<String>,
    list_entry: Option<String>,
    flags: Flags,
    upstream: Option<String>,
    outcome: Outcome,
}

/// What the policy says to do with one question, before any answer is built; shared by the
/// wire path and the hickory path so both decide in exactly the same order.
enum Plan {
    /// The group's block answer (the floor or the policy blocked it).
    Block,
    /// NXDOMAIN or NODATA for a name that protects the filter.
    Negative(ResponseCode),
    /// REFUSED: a class or type Haven does not serve.
    Refused,
    /// SERVFAIL: a rewrite target the policy cannot read.
    Servfail,
    /// A safe-search address (answered for A queries only).
    RewriteA(std::net::Ipv4Addr),
    /// A safe-search CNAME whose target the policy allows.
    RewriteCname(Box<haven_policy::Name>),
    /// The block-page address, whatever the group's block answer: an unknown device's OS
    /// connectivity check, sent to the captive portal.
    Portal,
    /// Cache, else upstream.
    Forward,
}

/// What the receive loop does with a datagram after [`RequestHandler::handle_inline`].
pub(crate) enum Inline {
    /// Answered on the spot (block, special name, cache hit): send these bytes.
    Answer(Vec<u8>),
    /// A cache miss: finish it on a task with [`RequestHandler::finish`].
    Forward(Box<Forwarding>),
    /// Not the common shape (or a safe-search rewrite): hand it to the hickory path.
    Slow,
}

/// A cache miss already decided and identified, waiting for an upstream.
pub(crate) struct Forwarding {
    head: OwnedQuery,
    ev: Draft,
    key: Key,
    target: haven_policy::Name,
    qtype: RecordType,
    client: IpAddr,
    started: Instant,
    limit: usize,
    snap: Arc<Snapshot>,
}

/// Pre-encoded sections for the answers Haven makes up itself.
struct Synthetic {
    block_a: Option<Sections>,
    block_aaaa: Option<Sections>,
    nxdomain: Sections,
    nodata: Sections,
}

impl Synthetic {
    fn new(config: &DnsConfig) -> Synthetic {
        let ttl = config.blocked_ttl;
        let a = config.block_page_v4.map(|ip| ip.octets());
        let aaaa = config.block_page_v6.map(|ip| ip.octets());
        let block_a = a.map(|ip| Sections::synthetic(ResponseCode::NoError, &[(u16::from(RecordType::A), ttl, &ip[..])], &[]));
        let block_aaaa = aaaa.map(|ip| Sections::synthetic(ResponseCode::NoError, &[(u16::from(RecordType::AAAA), ttl, &ip[..])], &[]));
        // The SOA of `RequestHandler::negative`, written out without compression.
        let soa = wire::name_bytes(SOA_MNAME).zip(wire::name_bytes(SOA_RNAME)).map(|(m, r)| {
            let ttl_i = u32::try_from(i32::try_from(ttl).unwrap_or(i32::MAX)).unwrap_or(0);
            let mut rdata = [m, r].concat();
            for v in [1, ttl_i, ttl_i, ttl_i, ttl] {
                rdata.extend_from_slice(&v.to_be_bytes());
            }
            rdata
        });
        let negative = |rcode| match &soa {
            Some(rdata) => Sections::synthetic(rcode, &[], &[(u16::from(RecordType::SOA), ttl, rdata.as_slice())]),
            None => Sections::empty(rcode),
        };
        Synthetic { block_a, block_aaaa, nxdomain: negative(ResponseCode::NXDomain), nodata: negative(ResponseCode::NoError) }
    }
}

/// MNAME and RNAME of the synthetic SOA in negative answers.
const SOA_MNAME: &str = "haven.invalid.";
const SOA_RNAME: &str = "hostmaster.haven.invalid.";

/// Answers DNS messages: the whole filtering resolver without its sockets.
pub struct RequestHandler {
    policy: Arc<PolicyHandle>,
    identify: Arc<dyn Identify>,
    sink: Arc<dyn EventSink>,
    forwarder: Forwarder,
    cache: Cache,
    metrics: Arc<DnsMetrics>,
    block_v4: Option<std::net::Ipv4Addr>,
    block_v6: Option<std::net::Ipv6Addr>,
    blocked_ttl: u32,
    rewrite_ttl: u32,
    servfail_after: Duration,
    /// MNAME and RNAME of the synthetic SOA in negative answers, parsed once.
    soa_names: Option<(Name, Name)>,
    /// The same answers for the wire path.
    synthetic: Synthetic,
    /// Send unknown devices' OS connectivity checks to the captive portal.
    captive_portal: bool,
}

impl RequestHandler {
    /// Build a handler; `config.upstreams` may be empty (every forward then fails at once with SERVFAIL).
    pub fn new(
        config: &DnsConfig,
        policy: Arc<PolicyHandle>,
        identify: Arc<dyn Identify>,
        sink: Arc<dyn EventSink>,
    ) -> Result<RequestHandler, DnsError> {
        if config.servfail_after.is_zero() {
            return Err(DnsError::Zero { field: "servfail_after" });
        }
        if config.upstream_timeout.is_zero() {
            return Err(DnsError::Zero { field: "upstream_timeout" });
        }
        let metrics = Arc::new(DnsMetrics::new());
        Ok(RequestHandler {
            policy,
            identify,
            sink,
            forwarder: Forwarder::new(config, Arc::clone(&metrics))?,
            cache: Cache::new(config.cache_entries, config.cache_max_ttl, config.negative_max_ttl),
            metrics,
            block_v4: config.block_page_v4,
            block_v6: config.block_page_v6,
            blocked_ttl: config.blocked_ttl,
            rewrite_ttl: config.rewrite_ttl,
            servfail_after: config.servfail_after,
            soa_names: Name::from_ascii(SOA_MNAME).ok().zip(Name::from_ascii(SOA_RNAME).ok()),
            synthetic: Synthetic::new(config),
            captive_portal: config.captive_portal,
        })
    }

    /// The counters this handler updates.
    pub fn metrics(&self) -> Arc<DnsMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Answer one DNS message from `client`. `None` means drop it: garbage, or a response sent to us.
    /// Never panics, whatever the bytes; every query with a readable question yields exactly one event.
    pub async fn handle_packet(&self, packet: &[u8], client: IpAddr, transport: Transport) -> Option<Vec<u8>> {
        match self.handle_inline(packet, client, transport) {
            Inline::Answer(bytes) => Some(bytes),
            Inline::Forward(f) => Some(self.finish(*f).await),
            Inline::Slow => self.handle_packet_reference(packet, client, transport).await,
        }
    }

    /// The common query without waiting: read on the wire, decided, and answered from the
    /// pre-encoded block answers or the cache. A cache miss comes back as [`Inline::Forward`],
    /// anything unusual as [`Inline::Slow`]; in both cases no event has been recorded yet.
    pub(crate) fn handle_inline(&self, packet: &[u8], client: IpAddr, transport: Transport) -> Inline {
        let started = Instant::now();
        let Some(q) = wire::parse(packet) else { return Inline::Slow };
        let Ok(pname) = haven_policy::Name::from_ascii(q.name_text()) else { return Inline::Slow };
        let client = client.to_canonical();
        let limit = match transport {
            Transport::Udp => usize::from(q.edns.map_or(MIN_UDP_PAYLOAD, |p| p.clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD))),
            Transport::Tcp => usize::from(u16::MAX),
        };
        let qtype = RecordType::from(q.qtype);
        let snap = self.policy.load();
        let who = self.identify.who(client);
        let id = snap.resolve(&who.as_who());
        let group = snap.policy().group(id.group);
        let mut ev = self.draft(&id, group, qtype);
        let plan = self.plan(&snap, &id, group, &pname, qtype, DNSClass::from(q.qclass) == DNSClass::IN, &mut ev);
        let (sections, age) = match plan {
            Plan::Block => (self.block_sections(qtype, group.block_answer), 0),
            Plan::Portal => (self.block_sections(qtype, BlockAnswer::BlockPage), 0),
            Plan::Negative(rcode) => (self.negative_sections(rcode), 0),
            Plan::Refused | Plan::Servfail | Plan::RewriteA(_) | Plan::RewriteCname(_) => return Inline::Slow,
            Plan::Forward => {
                let key = Key::new(pname.as_str(), qtype);
                let Some((entry, age)) = self.cache.get(&key) else {
                    self.metrics.cache_miss();
                    let head = q.to_owned_head();
                    return Inline::Forward(Box::new(Forwarding { head, ev, key, target: pname, qtype, client, started, limit, snap }));
                };
                if !entry.sections.as_ref().is_some_and(|s| s.fits_question(q.question.len())) {
                    return Inline::Slow;
                }
                self.metrics.cache_hit();
                ev.upstream = Some("cache".into());
                ev.flags.insert(Flags::CACHED);
                return Inline::Answer(self.answer_entry(&q, &snap, &id, group, qtype, &entry, age, limit, ev, client, started));
            }
        };
        Inline::Answer(self.respond(&q, sections, age, limit, ev, client, started))
    }

    /// Finish a cache miss from [`RequestHandler::handle_inline`]: ask the upstreams, keep the
    /// answer, re-check it against the floor, answer and record the event.
    pub(crate) async fn finish(&self, f: Forwarding) -> Vec<u8> {
        let Forwarding { head, mut ev, key, target, qtype, client, started, limit, snap } = f;
        let fetched = match Name::from_ascii(format!("{}.", target.as_str())) {
            Ok(name) => self.fetch(&name, key, qtype, started).await,
            Err(_) => Err(UpstreamError::Unreachable),
        };
        match fetched {
            Ok(entry) => {
                ev.upstream = Some(rcode_text(entry.rcode));
                let who = self.identify.who(client);
                let id = snap.resolve(&who.as_who());
                let group = snap.policy().group(id.group);
                self.answer_entry(&head, &snap, &id, group, qtype, &entry, 0, limit, ev, client, started)
            }
            Err(e) => {
                ev.upstream = Some(e.text());
                ev.outcome = Outcome::Servfail;
                self.respond(&head, &Sections::empty(ResponseCode::ServFail), 0, limit, ev, client, started)
            }
        }
    }

    /// An upstream answer (cached or fresh) on the wire path: the floor re-check, then the
    /// entry's sections with TTLs counted down by `age`.
    #[allow(clippy::too_many_arguments)]
    fn answer_entry(
        &self,
        head: &impl Head,
        snap: &Snapshot,
        id: &Identity<'_>,
        group: &Group,
        qtype: RecordType,
        entry: &Entry,
        age: u32,
        limit: usize,
        mut ev: Draft,
        client: IpAddr,
        started: Instant,
    ) -> Vec<u8> {
        if let Some(fd) = floor_recheck(snap, id, &entry.answers) {
            fill(snap, &fd, &mut ev);
            ev.outcome = Outcome::Blocked;
            return self.respond(head, self.block_sections(qtype, group.block_answer), 0, limit, ev, client, started);
        }
        ev.outcome = Outcome::Allowed;
        let servfail = Sections::empty(ResponseCode::ServFail);
        let sections = match &entry.sections {
            Some(s) if s.fits_question(head.parts().3.len()) => s,
            // hickory could not encode the answer; the hickory path answers SERVFAIL then too.
            _ => &servfail,
        };
        self.respond(head, sections, age, limit, ev, client, started)
    }

    /// Assemble a wire answer and record the query's event.
    #[allow(clippy::too_many_arguments)]
    fn respond(&self, head: &impl Head, s: &Sections, age: u32, limit: usize, ev: Draft, client: IpAddr, started: Instant) -> Vec<u8> {
        let (bytes, truncated) = wire::respond(head, s, age, limit);
        if truncated {
            self.metrics.truncated();
        }
        self.record(ev, client, started);
        bytes
    }

    /// The wire path's block answer, as [`RequestHandler::block_reply`] builds it for hickory.
    fn block_sections(&self, qtype: RecordType, how: BlockAnswer) -> &Sections {
        let page = how == BlockAnswer::BlockPage && (self.block_v4.is_some() || self.block_v6.is_some());
        let syn = &self.synthetic;
        match qtype {
            RecordType::A if page => syn.block_a.as_ref().unwrap_or(&syn.nodata),
            RecordType::AAAA if page => syn.block_aaaa.as_ref().unwrap_or(&syn.nodata),
            RecordType::HTTPS | RecordType::SVCB => &syn.nodata,
            _ => &syn.nxdomain,
        }
    }

    /// The wire path's negative answer, as [`RequestHandler::negative`] builds it for hickory.
    fn negative_sections(&self, rcode: ResponseCode) -> &Sections {
        if rcode == ResponseCode::NXDomain { &self.synthetic.nxdomain } else { &self.synthetic.nodata }
    }

    /// Build the event, count the outcome and hand the event to the sink.
    fn record(&self, draft: Draft, client: IpAddr, started: Instant) {
        let latency = started.elapsed();
        self.metrics.outcome(draft.outcome, latency);
        let event = Event {
            time: Timestamp::now(),
            channel: Channel::Dns,
            client,
            device: draft.device,
            user: draft.user,
            group: draft.group,
            name: draft.name,
            qtype: draft.qtype,
            action: draft.action.as_str().into(),
            category: draft.category,
            rule: draft.rule,
            list_source: draft.list_source,
            list_entry: draft.list_entry,
            flags: draft.flags,
            upstream: draft.upstream,
            latency_us: u32::try_from(latency.as_micros()).unwrap_or(u32::MAX),
            web: None,
        };
        if !self.sink.record(event) {
            self.metrics.event_dropped();
        }
    }

    /// Answer one DNS message with hickory alone: the path for every message the wire path
    /// does not read, and the reference the property tests compare the wire path with.
    pub async fn handle_packet_reference(&self, packet: &[u8], client: IpAddr, transport: Transport) -> Option<Vec<u8>> {
        let started = Instant::now();
        let client = client.to_canonical();
        let req = match Message::from_vec(packet) {
            Ok(m) => m,
            Err(_) => return self.formerr_from_header(packet),
        };
        if req.metadata.message_type != MessageType::Query {
            self.metrics.dropped();
            return None;
        }
        if req.metadata.op_code != OpCode::Query {
            return Some(self.error_reply(&req, ResponseCode::NotImp));
        }
        if req.queries.len() != 1 {
            return Some(self.error_reply(&req, ResponseCode::FormErr));
        }
        if req.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return Some(self.error_reply(&req, ResponseCode::BADVERS));
        }
        let limit = match transport {
            Transport::Udp => {
                usize::from(req.edns.as_ref().map_or(MIN_UDP_PAYLOAD, |e| e.max_payload().clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)))
            }
            Transport::Tcp => usize::from(u16::MAX),
        };
        let query = req.queries.first()?.clone();
        let (reply, draft) = self.answer(&query, client, started).await;
        let bytes = self.encode(&req, reply, limit);
        self.record(draft, client, started);
        Some(bytes)
    }

    /// The event as far as identity goes; the decision fills in the rest.
    fn draft(&self, id: &Identity<'_>, group: &Group, qtype: RecordType) -> Draft {
        Draft {
            device: id.device.map(str::to_string),
            user: id.user.map(str::to_string),
            group: group.id.to_string(),
            name: String::new(),
            qtype: qtype_text(qtype),
            action: Action::Block,
            category: None,
            rule: String::new(),
            list_source: None,
            list_entry: None,
            flags: Flags::default(),
            upstream: None,
            outcome: Outcome::Refused,
        }
    }

    /// Decide one readable question: the floor, names that protect the filter, the policy,
    /// class and type, then safe search. Fills in `ev` as it goes.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        snap: &Snapshot,
        id: &Identity<'_>,
        group: &Group,
        pname: &haven_policy::Name,
        qtype: RecordType,
        class_in: bool,
        ev: &mut Draft,
    ) -> Plan {
        ev.name = pname.as_str().to_string();
        let now = Timestamp::now();

        // The policy, illegal floor first inside it. A floor hit wins over everything below.
        let d = snap.decide_for(id, &What::Name(pname.clone()), now);
        fill(snap, &d, ev);
        if matches!(d.decided_by, DecidedBy::IllegalFloor) {
            ev.outcome = Outcome::Blocked;
            return Plan::Block;
        }

        // An unknown device's OS asking whether there is a captive portal: there is.
        if self.captive_portal
            && id.source == haven_policy::IdentitySource::Unknown
            && id.user.is_none()
            && crate::captive::is_probe(pname)
            && (self.block_v4.is_some() || self.block_v6.is_some())
        {
            ev.action = Action::Block;
            ev.category = None;
            ev.list_source = None;
            ev.list_entry = None;
            ev.rule = "portal/captive-probe".into();
            ev.outcome = Outcome::Blocked;
            return Plan::Portal;
        }

        // Names that protect the filter itself. They come before an ordinary block: the canary
        // listed in a DoH category must still get NXDOMAIN, never the block page's address, or
        // Firefox would take the NOERROR as leave to switch DoH on.
        if let Some(sp) = special_names::special_name(pname) {
            ev.action = Action::Block;
            ev.category = None;
            ev.list_source = None;
            ev.list_entry = None;
            ev.rule = format!("special/{}", sp.as_str());
            ev.outcome = Outcome::Blocked;
            if sp.is_bypass() {
                ev.flags.insert(Flags::BYPASS);
                ev.outcome = Outcome::Bypass;
            }
            return Plan::Negative(match sp.answer() {
                SpecialAnswer::Nxdomain => ResponseCode::NXDomain,
                SpecialAnswer::NoData => ResponseCode::NoError,
            });
        }
        if d.is_blocked() {
            ev.outcome = blocked_outcome(ev.flags);
            return Plan::Block;
        }
        if !class_in || matches!(qtype, RecordType::AXFR | RecordType::IXFR | RecordType::OPT) {
            ev.action = Action::Block;
            ev.rule = "dns/refused-type".into();
            ev.outcome = Outcome::Refused;
            return Plan::Refused;
        }

        // Safe search, locked on per group.
        let Some(rw) = special_names::safe_search_rewrite(pname, group.safe_search) else { return Plan::Forward };
        ev.flags.insert(Flags::SAFE_SEARCH);
        ev.outcome = Outcome::Rewritten;
        match rw.target {
            RewriteTarget::A(ip) => Plan::RewriteA(ip),
            RewriteTarget::Cname(host) => {
                // The target goes through the policy like any name.
                let Ok(tp) = haven_policy::Name::from_ascii(host.as_bytes()) else {
                    ev.outcome = Outcome::Servfail;
                    return Plan::Servfail;
                };
                let td = snap.decide_for(id, &What::Name(tp.clone()), now);
                if td.is_blocked() {
                    fill(snap, &td, ev);
                    ev.outcome = blocked_outcome(ev.flags);
                    return Plan::Block;
                }
                Plan::RewriteCname(Box::new(tp))
            }
        }
    }

    /// Decide and answer one question. The snapshot is loaded here, once per query, so a reload
    /// applies to the very next query and never to half of one.
    async fn answer(&self, q: &Query, client: IpAddr, started: Instant) -> (Reply, Draft) {
        let snap = self.policy.load();
        let who = self.identify.who(client);
        let id = snap.resolve(&who.as_who());
        let group = snap.policy().group(id.group);
        let qtype = q.query_type();
        let mut ev = self.draft(&id, group, qtype);

        // A name the policy cannot read cannot be allowed.
        let Some(pname) = policy_name(q.name()) else {
            ev.name = q.name().to_ascii();
            ev.rule = "dns/unreadable-name".into();
            return (Reply::rcode(ResponseCode::Refused), ev);
        };
        let (target, key) = match self.plan(&snap, &id, group, &pname, qtype, q.query_class() == DNSClass::IN, &mut ev) {
            Plan::Block => return (self.block_reply(q, group.block_answer), ev),
            Plan::Portal => return (self.block_reply(q, BlockAnswer::BlockPage), ev),
            Plan::Negative(rcode) => return (self.negative(q, rcode), ev),
            Plan::Refused => return (Reply::rcode(ResponseCode::Refused), ev),
            Plan::Servfail => return (Reply::rcode(ResponseCode::ServFail), ev),
            Plan::RewriteA(ip) => {
                let answers = if qtype == RecordType::A {
                    vec![Record::from_rdata(q.name().clone(), self.rewrite_ttl, RData::A(A(ip)))]
                } else {
                    Vec::new()
                };
                return (Reply { rcode: ResponseCode::NoError, answers, authorities: Vec::new() }, ev);
            }
            Plan::RewriteCname(tp) => {
                let Ok(th) = Name::from_ascii(format!("{}.", tp.as_str())) else {
                    ev.outcome = Outcome::Servfail;
                    return (Reply::rcode(ResponseCode::ServFail), ev);
                };
                (Some(th), *tp)
            }
            Plan::Forward => (None, pname),
        };
        let cname = target.as_ref().map(|th| Record::from_rdata(q.name().clone(), self.rewrite_ttl, RData::CNAME(CNAME(th.clone()))));
        let target = target.unwrap_or_else(|| q.name().to_lowercase());

        // Cache, else upstream.
        let (mut reply, upstream, cached) = self.forward(&target, key.as_str(), qtype, started).await;
        ev.upstream = Some(upstream);
        if cached {
            ev.flags.insert(Flags::CACHED);
        }
        if reply.rcode == ResponseCode::ServFail {
            ev.outcome = Outcome::Servfail;
            return (reply, ev);
        }

        // The floor wins over CNAME chains and answer addresses too.
        if let Some(fd) = floor_recheck(&snap, &id, &reply.answers) {
            fill(&snap, &fd, &mut ev);
            ev.outcome = Outcome::Blocked;
            return (self.block_reply(q, group.block_answer), ev);
        }
        if let Some(c) = cname {
            reply.answers.insert(0, c);
        } else {
            ev.outcome = Outcome::Allowed;
        }
        (reply, ev)
    }

    /// Answer from the cache or an upstream: the reply, the upstream field for the event, and whether it was cached.
    async fn forward(&self, name: &Name, key: &str, qtype: RecordType, started: Instant) -> (Reply, String, bool) {
        let key = Key::new(key, qtype);
        if let Some((entry, age)) = self.cache.get(&key) {
            self.metrics.cache_hit();
            let hit = entry.hit(age);
            return (Reply { rcode: hit.rcode, answers: hit.answers, authorities: hit.authorities }, "cache".into(), true);
        }
        self.metrics.cache_miss();
        match self.fetch(name, key, qtype, started).await {
            Ok(entry) => {
                let fresh = entry.hit(0);
                (Reply { rcode: fresh.rcode, answers: fresh.answers, authorities: fresh.authorities }, rcode_text(entry.rcode), false)
            }
            Err(e) => (Reply::rcode(ResponseCode::ServFail), e.text(), false),
        }
    }

    /// Ask the upstreams for `name`/`qtype` within the query's budget and cache what comes back.
    async fn fetch(&self, name: &Name, key: Key, qtype: RecordType, started: Instant) -> Result<Arc<Entry>, UpstreamError> {
        // Leave a little of the budget for answering, so SERVFAIL arrives within `servfail_after`.
        let margin = (self.servfail_after / 10).min(Duration::from_millis(100));
        let deadline = started + self.servfail_after.saturating_sub(margin);
        let msg = self.forwarder.resolve(name, qtype, deadline).await?;
        Ok(self.cache.insert(key, name, qtype, msg))
    }

    /// The answer for a blocked name: the block page for A/AAAA where the group wants it and an
    /// address is configured; no data for HTTPS/SVCB (so no ECH keys or address hints); else NXDOMAIN.
    fn block_reply(&self, q: &Query, how: BlockAnswer) -> Reply {
        let page = how == BlockAnswer::BlockPage && (self.block_v4.is_some() || self.block_v6.is_some());
        let rec = |data| Reply {
            rcode: ResponseCode::NoError,
            answers: vec![Record::from_rdata(q.name().clone(), self.blocked_ttl, data)],
            authorities: Vec::new(),
        };
        match q.query_type() {
            RecordType::A if page => match self.block_v4 {
                Some(ip) => rec(RData::A(A(ip))),
                None => self.negative(q, ResponseCode::NoError),
            },
            RecordType::AAAA if page => match self.block_v6 {
                Some(ip) => rec(RData::AAAA(AAAA(ip))),
                None => self.negative(q, ResponseCode::NoError),
            },
            RecordType::HTTPS | RecordType::SVCB => self.negative(q, ResponseCode::NoError),
            _ => self.negative(q, ResponseCode::NXDomain),
        }
    }

    /// NXDOMAIN or NODATA with a synthetic SOA, so clients cache the negative answer for `blocked_ttl` only.
    fn negative(&self, q: &Query, rcode: ResponseCode) -> Reply {
        let soa = match &self.soa_names {
            Some((m, r)) => {
                let (m, r) = (m.clone(), r.clone());
                let ttl = self.blocked_ttl;
                let ttl_i = i32::try_from(ttl).unwrap_or(i32::MAX);
                vec![Record::from_rdata(q.name().clone(), ttl, RData::SOA(SOA::new(m, r, 1, ttl_i, ttl_i, ttl_i, ttl)))]
            }
            None => Vec::new(),
        };
        Reply { rcode, answers: Vec::new(), authorities: soa }
    }

    /// Encode the answer, truncating to the header and question (TC set) when it exceeds `limit`.
    fn encode(&self, req: &Message, reply: Reply, limit: usize) -> Vec<u8> {
        let mut resp = Message::response(req.metadata.id, OpCode::Query);
        resp.metadata.recursion_desired = req.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        resp.metadata.checking_disabled = req.metadata.checking_disabled;
        resp.metadata.response_code = reply.rcode;
        resp.queries = req.queries.clone();
        resp.answers = reply.answers;
        resp.authorities = reply.authorities;
        if req.edns.is_some() {
            let mut e = Edns::new();
            e.set_max_payload(MAX_UDP_PAYLOAD);
            resp.edns = Some(e);
        }
        match resp.to_vec() {
            Ok(b) if b.len() <= limit => return b,
            Ok(_) => self.metrics.truncated(),
            Err(e) => {
                tracing::debug!(error = %e, "dns: could not encode an answer");
                resp.metadata.response_code = ResponseCode::ServFail;
            }
        }
        resp.answers.clear();
        resp.authorities.clear();
        resp.metadata.truncation = resp.metadata.response_code != ResponseCode::ServFail;
        resp.to_vec().unwrap_or_else(|_| raw_error(req.metadata.id, 0, req.metadata.recursion_desired, ResponseCode::ServFail))
    }

    /// An error answer for a message that parsed but cannot be served (NOTIMP, FORMERR, BADVERS).
    fn error_reply(&self, req: &Message, rcode: ResponseCode) -> Vec<u8> {
        self.metrics.formerr();
        let mut resp = Message::error_msg(req.metadata.id, req.metadata.op_code, rcode);
        resp.metadata.recursion_desired = req.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        if req.queries.len() == 1 {
            resp.queries = req.queries.clone();
        }
        if req.edns.is_some() || rcode == ResponseCode::BADVERS {
            let mut e = Edns::new();
            e.set_max_payload(MAX_UDP_PAYLOAD);
            resp.edns = Some(e);
        }
        resp.to_vec().unwrap_or_else(|_| raw_error(req.metadata.id, 0, req.metadata.recursion_desired, rcode))
    }

    /// FORMERR for a query whose header reads but whose body does not; garbage and responses are dropped.
    fn formerr_from_header(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let (Some(&[i0, i1, flags, _]), true) = (packet.first_chunk::<4>(), packet.len() >= 12) else {
            self.metrics.dropped();
            return None;
        };
        if flags & 0x80 != 0 {
            // A response sent to us: answering could start a loop between two servers.
            self.metrics.dropped();
            return None;
        }
        self.metrics.formerr();
        Some(raw_error(u16::from_be_bytes([i0, i1]), (flags >> 3) & 0x0f, flags & 0x01 != 0, ResponseCode::FormErr))
    }
}

/// A bare 12-byte error header, built by hand so it cannot fail.
fn raw_error(id: u16, opcode: u8, rd: bool, rcode: ResponseCode) -> Vec<u8> {
    let [i0, i1] = id.to_be_bytes();
    let low = (u16::from(rcode) & 0x0f) as u8;
    vec![i0, i1, 0x80 | (opcode << 3) | u8::from(rd), 0x80 | low, 0, 0, 0, 0, 0, 0, 0, 0]
}

/// The policy core's form of a wire name; `None` for the root or labels the policy cannot read
/// (bytes outside letters, digits, `-` and `_`, or a `.` inside a label).
fn policy_name(name: &Name) -> Option<haven_policy::Name> {
    if name.is_root() {
        return None;
    }
    let mut text = Vec::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if label.contains(&b'.') {
            return None;
        }
        if i > 0 {
            text.push(b'.');
        }
        text.extend_from_slice(label);
    }
    haven_policy::Name::from_ascii(&text).ok()
}

/// Copy a decision's reason into the event.
fn fill(snap: &Snapshot, d: &Decision<'_>, ev: &mut Draft) {
    ev.action = d.action;
    ev.category = d.category.map(|c| snap.taxonomy().get(c).id.to_string());
    ev.rule = snap.reference(d);
    ev.list_source = d.hit.map(|h| h.source.name.to_string());
    ev.list_entry = d.hit.map(|h| h.entry.to_string()).filter(|e| !e.is_empty());
    if matches!(d.decided_by, DecidedBy::IllegalFloor) {
        ev.flags.insert(Flags::ILLEGAL);
    }
    if d.is_blocked() && d.category.is_some_and(|c| snap.taxonomy().get(c).kind == CategoryKind::Bypass) {
        ev.flags.insert(Flags::BYPASS);
    }
}

fn blocked_outcome(flags: Flags) -> Outcome {
    if flags.contains(Flags::BYPASS) { Outcome::Bypass } else { Outcome::Blocked }
}

/// The first floor decision among an answer's names (owners, CNAME targets) and addresses.
fn floor_recheck<'s>(snap: &'s Snapshot, id: &Identity<'_>, answers: &[Record]) -> Option<Decision<'s>> {
    if snap.floor().is_empty() {
        return None;
    }
    let on_floor = |what: What| snap.decide_floor(id, &what);
    for r in answers {
        let mut names = vec![&r.name];
        if let RData::CNAME(CNAME(t)) = &r.data {
            names.push(t);
        }
        for n in names {
            if let Some(d) = policy_name(n).and_then(|p| on_floor(What::Name(p))) {
                return Some(d);
            }
        }
        let ip = match &r.data {
            RData::A(A(ip)) => Some(IpAddr::V4(*ip)),
            RData::AAAA(AAAA(ip)) => Some(IpAddr::V6(*ip)),
            _ => None,
        };
        if let Some(d) = ip.and_then(|ip| on_floor(What::Ip(ip))) {
            return Some(d);
        }
    }
    None
}

/// The query type's mnemonic (`A`, `HTTPS`), or `TYPE<n>` (RFC 3597) for types without one.
pub(crate) fn qtype_text(t: RecordType) -> String {
    match t {
        RecordType::Unknown(n) => format!("TYPE{n}"),
        t => t.to_string(),
    }
}

/// The response code's mnemonic as dig prints it (`NOERROR`, `NXDOMAIN`).
pub(crate) fn rcode_text(rc: ResponseCode) -> String {
    match rc {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("RCODE{}", u16::from(other)),
    }
}
