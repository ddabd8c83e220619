//! One activity event per web request or tunnel, filled in as the request goes and handed to the
//! sink exactly once: when the response body ends, the tunnel closes, or the request is dropped.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use haven_activity::{Channel, Event, EventSink, Flags, WebDetail};
use haven_identity::OwnedWho;
use haven_policy::{CategoryKind, DecidedBy, Decision, Identity, Snapshot};
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, SizeHint};
use jiff::Timestamp;

use crate::metrics::ProxyMetrics;

/// The event being built for one request.
pub(crate) struct Draft {
    started: Instant,
    event: Event,
    sink: Arc<dyn EventSink>,
    metrics: Arc<ProxyMetrics>,
}

impl Draft {
    pub(crate) fn new(sink: Arc<dyn EventSink>, metrics: Arc<ProxyMetrics>, client: IpAddr, method: &str, name: String) -> Draft {
        let time = Timestamp::now();
        Draft {
            started: Instant::now(),
            event: Event { qtype: method.to_string(), name, web: Some(WebDetail::default()), ..blank(time, client) },
            sink,
            metrics,
        }
    }

    /// When the request arrived, for the policy's time windows.
    pub(crate) fn time(&self) -> Timestamp {
        self.event.time
    }

    /// Who asked, as far as identity knows before the policy resolves a group.
    pub(crate) fn who(&mut self, who: &OwnedWho) {
        self.event.user = who.user.clone();
        self.event.device = who.device.clone();
    }

    /// What the policy decided, and why.
    pub(crate) fn decided(&mut self, snap: &Snapshot, d: &Decision<'_>) {
        let e = &mut self.event;
        e.group = d.group.id.to_string();
        e.action = d.action.as_str().into();
        e.category = d.category.map(|c| snap.taxonomy().get(c).id.to_string());
        e.rule = snap.reference(d);
        e.list_source = d.hit.map(|h| h.source.name.to_string());
        e.list_entry = d.hit.map(|h| h.entry.to_string());
        if matches!(d.decided_by, DecidedBy::IllegalFloor) {
            e.flags.insert(Flags::ILLEGAL);
        }
        if d.category.is_some_and(|c| snap.taxonomy().get(c).kind == CategoryKind::Bypass) {
            e.flags.insert(Flags::BYPASS);
        }
        if d.is_blocked() {
            ProxyMetrics::inc(&self.metrics.blocked);
        } else {
            ProxyMetrics::inc(&self.metrics.allowed);
        }
    }

    /// A refusal Haven makes itself, outside the policy (not TLS, a port CONNECT may not reach).
    pub(crate) fn refused(&mut self, snap: &Snapshot, id: &Identity<'_>, rule: &str, flags: Flags) {
        let e = &mut self.event;
        if e.group.is_empty() {
            e.group = snap.policy().group(id.group).id.to_string();
        }
        e.action = "block".into();
        e.rule = rule.to_string();
        e.flags.insert(flags);
        ProxyMetrics::inc(&self.metrics.blocked);
    }

    pub(crate) fn set_name(&mut self, name: String) {
        self.event.name = name;
    }

    pub(crate) fn flag(&mut self, f: Flags) {
        self.event.flags.insert(f);
    }

    pub(crate) fn sni(&mut self, sni: Option<String>) {
        if let Some(w) = self.event.web.as_mut() {
            w.sni = sni;
        }
    }

    pub(crate) fn status(&mut self, status: u16) {
        if let Some(w) = self.event.web.as_mut() {
            w.status = status;
        }
    }

    /// The origin's outcome: its status line, or why it could not be reached.
    pub(crate) fn upstream(&mut self, what: impl Into<String>) {
        self.event.upstream = Some(what.into());
    }

    /// Hand the event to the sink with the bytes moved each way.
    pub(crate) fn finish(mut self, up: u64, down: u64) {
        let e = &mut self.event;
        e.latency_us = u32::try_from(self.started.elapsed().as_micros()).unwrap_or(u32::MAX);
        if let Some(w) = e.web.as_mut() {
            w.bytes_up = up;
            w.bytes_down = down;
        }
        self.metrics.bytes_up.fetch_add(up, Ordering::Relaxed);
        self.metrics.bytes_down.fetch_add(down, Ordering::Relaxed);
        let event = std::mem::replace(e, blank(Timestamp::UNIX_EPOCH, IpAddr::from([0, 0, 0, 0])));
        if !self.sink.record(event) {
            ProxyMetrics::inc(&self.metrics.events_dropped);
        }
    }
}

/// An event with nothing decided yet.
fn blank(time: Timestamp, client: IpAddr) -> Event {
    Event {
        time,
        channel: Channel::Proxy,
        client,
        device: None,
        user: None,
        group: String::new(),
        name: String::new(),
        qtype: String::new(),
        action: "allow".into(),
        category: None,
        rule: String::new(),
        list_source: None,
        list_entry: None,
        flags: Flags::default(),
        upstream: None,
        latency_us: 0,
        web: None,
    }
}

/// The body type every response of the proxy has.
pub(crate) type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>;

/// A body that counts the bytes passing through it and, when it ends or is dropped, finishes the
/// request's event: so a streamed download is logged once, with its real size and duration.
pub(crate) struct Metered<B> {
    inner: B,
    count: Arc<AtomicU64>,
    on_end: Option<Box<dyn FnOnce(u64) + Send>>,
}

impl<B> Metered<B> {
    pub(crate) fn new(inner: B, count: Arc<AtomicU64>, on_end: Option<Box<dyn FnOnce(u64) + Send>>) -> Metered<B> {
        Metered { inner, count, on_end }
    }

    fn end(&mut self) {
        if let Some(f) = self.on_end.take() {
            f(self.count.load(Ordering::Relaxed));
        }
    }
}

impl<B> Drop for Metered<B> {
    fn drop(&mut self) {
        self.end();
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Metered<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.count.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.end(),
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A whole body from bytes Haven made (block pages, errors).
pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    http_body_util::Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}
