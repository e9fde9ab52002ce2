//! `dx_map`: exact decimal arithmetic between each value (read as a decimal number) and a
//! constant, as DataX's `MathUtil` on `BigDecimal`: `+`, `-`, `*` exact, `/` rounded half up to
//! 2 decimal places, `%` the remainder with the sign of the dividend. The result is text.
//! NULL stays NULL; a value that is not a number, or a result beyond 38 digits, fails the row.

use super::StepOutput;
use crate::error::{ConnectorError, Result};
use arrow_array::builder::StringBuilder;
use arrow_array::{Array, StringArray};
use sluice_common::spec::MapOp;
use std::sync::Arc;

/// Decimal places of a quotient (DataX's `MathUtil.divide` default scale).
const DIVIDE_SCALE: u32 = 2;

/// A decimal number `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]`, surrounding whitespace allowed.
    fn parse(text: &str) -> Option<Decimal> {
        let trimmed = text.trim();
        let (number, exponent) = match trimmed.find(['e', 'E']) {
            Some(at) => (&trimmed[..at], trimmed[at + 1..].parse::<i32>().ok()?),
            None => (trimmed, 0),
        };
        let (negative, unsigned) = match number.as_bytes().first() {
            Some(b'-') => (true, &number[1..]),
            Some(b'+') => (false, &number[1..]),
            _ => (false, number),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut mantissa: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            if !digit.is_ascii_digit() {
                return None;
            }
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(digit - b'0'))?;
        }
        let mut scale = i64::try_from(fraction.len()).ok()? - i64::from(exponent);
        if scale < 0 {
            mantissa = mantissa.checked_mul(10i128.checked_pow(u32::try_from(-scale).ok()?)?)?;
            scale = 0;
        }
        Some(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: u32::try_from(scale).ok()?,
        })
    }

    /// Returns the mantissa at a larger scale.
    fn rescaled(self, scale: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(10i128.checked_pow(scale.checked_sub(self.scale)?)?)
    }

    fn apply(self, op: MapOp, other: Decimal) -> Option<Decimal> {
        let common = self.scale.max(other.scale);
        match op {
            MapOp::Add => Some(Decimal {
                mantissa: self
                    .rescaled(common)?
                    .checked_add(other.rescaled(common)?)?,
                scale: common,
            }),
            MapOp::Subtract => Some(Decimal {
                mantissa: self
                    .rescaled(common)?
                    .checked_sub(other.rescaled(common)?)?,
                scale: common,
            }),
            MapOp::Multiply => Some(Decimal {
                mantissa: self.mantissa.checked_mul(other.mantissa)?,
                scale: self.scale.checked_add(other.scale)?,
            }),
            MapOp::Remainder => {
                let divisor = other.rescaled(common)?;
                if divisor == 0 {
                    return None;
                }
                Some(Decimal {
                    mantissa: self.rescaled(common)?.checked_rem(divisor)?,
                    scale: common,
                })
            }
            MapOp::Divide => {
                // a / b at DIVIDE_SCALE = round(ma * 10^(sb + 2) / (mb * 10^sa)).
                let numerator = self
                    .mantissa
                    .checked_mul(10i128.checked_pow(other.scale.checked_add(DIVIDE_SCALE)?)?)?;
                let denominator = other
                    .mantissa
                    .checked_mul(10i128.checked_pow(self.scale)?)?;
                if denominator == 0 {
                    return None;
                }
                let mut quotient = numerator / denominator;
                let remainder = numerator % denominator;
                if remainder.unsigned_abs().checked_mul(2)? >= denominator.unsigned_abs() {
                    let away = if (numerator < 0) == (denominator < 0) {
                        1
                    } else {
                        -1
                    };
                    quotient = quotient.checked_add(away)?;
                }
                Some(Decimal {
                    mantissa: quotient,
                    scale: DIVIDE_SCALE,
                })
            }
        }
    }

    /// Renders as Java's `BigDecimal.toString()` does for a non-negative scale: plain, or
    /// scientific when the adjusted exponent is below -6.
    fn to_text(self) -> String {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        let adjusted = digits.len() as i64 - 1 - scale as i64;
        if adjusted < -6 {
            let (first, rest) = digits.split_at(1);
            let point = if rest.is_empty() { "" } else { "." };
            return format!("{sign}{first}{point}{rest}E{adjusted}");
        }
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            format!("{sign}{whole}.{fraction}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

/// A bound `dx_map`.
#[derive(Debug)]
pub struct Map {
    op: MapOp,
    operand: Decimal,
}

impl Map {
    /// Parses the operand.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when the operand is not a decimal number (validation checks
    /// it first).
    pub fn new(op: MapOp, operand: &str) -> Result<Self> {
        let operand = Decimal::parse(operand).ok_or_else(|| {
            ConnectorError::config(
                "transformers.params",
                format!("\"{operand}\" is not a decimal number"),
            )
        })?;
        Ok(Map { op, operand })
    }

    /// Computes every value.
    pub fn apply(&self, values: &StringArray) -> StepOutput {
        let mut builder = StringBuilder::with_capacity(values.len(), values.len() * 8);
        let mut failures = Vec::new();
        for (row, value) in values.iter().enumerate() {
            let Some(text) = value else {
                builder.append_null();
                continue;
            };
            let Some(number) = Decimal::parse(text) else {
                failures.push((row, format!("\"{text}\" is not a number")));
                builder.append_null();
                continue;
            };
            match number.apply(self.op, self.operand) {
                Some(result) => builder.append_value(result.to_text()),
                None => {
                    failures.push((row, "the result does not fit 38 digits".to_string()));
                    builder.append_null();
                }
            }
        }
        StepOutput {
            column: Some(Arc::new(builder.finish())),
            dropped: None,
            failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;

    fn compute(op: MapOp, value: &str, operand: &str) -> Option<String> {
        let map = Map::new(op, operand).expect("operand");
        let output = map.apply(&StringArray::from(vec![value]));
        if !output.failures.is_empty() {
            return None;
        }
        output
            .column
            .expect("a column")
            .as_string::<i32>()
            .iter()
            .next()
            .flatten()
            .map(str::to_string)
    }

    #[test]
    fn arithmetic_is_exact_decimal() {
        assert_eq!(compute(MapOp::Add, "0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(
            compute(MapOp::Subtract, "5", "7.25").as_deref(),
            Some("-2.25")
        );
        assert_eq!(
            compute(MapOp::Multiply, "1.5", "1.5").as_deref(),
            Some("2.25")
        );
        assert_eq!(compute(MapOp::Multiply, "10", "3").as_deref(), Some("30"));
        assert_eq!(compute(MapOp::Add, " 1e3 ", "1").as_deref(), Some("1001"));
    }

    #[test]
    fn division_rounds_half_up_to_two_places() {
        assert_eq!(compute(MapOp::Divide, "10", "3").as_deref(), Some("3.33"));
        assert_eq!(compute(MapOp::Divide, "2", "3").as_deref(), Some("0.67"));
        assert_eq!(compute(MapOp::Divide, "-2", "3").as_deref(), Some("-0.67"));
        assert_eq!(compute(MapOp::Divide, "1", "8").as_deref(), Some("0.13"));
        assert_eq!(compute(MapOp::Divide, "6", "2").as_deref(), Some("3.00"));
        assert_eq!(
            compute(MapOp::Divide, "0.001", "1").as_deref(),
            Some("0.00")
        );
    }

    #[test]
    fn remainder_keeps_the_dividend_sign() {
        assert_eq!(compute(MapOp::Remainder, "7", "3").as_deref(), Some("1"));
        assert_eq!(compute(MapOp::Remainder, "-7", "3").as_deref(), Some("-1"));
        assert_eq!(
            compute(MapOp::Remainder, "7.5", "2").as_deref(),
            Some("1.5")
        );
    }

    #[test]
    fn bad_values_fail_and_null_stays_null() {
        assert_eq!(compute(MapOp::Add, "abc", "1"), None);
        assert_eq!(compute(MapOp::Add, "", "1"), None);
        let map = Map::new(MapOp::Add, "1").expect("operand");
        let output = map.apply(&StringArray::from(vec![None::<&str>]));
        assert!(output.failures.is_empty());
        assert!(output.column.expect("a column").is_null(0));
        let huge = "9".repeat(38);
        assert_eq!(compute(MapOp::Multiply, &huge, "10"), None);
    }

    #[test]
    fn small_results_print_as_java_does() {
        assert_eq!(
            compute(MapOp::Multiply, "0.0001", "0.001").as_deref(),
            Some("1E-7")
        );
        assert_eq!(
            compute(MapOp::Multiply, "0.001", "0.001").as_deref(),
            Some("0.000001")
        );
    }
}
