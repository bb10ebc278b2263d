//! A real headless Chromium for the end-to-end tests of the live page:
//! launch it, open a page, evaluate JavaScript, wait for a condition and
//! take a screenshot.
//!
//! It speaks the Chrome DevTools Protocol (CDP) itself, a client of about
//! 150 lines over one synchronous `tungstenite` WebSocket, instead of using
//! a crate that generates the whole protocol at build time and brings an
//! async runtime: the tests need six commands (`Target.createTarget`,
//! `Target.attachToTarget`, `Emulation.setDeviceMetricsOverride`,
//! `Page.navigate`, `Runtime.evaluate`, `Page.captureScreenshot`), and a
//! command is just JSON.
//!
//! One connection, one command at a time: a command goes out with a fresh
//! id, and messages are read (events dropped) until the answer with that
//! id arrives or the command's deadline passes; every read has a timeout,
//! so nothing waits forever. Chromium runs in a process group of its own
//! that [`Browser`]'s drop kills, also when a test panics, with its
//! profile in a temporary directory removed after it.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// How long one command may take, and Chromium to start listening.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How long one read of the socket blocks before the deadline is checked.
const READ_TIMEOUT: Duration = Duration::from_millis(200);
/// How often [`Page::wait_for`] evaluates its expression.
const POLL: Duration = Duration::from_millis(100);
/// The window's size, and every page's viewport (so screenshots are alike).
const SIZE: (u32, u32) = (1600, 1000);

/// A running headless Chromium, killed (with every process it started)
/// when dropped.
pub struct Browser {
    cdp: Rc<RefCell<Cdp>>,
    process: Chromium,
}

/// A tab of a [`Browser`], with a CDP session of its own; closed when
/// dropped.
pub struct Page {
    cdp: Rc<RefCell<Cdp>>,
    session: String,
    target: String,
}

impl Browser {
    /// Starts `/usr/bin/chromium` (or `$VNETD_CHROMIUM`) headless, with a
    /// fresh profile, and connects to it.
    pub fn launch() -> Result<Browser> {
        let mut process = Chromium::start()?;
        let (port, path) = process.devtools_address()?;
        let cdp = Rc::new(RefCell::new(Cdp::connect(port, &path)?));
        Ok(Browser { cdp, process })
    }

    /// Opens `url` in a new tab and waits until it has loaded.
    pub fn open(&self, url: &str) -> Result<Page> {
        let created = self.call("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target = str_field(&created, "targetId")?;
        let attach = json!({ "targetId": target, "flatten": true });
        let session = str_field(&self.call("Target.attachToTarget", attach)?, "sessionId")?;
        let page = Page {
            cdp: self.cdp.clone(),
            session,
            target,
        };
        let (w, h) = SIZE;
        let metrics = json!({ "width": w, "height": h, "deviceScaleFactor": 1, "mobile": false });
        page.call("Emulation.setDeviceMetricsOverride", metrics, TIMEOUT)?;
        page.navigate(url)?;
        Ok(page)
    }

    /// The process id of Chromium's browser process, the leader of its
    /// process group.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    fn call(&self, method: &str, params: Value) -> Result<Value> {
        let mut cdp = self.cdp.borrow_mut();
        cdp.call(None, method, params, TIMEOUT)
    }
}

impl Page {
    /// Loads `url` in this tab and waits until it has loaded (at once when
    /// only its fragment differs: the document stays).
    pub fn navigate(&self, url: &str) -> Result<()> {
        // The old document carries a mark the new one lacks, so the wait
        // below never takes the old one for the new.
        self.eval("window.__cdpOldDocument = true")?;
        let navigated = self.call("Page.navigate", json!({ "url": url }), TIMEOUT)?;
        if let Some(error) = navigated["errorText"].as_str().filter(|e| !e.is_empty()) {
            bail!("opening {url}: {error}");
        }
        if navigated.get("loaderId").is_none() {
            return Ok(());
        }
        let loaded = "!window.__cdpOldDocument && document.readyState === 'complete'";
        self.wait_for(loaded, &format!("{url} to load"), TIMEOUT)?;
        Ok(())
    }

    /// Sets `location.hash` (`"#trace=..."`), as following a link within
    /// the page does.
    pub fn set_hash(&self, hash: &str) -> Result<()> {
        self.eval(&format!("location.hash = {}", Value::from(hash)))?;
        Ok(())
    }

