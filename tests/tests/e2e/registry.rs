//! The record type registry against what the migrations made: every declared record type has
//! its table with the columns the generic machinery uses, the columns that point at it, and
//! its text index, on both backends.

use diesel::RunQueryDsl;
use domain::registry::RECORD_TYPES;
use e2e::{Backend, TestApp, on_both_backends};
use persistence::{Store, StoreOptions};

on_both_backends! {
    async fn every_declared_record_type_has_its_table_columns_and_text_index(backend) {
        let app = TestApp::spawn(backend).await;
        let store = Store::open(&app.config.database_url, &StoreOptions::default()).expect("store opens");
        store
            .read(|conn| {
                for spec in RECORD_TYPES {
                    let table = spec.table();
                    diesel::sql_query(format!(
                        "SELECT id, owner_id, team_id, version, created_at, updated_at, deleted_at, search_text FROM {table} WHERE 1 = 0"
                    ))
                    .execute(conn)
                    .unwrap_or_else(|e| panic!("{table}: {e}"));
                    for (referring, column) in spec.referred_by {
                        diesel::sql_query(format!("SELECT {column} FROM {referring} WHERE 1 = 0"))
                            .execute(conn)
                            .unwrap_or_else(|e| panic!("{referring}.{column} (refers to {table}): {e}"));
                    }
                    if spec.text_index {
                        let index = match backend {
                            Backend::Sqlite => format!("SELECT rowid FROM {table}_search WHERE 1 = 0"),
                            Backend::Postgres => format!(
                                "SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND indexdef LIKE '%gin_trgm_ops%'"
                            ),
                        };
                        let found = diesel::sql_query(index).execute(conn).unwrap_or_else(|e| panic!("{table}: {e}"));
                        if backend == Backend::Postgres {
                            assert!(found >= 1, "{table}: declared with a text index, but has no trigram index");
                        }
                    }
                }
                Ok::<_, persistence::StoreError>(())
            })
            .expect("the registry matches the schema");
    }
}
