//! Who the HTTP listeners answer: every request must name a host the lab
//! answers to (against DNS rebinding: an IP address, `localhost`, or a
//! name given with `--allow-host`) and, from a browser, come from the
//! page itself (its `Origin` and `Sec-Fetch-Site`); what shows the lab
//! (the metrics, the page's data, events and captures) needs the run's
//! token as well, as `Authorization: Bearer TOKEN` (Prometheus, scripts,
//! the page's own fetches) or `?token=TOKEN` (the page's event stream and
//! capture links, which cannot send a header). The page's files hold
//! nothing of the lab and need no token.
//!
//! The token is 32 bytes from the OS random source, drawn for each run
//! unless a file gives a fixed one ([`Token::read_or_create`]), and
//! compared in constant time.

use super::counters::{HttpCounters, Refusal};
use anyhow::{bail, Context};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The secret a request shows to be answered.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The shortest token a file may give.
const MIN_TOKEN_LEN: usize = 32;
/// The longest.
const MAX_TOKEN_LEN: usize = 256;

impl Token {
    /// 32 bytes of the OS random source, in hexadecimal.
    pub fn generate() -> anyhow::Result<Token> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("reading the OS random source: {e}"))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token as a file or an option gives it: 32 to 256 characters of
    /// the ones a bearer token may hold (letters, digits, `-._~+/=`).
    pub fn parse(text: &str) -> anyhow::Result<Token> {
        let text = text.trim();
        if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&text.len()) {
            bail!(
                "a token has {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} characters, this one {}",
                text.len()
            );
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
        if let Some(c) = text.chars().find(|c| !allowed(*c)) {
            bail!("a token holds letters, digits and `-._~+/=`, not {c:?}");
        }
        Ok(Token(text.to_string()))
    }

    /// The token in `path`, or a new one written there (mode 0600) when
    /// there is no such file. A file every user may read is refused.
    pub fn read_or_create(path: &Path) -> anyhow::Result<Token> {
        match std::fs::metadata(path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o004 != 0 {
                    bail!(
                        "{} can be read by every user: `chmod o-rwx {}` (the token lets its \
                         holder capture the lab's packets)",
                        path.display(),
                        path.display()
                    );
                }
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Token::parse(&text).with_context(|| format!("the token in {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let token = Token::generate()?;
                token.write_new(path)?;
                Ok(token)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the token to a new file `path` that only its owner may read;
    /// a file already there (a killed run's) is replaced.
    pub fn write_private(&self, path: &Path) -> anyhow::Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("replacing {}", path.display())),
        }
        self.write_new(path)
    }

    fn write_new(&self, path: &Path) -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        writeln!(file, "{}", self.0).with_context(|| format!("writing {}", path.display()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is the token, in time that depends on its length
    /// only.
    pub fn matches(&self, offered: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(offered.as_bytes()))
    }
}

/// Who a run's HTTP listeners answer.
#[derive(Debug)]
pub struct Access {
    token: Token,
    /// DNS names answered besides `localhost` (`--allow-host`), lower case.
    names: Vec<String>,
}

impl Access {
    /// `names`: host names to answer besides `localhost` and IP addresses.
    pub fn new(token: Token, names: &[String]) -> anyhow::Result<Access> {
        let names = names
            .iter()
            .map(|n| {
                let name = n.trim_end_matches('.').to_ascii_lowercase();
                let label_ok = |l: &str| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                };
                if name.len() > 253 || !name.split('.').all(label_ok) {
                    bail!("`{n}` is not a host name");
                }
                Ok(name)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Access { token, names })
    }

    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Whether a request for `authority` (a `Host` header: name or address,
    /// and a port) is for this lab: an IP address (no DNS answer can lead a
    /// browser there under a name of its choosing), `localhost`, or a name
    /// allowed.
    pub fn host_allowed(&self, authority: &str) -> bool {
        match host_of(authority) {
            Some(Host::Address) => true,
            Some(Host::Name(name)) => name == "localhost" || self.names.contains(&name),
            None => false,
        }
    }

    /// The token a request shows: its `Authorization: Bearer`, else its
    /// `token=` query parameter.
    fn offered_token(&self, headers: &HeaderMap, uri: &Uri) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct WithToken {
            token: Option<String>,
        }
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
            return scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string());
        }
        axum::extract::Query::<WithToken>::try_from_uri(uri)
            .ok()?
            .0
            .token
    }
}

enum Host {
    Address,
    Name(String),
}

/// The host of an authority (`name:port`, `[v6]:port`, `a.b.c.d`), told
/// apart as an address or a name (lower case, without a final dot).
fn host_of(authority: &str) -> Option<Host> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            v6.parse::<std::net::Ipv6Addr>().ok()?;
            return match after {
                "" => Some(Host::Address),
                p if p.strip_prefix(':').is_some_and(all_digits) => Some(Host::Address),
                _ => None,
            };
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if port.is_some_and(|p| !all_digits(p)) || host.is_empty() {
        return None;
    }
    if host.parse::<IpAddr>().is_ok() {
        return Some(Host::Address);
    }
    Some(Host::Name(host.trim_end_matches('.').to_ascii_lowercase()))
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// What every listener's requests pass through.
#[derive(Clone, Debug)]
pub struct Gate {
    pub access: Arc<Access>,
    pub counters: Arc<HttpCounters>,
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, format!("{message}\n")).into_response()
}

