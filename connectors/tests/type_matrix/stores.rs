//! The stores of one test: a fresh PostgreSQL and MariaDB database and a temporary directory
//! (SQLite files, Parquet and CSV directories); source tables written with each store's own
//! tools (SQL, rusqlite, the parquet crate, CSV text); and running one cell through the real
//! connectors: `open_source` -> `batch_channel` -> `open_sink` with `create_table: true`, then
//! reading the target back through the sink store's own source connector.

use super::render;
use super::rows::{Kind, Sample, Store, TypeRow};
use crate::mysql_support::{execute, MyDb};
use crate::support::{identity, sink_connection, source_connection, spec, TestDb};
use arrow_array::builder::{FixedSizeBinaryBuilder, Int32Builder, ListBuilder};
use arrow_array::{
    Array, ArrayRef, BinaryArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use sluice_common::records::KeyRange;
use sluice_common::spec::ValidatedJobSpec;
use sluice_connectors::{batch_channel, PlanRequest, ShardCounters, Source, WriteOutcome};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What a cell produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The job ran: the column's type and values as read back, by row id, and the rows that
    /// became dirty records (id and reason).
    Rows {
        /// Type of the `v` column read back (see `render::type_name`).
        column_type: String,
        /// Values read back by id.
        values: BTreeMap<i64, Option<String>>,
        /// Dirty records by id, with their reason.
        dirty: BTreeMap<i64, String>,
    },
    /// The sink refused the job in `prepare` (the error).
    Refused(String),
    /// A shard failed (the error).
    Failed(String),
}

/// The stores of one test.
pub struct Stores {
    /// PostgreSQL database, when a side needs it.
    pub pg: Option<TestDb>,
    /// MariaDB database, when a side needs it.
    pub my: Option<MyDb>,
    /// SQLite files, Parquet and CSV directories.
    pub dir: tempfile::TempDir,
}

fn quote_csv(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn hex_bytes(canonical: &str) -> Vec<u8> {
    let digits = canonical.trim_start_matches("\\x");
    (0..digits.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&digits[index..index + 2], 16).expect("hex"))
        .collect()
}

