//! The application layer run without HTTP, as a workflow action or a job will run it: the
//! same grants, validation, version checks and audit rows as the endpoints.

use api::routes::ApiViews;
use api::routes::contacts::ContactView;
use app::actor::{Actor, RequestContext};
use app::error::AppError;
use app::merge::MergeRequest;
use app::records::{self, WithCustom};
use domain::audit::AuditAction;
use domain::contact::{ContactChanges, ContactData};
use domain::record::Patch;
use e2e::{TestApp, on_both_backends};
use persistence::{Store, StoreOptions};
use serde_json::json;

fn actor_for(store: &Store, user_id: &str) -> Actor {
    let principal = store.read(|conn| api::extract::principal_of(conn, user_id, None)).expect("the user acts");
    Actor {
        principal,
        session_id: None,
        context: RequestContext { request_id: Some("job-7".into()), client_address: None },
        chain: None,
    }
}

fn contact(first_name: &str, owner_id: Option<&str>) -> WithCustom<ContactData> {
    let changes = ContactChanges {
        first_name: Patch::Set(first_name.into()),
        owner_id: owner_id.map_or(Patch::Keep, |id| Patch::Set(id.into())),
        ..Default::default()
    };
    WithCustom { data: ContactData::apply(None, changes).expect("valid contact"), custom: Patch::Keep }
}

