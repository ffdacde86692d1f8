use api::config::Config;
use api::startup::bootstrap;
use e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, fresh_database, on_both_backends};
use serde_json::json;

on_both_backends! {
    async fn a_generated_token_secret_survives_a_restart(backend) {
        let app = TestApp::spawn_with(backend, |config| config.jwt_secret = None).await;
        let contact = app.post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Persisted"})).await.assert_status(201);
        let restarted = app.second_server();
        let read = restarted.get(&contact.header("location").unwrap_or_default(), &app.admin_token).await.assert_status(200);
        assert_eq!(read.str("first_name"), "Persisted");
    }

    async fn several_processes_can_bootstrap_one_fresh_database_at_once(backend) {
        let (_db, url) = fresh_database(backend);
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let mut config = Config::for_database(url.clone());
                config.admin_email = Some(ADMIN_EMAIL.into());
                config.admin_password = Some(ADMIN_PASSWORD.into());
                config.jwt_secret = None;
                std::thread::spawn(move || bootstrap(&config).map(|_| ()).map_err(|e| e.to_string()))
            })
            .collect();
        for start in starts {
            assert_eq!(start.join().expect("bootstrap thread ends"), Ok(()));
        }
        let mut config = Config::for_database(url);
        config.jwt_secret = None;
        let app = TestApp::spawn_on(config).await;
        let users = app.get("/api/v1/users", &app.admin_token).await.assert_status(200);
        assert_eq!(users.body["data"].as_array().map(Vec::len), Some(1), "exactly one first admin");
    }
}
