//! `dx_filter`: drops the rows for which `column op value` holds, with DataX's rules.
//!
//! - `like` / `not like`: the value as text must match the regular expression as a whole.
//!   NULL never matches: `like` keeps it, `not like` drops it.
//! - `>`, `>=`, `<`, `<=`: NULL is kept. Floating-point and decimal columns compare as
//!   doubles, integer, date and timestamp columns as integers (dates and timestamps in
//!   milliseconds since the epoch, as DataX's `DateColumn.asLong()`), every other type
//!   (times of day included) as text.
//! - `=`: NULL is dropped only when the value is `null` (any case). `!=`: NULL is kept only
//!   when the value is `null`.
//! - A value that is not a number for a numeric column fails every non-NULL row (DataX throws
//!   per record).

use super::text::text_values;
use super::StepOutput;
use crate::error::{ConnectorError, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray};
use arrow_schema::{DataType, TimeUnit};
use regex::Regex;
use sluice_common::spec::FilterOp;
use std::cmp::Ordering;

/// How values of the column compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Double,
    Long,
    Text,
}

/// A bound `dx_filter`.
#[derive(Debug)]
pub struct Filter {
    op: FilterOp,
    value: String,
    class: Class,
    /// The anchored expression of `like` / `not like`.
    pattern: Option<Regex>,
}

impl Filter {
    /// Binds the filter to a column of type `data_type`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when the regular expression does not compile (validation
    /// checks it first, so only a version mismatch gets here).
    pub fn new(op: FilterOp, value: String, data_type: &DataType) -> Result<Self> {
        let pattern = match op {
            FilterOp::Like | FilterOp::NotLike => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|error| {
                    ConnectorError::config(
                        "transformers.params",
                        format!("not a valid regular expression: {error}"),
                    )
                })?)
            }
            _ => None,
        };
        Ok(Filter {
            op,
            value,
            class: class_of(data_type),
            pattern,
        })
    }

    /// Returns which rows to drop and which failed.
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] when a column cannot be cast for comparison.
    pub fn apply(&self, column: &ArrayRef) -> Result<StepOutput> {
        if let Some(pattern) = &self.pattern {
            let texts = text_values(column)?;
            let like = self.op == FilterOp::Like;
            let dropped: BooleanArray = texts
                .iter()
                .map(|value| {
                    Some(match value {
                        Some(text) => pattern.is_match(text) == like,
                        None => !like,
                    })
                })
                .collect();
            return Ok(StepOutput {
                column: None,
                dropped: Some(dropped),
                failures: Vec::new(),
            });
        }
        let null_dropped = match self.op {
            FilterOp::Equal => self.value.eq_ignore_ascii_case("null"),
            FilterOp::NotEqual => !self.value.eq_ignore_ascii_case("null"),
            _ => false,
        };
        let mut failures = Vec::new();
        let dropped: BooleanArray = match self.class {
            Class::Double => {
                let cast_values = cast(column, &DataType::Float64)?;
                let values = cast_values.as_primitive::<Float64Type>();
                let target = self.value.trim().parse::<f64>();
                (0..values.len())
                    .map(|row| {
                        if values.is_null(row) {
                            return Some(null_dropped);
                        }
                        match &target {
                            Ok(target) => Some(self.holds(values.value(row).partial_cmp(target))),
                            Err(_) => {
                                failures.push((row, self.not_a_number("a floating-point")));
                                Some(false)
                            }
                        }
                    })
                    .collect()
            }
            Class::Long => {
                let long_values = as_long(column)?;
                let values = long_values.as_primitive::<Int64Type>();
                let target = self.value.parse::<i64>();
                (0..values.len())
                    .map(|row| {
                        if column.is_null(row) {
                            return Some(null_dropped);
                        }
                        if values.is_null(row) {
                            failures.push((row, "the value does not fit a 64-bit integer".into()));
                            return Some(false);
                        }
                        match &target {
                            Ok(target) => Some(self.holds(Some(values.value(row).cmp(target)))),
                            Err(_) => {
                                failures.push((row, self.not_a_number("an integer or date")));
                                Some(false)
                            }
                        }
                    })
                    .collect()
            }
            Class::Text => {
                let texts = text_values(column)?;
                texts
                    .iter()
                    .map(|value| {
                        Some(match value {
                            None => null_dropped,
                            Some(text) => self.holds(Some(text.cmp(self.value.as_str()))),
                        })
                    })
                    .collect()
            }
        };
        Ok(StepOutput {
            column: None,
            dropped: Some(dropped),
            failures,
        })
    }

    /// Whether the comparison holds for a non-NULL value that compares as `ordering` with the
    /// filter's value (`None`: unordered, a NaN).
    fn holds(&self, ordering: Option<Ordering>) -> bool {
        let Some(ordering) = ordering else {
            return self.op == FilterOp::NotEqual;
        };
        match self.op {
            FilterOp::Greater => ordering == Ordering::Greater,
            FilterOp::GreaterOrEqual => ordering != Ordering::Less,
            FilterOp::Less => ordering == Ordering::Less,
            FilterOp::LessOrEqual => ordering != Ordering::Greater,
            FilterOp::Equal => ordering == Ordering::Equal,
            FilterOp::NotEqual => ordering != Ordering::Equal,
            FilterOp::Like | FilterOp::NotLike => false,
        }
    }

    fn not_a_number(&self, kind: &str) -> String {
        format!(
            "the filter value \"{}\" is not a number, and the column is {kind} column",
            self.value
        )
    }
}

