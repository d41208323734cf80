//! Browser tests' helpers: headless Chromium over WebDriver (Debian's
//! `chromium` and `chromium-driver`, installed by `.ci/run`), accounts with a
//! password, polling for a page's text, screenshots under
//! `target/screenshots`, and a plain HTTP client for what a browser would not
//! send.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;
use fantoccini::{Client, ClientBuilder, Locator};
use maillage::accounts::Accounts;
use maillage::auth::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PASSWORD: &str = "un mot de passe solide";

/// chromedriver (and the Chromium it starts), killed with its whole process
/// group when dropped, even if the test panics.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this guard created.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh headless Chromium, and the guard that ends it.
pub async fn browser() -> (Driver, Client) {
    browser_with(&[]).await
}

/// A fresh headless Chromium started with `extra` arguments.
pub async fn browser_with(extra: &[&str]) -> (Driver, Client) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver introuvable : apt-get install -y chromium chromium-driver");
    let driver = Driver { child, port };
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", driver.port)).is_err() {
        assert!(start.elapsed() < TIMEOUT, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut args = vec![
        "--headless=new",
        // As root (CI), Chromium refuses to start sandboxed.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1100",
        "--lang=fr-FR",
    ];
    args.extend_from_slice(extra);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": args }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("WebDriver session");
    (driver, client)
}

/// An account on `node` with a password already chosen.
pub async fn account(node: &TestNode, email: &str, name: &str, role: Role) {
    let accounts = Accounts::new(node.running().docs().store().clone());
    let (_, secret) = accounts.add(email, name, role).await.unwrap();
    accounts.set_password(&secret, PASSWORD).await.unwrap();
}

/// The page's visible text, once `what` appears in it (or panics).
pub async fn page_with(c: &Client, what: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let text = match c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(what) {
            return text;
        }
        if start.elapsed() > TIMEOUT {
            panic!("« {what} » never appeared; the page says:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn log_in(c: &Client, base: &str, email: &str, password: &str) {
    c.goto(&format!("{base}/connexion")).await.unwrap();
    let field = c.find(Locator::Id("email")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(email).await.unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Where the tests write their screenshots: target/screenshots.
pub fn screenshot_path(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Today plus `days`, in Paris, as people type a date.
pub fn paris_day(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%d/%m/%Y")
        .to_string()
}

/// One HTTP/1.1 request over a plain socket: (status, headers, body).
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    session: Option<&str>,
    form: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(id) = session {
        req += &format!("Cookie: maillage_session={id}\r\n");
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        req += "Content-Type: application/x-www-form-urlencoded\r\n";
    }
    req += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The session id a response sets.
pub fn set_session(headers: &[(String, String)]) -> String {
    let v = header(headers, "set-cookie").expect("a session cookie");
    assert!(
        v.contains("HttpOnly") && v.contains("SameSite=Lax") && v.contains("Path=/"),
        "{v}"
    );
    v.split(';')
        .next()
        .unwrap()
        .strip_prefix("maillage_session=")
        .unwrap()
        .to_string()
}

pub fn csrf_of(page: &str) -> String {
    page.split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a _csrf field")
        .to_string()
}

/// Sets a form field's value as the browser's date picker would (the
/// picker's typing order depends on the locale).
pub async fn set_value(c: &Client, id: &str, value: &str) {
    c.execute(
        "document.getElementById(arguments[0]).value = arguments[1];",
        vec![serde_json::json!(id), serde_json::json!(value)],
    )
    .await
    .unwrap();
}

pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The violations of impact "serious" or "critical" that axe-core
/// (vendored in `tests/vendor/axe-core`) finds on the page the browser
/// shows, each with its rule and elements.
pub async fn accessibility_violations(c: &Client) -> Vec<String> {
    const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
    let loaded = c
        .execute("return typeof window.axe !== 'undefined';", vec![])
        .await
        .unwrap();
    if loaded != serde_json::json!(true) {
        c.execute(AXE, vec![]).await.expect("axe-core loads");
    }
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document)
               .then(r => done({
                 rules: r.passes.length + r.violations.length,
                 bad: r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.id + ' (' + v.impact + ') : ' + v.help + ' — ' +
                     v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(', '))}))
               .catch(e => done({ rules: 0, bad: ['axe-core a échoué : ' + e] }));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let rules = found["rules"].as_u64().unwrap_or(0);
    let bad: Vec<String> = serde_json::from_value(found["bad"].clone()).unwrap();
    assert!(
        rules > 10 || !bad.is_empty(),
        "axe-core checked no rule: {found}"
    );
    bad
}

/// Panics on any serious or critical accessibility violation on the page.
pub async fn assert_accessible(c: &Client) {
    let found = accessibility_violations(c).await;
    let url = c
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    assert!(
        found.is_empty(),
        "accessibility violations on {url}:\n{}",
        found.join("\n")
    );
}

/// A screenshot of the page under `target/screenshots/NAME.png`, and the
/// accessibility check of the page.
pub async fn shoot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_path(&format!("{name}.png")), png).unwrap();
    assert_accessible(c).await;
}

/// Types `text` into the field `#id`, replacing what it held.
pub async fn type_into(c: &Client, id: &str, text: &str) {
    let field = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}
