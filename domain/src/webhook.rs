//! Outbound webhooks: an endpoint as an admin defines it, which destinations a delivery may
//! reach (the SSRF rules), and when a failed delivery is tried again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use url::{Host, Url};
use utoipa::ToSchema;

use crate::validation::{FieldError, ValidationErrors};

/// The longest endpoint URL kept.
pub const URL_MAX: usize = 2000;
/// At most this many event types per endpoint.
pub const EVENT_TYPES_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 500;

/// An endpoint deliveries go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// Where deliveries are posted: `http` or `https`, no credentials, no fragment.
    #[schema(example = "https://hooks.example.com/crm", max_length = 2000)]
    pub url: String,
    /// The event types it wants (`contact.created`, `deal.stage_changed`, ...); absent or
    /// `null` for every event.
    #[serde(default)]
    #[schema(example = json!(["deal.stage_changed", "contact.created"]), max_items = 100)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Deliveries are made only while active; a `410 Gone` answer or five days of failures
    /// turn it off.
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

impl WebhookEndpoint {
    /// Checks the endpoint as a whole: its URL's shape (where it may point is
    /// [`Destination::check_literal`]'s, under the installation's policy), its event types.
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Err(error) = Destination::parse(&self.url) {
            errors.push(FieldError::new("url", error.code(), error.to_string()));
        }
        if let Some(types) = &mut self.event_types {
            if types.len() > EVENT_TYPES_MAX {
                errors.push(FieldError::new("event_types", "too_long", format!("at most {EVENT_TYPES_MAX} types")));
            }
            for (index, name) in types.iter().enumerate() {
                if !crate::events::is_event_type(name) {
                    errors.push(FieldError::new(format!("event_types[{index}]"), "unknown", "is not an event type"));
                }
            }
            types.sort();
            types.dedup();
        }
        if self.description.as_ref().is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
            errors.push(FieldError::new("description", "too_long", format!("at most {DESCRIPTION_MAX} characters")));
        }
        errors.into_result(|| self)
    }

    /// Whether an event of this type goes to the endpoint.
    pub fn wants(&self, event_type: &str) -> bool {
        self.active && self.event_types.as_ref().is_none_or(|types| types.iter().any(|t| t == event_type))
    }
}

/// Which destinations this installation allows besides public addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Loopback receivers (127.0.0.0/8, ::1), for tests and single-host setups only.
    pub allow_loopback: bool,
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("is not a URL: {0}")]
    NotUrl(String),
    #[error("must be an http or https URL")]
    Scheme,
    #[error("may not carry a user name or password")]
    Credentials,
    #[error("may not have a fragment")]
    Fragment,
    #[error("is longer than {URL_MAX} characters")]
    TooLong,
    #[error("names no host")]
    NoHost,
    #[error("{address} is in the {range} range, which webhooks may not reach")]
    Address { address: IpAddr, range: &'static str },
    #[error("`{0}` names this machine, which webhooks may not reach")]
    LocalName(String),
}

impl Refused {
    /// The machine-readable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::Address { .. } | Refused::LocalName(_) => "forbidden_destination",
            Refused::TooLong => "too_long",
            _ => "invalid",
        }
    }
}

/// A parsed endpoint URL: what must be resolved and checked before connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    url: Url,
}

impl Destination {
    /// Parses a URL the way the HTTP client will (WHATWG: `http://2130706433/`,
    /// `http://0177.1/` and `http://0x7f.1/` are all 127.0.0.1), so the address checked is
    /// the address used.
    pub fn parse(text: &str) -> Result<Self, Refused> {
        if text.len() > URL_MAX {
            return Err(Refused::TooLong);
        }
        let url = Url::parse(text).map_err(|e| Refused::NotUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        if url.fragment().is_some() {
            return Err(Refused::Fragment);
        }
        if url.host().is_none() {
            return Err(Refused::NoHost);
        }
        Ok(Destination { url })
    }

    /// The URL as it will be requested.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The host name to resolve, when the URL does not name an address.
    pub fn host_name(&self) -> Option<&str> {
        match self.url.host() {
            Some(Host::Domain(name)) => Some(name),
            _ => None,
        }
    }

    /// The port connected to.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(80)
    }

