//! The application layer run without HTTP, as a workflow action or a job will run it: the
//! same grants, validation, version checks and audit rows as the endpoints.

use api::routes::contacts::ContactView;
use app::actor::{Actor, RequestContext};
use app::error::AppError;
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
}
