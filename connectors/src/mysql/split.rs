//! Splitting a MySQL table into key ranges, and turning a range back into SQL.
//!
//! - Integer keys give [`KeyRange::Int`] ranges of the value itself; `date` keys give
//!   [`KeyRange::Int`] ranges of days since 1970-01-01. Boundaries come from
//!   `source.split_bounds` when given (numbers, or `YYYY-MM-DD` strings for dates), else they
//!   split `MIN .. MAX` evenly.
//! - Character keys (`char`, `varchar`, `text`) give [`KeyRange::Text`] ranges whose boundaries
//!   are quantiles of a sample of the keys (`RAND()` filter, sorted by the server), compared by
//!   the server in the column's collation, so case-insensitive and PAD SPACE collations still
//!   put every row in exactly one range.
//! - A nullable key adds a [`KeyRange::Null`] shard; without a key the table is one shard.
//!
//! The first and last ranges are open-ended, so rows outside the planned bounds (or added
//! since, or zero dates) are still read exactly once.

use super::{quote_identifier, quote_literal, TableName};
use crate::error::{ConnectorError, Result};
use crate::postgres::split::{even_boundaries, int_ranges};
use crate::{PlanOutput, PlanRequest};
use chrono::NaiveDate;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use sluice_common::records::{KeyBounds, KeyRange};

/// How a split key's values are encoded in a [`KeyRange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Integer types: the value itself.
    Integer,
    /// `date`: days since 1970-01-01.
    Date,
    /// Character types: text boundaries in the column's collation.
    Text,
}

/// What the planner and reader know about the split key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Column name.
    pub column: String,
    /// Kind of key.
    pub kind: KeyKind,
    /// Declared type (`bigint unsigned`).
    pub column_type: String,
    /// Whether the column may hold NULL.
    pub nullable: bool,
}

const EPOCH: &str = "'1970-01-01'";

