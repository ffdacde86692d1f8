//! Email as jobs of the queue (kind `email.send`, queued by `app::email::queue`): the outbox's
//! message handed to the configured SMTP server with lettre, then recorded: sent (and logged
//! as an activity), failed for good (a 5xx, or no server configured), or tried again later
//! (a 4xx, or the server unreachable). A workflow step waiting for the email is told either
//! way (`app::workflows::email_settled`), in the same transaction.
//!
//! A crash after the server took the message and before it was recorded sends it again when
//! the job's lease runs out; it carries the same `Message-ID` both times.

use std::time::Duration;

use app::actor::Actor;
use app::email::SendOrder;
use app::error::AppError;
use app::jobs::{JobKind, JobRun};
use domain::email::{MailSettings, SmtpSecurity};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use persistence::emails::{Email, EmailState};
use persistence::{DbConnection, StoreError};

use crate::extract::{RequestContext, principal_of};
use crate::routes::ApiViews;

/// The whole conversation with the SMTP server.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One email to the SMTP server.
pub static SEND_EMAIL: JobKind = JobKind {
    spec: app::email::SEND,
    every: None,
    run: send,
    abandoned: Some(|conn, payload, error| {
        app::email::abandoned(conn, payload, error)?;
        let order: SendOrder = serde_json::from_str(payload)?;
        app::workflows::email_settled(conn, &order.email_id, Err(error))
    }),
};

/// Why a message did not go.
enum Failure {
    /// Refused for good (5xx, or a message that cannot be built): the email fails.
    Permanent(String),
    /// Worth trying again (4xx, the server unreachable): the job is retried.
    Transient(String),
}

fn send(run: &JobRun<'_>) -> Result<(), String> {
    let order: SendOrder = serde_json::from_str(&run.job.payload).map_err(|e| format!("bad payload: {e}"))?;
    let email = match run.store.read(|conn| persistence::emails::find(conn, &order.email_id)) {
        Ok(email) if email.state == EmailState::Queued => email,
        Ok(_) | Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(other.to_string()),
    };
    let outcome = match &run.worker.mail {
        Some(mail) => deliver(mail, &email),
        None => Err(Failure::Permanent("no SMTP server is configured (CRM_SMTP_HOST)".into())),
    };
    let recorded = match outcome {
        Ok(()) => run.write_held(|conn| {
            let sender = sender(conn, &email.sender_id)?;
            app::email::sent::<ApiViews>(conn, sender.as_ref(), &email)?;
            app::workflows::email_settled(conn, &email.id, Ok(()))
        }),
        Err(Failure::Permanent(reason)) => {
            log::warn!("email {} failed: {reason}", email.id);
            run.write_held(|conn| {
                app::email::failed(conn, &email.id, &reason)?;
                app::workflows::email_settled(conn, &email.id, Err(&reason))
            })
        }
        Err(Failure::Transient(reason)) => return Err(reason),
    };
    recorded.map(drop).map_err(|error: AppError| error.to_string())
}

/// The sender as they are now (`None` when their account is gone or deactivated).
fn sender(conn: &mut DbConnection, user_id: &str) -> Result<Option<Actor>, AppError> {
    match principal_of(conn, user_id, None) {
        Ok(principal) => Ok(Some(Actor {
            principal,
            session_id: None,
            context: RequestContext { request_id: None, client_address: None },
            chain: None,
        })),
        Err(crate::error::ApiError::Unauthorized(_)) => Ok(None),
        Err(other) => Err(AppError::Internal(other.to_string())),
    }
}

fn deliver(mail: &MailSettings, email: &Email) -> Result<(), Failure> {
    let message = build(mail, email).map_err(Failure::Permanent)?;
    let transport = transport(mail).map_err(Failure::Permanent)?;
    match transport.send(&message) {
        Ok(_) => Ok(()),
        Err(error) if error.is_permanent() => Err(Failure::Permanent(error.to_string())),
        Err(error) => Err(Failure::Transient(error.to_string())),
    }
}

fn build(mail: &MailSettings, email: &Email) -> Result<Message, String> {
    let from: Mailbox = mail.from.parse().map_err(|e| format!("CRM_SMTP_FROM `{}`: {e}", mail.from))?;
    let to: Mailbox = email.recipient.parse().map_err(|e| format!("recipient `{}`: {e}", email.recipient))?;
    let builder =
        Message::builder().from(from).to(to).subject(&email.subject).message_id(Some(email.message_id.clone()));
    let built = match (&email.text, &email.html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text.clone(), html.clone())),
        (Some(text), None) => builder.singlepart(SinglePart::plain(text.clone())),
        (None, Some(html)) => builder.singlepart(SinglePart::html(html.clone())),
        (None, None) => builder.singlepart(SinglePart::plain(String::new())),
    };
    built.map_err(|e| e.to_string())
}

fn transport(mail: &MailSettings) -> Result<SmtpTransport, String> {
    let tls = || TlsParameters::new(mail.host.clone()).map_err(|e| format!("TLS for {}: {e}", mail.host));
    let mut builder = SmtpTransport::builder_dangerous(&mail.host).port(mail.port).timeout(Some(TIMEOUT));
    builder = match mail.security {
        SmtpSecurity::None => builder.tls(Tls::None),
        SmtpSecurity::StartTls => builder.tls(Tls::Required(tls()?)),
        SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
    };
    if let Some((user, password)) = &mail.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}