    /// Refuses what can be told without resolving: a literal address in a forbidden range,
    /// and `localhost` names.
    pub fn check_literal(&self, policy: Policy) -> Result<(), Refused> {
        match self.url.host() {
            Some(Host::Ipv4(address)) => check_address(IpAddr::V4(address), policy),
            Some(Host::Ipv6(address)) => check_address(IpAddr::V6(address), policy),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if (name == "localhost" || name.ends_with(".localhost")) && !policy.allow_loopback {
                    Err(Refused::LocalName(name))
                } else {
                    Ok(())
                }
            }
            None => Err(Refused::NoHost),
        }
    }
}

/// Refuses an address webhooks may not reach: everything but public unicast addresses
/// (loopback only when the policy allows it).
pub fn check_address(address: IpAddr, policy: Policy) -> Result<(), Refused> {
    match forbidden_range(address) {
        Some("loopback") if policy.allow_loopback => Ok(()),
        Some(range) => Err(Refused::Address { address, range }),
        None => Ok(()),
    }
}

/// The special-purpose range an address is in (RFC 6890 and the IANA registries), if any.
pub fn forbidden_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    Some(match (a, b, c) {
        (0, _, _) => "this-network",
        (10, _, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT)",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local",
        (172, 16..=31, _) => "private",
        (192, 0, 0) => "IETF protocol assignments",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay",
        (192, 168, _) => "private",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn v6_range(address: Ipv6Addr) -> Option<&'static str> {
    let segments = address.segments();
    if address.is_loopback() {
        return Some("loopback");
    }
    if address.is_unspecified() {
        return Some("unspecified");
    }
    Some(match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] => "IPv4-mapped",
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible",
        [0, 0, 0, 0, 0xffff, 0, _, _] => "IPv4-translated",
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => "NAT64",
        [0x100, 0, 0, 0, ..] => "discard-only",
        [0x2001, 0, ..] => "Teredo",
        [0x2001, 0x0db8, ..] | [0x3fff, 0..=0x0fff, ..] => "documentation",
        [0x2001, 0x0000..=0x01ff, ..] => "IETF protocol assignments",
        [0x2002, ..] => "6to4",
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique-local",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local",
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local",
        [first, ..] if first & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    })
}

/// How long after each failed attempt the next one is made (Standard Webhooks' schedule:
/// about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h); ten attempts in all.
const RETRY_DELAYS: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];
/// The longest wait a receiver's `Retry-After` can ask for.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(24 * 3600);
/// Days the delivery log keeps a delivery.
pub const LOG_DAYS: u32 = 30;
/// An endpoint failing this long is turned off.
pub const FAILING_LIMIT: TimeDelta = chrono::TimeDelta::days(5);

/// The wait before the attempt after `attempt` (1 for the first) failed, or `None` when that
/// was the last. A receiver's `Retry-After` replaces the schedule's wait (within a day); the
/// schedule's waits vary by ±10 % (`jitter` in -1..=1) so retries do not arrive in lockstep.
pub fn retry_delay(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
    let scheduled = RETRY_DELAYS.get(usize::try_from(attempt.checked_sub(1)?).ok()?)?;
    Some(match retry_after {
        Some(asked) => asked.clamp(Duration::from_secs(1), RETRY_AFTER_MAX),
        None => scheduled.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0)),
    })
}

/// How many attempts a delivery gets.
pub const ATTEMPTS: u32 = RETRY_DELAYS.len() as u32 + 1;

/// What an attempt got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP status, with the wait a `Retry-After` asked for.
    Status { code: u16, retry_after: Option<Duration> },
    /// No answer: the destination was refused, or the connection failed or timed out.
    Nothing,
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Only a 2xx counts.
    pub delivered: bool,
    /// When to try again; `None` when delivered or given up.
    pub retry_in: Option<Duration>,
    /// Why the endpoint is to be turned off.
    pub disable: Option<&'static str>,
}

