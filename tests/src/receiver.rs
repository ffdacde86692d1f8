//! A real HTTP receiver for webhook tests: a small HTTP/1.1 server on loopback (its own
//! thread, plain `std::net`) that keeps every request and answers from a script, so a test can
//! make it fail on purpose; and the Standard Webhooks verification a receiver runs.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// An answer the receiver gives.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long the receiver takes before it answers.
    pub delay: Duration,
}

impl Reply {
    /// A status with a short body.
    pub fn status(status: u16) -> Self {
        Reply { status, headers: Vec::new(), body: format!("answer {status}"), delay: Duration::ZERO }
    }

    /// Answers only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    script: VecDeque<Reply>,
}

/// The receiver: answers the scripted replies in turn, then 200.
pub struct Receiver {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port; it lives as long as the test process.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().expect("bound").port());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = serving.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { url, shared }
    }

    /// Answers these next, in order, before going back to 200.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.lock().expect("receiver").script.extend(replies);
    }

    /// What was received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().expect("receiver").received.clone()
    }

    /// Waits until `count` requests came (panics after `limit`).
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(start.elapsed() < limit, "the receiver got {} of {count} requests in {limit:?}", received.len());
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn serve(stream: std::net::TcpStream, shared: &Mutex<Shared>) {
    let mut reader = BufReader::new(stream.try_clone().expect("a stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let reply = {
        let mut shared = shared.lock().expect("receiver");
        shared.received.push(Received { path, headers, body: String::from_utf8_lossy(&body).into_owned() });
        shared.script.pop_front().unwrap_or(Reply {
            status: 200,
            headers: Vec::new(),
            body: "ok".into(),
            delay: Duration::ZERO,
        })
    };
    std::thread::sleep(reply.delay);
    let mut answer =
        format!("HTTP/1.1 {} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n", reply.status, reply.body.len());
    for (name, value) in &reply.headers {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    answer.push_str("\r\n");
    answer.push_str(&reply.body);
    let mut stream = stream;
    let _ = stream.write_all(answer.as_bytes());
}

/// Verifies a request as the Standard Webhooks specification tells a receiver to: the
/// timestamp within five minutes, and one `v1` signature of `id.timestamp.body` by `secret`
/// (compared in constant time by the MAC).
pub fn verify(secret: &str, request: &Received) -> Result<(), String> {
    let id = request.header("webhook-id").ok_or("no webhook-id")?;
    let timestamp = request.header("webhook-timestamp").ok_or("no webhook-timestamp")?;
    let signatures = request.header("webhook-signature").ok_or("no webhook-signature")?;
    let at: i64 = timestamp.parse().map_err(|_| "webhook-timestamp is not a number")?;
    if (chrono::Utc::now().timestamp() - at).abs() > 300 {
        return Err("webhook-timestamp is more than five minutes off".into());
    }
    let key =
        STANDARD.decode(secret.strip_prefix("whsec_").ok_or("not a whsec_ secret")?).map_err(|e| e.to_string())?;
    for signature in signatures.split(' ') {
        let Some(encoded) = signature.strip_prefix("v1,") else { continue };
        let Ok(given) = STANDARD.decode(encoded) else { continue };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
        mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
        if mac.verify_slice(&given).is_ok() {
            return Ok(());
        }
    }
    Err(format!("no signature in `{signatures}` is by this secret"))
}
