//! Templated email: templates (admin definitions), the context a template renders over (a
//! record, its related contact, company and deal, its owner), queueing a rendered message in
//! the outbox, and what a sent one leaves behind (an outbound email activity on the record's
//! timeline). Talking SMTP is the outbound door's (`api::mailer`).

use chrono::Utc;
use domain::activity::{ActivityChanges, ActivityData, ActivityType, Direction, Participant, RecordRef, RecordType};
use domain::audit::AuditAction;
use domain::email::{EmailTemplate, MailSettings};
use domain::record::Patch;
use domain::values::EmailAddress;
use persistence::definitions::{self, Kind};
use persistence::emails::{self, Email, NewEmail};
use persistence::{DbConnection, StoreError, users};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::actor::Actor;
use crate::definitions::DefinitionKind;
use crate::error::AppError;
use crate::jobs::{self, Enqueue, JobSpec};
use crate::kinds::{ACTIVITIES, DEALS};
use crate::records::{WithCustom, create_in};
use crate::views::Views;

/// Templates as admin definitions: every part compiled when saved.
pub static TEMPLATES: DefinitionKind<EmailTemplate> = DefinitionKind {
    kind: Kind::EmailTemplate,
    noun: "email template",
    validate: EmailTemplate::validated,
    references: |_, _| Ok(()),
    after_change: |_| Ok(()),
};

/// Handing one email to the SMTP server. Its attempts are for a server that is away or says
/// "try later"; a refusal for good fails the email at once.
pub const SEND: JobSpec = JobSpec { name: "email.send", max_attempts: 6 };

/// A send job's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOrder {
    pub email_id: String,
}

/// The record a template renders for, its related records and owner, as the API shows them;
/// and the address the email goes to unless the sender names one.
pub fn context<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    target: &RecordRef,
) -> Result<(Value, Option<String>), AppError> {
    let record = crate::views::record_view::<V>(conn, actor, target.record_type, &target.id)?.ok_or_else(|| {
        AppError::invalid("record.id", "not_found", format!("names no {} you can see", target.record_type.as_str()))
    })?;
    let mut context = Map::new();
    let related = |field: &str| record.get(field).and_then(Value::as_str).map(str::to_owned);
    let mut recipient = None;
    match target.record_type {
        RecordType::Contact => {
            recipient = primary_email(&record);
            context.insert("contact".into(), record.clone());
        }
        RecordType::Lead => {
            recipient = record.get("email").and_then(Value::as_str).map(str::to_owned);
            context.insert("lead".into(), record.clone());
        }
        RecordType::Deal => {
            context.insert("deal".into(), record.clone());
            let first_contact = record.get("contact_ids").and_then(|ids| ids.get(0)).and_then(Value::as_str);
            if let Some(id) = first_contact.map(str::to_owned)
                && let Some(contact) = crate::views::record_view::<V>(conn, actor, RecordType::Contact, &id)?
            {
                recipient = primary_email(&contact);
                context.insert("contact".into(), contact);
            }
        }
        RecordType::Ticket => {
            context.insert("ticket".into(), record.clone());
            if let Some(id) = related("requester_id")
                && let Some(contact) = crate::views::record_view::<V>(conn, actor, RecordType::Contact, &id)?
            {
                recipient = primary_email(&contact);
                context.insert("contact".into(), contact);
            }
        }
        RecordType::Article => {
            context.insert("article".into(), record.clone());
        }
        RecordType::Company | RecordType::Product => {}
    }
    if target.record_type == RecordType::Company {
        context.insert("company".into(), record.clone());
    } else if let Some(id) = related("company_id")
        && let Some(company) = crate::views::record_view::<V>(conn, actor, RecordType::Company, &id)?
    {
        context.insert("company".into(), company);
    }
    if let Some(owner) = related("owner_id") {
        match users::find(conn, &owner) {
            Ok(user) => {
                context.insert("owner".into(), json!({"id": user.id, "name": user.name, "email": user.email}));
            }
            Err(StoreError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
    }
    context.insert("record".into(), record);
    Ok((Value::Object(context), recipient))
}

fn primary_email(contact: &Value) -> Option<String> {
    let emails = contact.get("emails")?.as_array()?;
    let primary = emails.iter().find(|e| e.get("primary") == Some(&Value::Bool(true))).or(emails.first())?;
    primary.get("email").and_then(Value::as_str).map(str::to_owned)
}

/// A template by id, for anyone who may send email (not only the admins who edit them).
pub fn template(conn: &mut DbConnection, id: &str) -> Result<EmailTemplate, AppError> {
    match definitions::find::<EmailTemplate>(conn, Kind::EmailTemplate, id) {
        Ok(found) => Ok(found.body),
        Err(StoreError::NotFound) => Err(AppError::not_found(TEMPLATES.noun)),
        Err(other) => Err(other.into()),
    }
}

/// Renders a template for a record, writing nothing (what `preview` shows and `queue` sends).
pub fn render<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    template_id: &str,
    target: &RecordRef,
) -> Result<(domain::email::Rendered, Option<String>), AppError> {
    let template = template(conn, template_id)?;
    let (context, recipient) = context::<V>(conn, actor, target)?;
    let rendered = template
        .render(&context)
        .map_err(|error| AppError::invalid(&format!("template.{}", error.part), "render_failed", error.message))?;
    Ok((rendered, recipient))
}

/// Renders a template for a record and queues the message: the sender must be able to log
/// activities (a sent email becomes one) and see the record; the recipient is `to` or the
/// record's contact's primary address. Refused when no SMTP server is configured.
pub fn queue<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    template_id: &str,
    target: &RecordRef,
    to: Option<&str>,
    mail: Option<&MailSettings>,
) -> Result<Email, AppError> {
    actor.principal.may_in_module(domain::access::Module::Activities, domain::access::Action::Create)?;
    let mail = smtp(mail)?;
    let (rendered, default_recipient) = render::<V>(conn, actor, template_id, target)?;
    let recipient = match to.map(str::to_owned).or(default_recipient) {
        Some(address) => EmailAddress::parse("to", &address)?,
        None => return Err(AppError::invalid("to", "required", "the record has no email address; give `to`")),
    };
    let message = Message {
        template_id: Some(template_id),
        subject: &rendered.subject,
        html: rendered.html.as_deref(),
        text: rendered.text.as_deref(),
    };
    outbox(conn, actor, target, recipient.as_str(), &message, mail)
}

