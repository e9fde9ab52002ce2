//! The tables of docs/type-matrix.md, drawn from the model the cell tests check, so the doc
//! says exactly what the tests prove.

use super::model::symbol;
use super::rows::{Store, TypeRow};

/// Returns the markdown table of `row`: one line per source store, one column per sink.
pub fn table(row: &TypeRow) -> String {
    let mut lines = vec![
        format!(
            "| from \\ to | {} |",
            Store::ALL.map(Store::name).join(" | ")
        ),
        format!("| --- | {} |", ["---"; 5].join(" | ")),
    ];
    for from in Store::ALL {
        let cells: Vec<String> = Store::ALL.iter().map(|to| symbol(row, from, *to)).collect();
        lines.push(format!("| {} | {} |", from.name(), cells.join(" | ")));
    }
    lines.join("\n")
}

/// Returns the section start (heading and table) the doc must hold for `row`.
pub fn section(row: &TypeRow) -> String {
    format!("### {}\n\n{}\n", row.title, table(row))
}
