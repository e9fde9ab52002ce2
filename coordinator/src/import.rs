//! Parsing of data source import documents (`sluice ds import`): CSV with a header line, or a
//! YAML list. Pure: the service checks each row against its type and writes them all at once.
//!
//! CSV columns: `name` and `type` (required), `environment` (`prod` when empty or absent),
//! `description`; every other column is an option of the type (`host`, `port`, `path`,
//! `password`, ...), secret or not as the type declares. An empty cell leaves the option unset.
//! A data source with configs in several environments takes one row per environment.
//!
//! Rows are numbered as a user finds them: CSV by file line (the header is line 1), YAML by
//! item (the first is item 1).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The columns of a CSV import that are not options.
pub const RESERVED_COLUMNS: [&str; 4] = ["name", "type", "environment", "description"];

/// Where a row is in its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowPosition {
    /// A CSV line (1-based; line 1 is the header).
    Line(u64),
    /// A YAML list item (1-based).
    Item(usize),
}

impl fmt::Display for RowPosition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowPosition::Line(line) => write!(formatter, "line {line}"),
            RowPosition::Item(item) => write!(formatter, "item {item}"),
        }
    }
}

/// One problem in an import document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// The row, when the problem is in one.
    pub position: Option<RowPosition>,
    /// The field or column (`type`, `options.host`), or empty for the row or document.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ImportProblem {
    /// Returns a problem of `field` at `position`.
    pub fn at(
        position: Option<RowPosition>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ImportProblem {
            position,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(position) = self.position {
            write!(formatter, "{position}: ")?;
        }
        if !self.field.is_empty() {
            write!(formatter, "{}: ", self.field)?;
        }
        write!(formatter, "{}", self.message)
    }
}

/// Format of an import document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// CSV with a header line.
    Csv,
    /// A YAML list of data sources.
    Yaml,
}

impl ImportFormat {
    /// Guesses the format: YAML when the first meaningful line starts a list item, else CSV.
    pub fn guess(content: &str) -> Self {
        let first = content
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'));
        match first {
            Some(line) if line.starts_with('-') => ImportFormat::Yaml,
            _ => ImportFormat::Csv,
        }
    }
}

/// One row: one environment's config of one data source, secrets in plain text.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// Where it is in the document.
    pub position: RowPosition,
    /// Data source name.
    pub name: String,
    /// Connector type.
    pub kind: String,
    /// Environment; empty means `prod`.
    pub environment: String,
    /// Description.
    pub description: String,
    /// Options, secret ones included (the type decides which are secrets).
    pub options: BTreeMap<String, String>,
    /// Options given explicitly as secrets (YAML `secrets:`).
    pub secrets: BTreeMap<String, String>,
}

