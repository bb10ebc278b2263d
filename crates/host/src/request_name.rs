//! The name a client asks a server for, read from the first bytes of its
//! connection before any server answers: the server name (SNI) of a TLS
//! ClientHello, read by `rustls`, or the `Host` of an HTTP request's head,
//! read by `httparse`. What a router that judges connections by name (a
//! transparent proxy) needs, and nothing of what the names are for.

/// What the first bytes of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A TLS ClientHello, with the server name it asks for (none when it
    /// sends no SNI).
    Tls(Option<String>),
    /// An HTTP request head, with its `Host` (without a port).
    Http(Option<String>),
    /// Neither: bytes of another protocol, or a head that does not parse.
    Other,
}

/// How much of a connection's start [`read`] looks at, at most.
pub const MAX_START: usize = 16 << 10;

/// What `start`, the first bytes of a connection, asks for; `None`: not
/// enough bytes yet to tell.
pub fn read(start: &[u8]) -> Option<Asked> {
    let first = *start.first()?;
    // A TLS handshake record (content type 22, version 3.x).
    if first == 0x16 {
        return read_tls(start);
    }
    read_http(start)
}

fn read_tls(start: &[u8]) -> Option<Asked> {
    if start.len() < 5 {
        return None;
    }
    let mut acceptor = rustls::server::Acceptor::default();
    let mut bytes = start;
    while !bytes.is_empty() {
        match acceptor.read_tls(&mut bytes) {
            Ok(0) | Err(_) => return Some(Asked::Other),
            Ok(_) => {}
        }
    }
    match acceptor.accept() {
        Ok(Some(accepted)) => Some(Asked::Tls(
            accepted.client_hello().server_name().map(str::to_string),
        )),
        // The ClientHello is not whole yet.
        Ok(None) if start.len() < MAX_START => None,
        Ok(None) | Err(_) => Some(Asked::Other),
    }
}

fn read_http(start: &[u8]) -> Option<Asked> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(start) {
        Ok(httparse::Status::Complete(_)) => {
            let host = request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("host"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(host_without_port);
            Some(Asked::Http(host))
        }
        Ok(httparse::Status::Partial) if start.len() < MAX_START => None,
        Ok(httparse::Status::Partial) | Err(_) => Some(Asked::Other),
    }
}

/// The request target of an HTTP request head (`/dists/noble/Release`),
/// when `start` holds a whole one.
pub fn http_path(start: &[u8]) -> Option<String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(start) {
        Ok(httparse::Status::Complete(_)) => request.path.map(str::to_string),
        _ => None,
    }
}

/// `example.com:8080` → `example.com`; `[2001:db8::1]:80` → `2001:db8::1`.
fn host_without_port(host: &str) -> String {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
        _ => host.to_string(),
    }
}

/// The first bytes a TLS client sends to ask for `server_name`: a
/// ClientHello written by `rustls`; `None` for a name TLS cannot carry.
pub fn client_hello(server_name: &str) -> Option<Vec<u8>> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).ok()?;
    let mut client = rustls::ClientConnection::new(std::sync::Arc::new(config), name).ok()?;
    let mut hello = Vec::new();
    client.write_tls(&mut hello).ok()?;
    Some(hello)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_head_gives_its_host_and_a_partial_one_waits() {
        let head = b"GET / HTTP/1.1\r\nHost: Archive.Ubuntu.com:80\r\nAccept: */*\r\n\r\n";
        assert_eq!(
            read(head),
            Some(Asked::Http(Some("Archive.Ubuntu.com".into())))
        );
        assert_eq!(read(&head[..20]), None);
        assert_eq!(read(b"\x12\x01\x00\x2f"), Some(Asked::Other));
        assert_eq!(read(b"GET / HTTP/1.0\r\n\r\n"), Some(Asked::Http(None)));
    }

    #[test]
    fn a_client_hello_gives_its_server_name() {
        // A real ClientHello, written by rustls's own client.
        let hello = client_hello("github.com").unwrap();
        assert_eq!(read(&hello), Some(Asked::Tls(Some("github.com".into()))));
        assert_eq!(read(&hello[..hello.len() / 2]), None);
    }
}
