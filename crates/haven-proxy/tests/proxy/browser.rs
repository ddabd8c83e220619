//! The block page in real headless Chromium through the proxy: the text is there, and the
//! "ask for this site to be unblocked" link works (it is followed through the proxy too).
//! Needs Debian's `chromium`; `.ci/run` installs it, and under CI a missing browser fails.

use std::process::Command;

use super::fixture::*;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

async fn dump_dom(proxy: std::net::SocketAddr, url: &str, shot: Option<&std::path::Path>) -> String {
    let bin = chromium().unwrap();
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        format!("--proxy-server=http://{proxy}"),
        "--proxy-bypass-list=<-loopback>".into(),
        "--window-size=412,915".into(),
        format!("--user-data-dir={}", tempfile::tempdir().unwrap().keep().display()),
    ];
    match shot {
        Some(p) => args.push(format!("--screenshot={}", p.display())),
        None => args.push("--dump-dom".into()),
    }
    args.push(url.to_string());
    let out = tokio::task::spawn_blocking(move || Command::new(bin).args(&args).output().unwrap()).await.unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_block_page_and_its_links_work() {
    if chromium().is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must have chromium (apt-get install chromium)");
        eprintln!("skipped: chromium is not installed");
        return;
    }
    let r = rig_with_origin(|c, origin| {
        c.pages.school_name = "Oakford Primary".into();
        c.pages.unblock_url = format!("http://allowed.test:{}/unblock", origin.port());
    })
    .await;
    let blocked = r.origin_url("pupils-blocked.test", "/homework");
    let dom = dump_dom(r.proxy, &blocked, None).await;
    assert!(dom.contains("This page is blocked"), "{dom}");
    assert!(dom.contains("Oakford Primary"), "{dom}");
    assert!(dom.contains("Tell someone you're worried"), "{dom}");
    let href = dom
        .split("id=\"unblock\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no unblock link: {dom}"));
    let followed = dump_dom(r.proxy, &href, None).await;
    assert!(followed.contains("origin path=/unblock?url=http%3A%2F%2Fpupils-blocked.test"), "the link reached its target: {followed}");
    let shot = std::env::temp_dir().join("haven-block-page.png");
    let _ = dump_dom(r.proxy, &blocked, Some(&shot)).await;
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 1000).unwrap_or(false), "a screenshot was taken");
}