impl KeyInfo {
    /// Returns the key a table without `split_pk` splits by: its primary key when that is one
    /// column of a type that splits, else `None` (the table is read as one shard).
    ///
    /// # Errors
    /// [`ConnectorError::Mysql`] when the catalog cannot be read.
    pub async fn primary_key(conn: &mut Conn, table: &TableName) -> Result<Option<KeyInfo>> {
        let columns: Vec<String> = conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
                (&table.database, &table.table),
            )
            .await
            .map_err(ConnectorError::mysql(format!("read the primary key of {table}")))?;
        let [column] = columns.as_slice() else {
            return Ok(None);
        };
        match KeyInfo::load(conn, table, column).await {
            Ok(key) => Ok(Some(key)),
            // A primary key of a type that does not split (decimal, say): one shard.
            Err(ConnectorError::Config { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Looks up `column` of `table`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] at `source.split_pk` when the column does not exist (listing
    /// the columns) or its type cannot split a table.
    pub async fn load(conn: &mut Conn, table: &TableName, column: &str) -> Result<KeyInfo> {
        let rows: Vec<(String, String, String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (&table.database, &table.table),
            )
            .await
            .map_err(ConnectorError::mysql(format!("read columns of {table}")))?;
        let mut names = Vec::with_capacity(rows.len());
        for (name, data_type, column_type, nullable) in rows {
            if name != column {
                names.push(name);
                continue;
            }
            let kind = match data_type.to_ascii_lowercase().as_str() {
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => KeyKind::Integer,
                "date" => KeyKind::Date,
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => KeyKind::Text,
                _ => {
                    return Err(ConnectorError::config(
                        "source.split_pk",
                        format!(
                            "column \"{column}\" of {table} is {column_type}; split keys must be an integer type, date, \
                             char, varchar or a text type (without split_pk a table splits by a one-column primary key, else reads as one shard)"
                        ),
                    ))
                }
            };
            return Ok(KeyInfo {
                column: name,
                kind,
                column_type,
                nullable: nullable == "YES",
            });
        }
        Err(ConnectorError::config(
            "source.split_pk",
            format!(
                "\"{column}\" is not a column of {table}; columns are: {}",
                names.join(", ")
            ),
        ))
    }

    fn quoted(&self) -> String {
        quote_identifier(&self.column)
    }

    /// Returns SQL for the key value whose encoding is `encoded`.
    fn value_sql(&self, encoded: i64) -> String {
        match self.kind {
            KeyKind::Date => format!("DATE_ADD({EPOCH}, INTERVAL {encoded} DAY)"),
            KeyKind::Integer | KeyKind::Text => encoded.to_string(),
        }
    }

    /// Returns SQL turning the key expression into its int8 encoding.
    fn to_int_sql(&self, expression: &str) -> String {
        match self.kind {
            KeyKind::Date => format!("DATEDIFF({expression}, {EPOCH})"),
            KeyKind::Integer | KeyKind::Text => format!("CAST({expression} AS SIGNED)"),
        }
    }
}

/// Returns the SQL condition selecting `range` (`None` when it selects every row).
///
/// # Errors
/// [`ConnectorError::Config`] when the range does not fit the key (text bounds on an integer
/// key, a range without a key, pages).
pub fn range_condition(range: &KeyRange, key: Option<&KeyInfo>) -> Result<Option<String>> {
    if matches!(range, KeyRange::All) {
        return Ok(None);
    }
    let Some(key) = key else {
        return Err(ConnectorError::config(
            "source.split_pk",
            format!("shard range {range} needs a split key"),
        ));
    };
    let column = key.quoted();
    let mut conditions = Vec::new();
    match range {
        KeyRange::Null => conditions.push(format!("{column} IS NULL")),
        KeyRange::Int { lo, hi } if key.kind != KeyKind::Text => {
            if let Some(lower) = lo {
                conditions.push(format!("{column} >= {}", key.value_sql(*lower)));
            }
            if let Some(upper) = hi {
                conditions.push(format!("{column} < {}", key.value_sql(*upper)));
            }
        }
        KeyRange::Text { lo, hi } if key.kind == KeyKind::Text => {
            if let Some(lower) = lo {
                conditions.push(format!("{column} >= {}", quote_literal(lower)));
            }
            if let Some(upper) = hi {
                conditions.push(format!("{column} < {}", quote_literal(upper)));
            }
        }
        other => {
            return Err(ConnectorError::config(
                "source.split_pk",
                format!("shard range {other} does not fit a {} key", key.column_type),
            ))
        }
    }
    if conditions.is_empty() {
        conditions.push(format!("{column} IS NOT NULL"));
    }
    Ok(Some(conditions.join(" AND ")))
}

fn text_ranges(boundaries: &[String]) -> Vec<KeyRange> {
    let mut ranges = Vec::with_capacity(boundaries.len() + 1);
    let mut lower: Option<String> = None;
    for boundary in boundaries {
        ranges.push(KeyRange::Text {
            lo: lower.clone(),
            hi: Some(boundary.clone()),
        });
        lower = Some(boundary.clone());
    }
    ranges.push(KeyRange::Text {
        lo: lower,
        hi: None,
    });
    ranges
}

/// Returns `count - 1` boundaries picked at even positions of the sorted `sample`.
pub fn quantile_boundaries<T: Clone + PartialEq>(sample: &[T], count: u64) -> Vec<T> {
    let mut boundaries: Vec<T> = Vec::new();
    if sample.is_empty() {
        return boundaries;
    }
    let count = usize::try_from(count.max(1))
        .unwrap_or(usize::MAX)
        .min(sample.len());
    for index in 1..count {
        let value = &sample[index * sample.len() / count];
        if boundaries.last() != Some(value) {
            boundaries.push(value.clone());
        }
    }
    boundaries
}

fn user_int_bounds(key: &KeyInfo, bounds: &[serde_json::Value]) -> Result<Vec<i64>> {
    let mut values = Vec::with_capacity(bounds.len());
    for (index, bound) in bounds.iter().enumerate() {
        let parsed = match (key.kind, bound) {
            (KeyKind::Integer, serde_json::Value::Number(number)) => number.as_i64(),
            (KeyKind::Integer, serde_json::Value::String(text)) => text.trim().parse().ok(),
            (KeyKind::Date, serde_json::Value::String(text)) => {
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .ok()
                    .and_then(|date| {
                        date.signed_duration_since(NaiveDate::default())
                            .num_days()
                            .into()
                    })
            }
            _ => None,
        };
        let Some(value) = parsed else {
            return Err(ConnectorError::config(
                format!("source.split_bounds[{index}]"),
                format!(
                    "{bound} is not a valid bound for split key {} ({}); use {}",
                    key.column,
                    key.column_type,
                    if key.kind == KeyKind::Date {
                        "YYYY-MM-DD strings"
                    } else {
                        "integers"
                    }
                ),
            ));
        };
        values.push(value);
    }
    values.sort_unstable();
    values.dedup();
    Ok(values)
}

/// Plans the shards of `table` (with the user's `where_clause`).
///
/// # Errors
/// [`ConnectorError::Config`] for bad bounds, [`ConnectorError::MySql`] when the table cannot
/// be read.
pub async fn plan(
    conn: &mut Conn,
    table: &TableName,
    where_clause: Option<&str>,
    key: Option<&KeyInfo>,
    bounds: &[serde_json::Value],
    request: &PlanRequest,
) -> Result<PlanOutput> {
    let estimated: Option<Option<u64>> = conn
        .exec_first(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (&table.database, &table.table),
        )
        .await
        .map_err(ConnectorError::mysql(format!("read statistics of {table}")))?;
    let estimated_rows = estimated.flatten().unwrap_or(0);
    let Some(key) = key else {
        return Ok(PlanOutput {
            ranges: vec![KeyRange::All],
            estimated_rows,
            key_bounds: None,
        });
    };
    let target = request.target_shard_count(estimated_rows);
    let filter = |extra: &str| match where_clause {
        Some(user) => format!(" WHERE {extra} AND ({user})"),
        None => format!(" WHERE {extra}"),
    };
    let not_null = format!("{} IS NOT NULL", key.quoted());
    let mut key_bounds = None;
    let mut ranges = match key.kind {
        KeyKind::Integer | KeyKind::Date => {
            let boundaries = if bounds.is_empty() {
                let sql = format!(
                    "SELECT {}, {} FROM {}{}",
                    key.to_int_sql(&format!("MIN({})", key.quoted())),
                    key.to_int_sql(&format!("MAX({})", key.quoted())),
                    table.quoted(),
                    filter(&not_null)
                );
                let bounds_row: Option<(Option<i64>, Option<i64>)> = conn
                    .query_first(sql)
                    .await
                    .map_err(ConnectorError::mysql(format!(
                        "read bounds of split key {} of {table}",
                        key.column
                    )))?;
                match bounds_row {
                    Some((Some(low), Some(high))) if low <= high => {
                        key_bounds = Some(KeyBounds {
                            min: low,
                            max: high,
                        });
                        even_boundaries(low, high, target)
                    }
                    _ => Vec::new(),
                }
            } else {
                user_int_bounds(key, bounds)?
            };
            int_ranges(&boundaries)
        }
        KeyKind::Text => {
            let boundaries = if bounds.is_empty() {
                let wanted = (target * 200).clamp(1000, 30_000);
                let sample_filter = if estimated_rows > wanted * 2 {
                    format!(" AND RAND() < {:.6}", wanted as f64 / estimated_rows as f64)
                } else {
                    String::new()
                };
                let sql = format!(
                    "SELECT {0} FROM {1}{2} ORDER BY {0} LIMIT {3}",
                    key.quoted(),
                    table.quoted(),
                    filter(&format!("{not_null}{sample_filter}")),
                    wanted * 3
                );
                let sample: Vec<String> =
                    conn.query(sql)
                        .await
                        .map_err(ConnectorError::mysql(format!(
                            "sample split key {} of {table}",
                            key.column
                        )))?;
                quantile_boundaries(&sample, target)
            } else {
                bounds
                    .iter()
                    .map(|bound| match bound {
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            };
            text_ranges(&boundaries)
        }
    };
    if key.nullable {
        ranges.push(KeyRange::Null);
    }
    Ok(PlanOutput {
        ranges,
        estimated_rows,
        key_bounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: KeyKind) -> KeyInfo {
        KeyInfo {
            column: "k".into(),
            kind,
            column_type: "x".into(),
            nullable: true,
        }
    }

    #[test]
    fn conditions_follow_the_key() {
        let range = KeyRange::Int {
            lo: Some(1),
            hi: Some(5),
        };
        assert_eq!(
            range_condition(&range, Some(&key(KeyKind::Integer))).expect("int"),
            Some("`k` >= 1 AND `k` < 5".into())
        );
        assert_eq!(
            range_condition(&range, Some(&key(KeyKind::Date))).expect("date"),
            Some("`k` >= DATE_ADD('1970-01-01', INTERVAL 1 DAY) AND `k` < DATE_ADD('1970-01-01', INTERVAL 5 DAY)".into())
        );
        let text = KeyRange::Text {
            lo: Some("it's".into()),
            hi: None,
        };
        assert_eq!(
            range_condition(&text, Some(&key(KeyKind::Text))).expect("text"),
            Some("`k` >= 'it''s'".into())
        );
        assert!(range_condition(&text, Some(&key(KeyKind::Integer))).is_err());
        assert_eq!(
            range_condition(&KeyRange::Null, Some(&key(KeyKind::Text))).expect("null"),
            Some("`k` IS NULL".into())
        );
        assert!(range_condition(&KeyRange::Null, None).is_err());
    }

    #[test]
    fn quantiles_are_distinct_and_ordered() {
        let sample: Vec<i64> = (0..100).collect();
        assert_eq!(quantile_boundaries(&sample, 4), vec![25, 50, 75]);
        let skewed = vec![1, 1, 1, 1, 1, 1, 2, 3];
        assert_eq!(quantile_boundaries(&skewed, 4), vec![1, 2]);
        assert!(quantile_boundaries::<i64>(&[], 4).is_empty());
    }

    #[test]
    fn user_bounds_parse_dates() {
        let bounds = vec![
            serde_json::json!("1970-01-11"),
            serde_json::json!("1970-01-02"),
        ];
        assert_eq!(
            user_int_bounds(&key(KeyKind::Date), &bounds).expect("dates"),
            vec![1, 10]
        );
        let error =
            user_int_bounds(&key(KeyKind::Integer), &[serde_json::json!("x")]).expect_err("bad");
        assert!(
            error.to_string().starts_with("source.split_bounds[0]"),
            "{error}"
        );
    }
}