on_both_backends! {
    async fn a_business_step_called_without_http_applies_the_endpoints_rules_and_audit(backend) {
        let app = TestApp::spawn(backend).await;
        let (rep_id, rep_token) = app.user_with_role("rep@example.com", "sales").await;
        let (gone_id, _) = app.user_with_role("gone@example.com", "sales").await;
        app.patch(&format!("/api/v1/users/{gone_id}"), &app.admin_token, &json!({"active": false})).await.assert_status(200);
        let store = Store::open(&app.config.database_url, &StoreOptions::default()).expect("store opens");
        let rep = actor_for(&store, &rep_id);

        // A create as the rep: stored, visible through the API, audited under the actor.
        let created: Result<_, AppError> = store.write(|conn| {
            records::create_in::<_, ContactView>(conn, &app::kinds::CONTACTS, &rep, contact("Ada", Some(&rep_id)), |_, _, _| Ok(()), AuditAction::Create)
        });
        let (ada, _) = created.expect("the rep may create their own contact");
        let read = app.get(&format!("/api/v1/contacts/{}", ada.id), &rep_token).await.assert_status(200);
        assert_eq!(read.body["first_name"], "Ada");
        let history = app.get(&format!("/api/v1/contacts/{}/history", ada.id), &rep_token).await.assert_status(200);
        assert_eq!((history.body["data"][0]["actor_user_id"].as_str(), history.body["data"][0]["request_id"].as_str()), (Some(rep_id.as_str()), Some("job-7")));

        // The rules of the endpoints: a deactivated owner, a stale version, a record the actor
        // may not see, each refused in business terms and changing nothing.
        let refused: Result<_, AppError> = store.write(|conn| {
            records::create_in::<_, ContactView>(conn, &app::kinds::CONTACTS, &rep, contact("Ghost", Some(&gone_id)), |_, _, _| Ok(()), AuditAction::Create)
        });
        assert!(matches!(refused, Err(AppError::Forbidden(_))), "a rep gives no contact to another: {refused:?}");
        let admin_id = app.get("/api/v1/me", &app.admin_token).await.assert_status(200).str("id");
        let admin = actor_for(&store, &admin_id);
        let inactive: Result<_, AppError> = store.write(|conn| {
            records::create_in::<_, ContactView>(conn, &app::kinds::CONTACTS, &admin, contact("Ghost", Some(&gone_id)), |_, _, _| Ok(()), AuditAction::Create)
        });
        match inactive {
            Err(AppError::Invalid(errors)) => assert_eq!((errors.errors()[0].field.as_str(), errors.errors()[0].code), ("owner_id", "inactive_user")),
            other => panic!("a deactivated owner is refused: {other:?}"),
        }
        let rename = |name: &str| {
            let name = name.to_owned();
            WithCustom {
                data: move |_: &mut persistence::DbConnection, _: &str, current: &ContactData| {
                    Ok(ContactData::apply(Some(current), ContactChanges { first_name: Patch::Set(name), ..Default::default() })?)
                },
                custom: Patch::Keep,
            }
        };
        let stale: Result<_, AppError> = store.write(|conn| {
            records::update_in::<_, ContactView>(conn, &app::kinds::CONTACTS, &rep, &ada.id, Some(9), rename("Stale"), |_, _, _, _, _| Ok(()), AuditAction::Update)
        });
        assert!(matches!(stale, Err(AppError::Stale(_))), "{stale:?}");
        let admins = app.post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Admins"})).await.assert_status(201).str("id");
        let hidden: Result<_, AppError> = store.write(|conn| {
            records::update_in::<_, ContactView>(conn, &app::kinds::CONTACTS, &rep, &admins, None, rename("Mine"), |_, _, _, _, _| Ok(()), AuditAction::Update)
        });
        assert!(matches!(hidden, Err(AppError::NotFound(_))), "{hidden:?}");
        let renamed: Result<_, AppError> = store.write(|conn| {
            records::update_in::<_, ContactView>(conn, &app::kinds::CONTACTS, &rep, &ada.id, Some(1), rename("Augusta"), |_, _, _, _, _| Ok(()), AuditAction::Update)
        });
        assert_eq!(renamed.expect("current version").version, 2);
        let names: Vec<String> = app.list_all("/api/v1/contacts?sort=name", &app.admin_token).await.iter().filter_map(|c| c["first_name"].as_str().map(str::to_owned)).collect();
        assert_eq!(names, ["Admins", "Augusta"]);
    }

    async fn merges_pipeline_edits_and_rule_changes_called_without_http_keep_their_grants(backend) {
        let app = TestApp::spawn(backend).await;
        let (rep_id, rep_token) = app.user_with_role("rep@example.com", "sales").await;
        let store = Store::open(&app.config.database_url, &StoreOptions::default()).expect("store opens");
        let rep = actor_for(&store, &rep_id);
        let admin_id = app.get("/api/v1/me", &app.admin_token).await.assert_status(200).str("id");
        let admin = actor_for(&store, &admin_id);

        // A merge as the rep, of the rep's own contacts: the merged one leads to the survivor.
        let keep = app.post("/api/v1/contacts", &rep_token, &json!({"first_name": "Ada", "emails": [{"email": "ada@example.com"}]})).await.assert_status(201).str("id");
        let gone = app.post("/api/v1/contacts?allow_duplicate=true", &rep_token, &json!({"first_name": "Ada L", "job_title": "Engineer"})).await.assert_status(201).str("id");
        let request = MergeRequest { merge_ids: vec![gone.clone()], ..Default::default() };
        let merged: Result<_, AppError> = store.write(|conn| app::merge::merge_contacts::<ApiViews>(conn, &rep, &keep, &request));
        assert_eq!(merged.expect("the rep merges their own contacts").data.job_title.as_deref(), Some("Engineer"));
        app.get(&format!("/api/v1/contacts/{gone}"), &rep_token).await.assert_status(301);
        let stale = MergeRequest { merge_ids: vec![gone.clone()], expected_version: Some(1), ..Default::default() };
        let again: Result<_, AppError> = store.write(|conn| app::merge::merge_contacts::<ApiViews>(conn, &rep, &keep, &stale));
        assert!(matches!(again, Err(AppError::Stale(_))), "{again:?}");

        // Pipeline edits and rules are the admins': refused to the rep in business terms.
        let pipelines = app.get("/api/v1/pipelines", &rep_token).await.assert_status(200);
        let pipeline = &pipelines.body["data"][0];
        let pipeline_id = pipeline["id"].as_str().unwrap_or_default().to_owned();
        let stage = |name: &str| pipeline["stages"].as_array().and_then(|s| s.iter().find(|s| s["name"] == name)).and_then(|s| s["id"].as_str()).unwrap_or_default().to_owned();
        let (first, won) = (stage("Prospecting"), stage("Closed won"));
        let by_rep: Result<_, AppError> = store.write(|conn| app::pipelines::delete_stage::<ApiViews>(conn, &rep, &pipeline_id, &first, None, Some(&won)));
        assert!(matches!(by_rep, Err(AppError::Forbidden(_))), "{by_rep:?}");
        let rules: Result<_, AppError> = store.read(|conn| app::definitions::SCORING_RULES.list(conn, &rep));
        assert!(matches!(rules, Err(AppError::Forbidden(_))), "{rules:?}");

        // The admin's stage deletion moves the deal through the deal rule: won closes it.
        let deal = app.post("/api/v1/deals", &rep_token, &json!({"name": "Seats", "stage_id": first})).await.assert_status(201).str("id");
        let moved: Result<_, AppError> = store.write(|conn| app::pipelines::delete_stage::<ApiViews>(conn, &admin, &pipeline_id, &first, None, Some(&won)));
        assert_eq!(moved.expect("the admin deletes the stage").pipeline.stages.len(), pipeline["stages"].as_array().map_or(0, |s| s.len() - 1));
        let closed = app.get(&format!("/api/v1/deals/{deal}"), &rep_token).await.assert_status(200);
        assert_eq!(closed.body["stage_id"], json!(won));
        assert!(closed.body["closed_at"].is_string(), "{}", closed.text);
    }
}
