//! Splitting a PostgreSQL table into key ranges, and turning a range back into SQL.
//!
//! - Integer, `date` and `timestamp[tz]` keys give [`KeyRange::Int`] ranges. Dates travel as days
//!   since 1970-01-01 and timestamps as microseconds since 1970-01-01 (UTC for `timestamptz`);
//!   [`range_condition`] converts them back in the reader's `WHERE`. Boundaries come from
//!   `source.split_bounds` when given; else from `MIN`/`MAX` and the `pg_stats` histogram and
//!   most-common values (after `ANALYZE` when the table has no statistics): even ranges when
//!   the key is spread evenly, quantiles of the statistics when it is skewed, or quantiles of a
//!   `TABLESAMPLE` when the statistics are too coarse for the shard count.
//! - Text, varchar, char and uuid keys give [`KeyRange::Text`] ranges whose boundaries are
//!   quantiles of a sample, compared by the database in the column's own collation.
//! - Without a key, [`KeyRange::Pages`] ranges of `ctid` blocks (from the relation's size).
//! - A nullable key always adds a [`KeyRange::Null`] shard.
//!
//! The first and last ranges are open-ended, so rows outside the planned bounds (or added
//! since) are still read exactly once.

use super::config::PgFlavor;
use super::{quote_identifier, quote_literal, TableName};
use crate::error::{ConnectorError, Result};
use crate::{PlanOutput, PlanRequest};
use sluice_common::records::{KeyBounds, KeyRange};
use tokio_postgres::Client;

/// How a split key's values are compared and encoded in a [`KeyRange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `smallint`, `integer`, `bigint`: the value itself.
    Integer,
    /// `date`: days since 1970-01-01.
    Date,
    /// `timestamp`: microseconds since 1970-01-01 (wall-clock).
    Timestamp,
    /// `timestamptz`: microseconds since 1970-01-01 UTC.
    Timestamptz,
    /// Character types: text boundaries in the column's collation.
    Text,
    /// `uuid`: text boundaries in uuid order.
    Uuid,
}

/// What the planner and reader know about the split key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Column name.
    pub column: String,
    /// Kind of key.
    pub kind: KeyKind,
    /// The column's type without typmod (`bigint`, `character varying`).
    pub type_sql: String,
    /// Whether the column may hold NULL.
    pub nullable: bool,
    /// `COLLATE "schema"."name"` when the column's collation is not the default.
    pub collate: String,
}

/// The `split_pk` that asks for physical page ranges instead of a key.
pub const PAGES_SPLIT_PK: &str = "ctid";

/// How `source.split_pk` asks a table to be cut into shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitBy {
    /// `split_pk: <column>`: ranges of that column.
    Column(String),
    /// `split_pk: ctid`: ranges of physical pages.
    Pages,
    /// No `split_pk`: ranges of the primary key when it is one column of a type that splits,
    /// else ranges of physical pages.
    PrimaryKey,
}

impl SplitBy {
    /// Reads `source.split_pk`.
    pub fn from_spec(split_pk: Option<&str>) -> SplitBy {
        match split_pk {
            None => SplitBy::PrimaryKey,
            Some(PAGES_SPLIT_PK) => SplitBy::Pages,
            Some(column) => SplitBy::Column(column.to_string()),
        }
    }

    /// Returns the key `table` splits by, `None` for page ranges.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] at `source.split_pk` for a named column that does not exist or
    /// cannot split; [`ConnectorError::Postgres`] when the catalog cannot be read.
    pub async fn resolve(&self, client: &Client, table: &TableName) -> Result<Option<KeyInfo>> {
        match self {
            SplitBy::Column(column) => KeyInfo::load(client, table, column).await.map(Some),
            SplitBy::Pages => Ok(None),
            SplitBy::PrimaryKey => {
                let Some(column) = primary_key_column(client, table).await? else {
                    return Ok(None);
                };
                match KeyInfo::load(client, table, &column).await {
                    Ok(key) => Ok(Some(key)),
                    // A primary key of a type that does not split (numeric, say): pages.
                    Err(ConnectorError::Config { .. }) => Ok(None),
                    Err(error) => Err(error),
                }
            }
        }
    }
}

