//! The rows of the matrix: each common type, the reference values a source table of it holds
//! (extremes, NULL, unicode, empty vs NULL), and the column type each store declares for it.
//!
//! A value is written in its canonical text (see `render`): what the Arrow value of the type
//! renders as. Some stores cannot hold some values at all (MySQL has no NaN, SQLite stores NaN
//! as NULL); such a value is left out of that store's source table (`absent_from`) and so does
//! not take part in the cells of that source row.

/// A store of the matrix, as a source (row) and as a sink (column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Store {
    /// PostgreSQL (`postgresql` connector).
    Postgres,
    /// MariaDB through the `mysql` connector.
    MySql,
    /// A SQLite file (`sqlite` connector).
    Sqlite,
    /// A Parquet file on local disk (`file` connector).
    Parquet,
    /// A CSV file on local disk (`file` connector, default options).
    Csv,
}

impl Store {
    /// Every store, in the matrix's order.
    pub const ALL: [Store; 5] = [
        Store::Postgres,
        Store::MySql,
        Store::Sqlite,
        Store::Parquet,
        Store::Csv,
    ];

    /// Returns the store's name in the doc.
    pub fn name(self) -> &'static str {
        match self {
            Store::Postgres => "PostgreSQL",
            Store::MySql => "MySQL",
            Store::Sqlite => "SQLite",
            Store::Parquet => "Parquet",
            Store::Csv => "CSV",
        }
    }
}

/// A common type: one row (table) of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// boolean
    Boolean,
    /// 32-bit integer
    Int32,
    /// 64-bit integer
    Int64,
    /// unsigned 64-bit integer
    UInt64,
    /// double
    Float64,
    /// decimal(38,10)
    Decimal38,
    /// decimal(65,30)
    Decimal65,
    /// text
    Text,
    /// '' vs NULL
    EmptyVsNull,
    /// bytes
    Binary,
    /// date
    Date,
    /// time of day
    Time,
    /// timestamp without zone
    Timestamp,
    /// timestamp with zone
    Timestamptz,
    /// JSON document
    Json,
    /// uuid
    Uuid,
    /// interval
    Interval,
    /// one-dimensional array of int
    IntArray,
}

/// One reference value.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Row id (the `id` column of every table).
    pub id: i64,
    /// Canonical text, `None` for NULL.
    pub value: Option<&'static str>,
    /// Stores that cannot hold the value (left out of their source tables).
    pub absent_from: &'static [Store],
}

const fn v(id: i64, value: &'static str) -> Sample {
    Sample {
        id,
        value: Some(value),
        absent_from: &[],
    }
}

const fn null(id: i64) -> Sample {
    Sample {
        id,
        value: None,
        absent_from: &[],
    }
}

const fn not_in(id: i64, value: &'static str, absent_from: &'static [Store]) -> Sample {
    Sample {
        id,
        value: Some(value),
        absent_from,
    }
}

/// A row of the matrix.
#[derive(Debug)]
pub struct TypeRow {
    /// Which type.
    pub kind: Kind,
    /// Short name: table names (`t_<key>`) and test messages.
    pub key: &'static str,
    /// Heading in docs/type-matrix.md.
    pub title: &'static str,
    /// The Arrow type a value of this type is when nothing converts it.
    pub canonical: &'static str,
    /// Reference values.
    pub samples: &'static [Sample],
}

impl TypeRow {
    /// Returns the samples a source table in `store` holds.
    pub fn samples_in(&self, store: Store) -> Vec<Sample> {
        self.samples
            .iter()
            .filter(|sample| !sample.absent_from.contains(&store))
            .copied()
            .collect()
    }