impl fmt::Debug for ImportRow {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ImportRow")
            .field("position", &self.position)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("environment", &self.environment)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Parses an import document into rows; every problem is listed with its row.
///
/// # Errors
/// Every problem found, each naming its line or item and field; values are never quoted
/// (a cell may be a password).
pub fn parse(content: &str, format: ImportFormat) -> Result<Vec<ImportRow>, Vec<ImportProblem>> {
    let (rows, mut problems) = match format {
        ImportFormat::Csv => parse_csv(content),
        ImportFormat::Yaml => parse_yaml(content),
    };
    if rows.is_empty() && problems.is_empty() {
        problems.push(ImportProblem::at(None, "", "holds no data source"));
    }
    for row in &rows {
        if row.name.trim().is_empty() {
            problems.push(ImportProblem::at(Some(row.position), "name", "is required"));
        }
        if row.kind.trim().is_empty() {
            problems.push(ImportProblem::at(
                Some(row.position),
                "type",
                "is required (e.g. postgresql, mysql, sqlite)",
            ));
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

fn parse_csv(content: &str) -> (Vec<ImportRow>, Vec<ImportProblem>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(content.as_bytes());
    let mut problems = Vec::new();
    let headers: Vec<String> = match reader.headers() {
        Ok(headers) => headers
            .iter()
            .map(|header| header.trim().to_lowercase())
            .collect(),
        Err(error) => {
            problems.push(ImportProblem::at(
                Some(RowPosition::Line(1)),
                "",
                format!("the header line cannot be read: {}", csv_error_kind(&error)),
            ));
            return (Vec::new(), problems);
        }
    };
    let mut seen = HashSet::new();
    for header in &headers {
        if header.is_empty() {
            problems.push(ImportProblem::at(
                Some(RowPosition::Line(1)),
                "",
                "a column has no name: name every column (name, type, environment, description, then options)",
            ));
        } else if !seen.insert(header.clone()) {
            problems.push(ImportProblem::at(
                Some(RowPosition::Line(1)),
                header.clone(),
                "is a column twice",
            ));
        }
    }
    for required in ["name", "type"] {
        if !headers.iter().any(|header| header == required) {
            problems.push(ImportProblem::at(
                Some(RowPosition::Line(1)),
                required,
                "column is missing: the header needs name and type, then environment, description and options (host, port, ...)",
            ));
        }
    }
    if !problems.is_empty() {
        return (Vec::new(), problems);
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error
                    .position()
                    .map_or(0, |position| line_at(content, position));
                problems.push(ImportProblem::at(
                    Some(RowPosition::Line(line)),
                    "",
                    csv_error_kind(&error),
                ));
                continue;
            }
        };
        let line = record
            .position()
            .map_or(0, |position| line_at(content, position));
        let mut row = ImportRow {
            position: RowPosition::Line(line),
            name: String::new(),
            kind: String::new(),
            environment: String::new(),
            description: String::new(),
            options: BTreeMap::new(),
            secrets: BTreeMap::new(),
        };
        for (header, cell) in headers.iter().zip(record.iter()) {
            match header.as_str() {
                "name" => row.name = cell.to_string(),
                "type" => row.kind = cell.to_string(),
                "environment" => row.environment = cell.to_string(),
                "description" => row.description = cell.to_string(),
                _ if cell.is_empty() => {}
                option => {
                    row.options.insert(option.to_string(), cell.to_string());
                }
            }
        }
        rows.push(row);
    }
    (rows, problems)
}

/// Returns the 1-based line of a record (the csv crate's own line count skips blank lines,
/// and its byte position is where reading started, before the blank lines it skipped).
fn line_at(content: &str, position: &csv::Position) -> u64 {
    let bytes = content.as_bytes();
    let mut end = usize::try_from(position.byte())
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    while end < bytes.len() && matches!(bytes[end], b'\n' | b'\r') {
        end += 1;
    }
    let newlines = content.as_bytes()[..end]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count();
    u64::try_from(newlines)
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// Describes a CSV error without quoting the content (a cell may be a secret).
fn csv_error_kind(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} cells where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        _ => "is not valid CSV".to_string(),
    }
}

/// One YAML list item.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlItem {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    options: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    secrets: BTreeMap<String, serde_json::Value>,
}

fn parse_yaml(content: &str) -> (Vec<ImportRow>, Vec<ImportProblem>) {
    let mut problems = Vec::new();
    let document: serde_json::Value = match serde_yaml_ng::from_str(content) {
        Ok(document) => document,
        Err(error) => {
            let line = error
                .location()
                .map(|location| format!(" (line {})", location.line()))
                .unwrap_or_default();
            problems.push(ImportProblem::at(
                None,
                "",
                format!("is not valid YAML{line}: expected a list of data sources"),
            ));
            return (Vec::new(), problems);
        }
    };
    let serde_json::Value::Array(items) = document else {
        problems.push(ImportProblem::at(
            None,
            "",
            "must be a YAML list of data sources (`- name: ...`)",
        ));
        return (Vec::new(), problems);
    };
    let mut rows = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let position = RowPosition::Item(index + 1);
        let item: YamlItem = match serde_path_to_error::deserialize(item) {
            Ok(item) => item,
            Err(error) => {
                let path = error.path().to_string();
                let message = match error.inner().to_string() {
                    // serde's messages name fields and types, never values of maps.
                    message if message.starts_with("unknown field") => format!(
                        "{}; fields are: name, type, environment, description, options, secrets",
                        message.split(", expected").next().unwrap_or(&message)
                    ),
                    _ => "has the wrong shape: expected a map with name, type, environment, description, options, secrets".to_string(),
                };
                problems.push(ImportProblem::at(
                    Some(position),
                    if path == "." { String::new() } else { path },
                    message,
                ));
                continue;
            }
        };
        let options = scalars(item.options, "options", position, &mut problems);
        let secrets = scalars(item.secrets, "secrets", position, &mut problems);
        rows.push(ImportRow {
            position,
            name: item.name.unwrap_or_default(),
            kind: item.kind.unwrap_or_default(),
            environment: item.environment.unwrap_or_default(),
            description: item.description.unwrap_or_default(),
            options,
            secrets,
        });
    }
    (rows, problems)
}

