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

/// The idle sessions, and whether a sweeper task is closing the expired ones.
#[derive(Default)]
struct Idle {
    sessions: HashMap<SessionKey, Vec<IdleSession>>,
    sweeping: bool,
}

static IDLE: LazyLock<Mutex<Idle>> = LazyLock::new(Mutex::default);

fn idle() -> std::sync::MutexGuard<'static, Idle> {
    IDLE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes the most recently returned open session of `key`, if any.
pub fn take(key: &SessionKey) -> Option<Client> {
    let mut idle = idle();
    let sessions = idle.sessions.get_mut(key)?;
    while let Some(session) = sessions.pop() {
        if !session.client.is_closed() && session.since.elapsed() < IDLE_TIMEOUT {
            return Some(session.client);
        }
    }
    None
}

/// Keeps `client`, a session at rest, for the next shard; closes it when enough are kept.
/// Must be called inside a Tokio runtime: the first session kept starts the task that closes
/// sessions once they expire, which ends when none is left.
pub fn give_back(key: &SessionKey, client: Client) {
    if client.is_closed() {
        return;
    }
    let mut idle = idle();
    let sessions = idle.sessions.entry(key.clone()).or_default();
    if sessions.len() >= MAX_IDLE_PER_SERVER {
        return;
    }
    sessions.push(IdleSession {
        client,
        since: Instant::now(),
    });
    if !idle.sweeping {
        idle.sweeping = true;
        tokio::spawn(sweep());
    }
}

/// Closes each session once it has been idle for [`IDLE_TIMEOUT`]; returns when none is left.
async fn sweep() {
    let mut wait = IDLE_TIMEOUT;
    loop {
        tokio::time::sleep(wait).await;
        let mut idle = idle();
        for sessions in idle.sessions.values_mut() {
            sessions.retain(|session| session.since.elapsed() < IDLE_TIMEOUT);
        }
        idle.sessions.retain(|_, sessions| !sessions.is_empty());
        let oldest = idle
            .sessions
            .values()
            .flatten()
            .map(|session| session.since)
            .min();
        match oldest {
            Some(since) => wait = IDLE_TIMEOUT.saturating_sub(since.elapsed()),
            None => {
                idle.sweeping = false;
                return;
            }
        }
    }
}

/// Returns how many idle sessions are kept for `key`.
pub fn idle_count(key: &SessionKey) -> usize {
    idle().sessions.get(key).map_or(0, Vec::len)
}
