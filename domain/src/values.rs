//! Parse-don't-validate value types shared by every record type.
//!
//! Each type has a private field and one `parse` constructor, so holding one is proof that
//! the value is valid and normalised (emails lower-cased, phones in E.164, ...).

use serde::{Deserialize, Serialize};

use crate::validation::{FieldError, ValidationErrors};

/// Longest accepted single-line text (names, titles, cities).
pub const SHORT_TEXT_MAX: usize = 200;
/// Longest accepted free-form text (notes, descriptions).
pub const LONG_TEXT_MAX: usize = 10_000;
/// Longest accepted email address (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;
/// Most tags one record may carry.
pub const TAGS_MAX: usize = 50;
/// Longest accepted tag.
pub const TAG_MAX: usize = 50;

/// Trims `raw` and checks its length and characters; `None` when it is blank.
pub fn optional_text(field: &str, raw: &str, max: usize) -> Result<Option<String>, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(field, "too_long", format!("must be at most {max} characters")));
    }
    let allow_newlines = max > SHORT_TEXT_MAX;
    if trimmed.chars().any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t'))) {
        return Err(FieldError::new(field, "invalid_characters", "must not contain control characters"));
    }
    Ok(Some(trimmed.to_owned()))
}

/// Like [`optional_text`] but a blank value is refused.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    optional_text(field, raw, max)?.ok_or_else(|| FieldError::new(field, "required", "must not be blank"))
}

/// A syntactically valid, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Trims and lower-cases `raw`, then requires `local@domain.tld` form.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let normalised = raw.trim().to_lowercase();
        if normalised.len() > EMAIL_MAX {
            return Err(FieldError::new(field, "too_long", format!("must be at most {EMAIL_MAX} characters")));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            &normalised,
            email_address::Options::default().without_display_text().without_domain_literal(),
        );
        match parsed {
            // A CRM address must be deliverable on the internet, so the domain needs a dot.
            Ok(address) if address.domain().contains('.') && !address.domain().ends_with('.') => Ok(Self(normalised)),
            _ => Err(FieldError::new(field, "invalid_format", "must be an email address such as ada@example.com")),
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid phone number in E.164 form (`+442079460000`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses an international number (leading `+` and country code; spaces, dots, dashes
    /// and brackets allowed) and normalises it to E.164.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                field,
                "invalid_phone",
                "must be a valid international phone number such as +44 20 7946 0000",
            )
        };
        let trimmed = raw.trim();
        if trimmed.len() > 40 || !trimmed.starts_with('+') {
            return Err(invalid());
        }
        let number = phonenumber::parse(None, trimmed).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&number) {
            return Err(invalid());
        }
        Ok(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const COUNTRY_CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ \
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET \
FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR \
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN \
MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR \
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryCode(String);

impl CountryCode {
    /// Accepts an assigned alpha-2 code in either case.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let code = raw.trim().to_uppercase();
        if code.len() == 2 && COUNTRY_CODES.split(' ').any(|known| known == code) {
            Ok(Self(code))
        } else {
            Err(FieldError::new(field, "invalid_country", "must be an ISO 3166-1 alpha-2 country code such as DE"))
        }
    }

    /// The upper-case code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const CURRENCY_CODES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD \
BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL \
GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP \
LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP \
PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD \
TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// An active ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency(String);

impl Currency {
    /// Accepts an active ISO 4217 code in either case.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let code = raw.trim().to_uppercase();
        if code.len() == 3 && CURRENCY_CODES.split(' ').any(|known| known == code) {
            Ok(Self(code))
        } else {
            Err(FieldError::new(field, "invalid_currency", "must be an ISO 4217 currency code such as EUR"))
        }
    }

    /// The upper-case code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An amount of money: integer minor units (cents) in one currency, never a float.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    /// A non-negative amount in minor units of `currency`.
    pub fn parse_non_negative(field: &str, amount_minor: i64, currency: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if amount_minor < 0 {
            errors.push(FieldError::new(format!("{field}.amount_minor"), "out_of_range", "must not be negative"));
        }
        let currency = errors.collect(Currency::parse(&format!("{field}.currency"), currency));
        match currency {
            Some(currency) if errors.is_empty() => Ok(Self { amount_minor, currency }),
            _ => Err(errors),
        }
    }
}

/// A company's internet domain, normalised (`https://www.Example.com/` becomes `example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    /// Strips scheme, `www.` and trailing slash, lower-cases, and checks each label.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let lowered = raw.trim().to_lowercase();
        let without_scheme =
            lowered.strip_prefix("https://").or_else(|| lowered.strip_prefix("http://")).unwrap_or(&lowered);
        let host = without_scheme.trim_end_matches('/');
        let host = host.strip_prefix("www.").unwrap_or(host);
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let labels: Vec<&str> = host.split('.').collect();
        if host.len() <= 253 && labels.len() >= 2 && labels.iter().all(|l| label_ok(l)) {
            Ok(Self(host.to_owned()))
        } else {
            Err(FieldError::new(field, "invalid_domain", "must be a domain name such as example.com"))
        }
    }

    /// The normalised domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A record's tags: trimmed, lower-cased, de-duplicated, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags(Vec<String>);