/// Judges attempt `attempt` (1 for the first): `failing_since` is since when the endpoint's
/// attempts have all failed, this one included.
pub fn judge(
    attempt: u32,
    answer: Answer,
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    jitter: f64,
) -> Verdict {
    let (retry_after, gone) = match answer {
        Answer::Status { code: 200..=299, .. } => return Verdict { delivered: true, retry_in: None, disable: None },
        Answer::Status { code, retry_after } => (retry_after, code == 410),
        Answer::Nothing => (None, false),
    };
    let disable = if gone {
        Some("the endpoint answered 410 Gone")
    } else if failing_since.is_some_and(|since| now - since >= FAILING_LIMIT) {
        Some("every delivery failed for 5 days")
    } else {
        None
    };
    let retry_in = if disable.is_some() { None } else { retry_delay(attempt, retry_after, jitter) };
    Verdict { delivered: false, retry_in, disable }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> Option<Refused> {
        Destination::parse(url).and_then(|d| d.check_literal(Policy::default())).err()
    }

    #[test]
    fn literal_addresses_in_every_special_range_and_their_numeric_spellings_are_refused() {
        let cases = [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://127.0.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.0.0.1/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://0x7f.1/",
            "http://127.255.255.254:8080/x",
            "http://0.0.0.0/",
            "http://0/",
            "http://10.0.0.1/",
            "http://012.0.0.1/",
            "http://167772161/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://0xc0a80101/",
            "http://3232235777/",
            "http://100.64.0.1/",
            "http://100.127.255.255/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0xa9fea9fe/",
            "http://2852039166/",
            "http://192.0.0.8/",
            "http://192.0.2.1/",
            "http://198.51.100.7/",
            "http://203.0.113.9/",
            "http://192.88.99.1/",
            "http://198.18.0.1/",
            "http://224.0.0.1/",
            "http://239.255.255.250/",
            "http://240.0.0.1/",
            "http://255.255.255.255/",
            "http://[::1]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[::ffff:8.8.8.8]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[64:ff9b::8.8.8.8]/",
            "http://[64:ff9b:1::a00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[2002:a00:1::1]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://[fc00::1]/",
            "http://[fd12:3456:789a::1]/",
            "http://[fe80::1]/",
            "http://[fec0::1]/",
            "http://[ff02::1]/",
            "http://[2001:db8::1]/",
            "http://[100::1]/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "https://[::ffff:169.254.169.254]/",
        ];
        for url in cases {
            let refusal = refused(url).unwrap_or_else(|| panic!("{url} was allowed"));
            assert_eq!(refusal.code(), "forbidden_destination", "{url}: {refusal}");
        }
        assert!(cases.len() >= 40);
    }

    #[test]
    fn public_addresses_and_names_pass_the_literal_check() {
        for url in [
            "https://hooks.example.com/crm",
            "http://8.8.8.8/",
            "http://134744072/",
            "https://[2606:4700:4700::1111]/hook",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://192.169.0.1/",
            "https://example.com:8443/a?b=c",
        ] {
            assert_eq!(refused(url), None, "{url}");
        }
    }

    #[test]
    fn urls_that_are_not_plain_http_are_refused_with_what_is_wrong() {
        assert_eq!(refused("ftp://example.com/"), Some(Refused::Scheme));
        assert_eq!(refused("file:///etc/passwd"), Some(Refused::Scheme));
        assert_eq!(refused("https://user:pw@example.com/"), Some(Refused::Credentials));
        assert_eq!(refused("https://example.com/#x"), Some(Refused::Fragment));
        assert!(matches!(refused("not a url"), Some(Refused::NotUrl(_))));
        assert_eq!(refused(&format!("https://example.com/{}", "a".repeat(URL_MAX))), Some(Refused::TooLong));
    }

    #[test]
    fn loopback_is_allowed_only_when_the_policy_says_so_and_nothing_else_with_it() {
        let allow = Policy { allow_loopback: true };
        assert_eq!(check_address("127.0.0.1".parse().expect("an address"), allow), Ok(()));
        assert_eq!(check_address("::1".parse().expect("an address"), allow), Ok(()));
        assert!(check_address("10.0.0.1".parse().expect("an address"), allow).is_err());
        assert!(check_address("::ffff:127.0.0.1".parse().expect("an address"), allow).is_err());
        assert!(check_address("127.0.0.1".parse().expect("an address"), Policy::default()).is_err());
    }

    #[test]
    fn retries_follow_the_schedule_within_ten_percent_and_stop_after_the_tenth_attempt() {
        assert_eq!(retry_delay(1, None, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(2, None, 1.0), Some(Duration::from_secs(330)));
        assert_eq!(retry_delay(9, None, -1.0), Some(Duration::from_secs(24 * 3600).mul_f64(0.9)));
        assert_eq!(retry_delay(10, None, 0.0), None);
        assert_eq!(retry_delay(0, None, 0.0), None);
        assert_eq!(ATTEMPTS, 10);
    }

    #[test]
    fn a_retry_after_replaces_the_wait_within_a_second_and_a_day() {
        assert_eq!(retry_delay(1, Some(Duration::from_secs(120)), 0.5), Some(Duration::from_secs(120)));
        assert_eq!(retry_delay(1, Some(Duration::ZERO), 0.0), Some(Duration::from_secs(1)));
        assert_eq!(retry_delay(3, Some(Duration::from_secs(1 << 40)), 0.0), Some(RETRY_AFTER_MAX));
        assert_eq!(retry_delay(10, Some(Duration::from_secs(1)), 0.0), None);
    }

    #[test]
    fn only_a_2xx_delivers_a_410_turns_the_endpoint_off_and_five_failing_days_do_too() {
        let now = Utc::now();
        let status = |code| Answer::Status { code, retry_after: None };
        assert_eq!(judge(1, status(204), None, now, 0.0), Verdict { delivered: true, retry_in: None, disable: None });
        let redirect = judge(1, status(302), Some(now), now, 0.0);
        assert_eq!((redirect.delivered, redirect.retry_in), (false, Some(Duration::from_secs(5))));
        let gone = judge(1, status(410), Some(now), now, 0.0);
        assert_eq!((gone.retry_in, gone.disable), (None, Some("the endpoint answered 410 Gone")));
        let long = judge(3, Answer::Nothing, Some(now - TimeDelta::days(5)), now, 0.0);
        assert_eq!((long.retry_in, long.disable), (None, Some("every delivery failed for 5 days")));
        let recent = judge(3, Answer::Nothing, Some(now - TimeDelta::days(4)), now, 0.0);
        assert_eq!((recent.retry_in, recent.disable), (Some(Duration::from_secs(1800)), None));
        let asked = judge(2, Answer::Status { code: 503, retry_after: Some(Duration::from_secs(7)) }, None, now, 0.9);
        assert_eq!(asked.retry_in, Some(Duration::from_secs(7)));
        assert_eq!(judge(10, status(500), Some(now), now, 0.0).retry_in, None);
    }

    #[test]
    fn an_endpoint_wants_its_event_types_only_while_active() {
        let endpoint = WebhookEndpoint {
            url: "https://example.com/".into(),
            event_types: Some(vec!["contact.created".into()]),
            description: None,
            active: true,
        };
        assert!(endpoint.wants("contact.created"));
        assert!(!endpoint.wants("contact.updated"));
        let all = WebhookEndpoint { event_types: None, ..endpoint.clone() };
        assert!(all.wants("deal.stage_changed"));
        assert!(!WebhookEndpoint { active: false, ..all }.wants("deal.stage_changed"));
    }

    #[test]
    fn validation_names_unknown_event_types_by_position_and_sorts_the_rest() {
        let endpoint = WebhookEndpoint {
            url: "https://example.com/".into(),
            event_types: Some(vec!["deal.stage_changed".into(), "contact.created".into(), "nope".into()]),
            description: None,
            active: true,
        };
        let errors = endpoint.clone().validated().expect_err("refused");
        assert_eq!(errors.errors()[0].field, "event_types[2]");
        let fine = WebhookEndpoint {
            event_types: Some(vec!["deal.stage_changed".into(), "contact.created".into(), "contact.created".into()]),
            ..endpoint
        };
        let valid = fine.validated().expect("valid");
        assert_eq!(valid.event_types.expect("valid"), vec!["contact.created", "deal.stage_changed"]);
    }
}
