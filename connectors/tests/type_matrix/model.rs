//! What each cell of the matrix must give, composed from the rules docs/type-matrix.md states:
//! how each store's source connector reads a type into Arrow ("read from ..." notes), then how
//! each sink writes that Arrow column and its own source connector reads it back ("write to
//! ..." notes). A test compares this with what the real connectors do, value by value; the
//! doc's symbols are computed from it (see `symbol`).

use super::rows::{Kind, Store, TypeRow};
use std::collections::BTreeMap;

/// A column as one side of a cell holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Type name (see `render::type_name`).
    pub column_type: String,
    /// Values by row id (rows that became dirty records are absent).
    pub values: BTreeMap<i64, Option<String>>,
    /// Dirty records by row id: a part of the reason the connector must give.
    pub dirty: BTreeMap<i64, &'static str>,
}

/// What a cell must give.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// The job runs; the target reads back as this column.
    Rows(Column),
    /// The sink refuses the column when the job is prepared, with this in its message.
    Refused(&'static str),
}

/// Dirty reason of a NUL character written to PostgreSQL.
const PG_NUL: &str = "NUL character";
/// Dirty reason of NaN or an infinity written to MySQL.
const MYSQL_NOT_FINITE: &str = "floats must be finite";
/// Dirty reason of a UInt64 above `i64::MAX` written to SQLite.
const SQLITE_TOO_BIG: &str = "does not fit SQLite's 64-bit signed INTEGER";

/// Returns the reference column of `row` in `from`'s source table: the canonical Arrow type
/// and the values the store holds.
pub fn reference(row: &TypeRow, from: Store) -> Column {
    Column {
        column_type: row.canonical.to_string(),
        values: row
            .samples_in(from)
            .iter()
            .map(|sample| (sample.id, sample.value.map(str::to_string)))
            .collect(),
        dirty: BTreeMap::new(),
    }
}

fn map_values(column: &mut Column, change: impl Fn(&str) -> Option<String>) {
    for value in column.values.values_mut() {
        if let Some(text) = value.as_deref() {
            *value = change(text);
        }
    }
}

fn set_type(column: &mut Column, column_type: &str) {
    column.column_type = column_type.to_string();
}

/// The double nearest to a decimal, as the canonical text of a Float64.
fn as_double(text: &str) -> Option<String> {
    Some(format!("{:?}", text.parse::<f64>().expect("decimal")))
}

/// Bytes `\x00ff` as the hex text CSV holds (`00ff`); no bytes as an empty field, which reads
/// back as NULL.
fn as_hex_text(text: &str) -> Option<String> {
    let hex = text.trim_start_matches("\\x");
    (!hex.is_empty()).then(|| hex.to_string())
}

