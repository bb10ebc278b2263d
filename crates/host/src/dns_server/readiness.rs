//! Whether a DNS server answers what it is configured to answer: the SOA
//! of each of its zones, NOERROR, in turn; with no zone, `version.bind`
//! in the CHAOS class, which unbound and BIND answer themselves. The
//! questions go over UDP from a socket opened once inside the server's
//! namespace, to 127.0.0.1:53, each sent again every [`RESEND`] until
//! answered; nothing here waits.

use super::DnsName;
use anyhow::Result;
use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// How often an unanswered question is sent again.
const RESEND: Duration = Duration::from_millis(250);

const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const CLASS_IN: u16 = 1;
const CLASS_CH: u16 = 3;

/// One readiness question.
#[derive(Debug)]
struct Question {
    /// In words, for a report: `SOA corp.contoso.com`.
    text: String,
    message: Vec<u8>,
    /// Whether only NOERROR will do (a zone's SOA); `version.bind` may be
    /// refused by a server configured to hide it, and still shows it
    /// answers.
    needs_noerror: bool,
}

/// How the questions stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ProbeState {
    Ready,
    /// The question waited for, and the last answer it got, in words.
    Waiting(String),
}

/// The questions of one server and the socket that asks them.
#[derive(Debug)]
pub(super) struct Probe {
    socket: UdpSocket,
    questions: Vec<Question>,
    /// The question being asked.
    at: usize,
    sent: Option<Instant>,
    /// The last answer to the question being asked, in words.
    last_answer: Option<String>,
}

impl Probe {
    /// A socket in `netns` and the questions for a server of `zones`.
    pub(super) fn open(netns: &str, zones: &[DnsName]) -> Result<Probe> {
        let socket = crate::netns::run_in(netns, || {
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            socket.connect("127.0.0.1:53")?;
            Ok(socket)
        })?;
        socket.set_nonblocking(true)?;
        let questions = if zones.is_empty() {
            vec![Question {
                text: "`version.bind` (CHAOS TXT)".to_string(),
                message: query(0x7601, &["version", "bind"], TYPE_TXT, CLASS_CH),
                needs_noerror: false,
            }]
        } else {
            (zones.iter().zip(0x7602u16..))
                .map(|(zone, id)| Question {
                    text: format!("the SOA of its zone {zone}"),
                    message: query(
                        id,
                        &zone.as_str().split('.').collect::<Vec<_>>(),
                        TYPE_SOA,
                        CLASS_IN,
                    ),
                    needs_noerror: true,
                })
                .collect()
        };
        Ok(Probe {
            socket,
            questions,
            at: 0,
            sent: None,
            last_answer: None,
        })
    }

    /// Reads what answers arrived and sends the question being asked (again)
    /// when it is due.
    pub(super) fn poll(&mut self, now: Instant) -> ProbeState {
        let mut buffer = [0u8; 512];
        loop {
            match self.socket.recv(&mut buffer) {
                Ok(n) => self.answered(&buffer[..n]),
                // Refused: nothing listens yet.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(_) => break,
            }
            if self.at == self.questions.len() {
                return ProbeState::Ready;
            }
        }
        if self.sent.is_none_or(|at| now.duration_since(at) >= RESEND) {
            let _ = self.socket.send(&self.questions[self.at].message);
            self.sent = Some(now);
        }
        let question = &self.questions[self.at];
        ProbeState::Waiting(match &self.last_answer {
            None => question.text.clone(),
            Some(answer) => format!("{} (it answered {answer})", question.text),
        })
    }

    /// An answer: the next question when it is the one waited for and good.
    fn answered(&mut self, answer: &[u8]) {
        let question = &self.questions[self.at];
        if answer.len() < 12 || answer[..2] != question.message[..2] || answer[2] & 0x80 == 0 {
            return;
        }
        let rcode = answer[3] & 0x0f;
        if rcode == 0 || !question.needs_noerror {
            self.at += 1;
            self.sent = None;
            self.last_answer = None;
        } else {
            self.last_answer = Some(rcode_name(rcode));
        }
    }
}

/// A query: id, recursion desired, one question.
fn query(id: u16, labels: &[&str], qtype: u16, qclass: u16) -> Vec<u8> {
    let mut message = Vec::with_capacity(32);
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in labels {
        // Labels of a DnsName: 1 to 63 bytes.
        message.push(label.len() as u8);
        message.extend_from_slice(label.as_bytes());
    }
    message.push(0);
    message.extend_from_slice(&qtype.to_be_bytes());
    message.extend_from_slice(&qclass.to_be_bytes());
    message
}

fn rcode_name(rcode: u8) -> String {
    match rcode {
        1 => "FORMERR".to_string(),
        2 => "SERVFAIL".to_string(),
        3 => "NXDOMAIN".to_string(),
        4 => "NOTIMP".to_string(),
        5 => "REFUSED".to_string(),
        other => format!("RCODE {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_asks_one_question_with_recursion_desired() {
        let q = query(0x7602, &["corp", "example"], TYPE_SOA, CLASS_IN);
        assert_eq!(
            q,
            [
                0x76, 0x02, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 4, b'c', b'o', b'r', b'p', 7, b'e',
                b'x', b'a', b'm', b'p', b'l', b'e', 0, 0, 6, 0, 1
            ]
        );
    }
}
