//! Rebuilds when a migration changes: `embed_migrations!` alone does not notice new files.
fn main() {
    println!("cargo:rerun-if-changed=../migrations/sqlite");
    println!("cargo:rerun-if-changed=../migrations/postgres");
}
