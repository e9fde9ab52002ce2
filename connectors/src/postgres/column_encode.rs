//! Per-column COPY encoders, prepared once per batch: each column is downcast once to its
//! concrete Arrow array, and the pairs of Arrow type and target column that PostgreSQL-to-
//! PostgreSQL copies produce (same-width integers and floats, decimals into `numeric`, strings
//! into text and json, dates, microsecond timestamps and times, intervals, uuids, bytes) write
//! their binary form straight from the array's buffers.
//!
//! Every other pair, and every value a fast path cannot write as is (out of range, a NUL in a
//! text, more fractional digits than the column's scale), goes through the general
//! [`scalar_at`] + [`encode_value`] path, so the bytes written and the error of a dirty row are
//! exactly those of the general path.

use super::copy_decode::{POSTGRES_EPOCH_DAYS, POSTGRES_EPOCH_MICROS};
use super::copy_encode::{encode_value, scalar_at, Scratch};
use super::numeric;
use super::types::{numeric_typmod_parts, PgType};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, IntervalMonthDayNanoType, Time64MicrosecondType, TimestampMicrosecondType,
};
use arrow_array::{Array, BooleanArray, FixedSizeBinaryArray, StringViewArray};
use arrow_buffer::{IntervalMonthDayNano, NullBuffer};
use arrow_schema::{DataType, IntervalUnit, TimeUnit};

/// Signed integer values of one column, whatever their width.
#[derive(Clone, Copy)]
enum Ints<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
}

impl Ints<'_> {
    #[inline(always)]
    fn get(self, row: usize) -> i64 {
        match self {
            Ints::I8(values) => i64::from(values[row]),
            Ints::I16(values) => i64::from(values[row]),
            Ints::I32(values) => i64::from(values[row]),
            Ints::I64(values) => values[row],
        }
    }

    fn of(array: &dyn Array) -> Option<Ints<'_>> {
        Some(match array.data_type() {
            DataType::Int8 => Ints::I8(array.as_primitive::<Int8Type>().values()),
            DataType::Int16 => Ints::I16(array.as_primitive::<Int16Type>().values()),
            DataType::Int32 => Ints::I32(array.as_primitive::<Int32Type>().values()),
            DataType::Int64 => Ints::I64(array.as_primitive::<Int64Type>().values()),
            _ => return None,
        })
    }
}

/// Variable-length values (strings or bytes) of one column.
#[derive(Clone, Copy)]
enum Varlen<'a> {
    Small(&'a [i32], &'a [u8]),
    Large(&'a [i64], &'a [u8]),
    View(&'a StringViewArray),
}

impl<'a> Varlen<'a> {
    #[inline(always)]
    fn get(self, row: usize) -> &'a [u8] {
        match self {
            Varlen::Small(offsets, data) => &data[offsets[row] as usize..offsets[row + 1] as usize],
            Varlen::Large(offsets, data) => &data[offsets[row] as usize..offsets[row + 1] as usize],
            Varlen::View(array) => array.value(row).as_bytes(),
        }
    }

    /// The values of a string array.
    fn text(array: &'a dyn Array) -> Option<Self> {
        Some(match array.data_type() {
            DataType::Utf8 => {
                let strings = array.as_string::<i32>();
                Varlen::Small(strings.value_offsets(), strings.value_data())
            }
            DataType::LargeUtf8 => {
                let strings = array.as_string::<i64>();
                Varlen::Large(strings.value_offsets(), strings.value_data())
            }
            DataType::Utf8View => Varlen::View(array.as_string_view()),
            _ => return None,
        })
    }

    /// The values of a binary or string array (not views).
    fn bytes(array: &'a dyn Array) -> Option<Self> {
        Some(match array.data_type() {
            DataType::Binary => {
                let bytes = array.as_binary::<i32>();
                Varlen::Small(bytes.value_offsets(), bytes.value_data())
            }
            DataType::LargeBinary => {
                let bytes = array.as_binary::<i64>();
                Varlen::Large(bytes.value_offsets(), bytes.value_data())
            }
            DataType::Utf8 | DataType::LargeUtf8 => return Self::text(array),
            _ => return None,
        })
    }

    /// Returns whether no value of rows `0..len` may hold a NUL byte (scans the values once).
    fn free_of_nul(self, len: usize) -> bool {
        let span = match self {
            Varlen::Small(offsets, data) => offsets
                .first()
                .zip(offsets.get(len))
                .and_then(|(start, end)| data.get(*start as usize..*end as usize)),
            Varlen::Large(offsets, data) => offsets
                .first()
                .zip(offsets.get(len))
                .and_then(|(start, end)| data.get(*start as usize..*end as usize)),
            Varlen::View(_) => None,
        };
        span.is_some_and(|bytes| !bytes.contains(&0))
    }
}