/// Returns the column of `table`'s primary key when it has one of a single column.
async fn primary_key_column(client: &Client, table: &TableName) -> Result<Option<String>> {
    let rows = client
        .query(
            "SELECT a.attname FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary AND i.indnatts = 1",
            &[&table.quoted()],
        )
        .await
        .map_err(ConnectorError::postgres(format!(
            "read the primary key of {table}"
        )))?;
    Ok(rows.first().map(|row| row.get(0)))
}

impl KeyInfo {
    /// Looks up `column` of `table`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] at `source.split_pk` when the column does not exist (listing
    /// the columns) or its type cannot split a table.
    pub async fn load(client: &Client, table: &TableName, column: &str) -> Result<KeyInfo> {
        let rows = client
            .query(
                "SELECT a.attname, format_type(a.atttypid, NULL), a.attnotnull, t.typcategory::text, a.atttypid::int8, \
                 CASE WHEN a.attcollation IN (0, 100) THEN '' ELSE \
                 'COLLATE ' || quote_ident(n.nspname) || '.' || quote_ident(c.collname) END \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_collation c ON c.oid = a.attcollation LEFT JOIN pg_namespace n ON n.oid = c.collnamespace \
                 WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&table.quoted()],
            )
            .await
            .map_err(ConnectorError::postgres(format!("read columns of {table}")))?;
        let mut names = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = row.get(0);
            if name != column {
                names.push(name);
                continue;
            }
            let type_sql: String = row.get(1);
            let not_null: bool = row.get(2);
            let category: String = row.get(3);
            let type_oid: i64 = row.get(4);
            let kind = match (type_oid, category.as_str()) {
                (20 | 21 | 23, _) => KeyKind::Integer,
                (1082, _) => KeyKind::Date,
                (1114, _) => KeyKind::Timestamp,
                (1184, _) => KeyKind::Timestamptz,
                (2950, _) => KeyKind::Uuid,
                (_, "S") => KeyKind::Text,
                _ => {
                    return Err(ConnectorError::config(
                        "source.split_pk",
                        format!(
                            "column \"{column}\" of {table} is {type_sql}; split keys must be smallint, integer, bigint, date, \
                             timestamp, timestamptz, a character type or uuid (split_pk: ctid splits by page ranges)"
                        ),
                    ))
                }
            };
            return Ok(KeyInfo {
                column: name,
                kind,
                type_sql,
                nullable: !not_null,
                collate: row.get(5),
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

    /// Returns SQL turning the key expression `expression` into its int8 encoding.
    fn to_int_sql(&self, expression: &str) -> String {
        match self.kind {
            KeyKind::Integer => format!("({expression})::int8"),
            KeyKind::Date => format!("(({expression}) - DATE '1970-01-01')::int8"),
            KeyKind::Timestamp | KeyKind::Timestamptz => {
                format!("(EXTRACT(EPOCH FROM ({expression})) * 1000000)::int8")
            }
            KeyKind::Text | KeyKind::Uuid => format!("({expression})"),
        }
    }

    /// Returns the condition keeping finite non-NULL keys.
    fn finite_sql(&self) -> String {
        match self.kind {
            KeyKind::Date | KeyKind::Timestamp | KeyKind::Timestamptz => {
                format!("{0} IS NOT NULL AND isfinite({0})", self.quoted())
            }
            _ => format!("{} IS NOT NULL", self.quoted()),
        }
    }

    fn is_integer_like(&self) -> bool {
        !matches!(self.kind, KeyKind::Text | KeyKind::Uuid)
    }
}

/// Returns SQL for the key value whose int8 encoding is `encoded`.
fn from_int_sql(kind: KeyKind, encoded: i64) -> Result<String> {
    let seconds = encoded.div_euclid(1_000_000);
    let micros = encoded.rem_euclid(1_000_000);
    Ok(match kind {
        KeyKind::Integer => encoded.to_string(),
        KeyKind::Date => {
            let days = i32::try_from(encoded)
                .map_err(|_| ConnectorError::config("source.split_bounds", format!("{encoded} days is out of range for a date key")))?;
            format!("(DATE '1970-01-01' + ({days})::int4)")
        }
        KeyKind::Timestamp => {
            format!("(TIMESTAMP '1970-01-01 00:00:00' + ({seconds})::int8 * INTERVAL '1 second' + ({micros})::int8 * INTERVAL '1 microsecond')")
        }
        KeyKind::Timestamptz => format!(
            "(TIMESTAMPTZ '1970-01-01 00:00:00+00' + ({seconds})::int8 * INTERVAL '1 second' + ({micros})::int8 * INTERVAL '1 microsecond')"
        ),
        KeyKind::Text | KeyKind::Uuid => encoded.to_string(),
    })
}

/// Returns the SQL condition selecting `range` (`None` when it selects every row).
///
/// # Errors
/// [`ConnectorError::Config`] when the range does not fit the key (text bounds on an integer
/// key, a range without a key).
pub fn range_condition(range: &KeyRange, key: Option<&KeyInfo>) -> Result<Option<String>> {
    if let KeyRange::Pages { lo, hi } = range {
        let mut condition = format!("ctid >= '({lo},0)'::tid");
        if let Some(upper) = hi {
            condition.push_str(&format!(" AND ctid < '({upper},0)'::tid"));
        }
        return Ok(Some(condition));
    }
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
        KeyRange::Int { lo, hi } => {
            if !key.is_integer_like() {
                return Err(ConnectorError::config(
                    "source.split_pk",
                    format!("integer range {range} on a {} key", key.type_sql),
                ));
            }
            if let Some(lower) = lo {
                conditions.push(format!("{column} >= {}", from_int_sql(key.kind, *lower)?));
            }
            if let Some(upper) = hi {
                conditions.push(format!("{column} < {}", from_int_sql(key.kind, *upper)?));
            }
            if conditions.is_empty() {
                conditions.push(format!("{column} IS NOT NULL"));
            }
        }
        KeyRange::Text { lo, hi } => {
            if key.is_integer_like() {
                return Err(ConnectorError::config(
                    "source.split_pk",
                    format!("text range {range} on a {} key", key.type_sql),
                ));
            }
            if let Some(lower) = lo {
                conditions.push(format!("{column} >= {}", quote_literal(lower)));
            }
            if let Some(upper) = hi {
                conditions.push(format!("{column} < {}", quote_literal(upper)));
            }
            if conditions.is_empty() {
                conditions.push(format!("{column} IS NOT NULL"));
            }
        }
        KeyRange::All | KeyRange::Pages { .. } => {}
    }
    Ok(Some(conditions.join(" AND ")))
}

/// What the planner reads from the database.
pub struct PlanContext<'a> {
    /// An open session.
    pub client: &'a Client,
    /// The table.
    pub table: &'a TableName,
    /// The user's filter.
    pub where_clause: Option<&'a str>,
    /// Server flavour (sampling syntax).
    pub flavor: PgFlavor,
}

impl PlanContext<'_> {
    fn filter(&self, extra: &str) -> String {
        match self.where_clause {
            Some(filter) => format!(" WHERE {extra} AND ({filter})"),
            None => format!(" WHERE {extra}"),
        }
    }