    /// Returns the column type `store` declares for this type, `None` when the store has no
    /// such type (a "—" row of the matrix). Parquet and CSV give the Arrow type written and
    /// `text`.
    pub fn declared(&self, store: Store) -> Option<&'static str> {
        use Kind::*;
        use Store::*;
        let declared = match (self.kind, store) {
            (Boolean, Postgres) => "boolean",
            (Boolean, MySql) => "tinyint(1)",
            (Boolean, Sqlite) => "BOOLEAN",
            (Int32, Postgres) => "integer",
            (Int32, MySql) => "int",
            (Int32, Sqlite) => "INTEGER",
            (Int64, Postgres) => "bigint",
            (Int64, MySql) => "bigint",
            (Int64, Sqlite) => "INTEGER",
            (UInt64, MySql) => "bigint unsigned",
            (UInt64, Postgres | Sqlite) => return None,
            (Float64, Postgres) => "double precision",
            (Float64, MySql) => "double",
            (Float64, Sqlite) => "REAL",
            (Decimal38, Postgres) => "numeric(38,10)",
            (Decimal38, MySql) => "decimal(38,10)",
            (Decimal38, Sqlite) => "DECIMAL(38,10)",
            (Decimal65, Postgres) => "numeric(65,30)",
            (Decimal65, MySql) => "decimal(65,30)",
            (Decimal65, Sqlite) => "DECIMAL(65,30)",
            (Text | EmptyVsNull, Postgres) => "text",
            (Text, MySql) => "longtext",
            (EmptyVsNull, MySql) => "varchar(20)",
            (Text | EmptyVsNull, Sqlite) => "TEXT",
            (Binary, Postgres) => "bytea",
            (Binary, MySql) => "varbinary(100)",
            (Binary, Sqlite) => "BLOB",
            (Date, Postgres | MySql) => "date",
            (Date, Sqlite) => "DATE",
            (Time, Postgres) => "time",
            (Time, MySql) => "time(6)",
            (Time, Sqlite) => "TIME",
            (Timestamp, Postgres) => "timestamp",
            (Timestamp, MySql) => "datetime(6)",
            (Timestamp, Sqlite) => "TIMESTAMP",
            (Timestamptz, Postgres) => "timestamptz",
            (Timestamptz, MySql) => "timestamp(6) NULL",
            (Timestamptz, Sqlite) => "DATETIME",
            (Json, Postgres | MySql) => "json",
            (Json, Sqlite) => "JSON",
            (Uuid, Postgres) => "uuid",
            (Uuid, MySql | Sqlite | Csv) => return None,
            (Interval, Postgres) => "interval",
            (Interval, MySql | Sqlite | Parquet | Csv) => return None,
            (IntArray, Postgres) => "integer[]",
            (IntArray, MySql | Sqlite | Csv) => return None,
            (_, Parquet) => self.canonical,
            (_, Csv) => "text",
        };
        Some(declared)
    }
}

