//! Renders Arrow rows as MySQL value tuples (`(1,'a',X'00',NULL)`) for multi-row `INSERT`s.
//!
//! Values are written as escaped literals rather than bound parameters: one round trip per
//! statement, no prepared-statement cache keyed by row count, and no 65,535-placeholder limit.
//! Sessions run with `NO_BACKSLASH_ESCAPES` and utf8mb4, so a string literal only needs its
//! quotes doubled; bytes are written as hex (`X'..'`); floats in exponent notation with the
//! shortest digits that read back to the same double; decimals, dates, times and timestamps as
//! quoted text (timestamps in UTC, the session's zone).
//!
//! A value MySQL cannot hold (NaN or infinity, an interval, a list) makes its row dirty.

use crate::channel::DirtySample;
use crate::postgres::copy_encode::{describe_row, scalar_at, Scalar};
use arrow_array::RecordBatch;
use arrow_buffer::i256;
use chrono::DateTime;
use std::fmt::Write;

/// Rows of a batch rendered back to back, with where each row ends.
#[derive(Debug, Default)]
pub struct RenderedRows {
    text: String,
    row_ends: Vec<usize>,
    /// For each rendered row, its index in the batch.
    pub row_indexes: Vec<usize>,
}

impl RenderedRows {
    /// Returns how many rows were rendered.
    pub fn len(&self) -> usize {
        self.row_ends.len()
    }

    /// Returns whether no row was rendered.
    pub fn is_empty(&self) -> bool {
        self.row_ends.is_empty()
    }

    /// Returns the tuple of rendered row `index`.
    pub fn row(&self, index: usize) -> &str {
        let start = if index == 0 {
            0
        } else {
            self.row_ends[index - 1]
        };
        &self.text[start..self.row_ends[index]]
    }

    /// Returns the bytes rendered for rows `[first, end)`.
    pub fn size(&self, first: usize, end: usize) -> usize {
        if first >= end {
            return 0;
        }
        let start = if first == 0 {
            0
        } else {
            self.row_ends[first - 1]
        };
        self.row_ends[end - 1] - start
    }
}

/// Writes `unscaled × 10^-scale` as a decimal literal.
pub fn write_decimal(out: &mut String, unscaled: i256, scale: i8) {
    let digits = unscaled.wrapping_abs().to_string();
    if unscaled < i256::ZERO {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', usize::from(scale.unsigned_abs())));
        return;
    }
    let scale = usize::from(scale.unsigned_abs());
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    } else {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    }
}

fn write_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push_str("X'");
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0F)]));
    }
    out.push('\'');
}

fn write_time_of_day(out: &mut String, micros: i64) -> Result<(), String> {
    if !(0..86_400_000_000).contains(&micros) {
        return Err(format!(
            "time {micros} µs after midnight is outside one day"
        ));
    }
    let seconds = micros / 1_000_000;
    let _ = write!(
        out,
        "'{:02}:{:02}:{:02}.{:06}'",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        micros % 1_000_000
    );
    Ok(())
}

/// Appends the SQL literal of `scalar`.
///
/// # Errors
/// A description when MySQL has no literal for the value.
pub fn write_literal(out: &mut String, scalar: &Scalar<'_>) -> Result<(), String> {
    match scalar {
        Scalar::Null => out.push_str("NULL"),
        Scalar::Bool(value) => out.push(if *value { '1' } else { '0' }),
        Scalar::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Scalar::UInt(value) => {
            let _ = write!(out, "{value}");
        }
        Scalar::Float(value) if value.is_finite() => {
            let _ = write!(out, "{value:e}");
        }
        Scalar::Float(value) => {
            return Err(format!(
                "{value} has no MySQL value (floats must be finite)"
            ))
        }
        Scalar::Str(text) => {
            out.push('\'');
            for character in text.chars() {
                if character == '\'' {
                    out.push('\'');
                }
                out.push(character);
            }
            out.push('\'');
        }
        Scalar::Bytes(bytes) => write_hex(out, bytes),
        Scalar::Decimal(unscaled, scale) => {
            out.push('\'');
            write_decimal(out, *unscaled, *scale);
            out.push('\'');
        }
        Scalar::Date(days) => {
            let date = DateTime::from_timestamp(i64::from(*days) * 86_400, 0)
                .ok_or_else(|| format!("date {days} days after 1970-01-01 is out of range"))?;
            let _ = write!(out, "'{}'", date.format("%Y-%m-%d"));
        }
        Scalar::Time(micros) => write_time_of_day(out, *micros)?,
        Scalar::Timestamp(micros) => {
            let moment = DateTime::from_timestamp_micros(*micros)
                .ok_or_else(|| format!("timestamp {micros} µs after 1970-01-01 is out of range"))?;
            let _ = write!(out, "'{}'", moment.format("%Y-%m-%d %H:%M:%S%.6f"));
        }
        Scalar::Interval(..) => return Err("intervals have no MySQL type".into()),
        Scalar::List(_) => return Err("lists have no MySQL type".into()),
    }
    Ok(())
}