    /// Returns `(reltuples, relkind, pages)`, running ANALYZE first when the table has never
    /// been analysed.
    async fn table_stats(&self) -> Result<(u64, String, u64)> {
        let sql = "SELECT c.reltuples::float8, c.relkind::text, \
                   (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8 \
                   FROM pg_class c WHERE c.oid = $1::text::regclass";
        let read = || async {
            self.client
                .query_one(sql, &[&self.table.quoted()])
                .await
                .map_err(ConnectorError::postgres(format!(
                    "read statistics of {}",
                    self.table
                )))
        };
        let mut row = read().await?;
        let reltuples: f64 = row.get(0);
        if reltuples < 0.0 {
            self.analyze(None).await?;
            row = read().await?;
        }
        let reltuples: f64 = row.get(0);
        let pages: i64 = row.get(2);
        Ok((
            reltuples.max(0.0) as u64,
            row.get(1),
            u64::try_from(pages).unwrap_or(0),
        ))
    }

    async fn analyze(&self, column: Option<&str>) -> Result<()> {
        let columns = column.map_or(String::new(), |name| {
            format!(" ({})", quote_identifier(name))
        });
        self.client
            .batch_execute(&format!("ANALYZE {}{columns}", self.table.quoted()))
            .await
            .map_err(ConnectorError::postgres(format!("analyze {}", self.table)))
    }

