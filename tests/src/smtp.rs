//! A real SMTP server for email tests: it speaks enough of RFC 5321 for a client (greeting,
//! EHLO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) on a loopback port, keeps
//! every message it accepted, and answers RCPT from a script so a test can make it refuse
//! (550, for good) or defer (451, try later).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent: headers, blank line, body.
    pub data: String,
}

impl Mail {
    /// A header's value (the first of that name), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(value) = found.as_mut() {
                if line.starts_with([' ', '\t']) {
                    value.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_owned());
            }
        }
        found
    }
}

#[derive(Default)]
struct Shared {
    mail: Vec<Mail>,
    /// Replies to RCPT, in turn, before going back to 250.
    rcpt_replies: VecDeque<String>,
}

/// The server.
pub struct SmtpSink {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpSink {
    /// How the server under test reaches this sink: plain SMTP on loopback; links in email
    /// point at `public_url`.
    pub fn settings(&self, public_url: &str) -> domain::email::MailSettings {
        domain::email::MailSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            security: domain::email::SmtpSecurity::None,
            credentials: None,
            from: "crm@example.com".into(),
            public_url: public_url.to_owned(),
        }
    }

    /// Starts a server on a free loopback port; it lives as long as the test process.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = serving.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &shared);
                });
            }
        });
        SmtpSink { port, shared }
    }

    /// Answers the next RCPT commands with these replies (e.g. `550 5.1.1 no such user`).
    pub fn refuse_recipients(&self, replies: impl IntoIterator<Item = &'static str>) {
        self.shared.lock().expect("sink").rcpt_replies.extend(replies.into_iter().map(str::to_owned));
    }

    /// The messages accepted so far.
    pub fn mail(&self) -> Vec<Mail> {
        self.shared.lock().expect("sink").mail.clone()
    }

    /// Waits until `count` messages came (panics after `limit`).
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Mail> {
        let start = Instant::now();
        loop {
            let mail = self.mail();
            if mail.len() >= count {
                return mail;
            }
            assert!(start.elapsed() < limit, "the SMTP server got {} of {count} messages in {limit:?}", mail.len());
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn session(stream: TcpStream, shared: &Mutex<Shared>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.write_all(b"220 sink.test ESMTP ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command.split([' ', ':']).next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => out.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")?,
            "HELO" => out.write_all(b"250 sink.test\r\n")?,
            "MAIL" => {
                from = address(&command);
                to.clear();
                out.write_all(b"250 2.1.0 ok\r\n")?;
            }
            "RCPT" => {
                let reply = shared.lock().expect("sink").rcpt_replies.pop_front();
                match reply {
                    Some(reply) => out.write_all(format!("{reply}\r\n").as_bytes())?,
                    None => {
                        to.push(address(&command));
                        out.write_all(b"250 2.1.5 ok\r\n")?;
                    }
                }
            }
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                shared.lock().expect("sink").mail.push(Mail { from: from.clone(), to: to.clone(), data });
                out.write_all(b"250 2.0.0 queued\r\n")?;
            }
            "RSET" => {
                to.clear();
                out.write_all(b"250 2.0.0 ok\r\n")?;
            }
            "NOOP" => out.write_all(b"250 2.0.0 ok\r\n")?,
            "QUIT" => {
                out.write_all(b"221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 5.5.2 not implemented\r\n")?,
        }
    }
}

/// The address in `MAIL FROM:<a>` or `RCPT TO:<a>`.
fn address(command: &str) -> String {
    command.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a.to_owned()).unwrap_or_default()
}