fn class_of(data_type: &DataType) -> Class {
    match data_type {
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => Class::Double,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _) => Class::Long,
        _ => Class::Text,
    }
}

fn cast(column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    arrow_cast::cast(column, to).map_err(|source| ConnectorError::Arrow {
        context: format!("compare {} values as {to}", column.data_type()),
        source,
    })
}

/// Integers as they are; dates and timestamps in milliseconds (a value too large for an
/// `i64` becomes NULL here and fails its row).
fn as_long(column: &ArrayRef) -> Result<ArrayRef> {
    let millis = match column.data_type() {
        DataType::Date32 => cast(column, &DataType::Date64)?,
        DataType::Timestamp(unit, _) if *unit != TimeUnit::Millisecond => {
            cast(column, &DataType::Timestamp(TimeUnit::Millisecond, None))?
        }
        _ => column.clone(),
    };
    cast(&millis, &DataType::Int64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Date32Array, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    fn dropped(op: FilterOp, value: &str, column: ArrayRef) -> (Vec<bool>, usize) {
        let filter = Filter::new(op, value.into(), column.data_type()).expect("binds");
        let output = filter.apply(&column).expect("applies");
        let dropped = output.dropped.expect("a filter drops");
        (
            (0..dropped.len()).map(|row| dropped.value(row)).collect(),
            output.failures.len(),
        )
    }

    fn words() -> ArrayRef {
        Arc::new(StringArray::from(vec![
            Some("dataTest"),
            Some("dataTest2"),
            None,
            Some("other"),
        ]))
    }

    #[test]
    fn like_is_a_whole_match_and_null_never_matches() {
        assert_eq!(
            dropped(FilterOp::Like, "dataTest", words()).0,
            vec![true, false, false, false]
        );
        assert_eq!(
            dropped(FilterOp::Like, "data.*", words()).0,
            vec![true, true, false, false]
        );
        assert_eq!(
            dropped(FilterOp::NotLike, "data.*", words()).0,
            vec![false, false, true, true]
        );
    }

    #[test]
    fn comparisons_on_integers_keep_null() {
        let numbers: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), Some(10), None, Some(11)]));
        assert_eq!(
            dropped(FilterOp::GreaterOrEqual, "10", numbers.clone()).0,
            vec![false, true, false, true]
        );
        assert_eq!(
            dropped(FilterOp::Greater, "10", numbers.clone()).0,
            vec![false, false, false, true]
        );
        assert_eq!(
            dropped(FilterOp::Less, "10", numbers.clone()).0,
            vec![true, false, false, false]
        );
        assert_eq!(
            dropped(FilterOp::LessOrEqual, "10", numbers.clone()).0,
            vec![true, true, false, false]
        );
        // "10.5" is not a Java long: every non-NULL row fails, NULL is kept.
        let (flags, failures) = dropped(FilterOp::Greater, "10.5", numbers);
        assert_eq!(flags, vec![false; 4]);
        assert_eq!(failures, 3);
    }

    #[test]
    fn equality_and_null() {
        let numbers: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), None]));
        assert_eq!(
            dropped(FilterOp::Equal, "5", numbers.clone()).0,
            vec![true, false]
        );
        assert_eq!(
            dropped(FilterOp::Equal, "NULL", words()).0,
            vec![false, false, true, false]
        );
        assert_eq!(
            dropped(FilterOp::NotEqual, "5", numbers.clone()).0,
            vec![false, true]
        );
        assert_eq!(
            dropped(FilterOp::NotEqual, "null", words()).0,
            vec![true, true, false, true]
        );
        // `= null` on a non-NULL integer: "null" is not a long, so the row fails.
        assert_eq!(dropped(FilterOp::Equal, "null", numbers).1, 1);
    }

    #[test]
    fn doubles_dates_and_text_compare_as_datax_does() {
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![1.5, 2.0]));
        assert_eq!(
            dropped(FilterOp::Greater, "1.75", doubles).0,
            vec![false, true]
        );
        // Dates compare as milliseconds since the epoch: 1970-01-02 is 86,400,000.
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![0, 1]));
        assert_eq!(
            dropped(FilterOp::GreaterOrEqual, "86400000", dates).0,
            vec![false, true]
        );
        // Text compares lexicographically: "b" > "abc".
        let texts: ArrayRef = Arc::new(StringArray::from(vec!["abc", "b", "ab"]));
        assert_eq!(
            dropped(FilterOp::Greater, "abc", texts).0,
            vec![false, true, false]
        );
        // Booleans compare as "true"/"false".
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        assert_eq!(dropped(FilterOp::Equal, "true", flags).0, vec![true, false]);
    }
}
