//! Lead conversion: a qualified lead becomes a contact, a company and optionally a deal, in
//! the caller's transaction, with the same checks each of those records gets on its own.

use chrono::{NaiveDate, Utc};
use domain::access::{Action, Module};
use domain::activity::{RecordRef, RecordType};
use domain::audit::AuditAction;
use domain::company::{CompanyChanges, CompanyData, MoneyInput};
use domain::contact::{ContactChanges, ContactData, EmailInput, LifecycleStage, PhoneInput, Source};
use domain::deal::{DealChanges, DealData};
use domain::lead::{Conversion, ConvertRefused, LeadChanges, LeadData, LeadStatus, NewLeadEvent};
use domain::record::{Owned, Patch};
use domain::values::AddressInput;
use persistence::companies::{self, Company};
use persistence::contacts::{self, Contact};
use persistence::deals::Deal;
use persistence::leads::{self, Lead};
use persistence::{DbConnection, activities, tasks};

use crate::actor::Actor;
use crate::audit;
use crate::error::AppError;
use crate::kinds::{COMPANIES, CONTACTS, DEALS, LEADS};
use crate::records::{self, check_owner_and_team, check_version, require_visible};
use crate::views::Views;
use crate::{deals, duplicates, sales};

/// The deal a conversion creates.
#[derive(Debug, Clone, Default)]
pub struct DealRequest {
    /// Default: the company's (or the lead's) name.
    pub name: Option<String>,
    /// Default: the first pipeline.
    pub pipeline_id: Option<String>,
    /// Default: the pipeline's first open stage.
    pub stage_id: Option<String>,
    pub amount: Option<MoneyInput>,
    pub expected_close_date: Option<NaiveDate>,
}

/// How to convert a lead.
#[derive(Debug, Clone, Default)]
pub struct ConvertRequest {
    /// Link to this existing contact instead of creating one.
    pub contact_id: Option<String>,
    /// Link to this existing company instead of creating one.
    pub company_id: Option<String>,
    /// Create a company from the lead's company details when no `company_id` is given.
    pub create_company: bool,
    pub deal: Option<DealRequest>,
    /// Create the contact and company even when they look like existing ones.
    pub allow_duplicate: bool,
}

/// What a conversion made.
#[derive(Debug)]
pub struct Converted {
    pub lead: Lead,
    pub contact: Contact,
    pub company: Option<Company>,
    pub deal: Option<Deal>,
}

fn conflict_for(refused: ConvertRefused) -> AppError {
    AppError::Conflict(match refused {
        ConvertRefused::AlreadyConverted => "this lead is already converted".into(),
        ConvertRefused::Unqualified => "an unqualified lead cannot be converted; requalify it first".into(),
    })
}

