//! Shared helpers of the MySQL / MariaDB integration tests: a throwaway database per test on
//! the server at 127.0.0.1:3306 (user root, empty password), and running shards through the
//! Source/Sink traits the way a worker does (the spec and shard helpers live in
//! `postgres_support.rs`, included beside this file).
//!
//! Included with `#[path = "mysql_support.rs"] mod mysql_support;`; as its own test target it
//! holds no test.

#![allow(dead_code)]

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

/// Host of the test server.
pub const HOST: &str = "127.0.0.1";
const START_HINT: &str =
    "MariaDB (or MySQL) must run on 127.0.0.1:3306 with user root and an empty password; \
     start it with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd";

/// Opens a session on `database` (or none), with the connector's session settings.
pub async fn connect_to(database: Option<&str>) -> Conn {
    let options = OptsBuilder::default()
        .ip_or_hostname(HOST)
        .tcp_port(3306)
        .user(Some("root"))
        .db_name(database)
        .prefer_socket(false)
        .init(
            sluice_connectors::mysql::config::SESSION_SETUP
                .iter()
                .map(|statement| statement.to_string())
                .collect(),
        );
    match Conn::new(options).await {
        Ok(conn) => conn,
        Err(error) => panic!("cannot connect to MariaDB at {HOST}:3306: {error}. {START_HINT}"),
    }
}

/// A database created for one test and dropped by [`MyDb::drop_database`].
pub struct MyDb {
    /// Database name.
    pub name: String,
}

impl MyDb {
    /// Creates a fresh database `sluice_test_<random>`.
    pub async fn create() -> MyDb {
        let mut admin = connect_to(None).await;
        let name = format!(
            "sluice_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin
            .query_drop(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await
            .expect("create test database");
        MyDb { name }
    }

    /// Returns a new session on the test database.
    pub async fn conn(&self) -> Conn {
        connect_to(Some(&self.name)).await
    }

    /// Returns the inline connection of the test database, for specs.
    pub fn connection_yaml(&self) -> String {
        self.connection_yaml_with("")
    }

    /// Returns the inline connection with extra options (`, zero_date: null`).
    pub fn connection_yaml_with(&self, extra: &str) -> String {
        format!(
            "{{type: mysql, host: \"{HOST}\", port: 3306, database: {}, user: root{extra}}}",
            self.name
        )
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        let mut admin = connect_to(None).await;
        admin
            .query_drop(format!("DROP DATABASE IF EXISTS {}", self.name))
            .await
            .expect("drop test database");
    }
}

/// Runs `sql` (several statements allowed).
pub async fn execute(conn: &mut Conn, sql: &str) {
    conn.query_drop(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Returns every row of `sql` as the server's text rendering (NULL as `None`).
pub async fn text_rows(conn: &mut Conn, sql: &str) -> Vec<Vec<Option<String>>> {
    let rows: Vec<mysql_async::Row> = conn
        .query(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    rows.into_iter()
        .map(|row| {
            row.unwrap()
                .into_iter()
                .map(|value| match value {
                    mysql_async::Value::NULL => None,
                    mysql_async::Value::Bytes(bytes) => Some(match String::from_utf8(bytes) {
                        Ok(text) => text,
                        Err(error) => format!("{:02x?}", error.into_bytes()),
                    }),
                    other => Some(other.as_sql(true)),
                })
                .collect()
        })
        .collect()
}

/// Returns a single integer.
pub async fn count(conn: &mut Conn, sql: &str) -> i64 {
    conn.query_first::<i64, _>(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .unwrap_or_default()
}
