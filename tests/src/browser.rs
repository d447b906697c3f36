//! A real browser for the page tests: Debian's Chromium, headless, driven through ChromeDriver
//! (W3C WebDriver) with `fantoccini`. `make deps` installs both packages.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session; the driver process ends with it.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver on a free loopback port and opens a session in a fresh profile.
    pub async fn start() -> anyhow::Result<Self> {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            if !Path::new(path).exists() {
                bail!(
                    "{path} is missing: the browser tests need Debian's {package} (make deps installs it)"
                );
            }
        }
        let port = crate::free_port()?;
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let _ = driver.kill();
                bail!("chromedriver did not listen on {port} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir()?;
        // Without the background-networking switches Chromium keeps calling out to Google's
        // services, which a closed test network refuses.
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--autoplay-policy=no-user-gesture-required".to_owned(),
            "--window-size=1440,1000".to_owned(),
            "--lang=vi-VN".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await;
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                let _ = driver.kill();
                bail!("opening a Chromium session through chromedriver: {e}");
            }
        };
        Ok(Self {
            client,
            driver,
            profile,
        })
    }

    /// Waits (at most `seconds`) for the element `css` to be on the page. While a click's
    /// navigation is under way the driver may answer a search with an error (Chromium's
    /// "aborted by navigation"): that counts as not found yet.
    pub async fn wait_for(&self, css: &str, seconds: u64) -> anyhow::Result<Element> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => return Ok(e),
                Err(e) if Instant::now() > deadline => {
                    bail!("waiting for `{css}` on {}: {e}", self.url().await)
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Goes to `url` (a review page), which sends an officer to sign in first, and signs in
    /// there as `username` with the tests' officer password.
    pub async fn sign_in(&self, url: &str, username: &str) -> anyhow::Result<()> {
        self.client.goto(url).await?;
        self.wait_for("#username", 10)
            .await?
            .send_keys(username)
            .await?;
        self.client
            .find(Locator::Css("#password"))
            .await?
            .send_keys(crate::OFFICER_PASSWORD)
            .await?;
        self.client
            .find(Locator::Css("#sign-in"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Waits (at most `seconds`) until the script `js` returns `true` on the page.
    pub async fn wait_until(&self, js: &str, seconds: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if self.client.execute(js, vec![]).await? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "`{js}` did not hold within {seconds} s on {}",
                    self.url().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The result of the script `js` on the page.
    pub async fn eval(&self, js: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(js, vec![]).await?)
    }

    /// Types `keys` as the officer would, into whatever has the focus.
    pub async fn keys(&self, keys: &str) -> anyhow::Result<()> {
        use fantoccini::actions::InputSource;
        let actions = fantoccini::actions::KeyActions::new("keyboard".into());
        let actions = keys.chars().fold(actions, |a, c| {
            a.then(fantoccini::actions::KeyAction::Down { value: c })
                .then(fantoccini::actions::KeyAction::Up { value: c })
        });
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Saves a PNG of the window under `target/screenshots/NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = crate::workspace_root().join("target/screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    /// Ends the session, then the driver and whatever is left of the browser (on drop).
    pub async fn close(self) -> anyhow::Result<()> {
        self.client
            .clone()
            .close()
            .await
            .context("closing the browser session")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A test that failed before closing its session leaves the browser running: every one
        // of its processes names this session's own profile folder.
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &self.profile.path().display().to_string()])
            .status();
    }
}