fn hex_upper(canonical: &str) -> String {
    canonical.trim_start_matches("\\x").to_uppercase()
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` -> RFC 3339 in UTC (`...T...Z`).
fn rfc3339(canonical: &str) -> String {
    format!("{}Z", canonical.replacen(' ', "T", 1))
}

/// Parses the canonical interval text `M mons D days N ns`.
fn interval_parts(canonical: &str) -> (i32, i32, i64) {
    let parts: Vec<&str> = canonical.split_whitespace().collect();
    (
        parts[0].parse().expect("months"),
        parts[2].parse().expect("days"),
        parts[4].parse().expect("nanoseconds"),
    )
}

/// Parses the canonical list text `[1, NULL, 3]`.
fn list_items(canonical: &str) -> Vec<Option<i32>> {
    let inner = canonical.trim_start_matches('[').trim_end_matches(']');
    if inner.is_empty() {
        return Vec::new();
    }
    inner
        .split(", ")
        .map(|item| (item != "NULL").then(|| item.parse().expect("int")))
        .collect()
}

fn pg_literal(kind: Kind, canonical: Option<&str>) -> String {
    let Some(value) = canonical else {
        return "NULL".to_string();
    };
    let text = match kind {
        Kind::Timestamptz => format!("{value}+00"),
        Kind::Uuid => value.trim_start_matches("\\x").to_string(),
        Kind::Interval => {
            let (months, days, nanos) = interval_parts(value);
            format!("{months} mons {days} days {} microseconds", nanos / 1000)
        }
        Kind::IntArray => value.replace('[', "{").replace(']', "}").replace(", ", ","),
        _ => value.to_string(),
    };
    format!("$v${text}$v$")
}

fn mysql_literal(kind: Kind, canonical: Option<&str>) -> String {
    let Some(value) = canonical else {
        return "NULL".to_string();
    };
    match kind {
        Kind::Boolean => if value == "true" { "1" } else { "0" }.to_string(),
        Kind::Int32 | Kind::Int64 | Kind::UInt64 | Kind::Float64 => value.to_string(),
        Kind::Decimal38 | Kind::Decimal65 => format!("'{value}'"),
        Kind::Binary => format!("X'{}'", hex_upper(value)),
        Kind::Text | Kind::EmptyVsNull | Kind::Json => {
            let hex: String = value.bytes().map(|byte| format!("{byte:02X}")).collect();
            format!("_utf8mb4 X'{hex}'")
        }
        _ => format!("'{value}'"),
    }
}

fn sqlite_value(kind: Kind, canonical: Option<&str>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    let Some(value) = canonical else {
        return Value::Null;
    };
    match kind {
        Kind::Boolean => Value::Integer(i64::from(value == "true")),
        Kind::Int32 | Kind::Int64 => Value::Integer(value.parse().expect("integer")),
        Kind::Float64 => Value::Real(value.parse().expect("float")),
        Kind::Binary => Value::Blob(hex_bytes(value)),
        Kind::Timestamptz => Value::Text(rfc3339(value)),
        _ => Value::Text(value.to_string()),
    }
}

fn csv_field(kind: Kind, canonical: Option<&str>) -> String {
    let Some(value) = canonical else {
        return String::new();
    };
    match kind {
        Kind::Binary => quote_csv(value.trim_start_matches("\\x")),
        Kind::Timestamptz => quote_csv(&rfc3339(value)),
        _ => quote_csv(value),
    }
}

fn with_extension(field: Field, extension: &str) -> Field {
    field.with_metadata(HashMap::from([(
        render::EXTENSION.to_string(),
        extension.to_string(),
    )]))
}

/// Builds the Arrow column a Parquet source file of `kind` holds.
fn arrow_column(kind: Kind, values: &[Option<&str>]) -> (Field, ArrayRef) {
    let strings: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
    let cast_to = |data_type: DataType| -> (Field, ArrayRef) {
        let array = arrow_cast::cast(&strings, &data_type).expect("cast reference values");
        (Field::new("v", data_type, true), array)
    };
    match kind {
        Kind::Boolean => cast_to(DataType::Boolean),
        Kind::Int32 => cast_to(DataType::Int32),
        Kind::Int64 => cast_to(DataType::Int64),
        Kind::UInt64 => {
            let array = UInt64Array::from_iter(
                values
                    .iter()
                    .map(|value| value.map(|text| text.parse::<u64>().expect("u64"))),
            );
            (Field::new("v", DataType::UInt64, true), Arc::new(array))
        }
        Kind::Float64 => {
            let array = Float64Array::from_iter(
                values
                    .iter()
                    .map(|value| value.map(|text| text.parse::<f64>().expect("f64"))),
            );
            (Field::new("v", DataType::Float64, true), Arc::new(array))
        }
        Kind::Decimal38 => cast_to(DataType::Decimal128(38, 10)),
        Kind::Decimal65 => cast_to(DataType::Decimal256(65, 30)),
        Kind::Text | Kind::EmptyVsNull => (Field::new("v", DataType::Utf8, true), strings),
        Kind::Json => (
            with_extension(Field::new("v", DataType::Utf8, true), "arrow.json"),
            strings,
        ),
        Kind::Binary => {
            let bytes: Vec<Option<Vec<u8>>> =
                values.iter().map(|value| value.map(hex_bytes)).collect();
            let array = BinaryArray::from_iter(bytes);
            (Field::new("v", DataType::Binary, true), Arc::new(array))
        }
        Kind::Date => cast_to(DataType::Date32),
        Kind::Time => cast_to(DataType::Time64(TimeUnit::Microsecond)),
        Kind::Timestamp => cast_to(DataType::Timestamp(TimeUnit::Microsecond, None)),
        Kind::Timestamptz => {
            let (_, naive) = cast_to(DataType::Timestamp(TimeUnit::Microsecond, None));
            let zoned = naive
                .as_any()
                .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
                .expect("timestamps")
                .clone()
                .with_timezone("UTC");
            (
                Field::new("v", zoned.data_type().clone(), true),
                Arc::new(zoned),
            )
        }
        Kind::Uuid => {
            let mut builder = FixedSizeBinaryBuilder::new(16);
            for value in values {
                match value {
                    Some(text) => builder.append_value(hex_bytes(text)).expect("16 bytes"),
                    None => builder.append_null(),
                }
            }
            (
                with_extension(
                    Field::new("v", DataType::FixedSizeBinary(16), true),
                    "arrow.uuid",
                ),
                Arc::new(builder.finish()),
            )
        }
        Kind::IntArray => {
            let mut builder = ListBuilder::new(Int32Builder::new());
            for value in values {
                match value {
                    Some(text) => {
                        for item in list_items(text) {
                            builder.values().append_option(item);
                        }
                        builder.append(true);
                    }
                    None => builder.append(false),
                }
            }
            let array = builder.finish();
            (
                Field::new("v", array.data_type().clone(), true),
                Arc::new(array),
            )
        }
        Kind::Interval => panic!("Parquet holds no interval source (parquet-rs writes none)"),
    }
}

impl Stores {
    /// Creates the databases `stores` need and the temporary directory.
    pub async fn create(stores: &[Store]) -> Stores {
        let pg = if stores.contains(&Store::Postgres) {
            Some(TestDb::create().await)
        } else {
            None
        };
        let my = if stores.contains(&Store::MySql) {
            Some(MyDb::create().await)
        } else {
            None
        };
        Stores {
            pg,
            my,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Drops the databases.
    pub async fn drop_all(self) {
        if let Some(pg) = self.pg {
            pg.drop_database().await;
        }
        if let Some(my) = self.my {
            my.drop_database().await;
        }
    }

    fn pg(&self) -> &TestDb {
        self.pg
            .as_ref()
            .expect("the test created a PostgreSQL database")
    }

    fn my(&self) -> &MyDb {
        self.my
            .as_ref()
            .expect("the test created a MariaDB database")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Returns the `{connection: ..., table: ...}` of `store`'s source table of `row`.
    pub fn source_side(&self, store: Store, row: &TypeRow) -> String {
        let table = format!("t_{}", row.key);
        match store {
            Store::Postgres => format!("{{connection: {}, table: {table}}}", self.pg().connection_yaml()),
            Store::MySql => format!("{{connection: {}, table: {table}}}", self.my().connection_yaml()),
            Store::Sqlite => format!(
                "{{connection: {{type: sqlite, path: \"{}\"}}, table: {table}}}",
                self.path("source.db")
            ),
            Store::Parquet => format!(
                "{{connection: {{type: file, path: \"{}\", format: parquet}}, table: {table}.parquet}}",
                self.path("parquet_source")
            ),
            Store::Csv => format!(
                "{{connection: {{type: file, path: \"{}\", format: csv}}, table: {table}.csv}}",
                self.path("csv_source")
            ),
        }
    }

    /// Returns the sink side of a copy of `row` from `from` into `store` (`create_table:
    /// true`; file sinks write a sub-directory per source store and type).
    pub fn sink_side(&self, store: Store, row: &TypeRow, from: Store) -> String {
        let table = format!("d_{}_{}", from.name().to_lowercase(), row.key);
        match store {
            Store::Postgres => format!(
                "{{connection: {}, table: {table}, create_table: true}}",
                self.pg().connection_yaml()
            ),
            Store::MySql => format!(
                "{{connection: {}, table: {table}, create_table: true}}",
                self.my().connection_yaml()
            ),
            Store::Sqlite => format!(
                "{{connection: {{type: sqlite, path: \"{}\"}}, table: {table}, create_table: true}}",
                self.path("sink.db")
            ),
            Store::Parquet => format!(
                "{{connection: {{type: file, path: \"{}\", format: parquet}}, table: {table}}}",
                self.path("parquet_sink")
            ),
            Store::Csv => format!(
                "{{connection: {{type: file, path: \"{}\", format: csv}}, table: {table}}}",
                self.path("csv_sink")
            ),
        }
    }

    /// Writes `store`'s source table of `row` with the store's own tools.
    pub async fn create_source(&self, store: Store, row: &TypeRow) {
        let declared = row
            .declared(store)
            .unwrap_or_else(|| panic!("{} has no {} type", store.name(), row.key));
        let samples: Vec<Sample> = row.samples_in(store);
        let table = format!("t_{}", row.key);
        match store {
            Store::Postgres => {
                let tuples: Vec<String> = samples
                    .iter()
                    .map(|sample| {
                        format!("({}, {})", sample.id, pg_literal(row.kind, sample.value))
                    })
                    .collect();
                let sql = format!(
                    "CREATE TABLE {table} (id bigint PRIMARY KEY, v {declared}); INSERT INTO {table} VALUES {}",
                    tuples.join(", ")
                );
                let client = self.pg().client().await;
                client
                    .batch_execute(&sql)
                    .await
                    .unwrap_or_else(|error| panic!("{sql}: {error}"));
            }
            Store::MySql => {
                let tuples: Vec<String> = samples
                    .iter()
                    .map(|sample| {
                        format!("({}, {})", sample.id, mysql_literal(row.kind, sample.value))
                    })
                    .collect();
                let mut conn = self.my().conn().await;
                execute(
                    &mut conn,
                    &format!(
                        "CREATE TABLE {table} (id bigint PRIMARY KEY, v {declared}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
                    ),
                )
                .await;
                execute(
                    &mut conn,
                    &format!("INSERT INTO {table} VALUES {}", tuples.join(", ")),
                )
                .await;
            }
            Store::Sqlite => {
                let connection =
                    rusqlite::Connection::open(self.path("source.db")).expect("open source.db");
                connection
                    .execute_batch(&format!(
                        "CREATE TABLE {table} (id INTEGER PRIMARY KEY, v {declared})"
                    ))
                    .expect("create sqlite table");
                for sample in &samples {
                    connection
                        .execute(
                            &format!("INSERT INTO {table} VALUES (?1, ?2)"),
                            rusqlite::params![sample.id, sqlite_value(row.kind, sample.value)],
                        )
                        .expect("insert sqlite row");
                }
            }
            Store::Parquet => {
                let values: Vec<Option<&str>> = samples.iter().map(|sample| sample.value).collect();
                let (field, column) = arrow_column(row.kind, &values);
                let ids: ArrayRef = Arc::new(Int64Array::from(
                    samples.iter().map(|sample| sample.id).collect::<Vec<_>>(),
                ));
                let schema = Arc::new(Schema::new(vec![
                    Field::new("id", DataType::Int64, false),
                    field,
                ]));
                let batch = RecordBatch::try_new(Arc::clone(&schema), vec![ids, column])
                    .expect("reference batch");
                std::fs::create_dir_all(self.path("parquet_source")).expect("mkdir");
                let file = std::fs::File::create(
                    self.dir
                        .path()
                        .join("parquet_source")
                        .join(format!("{table}.parquet")),
                )
                .expect("create parquet file");
                let mut writer =
                    parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
                writer.write(&batch).expect("write parquet");
                writer.close().expect("close parquet");
            }
            Store::Csv => {
                let mut text = String::from("id,v\n");
                for sample in &samples {
                    text.push_str(&format!(
                        "{},{}\n",
                        sample.id,
                        csv_field(row.kind, sample.value)
                    ));
                }
                std::fs::create_dir_all(self.path("csv_source")).expect("mkdir");
                std::fs::write(
                    self.dir
                        .path()
                        .join("csv_source")
                        .join(format!("{table}.csv")),
                    text,
                )
                .expect("write csv");
            }
        }
    }

    /// Copies `row` from `from` into `to` through the connectors and reads the target back.
    pub async fn copy(&self, row: &TypeRow, from: Store, to: Store) -> Outcome {
        let job = spec(&format!(
            "source: {}\nsink: {}\n",
            self.source_side(from, row),
            self.sink_side(to, row, from)
        ));
        let source =
            sluice_connectors::open_source(&job, &source_connection(&job)).expect("open source");
        let sink = sluice_connectors::open_sink(&job, &sink_connection(&job)).expect("open sink");
        let plan = source
            .plan(&PlanRequest {
                parallelism: 1,
                shard_rows: 100_000,
            })
            .await
            .expect("plan");
        let schema = source.schema().await.expect("source schema");
        if let Err(error) = sink.prepare(schema).await {
            return Outcome::Refused(error.to_string());
        }
        let mut dirty = BTreeMap::new();
        for (index, range) in plan.ranges.iter().enumerate() {
            let counters = Arc::new(ShardCounters::default());
            let (sender, receiver) = batch_channel(4, Arc::clone(&counters));
            let source_ref = source.as_ref();
            let reader = async move {
                let read = source_ref.read(range, &sender).await;
                if read.is_ok() {
                    // Fails only when the sink stopped reading; its error is the outcome.
                    let _ = sender.finish().await;
                }
                read
            };
            let shard = identity(&format!("matrix-{}", row.key), index as u32, 1);
            let (read, written) = tokio::join!(reader, sink.write_shard(&shard, receiver));
            if let Err(error) = read {
                return Outcome::Failed(format!("read: {error}"));
            }
            match written {
                Ok(WriteOutcome::Committed { .. }) => {}
                Ok(other) => return Outcome::Failed(format!("write: {other:?}")),
                Err(error) => return Outcome::Failed(format!("write: {error}")),
            }
            collect_dirty(&counters, &mut dirty);
        }
        if let Err(error) = sink.finalize().await {
            return Outcome::Failed(format!("finalize: {error}"));
        }
        let back = self.read_back(&job, to, row, from);
        match read_all(back.as_ref()).await {
            Ok((column_type, values, _)) => Outcome::Rows {
                column_type,
                values,
                dirty,
            },
            Err(error) => Outcome::Failed(format!("read back: {error}")),
        }
    }

    fn read_back(
        &self,
        job: &ValidatedJobSpec,
        to: Store,
        row: &TypeRow,
        from: Store,
    ) -> Box<dyn Source> {
        match to {
            Store::Postgres | Store::MySql | Store::Sqlite => {
                sluice_connectors::open_sink_as_source(job, &sink_connection(job))
                    .expect("open sink as source")
            }
            Store::Parquet | Store::Csv => {
                let (path, format) = if to == Store::Parquet {
                    (self.path("parquet_sink"), "parquet")
                } else {
                    (self.path("csv_sink"), "csv")
                };
                let connection = format!(
                    "{{type: file, path: \"{path}\", format: {format}}}, table: d_{}_{}",
                    from.name().to_lowercase(),
                    row.key
                );
                let back = spec(&format!(
                    "source: {{connection: {connection}}}\nsink: {{connection: {connection}}}\n"
                ));
                sluice_connectors::open_source(&back, &source_connection(&back))
                    .expect("open file sink as source")
            }
        }
    }

    /// Reads `store`'s source table of `row` through its source connector.
    pub async fn read_source(&self, store: Store, row: &TypeRow) -> Outcome {
        let job = spec(&format!(
            "source: {}\nsink: {{connection: {{type: sqlite, path: \"{}\"}}, table: unused}}\n",
            self.source_side(store, row),
            self.path("unused.db")
        ));
        let source =
            sluice_connectors::open_source(&job, &source_connection(&job)).expect("open source");
        match read_all(source.as_ref()).await {
            Ok((column_type, values, dirty)) => Outcome::Rows {
                column_type,
                values,
                dirty,
            },
            Err(error) => Outcome::Failed(error),
        }
    }
}

