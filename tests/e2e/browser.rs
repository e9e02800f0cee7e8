//! Debian's headless Chromium, driven through ChromeDriver (the W3C WebDriver protocol, with the
//! `fantoccini` client), both running in the lab's client namespace so the browser reaches the
//! lab's addresses as an operator's would. The test thread hands the browser one step at a time
//! and gets back what the page shows as a person reads it (the rendered text of its parts).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use mmm_lab::{Host, LabProcess};
use tokio::sync::mpsc as async_mpsc;

use super::support::SETTLE;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// ChromeDriver's port on the client namespace's loopback.
const DRIVER_PORT: u16 = 9515;
/// How often a waiting step reads the page again.
const POLL: Duration = Duration::from_millis(200);
/// The global the browser sets once after loading the page: still there later means the page
/// was redrawn by its script, never reloaded.
const MARKER: &str = "mmmLoadedOnce";

/// The parts of the page, by element id, as rendered text.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The line under the title: which monitor answers, its Raft role, the leader, the epoch.
    pub summary: String,
    /// The `show` block.
    pub show: String,
    /// The hosts table, one line per row.
    pub hosts: String,
    /// The checks table.
    pub checks: String,
    /// The monitors table.
    pub monitors: String,
    /// The history list, newest first.
    pub history: String,
    /// The warning banner, when it is displayed.
    pub banner: Option<String>,
    /// Whether the marker set at load time is still there.
    pub same_load: bool,
}

type Pred = Box<dyn Fn(&Seen) -> bool + Send + Sync>;

enum Step {
    Open(String),
    Wait(String, Pred),
    Screenshot(PathBuf),
    Close,
}

/// Whether Chromium and ChromeDriver are installed; like `mmm_lab::lab_available`, a test that
/// cannot run says so, or fails when `MMM_REQUIRE_LAB` is set.
pub fn available(what: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} missing (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    if std::env::var_os(mmm_lab::REQUIRE_LAB_ENV).is_some() {
        panic!("{what}: {why}, and {} is set", mmm_lab::REQUIRE_LAB_ENV);
    }
    eprintln!("SKIPPED {what}: {why}");
    false
}

