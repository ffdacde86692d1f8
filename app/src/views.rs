//! How records appear outside the CRM (the audit history now; events and webhooks next): as
//! the API's views, which the entry point names once by implementing [`Views`], so a step
//! that writes several record types' history needs no view types of its own.

use domain::activity::{ActivityData, RecordType, TaskData};
use domain::article::ArticleData;
use domain::company::CompanyData;
use domain::contact::ContactData;
use domain::custom::CustomFieldDefinition;
use domain::deal::DealData;
use domain::lead::LeadData;
use domain::record::Stored;
use domain::ticket::TicketData;
use persistence::DbConnection;
use serde::Serialize;
use serde_json::Value;

use crate::actor::Actor;
use crate::error::AppError;
use crate::kinds::{ARTICLES, COMPANIES, CONTACTS, DEALS, LEADS, TICKETS};

/// The outside representation of each record type a multi-record step writes.
pub trait Views: 'static {
    type Contact: Serialize + From<Stored<ContactData>>;
    type Company: Serialize + From<Stored<CompanyData>>;
    type Lead: Serialize + From<Stored<LeadData>>;
    type Deal: Serialize + From<Stored<DealData>>;
    type CustomField: Serialize + From<Stored<CustomFieldDefinition>>;
    type Activity: Serialize + From<Stored<ActivityData>>;
    type Task: Serialize + From<Stored<TaskData>>;
    type Ticket: Serialize + From<Stored<TicketData>>;
    type Article: Serialize + From<Stored<ArticleData>>;
}

/// A record as the API shows it, if the actor may see it.
pub fn record_view<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    record_type: RecordType,
    id: &str,
) -> Result<Option<Value>, AppError> {
    let found = match record_type {
        RecordType::Contact => {
            CONTACTS.find_visible(conn, actor, id).map(|r| serde_json::to_value(V::Contact::from(r)))
        }
        RecordType::Company => {
            COMPANIES.find_visible(conn, actor, id).map(|r| serde_json::to_value(V::Company::from(r)))
        }
        RecordType::Lead => LEADS.find_visible(conn, actor, id).map(|r| serde_json::to_value(V::Lead::from(r))),
        RecordType::Deal => DEALS.find_visible(conn, actor, id).map(|r| serde_json::to_value(V::Deal::from(r))),
        RecordType::Ticket => TICKETS.find_visible(conn, actor, id).map(|r| serde_json::to_value(V::Ticket::from(r))),
        RecordType::Article => {
            ARTICLES.find_visible(conn, actor, id).map(|r| serde_json::to_value(V::Article::from(r)))
        }
        RecordType::Product => {
            return Err(AppError::invalid(
                "record.record_type",
                "invalid",
                "must be a contact, company, lead, deal or ticket",
            ));
        }
    };
    match found {
        Ok(value) => Ok(Some(value?)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}