/// How the values of one column are written.
enum Plan<'a> {
    /// `boolean` from Boolean.
    Bool(&'a BooleanArray),
    /// `smallint` from signed integers (range-checked).
    Int2(Ints<'a>),
    /// `integer` from signed integers (range-checked).
    Int4(Ints<'a>),
    /// `bigint` from signed integers.
    Int8(Ints<'a>),
    /// `real` from Float32.
    Float4(&'a [f32]),
    /// `double precision` from Float64 or Float32.
    Float8(Floats<'a>),
    /// `numeric` from Decimal128 with a scale of 0 to 38, or from integers (scale 0).
    Numeric {
        values: Decimals<'a>,
        scale: u8,
        /// The column's scale when values may have more fractional digits than it allows.
        limit: Option<i16>,
    },
    /// Text, `json` and `jsonb` (`version` is the jsonb format byte) from strings.
    Text {
        values: Varlen<'a>,
        jsonb: bool,
        /// Whether the batch's values are known to hold no NUL byte.
        nul_free: bool,
    },
    /// `bytea` from Binary or strings.
    Bytea(Varlen<'a>),
    /// `date` from Date32.
    Date(&'a [i32]),
    /// `time` from Time64(µs).
    Time(&'a [i64]),
    /// `timestamp` / `timestamptz` from Timestamp(µs).
    Timestamp(&'a [i64]),
    /// `interval` from Interval(MonthDayNano).
    Interval(&'a [IntervalMonthDayNano]),
    /// `uuid` from FixedSizeBinary(16).
    Uuid(&'a FixedSizeBinaryArray),
    /// Anything else: one [`scalar_at`] + [`encode_value`] per value.
    General,
}

#[derive(Clone, Copy)]
enum Floats<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

#[derive(Clone, Copy)]
enum Decimals<'a> {
    D128(&'a [i128]),
    Ints(Ints<'a>),
}

impl Decimals<'_> {
    #[inline(always)]
    fn get(self, row: usize) -> i128 {
        match self {
            Decimals::D128(values) => values[row],
            Decimals::Ints(ints) => i128::from(ints.get(row)),
        }
    }
}

/// Writes the values of one column of a batch in the binary format of its target column.
pub struct ColumnEncoder<'a> {
    array: &'a dyn Array,
    nulls: Option<&'a NullBuffer>,
    target: &'a PgType,
    plan: Plan<'a>,
}

/// The scale limit `numeric` values with `scale` fractional digits must be checked against
/// for `target`, if any.
fn scale_limit(target: &PgType, scale: u8) -> Option<Option<i16>> {
    let column_scale = match target {
        PgType::Numeric { scale, .. } => Some(i16::from(*scale)),
        // An 11-bit signed number: `as` keeps it (the general path converts it the same way).
        PgType::NumericText { typmod } => {
            numeric_typmod_parts(*typmod).map(|(_, scale)| scale as i16)
        }
        _ => return None,
    };
    Some(column_scale.filter(|column_scale| i16::from(scale) > *column_scale))
}

impl<'a> ColumnEncoder<'a> {
    /// Prepares the encoder of `array` into a column of type `target`.
    pub fn new(array: &'a dyn Array, target: &'a PgType) -> Self {
        let plan = Self::plan(array, target);
        // The general path asks the array itself (`scalar_at`), whatever its kind.
        let nulls = match plan {
            Plan::General => None,
            _ => array.nulls(),
        };
        ColumnEncoder {
            array,
            nulls,
            target,
            plan,
        }
    }

    fn plan(array: &'a dyn Array, target: &PgType) -> Plan<'a> {
        let data_type = array.data_type();
        match (target, data_type) {
            (PgType::Bool, DataType::Boolean) => Plan::Bool(array.as_boolean()),
            (PgType::Int2, _) => Ints::of(array).map_or(Plan::General, Plan::Int2),
            (PgType::Int4, _) => Ints::of(array).map_or(Plan::General, Plan::Int4),
            (PgType::Int8, _) => Ints::of(array).map_or(Plan::General, Plan::Int8),
            (PgType::Float4, DataType::Float32) => {
                Plan::Float4(array.as_primitive::<Float32Type>().values())
            }
            (PgType::Float8, DataType::Float64) => {
                Plan::Float8(Floats::F64(array.as_primitive::<Float64Type>().values()))
            }
            (PgType::Float8, DataType::Float32) => {
                Plan::Float8(Floats::F32(array.as_primitive::<Float32Type>().values()))
            }
            (
                PgType::Numeric { .. } | PgType::NumericText { .. },
                DataType::Decimal128(_, scale),
            ) if (0..=38).contains(scale) => {
                let scale = scale.unsigned_abs();
                match scale_limit(target, scale) {
                    Some(limit) => Plan::Numeric {
                        values: Decimals::D128(array.as_primitive::<Decimal128Type>().values()),
                        scale,
                        limit,
                    },
                    None => Plan::General,
                }
            }
            (PgType::Numeric { .. } | PgType::NumericText { .. }, _) => {
                match (Ints::of(array), scale_limit(target, 0)) {
                    (Some(ints), Some(limit)) => Plan::Numeric {
                        values: Decimals::Ints(ints),
                        scale: 0,
                        limit,
                    },
                    _ => Plan::General,
                }
            }
            (PgType::Text { .. } | PgType::Json | PgType::Jsonb, _) => match Varlen::text(array) {
                Some(values) => Plan::Text {
                    values,
                    jsonb: matches!(target, PgType::Jsonb),
                    nul_free: values.free_of_nul(array.len()),
                },
                None => Plan::General,
            },
            (PgType::Bytea, _) => Varlen::bytes(array).map_or(Plan::General, Plan::Bytea),
            (PgType::Date, DataType::Date32) => {
                Plan::Date(array.as_primitive::<Date32Type>().values())
            }
            (PgType::Time, DataType::Time64(TimeUnit::Microsecond)) => {
                Plan::Time(array.as_primitive::<Time64MicrosecondType>().values())
            }
            (
                PgType::Timestamp | PgType::Timestamptz,
                DataType::Timestamp(TimeUnit::Microsecond, _),
            ) => Plan::Timestamp(array.as_primitive::<TimestampMicrosecondType>().values()),
            (PgType::Interval, DataType::Interval(IntervalUnit::MonthDayNano)) => {
                Plan::Interval(array.as_primitive::<IntervalMonthDayNanoType>().values())
            }
            (PgType::Uuid, DataType::FixedSizeBinary(16)) => {
                Plan::Uuid(array.as_fixed_size_binary())
            }
            _ => Plan::General,
        }
    }

    /// Writes row `row` (length word and value).
    ///
    /// # Errors
    /// A description when the value does not fit the target column (the general path's).
    #[inline]
    pub fn encode(
        &self,
        row: usize,
        out: &mut Vec<u8>,
        scratch: &mut Scratch,
    ) -> Result<(), String> {
        if self.nulls.is_some_and(|nulls| nulls.is_null(row)) {
            out.extend_from_slice(&(-1_i32).to_be_bytes());
            return Ok(());
        }
        let written = match &self.plan {
            Plan::Bool(values) => {
                put_fixed(out, [u8::from(values.value(row))]);
                true
            }
            Plan::Int2(ints) => match i16::try_from(ints.get(row)) {
                Ok(value) => {
                    put_fixed(out, value.to_be_bytes());
                    true
                }
                Err(_) => false,
            },
            Plan::Int4(ints) => match i32::try_from(ints.get(row)) {
                Ok(value) => {
                    put_fixed(out, value.to_be_bytes());
                    true
                }
                Err(_) => false,
            },
            Plan::Int8(ints) => {
                put_fixed(out, ints.get(row).to_be_bytes());
                true
            }
            Plan::Float4(values) => {
                put_fixed(out, values[row].to_be_bytes());
                true
            }
            Plan::Float8(Floats::F64(values)) => {
                put_fixed(out, values[row].to_be_bytes());
                true
            }
            Plan::Float8(Floats::F32(values)) => {
                put_fixed(out, f64::from(values[row]).to_be_bytes());
                true
            }
            Plan::Numeric {
                values,
                scale,
                limit,
            } => {
                let mut buffer = [0u8; numeric::DECIMAL_MAX_BYTES];
                let length = numeric::decimal_bytes(values.get(row), *scale, &mut buffer);
                let bytes = &buffer[..length];
                if limit.is_some_and(|limit| numeric::exceeds_scale(bytes, limit)) {
                    false
                } else {
                    // At most DECIMAL_MAX_BYTES: fits the length word.
                    out.extend_from_slice(&(length as i32).to_be_bytes());
                    out.extend_from_slice(bytes);
                    true
                }
            }
            Plan::Text {
                values,
                jsonb,
                nul_free,
            } => {
                let text = values.get(row);
                if !*nul_free && text.contains(&0) {
                    false
                } else {
                    put_length(out, text.len() + usize::from(*jsonb))?;
                    if *jsonb {
                        out.push(1);
                    }
                    out.extend_from_slice(text);
                    true
                }
            }
            Plan::Bytea(values) => {
                let bytes = values.get(row);
                put_length(out, bytes.len())?;
                out.extend_from_slice(bytes);
                true
            }
            Plan::Date(values) => match values[row].checked_sub(POSTGRES_EPOCH_DAYS) {
                Some(days) => {
                    put_fixed(out, days.to_be_bytes());
                    true
                }
                None => false,
            },
            Plan::Time(values) => {
                let micros = values[row];
                if (0..=86_400_000_000).contains(&micros) {
                    put_fixed(out, micros.to_be_bytes());
                    true
                } else {
                    false
                }
            }
            Plan::Timestamp(values) => match values[row].checked_sub(POSTGRES_EPOCH_MICROS) {
                Some(micros) => {
                    put_fixed(out, micros.to_be_bytes());
                    true
                }
                None => false,
            },
            Plan::Interval(values) => {
                let value = values[row];
                if value.nanoseconds % 1000 == 0 {
                    let mut bytes = [0u8; 16];
                    bytes[..8].copy_from_slice(&(value.nanoseconds / 1000).to_be_bytes());
                    bytes[8..12].copy_from_slice(&value.days.to_be_bytes());
                    bytes[12..].copy_from_slice(&value.months.to_be_bytes());
                    put_fixed(out, bytes);
                    true
                } else {
                    false
                }
            }
            Plan::Uuid(values) => {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(values.value(row));
                put_fixed(out, bytes);
                true
            }
            Plan::General => false,
        };
        if written {
            return Ok(());
        }
        let scalar = scalar_at(self.array, row)?;
        encode_value(&scalar, self.target, out, scratch)
    }
}

/// Writes the length word and the `N` bytes of a fixed-size value with one copy (`M` is
/// `N + 4`, checked at compile time).
#[inline(always)]
fn put_fixed_with<const N: usize, const M: usize>(out: &mut Vec<u8>, bytes: [u8; N]) {
    const { assert!(M == N + 4) };
    let mut field = [0u8; M];
    field[..4].copy_from_slice(&(N as i32).to_be_bytes());
    field[4..].copy_from_slice(&bytes);
    out.extend_from_slice(&field);
}

/// Writes a fixed-size value of 1, 2, 4, 8 or 16 bytes with its length word.
trait PutFixed<const N: usize> {
    fn put_fixed(out: &mut Vec<u8>, bytes: [u8; N]);
}

struct Fields;

macro_rules! put_fixed_sizes {
    ($($n:literal => $m:literal),*) => {$(
        impl PutFixed<$n> for Fields {
            #[inline(always)]
            fn put_fixed(out: &mut Vec<u8>, bytes: [u8; $n]) {
                put_fixed_with::<$n, $m>(out, bytes);
            }
        }
    )*};
}

put_fixed_sizes!(1 => 5, 2 => 6, 4 => 8, 8 => 12, 16 => 20);

#[inline(always)]
fn put_fixed<const N: usize>(out: &mut Vec<u8>, bytes: [u8; N])
where
    Fields: PutFixed<N>,
{
    <Fields as PutFixed<N>>::put_fixed(out, bytes);
}

#[inline]
fn put_length(out: &mut Vec<u8>, length: usize) -> Result<(), String> {
    let length = i32::try_from(length).map_err(|_| "value exceeds 2 GiB".to_string())?;
    out.extend_from_slice(&length.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
        Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array,
        IntervalMonthDayNanoArray, LargeBinaryArray, LargeStringArray, StringArray,
        StringViewArray, Time64MicrosecondArray, TimestampMicrosecondArray,
        TimestampMillisecondArray, UInt64Array,
    };
    use std::sync::Arc;

    fn text() -> PgType {
        PgType::Text {
            oid: 25,
            typmod: -1,
        }
    }

    /// Numeric typmod of `numeric(precision, scale)`.
    fn typmod(precision: i32, scale: i32) -> i32 {
        ((precision << 16) | (scale & 0x7FF)) + 4
    }

    /// Encodes every row of `array` with the column encoder and with the general path, and
    /// checks both write the same bytes and fail with the same reason; returns how many rows
    /// (NULLs included) a fast plan wrote (to check the fast path is really taken).
    fn same_as_general(array: &ArrayRef, target: &PgType) -> usize {
        let encoder = ColumnEncoder::new(array.as_ref(), target);
        let mut fast_rows = 0;
        for row in 0..array.len() {
            let (mut fast, mut general) = (Vec::new(), Vec::new());
            let fast_result = encoder.encode(row, &mut fast, &mut Scratch::default());
            let general_result = scalar_at(array.as_ref(), row).and_then(|scalar| {
                encode_value(&scalar, target, &mut general, &mut Scratch::default())
            });
            assert_eq!(
                fast_result,
                general_result,
                "{:?} into {target:?}, row {row}",
                array.data_type()
            );
            if general_result.is_ok() {
                assert_eq!(
                    &fast[..],
                    &general[..],
                    "{:?} into {target:?}, row {row}",
                    array.data_type()
                );
            }
            if !matches!(encoder.plan, Plan::General) && fast_result.is_ok() {
                fast_rows += 1;
            }
        }
        fast_rows
    }

    #[test]
    fn integers_floats_and_booleans_match_the_general_path() {
        let cases: Vec<(ArrayRef, Vec<PgType>)> = vec![
            (
                Arc::new(Int8Array::from(vec![Some(i8::MIN), None, Some(i8::MAX)])),
                vec![PgType::Int2, PgType::Int4, PgType::Int8],
            ),
            (
                Arc::new(Int16Array::from(vec![Some(i16::MIN), None, Some(7)])),
                vec![PgType::Int2, PgType::Int4, PgType::Int8],
            ),
            (
                Arc::new(Int32Array::from(vec![
                    Some(i32::MIN),
                    Some(40_000),
                    None,
                    Some(-3),
                ])),
                vec![PgType::Int2, PgType::Int4, PgType::Int8],
            ),
            (
                Arc::new(Int64Array::from(vec![
                    Some(i64::MIN),
                    Some(i64::from(i32::MAX) + 1),
                    Some(-32_769),
                    None,
                    Some(12),
                ])),
                vec![PgType::Int2, PgType::Int4, PgType::Int8],
            ),
            (
                Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(5), None])),
                vec![PgType::Int8, PgType::Int2],
            ),
            (
                Arc::new(Float32Array::from(vec![
                    Some(f32::NAN),
                    Some(f32::NEG_INFINITY),
                    Some(-0.0),
                    None,
                    Some(f32::MAX),
                ])),
                vec![PgType::Float4, PgType::Float8],
            ),
            (
                Arc::new(Float64Array::from(vec![
                    Some(f64::NAN),
                    Some(f64::MAX),
                    Some(0.1),
                    None,
                    Some(1e-300),
                ])),
                vec![PgType::Float8, PgType::Float4],
            ),
            (
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                vec![PgType::Bool, PgType::Int4],
            ),
        ];
        for (array, targets) in &cases {
            for target in targets {
                same_as_general(array, target);
            }
        }
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
        assert_eq!(same_as_general(&ints, &PgType::Int4), 3);
    }

    #[test]
    fn decimals_and_integers_into_numeric_match_the_general_path() {
        let values: Vec<Option<i128>> = vec![
            Some(0),
            None,
            Some(1),
            Some(-1),
            Some(123_456),
            Some(-100),
            Some(99_999_999_999_999_999),
            Some(i128::from(u64::MAX) + 1),
            Some(10_i128.pow(38) - 1),
            Some(-(10_i128.pow(38) - 1)),
            Some(10_i128.pow(20)),
            Some(5_000_000),
        ];
        let targets = [
            PgType::Numeric {
                precision: 38,
                scale: 0,
            },
            PgType::Numeric {
                precision: 38,
                scale: 2,
            },
            PgType::Numeric {
                precision: 38,
                scale: 7,
            },
            PgType::Numeric {
                precision: 38,
                scale: 38,
            },
            PgType::NumericText { typmod: -1 },
            PgType::NumericText {
                typmod: typmod(5, -2),
            },
            PgType::NumericText {
                typmod: typmod(80, 3),
            },
            text(),
        ];
        for scale in [0_i8, 1, 2, 3, 4, 5, 8, 17, 19, 20, 33, 38, -2] {
            let array: ArrayRef = Arc::new(
                Decimal128Array::from(values.clone())
                    .with_precision_and_scale(38, scale)
                    .expect("decimal"),
            );
            for target in &targets {
                let fast = same_as_general(&array, target);
                if scale >= 0 && matches!(target, PgType::NumericText { typmod: -1 }) {
                    assert_eq!(fast, values.len(), "scale {scale}");
                }
            }
        }
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(i64::MIN),
            None,
            Some(0),
            Some(150),
            Some(i64::MAX),
        ]));
        for target in &targets {
            same_as_general(&ints, target);
        }
        let small: ArrayRef = Arc::new(Int16Array::from(vec![Some(-5), Some(10_000)]));
        assert_eq!(same_as_general(&small, &targets[4]), 2);
    }

    #[test]
    fn strings_and_bytes_match_the_general_path() {
        let strings = vec![
            Some(""),
            None,
            Some("émoji 🚀"),
            Some("a\0b"),
            Some("{\"k\": 1}"),
        ];
        let clean = vec![Some(""), None, Some("数据"), Some("x")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(strings.clone())),
            Arc::new(LargeStringArray::from(strings.clone())),
            Arc::new(StringViewArray::from(strings.clone())),
            Arc::new(StringArray::from(clean.clone())),
            Arc::new(LargeStringArray::from(clean)),
            // A slice whose NUL lies outside it.
            Arc::new(StringArray::from(strings).slice(0, 3)),
            Arc::new(BinaryArray::from(vec![
                Some(&b"\xff\x00"[..]),
                None,
                Some(&b"ok"[..]),
            ])),
            Arc::new(LargeBinaryArray::from(vec![Some(&b"\x00"[..]), None])),
        ];
        for array in &arrays {
            for target in [text(), PgType::Json, PgType::Jsonb, PgType::Bytea] {
                same_as_general(array, &target);
            }
        }
        assert_eq!(same_as_general(&arrays[5], &text()), 3);
        assert_eq!(same_as_general(&arrays[0], &PgType::Jsonb), 4);
    }

    #[test]
    fn dates_times_intervals_and_uuids_match_the_general_path() {
        let cases: Vec<(ArrayRef, Vec<PgType>)> = vec![
            (
                Arc::new(Date32Array::from(vec![
                    Some(i32::MIN),
                    Some(0),
                    None,
                    Some(19_000),
                    Some(i32::MAX),
                ])),
                vec![PgType::Date, PgType::Timestamp, text()],
            ),
            (
                Arc::new(Time64MicrosecondArray::from(vec![
                    Some(-1),
                    Some(0),
                    Some(86_400_000_000),
                    Some(86_400_000_001),
                    None,
                ])),
                vec![PgType::Time],
            ),
            (
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some(i64::MIN),
                        Some(0),
                        None,
                        Some(1_704_067_200_000_000),
                    ])
                    .with_timezone("UTC"),
                ),
                vec![PgType::Timestamptz, PgType::Timestamp, PgType::Date],
            ),
            (
                Arc::new(TimestampMillisecondArray::from(vec![Some(1), None])),
                vec![PgType::Timestamp],
            ),
            (
                Arc::new(IntervalMonthDayNanoArray::from(vec![
                    Some(IntervalMonthDayNano::new(-14, 3, 1_000)),
                    Some(IntervalMonthDayNano::new(1, 2, 1_001)),
                    None,
                    Some(IntervalMonthDayNano::new(i32::MAX, i32::MIN, i64::MIN)),
                ])),
                vec![PgType::Interval],
            ),
            (
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        vec![Some([7u8; 16]), None, Some([0u8; 16])].into_iter(),
                        16,
                    )
                    .expect("uuid"),
                ),
                vec![PgType::Uuid, PgType::Bytea],
            ),
        ];
        for (array, targets) in &cases {
            for target in targets {
                same_as_general(array, target);
            }
        }
        assert_eq!(same_as_general(&cases[1].0, &PgType::Time), 3);
    }
}
