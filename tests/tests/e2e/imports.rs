use domain::csv;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

/// The rows of a CSV answer, header first.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::parse(text).expect("the answer is well-formed CSV").into_iter().map(|row| row.cells).collect()
}

/// The cell under `column` in each data row.
fn column(rows: &[Vec<String>], column: &str) -> Vec<String> {
    let index = rows[0].iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column}: {:?}", rows[0]));
    rows[1..].iter().map(|row| row[index].clone()).collect()
}

async fn import_and_wait(app: &TestApp, token: &str, options: Value, file: &str) -> Value {
    let accepted = app.upload_import(token, &options, file.as_bytes()).await.assert_status(202);
    assert_eq!(accepted.header("location"), Some(format!("/api/v1/imports/{}", accepted.str("id"))));
    app.wait_for_import(token, &accepted.str("id")).await
}

fn counts(import: &Value) -> [i64; 5] {
    let c = &import["counts"];
    ["processed", "created", "updated", "skipped", "failed"].map(|k| c[k].as_i64().unwrap_or(-1))
}

on_both_backends! {
    async fn a_contact_file_becomes_contacts_and_its_failed_rows_are_reported_with_their_cells(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "budget", "label": "Budget", "field_type": "number"})).await.assert_status(201);
        let company = app.post("/api/v1/companies", &admin, &json!({"name": "Engines"})).await.assert_status(201).str("id");
        app.post("/api/v1/contacts", &admin, &json!({"first_name": "Known", "emails": [{"email": "known@x.example"}]})).await.assert_status(201);
        let file = format!(
            "First Name,Last Name,E-mail,Phone,Tags,Budget,Company,Stage,Notes,Internal\n\
             Ada,Lovelace,Ada@Engines.example,+44 20 7946 0000,vip; partner,1200,{company},Retention,\"Likes, commas\nand lines\",x\n\
             Bea,Bad,not-an-email,,,,,,,x\n\
             Cy,Cash,cy@x.example,,,lots,,,,x\n\
             Dot,Stage,dot@x.example,,,,,someday,,x\n\
             Eve,Short,eve@x.example\n\
             Known,Again,KNOWN@x.example,,,,,,,x\n\
             Ada,Twice,ada@engines.example,,,,,,,x\n\
             Fay,Formula,=cmd|' /C calc'!A0,,,,,,,x\n\
             Gus,Ghost,gus@x.example,,,,nonexistent-company,,,x\n\
             Hal,Fine,hal@x.example,,,7.5,,loyalty,,x\n"
        );
        let mapping = json!({"E-mail": "emails", "Phone": "phones", "Company": "company_id", "Stage": "lifecycle_stage", "Internal": null});
        let import = import_and_wait(&app, &admin, json!({"record_type": "contact", "mapping": mapping}), &file).await;
        assert_eq!(import["status"], "completed", "{import}");
        assert_eq!(import["total_rows"], 10);
        // Ada and Hal created; Known and the second Ada skipped as duplicates; six rows failed.
        assert_eq!(counts(&import), [10, 2, 0, 2, 6], "{import}");
        assert_eq!(import["columns"][2], json!({"column": "E-mail", "field": "emails"}));
        assert_eq!(import["columns"][9], json!({"column": "Internal", "field": null}));

        let ada = app.post("/api/v1/contacts/search", &admin, &json!({"q": "lovelace"})).await.assert_status(200).body["data"][0].clone();
        assert_eq!(ada["emails"][0]["email"], "ada@engines.example");
        assert_eq!(ada["phones"][0]["number"], "+442079460000");
        assert_eq!(ada["tags"], json!(["vip", "partner"]));
        assert_eq!(ada["custom_fields"], json!({"budget": 1200}));
        assert_eq!(ada["company_id"], json!(company));
        assert_eq!(ada["lifecycle_stage"], "retention");
        assert_eq!(ada["source"], "import");
        assert_eq!(ada["notes"], "Likes, commas\nand lines");
        assert_eq!(app.list_all("/api/v1/contacts", &admin).await.len(), 3);

        let history = app.get(&format!("/api/v1/contacts/{}/history", ada["id"].as_str().unwrap()), &admin).await.assert_status(200).body;
        assert_eq!(history["data"][0]["action"], "import");
        assert_eq!(history["data"][0]["request_id"], import["request_id"]);
        assert_eq!(history["data"][0]["changes"]["first_name"]["to"], "Ada");

        let report = app.get(import["errors_url"].as_str().unwrap(), &admin).await.assert_status(200);
        assert_eq!(report.header("content-type").as_deref(), Some("text/csv; charset=utf-8"));
        let rows = csv_rows(&report.text);
        assert_eq!(rows[0][..4], ["row", "line", "errors", "First Name"]);
        assert_eq!(column(&rows, "row"), ["2", "3", "4", "5", "6", "7", "8", "9"]);
        let errors = column(&rows, "errors");
        assert!(errors[0].starts_with("E-mail: "), "{errors:?}");
        assert!(errors[1].starts_with("Budget: "), "{errors:?}");
        assert!(errors[2].starts_with("Stage: `someday` is not one of"), "{errors:?}");
        assert!(errors[3].starts_with("row: has 3 cells but the header has 10"), "{errors:?}");
        // Skipped rows name the record they match.
        let known = app.post("/api/v1/contacts/search", &admin, &json!({"q": "known@x"})).await.body["data"][0]["id"].clone();
        assert_eq!(errors[4], format!("row: matches contact {}, so it was skipped (dedupe `skip`)", known.as_str().unwrap()));
        assert_eq!(errors[5], format!("row: matches contact {}, so it was skipped (dedupe `skip`)", ada["id"].as_str().unwrap()));
        assert!(errors[6].starts_with("E-mail: "), "{errors:?}");
        assert!(errors[7].starts_with("Company: "), "{errors:?}");
        // The line counts the multi-line cell of row 1; the row's own cells come back, made safe.
        assert_eq!(column(&rows, "line"), ["4", "5", "6", "7", "8", "9", "10", "11"]);
        assert_eq!(column(&rows, "First Name"), ["Bea", "Cy", "Dot", "Eve", "Known", "Ada", "Fay", "Gus"]);
        assert_eq!(column(&rows, "E-mail")[6], "'=cmd|' /C calc'!A0");

        let listed = app.get("/api/v1/imports", &admin).await.assert_status(200).body;
        assert_eq!(listed["data"][0]["id"], import["id"]);
        // Only its uploader and admins see an import.
        let rep = app.user_with_role("rep@example.com", "sales").await.1;
        app.get(&format!("/api/v1/imports/{}", import["id"].as_str().unwrap()), &rep).await.assert_problem(404);
        app.get(import["errors_url"].as_str().unwrap(), &rep).await.assert_problem(404);
        assert_eq!(app.get("/api/v1/imports", &rep).await.assert_status(200).body["data"], json!([]));
    }

    async fn rows_stored_together_are_each_audited_and_announced_and_a_row_like_an_earlier_one_is_decided_after_it(backend) {
        let app = TestApp::spawn_with(backend, |config| config.import_batch_rows = 20).await;
        let admin = app.admin_token.clone();
        let mut file = String::from("first_name,last_name,emails,company_id\n");
        for n in 1..=50 {
            file.push_str(&format!("P{n},Bulk,p{n}@bulk.example,\n"));
        }
        // Row 51 is like row 45 of its own batch, row 52 like row 2 of the first batch.
        file.push_str("Again,Bulk,P45@bulk.example,\nZed,Bulk,p2@bulk.example,\n");
        file.push_str("Bad,Email,nope,\nNo,Company,nc@bulk.example,0193a5b2-0000-7000-8000-000000000000\n");
        // Row 56 shares only a name with row 3, which without a company is no duplicate.
        file.push_str("Last,Bulk,last@bulk.example,\nP3,Bulk,other3@bulk.example,\n");
        let import = import_and_wait(&app, &admin, json!({"record_type": "contact"}), &file).await;
        assert_eq!(import["status"], "completed", "{import}");
        assert_eq!(counts(&import), [56, 52, 0, 2, 2], "{import}");

        let contacts = app.list_all("/api/v1/contacts?sort=created_at", &admin).await;
        assert_eq!(contacts.len(), 52);
        let id_of = |email: &str| {
            contacts.iter().find(|c| c["emails"][0]["email"] == email).and_then(|c| c["id"].as_str()).map(str::to_owned)
        };
        let (p45, p2) = (id_of("p45@bulk.example").expect("p45 imported"), id_of("p2@bulk.example").expect("p2 imported"));
        let report = app.get(import["errors_url"].as_str().unwrap(), &admin).await.assert_status(200);
        let rows = csv_rows(&report.text);
        assert_eq!(column(&rows, "row"), ["51", "52", "53", "54"]);
        let errors = column(&rows, "errors");
        assert_eq!(errors[0], format!("row: matches contact {p45}, so it was skipped (dedupe `skip`)"));
        assert_eq!(errors[1], format!("row: matches contact {p2}, so it was skipped (dedupe `skip`)"));
        assert!(errors[2].starts_with("emails: "), "{errors:?}");
        assert!(errors[3].starts_with("company_id: names no company"), "{errors:?}");

        // Each new contact is as POST would have made it, with its own audit entry and event.
        let last = app.get(&format!("/api/v1/contacts/{}", id_of("last@bulk.example").expect("last imported")), &admin).await.assert_status(200);
        assert_eq!((last.header("etag").as_deref(), last.str("source")), (Some("\"1\""), "import".to_owned()));
        let audited = app.list_all("/api/v1/audit-log?action=import&record_type=contact", &admin).await;
        assert_eq!(audited.len(), 52);
        assert!(audited.iter().all(|entry| entry["request_id"] == import["request_id"] && entry["changes"]["last_name"]["to"].is_string()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let announced = loop {
            let feed = app.get("/api/v1/events?type=contact.created&limit=100", &admin).await.assert_status(200).body;
            let events = feed["data"].as_array().cloned().unwrap_or_default();
            if events.len() >= 52 || std::time::Instant::now() > deadline {
                break events;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(announced.len(), 52);
        let mut announced_ids: Vec<&str> = announced.iter().filter_map(|e| e["record_id"].as_str()).collect();
        let mut created_ids: Vec<&str> = contacts.iter().filter_map(|c| c["id"].as_str()).collect();
        announced_ids.sort_unstable();
        created_ids.sort_unstable();
        assert_eq!(announced_ids, created_ids);
        assert_eq!(announced[0]["data"]["object"]["source"], "import", "{}", announced[0]);
        assert_eq!(announced[0]["request_id"], import["request_id"], "{}", announced[0]);
    }

    async fn dedupe_policies_decide_what_a_row_naming_a_known_record_does(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let ada = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Ada", "last_name": "Lovelace", "job_title": "Analyst", "emails": [{"email": "ada@x.example"}]})).await.assert_status(201).str("id");
        let file = "first_name,emails,job_title\nAda,ada@x.example,CTO\n";

        let skipped = import_and_wait(&app, &admin, json!({"record_type": "contact"}), file).await;
        assert_eq!(counts(&skipped), [1, 0, 0, 1, 0]);

        let updated = import_and_wait(&app, &admin, json!({"record_type": "contact", "dedupe": "update"}), file).await;
        assert_eq!(counts(&updated), [1, 0, 1, 0, 0]);
        let after = app.get(&format!("/api/v1/contacts/{ada}"), &admin).await.assert_status(200);
        assert_eq!(after.header("etag").as_deref(), Some("\"2\""));
        // Non-empty cells change the record; everything else stays.
        assert_eq!((after.str("job_title"), after.str("last_name")), ("CTO".to_owned(), "Lovelace".to_owned()));

        let created = import_and_wait(&app, &admin, json!({"record_type": "contact", "dedupe": "create"}), file).await;
        assert_eq!(counts(&created), [1, 1, 0, 0, 0]);
        assert_eq!(app.list_all("/api/v1/contacts", &admin).await.len(), 2);

        // An id column names the record a row updates; an unknown id fails that row alone.
        let by_id = format!("id,notes\n{ada},Met at the fair\nno-such-id,Lost\n");
        let import = import_and_wait(&app, &admin, json!({"record_type": "contact", "dedupe": "update"}), &by_id).await;
        assert_eq!(counts(&import), [2, 0, 1, 0, 1]);
        assert_eq!(app.get(&format!("/api/v1/contacts/{ada}"), &admin).await.str("notes"), "Met at the fair");
        app.upload_import(&admin, &json!({"record_type": "contact", "dedupe": "create"}), by_id.as_bytes()).await.assert_problem(422);

        // Leads: a row with the email of an open lead is that lead; new leads are assigned and sourced.
        let rep = app.user_with_role("rep@example.com", "sales").await.0;
        app.post("/api/v1/assignment-rules", &admin, &json!({"name": "French leads", "conditions": [{"field": "country", "op": "in", "value": ["fr"]}], "assign_to": {"owner_id": rep}})).await.assert_status(201);
        app.post("/api/v1/leads", &admin, &json!({"first_name": "Open", "email": "open@lead.example"})).await.assert_status(201);
        let leads = "first_name,email,country,status\nOpen,open@lead.example,,contacted\nMarie,marie@lead.example,FR,\n";
        let import = import_and_wait(&app, &admin, json!({"record_type": "lead", "dedupe": "update"}), leads).await;
        assert_eq!(counts(&import), [2, 1, 1, 0, 0], "{import}");
        let all = app.list_all("/api/v1/leads?sort=name", &admin).await;
        let marie = all.iter().find(|l| l["first_name"] == "Marie").expect("Marie was imported");
        assert_eq!((marie["owner_id"].as_str(), marie["source"].as_str(), marie["status"].as_str()), (Some(rep.as_str()), Some("import"), Some("new")));
        assert_eq!(all.iter().find(|l| l["first_name"] == "Open").map(|l| l["status"].clone()), Some(json!("contacted")));

        // Deals: money as minor units and currency; the stage history starts as on POST.
        let deals = "name,amount,expected_close_date,tags\nBig one,125000 eur,2026-12-31,q4\nBad date,1 EUR,31/12/2026,\n";
        let import = import_and_wait(&app, &admin, json!({"record_type": "deal"}), deals).await;
        assert_eq!(counts(&import), [2, 1, 0, 0, 1], "{import}");
        let deal = app.list_all("/api/v1/deals", &admin).await.remove(0);
        assert_eq!(deal["amount"], json!({"amount_minor": 125000, "currency": "EUR"}));
        let changes = app.get(&format!("/api/v1/deals/{}/stage-changes", deal["id"].as_str().unwrap()), &admin).await.assert_status(200);
        assert_eq!(changes.body["data"].as_array().map(Vec::len), Some(1));
    }

    async fn files_that_cannot_be_read_are_refused_whole_and_change_nothing(backend) {
        let app = TestApp::spawn_with(backend, |config| config.import_max_bytes = 256 * 1024).await;
        let admin = app.admin_token.clone();
        let contact = json!({"record_type": "contact"});
        let refused = [
            (b"first_name,last_name\nAda,\"Love\"lace\"\n".to_vec(), "malformed_csv", "line 2"),
            (b"first_name,notes\nAda,\"never closed\nBea,fine\n".to_vec(), "malformed_csv", "line 2"),
            (b"first_name,notes\nAda,a \"quoted\" word\n".to_vec(), "malformed_csv", "line 2"),
            (b"first_name\nJos\xe9\n".to_vec(), "wrong_encoding", "line 2"),
            (b"\xff\xfef\x00i\x00\n\x00".to_vec(), "wrong_encoding", "UTF-16"),
            (b"".to_vec(), "empty_file", "no header"),
            (b"first_name,last_name\n".to_vec(), "no_rows", "no rows"),
            (b"first_name\nA\0da\n".to_vec(), "wrong_encoding", "NUL byte"),
        ];
        for (file, code, says) in refused {
            let reply = app.upload_import(&admin, &contact, &file).await.assert_problem(422);
            assert_eq!(reply.body["errors"][0]["field"], "file", "{}", reply.text);
            assert_eq!(reply.body["errors"][0]["code"], code, "{}", reply.text);
            assert!(reply.body["detail"].as_str().unwrap_or_default().contains(says), "{}", reply.text);
        }
        let unmapped = app.upload_import(&admin, &contact, b"first_name,Shoe size\nAda,7\n").await.assert_problem(422);
        assert_eq!(unmapped.body["errors"][0], json!({"field": "columns[1]", "code": "unmapped_column", "message": "`Shoe size` matches no field; map it in `mapping` (or map it to null to skip it)"}));
        let unknown = app.upload_import(&admin, &json!({"record_type": "contact", "mapping": {"first_name": "shoe_size"}}), b"first_name\nAda\n").await.assert_problem(422);
        assert_eq!(unknown.error_fields(), ["mapping.first_name"]);
        app.upload_import(&admin, &json!({"record_type": "contact", "mapping": {"first_name": "created_at"}}), b"first_name\nAda\n").await.assert_problem(422);
        app.upload_import(&admin, &json!({"record_type": "planet"}), b"name\nMars\n").await.assert_problem(400);
        app.upload_import(&admin, &json!({"record_type": "contact", "colour": "red"}), b"first_name\nAda\n").await.assert_problem(400);
        let big = format!("first_name,notes\nAda,{}\n", "x".repeat(300 * 1024));
        app.upload_import(&admin, &contact, big.as_bytes()).await.assert_problem(413);
        app.post("/api/v1/imports", &admin, &json!({"record_type": "contact"})).await.assert_problem(415);
        let reader = app.user_with_role("reader@example.com", "read_only").await.1;
        app.upload_import(&reader, &contact, b"first_name\nAda\n").await.assert_problem(403);

        assert_eq!(app.get("/api/v1/imports", &admin).await.assert_status(200).body["data"], json!([]));
        assert_eq!(app.list_all("/api/v1/contacts", &admin).await.len(), 0);
        assert_eq!(app.get("/api/v1/imports/nope", &admin).await.assert_problem(404).status, 404);
    }

    async fn a_ten_megabyte_row_fails_alone(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let file = format!("first_name,notes\nAda,short\nBea,{}\nCy,short\n", "x".repeat(10 * 1024 * 1024));
        let import = import_and_wait(&app, &admin, json!({"record_type": "contact"}), &file).await;
        assert_eq!(counts(&import), [3, 2, 0, 0, 1], "{import}");
        let rows = csv_rows(&app.get(import["errors_url"].as_str().unwrap(), &admin).await.assert_status(200).text);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1][0].as_str(), rows[1][1].as_str()), ("2", "3"));
        assert!(rows[1][2].starts_with("row: is 10485765 bytes long"), "{:?}", rows[1][2]);
        // The row is too long to keep in the report; its cells are left out.
        assert_eq!(rows[1].len(), 3);
    }

    async fn exports_stream_the_chosen_columns_of_what_the_caller_may_export_and_import_back(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "tier", "label": "Tier", "field_type": "dropdown", "options": ["Gold", "Silver"]})).await.assert_status(201);
        let mut file = String::from("first_name,last_name,emails,phones,tags,tier\n");
        for n in 0..1200 {
            let tag = if n % 3 == 0 { "vip" } else { "" };
            file.push_str(&format!("P{n:04},Person,p{n}@x.example,+4420794{n:05},{tag},Gold\n"));
        }
        file.push_str("\"=HYPERLINK(\"\"http://evil.example\"\")\",+1-cmd,at@x.example,,,\n@SUM(A1),-2+3,minus@x.example,,,\n");
        let import = import_and_wait(&app, &admin, json!({"record_type": "contact"}), &file).await;
        assert_eq!(counts(&import), [1202, 1202, 0, 0, 0], "{import}");

        // Every record, across several pages of the stream, each once.
        let export = app.get("/api/v1/contacts/export?sort=name", &admin).await.assert_status(200);
        assert_eq!(export.header("content-type").as_deref(), Some("text/csv; charset=utf-8"));
        assert!(export.header("content-disposition").unwrap_or_default().starts_with("attachment; filename=\"contacts-"));
        let rows = csv_rows(&export.text);
        assert_eq!(rows[0][..4], ["id", "first_name", "last_name", "emails"]);
        assert_eq!(rows[0].last().map(String::as_str), Some("custom_fields.tier"));
        let ids: std::collections::BTreeSet<String> = column(&rows, "id").into_iter().collect();
        assert_eq!((rows.len() - 1, ids.len()), (1202, 1202));
        // Formulas are neutralised; plain numbers such as phone numbers are not.
        let names = column(&rows, "first_name");
        assert!(names.contains(&"'=HYPERLINK(\"http://evil.example\")".to_owned()) && names.contains(&"'@SUM(A1)".to_owned()));
        assert!(column(&rows, "last_name").contains(&"'-2+3".to_owned()));
        assert!(column(&rows, "phones").contains(&"+442079400007".to_owned()));

        // A search picks the rows, the columns their order.
        let vip = app.post("/api/v1/contacts/export", &admin, &json!({"filter": {"field": "tags", "op": "contains", "value": "vip"}, "columns": ["emails", "custom_fields.tier"], "sort": "name"})).await.assert_status(200);
        let vip_rows = csv_rows(&vip.text);
        assert_eq!(vip_rows[0], ["emails", "custom_fields.tier"]);
        assert_eq!(vip_rows.len() - 1, 400);
        assert_eq!(vip_rows[1], ["p0@x.example", "Gold"]);

        // The export imports back unchanged: every row names its record, which stays the same.
        let before = app.list_all("/api/v1/contacts?sort=name", &admin).await;
        let round_trip = import_and_wait(&app, &admin, json!({"record_type": "contact", "dedupe": "update", "mapping": {"created_at": null, "updated_at": null}}), &export.text).await;
        assert_eq!(counts(&round_trip), [1202, 0, 1202, 0, 0], "{round_trip}");
        let after = app.list_all("/api/v1/contacts?sort=name", &admin).await;
        let strip = |records: &[Value]| -> Vec<Value> {
            records.iter().map(|r| { let mut r = r.clone(); r.as_object_mut().map(|o| o.remove("updated_at")); r }).collect()
        };
        let restored_quotes =
            |v: &Value| v.to_string().replace("'=", "=").replace("'@", "@").replace("'-", "-").replace("'+", "+");
        let (before, after) = (strip(&before), strip(&after));
        for (b, a) in before.iter().zip(&after) {
            // Neutralised cells come back with their leading quote; everything else is identical.
            assert_eq!(restored_quotes(b), restored_quotes(a));
        }

        // Bad columns and sorts are refused before anything streams; the export is audited.
        let bad = app.get("/api/v1/contacts/export?columns=id,shoe_size", &admin).await.assert_problem(422);
        assert_eq!(bad.error_fields(), ["columns[1]"]);
        app.get("/api/v1/contacts/export?sort=notes", &admin).await.assert_problem(422);
        app.get("/api/v1/contacts/export?colour=red", &admin).await.assert_problem(400);
        // A NUL in a text query is refused before any query runs (it used to be a 500).
        app.get("/api/v1/leads/export?q=00%00", &admin).await.assert_problem(400);
        app.get("/api/v1/leads?q=00%00", &admin).await.assert_problem(400);
        let nul = json!({"filter": {"field": "first_name", "op": "contains", "value": "a\0b"}});
        let refused = app.post("/api/v1/contacts/export", &admin, &nul).await.assert_problem(422);
        assert_eq!(refused.error_fields(), ["filter.value"]);
        let audit = app.get("/api/v1/audit-log?action=export", &admin).await.assert_status(200).body;
        assert_eq!(audit["data"].as_array().map(Vec::len), Some(2));

        // Exporting needs the export grant, and reaches only what it grants.
        let rep = app.user_with_role("rep@example.com", "sales").await.1;
        app.get("/api/v1/contacts/export", &rep).await.assert_problem(403);
        let role = app.post("/api/v1/roles", &admin, &json!({"name": "Own exporter", "grants": {"contacts": {"read": "all", "create": "own", "export": "own"}}})).await.assert_status(201).str("id");
        let exporter = app.user_with_role("exporter@example.com", &role).await.1;
        app.post("/api/v1/contacts", &exporter, &json!({"first_name": "Mine"})).await.assert_status(201);
        let own = csv_rows(&app.get("/api/v1/contacts/export?columns=first_name", &exporter).await.assert_status(200).text);
        assert_eq!(own, [vec!["first_name"], vec!["Mine"]]);
    }
}
