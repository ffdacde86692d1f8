//! Email templates: a subject, an HTML body and a text body with placeholders over a record
//! and its related records, rendered by minijinja, an engine made for user-written templates,
//! in a sandbox: no file or template loading, strict undefined (a misspelt placeholder is an
//! error, not an empty string), HTML autoescape in the HTML body only, a fuel budget (bounded
//! work however a template loops) and a bound on what it may write. Also how email leaves
//! the installation (`MailSettings`), which the job worker and the email steps both read.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{FieldError, ValidationErrors};

/// Longest template source per part.
pub const SOURCE_MAX: usize = 100_000;
/// Longest rendered part: a template that writes more stops with an error.
pub const OUTPUT_MAX: usize = 512 * 1024;
/// Template instructions one render may run.
const FUEL: u64 = 100_000;
const NAME_MAX: usize = 200;

/// How email leaves this installation (`CRM_SMTP_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// User name and password, when the server asks for them.
    pub credentials: Option<(String, String)>,
    /// The `From` address.
    pub from: String,
    /// Where people reach this server, for links in email (a survey's answer link).
    pub public_url: String,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a local relay, or tests).
    None,
    /// Upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// A template as an admin defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    #[schema(example = "Welcome aboard", max_length = 200)]
    pub name: String,
    #[schema(example = "Welcome, {{ contact.first_name }}!")]
    pub subject: String,
    /// The HTML body; values are HTML-escaped where they are placed.
    #[serde(default)]
    #[schema(example = "<p>Hello {{ contact.first_name }}, {{ owner.name }} will be in touch.</p>")]
    pub html: Option<String>,
    /// The plain-text body.
    #[serde(default)]
    #[schema(example = "Hello {{ contact.first_name }}, {{ owner.name }} will be in touch.")]
    pub text: Option<String>,
}

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Rendered {
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// Why a template did not render: the part and the engine's words (with the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {message}")]
pub struct RenderError {
    pub part: &'static str,
    pub message: String,
}

impl EmailTemplate {
    /// Checks the template as a whole: a name, a subject, at least one body, every part within
    /// its size and free of syntax errors.
    pub fn validated(self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.name.trim().is_empty() || self.name.chars().count() > NAME_MAX {
            errors.push(FieldError::new("name", "invalid", format!("1 to {NAME_MAX} characters")));
        }
        if self.html.is_none() && self.text.is_none() {
            errors.push(FieldError::new("text", "required", "a template needs an html or a text body (or both)"));
        }
        for (part, source) in self.parts() {
            if part == "subject" && source.trim().is_empty() {
                errors.push(FieldError::new(part, "required", "may not be empty"));
            } else if source.len() > SOURCE_MAX {
                errors.push(FieldError::new(part, "too_long", format!("at most {SOURCE_MAX} bytes")));
            } else if let Err(error) = environment(part).template_from_str(source) {
                errors.push(FieldError::new(part, "template_syntax", describe(&error)));
            }
        }
        errors.into_result(|| self)
    }

    fn parts(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [("subject", Some(&self.subject)), ("html", self.html.as_ref()), ("text", self.text.as_ref())]
            .into_iter()
            .filter_map(|(part, source)| source.map(|s| (part, s.as_str())))
    }

    /// Renders every part over `context` (an object: `record`, `contact`, `company`, `deal`,
    /// `owner`, as far as they exist). The subject is one line: line breaks become spaces.
    pub fn render(&self, context: &serde_json::Value) -> Result<Rendered, RenderError> {
        let one = |part: &'static str, source: &str| render_part(part, source, context);
        let subject = one("subject", &self.subject)?;
        Ok(Rendered {
            subject: subject.split(['\r', '\n']).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "),
            html: self.html.as_deref().map(|source| one("html", source)).transpose()?,
            text: self.text.as_deref().map(|source| one("text", source)).transpose()?,
        })
    }
}

/// The sandbox for one part: only the HTML body escapes what it places.
fn environment(part: &'static str) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    let escape = if part == "html" { AutoEscape::Html } else { AutoEscape::None };
    env.set_auto_escape_callback(move |_| escape);
    env
}

fn render_part(part: &'static str, source: &str, context: &serde_json::Value) -> Result<String, RenderError> {
    let env = environment(part);
    let failed = |error: minijinja::Error| RenderError { part, message: describe(&error) };
    let template = env.template_from_str(source).map_err(failed)?;
    let mut out = Bounded { written: Vec::new() };
    template.render_captured_to(context, &mut out).map(drop).map_err(|error| {
        if out.written.len() > OUTPUT_MAX {
            RenderError { part, message: format!("writes more than {OUTPUT_MAX} bytes") }
        } else {
            failed(error)
        }
    })?;
    String::from_utf8(out.written).map_err(|_| RenderError { part, message: "wrote invalid UTF-8".into() })
}

/// Refuses to take more than [`OUTPUT_MAX`] bytes, which stops the render.
struct Bounded {
    written: Vec<u8>,
}

impl std::io::Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.written.extend_from_slice(bytes);
        if self.written.len() > OUTPUT_MAX {
            return Err(std::io::Error::other("output limit"));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn describe(error: &minijinja::Error) -> String {
    match error.line() {
        Some(line) => format!("{} (line {line})", error.detail().unwrap_or(&error.kind().to_string())),
        None => error.detail().map_or_else(|| error.kind().to_string(), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(subject: &str, html: Option<&str>, text: Option<&str>) -> EmailTemplate {
        EmailTemplate {
            name: "t".into(),
            subject: subject.into(),
            html: html.map(str::to_owned),
            text: text.map(str::to_owned),
        }
    }

    #[test]
    fn placeholders_render_and_only_the_html_body_escapes_them() {
        let context = json!({"contact": {"first_name": "Ada <b>"}, "owner": {"name": "Grace"}});
        let rendered = template(
            "Hi {{ contact.first_name }}",
            Some("<p>{{ contact.first_name }}</p>"),
            Some("{{ owner.name }} & {{ contact.first_name }}"),
        )
        .render(&context)
        .expect("renders");
        assert_eq!(rendered.subject, "Hi Ada <b>");
        assert_eq!(rendered.html.as_deref(), Some("<p>Ada &lt;b&gt;</p>"));
        assert_eq!(rendered.text.as_deref(), Some("Grace & Ada <b>"));
    }

    #[test]
    fn a_misspelt_placeholder_is_an_error_naming_the_part_not_an_empty_string() {
        let error = template("Hi", None, Some("Dear {{ contact.frist_name }}"))
            .render(&json!({"contact": {"first_name": "Ada"}}))
            .expect_err("strict");
        assert_eq!(error.part, "text");
        assert!(error.message.contains("undefined"), "{error}");
    }

    #[test]
    fn syntax_errors_are_found_when_the_template_is_saved_with_their_line() {
        let errors = template("Hi {{", None, Some("line one\n{% if %}")).validated().expect_err("refused");
        let fields: Vec<_> = errors.errors().iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(fields, [("subject", "template_syntax"), ("text", "template_syntax")]);
        assert!(errors.errors()[1].message.contains("line 2"), "{}", errors.errors()[1].message);
        let no_body = template("Hi", None, None).validated().expect_err("a body is needed");
        assert_eq!(no_body.errors()[0].field, "text");
    }

    #[test]
    fn a_template_that_loops_forever_or_writes_too_much_is_stopped() {
        let spin = template(
            "x",
            None,
            Some("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
        );
        let error = spin.render(&json!({})).expect_err("out of fuel");
        assert!(error.message.contains("fuel"), "{error}");
        let big = template("x", None, Some("{% for i in range(60) %}{{ chunk }}{% endfor %}"));
        let error = big.render(&json!({"chunk": "x".repeat(10_000)})).expect_err("too much output");
        assert!(error.message.contains("more than"), "{error}");
    }

    #[test]
    fn nothing_outside_the_context_is_reachable() {
        let include = template("x", None, Some("{% include 'secrets.txt' %}")).render(&json!({}));
        assert!(include.is_err());
        let subject = template("one\r\ntwo\nBcc: x@example.com", None, Some("b")).render(&json!({})).expect("renders");
        assert_eq!(subject.subject, "one two Bcc: x@example.com");
    }
}
