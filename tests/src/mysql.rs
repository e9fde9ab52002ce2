//! Throwaway MariaDB/MySQL databases on the machine's server (127.0.0.1:3306, root, no password).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

const START_HINT: &str =
    "start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
     (scripts/test.sh does)";

/// Opens a session on `database` (or on none) in UTC, utf8mb4 and strict mode, as the connector
/// does.
pub async fn connect(database: Option<&str>) -> Conn {
    let options = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
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
    Conn::new(options).await.unwrap_or_else(|error| {
        panic!("MariaDB is not reachable at 127.0.0.1:3306 as root ({error}); {START_HINT}")
    })
}

/// A database made for one test, dropped on [`MyDatabase::drop_database`].
pub struct MyDatabase {
    /// Its name.
    pub name: String,
}

impl MyDatabase {
    /// Creates `sluice_e2e_<random>` (utf8mb4).
    pub async fn create() -> MyDatabase {
        let name = format!(
            "sluice_e2e_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        connect(None)
            .await
            .query_drop(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await
            .unwrap_or_else(|error| panic!("create database {name}: {error}"));
        MyDatabase { name }
    }

    /// Opens a session on the database.
    pub async fn conn(&self) -> Conn {
        connect(Some(&self.name)).await
    }

    /// Runs `sql` (several statements allowed).
    pub async fn execute(&self, sql: &str) {
        self.conn()
            .await
            .query_drop(sql)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// Returns the inline connection YAML for job specs.
    pub fn connection_yaml(&self) -> String {
        format!(
            "{{type: mariadb, host: \"127.0.0.1\", port: 3306, database: {}, user: root}}",
            self.name
        )
    }

    /// Returns every row of `query` as the server renders it in text (NULL as `None`, bytes
    /// that are not UTF-8 as hex).
    pub async fn text_rows(&self, query: &str) -> Vec<Vec<Option<String>>> {
        let rows: Vec<mysql_async::Row> = self
            .conn()
            .await
            .query(query)
            .await
            .unwrap_or_else(|error| panic!("{query}: {error}"));
        rows.into_iter()
            .map(|row| {
                row.unwrap()
                    .into_iter()
                    .map(|value| match value {
                        mysql_async::Value::NULL => None,
                        mysql_async::Value::Bytes(bytes) => Some(match String::from_utf8(bytes) {
                            Ok(text) => text,
                            Err(error) => format!("0x{}", hex(error.as_bytes())),
                        }),
                        other => Some(other.as_sql(true)),
                    })
                    .collect()
            })
            .collect()
    }

    /// Returns the declared type (`COLUMN_TYPE`) of every column of `table`, in order.
    pub async fn column_types(&self, table: &str) -> Vec<(String, String)> {
        self.text_rows(&format!(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION",
            self.name
        ))
        .await
        .into_iter()
        .map(|row| (row[0].clone().unwrap(), row[1].clone().unwrap()))
        .collect()
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        connect(None)
            .await
            .query_drop(format!("DROP DATABASE IF EXISTS {}", self.name))
            .await
            .expect("drop database");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A MariaDB account with a random password, granted `privileges` on one database; dropped by
/// [`MyUser::drop_user`].
pub struct MyUser {
    /// Its name, `{prefix}_<random>`.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl MyUser {
    /// Creates the account for every host form a loopback TCP login may match (so no anonymous
    /// account shadows it) and grants it `privileges` (e.g. `SELECT`, `ALL PRIVILEGES`) on
    /// `database`.
    pub async fn create(database: &MyDatabase, prefix: &str, privileges: &str) -> MyUser {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let user = format!("{prefix}_{suffix}");
        let password = format!("Pw-{}-x", uuid::Uuid::new_v4().simple());
        let mut admin = connect(None).await;
        for host in ["%", "localhost", "127.0.0.1"] {
            admin
                .query_drop(format!(
                    "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"
                ))
                .await
                .expect("create the MariaDB user");
            admin
                .query_drop(format!(
                    "GRANT {privileges} ON {}.* TO '{user}'@'{host}'",
                    database.name
                ))
                .await
                .expect("grant the MariaDB user its privileges");
        }
        MyUser { user, password }
    }

    /// Drops the account.
    pub async fn drop_user(self) {
        let mut admin = connect(None).await;
        for host in ["%", "localhost", "127.0.0.1"] {
            let _ = admin
                .query_drop(format!("DROP USER IF EXISTS '{}'@'{host}'", self.user))
                .await;
        }
    }
}
