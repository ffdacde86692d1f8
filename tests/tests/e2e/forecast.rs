//! The forecast from history through the real server: stage win rates from the recorded stage
//! changes of closed deals, computed by hand here, and open deals weighted by them.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends! {
    async fn open_deals_are_weighted_by_the_win_rate_of_the_closed_deals_that_were_in_their_stage(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = &app.admin_token;
        let pipeline = app
            .post("/api/v1/pipelines", admin, &json!({"name": "History", "stages": [
                {"name": "Intro", "probability": 10}, {"name": "Demo", "probability": 90},
                {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}
            ]}))
            .await
            .assert_status(201);
        let pipeline_id = pipeline.str("id");
        let stage = |n: usize| pipeline.body["stages"][n]["id"].as_str().unwrap().to_owned();
        let (intro, demo, won, lost) = (stage(0), stage(1), stage(2), stage(3));

        // Five closed deals: through Intro all five (3 won, 2 lost), through Demo three (2 won, 1 lost).
        for path in [vec![&demo, &won], vec![&demo, &lost], vec![&lost], vec![&won], vec![&demo, &won]] {
            let deal = app
                .post("/api/v1/deals", admin, &json!({"name": "Closed", "pipeline_id": pipeline_id, "stage_id": intro}))
                .await
                .assert_status(201)
                .str("id");
            for next in path {
                app.patch(&format!("/api/v1/deals/{deal}"), admin, &json!({"stage_id": next})).await.assert_status(200);
            }
        }
        let open = |name: &str, stage: &str, amount: i64| {
            json!({"name": name, "pipeline_id": pipeline_id, "stage_id": stage, "amount": {"amount_minor": amount, "currency": "EUR"}})
        };
        let early = app.post("/api/v1/deals", admin, &open("Early", &intro, 1_000)).await.assert_status(201).str("id");
        let late = app.post("/api/v1/deals", admin, &open("Late", &demo, 3_000)).await.assert_status(201).str("id");

        let url = format!("/api/v1/forecast?method=history&pipeline_id={pipeline_id}");
        let forecast = app.get(&url, admin).await.assert_status(200);
        let rate = |stage_id: &str| -> Value {
            forecast.body["stage_history"].as_array().unwrap().iter().find(|h| h["stage_id"] == stage_id).cloned().unwrap()
        };
        let intro_history = rate(&intro);
        assert_eq!((intro_history["deals"].as_i64(), intro_history["won"].as_i64(), intro_history["lost"].as_i64()), (Some(5), Some(3), Some(2)));
        assert_eq!(intro_history["win_rate_percent"], 60);
        assert_eq!(intro_history["average_days_to_win"], 0, "the test's deals were won within seconds");
        let demo_history = rate(&demo);
        assert_eq!((demo_history["deals"].as_i64(), demo_history["win_rate_percent"].as_i64()), (Some(3), Some(67)));
        assert_eq!(forecast.body["stage_history"].as_array().unwrap().len(), 2, "closed stages have no rate");

        let basis = |deal: &str| -> Value {
            forecast.body["deals"].as_array().unwrap().iter().find(|d| d["deal_id"] == deal).cloned().unwrap()
        };
        let today = chrono::Utc::now().date_naive().to_string();
        assert_eq!(basis(&early)["basis"], "history");
        assert_eq!(basis(&early)["win_rate_percent"], 60);
        assert_eq!(basis(&early)["expected_close_date"], today.as_str());
        assert_eq!(basis(&late)["win_rate_percent"], 67);

        // 1,000 x 60 % + 3,000 x 67 %, in this month; the closed deals had no amount.
        let this_month = &forecast.body["periods"][0]["currencies"][0];
        assert_eq!(this_month["currency"], "EUR");
        assert_eq!(this_month["weighted"], 600 + 2_010);
        assert_eq!(this_month["open_pipeline"], 4_000);
        assert_eq!(this_month["open_deals"], 2);
        assert!(forecast.body["method"].as_str().unwrap().contains("365 days"));

        // The configured probabilities are still the default; undated open deals are left out there.
        let by_stage = app.get(&format!("/api/v1/forecast?pipeline_id={pipeline_id}"), admin).await.assert_status(200);
        assert!(by_stage.body.get("deals").is_none());
        assert_eq!(by_stage.body["periods"][0]["currencies"], json!([]));

        // Someone who sees none of these deals gets no history from them.
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let theirs = app.get(&url, &rep).await.assert_status(200);
        assert_eq!(theirs.body["stage_history"], json!([]));
        assert_eq!(theirs.body["deals"], json!([]));

        app.get("/api/v1/forecast?method=history&lookback_days=0", admin).await.assert_problem(400);
        app.get("/api/v1/forecast?method=hunch", admin).await.assert_problem(400);
    }
}