    fn sample_clause(&self, estimated_rows: u64, wanted: u64) -> (String, String) {
        if estimated_rows <= wanted.saturating_mul(2) {
            return (String::new(), String::new());
        }
        let percent = (100.0 * wanted as f64 / estimated_rows as f64).clamp(0.01, 100.0);
        match self.flavor {
            PgFlavor::Postgres => (format!(" TABLESAMPLE SYSTEM ({percent:.4})"), String::new()),
            PgFlavor::AnalyticDb => (
                String::new(),
                format!(" AND random() < {:.6}", percent / 100.0),
            ),
        }
    }

    /// Returns the quantiles `fractions` of the key over a sample (or the whole table when
    /// small), as the key's int8 encoding or text.
    async fn sampled_quantiles(
        &self,
        key: &KeyInfo,
        fractions: &[f64],
        estimated_rows: u64,
    ) -> Result<Vec<String>> {
        let wanted = (fractions.len() as u64 * 500).max(30_000);
        let array = fractions
            .iter()
            .map(|fraction| format!("{fraction:.8}"))
            .collect::<Vec<_>>()
            .join(",");
        let order = if key.is_integer_like() {
            key.to_int_sql(&key.quoted())
        } else {
            format!("{} {}", key.quoted(), key.collate)
        };
        for attempt in 0..2 {
            let (tablesample, random_filter) = if attempt == 0 {
                self.sample_clause(estimated_rows, wanted)
            } else {
                (String::new(), String::new())
            };
            let sql = format!(
                "SELECT (percentile_disc(ARRAY[{array}]::float8[]) WITHIN GROUP (ORDER BY {order}))::text[] FROM {}{tablesample}{}",
                self.table.quoted(),
                self.filter(&format!("{}{random_filter}", key.finite_sql()))
            );
            let row = self
                .client
                .query_one(&sql, &[])
                .await
                .map_err(ConnectorError::postgres(format!(
                    "sample split key {} of {}",
                    key.column, self.table
                )))?;
            let values: Option<Vec<Option<String>>> = row.get(0);
            if let Some(values) = values {
                return Ok(values.into_iter().flatten().collect());
            }
            if tablesample.is_empty() && random_filter.is_empty() {
                break;
            }
        }
        Ok(Vec::new())
    }

    async fn min_max(&self, key: &KeyInfo) -> Result<Option<(i64, i64)>> {
        let sql = format!(
            "SELECT {}, {} FROM {}{}",
            key.to_int_sql(&format!("MIN({})", key.quoted())),
            key.to_int_sql(&format!("MAX({})", key.quoted())),
            self.table.quoted(),
            self.filter(&key.finite_sql())
        );
        let row = self
            .client
            .query_one(&sql, &[])
            .await
            .map_err(ConnectorError::postgres(format!(
                "read bounds of split key {} of {}",
                key.column, self.table
            )))?;
        let low: Option<i64> = row.get(0);
        let high: Option<i64> = row.get(1);
        Ok(low.zip(high))
    }

