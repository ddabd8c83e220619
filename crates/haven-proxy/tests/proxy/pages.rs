//! What the block pages say: category, group, rule and reference, monitoring, the two links, and
//! the separate illegal-content page with no unblock link.

use super::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_block_page_explains_and_links() {
    let r = rig_with(|c| {
        c.pages.school_name = "St John's <School>".into();
        c.pages.unblock_url = "https://haven.school.example/unblock".into();
        c.pages.worry_url = "https://haven.school.example/worry".into();
    })
    .await;
    let url = r.origin_url("pupils-blocked.test", "/games?level=2");
    let o = r.curl(PUPIL, &["-i", &url]).await;
    let page = text(&o);
    assert!(page.starts_with("HTTP/1.1 403"), "{page}");
    assert!(page.to_ascii_lowercase().contains("x-haven-block: ks3/lessons_off"), "marker header: {page}");
    for needle in [
        "This page is blocked",
        "St John&#39;s &#60;School&#62;",
        "Not for lessons",
        "Key Stage 3",
        "ks3/lessons_off",
        "keeps a record of the websites people visit",
        "Ask for this site to be unblocked",
        "Tell someone you're worried",
        "https://haven.school.example/worry",
        "lang=\"en-GB\"",
        "role=\"main\"",
    ] {
        assert!(page.contains(needle), "block page lacks {needle:?}:\n{page}");
    }
    let expected = format!(
        "https://haven.school.example/unblock?url={}&#38;ref=ks3%2Flessons_off",
        url.replace(':', "%3A").replace('/', "%2F").replace('?', "%3F").replace('=', "%3D")
    );
    assert!(page.contains(&expected), "unblock link carries the URL and reference: {expected}\n{page}");
    assert!(!page.contains("<School>"), "school name is escaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_illegal_page_is_separate_and_offers_no_unblock() {
    let r = rig().await;
    let o = r.curl(PUPIL, &["http://csam-domain.haven-floor-test.test/x"]).await;
    let page = text(&o);
    assert!(page.contains("Access has been denied by your internet access provider because this page may contain indecent images of children as identified by the Internet Watch Foundation."), "{page}");
    assert!(page.contains("id=\"appeal\""), "an appeal route: {page}");
    assert!(!page.contains("unblock"), "no unblock link on the illegal page: {page}");
    let t = text(&r.curl(PUPIL, &["http://terror-domain.haven-floor-test.test/"]).await);
    assert!(t.contains("unlawful terrorist content"), "{t}");
}
