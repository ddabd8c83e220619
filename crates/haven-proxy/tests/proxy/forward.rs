//! Plain HTTP through the explicit proxy with curl: allowed and blocked per group and per signed-in
//! user, URL-prefix rules, hop-by-hop headers, streaming, origin down, and the events written.

use haven_activity::Flags;

use super::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_requests_reach_the_origin_with_via_and_without_hop_headers() {
    let r = rig().await;
    let url = r.origin_url("allowed.test", "/hello?x=1");
    let o = r
        .curl(PUPIL, &["-i", "-H", "Connection: x-hop", "-H", "X-Hop: secret", "-H", "X-Keep: yes", "-d", "12345", &url])
        .await;
    let out = text(&o);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("origin path=/hello?x=1"), "origin-form request line: {out}");
    assert!(out.contains(&format!("host=allowed.test:{}", r.origin.port())), "{out}");
    assert!(out.contains("via=1.1 haven"), "Via added: {out}");
    assert!(out.contains("x-hop=-"), "a header named in Connection is not forwarded: {out}");
    assert!(out.contains("keep=yes"), "end-to-end headers are: {out}");
    assert!(out.contains("body=5"), "the request body streams through: {out}");
    assert!(!out.to_ascii_lowercase().contains("x-secret"), "response hop-by-hop headers are dropped: {out}");
    let e = r.one_event("/hello").await;
    assert_eq!(e.action, "allow");
    assert_eq!(e.group, "ks3");
    assert_eq!(e.qtype, "POST");
    assert_eq!(e.client, ip(PUPIL));
    assert_eq!(e.name, url);
    let w = e.web.unwrap();
    assert_eq!(w.status, 200);
    assert_eq!(w.bytes_up, 5);
    assert!(w.bytes_down > 50, "{w:?}");
    assert_eq!(e.upstream.as_deref(), Some("HTTP 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_follow_the_group_of_the_address() {
    let r = rig().await;
    let url = r.origin_url("pupils-blocked.test", "/");
    let pupil = r.curl(PUPIL, &["-o", "/dev/null", "-w", "%{http_code}", &url]).await;
    assert_eq!(text(&pupil), "403");
    let staff = r.curl(STAFF, &["-o", "/dev/null", "-w", "%{http_code}", &url]).await;
    assert_eq!(text(&staff), "200");
    let events = r.events_for("pupils-blocked.test").await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let blocked = events.iter().find(|e| e.client == ip(PUPIL)).unwrap();
    assert_eq!((blocked.action.as_str(), blocked.group.as_str()), ("block", "ks3"));
    assert_eq!(blocked.category.as_deref(), Some("lessons_off"));
    assert_eq!(blocked.rule, "ks3/lessons_off");
    assert_eq!(blocked.list_source.as_deref(), Some("test-lessons"));
    assert_eq!(blocked.list_entry.as_deref(), Some("pupils-blocked.test"));
    assert_eq!(blocked.web.as_ref().unwrap().status, 403);
    let allowed = events.iter().find(|e| e.client == ip(STAFF)).unwrap();
    assert_eq!((allowed.action.as_str(), allowed.group.as_str()), ("allow", "staff"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_gets_their_own_policy_and_bad_passwords_are_challenged() {
    let r = rig().await;
    let url = r.origin_url("pupils-blocked.test", "/signed-in");
    let ok = r.curl(PUPIL, &["-o", "/dev/null", "-w", "%{http_code}", "-U", &format!("j.smith:{PASSWORD}"), &url]).await;
    assert_eq!(text(&ok), "200", "j.smith is staff, whichever address they use");
    let e = r.one_event("/signed-in").await;
    assert_eq!(e.user.as_deref(), Some("j.smith"));
    assert_eq!(e.group, "staff");

    let bad = r.curl(PUPIL, &["-i", "-U", "j.smith:wrong", &r.origin_url("pupils-blocked.test", "/wrong")]).await;
    let out = text(&bad);
    assert!(out.starts_with("HTTP/1.1 407"), "{out}");
    assert!(out.to_ascii_lowercase().contains("proxy-authenticate: basic realm="), "{out}");
    assert!(r.events_for("/wrong").await.is_empty(), "nothing was fetched for a failed sign-in");
    // The origin never sees the credentials.
    let seen = r.curl(PUPIL, &["-U", &format!("j.smith:{PASSWORD}"), &r.origin_url("allowed.test", "/creds")]).await;
    assert!(text(&seen).contains("proxy-authorization=-"), "{}", text(&seen));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_sign_in_means_no_open_relay() {
    let r = rig_with(|c| c.require_auth = true).await;
    let anon = r.curl(PUPIL, &["-o", "/dev/null", "-w", "%{http_code}", &r.origin_url("allowed.test", "/anon")]).await;
    assert_eq!(text(&anon), "407");
    let tls = r.curl(PUPIL, &[&r.tls_url("allowed.test", "/")]).await;
    assert!(!tls.status.success(), "CONNECT without sign-in is refused too");
    assert!(String::from_utf8_lossy(&tls.stderr).contains("407"), "{}", String::from_utf8_lossy(&tls.stderr));
    let signed = r.curl(PUPIL, &["-o", "/dev/null", "-w", "%{http_code}", "-U", &format!("j.smith:{PASSWORD}"), &r.origin_url("allowed.test", "/anon")]).await;
    assert_eq!(text(&signed), "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_prefix_rules_apply_to_the_whole_url() {
    let rig = rig().await;
    let r = &rig;
    let code = |path: &'static str| {
        let url = r.origin_url("allowed.test", path);
        async move { text(&r.curl(PUPIL, &["-o", "/dev/null", "-w", "%{http_code}", &url]).await) }
    };
    assert_eq!(code("/private/report.html").await, "403");
    assert_eq!(code("/private/").await, "403");
    assert_eq!(code("/public/index.html").await, "200");
    assert_eq!(code("/privateer").await, "200", "a prefix ends on a path boundary");
    let e = r.one_event("/private/report.html").await;
    assert_eq!(e.list_entry.as_deref(), Some("allowed.test/private/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_illegal_floor_blocks_at_url_level_for_everyone() {
    let r = rig().await;
    for from in [PUPIL, STAFF] {
        let o = r.curl(from, &["-i", "-U", &format!("j.smith:{PASSWORD}"), "http://url-level.haven-floor-test.test/abuse-test/page.html"]).await;
        let out = text(&o);
        assert!(out.starts_with("HTTP/1.1 403"), "{out}");
        assert!(out.contains("Internet Watch Foundation"), "{out}");
    }
    let sibling = r.curl(STAFF, &["-o", "/dev/null", "-w", "%{http_code}", "http://url-level.haven-floor-test.test/elsewhere.html"]).await;
    assert_ne!(text(&sibling), "403", "a sibling page on the same host is not on the floor");
    let events = r.events_for("abuse-test").await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.flags.contains(Flags::ILLEGAL) && e.action == "block"), "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_responses_stream_and_are_counted() {
    let r = rig().await;
    let o = r.curl(STAFF, &["-o", "/dev/null", "-w", "%{size_download}", &r.origin_url("allowed.test", "/big")]).await;
    assert_eq!(text(&o), (1 << 20).to_string());
    let e = r.one_event("/big").await;
    assert_eq!(e.web.unwrap().bytes_down, 1 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_reuses_one_origin_connection_and_logs_each_request() {
    let r = rig().await;
    let a = r.origin_url("allowed.test", "/ka-1");
    let b = r.origin_url("allowed.test", "/ka-2");
    let o = r.curl(STAFF, &["-w", "%{num_connects}\\n", &a, &b]).await;
    let out = text(&o);
    assert!(out.contains("path=/ka-1") && out.contains("path=/ka-2"), "{out}");
    assert!(out.lines().any(|l| l == "0"), "curl reused its proxy connection: {out}");
    assert_eq!(r.events_for("/ka-").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_origin_gets_a_502_page_not_a_hang() {
    let r = rig().await;
    let url = format!("http://allowed.test:{}/down", r.dead.port());
    let o = r.curl(STAFF, &["-i", &url]).await;
    let out = text(&o);
    assert!(out.starts_with("HTTP/1.1 502"), "{out}");
    assert!(out.contains("not answering"), "{out}");
    let nx = r.curl(STAFF, &["-i", "http://nx-nowhere.test/"]).await;
    assert!(text(&nx).starts_with("HTTP/1.1 502"), "{}", text(&nx));
    let e = r.one_event("/down").await;
    assert_eq!(e.web.unwrap().status, 502);
    assert_eq!(e.upstream.as_deref(), Some("refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_origins_are_refused_by_default() {
    let r = rig_with(|c| c.allow_loopback_origins = false).await;
    let o = r.curl(STAFF, &["-o", "/dev/null", "-w", "%{http_code}", &format!("http://127.0.0.1:{}/", r.origin.port())]).await;
    assert_eq!(text(&o), "403", "a pupil must not reach Haven's own control endpoints through the proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transparent_http_answers_direct_visits_with_the_block_page() {
    // A browser the DNS service sent to the block page address connects straight to Haven.
    let r = rig().await;
    let code = |host: &'static str| {
        let url = format!("http://{}/some/page", r.transparent_http);
        async move {
            text(
                &curl_raw(vec![
                    "-sS".into(),
                    "--interface".into(),
                    PUPIL.to_string(),
                    "-H".into(),
                    format!("Host: {host}"),
                    "-o".into(),
                    "/dev/null".into(),
                    "-w".into(),
                    "%{http_code}".into(),
                    url,
                ])
                .await,
            )
        }
    };
    assert_eq!(code("pupils-blocked.test").await, "403");
    assert_eq!(code("allowed.test").await, "200", "a name that is not blocked now says so, and is not fetched");
    let e = r.one_event("http://pupils-blocked.test/some/page").await;
    assert_eq!((e.action.as_str(), e.group.as_str(), e.qtype.as_str()), ("block", "ks3", "GET"));
}