    /// Returns the histogram bounds and most common values (with frequencies) of the key.
    async fn key_statistics(&self, key: &KeyInfo) -> Result<Option<KeyStatistics>> {
        let element = |column: &str| {
            format!(
                "ARRAY(SELECT {} FROM unnest({column}::text::{}[]) AS v WHERE {} ORDER BY 1)",
                key.to_int_sql("v"),
                key.type_sql,
                match key.kind {
                    KeyKind::Integer => "TRUE".to_string(),
                    _ => "isfinite(v)".to_string(),
                }
            )
        };
        let sql = format!(
            "SELECT {}, CASE WHEN most_common_vals IS NULL THEN NULL ELSE \
             ARRAY(SELECT {} FROM unnest(most_common_vals::text::{}[]) AS v) END, most_common_freqs::float8[], null_frac::float8 \
             FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3",
            element("histogram_bounds"),
            key.to_int_sql("v"),
            key.type_sql
        );
        for attempt in 0..2 {
            let rows = self
                .client
                .query(&sql, &[&self.table.schema, &self.table.table, &key.column])
                .await
                .map_err(ConnectorError::postgres(format!(
                    "read pg_stats of {}.{}",
                    self.table, key.column
                )))?;
            if let Some(row) = rows.first() {
                let histogram: Option<Vec<Option<i64>>> = row.get(0);
                let common: Option<Vec<Option<i64>>> = row.get(1);
                let frequencies: Option<Vec<Option<f64>>> = row.get(2);
                let null_fraction: f64 = row.get::<_, Option<f64>>(3).unwrap_or(0.0);
                let most_common = common
                    .unwrap_or_default()
                    .into_iter()
                    .zip(frequencies.unwrap_or_default())
                    .filter_map(|(value, frequency)| Some((value?, frequency?)))
                    .collect();
                return Ok(Some(KeyStatistics {
                    histogram: histogram
                        .unwrap_or_default()
                        .into_iter()
                        .flatten()
                        .collect(),
                    most_common,
                    null_fraction,
                }));
            }
            if attempt == 0 {
                self.analyze(Some(&key.column)).await?;
            }
        }
        Ok(None)
    }

    /// Converts user-given bounds to the key's encoding, sorted in the database's order.
    async fn user_bounds(
        &self,
        key: &KeyInfo,
        bounds: &[serde_json::Value],
    ) -> Result<Vec<String>> {
        let mut texts = Vec::with_capacity(bounds.len());
        for (index, bound) in bounds.iter().enumerate() {
            match bound {
                serde_json::Value::Number(number)
                    if key.kind == KeyKind::Integer
                        || !key.is_integer_like()
                        || number.is_i64() =>
                {
                    texts.push(number.to_string())
                }
                serde_json::Value::String(text) => texts.push(text.clone()),
                other => {
                    return Err(ConnectorError::config(
                        format!("source.split_bounds[{index}]"),
                        format!(
                            "{other} is not a valid bound for the {} key {}",
                            key.type_sql, key.column
                        ),
                    ))
                }
            }
        }
        let (value, order) = if key.is_integer_like() {
            // Strings are literal key values (a date, a timestamp); numbers are already encoded.
            let encoded = match key.kind {
                KeyKind::Integer => "b::int8".to_string(),
                _ => format!(
                    "CASE WHEN b ~ '^-?[0-9]+$' THEN b::int8 ELSE {} END",
                    key.to_int_sql(&format!("b::{}", key.type_sql))
                ),
            };
            (format!("({encoded})::text"), encoded)
        } else {
            (
                "b".to_string(),
                format!("b::{} {}", key.type_sql, key.collate),
            )
        };
        let sql =
            format!("SELECT DISTINCT {value}, {order} FROM unnest($1::text[]) AS u(b) ORDER BY 2");
        let rows = self
            .client
            .query(&sql, &[&texts])
            .await
            .map_err(ConnectorError::postgres(format!(
                "read source.split_bounds as {} values",
                key.type_sql
            )))?;
        Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
    }
}

