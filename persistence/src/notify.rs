//! Hearing what other processes sharing a PostgreSQL database announce with `NOTIFY`
//! (security changes, new jobs): a thread of its own per channel, on a connection of its own.
//! SQLite has no such channel; there, what one process does is all it hears. This is one of the
//! named places where the backends differ.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::connection::{Backend, DatabaseUrl};

/// On PostgreSQL, starts a thread that checks for notifications on `channel`
/// (`security::CHANNEL`, `jobs::CHANNEL`) every `poll` (reading a notification needs no query) and
/// calls `heard(news)` each time: `news` is true when any process notified since, and after
/// each reconnection (news may have been missed meanwhile). The thread ends when `heard`
/// answers `false` (nobody listens any more) or the database is gone.
pub fn listen(url: &DatabaseUrl, channel: &'static str, poll: Duration, heard: impl Fn(bool) -> bool + Send + 'static) {
    if url.backend() != Backend::Postgres {
        return;
    }
    let target = url.target().to_owned();
    let spawned = std::thread::Builder::new().name(format!("{channel}-listener")).spawn(move || {
        loop {
            match PgConnection::establish(&target) {
                Ok(mut conn) => {
                    if conn.batch_execute(&format!("LISTEN {channel}")).is_ok() {
                        if !heard(true) {
                            return;
                        }
                        'connected: loop {
                            std::thread::sleep(poll);
                            let mut news = false;
                            for notification in conn.notifications_iter() {
                                match notification {
                                    Ok(_) => news = true,
                                    Err(error) => {
                                        log::warn!("{channel} listener lost its connection: {error}");
                                        break 'connected;
                                    }
                                }
                            }
                            if !heard(news) {
                                return;
                            }
                        }
                    }
                }
                Err(error) if error.to_string().contains("does not exist") => {
                    log::warn!("{channel} listener stops: {error}");
                    return;
                }
                Err(error) => log::warn!("{channel} listener cannot connect: {error}"),
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    if let Err(error) = spawned {
        log::error!("{channel} listener thread did not start: {error}");
    }
}
