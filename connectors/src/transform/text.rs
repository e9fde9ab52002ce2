//! A column's values as text, the way DataX's `Column.asString()` renders them: strings as they
//! are, numbers in decimal, booleans as `true`/`false`, dates as `yyyy-MM-dd`, date-times as
//! `yyyy-MM-dd HH:mm:ss`, bytes decoded as UTF-8.

use crate::error::{ConnectorError, Result};
use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use std::fmt::Write;

/// How values other than strings are rendered.
const FORMAT: FormatOptions<'static> = FormatOptions::new()
    .with_date_format(Some("%Y-%m-%d"))
    .with_datetime_format(Some("%Y-%m-%d %H:%M:%S%.f"))
    .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
    .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"))
    .with_time_format(Some("%H:%M:%S%.f"));

/// Returns the values of `column` as a UTF-8 array with the same nulls.
///
/// # Errors
/// [`ConnectorError::Arrow`] when Arrow cannot render the column's type.
pub fn text_values(column: &ArrayRef) -> Result<StringArray> {
    match column.data_type() {
        DataType::Utf8 => Ok(column.as_string::<i32>().clone()),
        DataType::LargeUtf8 | DataType::Utf8View => {
            let cast = arrow_cast::cast(column, &DataType::Utf8).map_err(|source| {
                ConnectorError::Arrow {
                    context: "read a text column".into(),
                    source,
                }
            })?;
            Ok(cast.as_string::<i32>().clone())
        }
        DataType::Binary => Ok(binary_as_text(column.as_binary::<i32>().iter())),
        DataType::LargeBinary => Ok(binary_as_text(column.as_binary::<i64>().iter())),
        DataType::BinaryView => Ok(binary_as_text(column.as_binary_view().iter())),
        DataType::FixedSizeBinary(_) => Ok(binary_as_text(column.as_fixed_size_binary().iter())),
        _ => {
            let formatter =
                ArrayFormatter::try_new(column.as_ref(), &FORMAT).map_err(|source| {
                    ConnectorError::Arrow {
                        context: format!("render {} values as text", column.data_type()),
                        source,
                    }
                })?;
            let mut builder = StringBuilder::with_capacity(column.len(), column.len() * 8);
            for row in 0..column.len() {
                if column.is_null(row) {
                    builder.append_null();
                } else {
                    // Writing into the builder's buffer cannot fail; a value Arrow cannot
                    // render shows its error text, as the formatter's Display does.
                    let _ = write!(builder, "{}", formatter.value(row));
                    builder.append_value("");
                }
            }
            Ok(builder.finish())
        }
    }
}

fn binary_as_text<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> StringArray {
    values
        .map(|value| value.map(String::from_utf8_lossy))
        .collect()
}

/// Renders row `row` of `batch` as a JSON object of text values (NULL as `null`), for dirty
/// record samples.
pub fn describe_row(batch: &RecordBatch, row: usize) -> String {
    let mut object = serde_json::Map::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let value = if column.is_null(row) {
            serde_json::Value::Null
        } else {
            let single = column.slice(row, 1);
            match text_values(&single) {
                Ok(text) => serde_json::Value::String(text.value(0).to_string()),
                Err(_) => serde_json::Value::String(format!("<{}>", column.data_type())),
            }
        };
        object.insert(field.name().clone(), value);
    }
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        BinaryArray, BooleanArray, Date32Array, Float64Array, Int32Array, TimestampMicrosecondArray,
    };
    use std::sync::Arc;

    fn texts(column: ArrayRef) -> Vec<Option<String>> {
        text_values(&column)
            .expect("renders")
            .iter()
            .map(|value| value.map(str::to_string))
            .collect()
    }

    #[test]
    fn values_render_as_datax_strings() {
        assert_eq!(
            texts(Arc::new(Int32Array::from(vec![Some(-7), None]))),
            vec![Some("-7".to_string()), None]
        );
        assert_eq!(
            texts(Arc::new(BooleanArray::from(vec![true, false]))),
            vec![Some("true".to_string()), Some("false".to_string())]
        );
        assert_eq!(
            texts(Arc::new(Date32Array::from(vec![0]))),
            vec![Some("1970-01-01".to_string())]
        );
        assert_eq!(
            texts(Arc::new(TimestampMicrosecondArray::from(vec![1_000_000]))),
            vec![Some("1970-01-01 00:00:01".to_string())]
        );
        assert_eq!(
            texts(Arc::new(Float64Array::from(vec![1.5]))),
            vec![Some("1.5".to_string())]
        );
        assert_eq!(
            texts(Arc::new(BinaryArray::from(vec![&b"xyz"[..]]))),
            vec![Some("xyz".to_string())]
        );
    }
}