/// Turns away a request for another host (DNS rebinding) or sent by
/// another site's page; marks every answer as not to be framed, sniffed
/// or referred.
pub async fn only_the_lab(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{0}"));
    // A request in absolute form names its host in its target too: both
    // must be the lab's. No host at all is no browser's request (HTTP/1.0
    // from a script).
    let named = host
        .into_iter()
        .chain(request.uri().authority().map(|a| a.as_str()));
    for name in named {
        if !gate.access.host_allowed(name) {
            gate.counters.refused(Refusal::Host);
            return refused(
                StatusCode::FORBIDDEN,
                "this lab answers requests for its IP addresses, localhost and the names given \
                 with --allow-host only",
            );
        }
    }
    let host = host.or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !same_origin(headers, host) {
        gate.counters.refused(Refusal::Origin);
        return refused(
            StatusCode::FORBIDDEN,
            "this lab answers its own page only, not another site's",
        );
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether a browser's request comes from a page of this very origin (or
/// from no page: an address typed or a bookmark). A request that is not a
/// browser's carries neither header.
fn same_origin(headers: &HeaderMap, host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or_default();
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match (authority, host) {
        (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// Answers only a request that shows the token.
pub async fn with_token(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let shown = gate
        .access
        .offered_token(request.headers(), request.uri())
        .is_some_and(|offered| gate.access.token.matches(&offered));
    if shown {
        return next.run(request).await;
    }
    gate.counters.refused(Refusal::Token);
    let mut response = refused(
        StatusCode::UNAUTHORIZED,
        "this needs the lab's token: open the address `vnetd run` printed (it ends in \
         ?token=...), or send `Authorization: Bearer TOKEN` with the token of the file it named",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"vnetd\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(names: &[&str]) -> Access {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        Access::new(Token::generate().unwrap(), &names).unwrap()
    }

    #[test]
    fn addresses_localhost_and_allowed_names_are_answered() {
        let a = access(&["Lab1.Example."]);
        for host in [
            "127.0.0.1",
            "127.0.0.1:9470",
            "192.0.2.7:9469",
            "[::1]:9470",
            "[fe80::1]",
            "localhost:9470",
            "LOCALHOST",
            "localhost.:1",
            "lab1.example:9469",
            "LAB1.example",
        ] {
            assert!(a.host_allowed(host), "{host}");
        }
        for host in [
            "rebind.example",
            "rebind.example:9470",
            "127.0.0.1.nip.io:9470",
            "localhost.rebind.example",
            "lab1.example.evil",
            "",
            ":9470",
            "[::1",
            "[::1]x",
            "[rebind.example]:1",
            "127.0.0.1:port",
            "2130706433",
        ] {
            assert!(!a.host_allowed(host), "{host}");
        }
        assert!(Access::new(Token::generate().unwrap(), &["a b".into()]).is_err());
    }

    #[test]
    fn a_browser_request_must_come_from_the_page() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let host = Some("127.0.0.1:9470");
        let from_page = |pairs: &[_]| same_origin(&headers(pairs), host);
        assert!(from_page(&[]));
        assert!(from_page(&[
            ("origin", "http://127.0.0.1:9470"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(from_page(&[("sec-fetch-site", "none")]));
        assert!(!from_page(&[("origin", "http://127.0.0.1:8000")]));
        assert!(!from_page(&[("origin", "http://rebind.example")]));
        assert!(!from_page(&[("origin", "null")]));
        assert!(!from_page(&[("sec-fetch-site", "cross-site")]));
        assert!(!from_page(&[("sec-fetch-site", "same-site")]));
        assert!(!same_origin(
            &headers(&[("origin", "http://127.0.0.1:9470")]),
            None
        ));
    }

    #[test]
    fn tokens_are_random_readable_and_compared_whole() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(&a.as_str()[..63]));
        assert!(!a.matches(""));
        assert!(Token::parse("short").is_err());
        assert!(Token::parse(&"x".repeat(31)).is_err());
        assert!(Token::parse(&format!("{}\"", "x".repeat(40))).is_err());
        assert_eq!(
            Token::parse(&format!(" {}\n", "a".repeat(40)))
                .unwrap()
                .as_str(),
            "a".repeat(40)
        );
        assert_eq!(format!("{a:?}"), "Token(..)");
    }

    #[test]
    fn a_token_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let first = Token::read_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(Token::read_or_create(&path).unwrap(), first);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = Token::read_or_create(&path).unwrap_err().to_string();
        assert!(refused.contains("can be read by every user"), "{refused}");
        // A killed run's file is replaced.
        let next = Token::generate().unwrap();
        next.write_private(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Token::read_or_create(&path).unwrap(), next);
    }

    #[test]
    fn the_token_is_taken_from_the_header_or_the_query() {
        let a = access(&[]);
        let token = a.token.as_str().to_string();
        let uri: Uri = format!("/capture/vm1.pcapng?seconds=5&token={token}")
            .parse()
            .unwrap();
        assert_eq!(
            a.offered_token(&HeaderMap::new(), &uri).as_deref(),
            Some(token.as_str())
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("bearer {token}")).unwrap(),
        );
        let plain: Uri = "/metrics".parse().unwrap();
        assert_eq!(
            a.offered_token(&headers, &plain).as_deref(),
            Some(token.as_str())
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        assert_eq!(a.offered_token(&headers, &plain), None);
        assert_eq!(a.offered_token(&HeaderMap::new(), &plain), None);
    }
}
