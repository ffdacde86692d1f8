//! Requests the CRM makes to other servers (webhook deliveries): Standard Webhooks signing, and
//! a client that connects only to addresses it checked against the SSRF rules.
//!
//! The client resolves a host once, refuses the request if any address it resolved to is
//! forbidden (a name that answers with one public and one private address is refused, so DNS
//! rebinding between records cannot pick the private one), and connects to exactly the
//! addresses it checked: there is no second lookup for an attacker's DNS to answer
//! differently. Redirects are never followed (a 3xx is a failed attempt), so no redirect can
//! lead anywhere unchecked.

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use domain::webhook::{Answer, Destination, Policy, check_address};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The whole request, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(15);
/// An address that does not accept within this is given up on sooner (the worker loop is
/// shared with other jobs).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes of the response body kept for the log.
pub const BODY_KEPT: u64 = 4096;
/// How a secret shows that it is one (Standard Webhooks).
const SECRET_PREFIX: &str = "whsec_";

/// A fresh signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut key = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each
/// secret, space-separated (two while a rotated-out secret still signs).
pub fn signature(secrets: &[&str], message_id: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{message_id}.{timestamp}.{body}");
    let one = |secret: &&str| {
        let key = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        let key = STANDARD.decode(key).unwrap_or_else(|_| key.as_bytes().to_vec());
        // HMAC takes a key of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(signed.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    };
    secrets.iter().map(one).collect::<Vec<_>>().join(" ")
}

/// What a POST found: the answer (or none), and what the log keeps of it.
pub struct Posted {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub answer: Answer,
    pub headers: Option<Vec<(String, String)>>,
    pub body: Option<String>,
    pub error: Option<String>,
}

/// Resolves each host once and hands the client only addresses the policy allows.
struct CheckedResolver {
    policy: Policy,
}

impl ureq::Resolver for CheckedResolver {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let addresses: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        for address in &addresses {
            check_address(address.ip(), self.policy)
                .map_err(|refused| std::io::Error::new(std::io::ErrorKind::PermissionDenied, refused.to_string()))?;
        }
        Ok(addresses)
    }
}

/// Resolves a destination's host and refuses it if any address is forbidden (what saving an
/// endpoint checks; a delivery checks again when it connects).
pub fn check_destination(destination: &Destination, policy: Policy) -> Result<(), String> {
    destination.check_literal(policy).map_err(|refused| refused.to_string())?;
    if let Some(host) = destination.host_name() {
        let resolver = CheckedResolver { policy };
        ureq::Resolver::resolve(&resolver, &format!("{host}:{}", destination.port())).map_err(|error| {
            if error.kind() == std::io::ErrorKind::PermissionDenied {
                error.to_string()
            } else {
                format!("`{host}` does not resolve: {error}")
            }
        })?;
    }
    Ok(())
}

/// POSTs `body` with `headers` to the destination, never following a redirect.
pub fn post(destination: &Destination, policy: Policy, headers: &[(String, String)], body: &str) -> Posted {
    let started_at = Utc::now();
    let clock = Instant::now();
    let finished =
        |answer, headers, body, error| Posted { started_at, duration: clock.elapsed(), answer, headers, body, error };
    if let Err(refused) = destination.check_literal(policy) {
        return finished(Answer::Nothing, None, None, Some(refused.to_string()));
    }
    let agent = ureq::AgentBuilder::new()
        .resolver(CheckedResolver { policy })
        .redirects(0)
        .timeout(TIMEOUT)
        .timeout_connect(CONNECT_TIMEOUT)
        .user_agent(concat!("crm-webhooks/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut request = agent.post(destination.url());
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.send_string(body) {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(transport)) => {
            return finished(Answer::Nothing, None, None, Some(transport.to_string()));
        }
    };
    let code = response.status();
    let headers: Vec<(String, String)> = response
        .headers_names()
        .into_iter()
        .filter_map(|name| response.header(&name).map(|value| (name.clone(), value.to_owned())))
        .collect();
    let retry_after = response.header("retry-after").and_then(|value| retry_after(value, Utc::now()));
    let mut kept = Vec::new();
    let read = response.into_reader().take(BODY_KEPT).read_to_end(&mut kept);
    let error = read.err().map(|error| format!("reading the answer: {error}"));
    let body = String::from_utf8_lossy(&kept).into_owned();
    finished(Answer::Status { code, retry_after }, Some(headers), Some(body), error)
}

/// A `Retry-After` value: seconds, or an HTTP date.
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&Utc) - now).to_std().ok().or(Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's test suite.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let signed = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn while_rotating_both_secrets_sign_space_separated() {
        let signed = signature(&["whsec_AAAA", "whsec_BBBB"], "msg_1", 1, "{}");
        let parts: Vec<&str> = signed.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z").expect("valid").with_timezone(&Utc);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Fri, 04 Dec 2026 10:01:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(retry_after("Fri, 04 Dec 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn the_resolver_refuses_a_name_that_resolves_to_a_forbidden_address_and_hands_on_only_checked_ones() {
        let strict = CheckedResolver { policy: Policy::default() };
        let refused = ureq::Resolver::resolve(&strict, "localhost:80").expect_err("localhost is loopback");
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        let loopback = CheckedResolver { policy: Policy { allow_loopback: true } };
        let addresses = ureq::Resolver::resolve(&loopback, "localhost:80").expect("allowed");
        assert!(!addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback()), "{addresses:?}");
    }

    #[test]
    fn a_post_to_a_forbidden_address_makes_no_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://127.0.0.1:{}/", listener.local_addr().expect("bound").port());
        let destination = Destination::parse(&url).expect("a URL");
        let posted = post(&destination, Policy::default(), &[], "{}");
        assert_eq!(posted.answer, Answer::Nothing);
        assert!(posted.error.expect("why").contains("loopback"));
        assert!(listener.accept().is_err(), "nothing connected");
    }

    #[test]
    fn a_new_secret_is_prefixed_and_carries_32_bytes() {
        let secret = new_secret();
        let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX).expect("valid")).expect("valid");
        assert_eq!(key.len(), 32);
        assert_ne!(new_secret(), secret);
    }
}
