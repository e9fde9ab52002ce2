//! `dx_null_to_default`: NULL becomes a default value, converted once to the column's type.

use super::StepOutput;
use crate::error::{ConnectorError, Result};
use arrow_array::{Array, ArrayRef, BooleanArray, Scalar, StringArray};
use arrow_cast::{cast_with_options, CastOptions};
use arrow_schema::DataType;

/// A bound `dx_null_to_default`.
#[derive(Debug)]
pub struct NullToDefault {
    /// The default as a one-value array of the column's type.
    default: ArrayRef,
}

impl NullToDefault {
    /// Converts `value` to `data_type`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] at `{path}.params[0]` when the value does not convert.
    pub fn new(path: &str, value: &str, data_type: &DataType) -> Result<Self> {
        let text: ArrayRef = std::sync::Arc::new(StringArray::from(vec![value]));
        let options = CastOptions {
            safe: false,
            ..CastOptions::default()
        };
        let default = cast_with_options(&text, data_type, &options).map_err(|error| {
            ConnectorError::config(
                format!("{path}.params[0]"),
                format!("\"{value}\" cannot be a value of the column's type {data_type}: {error}"),
            )
        })?;
        Ok(NullToDefault { default })
    }

    /// Returns the column with its NULLs replaced.
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] when Arrow's `zip` fails (a bug).
    pub fn apply(&self, column: &ArrayRef) -> Result<StepOutput> {
        let Some(nulls) = column.logical_nulls() else {
            return Ok(StepOutput::default());
        };
        let is_null = BooleanArray::new(!nulls.inner(), None);
        let replaced = arrow_select::zip::zip(&is_null, &Scalar::new(&self.default), column)
            .map_err(|source| ConnectorError::Arrow {
                context: "replace NULL by the default".into(),
                source,
            })?;
        Ok(StepOutput {
            column: Some(replaced),
            dropped: None,
            failures: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    use arrow_array::Int32Array;
    use std::sync::Arc;

    #[test]
    fn nulls_take_the_default_in_the_column_type() {
        let column: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]));
        let step = NullToDefault::new("transformers[0]", "-1", &DataType::Int32).expect("binds");
        let output = step.apply(&column).expect("applies");
        let values = output.column.expect("replaced");
        assert_eq!(values.null_count(), 0);
        assert_eq!(values.as_primitive::<Int32Type>().values(), &[1, -1, 3]);
    }

    #[test]
    fn a_default_of_the_wrong_type_is_refused() {
        let error = NullToDefault::new("transformers[2]", "abc", &DataType::Int32)
            .expect_err("not an int")
            .to_string();
        assert!(
            error.starts_with(
                "transformers[2].params[0]: \"abc\" cannot be a value of the column's type Int32"
            ),
            "{error}"
        );
    }
}
