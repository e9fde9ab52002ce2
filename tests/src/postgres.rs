//! Throwaway PostgreSQL databases on the machine's server (127.0.0.1:5432, trust auth).

use tokio_postgres::{Client, NoTls};

const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";

async fn connect(database: &str) -> Client {
    let (client, connection) =
        tokio_postgres::connect(&format!("{SERVER} dbname={database}"), NoTls)
            .await
            .unwrap_or_else(|error| {
                panic!(
            "PostgreSQL is not reachable at 127.0.0.1:5432 as postgres ({error}); start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
            });
    tokio::spawn(connection);
    client
}

/// Creates a database, retrying while another session uses the template (PostgreSQL refuses
/// concurrent `CREATE DATABASE` from the same template, which parallel tests do).
pub async fn create_database(name: &str) {
    let admin = connect("postgres").await;
    for _ in 0..50 {
        match admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
        {
            Ok(()) => return,
            Err(error) if error.to_string().contains("being accessed by other users") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => panic!("create database {name}: {error}"),
        }
    }
    panic!("create database {name}: the template stayed busy for 5 s");
}

/// A database made for one test, dropped on [`PgDatabase::drop_database`].
pub struct PgDatabase {
    /// Its name.
    pub name: String,
}

impl PgDatabase {
    /// Creates `sluice_e2e_<random>`.
    pub async fn create() -> PgDatabase {
        let name = format!(
            "sluice_e2e_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        create_database(&name).await;
        PgDatabase { name }
    }

    /// Opens a session on the database.
    pub async fn client(&self) -> Client {
        connect(&self.name).await
    }

    /// Returns the inline connection YAML for job specs.
    pub fn connection_yaml(&self) -> String {
        format!(
            "{{type: postgresql, host: 127.0.0.1, port: 5432, database: {}, user: postgres}}",
            self.name
        )
    }

    /// Returns the connection a job would use for this database.
    pub fn connection(&self) -> sluice_common::spec::ConnectionConfig {
        sluice_common::spec::ConnectionConfig {
            kind: "postgresql".into(),
            options: [
                ("host".to_string(), "127.0.0.1".to_string()),
                ("port".to_string(), "5432".to_string()),
                ("database".to_string(), self.name.clone()),
                ("user".to_string(), "postgres".to_string()),
            ]
            .into(),
            ..Default::default()
        }
    }

    /// Returns the digest of every row of `table`, read as a job would read it.
    pub async fn digest(&self, table: &str) -> sluice_connectors::checksum::TableDigest {
        crate::connection_digest(self.connection(), Some(table)).await
    }

    /// Returns every row of `query` rendered as PostgreSQL text (the first column).
    pub async fn text_rows(&self, query: &str) -> Vec<String> {
        self.client()
            .await
            .query(query, &[])
            .await
            .unwrap_or_else(|error| panic!("{query}: {error}"))
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect()
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        connect("postgres")
            .await
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop database");
    }
}

/// Row count, distinct keys and an order-independent checksum of every column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// Rows.
    pub rows: i64,
    /// Distinct `id` values.
    pub distinct_ids: i64,
    /// Sum of a 60-bit hash of each row's text form (wrapping in numeric, so exact).
    pub checksum: String,
}

impl PgDatabase {
    /// Summarises `table` (which must have an `id` column).
    pub async fn summary(&self, table: &str) -> TableSummary {
        let row = self
            .client()
            .await
            .query_one(
                &format!(
                    "SELECT count(*), count(DISTINCT id), \
                     coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text \
                     FROM {table} t"
                ),
                &[],
            )
            .await
            .unwrap_or_else(|error| panic!("summarise {table}: {error}"));
        TableSummary {
            rows: row.get(0),
            distinct_ids: row.get(1),
            checksum: row.get(2),
        }
    }
}