    /// The value of JavaScript expression `expr` (a promise is awaited),
    /// as JSON; `undefined`, and what JSON cannot hold (`NaN`, `Infinity`),
    /// are `null`. An exception thrown is an error with its text.
    pub fn eval(&self, expr: &str) -> Result<Value> {
        self.evaluate(expr, TIMEOUT)?
            .map_err(|e| anyhow!("evaluating `{expr}`: {e}"))
    }

    /// Evaluates `expr` every 100 ms until its value is truthy (as in
    /// JavaScript) and returns that value; an exception counts as not yet
    /// (the element may not be there yet). After `timeout` the error says
    /// what was awaited (`what`) and the last value or exception.
    pub fn wait_for(&self, expr: &str, what: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self.evaluate(expr, left.max(Duration::from_secs(1)));
            let last = match answer.with_context(|| format!("waiting for {what}"))? {
                Ok(value) if truthy(&value) => return Ok(value),
                Ok(value) => format!("the value {value}"),
                Err(exception) => format!("the exception {exception}"),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("waited {timeout:?} for {what} in vain: `{expr}` last gave {last}");
            }
            std::thread::sleep(POLL.min(left));
        }
    }

    /// Writes a PNG of what the tab shows to `path`.
    pub fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        use base64::Engine;
        let path = path.as_ref();
        let format = json!({ "format": "png" });
        let shot = self.call("Page.captureScreenshot", format, TIMEOUT)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(str_field(&shot, "data")?)
            .context("decoding the screenshot")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// `Runtime.evaluate`: the outer error is the protocol's (no answer, a
    /// refused command), the inner one the page's exception.
    fn evaluate(&self, expr: &str, timeout: Duration) -> Result<Result<Value, String>> {
        let params = json!({ "expression": expr, "returnByValue": true, "awaitPromise": true });
        let answer = self.call("Runtime.evaluate", params, timeout)?;
        let Some(details) = answer.get("exceptionDetails") else {
            let value = answer["result"].get("value");
            return Ok(Ok(value.cloned().unwrap_or(Value::Null)));
        };
        let exception = &details["exception"];
        let text = match (exception["description"].as_str(), exception.get("value")) {
            (Some(description), _) => description.to_string(),
            (None, Some(value)) => format!("Uncaught {value}"),
            (None, None) => details["text"].to_string(),
        };
        Ok(Err(text))
    }

    fn call(&self, method: &str, params: Value, timeout: Duration) -> Result<Value> {
        let mut cdp = self.cdp.borrow_mut();
        cdp.call(Some(&self.session), method, params, timeout)
    }
}

impl Drop for Page {
    /// Closes the tab, and with it the page's connections.
    fn drop(&mut self) {
        let close = json!({ "targetId": self.target });
        if let Ok(mut cdp) = self.cdp.try_borrow_mut() {
            let _ = cdp.call(None, "Target.closeTarget", close, Duration::from_secs(5));
        }
    }
}

/// Whether JavaScript counts `value` as true.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn str_field(answer: &Value, field: &str) -> Result<String> {
    let text = answer[field].as_str().map(String::from);
    text.ok_or_else(|| anyhow!("no {field} in {answer}"))
}

/// The WebSocket to the browser, and the id of the last command sent.
struct Cdp {
    socket: WebSocket<TcpStream>,
    last_id: u64,
}

impl Cdp {
    fn connect(port: u16, path: &str) -> Result<Cdp> {
        let url = format!("ws://127.0.0.1:{port}{path}");
        let stream = TcpStream::connect(("127.0.0.1", port))
            .with_context(|| format!("connecting to Chromium's DevTools at {url}"))?;
        // The handshake blocks (for a bounded time); the reads after it
        // wake up every READ_TIMEOUT to look at their deadline.
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let (socket, _) = tungstenite::client(url.as_str(), stream)
            .map_err(|e| anyhow!("WebSocket handshake with {url}: {e}"))?;
        socket.get_ref().set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Cdp { socket, last_id: 0 })
    }

    /// Sends `method` (to the page of `session`, or else to the browser)
    /// and returns its result; events arriving meanwhile are dropped.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value> {
        self.last_id += 1;
        let id = self.last_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = Value::from(session);
        }
        let deadline = Instant::now() + timeout;
        self.socket
            .send(Message::text(command.to_string()))
            .with_context(|| format!("sending {method} to Chromium"))?;
        loop {
            if Instant::now() >= deadline {
                bail!("Chromium did not answer {method} within {timeout:?}");
            }
            let text = match self.socket.read() {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) => bail!("Chromium closed the connection during {method}"),
                Ok(_) => continue,
                // The read timed out (SO_RCVTIMEO): look at the deadline.
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    continue
                }
                Err(e) => bail!("reading Chromium's answer to {method}: {e}"),
            };
            let answer: Value = serde_json::from_str(&text)
                .with_context(|| format!("Chromium sent what is not JSON: {text}"))?;
            if answer["id"] != id {
                continue;
            }
            if let Some(error) = answer.get("error") {
                bail!("Chromium refused {method}: {error}");
            }
            return Ok(answer["result"].clone());
        }
    }
}

