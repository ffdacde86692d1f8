//! How records appear outside the CRM (the audit history now; events and webhooks next): as
//! the API's views, which the entry point names once by implementing [`Views`], so a step
//! that writes several record types' history needs no view types of its own.

use domain::activity::ActivityData;
use domain::company::CompanyData;
use domain::contact::ContactData;
use domain::custom::CustomFieldDefinition;
use domain::deal::DealData;
use domain::lead::LeadData;
use domain::record::Stored;
use serde::Serialize;

/// The outside representation of each record type a multi-record step writes.
pub trait Views: 'static {
    type Contact: Serialize + From<Stored<ContactData>>;
    type Company: Serialize + From<Stored<CompanyData>>;
    type Lead: Serialize + From<Stored<LeadData>>;
    type Deal: Serialize + From<Stored<DealData>>;
    type CustomField: Serialize + From<Stored<CustomFieldDefinition>>;
    type Activity: Serialize + From<Stored<ActivityData>>;
}