/// The statistics of a split key in its int8 encoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyStatistics {
    /// Equal-frequency bucket bounds of the values that are not most common.
    pub histogram: Vec<i64>,
    /// Most common values and their frequencies (fractions of all rows).
    pub most_common: Vec<(i64, f64)>,
    /// Fraction of NULL keys.
    pub null_fraction: f64,
}

impl KeyStatistics {
    fn histogram_share(&self) -> f64 {
        let common: f64 = self
            .most_common
            .iter()
            .map(|(_, frequency)| frequency)
            .sum();
        (1.0 - common - self.null_fraction).max(0.0)
    }

    /// Returns the estimated fraction of non-NULL rows with a key below `x`.
    pub fn cdf(&self, x: i64) -> f64 {
        let mut below = 0.0;
        let buckets = self.histogram.len().saturating_sub(1);
        if buckets > 0 {
            let per_bucket = self.histogram_share() / buckets as f64;
            for window in self.histogram.windows(2) {
                let (low, high) = (window[0] as f64, window[1] as f64);
                let point = x as f64;
                if point >= high {
                    below += per_bucket;
                } else if point > low {
                    below += per_bucket * (point - low) / (high - low).max(1.0);
                }
            }
        }
        below += self
            .most_common
            .iter()
            .filter(|(value, _)| *value < x)
            .map(|(_, frequency)| frequency)
            .sum::<f64>();
        let total = 1.0 - self.null_fraction;
        if total <= 0.0 {
            0.0
        } else {
            (below / total).clamp(0.0, 1.0)
        }
    }

    /// Returns the smallest key `x` in `[low, high]` with `cdf(x) >= fraction` (binary search).
    pub fn quantile(&self, fraction: f64, low: i64, high: i64) -> i64 {
        let (mut lower, mut upper) = (low, high);
        while lower < upper {
            let middle = lower + ((upper as i128 - lower as i128) / 2) as i64;
            if self.cdf(middle) >= fraction {
                upper = middle;
            } else {
                lower = middle + 1;
            }
        }
        lower
    }

    /// Returns the largest estimated share of rows among the ranges between `boundaries`.
    pub fn largest_share(&self, boundaries: &[i64], low: i64, high: i64) -> f64 {
        let mut edges = vec![low];
        edges.extend(boundaries.iter().copied());
        edges.push(high.saturating_add(1));
        edges
            .windows(2)
            .map(|window| self.cdf(window[1]) - self.cdf(window[0]))
            .fold(0.0, f64::max)
    }
}

/// Returns `count - 1` boundaries splitting `[low, high]` into even ranges.
pub fn even_boundaries(low: i64, high: i64, count: u64) -> Vec<i64> {
    let span = i128::from(high) - i128::from(low) + 1;
    let shard_count = i128::from(count.max(1)).min(span.max(1));
    let mut boundaries = Vec::new();
    for index in 1..shard_count {
        if let Ok(boundary) = i64::try_from(i128::from(low) + span * index / shard_count) {
            boundaries.push(boundary);
        }
    }
    boundaries.dedup();
    boundaries
}

