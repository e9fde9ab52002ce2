//! Sessions kept between shards: when a shard's reader or writer ends cleanly, its session waits
//! here (at most [`IDLE_TIMEOUT`], at most [`MAX_IDLE_PER_SERVER`] per server, database and
//! user) for the next shard of this process, which then starts on a warm server backend instead
//! of connecting, authenticating and loading the catalog anew.
//!
//! Only sessions at rest go back (no transaction open, no COPY running, no temporary table left:
//! the callers give back after `COMMIT` or `ROLLBACK`, or after a read that ran to its end);
//! a session that failed is dropped, which closes it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// How long an idle session is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most idle sessions kept for one server, database and user.
pub const MAX_IDLE_PER_SERVER: usize = 16;

/// Whom a session is logged in as, where: sessions are only shared between equal keys.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Database.
    pub database: String,
    /// User.
    pub user: String,
    /// Password, compared so that sessions never cross credentials.
    pub password: Option<String>,
}

struct IdleSession {
    client: Client,
    since: Instant,
}

static IDLE: LazyLock<Mutex<HashMap<SessionKey, Vec<IdleSession>>>> = LazyLock::new(Mutex::default);

/// Takes the most recently returned open session of `key`, if any.
pub fn take(key: &SessionKey) -> Option<Client> {
    let mut idle = IDLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let sessions = idle.get_mut(key)?;
    while let Some(session) = sessions.pop() {
        if !session.client.is_closed() && session.since.elapsed() < IDLE_TIMEOUT {
            return Some(session.client);
        }
    }
    None
}

/// Keeps `client`, a session at rest, for the next shard; closes it when enough are kept.
/// Must be called inside a Tokio runtime (a timer closes the session once it expires).
pub fn give_back(key: &SessionKey, client: Client) {
    if client.is_closed() {
        return;
    }
    {
        let mut idle = IDLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sessions = idle.entry(key.clone()).or_default();
        if sessions.len() >= MAX_IDLE_PER_SERVER {
            return;
        }
        sessions.push(IdleSession {
            client,
            since: Instant::now(),
        });
    }
    tokio::spawn(async {
        tokio::time::sleep(IDLE_TIMEOUT).await;
        close_expired();
    });
}

/// Closes the sessions idle for [`IDLE_TIMEOUT`] or more.
fn close_expired() {
    let mut idle = IDLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for sessions in idle.values_mut() {
        sessions.retain(|session| session.since.elapsed() < IDLE_TIMEOUT);
    }
    idle.retain(|_, sessions| !sessions.is_empty());
}

/// Returns how many idle sessions are kept for `key`.
pub fn idle_count(key: &SessionKey) -> usize {
    let idle = IDLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    idle.get(key).map_or(0, Vec::len)
}
