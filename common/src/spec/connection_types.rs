//! The connector types a spec or a data source may name, and the options each declares.

/// What a connector type accepts.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionType {
    /// Type name, as written in specs (`type: sqlite`).
    pub name: &'static str,
    /// Options that must be present.
    pub required: &'static [&'static str],
    /// Options that may be present.
    pub optional: &'static [&'static str],
    /// Options that are secrets: stored apart, never shown.
    pub secrets: &'static [&'static str],
    /// Whether the type can be read from.
    pub can_read: bool,
    /// Whether the type can be written to.
    pub can_write: bool,
    /// Whether `table` is required.
    pub needs_table: bool,
    /// Whether the type reaches no external store (it makes or prints rows itself), so dev jobs
    /// of standard workspaces may name it inline.
    pub self_contained: bool,
}

impl ConnectionType {
    /// Returns whether `option` is declared by this type.
    pub fn accepts(&self, option: &str) -> bool {
        self.required.contains(&option)
            || self.optional.contains(&option)
            || self.secrets.contains(&option)
    }

    /// Returns every declared option, comma-separated, for error messages.
    pub fn option_list(&self) -> String {
        let mut all: Vec<&str> = self
            .required
            .iter()
            .chain(self.optional)
            .chain(self.secrets)
            .copied()
            .collect();
        all.sort_unstable();
        all.join(", ")
    }
}

/// Options whose value is a JSON list or object (kept as JSON text), by connection type.
const JSON_OPTIONS: &[(&str, &str)] = &[("stream", "columns")];

/// Returns whether option `option` of connection type `kind` takes a JSON list or object.
pub fn takes_json(kind: &str, option: &str) -> bool {
    JSON_OPTIONS.contains(&(kind, option))
}

/// Every connector type this build knows.
pub const CONNECTION_TYPES: &[ConnectionType] = &[
    ConnectionType {
        name: "generator",
        required: &["rows"],
        optional: &["seed", "rows_per_second"],
        secrets: &[],
        can_read: true,
        can_write: false,
        needs_table: false,
        self_contained: true,
    },
    ConnectionType {
        name: "stream",
        required: &[],
        optional: &["rows", "columns", "print", "field_delimiter"],
        secrets: &[],
        can_read: true,
        can_write: true,
        needs_table: false,
        self_contained: true,
    },
    ConnectionType {
        name: "sqlite",
        required: &["path"],
        optional: &["busy_timeout_ms"],
        secrets: &[],
        can_read: true,
        can_write: true,
        needs_table: true,
        self_contained: false,
    },
    ConnectionType {
        name: "postgresql",
        required: &["host", "database", "user"],
        optional: &[
            "port",
            "sslmode",
            "schema",
            "connect_timeout_ms",
            "commit_table",
        ],
        secrets: &["password"],
        can_read: true,
        can_write: true,
        needs_table: false,
        self_contained: false,
    },
    ConnectionType {
        name: "adb_postgresql",
        required: &["host", "database", "user"],
        optional: &[
            "port",
            "sslmode",
            "schema",
            "connect_timeout_ms",
            "commit_table",
        ],
        secrets: &["password"],
        can_read: true,
        can_write: true,
        needs_table: false,
        self_contained: false,
    },
    ConnectionType {
        name: "mysql",
        required: &["host", "database", "user"],
        optional: &[
            "port",
            "connect_timeout_ms",
            "commit_table",
            "tinyint1_as_boolean",
            "zero_date",
            "load_data",
        ],
        secrets: &["password"],
        can_read: true,
        can_write: true,
        needs_table: false,
        self_contained: false,
    },
    ConnectionType {
        name: "mariadb",
        required: &["host", "database", "user"],
        optional: &[
            "port",
            "connect_timeout_ms",
            "commit_table",
            "tinyint1_as_boolean",
            "zero_date",
            "load_data",
        ],
        secrets: &["password"],
        can_read: true,
        can_write: true,
        needs_table: false,
        self_contained: false,
    },
    ConnectionType {
        name: "file",
        required: &["path"],
        optional: &[
            "format",
            "header",
            "delimiter",
            "quote",
            "escape",
            "null_string",
            "skip_lines",
            "csv_schema",
            "allow_short_rows",
            "encoding",
            "compression",
            "infer_rows",
            "row_group_rows",
            "parquet_compression",
        ],
        secrets: &[],
        can_read: true,
        can_write: true,
        needs_table: false,
        self_contained: false,
    },
    ConnectionType {
        name: "s3",
        required: &["bucket"],
        optional: &[
            "endpoint",
            "region",
            "access_key_id",
            "prefix",
            "virtual_hosted_style",
            "format",
            "header",
            "delimiter",
            "quote",
            "escape",
            "null_string",
            "skip_lines",
            "csv_schema",
            "allow_short_rows",
            "encoding",
            "compression",
            "infer_rows",
            "row_group_rows",
            "parquet_compression",
        ],
        secrets: &["secret_access_key"],
        can_read: true,
        can_write: true,
        needs_table: false,
        self_contained: false,
    },
];

/// Returns the connector type called `name`.
pub fn connection_type(name: &str) -> Option<&'static ConnectionType> {
    CONNECTION_TYPES.iter().find(|kind| kind.name == name)
}

/// Returns the names of every known type, comma-separated.
pub fn type_names() -> String {
    CONNECTION_TYPES
        .iter()
        .map(|kind| kind.name)
        .collect::<Vec<_>>()
        .join(", ")
}