/// Returns the id of a dirty sample's row (a JSON object with an `id` number or string).
fn dirty_id(row: &str) -> i64 {
    let object: serde_json::Value =
        serde_json::from_str(row).unwrap_or_else(|error| panic!("dirty row {row}: {error}"));
    match &object["id"] {
        serde_json::Value::Number(number) => number.as_i64().expect("integer id"),
        serde_json::Value::String(text) => text.parse().expect("integer id"),
        other => panic!("dirty row {row} has id {other}"),
    }
}

fn collect_dirty(counters: &ShardCounters, dirty: &mut BTreeMap<i64, String>) {
    let samples = counters.take_dirty_samples();
    assert_eq!(
        samples.len() as u64,
        counters.snapshot().dirty_records,
        "every dirty record is sampled (fewer than 20 per shard)"
    );
    for sample in samples {
        dirty.insert(
            dirty_id(&sample.row),
            format!("{}: {}", sample.column, sample.reason),
        );
    }
}

type ReadBack = (String, BTreeMap<i64, Option<String>>, BTreeMap<i64, String>);

/// Reads every row of `source`: the type of its `v` column, values by id, dirty records.
async fn read_all(source: &dyn Source) -> Result<ReadBack, String> {
    let schema = source.schema().await.map_err(|error| error.to_string())?;
    let field = schema
        .field_with_name("v")
        .map_err(|error| error.to_string())?;
    let column_type = render::type_name(field);
    let counters = Arc::new(ShardCounters::default());
    let (sender, mut receiver) = batch_channel(4, Arc::clone(&counters));
    let reader = async move {
        let read = source.read(&KeyRange::All, &sender).await;
        if read.is_ok() {
            sender.finish().await.expect("finish");
        }
        read
    };
    let collector = async {
        let mut values = BTreeMap::new();
        while let Ok(Some(batch)) = receiver.next().await {
            let ids = batch.column_by_name("id").expect("id column");
            let column = batch.column_by_name("v").expect("v column");
            for index in 0..batch.num_rows() {
                let id: i64 = render::value(ids, index)
                    .expect("id is not NULL")
                    .parse()
                    .expect("integer id");
                values.insert(id, render::value(column, index));
            }
        }
        values
    };
    let (read, values) = tokio::join!(reader, collector);
    read.map_err(|error| error.to_string())?;
    let mut dirty = BTreeMap::new();
    collect_dirty(&counters, &mut dirty);
    Ok((column_type, values, dirty))
}
