//! The headless-Chromium harness every browser test shares: chromedriver, a console on a real
//! socket, and helpers to fill, submit and read. Skipped with a notice only outside CI; with
//! `CI=true` a missing chromedriver fails the test.

use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use crate::console::common::*;

pub fn chromedriver() -> Option<std::path::PathBuf> {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].iter().map(std::path::PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromedriver is missing; CI must install chromium and chromium-driver (see .ci/run)"
        );
        eprintln!("browser tests skipped: no chromedriver (apt-get install chromium chromium-driver)");
    }
    found
}

/// A console on a real socket, chromedriver, and a headless Chromium session.
pub struct Browser {
    pub client: Client,
    pub base: String,
    _driver: tokio::process::Child,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn browser(app: &App) -> Option<Browser> {
    let driver_path = chromedriver()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = tokio::process::Command::new(driver_path).arg(format!("--port={port}")).kill_on_drop(true).stdout(std::process::Stdio::null()).spawn().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(haven_console::serve(listener, app.router.clone(), None, async move {
        let _ = stopped.await;
    }));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=420,900"] }),
    );
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new()).capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    Some(Browser { client: client.expect("chromedriver did not start a Chromium session"), base, _driver: driver, _stop: stop })
}

impl Browser {
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub async fn submit(&self, form_css: &str) {
        self.client.find(Locator::Css(&format!("{form_css} button[type=submit]"))).await.unwrap().click().await.unwrap();
    }

    /// The text of the first element matching `css`, waiting for it; a page still loading
    /// after a form post can hand back an element that goes stale, so that is retried.
    pub async fn text(&self, css: &str) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            match self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await {
                Ok(e) => match e.text().await {
                    Ok(t) => return t,
                    Err(err) => last = err.to_string(),
                },
                Err(err) => last = err.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css}: {last}");
    }

    pub async fn sign_in(&self, username: &str, password: &str) {
        self.client.goto(&format!("{}/sign-in", self.base)).await.unwrap();
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.submit("form[action='/sign-in']").await;
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }
}