/// The SMTP server email leaves through, or the refusal every sending step gives without one.
pub fn smtp(mail: Option<&MailSettings>) -> Result<&MailSettings, AppError> {
    mail.ok_or_else(|| {
        AppError::Conflict("this server has no SMTP server configured (CRM_SMTP_HOST), so it sends no email".into())
    })
}

/// What an email says, rendered.
pub struct Message<'a> {
    /// The template it was rendered from, if one.
    pub template_id: Option<&'a str>,
    pub subject: &'a str,
    pub html: Option<&'a str>,
    pub text: Option<&'a str>,
}

/// Puts an email about a record to a checked recipient in the outbox with its `email.send`
/// job, in the caller's transaction; once sent it is an outbound activity on the record.
pub fn outbox(
    conn: &mut DbConnection,
    actor: &Actor,
    target: &RecordRef,
    recipient: &str,
    message: &Message<'_>,
    mail: &MailSettings,
) -> Result<Email, AppError> {
    let domain = mail.from.rsplit_once('@').map_or("localhost", |(_, domain)| domain.trim_end_matches('>'));
    let message_id = format!("<{}@{domain}>", persistence::new_id());
    let new = NewEmail {
        notification: false,
        template_id: message.template_id,
        record: Some((target.record_type.as_str(), &target.id)),
        sender_id: &actor.principal.user_id,
        recipient,
        subject: message.subject,
        html: message.html,
        text: message.text,
        message_id: &message_id,
    };
    let id = emails::insert(conn, &new, Utc::now())?;
    jobs::enqueue(conn, &SEND, &SendOrder { email_id: id.clone() }, &Enqueue::default())?;
    Ok(emails::find(conn, &id)?)
}