impl Tags {
    /// Parses a whole tag list; every bad tag is reported.
    pub fn parse(field: &str, raw: &[String]) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if raw.len() > TAGS_MAX {
            errors.push(FieldError::new(field, "too_many", format!("at most {TAGS_MAX} tags")));
            return Err(errors);
        }
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for (index, tag) in raw.iter().enumerate() {
            if let Some(tag) = errors.collect(Self::parse_one(&format!("{field}[{index}]"), tag))
                && !tags.contains(&tag)
            {
                tags.push(tag);
            }
        }
        errors.into_result(|| Self(tags))
    }

    /// One tag as used in filters: the same normalisation as when stored.
    pub fn parse_one(field: &str, raw: &str) -> Result<String, FieldError> {
        let tag = required_text(field, raw, TAG_MAX)?.to_lowercase();
        // Quotes and backslashes are refused so a tag's JSON form is exactly `"tag"`,
        // which is what the storage layer matches on.
        if tag.contains(['"', '\\']) {
            return Err(FieldError::new(field, "invalid_characters", "must not contain quotes or backslashes"));
        }
        Ok(tag)
    }

    /// The tags in order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A postal address; every part optional, the country an ISO code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// An address as a client sent it, before validation.
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Address {
    /// Validates each part; an address with every part blank is `None`.
    pub fn parse(field: &str, input: &AddressInput) -> Result<Option<Self>, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut part = |name: &str, value: &Option<String>, max: usize| {
            value.as_deref().and_then(|v| errors.collect(optional_text(&format!("{field}.{name}"), v, max)).flatten())
        };
        let street = part("street", &input.street, 500);
        let city = part("city", &input.city, SHORT_TEXT_MAX);
        let region = part("region", &input.region, SHORT_TEXT_MAX);
        let postal_code = part("postal_code", &input.postal_code, 20);
        let country = input
            .country
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .and_then(|c| errors.collect(CountryCode::parse(&format!("{field}.country"), c)))
            .map(|c| c.as_str().to_owned());
        let address = Self { street, city, region, postal_code, country };
        errors.into_result(|| (address != Self::default()).then_some(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("email", "  Ada.Lovelace@Example.COM ").map(|e| e.as_str().to_owned());
        assert_eq!(email, Ok("ada.lovelace@example.com".to_owned()));
    }

    #[test]
    fn emails_without_a_dotted_domain_are_refused() {
        for bad in ["ada", "ada@", "@example.com", "ada@localhost", "ada@@example.com", "Ada <ada@example.com>"] {
            assert!(EmailAddress::parse("email", bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn phones_are_normalised_to_e164() {
        let phone = PhoneNumber::parse("phone", "+44 (20) 7946-0000").map(|p| p.as_str().to_owned());
        assert_eq!(phone, Ok("+442079460000".to_owned()));
    }

    #[test]
    fn phones_without_a_country_code_or_impossible_are_refused() {
        for bad in ["020 7946 0000", "+1 555", "+999 1234567", "not a phone", ""] {
            assert!(PhoneNumber::parse("phone", bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_country_list_holds_every_assigned_alpha2_code() {
        assert_eq!(COUNTRY_CODES.split(' ').count(), 249);
        assert!(CountryCode::parse("c", "de").is_ok());
        assert!(CountryCode::parse("c", "XX").is_err());
    }

    #[test]
    fn currencies_must_be_active_iso_codes() {
        assert_eq!(Currency::parse("c", "eur").map(|c| c.as_str().to_owned()), Ok("EUR".to_owned()));
        assert!(Currency::parse("c", "EURO").is_err());
        assert!(Money::parse_non_negative("annual_revenue", -1, "EUR").is_err());
    }

    #[test]
    fn domains_lose_scheme_www_and_case() {
        let domain = DomainName::parse("domain", "https://www.Example.co.uk/").map(|d| d.as_str().to_owned());
        assert_eq!(domain, Ok("example.co.uk".to_owned()));
        assert!(DomainName::parse("domain", "exa mple.com").is_err());
        assert!(DomainName::parse("domain", "localhost").is_err());
    }

    #[test]
    fn tags_are_normalised_and_deduplicated() {
        let tags = Tags::parse("tags", &["VIP".into(), " vip ".into(), "Partner".into()]);
        assert_eq!(tags.map(|t| t.as_slice().to_vec()), Ok(vec!["vip".to_owned(), "partner".to_owned()]));
        assert!(Tags::parse("tags", &["say \"hi\"".into()]).is_err());
        assert!(Tags::parse("tags", &[" ".into()]).is_err());
    }

    #[test]
    fn blank_text_is_absent_and_long_text_is_refused() {
        assert_eq!(optional_text("f", "   ", 10), Ok(None));
        assert!(optional_text("f", &"x".repeat(11), 10).is_err());
        assert!(required_text("f", "", 10).is_err());
        assert!(optional_text("f", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn an_all_blank_address_is_no_address() {
        let blank = AddressInput { city: Some("  ".into()), ..AddressInput::default() };
        assert_eq!(Address::parse("address", &blank), Ok(None));
        let bad = AddressInput { country: Some("Germany".into()), ..AddressInput::default() };
        let errors = Address::parse("address", &bad).err().map(|e| e.errors()[0].field.clone());
        assert_eq!(errors.as_deref(), Some("address.country"));
    }
}
