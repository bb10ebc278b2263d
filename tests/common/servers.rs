//! Servers the end-to-end tests run in a lab's namespaces: an HTTP echo
//! server (plain or TLS) that answers with the client address it saw, and
//! the question the Internet's echo server answers.

use super::stdout_in;

/// An HTTP server of python3's on `port` of a namespace that answers every
/// GET with the client address it saw, then `name` when one is given (an
/// ifconfig.me-style service, or a backend saying who it is); over TLS
/// with `tls` (certificate and key files). Stopped when dropped.
pub struct EchoServer(std::process::Child);

impl EchoServer {
    pub fn start(
        ns: &str,
        port: u16,
        name: Option<&str>,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> EchoServer {
        EchoServer::start_at(ns, &port.to_string(), name, tls)
    }

    /// [`EchoServer::start`] bound to `at`: a port (every address), or
    /// `ADDRESS:PORT` (that address alone, IPv4).
    pub fn start_at(
        ns: &str,
        at: &str,
        name: Option<&str>,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> EchoServer {
        const SERVE: &str = "import http.server, socketserver, ssl, sys
host, _, port = sys.argv[1].rpartition(':')
host, port, name = host or '0.0.0.0', int(port), sys.argv[2]
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (' '.join(filter(None, [self.client_address[0], name])) + '\\n').encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
socketserver.TCPServer.allow_reuse_address = True
server = socketserver.TCPServer((host, port), Echo)
if len(sys.argv) > 3:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
";
        let mut command = std::process::Command::new("ip");
        command
            .args(["netns", "exec", ns, "python3", "-c", SERVE])
            .arg(at)
            .arg(name.unwrap_or_default());
        if let Some((cert, key)) = tls {
            command.arg(cert).arg(key);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs the echo server");
        EchoServer(child)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the Internet's echo server at 203.0.113.10 answered `curl` from
/// `ns` with first: the source address it saw; empty when the connection
/// failed.
pub fn echo_seen(ns: &str) -> String {
    let answer = stdout_in(ns, &["curl", "-s", "-m", "5", "http://203.0.113.10/"]);
    answer.lines().next().unwrap_or_default().trim().to_string()
}