/// One email, for its sender or an admin.
pub fn find(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Email, AppError> {
    match emails::find(conn, id) {
        Ok(email) if email.sender_id == actor.principal.user_id || actor.principal.is_admin() => Ok(email),
        Ok(_) | Err(StoreError::NotFound) => Err(AppError::not_found("email")),
        Err(other) => Err(other.into()),
    }
}

/// Records a sent email: an outbound email activity by the sender, linked to the record (and a
/// deal's contact), then the email marked sent with it. The message has left already, so an
/// activity the sender may no longer log is noted on the email instead of failing it.
pub fn sent<V: Views>(conn: &mut DbConnection, sender: Option<&Actor>, email: &Email) -> Result<(), AppError> {
    if email.notification {
        emails::mark_sent(conn, &email.id, None, None, Utc::now())?;
        return Ok(());
    }
    let activity = match sender {
        Some(actor) => persistence::store::savepoint(conn, |conn| log_activity::<V>(conn, actor, email)),
        None => Err(AppError::Forbidden("the sender's account is gone".into())),
    };
    let (activity_id, note) = match activity {
        Ok(id) => (Some(id), None),
        Err(error) => (None, Some(format!("sent; not logged as an activity: {error}"))),
    };
    emails::mark_sent(conn, &email.id, activity_id.as_deref(), note.as_deref(), Utc::now())?;
    Ok(())
}

fn log_activity<V: Views>(conn: &mut DbConnection, actor: &Actor, email: &Email) -> Result<String, AppError> {
    let (Some(noun), Some(record_id)) = (&email.record_type, &email.record_id) else {
        return Err(AppError::Internal(format!("email {} is about no record", email.id)));
    };
    let record_type =
        RecordType::parse(noun).ok_or_else(|| AppError::Internal(format!("email {} is about a `{noun}`", email.id)))?;
    let mut links = vec![RecordRef { record_type, id: record_id.clone() }];
    if record_type == RecordType::Deal
        && let Ok(deal) = DEALS.find_visible(conn, actor, record_id)
        && let Some(contact) = deal.data.contact_ids.into_iter().next()
    {
        links.push(RecordRef { record_type: RecordType::Contact, id: contact });
    }
    let changes = ActivityChanges {
        activity_type: Patch::Set(ActivityType::Email),
        subject: Patch::Set(email.subject.clone()),
        body: Patch::from_option(email.text.clone().or_else(|| email.html.clone())),
        direction: Patch::Set(Direction::Outbound),
        outcome: Patch::Set(format!("sent as {}", email.message_id)),
        participants: Patch::Set(vec![Participant { name: None, email: Some(email.recipient.clone()) }]),
        links: Patch::Set(links),
        owner_id: Patch::Set(actor.principal.user_id.clone()),
        ..Default::default()
    };
    let data = ActivityData::apply(None, changes, Utc::now())?;
    let (activity, _) = create_in::<_, V::Activity>(
        conn,
        &ACTIVITIES,
        actor,
        WithCustom { data, custom: Patch::Keep },
        |conn, caller, data| crate::kinds::check_links(conn, caller, &[], &data.links),
        AuditAction::Create,
    )?;
    Ok(activity.id)
}

/// Queues a notification to a user by email (their preference asked for it): a plain text
/// message from the server, about the record if there is one. With no SMTP server configured
/// it fails visibly on the email row, like any other.
pub fn queue_notification(
    conn: &mut DbConnection,
    user_id: &str,
    record: Option<(&str, &str)>,
    message: &str,
) -> Result<(), AppError> {
    let user = match users::find(conn, user_id) {
        Ok(user) if user.active => user,
        Ok(_) | Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(other.into()),
    };
    let subject: String = message.chars().take(100).collect();
    let message_id = format!("<{}@notifications.invalid>", persistence::new_id());
    let new = NewEmail {
        notification: true,
        template_id: None,
        record,
        sender_id: user_id,
        recipient: &user.email,
        subject: &subject,
        html: None,
        text: Some(message),
        message_id: &message_id,
    };
    let id = emails::insert(conn, &new, Utc::now())?;
    jobs::enqueue(conn, &SEND, &SendOrder { email_id: id }, &Enqueue::default())?;
    Ok(())
}

/// Fails an email the SMTP server refused for good, or that could not be sent at all.
pub fn failed(conn: &mut DbConnection, email_id: &str, error: &str) -> Result<(), AppError> {
    emails::mark_failed(conn, email_id, error, Utc::now())?;
    Ok(())
}

/// A send job given up on: its email fails with the last error.
pub fn abandoned(conn: &mut DbConnection, payload: &str, error: &str) -> Result<(), AppError> {
    let order: SendOrder = serde_json::from_str(payload)?;
    failed(conn, &order.email_id, error)
}