/// The Chromium process group and its temporary directory: the profile,
/// the crash handlers' reports, and stderr (shown when it fails to start).
struct Chromium {
    child: Child,
    dir: tempfile::TempDir,
}

impl Chromium {
    fn start() -> Result<Chromium> {
        use std::os::unix::process::CommandExt;
        let program = std::env::var_os("VNETD_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        if !program.exists() {
            bail!(
                "no Chromium at {}: the browser tests need Debian's `chromium` package \
                 (`.ci/run` installs it), or $VNETD_CHROMIUM naming another",
                program.display()
            );
        }
        let dir = tempfile::TempDir::with_prefix("vnetd-chromium-")?;
        let stderr = std::fs::File::create(dir.path().join("stderr"))?;
        let profile = dir.path().join("profile");
        let child = Command::new(&program)
            .args("--headless --no-sandbox --disable-gpu --no-first-run".split(' '))
            .args("--disable-background-networking --disable-component-update".split(' '))
            .args("--disable-sync --disable-quic --remote-debugging-port=0".split(' '))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={},{}", SIZE.0, SIZE.1))
            .arg("about:blank")
            // Nothing in $HOME: the crash handlers (which leave the process
            // group) keep their reports here, which names them as ours.
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Ok(Chromium { child, dir })
    }

    /// The port and path of the browser's WebSocket, from the
    /// `DevToolsActivePort` file Chromium writes once it listens.
    fn devtools_address(&mut self) -> Result<(u16, String)> {
        let file = self.dir.path().join("profile/DevToolsActivePort");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(Ok(port)), Some(path)) = (lines.next().map(str::parse), lines.next()) {
                if path.starts_with("/devtools/browser/") {
                    return Ok((port, path.to_string()));
                }
            }
            let failed = match self.child.try_wait()? {
                Some(status) => format!("exited ({status})"),
                None if Instant::now() >= deadline => format!("not listening in {TIMEOUT:?}"),
                None => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            let stderr = self.dir.path().join("stderr");
            let stderr = std::fs::read_to_string(stderr).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("Chromium {failed}; its stderr ends:\n{}", tail.join("\n"));
        }
    }

    /// The processes of this browser still alive (a zombie is dead): its
    /// process group, and the crash handlers keeping reports in its
    /// directory.
    fn alive(&self, group: i32) -> Vec<i32> {
        let database = format!("--database={}/", self.dir.path().display());
        let needle = database.as_bytes();
        let pids = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        let pids = pids.filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok());
        pids.filter(|pid| {
            // After the command's closing parenthesis: state, ppid, pgrp.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rsplit(')').next().unwrap_or("");
            let fields: Vec<&str> = after.split_whitespace().collect();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let ours = fields.get(2) == Some(&group.to_string().as_str())
                || cmdline.windows(needle.len()).any(|w| w == needle);
            ours && !matches!(fields.first(), None | Some(&"Z" | &"X"))
        })
        .collect()
    }
}

impl Drop for Chromium {
    /// Kills the process group and the crash handlers, and waits (5 s at
    /// most) until they are dead, so no browser outlives the test; the
    /// temporary directory goes after. (Init reaps the orphans, maybe a
    /// moment later.)
    fn drop(&mut self) {
        use nix::sys::signal::{kill, killpg, Signal};
        use nix::unistd::Pid;
        let Ok(group) = i32::try_from(self.child.id()) else {
            return;
        };
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let alive = self.alive(group);
            if alive.is_empty() || Instant::now() >= deadline {
                return;
            }
            for pid in alive {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