/// An empty CSV field reads back as NULL (no `null_string`).
fn empty_is_null(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// A time of day as the CSV writer's text (`%H:%M:%S%.f`: no fraction when it is zero, else
/// 3, 6 or 9 digits).
fn time_text(text: &str) -> Option<String> {
    let (clock, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = fraction.trim_end_matches('0');
    Some(match digits.len() {
        0 => clock.to_string(),
        1..=3 => format!("{clock}.{}", &fraction[..3]),
        _ => format!("{clock}.{}", &fraction[..6]),
    })
}

/// An interval as arrow's interval text (what the CSV writer writes), for the reference values.
fn interval_text(text: &str) -> Option<String> {
    let written = match text {
        "14 mons -3 days 14706789000000 ns" => "14 mons -3 days 4 hours 5 mins 6.789000000 secs",
        "0 mons 0 days 0 ns" => "0 secs",
        "-1 mons 1 days -1000 ns" => "-1 mons 1 days -0.000001000 secs",
        other => panic!("no documented CSV text for interval {other}"),
    };
    Some(written.to_string())
}

/// A JSON document as `jsonb` prints it (keys sorted and unique, `", "` and `": "` between
/// items), for the reference values.
fn jsonb_text(text: &str) -> Option<String> {
    let normal = match text {
        "{\"b\":2,\"a\":[1,2.50,\"ü\",null]}" => "{\"a\": [1, 2.50, \"ü\", null], \"b\": 2}",
        other => other,
    };
    Some(normal.to_string())
}

/// Returns what `from`'s source connector reads `row`'s reference values as.
pub fn read(row: &TypeRow, from: Store) -> Column {
    use Kind::*;
    let mut column = reference(row, from);
    match (from, row.kind) {
        // SQLite tables of other tools: affinity-based reading.
        (Store::Sqlite, Int32) => set_type(&mut column, "Int64"),
        (Store::Sqlite, Decimal38 | Decimal65) => {
            // NUMERIC affinity stored the nearest double when the row was inserted.
            set_type(&mut column, "Float64");
            map_values(&mut column, as_double);
        }
        (Store::Sqlite, Time | Json) => set_type(&mut column, "Utf8"),
        (Store::Sqlite, Timestamp) => set_type(&mut column, "Timestamp(µs, UTC)"),
        // MariaDB's json is longtext with a CHECK: plain text.
        (Store::MySql, Json) => set_type(&mut column, "Utf8"),
        // CSV: inferred from the text.
        (Store::Csv, Int32) => set_type(&mut column, "Int64"),
        (Store::Csv, UInt64 | Decimal38 | Decimal65 | Time | Json) => set_type(&mut column, "Utf8"),
        (Store::Csv, EmptyVsNull) => map_values(&mut column, empty_is_null),
        (Store::Csv, Binary) => {
            set_type(&mut column, "Utf8");
            map_values(&mut column, as_hex_text);
        }
        _ => {}
    }
    column
}

/// Returns what `to` gives back after writing `input` (read from `from`) with `create_table:
/// true` and reading it with `to`'s source connector.
pub fn write_and_read_back(input: Column, from: Store, to: Store) -> Expected {
    let mut column = input;
    let column_type = column.column_type.clone();
    match (to, column_type.as_str()) {
        // PostgreSQL: numeric(20,0) for UInt64; text cannot hold NUL; a json column of another
        // store is created as jsonb (a PostgreSQL json column keeps its type).
        (Store::Postgres, "UInt64") => set_type(&mut column, "Decimal128(20, 0)"),
        (Store::Postgres, "Utf8") => dirty_where(&mut column, |text| text.contains('\0'), PG_NUL),
        (Store::Postgres, "Utf8 + arrow.json") if from != Store::Postgres => {
            map_values(&mut column, jsonb_text)
        }
        // MySQL: finite doubles only, no -0; json, uuid and zoned timestamps of other stores
        // are created as json (plain text on MariaDB), binary(16) and datetime(6).
        (Store::MySql, "Float64") => {
            dirty_where(
                &mut column,
                |text| matches!(text, "NaN" | "inf" | "-inf"),
                MYSQL_NOT_FINITE,
            );
            map_values(&mut column, |text| {
                Some(if text == "-0.0" { "0.0" } else { text }.to_string())
            });
        }
        (Store::MySql, "Utf8 + arrow.json") => set_type(&mut column, "Utf8"),
        (Store::MySql, "FixedSizeBinary(16) + arrow.uuid") => set_type(&mut column, "Binary"),
        (Store::MySql, "Timestamp(µs, UTC)") if from != Store::MySql => {
            set_type(&mut column, "Timestamp(µs)")
        }
        (Store::MySql, "Interval(MonthDayNano)" | "List(Int32)") => {
            return Expected::Refused("has no MySQL mapping")
        }
        // SQLite: REAL stores -0 as 0; INTEGER is signed 64-bit.
        (Store::Sqlite, "Float64") => map_values(&mut column, |text| {
            Some(if text == "-0.0" { "0.0" } else { text }.to_string())
        }),
        (Store::Sqlite, "UInt64") => dirty_where(
            &mut column,
            |text| text.parse::<i64>().is_err(),
            SQLITE_TOO_BIG,
        ),
        // Parquet: every type but month-day-nano intervals.
        (Store::Parquet, "Interval(MonthDayNano)") => {
            return Expected::Refused("cannot be written to Parquet")
        }
        // CSV: text written by arrow-csv, read back by inference; an empty field is NULL.
        (Store::Csv, "Int32") => set_type(&mut column, "Int64"),
        (Store::Csv, "UInt64") => {
            let beyond_int64 = column
                .values
                .values()
                .flatten()
                .any(|text| text.parse::<i64>().is_err());
            set_type(&mut column, if beyond_int64 { "Utf8" } else { "Int64" });
        }
        (Store::Csv, "Decimal128(38, 10)" | "Decimal256(65, 30)") => {
            // The reference decimals have more digits than a double holds: text.
            set_type(&mut column, "Utf8")
        }
        (Store::Csv, "Utf8") => map_values(&mut column, empty_is_null),
        (Store::Csv, "Utf8 + arrow.json") => {
            set_type(&mut column, "Utf8");
            map_values(&mut column, empty_is_null);
        }
        (Store::Csv, "Binary" | "FixedSizeBinary(16) + arrow.uuid") => {
            set_type(&mut column, "Utf8");
            map_values(&mut column, as_hex_text);
        }
        (Store::Csv, "Time64(µs)") => {
            set_type(&mut column, "Utf8");
            map_values(&mut column, time_text);
        }
        (Store::Csv, "Interval(MonthDayNano)") => {
            set_type(&mut column, "Utf8");
            map_values(&mut column, interval_text);
        }
        (Store::Csv, "List(Int32)") => return Expected::Refused("cannot be written to CSV"),
        _ => {}
    }
    Expected::Rows(column)
}

/// Moves the rows whose value matches `is_dirty` from the values to the dirty records.
fn dirty_where(column: &mut Column, is_dirty: impl Fn(&str) -> bool, reason: &'static str) {
    let ids: Vec<i64> = column
        .values
        .iter()
        .filter(|(_, value)| value.as_deref().is_some_and(&is_dirty))
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        column.values.remove(&id);
        column.dirty.insert(id, reason);
    }
}

/// Returns what the cell (`row`, `from` -> `to`) must give.
pub fn expected(row: &TypeRow, from: Store, to: Store) -> Expected {
    write_and_read_back(read(row, from), from, to)
}

/// Returns the cell's symbols in the doc: `✓` for values that arrive unchanged with the
/// canonical type, `~` for values that arrive converted (another type or another value), `✗`
/// for values that become dirty records or a type the sink refuses; several when the values
/// of the cell differ (`✓ ✗`), `—` when `from` has no such type.
pub fn symbol(row: &TypeRow, from: Store, to: Store) -> String {
    if row.declared(from).is_none() {
        return "—".to_string();
    }
    let column = match expected(row, from, to) {
        Expected::Refused(_) => return "✗".to_string(),
        Expected::Rows(column) => column,
    };
    let reference = reference(row, from);
    let mut kinds = [false; 3];
    for (id, value) in &reference.values {
        let class = if column.dirty.contains_key(id) {
            2
        } else if column.column_type != reference.column_type
            || column.values.get(id) != Some(value)
        {
            1
        } else {
            0
        };
        kinds[class] = true;
    }
    ["✓", "~", "✗"]
        .iter()
        .zip(kinds)
        .filter(|(_, present)| *present)
        .map(|(mark, _)| *mark)
        .collect::<Vec<_>>()
        .join(" ")
}