/// Renders every row of `batch` as a tuple; rows with a value MySQL cannot hold are left out
/// and pushed to `dirty` (described with the target column names `names`).
pub fn render_batch(
    batch: &RecordBatch,
    names: &[String],
    dirty: &mut Vec<DirtySample>,
) -> RenderedRows {
    let mut rendered = RenderedRows {
        text: String::with_capacity(batch.get_array_memory_size() + batch.num_rows() * 8),
        row_ends: Vec::with_capacity(batch.num_rows()),
        row_indexes: Vec::with_capacity(batch.num_rows()),
    };
    for row in 0..batch.num_rows() {
        let row_start = rendered.text.len();
        rendered.text.push('(');
        let mut failure = None;
        for (index, column) in batch.columns().iter().enumerate() {
            if index > 0 {
                rendered.text.push(',');
            }
            let result = scalar_at(column.as_ref(), row)
                .and_then(|scalar| write_literal(&mut rendered.text, &scalar));
            if let Err(reason) = result {
                failure = Some((index, reason));
                break;
            }
        }
        match failure {
            None => {
                rendered.text.push(')');
                rendered.row_ends.push(rendered.text.len());
                rendered.row_indexes.push(row);
            }
            Some((index, reason)) => {
                rendered.text.truncate(row_start);
                dirty.push(DirtySample {
                    column: names
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| batch.schema().field(index).name().clone()),
                    reason,
                    row: describe_row(batch, names, row),
                });
            }
        }
    }
    rendered
}

/// Appends `bytes` escaped for `LOAD DATA ... FIELDS ESCAPED BY '\\'` with tab-separated
/// fields and newline-terminated lines.
fn write_tsv_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    for byte in bytes {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            other => out.push(*other),
        }
    }
}

/// Appends one field of `LOAD DATA` input (`\N` for NULL).
///
/// # Errors
/// A description when MySQL has no value for it.
pub fn write_tsv_field(
    out: &mut Vec<u8>,
    scalar: &Scalar<'_>,
    scratch: &mut String,
) -> Result<(), String> {
    match scalar {
        Scalar::Null => out.extend_from_slice(b"\\N"),
        Scalar::Str(text) => write_tsv_bytes(out, text.as_bytes()),
        Scalar::Bytes(bytes) => write_tsv_bytes(out, bytes),
        other => {
            scratch.clear();
            write_literal(scratch, other)?;
            // Literals of numbers are bare; dates, times, timestamps and decimals are quoted.
            out.extend_from_slice(scratch.trim_matches('\'').as_bytes());
        }
    }
    Ok(())
}

/// Renders every row of `batch` as `LOAD DATA` input (tab-separated, `\N` for NULL, escaped
/// with backslashes, sent as `CHARACTER SET binary`); rows with a value MySQL cannot hold are
/// left out and pushed to `dirty`. Returns the bytes and how many rows they hold.
pub fn render_tsv(
    batch: &RecordBatch,
    names: &[String],
    dirty: &mut Vec<DirtySample>,
) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + batch.num_rows() * 8);
    let mut scratch = String::new();
    let mut rows = 0;
    for row in 0..batch.num_rows() {
        let row_start = out.len();
        let mut failure = None;
        for (index, column) in batch.columns().iter().enumerate() {
            if index > 0 {
                out.push(b'\t');
            }
            let result = scalar_at(column.as_ref(), row)
                .and_then(|scalar| write_tsv_field(&mut out, &scalar, &mut scratch));
            if let Err(reason) = result {
                failure = Some((index, reason));
                break;
            }
        }
        match failure {
            None => {
                out.push(b'\n');
                rows += 1;
            }
            Some((index, reason)) => {
                out.truncate(row_start);
                dirty.push(DirtySample {
                    column: names
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| batch.schema().field(index).name().clone()),
                    reason,
                    row: describe_row(batch, names, row),
                });
            }
        }
    }
    (out, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, BinaryArray, Float64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn tsv_fields_escape_and_mark_nulls() {
        let batch = RecordBatch::try_from_iter([
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a\tb\\c\n"), None])) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![0.5, 2.0])) as ArrayRef,
            ),
        ])
        .expect("batch");
        let mut dirty = Vec::new();
        let (bytes, rows) = render_tsv(&batch, &["s".into(), "f".into()], &mut dirty);
        assert_eq!(rows, 2);
        assert_eq!(
            String::from_utf8(bytes).expect("utf8"),
            "a\\tb\\\\c\\n\t5e-1\n\\N\t2e0\n"
        );
    }

    #[test]
    fn decimals_render_at_scale() {
        let render = |unscaled: i128, scale: i8| {
            let mut out = String::new();
            write_decimal(&mut out, i256::from_i128(unscaled), scale);
            out
        };
        assert_eq!(render(-1234, 2), "-12.34");
        assert_eq!(render(5, 3), "0.005");
        assert_eq!(render(7, 0), "7");
        assert_eq!(render(7, -2), "700");
    }

    #[test]
    fn rows_render_and_bad_values_are_dirty() {
        let batch = RecordBatch::try_from_iter([
            (
                "s",
                Arc::new(StringArray::from(vec![Some("it's"), None])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(BinaryArray::from(vec![
                    Some(&[0u8, 255][..]),
                    Some(&[][..]),
                ])) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![0.1, f64::NAN])) as ArrayRef,
            ),
        ])
        .expect("batch");
        let mut dirty = Vec::new();
        let rendered = render_batch(&batch, &["s".into(), "b".into(), "f".into()], &mut dirty);
        assert_eq!(rendered.len(), 1);
        assert_eq!(rendered.row(0), "('it''s',X'00FF',1e-1)");
        assert_eq!(dirty.len(), 1);
        assert_eq!(dirty[0].column, "f");
    }
}