/// The types of docs/type-matrix.md, in its order.
pub const ROWS: &[TypeRow] = &[
    TypeRow {
        kind: Kind::Boolean,
        key: "boolean",
        title: "boolean (true/false, NULL)",
        canonical: "Boolean",
        samples: &[v(1, "true"), v(2, "false"), null(3)],
    },
    TypeRow {
        kind: Kind::Int32,
        key: "int32",
        title: "int32 (-2^31 .. 2^31-1)",
        canonical: "Int32",
        samples: &[v(1, "-2147483648"), v(2, "2147483647"), v(3, "0"), null(4)],
    },
    TypeRow {
        kind: Kind::Int64,
        key: "int64",
        title: "int64 (-2^63 .. 2^63-1)",
        canonical: "Int64",
        samples: &[
            v(1, "-9223372036854775808"),
            v(2, "9223372036854775807"),
            v(3, "0"),
            null(4),
        ],
    },
    TypeRow {
        kind: Kind::UInt64,
        key: "uint64",
        title: "uint64 (0 .. 2^64-1)",
        canonical: "UInt64",
        samples: &[
            v(1, "0"),
            v(2, "18446744073709551615"),
            v(3, "9223372036854775808"),
            v(4, "42"),
            null(5),
        ],
    },
    TypeRow {
        kind: Kind::Float64,
        key: "float64",
        title: "float64 (±0, extremes, subnormals; NaN/±Inf)",
        canonical: "Float64",
        samples: &[
            v(1, "0.1"),
            v(2, "-1.7976931348623157e308"),
            v(3, "1.7976931348623157e308"),
            v(4, "2.2250738585072014e-308"),
            v(5, "5e-324"),
            not_in(6, "-0.0", &[Store::MySql, Store::Sqlite]),
            not_in(7, "NaN", &[Store::MySql, Store::Sqlite]),
            not_in(8, "inf", &[Store::MySql]),
            not_in(9, "-inf", &[Store::MySql]),
            null(10),
        ],
    },
    TypeRow {
        kind: Kind::Decimal38,
        key: "decimal38",
        title: "decimal(38,10) (exact decimal)",
        canonical: "Decimal128(38, 10)",
        samples: &[
            v(1, "9999999999999999999999999999.9999999999"),
            v(2, "-9999999999999999999999999999.9999999999"),
            v(3, "0.0000000001"),
            v(4, "1.5000000000"),
            v(5, "0.0000000000"),
            null(6),
        ],
    },
    TypeRow {
        kind: Kind::Decimal65,
        key: "decimal65",
        title: "decimal(65,30) (MySQL's widest decimal)",
        canonical: "Decimal256(65, 30)",
        samples: &[
            v(
                1,
                "99999999999999999999999999999999999.999999999999999999999999999999",
            ),
            v(
                2,
                "-99999999999999999999999999999999999.999999999999999999999999999999",
            ),
            v(3, "0.000000000000000000000000000001"),
            null(4),
        ],
    },
    TypeRow {
        kind: Kind::Text,
        key: "text",
        title: "text (unicode incl. 4-byte emoji, quotes, newlines, NUL)",
        canonical: "Utf8",
        samples: &[
            v(1, "héllo wörld"),
            v(2, "😀🎉 4-byte emoji"),
            v(3, "中文 русский עברית"),
            v(4, "quote ' double \" backslash \\ comma ,"),
            v(5, "line\nbreak\r\nand\ttab"),
            v(6, "  padded  "),
            not_in(7, "nul\u{0}byte", &[Store::Postgres]),
            null(8),
        ],
    },
    TypeRow {
        kind: Kind::EmptyVsNull,
        key: "empty",
        title: "empty string vs NULL (`''` and NULL distinct)",
        canonical: "Utf8",
        samples: &[v(1, ""), null(2), v(3, " ")],
    },
    TypeRow {
        kind: Kind::Binary,
        key: "binary",
        title: "binary (arbitrary bytes, empty)",
        canonical: "Binary",
        samples: &[
            v(1, "\\x00ff10"),
            v(2, "\\x"),
            v(3, "\\xdeadbeef00"),
            null(4),
        ],
    },
    TypeRow {
        kind: Kind::Date,
        key: "date",
        title: "date (0001-01-01 .. 9999-12-31)",
        canonical: "Date32",
        samples: &[
            v(1, "0001-01-01"),
            v(2, "9999-12-31"),
            v(3, "1970-01-01"),
            v(4, "2024-02-29"),
            v(5, "1969-12-31"),
            null(6),
        ],
    },
    TypeRow {
        kind: Kind::Time,
        key: "time",
        title: "time (00:00:00 .. 23:59:59.999999)",
        canonical: "Time64(µs)",
        samples: &[
            v(1, "00:00:00.000000"),
            v(2, "23:59:59.999999"),
            v(3, "12:34:56.000001"),
            null(4),
        ],
    },
    TypeRow {
        kind: Kind::Timestamp,
        key: "timestamp",
        title: "timestamp (wall-clock, µs)",
        canonical: "Timestamp(µs)",
        samples: &[
            v(1, "0001-01-01 00:00:00.000000"),
            v(2, "9999-12-31 23:59:59.999999"),
            v(3, "1970-01-01 00:00:00.000000"),
            v(4, "2024-02-29 12:34:56.123456"),
            v(5, "1969-12-31 23:59:59.999999"),
            null(6),
        ],
    },
    TypeRow {
        kind: Kind::Timestamptz,
        key: "timestamptz",
        title: "timestamptz (instant, µs, UTC)",
        canonical: "Timestamp(µs, UTC)",
        samples: &[
            v(1, "1970-01-01 00:00:01.000000"),
            v(2, "2038-01-19 03:14:07.999999"),
            v(3, "2024-02-29 12:34:56.123456"),
            not_in(4, "0001-01-01 00:00:00.000000", &[Store::MySql]),
            not_in(5, "9999-12-31 23:59:59.999999", &[Store::MySql]),
            not_in(6, "1969-12-31 23:59:59.999999", &[Store::MySql]),
            null(7),
        ],
    },
    TypeRow {
        kind: Kind::Json,
        key: "json",
        title: "json (a JSON document)",
        canonical: "Utf8 + arrow.json",
        samples: &[
            v(1, "{\"b\":2,\"a\":[1,2.50,\"ü\",null]}"),
            v(2, "{\"a\": 1, \"b\": [true, false]}"),
            v(3, "[]"),
            v(4, "\"text\""),
            v(5, "null"),
            null(6),
        ],
    },
    TypeRow {
        kind: Kind::Uuid,
        key: "uuid",
        title: "uuid (16 bytes)",
        canonical: "FixedSizeBinary(16) + arrow.uuid",
        samples: &[
            v(1, "\\xa0eebc999c0b4ef8bb6d6bb9bd380a11"),
            v(2, "\\x00000000000000000000000000000000"),
            v(3, "\\xffffffffffffffffffffffffffffffff"),
            null(4),
        ],
    },
    TypeRow {
        kind: Kind::Interval,
        key: "interval",
        title: "interval (months, days, µs)",
        canonical: "Interval(MonthDayNano)",
        samples: &[
            v(1, "14 mons -3 days 14706789000000 ns"),
            v(2, "0 mons 0 days 0 ns"),
            v(3, "-1 mons 1 days -1000 ns"),
            null(4),
        ],
    },
    TypeRow {
        kind: Kind::IntArray,
        key: "int_array",
        title: "array of int (one-dimensional, NULL elements)",
        canonical: "List(Int32)",
        samples: &[
            v(1, "[1, NULL, -2147483648, 2147483647]"),
            v(2, "[]"),
            null(3),
        ],
    },
];