/// Turns option values (strings, numbers, booleans) into strings.
fn scalars(
    values: BTreeMap<String, serde_json::Value>,
    field: &str,
    position: RowPosition,
    problems: &mut Vec<ImportProblem>,
) -> BTreeMap<String, String> {
    let mut strings = BTreeMap::new();
    for (name, value) in values {
        let text = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            _ => {
                problems.push(ImportProblem::at(
                    Some(position),
                    format!("{field}.{name}"),
                    "must be a string, number or boolean",
                ));
                continue;
            }
        };
        strings.insert(name, text);
    }
    strings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_carry_their_lines_and_options() {
        let content = "name,type,environment,description,host,port,database,user,password\n\
                       wh,postgresql,,warehouse,pg,5432,wh,etl,s3cret\n\
                       \n\
                       wh,postgresql,dev,,pg-dev,,wh_dev,etl,devpw\n";
        let rows = parse(content, ImportFormat::Csv).expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].position, RowPosition::Line(2));
        assert_eq!(rows[0].options["password"], "s3cret");
        assert_eq!(rows[0].options["port"], "5432");
        assert_eq!(rows[1].position, RowPosition::Line(4));
        assert_eq!(rows[1].environment, "dev");
        assert!(
            !rows[1].options.contains_key("port"),
            "empty cells are unset"
        );
        assert!(!format!("{:?}", rows[0]).contains("s3cret"));
    }

    #[test]
    fn csv_problems_name_line_and_field_without_quoting_cells() {
        let content = "name,type,host,password\n\
                       a,sqlite,,\n\
                       ,mysql,h,topsecret\n\
                       c,postgresql,h\n";
        let problems = parse(content, ImportFormat::Csv).expect_err("problems");
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(&"line 4: has 3 cells where the header has 4".to_string()),
            "{text:?}"
        );
        assert!(
            text.contains(&"line 3: name: is required".to_string()),
            "{text:?}"
        );
        assert!(!text.join("\n").contains("topsecret"));
        let missing = parse("name,host\nx,h\n", ImportFormat::Csv).expect_err("no type");
        assert_eq!(
            missing[0].to_string(),
            "line 1: type: column is missing: the header needs name and type, then environment, description and options (host, port, ...)"
        );
    }

    #[test]
    fn yaml_items_are_numbered_from_one() {
        let content = "- name: a\n  type: sqlite\n  options: {path: /tmp/a.db}\n\
                       - name: b\n  type: mysql\n  options: {host: h, port: 3306}\n  secrets: {password: pw}\n\
                       - name: c\n  typ: sqlite\n";
        let problems = parse(content, ImportFormat::Yaml).expect_err("item 3 is bad");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].position, Some(RowPosition::Item(3)));
        assert!(
            problems[0].message.starts_with("unknown field `typ`"),
            "{}",
            problems[0]
        );
        let rows = parse(
            "- {name: b, type: mysql, options: {port: 3306}, secrets: {password: pw}}\n",
            ImportFormat::Yaml,
        )
        .expect("parses");
        assert_eq!(rows[0].options["port"], "3306");
        assert_eq!(rows[0].secrets["password"], "pw");
        assert_eq!(rows[0].position, RowPosition::Item(1));
    }

    #[test]
    fn the_format_is_guessed_and_empty_documents_are_refused() {
        assert_eq!(ImportFormat::guess("# x\n- name: a\n"), ImportFormat::Yaml);
        assert_eq!(ImportFormat::guess("name,type\n"), ImportFormat::Csv);
        let empty = parse("name,type\n", ImportFormat::Csv).expect_err("empty");
        assert_eq!(empty[0].to_string(), "holds no data source");
    }
}