/// A browser session in `client`'s namespace.
pub struct Browser {
    steps: async_mpsc::UnboundedSender<Step>,
    answers: mpsc::Receiver<Result<Seen, String>>,
    thread: Option<JoinHandle<()>>,
    driver: LabProcess,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium session (profile and logs under the
    /// client's directory).
    pub fn start(client: &Host) -> Browser {
        let log = client.dir().join("chromedriver.log");
        let port = format!("--port={DRIVER_PORT}");
        let driver = client
            .spawn(CHROMEDRIVER, &[&port], &[], &log)
            .expect("start chromedriver");
        let profile = client.dir().join("chromium-profile");
        let (steps, inbox) = async_mpsc::unbounded_channel();
        let (outbox, answers) = mpsc::channel();
        let host = client.clone();
        let thread = std::thread::spawn(move || {
            let run = host.block_on(session(profile, inbox, outbox.clone()));
            if let Err(e) = run {
                let _ = outbox.send(Err(format!("the browser's namespace: {e}")));
            }
        });
        Browser {
            steps,
            answers,
            thread: Some(thread),
            driver,
        }
    }

    fn ask(&mut self, step: Step) -> Seen {
        let sent = self.steps.send(step).is_ok();
        let answer = if sent {
            self.answers.recv_timeout(SETTLE + Duration::from_secs(30))
        } else {
            Err(mpsc::RecvTimeoutError::Disconnected)
        };
        match answer {
            Ok(Ok(seen)) => seen,
            Ok(Err(why)) => panic!("browser: {why}"),
            Err(e) => {
                // A panic in the browser thread is the real cause: show it.
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                panic!("browser: no answer ({e})");
            }
        }
    }

    /// Loads `url` and waits until its script has drawn the page once.
    pub fn open(&mut self, url: &str) -> Seen {
        self.ask(Step::Open(url.to_owned()))
    }

    /// Reads the page until `pred` holds (within the tests' settle limit) and returns it.
    pub fn wait(
        &mut self,
        what: &str,
        pred: impl Fn(&Seen) -> bool + Send + Sync + 'static,
    ) -> Seen {
        self.ask(Step::Wait(what.to_owned(), Box::new(pred)))
    }

    /// Saves a PNG screenshot of the window at `path`.
    pub fn screenshot(&mut self, path: &Path) -> Seen {
        self.ask(Step::Screenshot(path.to_owned()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.steps.send(Step::Close);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = self.driver.kill_and_wait();
    }
}

/// The browser's side: connects to ChromeDriver, then carries out steps until told to close.
async fn session(
    profile: PathBuf,
    mut inbox: async_mpsc::UnboundedReceiver<Step>,
    outbox: mpsc::Sender<Result<Seen, String>>,
) {
    let browser = match connect(&profile).await {
        Ok(b) => b,
        Err(why) => {
            let _ = outbox.send(Err(why));
            return;
        }
    };
    while let Some(step) = inbox.recv().await {
        let answer = match step {
            Step::Open(url) => open(&browser, &url).await,
            Step::Wait(what, pred) => wait(&browser, &what, pred.as_ref()).await,
            Step::Screenshot(path) => screenshot(&browser, &path).await,
            Step::Close => break,
        };
        if outbox.send(answer).is_err() {
            break;
        }
    }
    let _ = browser.close().await;
}

/// A new session, retried while ChromeDriver starts listening.
async fn connect(profile: &Path) -> Result<Client, String> {
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--window-size=1280,1500".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"binary": CHROMIUM, "args": args}),
    );
    let url = format!("http://127.0.0.1:{DRIVER_PORT}");
    let deadline = Instant::now() + SETTLE;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => return Err(format!("chromedriver: {e}")),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

async fn open(b: &Client, url: &str) -> Result<Seen, String> {
    b.goto(url).await.map_err(|e| format!("open {url}: {e}"))?;
    let drawn = wait(b, "the page drawn by its script", &|s: &Seen| {
        s.summary.starts_with("Answered by monitor")
    })
    .await?;
    b.execute(&format!("window.{MARKER} = true; return true;"), vec![])
        .await
        .map_err(|e| format!("set the load marker: {e}"))?;
    Ok(drawn)
}

async fn wait(
    b: &Client,
    what: &str,
    pred: &(dyn Fn(&Seen) -> bool + Send + Sync),
) -> Result<Seen, String> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let seen = read(b).await?;
        if pred(&seen) {
            return Ok(seen);
        }
        if Instant::now() > deadline {
            return Err(format!("the page never showed {what}; it shows {seen:#?}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn screenshot(b: &Client, path: &Path) -> Result<Seen, String> {
    let png = b
        .screenshot()
        .await
        .map_err(|e| format!("screenshot: {e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, &png).map_err(|e| format!("{}: {e}", path.display()))?;
    read(b).await
}

/// Reads every part in one script run: the page's own script redraws between runs, never
/// during one, so the parts always come from the same redraw.
const READ_PAGE: &str = r#"
const part = (id) => {
  const e = document.getElementById(id);
  return e === null ? null : { shown: e.checkVisibility(), text: e.innerText };
};
const ids = ["summary", "show", "hosts", "checks", "monitors", "history", "banner"];
return { parts: Object.fromEntries(ids.map((id) => [id, part(id)])), marker: window.MARKER === true };
"#;

/// The page's parts as rendered text (`innerText`, what a person reads).
async fn read(b: &Client) -> Result<Seen, String> {
    let script = READ_PAGE.replace("MARKER", MARKER);
    let got = b
        .execute(&script, vec![])
        .await
        .map_err(|e| format!("read the page: {e}"))?;
    let part = |id: &str| {
        let p = &got["parts"][id];
        if p.is_null() {
            return Err(format!("the page has no #{id}"));
        }
        Ok((p["shown"] == true).then(|| p["text"].as_str().unwrap_or_default().to_owned()))
    };
    Ok(Seen {
        summary: part("summary")?.unwrap_or_default(),
        show: part("show")?.unwrap_or_default(),
        hosts: part("hosts")?.unwrap_or_default(),
        checks: part("checks")?.unwrap_or_default(),
        monitors: part("monitors")?.unwrap_or_default(),
        history: part("history")?.unwrap_or_default(),
        banner: part("banner")?,
        same_load: got["marker"] == true,
    })
}