/// Converts a lead the actor may edit (at `expected_version`, if given): creates or links
/// its contact and company, optionally creates a deal, marks the lead converted, records the
/// status change and links the lead's activities and tasks to what it became. What it creates
/// belongs to the lead's owner and team, checked as a POST checks them.
pub fn convert<V: Views>(
    conn: &mut DbConnection,
    caller: &Actor,
    id: &str,
    expected_version: Option<i64>,
    request: ConvertRequest,
) -> Result<Converted, AppError> {
    let principal = &caller.principal;
    let lead = LEADS.find_visible(conn, caller, id)?;
    principal.may(Module::Leads, Action::Edit, lead.data.ownership())?;
    check_version(expected_version, lead.version)?;
    lead.data.status.may_convert().map_err(conflict_for)?;
    let data = &lead.data;
    let owner = Patch::from_option(data.owner_id.clone().or_else(|| Some(principal.user_id.clone())));
    let team = Patch::from_option(data.team_id.clone());
    check_owner_and_team(conn, data.owner_id.as_deref(), data.team_id.as_deref())?;
    let now = Utc::now();

    let company = match (&request.company_id, &data.company_name) {
        (Some(company_id), _) => Some(require_visible(conn, caller, &COMPANIES, "company_id", company_id)?),
        (None, Some(name)) if request.create_company => {
            let changes = CompanyChanges {
                name: Patch::Set(name.clone()),
                domain: Patch::from_option(data.website.clone()),
                industry: Patch::from_option(data.industry.clone()),
                employee_count: Patch::from_option(data.employee_count),
                address: Patch::from_option(
                    data.country.clone().map(|country| AddressInput { country: Some(country), ..Default::default() }),
                ),
                owner_id: owner.clone(),
                team_id: team.clone(),
                ..Default::default()
            };
            let mut company = CompanyData::apply(None, changes)?;
            records::fill_custom_defaults(conn, &COMPANIES, &mut company)?;
            principal.may_create(Module::Companies, company.ownership())?;
            duplicates::check_new_company(conn, caller, &company, request.allow_duplicate)?;
            let company = companies::create(conn, &company, now)?;
            let view = V::Company::from(company.clone());
            audit::record_change(conn, caller, AuditAction::Create, ("company", &company.id), None, Some(&view))?;
            Some(company)
        }
        _ => None,
    };
    let company_id = company.as_ref().map(|c| c.id.clone());

    let contact = match &request.contact_id {
        Some(contact_id) => require_visible(conn, caller, &CONTACTS, "contact_id", contact_id)?,
        None => {
            let changes = ContactChanges {
                first_name: Patch::from_option(data.first_name.clone()),
                last_name: Patch::from_option(data.last_name.clone()),
                emails: Patch::from_option(
                    data.email.clone().map(|email| vec![EmailInput { email, label: None, primary: true }]),
                ),
                phones: Patch::from_option(
                    data.phone.clone().map(|number| vec![PhoneInput { number, label: None, primary: true }]),
                ),
                job_title: Patch::from_option(data.job_title.clone()),
                company_id: Patch::from_option(company_id.clone()),
                owner_id: owner.clone(),
                team_id: team.clone(),
                tags: Patch::Set(data.tags.as_slice().to_vec()),
                source: Patch::from_option(data.source),
                lifecycle_stage: Patch::Set(if request.deal.is_some() {
                    LifecycleStage::Conversion
                } else {
                    LifecycleStage::Acquisition
                }),
                ..Default::default()
            };
            let mut contact = ContactData::apply(None, changes)?;
            records::fill_custom_defaults(conn, &CONTACTS, &mut contact)?;
            principal.may_create(Module::Contacts, contact.ownership())?;
            duplicates::check_new_contact(conn, caller, &contact, request.allow_duplicate)?;
            let contact = contacts::create(conn, &contact, now)?;
            let view = V::Contact::from(contact.clone());
            audit::record_change(conn, caller, AuditAction::Create, ("contact", &contact.id), None, Some(&view))?;
            contact
        }
    };

    let deal = match request.deal {
        Some(deal) => {
            let pipeline = deals::load_pipeline(conn, deal.pipeline_id.as_deref())?;
            let person =
                [data.first_name.as_deref(), data.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>();
            let default_name = data
                .company_name
                .clone()
                .or_else(|| (!person.is_empty()).then(|| person.join(" ")))
                .or_else(|| data.email.clone())
                .unwrap_or_else(|| "New deal".into());
            let changes = DealChanges {
                name: Patch::Set(deal.name.unwrap_or(default_name)),
                amount: Patch::from_option(deal.amount),
                expected_close_date: Patch::from_option(deal.expected_close_date),
                stage_id: Patch::from_option(deal.stage_id),
                owner_id: owner.clone(),
                team_id: team.clone(),
                company_id: Patch::from_option(company_id.clone()),
                contact_ids: Patch::Set(vec![contact.id.clone()]),
                ..Default::default()
            };
            let mut deal_data = DealData::apply(None, changes, &pipeline.pipeline, now)?;
            deal_data.lead_id = Some(lead.id.clone());
            records::fill_custom_defaults(conn, &DEALS, &mut deal_data)?;
            Some(deals::create_in::<V>(conn, caller, deal_data)?)
        }
        None => None,
    };

    let conversion = Conversion {
        contact_id: contact.id.clone(),
        company_id: company_id.clone(),
        deal_id: deal.as_ref().map(|d| d.id.clone()),
        converted_at: now,
    };
    let converted = lead.data.clone().converted(conversion).map_err(conflict_for)?;
    let updated = leads::update(conn, &lead.id, lead.version, &converted, now)?;
    let (before, after) = (V::Lead::from(lead.clone()), V::Lead::from(updated.clone()));
    audit::record_change(conn, caller, AuditAction::Convert, ("lead", &lead.id), Some(&before), Some(&after))?;
    sales::record_status(
        conn,
        &lead.id,
        Some(lead.data.status.as_str()),
        LeadStatus::Converted.as_str(),
        caller.actor(),
    )?;
    let from = RecordRef { record_type: RecordType::Lead, id: lead.id.clone() };
    let mut targets = vec![RecordRef { record_type: RecordType::Contact, id: contact.id.clone() }];
    targets.extend(company_id.map(|id| RecordRef { record_type: RecordType::Company, id }));
    targets.extend(deal.as_ref().map(|d| RecordRef { record_type: RecordType::Deal, id: d.id.clone() }));
    activities::relink(conn, &from, &targets, true)?;
    tasks::relink(conn, &from, &targets, true)?;
    Ok(Converted { lead: updated, contact, company, deal })
}

/// Stores a new lead in the caller's transaction: custom values, assignment (the actor owns
/// it when no rule applies), status history and score, and the audit row as `action`.
pub fn insert<V: Views>(
    conn: &mut DbConnection,
    caller: &Actor,
    input: records::WithCustom<LeadData>,
    action: AuditAction,
) -> Result<Lead, AppError> {
    let records::WithCustom { mut data, custom } = input;
    records::apply_custom_values(conn, &LEADS, &mut data, &custom, true)?;
    sales::assign(conn, &mut data, None)?;
    if data.owner_id.is_none() && data.team_id.is_none() {
        data.owner_id = Some(caller.principal.user_id.clone());
    }
    let lead = sales::insert_lead(conn, data, None, caller.actor())?;
    let view = V::Lead::from(lead.clone());
    audit::record_change(conn, caller, action, ("lead", &lead.id), None, Some(&view))?;
    Ok(lead)
}

/// What a lead change records: a status move enters the status history.
pub fn changed(
    conn: &mut DbConnection,
    caller: &Actor,
    id: &str,
    before: &LeadData,
    after: &LeadData,
) -> Result<(), AppError> {
    if before.status != after.status {
        sales::record_status(conn, id, Some(before.status.as_str()), after.status.as_str(), caller.actor())?;
    }
    Ok(())
}

/// The open lead with the same email the actor can see, for imports.
pub fn duplicate_of(conn: &mut DbConnection, caller: &Actor, data: &LeadData) -> Result<Option<String>, AppError> {
    let Some(email) = &data.email else { return Ok(None) };
    match leads::find_open_by_email(conn, email)? {
        Some(lead) if LEADS.find_visible(conn, caller, &lead.id).is_ok() => Ok(Some(lead.id)),
        _ => Ok(None),
    }
}

/// A new lead's data from the requested changes: source `api` unless named; an owner or team
/// it names must be within the actor's create scope (otherwise the assignment rules choose
/// when it is inserted).
pub fn new_data(actor: &Actor, mut changes: LeadChanges) -> Result<LeadData, AppError> {
    if !changes.source.is_given() {
        changes.source = Patch::Set(Source::Api);
    }
    let data = LeadData::apply(None, changes)?;
    if data.owner_id.is_some() || data.team_id.is_some() {
        actor.principal.may_create(Module::Leads, data.ownership())?;
    }
    Ok(data)
}

/// A lead's data after `changes`, its score recomputed from the scoring rules.
pub fn patched(
    conn: &mut DbConnection,
    id: &str,
    changes: LeadChanges,
    current: &LeadData,
) -> Result<LeadData, AppError> {
    let mut data = LeadData::apply(Some(current), changes)?;
    data.score = sales::explain_score(conn, id, &data)?.score;
    Ok(data)
}

/// An engagement event as recorded, and the lead's score after it.
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    pub id: String,
    pub score: i64,
}

/// Records an engagement event of a lead the actor may edit, and rescores the lead.
pub fn record_event(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    event: &NewLeadEvent,
) -> Result<RecordedEvent, AppError> {
    let lead = LEADS.find_visible(conn, actor, id)?;
    actor.principal.may(Module::Leads, Action::Edit, lead.data.ownership())?;
    let event_id = leads::insert_event(conn, id, &event.event_type, event.occurred_at, &event.properties, Utc::now())?;
    let score = sales::rescore(conn, id, &lead.data)?;
    Ok(RecordedEvent { id: event_id, score })
}