/// Returns open-ended ranges between sorted, distinct boundaries.
pub fn int_ranges(boundaries: &[i64]) -> Vec<KeyRange> {
    let mut ranges = Vec::with_capacity(boundaries.len() + 1);
    let mut lower = None;
    for boundary in boundaries {
        ranges.push(KeyRange::Int {
            lo: lower,
            hi: Some(*boundary),
        });
        lower = Some(*boundary);
    }
    ranges.push(KeyRange::Int {
        lo: lower,
        hi: None,
    });
    ranges
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

/// Plans the shards of `context.table`.
///
/// # Errors
/// [`ConnectorError::Config`] for a bad split key or bounds, [`ConnectorError::Postgres`] when
/// the catalog cannot be read.
pub async fn plan(
    context: &PlanContext<'_>,
    key: Option<&KeyInfo>,
    bounds: &[serde_json::Value],
    request: &PlanRequest,
) -> Result<PlanOutput> {
    let (estimated_rows, relkind, pages) = context.table_stats().await?;
    let target = request.target_shard_count(estimated_rows);
    let Some(key) = key else {
        if !matches!(relkind.as_str(), "r" | "m") || target <= 1 || pages <= 1 {
            return Ok(PlanOutput {
                ranges: vec![KeyRange::All],
                estimated_rows,
                key_bounds: None,
            });
        }
        let count = target.min(pages);
        let step = pages.div_ceil(count);
        let mut ranges = Vec::new();
        let mut start = 0u64;
        while start + step < pages {
            ranges.push(KeyRange::Pages {
                lo: start,
                hi: Some(start + step),
            });
            start += step;
        }
        ranges.push(KeyRange::Pages {
            lo: start,
            hi: None,
        });
        return Ok(PlanOutput {
            ranges,
            estimated_rows,
            key_bounds: None,
        });
    };
    let mut key_bounds = None;
    let mut ranges = if !bounds.is_empty() {
        let sorted = context.user_bounds(key, bounds).await?;
        if key.is_integer_like() {
            let mut encoded = Vec::with_capacity(sorted.len());
            for text in &sorted {
                encoded.push(text.parse::<i64>().map_err(|_| {
                    ConnectorError::config(
                        "source.split_bounds",
                        format!("\"{text}\" is not a valid bound"),
                    )
                })?);
            }
            int_ranges(&encoded)
        } else {
            text_ranges(&sorted)
        }
    } else if key.is_integer_like() {
        let (ranges, bounds) = plan_integer_key(context, key, target, estimated_rows).await?;
        key_bounds = bounds;
        ranges
    } else if target <= 1 {
        vec![KeyRange::Text { lo: None, hi: None }]
    } else {
        let fractions: Vec<f64> = (1..target)
            .map(|index| index as f64 / target as f64)
            .collect();
        let mut boundaries = context
            .sampled_quantiles(key, &fractions, estimated_rows)
            .await?;
        boundaries.dedup();
        text_ranges(&boundaries)
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

/// Plans an integer-like key: returns the ranges and the key's MIN and MAX when it has values.
async fn plan_integer_key(
    context: &PlanContext<'_>,
    key: &KeyInfo,
    target: u64,
    estimated_rows: u64,
) -> Result<(Vec<KeyRange>, Option<KeyBounds>)> {
    let Some((low, high)) = context.min_max(key).await? else {
        return Ok((vec![KeyRange::Int { lo: None, hi: None }], None));
    };
    let bounds = Some(KeyBounds {
        min: low,
        max: high,
    });
    if target <= 1 || low == high {
        return Ok((vec![KeyRange::Int { lo: None, hi: None }], bounds));
    }
    let even = even_boundaries(low, high, target);
    let statistics = context.key_statistics(key).await?.unwrap_or_default();
    let usable = statistics.histogram.len() >= 2 || !statistics.most_common.is_empty();
    // Within 1.5× of an even share: even ranges are good enough and need no more reads.
    if usable && statistics.largest_share(&even, low, high) <= 1.5 / target as f64 {
        return Ok((int_ranges(&even), bounds));
    }
    let fine_enough = statistics.histogram.len() as u64 > target.saturating_mul(3);
    let mut boundaries: Vec<i64> = if usable && fine_enough {
        (1..target)
            .map(|index| statistics.quantile(index as f64 / target as f64, low, high))
            .collect()
    } else {
        let fractions: Vec<f64> = (1..target)
            .map(|index| index as f64 / target as f64)
            .collect();
        let sampled = context
            .sampled_quantiles(key, &fractions, estimated_rows)
            .await?;
        sampled
            .iter()
            .filter_map(|text| text.parse::<i64>().ok())
            .collect()
    };
    boundaries.sort_unstable();
    boundaries.dedup();
    boundaries.retain(|boundary| *boundary > low);
    if boundaries.is_empty() && !usable {
        boundaries = even;
    }
    Ok((int_ranges(&boundaries), bounds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: KeyKind) -> KeyInfo {
        KeyInfo {
            column: "k".into(),
            kind,
            type_sql: "x".into(),
            nullable: true,
            collate: String::new(),
        }
    }

    #[test]
    fn conditions_convert_encoded_bounds() {
        let range = KeyRange::Int {
            lo: Some(-1),
            hi: Some(1_500_000),
        };
        let timestamp = range_condition(&range, Some(&key(KeyKind::Timestamptz)))
            .expect("ok")
            .expect("some");
        assert!(
            timestamp.contains("(-1)::int8 * INTERVAL '1 second' + (999999)::int8"),
            "{timestamp}"
        );
        let date = range_condition(
            &KeyRange::Int {
                lo: Some(3),
                hi: None,
            },
            Some(&key(KeyKind::Date)),
        )
        .expect("ok")
        .expect("some");
        assert_eq!(date, "\"k\" >= (DATE '1970-01-01' + (3)::int4)");
        let text = range_condition(
            &KeyRange::Text {
                lo: None,
                hi: Some("it's".into()),
            },
            Some(&key(KeyKind::Text)),
        )
        .expect("ok");
        assert_eq!(text.as_deref(), Some("\"k\" < 'it''s'"));
        assert_eq!(
            range_condition(&KeyRange::Null, Some(&key(KeyKind::Uuid)))
                .expect("ok")
                .as_deref(),
            Some("\"k\" IS NULL")
        );
        assert_eq!(
            range_condition(&KeyRange::Pages { lo: 4, hi: None }, None)
                .expect("ok")
                .as_deref(),
            Some("ctid >= '(4,0)'::tid")
        );
        assert!(range_condition(
            &KeyRange::Text { lo: None, hi: None },
            Some(&key(KeyKind::Integer))
        )
        .is_err());
    }

    #[test]
    fn skewed_histogram_gives_balanced_quantiles() {
        // 90% of rows in [0, 10_000), 10% in [10_000, 1_000_000): histogram of 101 bounds.
        let mut histogram: Vec<i64> = (0..=90).map(|index| index * 10_000 / 90).collect();
        histogram.extend((1..=10).map(|index| 10_000 + index * 99_000));
        let statistics = KeyStatistics {
            histogram,
            most_common: Vec::new(),
            null_fraction: 0.0,
        };
        let even = even_boundaries(0, 1_000_000, 10);
        assert!(statistics.largest_share(&even, 0, 1_000_000) > 0.8);
        let quantiles: Vec<i64> = (1..10)
            .map(|index| statistics.quantile(index as f64 / 10.0, 0, 1_000_000))
            .collect();
        assert!(
            statistics.largest_share(&quantiles, 0, 1_000_000) < 0.15,
            "{quantiles:?}"
        );
    }

    #[test]
    fn even_boundaries_split_the_span() {
        assert_eq!(even_boundaries(0, 99, 4), vec![25, 50, 75]);
        assert_eq!(even_boundaries(5, 5, 8), Vec::<i64>::new());
        assert_eq!(even_boundaries(i64::MIN, i64::MAX, 2), vec![0]);
        assert_eq!(
            int_ranges(&[3]),
            vec![
                KeyRange::Int {
                    lo: None,
                    hi: Some(3)
                },
                KeyRange::Int {
                    lo: Some(3),
                    hi: None
                }
            ]
        );
    }
}
