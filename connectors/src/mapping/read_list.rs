//! What a source reads for a job's mapping, and the names its sink columns take.

use sluice_common::spec::JobSpec;

/// A SQL expression of a mapping, selected under an alias the worker picks it up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceExpression {
    /// Column alias in the source's result ([`expression_alias`]).
    pub alias: String,
    /// The expression, in the source database's dialect.
    pub sql: String,
}

/// The columns and expressions a source selects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadList {
    /// Source columns, in order, each once; empty means every column.
    pub columns: Vec<String>,
    /// Expressions evaluated by the source database.
    pub expressions: Vec<SourceExpression>,
}

/// Returns the alias of the expression of mapping entry `index`.
pub fn expression_alias(index: usize) -> String {
    format!("_sluice_expr_{index}")
}

/// Returns what the job's source selects: the source columns its mapping uses (each once, in
/// order of first use) and its expressions; without a mapping, `source.columns`.
pub fn read_list(spec: &JobSpec) -> ReadList {
    let Some(mapping) = spec.mapping.as_ref().filter(|m| !m.columns.is_empty()) else {
        return ReadList {
            columns: spec.source.columns.clone(),
            expressions: Vec::new(),
        };
    };
    let mut list = ReadList::default();
    for (index, entry) in mapping.columns.iter().enumerate() {
        if let Some(column) = &entry.source {
            if !list.columns.contains(column) {
                list.columns.push(column.clone());
            }
        }
        if let Some(sql) = &entry.expr {
            list.expressions.push(SourceExpression {
                alias: expression_alias(index),
                sql: sql.clone(),
            });
        }
    }
    // Only expressions: `columns` stays empty, so the source selects every column besides
    // them (a select list without any column is not valid SQL everywhere).
    list
}

/// Returns the source's row filter: the user's `where` and, for an incremental job whose
/// lower bound is known, `column > bound` (strictly greater), ANDed.
pub fn source_filter(
    spec: &JobSpec,
    quote_identifier: fn(&str) -> String,
    quote_literal: fn(&str) -> String,
) -> Option<String> {
    let incremental = spec.source.incremental.as_ref().and_then(|incremental| {
        let bound = match incremental.after.as_ref()? {
            serde_json::Value::String(text) => quote_literal(text),
            serde_json::Value::Number(number) => number.to_string(),
            other => quote_literal(&other.to_string()),
        };
        Some(format!(
            "{} > {bound}",
            quote_identifier(&incremental.column)
        ))
    });
    match (&spec.source.where_clause, incremental) {
        (Some(filter), Some(condition)) => Some(format!("({filter}) AND {condition}")),
        (Some(filter), None) => Some(filter.clone()),
        (None, Some(condition)) => Some(condition),
        (None, None) => None,
    }
}

/// Returns the sink column names a job writes, as far as the spec says: the mapping's
/// targets, else `sink.columns`, else `source.columns` (empty: the source's names).
pub fn target_column_names(spec: &JobSpec) -> Vec<String> {
    if let Some(mapping) = spec.mapping.as_ref().filter(|m| !m.columns.is_empty()) {
        return mapping
            .columns
            .iter()
            .enumerate()
            .map(|(index, entry)| output_name(entry, index))
            .collect();
    }
    if !spec.sink.columns.is_empty() {
        return spec.sink.columns.clone();
    }
    spec.source.columns.clone()
}

/// Returns the name mapping entry `index` has in the batches the worker writes: its target,
/// else its source column, else `column_N` (1-based; `by: position` before planning).
pub(crate) fn output_name(entry: &sluice_common::spec::MappingEntry, index: usize) -> String {
    entry
        .target_name()
        .map_or_else(|| format!("column_{}", index + 1), str::to_string)
}

/// Returns the sink column an incremental job reads its lower bound from: the column its
/// `source.incremental.column` is written to.
pub fn incremental_target_column(spec: &JobSpec) -> Option<String> {
    let column = &spec.source.incremental.as_ref()?.column;
    if let Some(mapping) = spec.mapping.as_ref().filter(|m| !m.columns.is_empty()) {
        return mapping
            .columns
            .iter()
            .enumerate()
            .find(|(_, entry)| entry.source.as_deref() == Some(column.as_str()))
            .map(|(index, entry)| output_name(entry, index));
    }
    if let Some(position) = spec.source.columns.iter().position(|name| name == column) {
        if let Some(target) = spec.sink.columns.get(position) {
            return Some(target.clone());
        }
    }
    Some(column.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_common::spec::{parse_job_spec, SpecFormat};

    fn spec(text: &str) -> JobSpec {
        parse_job_spec(text, SpecFormat::Yaml).expect("parses")
    }

    #[test]
    fn read_list_has_each_source_once_and_the_expressions() {
        let job = spec("source: {datasource: s, table: t}\nsink: {datasource: d, table: u}\nmapping:\n  columns:\n    - {source: b, target: x}\n    - {expr: 'a + 1', target: y}\n    - {source: b, target: z, cast: utf8}\n    - {value: 1, target: w}\n");
        let list = read_list(&job);
        assert_eq!(list.columns, vec!["b"]);
        assert_eq!(
            list.expressions,
            vec![SourceExpression {
                alias: "_sluice_expr_1".into(),
                sql: "a + 1".into()
            }]
        );
        assert_eq!(target_column_names(&job), vec!["x", "y", "z", "w"]);
    }

    #[test]
    fn filter_adds_the_incremental_bound() {
        fn quote(text: &str) -> String {
            format!("\"{text}\"")
        }
        fn literal(text: &str) -> String {
            format!("'{}'", text.replace('\'', "''"))
        }
        let mut job = spec("source: {datasource: s, table: t, where: 'a < 3', incremental: {column: id}}\nsink: {datasource: d, table: u}\n");
        assert_eq!(source_filter(&job, quote, literal), Some("a < 3".into()));
        if let Some(incremental) = job.source.incremental.as_mut() {
            incremental.after = Some(serde_json::json!(42));
        }
        assert_eq!(
            source_filter(&job, quote, literal),
            Some("(a < 3) AND \"id\" > 42".into())
        );
        job.source.where_clause = None;
        if let Some(incremental) = job.source.incremental.as_mut() {
            incremental.after = Some(serde_json::json!("it's"));
        }
        assert_eq!(
            source_filter(&job, quote, literal),
            Some("\"id\" > 'it''s'".into())
        );
    }

    #[test]
    fn incremental_target_follows_the_mapping() {
        let job = spec("source: {datasource: s, table: t, incremental: {column: changed}}\nsink: {datasource: d, table: u}\nmapping: {columns: [{source: id}, {source: changed, target: modified}]}\n");
        assert_eq!(incremental_target_column(&job).as_deref(), Some("modified"));
        let job = spec("source: {datasource: s, table: t, columns: [id, changed], incremental: {column: changed}}\nsink: {datasource: d, table: u, columns: [k, m]}\n");
        assert_eq!(incremental_target_column(&job).as_deref(), Some("m"));
    }
}
