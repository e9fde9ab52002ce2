//! Order-independent checksum of a table's rows, used to compare a source with its copy.
//!
//! Each row is hashed (xxh3) over a canonical encoding of its values, so the same logical value
//! hashes the same whatever Arrow width a store returns it in (an `Int32` from one store equals
//! the `Int64` another gives back; timestamps compare at microsecond precision). Row hashes are
//! combined by wrapping addition, which ignores row order but counts duplicates.

use crate::error::{ConnectorError, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Decimal256Type, Float16Type, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::i256;
use arrow_schema::{DataType, TimeUnit};
use std::fmt;
use xxhash_rust::xxh3::Xxh3;

/// Running checksum of a set of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableDigest {
    /// Number of rows.
    pub rows: u64,
    /// Wrapping sum of the row hashes.
    pub sum: u64,
}

impl fmt::Display for TableDigest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "rows={} checksum={:016x}", self.rows, self.sum)
    }
}

impl TableDigest {
    /// Adds every row of `batch`.
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] for a column type without a canonical encoding.
    pub fn add_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let columns = batch.columns();
        for column in columns {
            check_supported(column.data_type())?;
        }
        for row in 0..batch.num_rows() {
            let mut hasher = Xxh3::new();
            for column in columns {
                hash_value(&mut hasher, column, row);
            }
            self.sum = self.sum.wrapping_add(hasher.digest());
            self.rows += 1;
        }
        Ok(())
    }

    /// Combines two digests of disjoint row sets.
    pub fn merge(self, other: TableDigest) -> TableDigest {
        TableDigest {
            rows: self.rows + other.rows,
            sum: self.sum.wrapping_add(other.sum),
        }
    }
}

fn check_supported(data_type: &DataType) -> Result<()> {
    match data_type {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::Date32
        | DataType::Date64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _)
        | DataType::FixedSizeBinary(_)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(_, _) => Ok(()),
        DataType::List(item) | DataType::LargeList(item) | DataType::Map(item, _) => {
            check_supported(item.data_type())
        }
        DataType::Struct(fields) => fields
            .iter()
            .try_for_each(|field| check_supported(field.data_type())),
        other => Err(ConnectorError::Unsupported(format!(
            "checksum of a {other} column"
        ))),
    }
}

const TAG_NULL: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_FLOAT: u8 = 2;
const TAG_TEXT: u8 = 3;
const TAG_BYTES: u8 = 4;
const TAG_BOOL: u8 = 5;
const TAG_TIMESTAMP: u8 = 6;
const TAG_DATE: u8 = 7;
const TAG_BIG_UNSIGNED: u8 = 8;
const TAG_DECIMAL: u8 = 9;
const TAG_TIME: u8 = 10;
const TAG_LIST: u8 = 11;
const TAG_STRUCT: u8 = 12;

/// Hashes a decimal by its value, whatever its width and scale: trailing fractional zeros
/// are stripped first, so `1.50` (scale 2) and `1.5` (scale 1) hash the same.
fn hash_decimal(hasher: &mut Xxh3, unscaled: i256, scale: i8) {
    let ten = i256::from_i128(10);
    let mut value = unscaled;
    let mut exponent = scale;
    while exponent > 0 && value != i256::ZERO && value.wrapping_rem(ten) == i256::ZERO {
        value = value.wrapping_div(ten);
        exponent -= 1;
    }
    if value == i256::ZERO {
        exponent = 0;
    }
    hasher.update(&[TAG_DECIMAL]);
    hasher.update(&value.to_le_bytes());
    hasher.update(&exponent.to_le_bytes());
}

fn hash_time_micros(hasher: &mut Xxh3, micros: i64) {
    hasher.update(&[TAG_TIME]);
    hasher.update(&micros.to_le_bytes());
}

fn hash_int(hasher: &mut Xxh3, value: i64) {
    hasher.update(&[TAG_INT]);
    hasher.update(&value.to_le_bytes());
}

fn hash_value(hasher: &mut Xxh3, column: &ArrayRef, row: usize) {
    if column.is_null(row) {
        hasher.update(&[TAG_NULL]);
        return;
    }
    match column.data_type() {
        DataType::Null => hasher.update(&[TAG_NULL]),
        DataType::Boolean => {
            hasher.update(&[TAG_BOOL, u8::from(column.as_boolean().value(row))]);
        }
        DataType::Int8 => hash_int(
            hasher,
            i64::from(column.as_primitive::<Int8Type>().value(row)),
        ),
        DataType::Int16 => hash_int(
            hasher,
            i64::from(column.as_primitive::<Int16Type>().value(row)),
        ),
        DataType::Int32 => hash_int(
            hasher,
            i64::from(column.as_primitive::<Int32Type>().value(row)),
        ),
        DataType::Int64 => hash_int(hasher, column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => hash_int(
            hasher,
            i64::from(column.as_primitive::<UInt8Type>().value(row)),
        ),
        DataType::UInt16 => hash_int(
            hasher,
            i64::from(column.as_primitive::<UInt16Type>().value(row)),
        ),
        DataType::UInt32 => hash_int(
            hasher,
            i64::from(column.as_primitive::<UInt32Type>().value(row)),
        ),
        DataType::UInt64 => {
            let value = column.as_primitive::<UInt64Type>().value(row);
            match i64::try_from(value) {
                Ok(signed) => hash_int(hasher, signed),
                Err(_) => {
                    hasher.update(&[TAG_BIG_UNSIGNED]);
                    hasher.update(&value.to_le_bytes());
                }
            }
        }
        DataType::Float16 => {
            let value = f64::from(column.as_primitive::<Float16Type>().value(row));
            hasher.update(&[TAG_FLOAT]);
            hasher.update(&value.to_bits().to_le_bytes());
        }
        DataType::Float32 => {
            let value = f64::from(column.as_primitive::<Float32Type>().value(row));
            hasher.update(&[TAG_FLOAT]);
            hasher.update(&value.to_bits().to_le_bytes());
        }
        DataType::Float64 => {
            let value = column.as_primitive::<Float64Type>().value(row);
            hasher.update(&[TAG_FLOAT]);
            hasher.update(&value.to_bits().to_le_bytes());
        }
        DataType::Utf8 => hash_bytes(
            hasher,
            TAG_TEXT,
            column.as_string::<i32>().value(row).as_bytes(),
        ),
        DataType::LargeUtf8 => hash_bytes(
            hasher,
            TAG_TEXT,
            column.as_string::<i64>().value(row).as_bytes(),
        ),
        DataType::Binary => hash_bytes(hasher, TAG_BYTES, column.as_binary::<i32>().value(row)),
        DataType::LargeBinary => {
            hash_bytes(hasher, TAG_BYTES, column.as_binary::<i64>().value(row))
        }
        DataType::Date32 => {
            hasher.update(&[TAG_DATE]);
            hasher.update(&column.as_primitive::<Date32Type>().value(row).to_le_bytes());
        }
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => column
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Millisecond => column
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .saturating_mul(1_000),
                TimeUnit::Microsecond => {
                    column.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => {
                    column.as_primitive::<TimestampNanosecondType>().value(row) / 1_000
                }
            };
            hasher.update(&[TAG_TIMESTAMP]);
            hasher.update(&micros.to_le_bytes());
        }
        DataType::Date64 => {
            let millis = column.as_primitive::<Date64Type>().value(row);
            hasher.update(&[TAG_DATE]);
            hasher.update(&(millis.div_euclid(86_400_000) as i32).to_le_bytes());
        }
        DataType::Decimal128(_, scale) => hash_decimal(
            hasher,
            i256::from_i128(column.as_primitive::<Decimal128Type>().value(row)),
            *scale,
        ),
        DataType::Decimal256(_, scale) => hash_decimal(
            hasher,
            column.as_primitive::<Decimal256Type>().value(row),
            *scale,
        ),
        DataType::FixedSizeBinary(_) => {
            hash_bytes(hasher, TAG_BYTES, column.as_fixed_size_binary().value(row))
        }
        DataType::Time32(TimeUnit::Second) => hash_time_micros(
            hasher,
            i64::from(column.as_primitive::<Time32SecondType>().value(row)) * 1_000_000,
        ),
        DataType::Time32(_) => hash_time_micros(
            hasher,
            i64::from(column.as_primitive::<Time32MillisecondType>().value(row)) * 1_000,
        ),
        DataType::Time64(TimeUnit::Nanosecond) => hash_time_micros(
            hasher,
            column.as_primitive::<Time64NanosecondType>().value(row) / 1_000,
        ),
        DataType::Time64(_) => hash_time_micros(
            hasher,
            column.as_primitive::<Time64MicrosecondType>().value(row),
        ),
        DataType::Struct(_) => {
            hasher.update(&[TAG_STRUCT]);
            for child in column.as_struct().columns() {
                hash_value(hasher, child, row);
            }
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::Map(_, _) => {
            let values: ArrayRef = match column.data_type() {
                DataType::List(_) => column.as_list::<i32>().value(row),
                DataType::LargeList(_) => column.as_list::<i64>().value(row),
                _ => std::sync::Arc::new(column.as_map().value(row)),
            };
            hasher.update(&[TAG_LIST]);
            hasher.update(&(values.len() as u64).to_le_bytes());
            for index in 0..values.len() {
                hash_value(hasher, &values, index);
            }
        }
        // Unreachable: check_supported ran first.
        _ => hasher.update(&[TAG_NULL]),
    }
}

fn hash_bytes(hasher: &mut Xxh3, tag: u8, bytes: &[u8]) {
    hasher.update(&[tag]);
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// Reads every row of `range` from `source` and returns their digest.
///
/// # Errors
/// The source's read error, or [`ConnectorError::Unsupported`] for a column type without a
/// canonical encoding.
pub async fn digest_source(
    source: &dyn crate::Source,
    range: &sluice_common::records::KeyRange,
) -> Result<TableDigest> {
    let counters = std::sync::Arc::new(crate::ShardCounters::default());
    let (sender, mut receiver) = crate::batch_channel(4, counters);
    let reader = async move {
        source.read(range, &sender).await?;
        sender.finish().await
    };
    let digester = async move {
        let mut digest = TableDigest::default();
        while let Some(batch) = receiver.next().await? {
            digest.add_batch(&batch)?;
        }
        Ok::<TableDigest, ConnectorError>(digest)
    };
    let (read_result, digest_result) = tokio::join!(reader, digester);
    match (read_result, digest_result) {
        (Err(read_error), Err(ConnectorError::Aborted)) => Err(read_error),
        (_, Err(error)) => Err(error),
        (Err(error), Ok(_)) => Err(error),
        (Ok(()), Ok(digest)) => Ok(digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, Int64Array, StringArray};
    use std::sync::Arc;

    fn batch_of(ids: Vec<i64>, names: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
        ])
        .expect("batch")
    }

    #[test]
    fn row_order_does_not_matter_but_values_do() {
        let mut forward = TableDigest::default();
        forward
            .add_batch(&batch_of(vec![1, 2], vec![Some("a"), None]))
            .expect("digest");
        let mut backward = TableDigest::default();
        backward
            .add_batch(&batch_of(vec![2, 1], vec![None, Some("a")]))
            .expect("digest");
        assert_eq!(forward, backward);
        let mut changed = TableDigest::default();
        changed
            .add_batch(&batch_of(vec![1, 2], vec![Some("a"), Some("")]))
            .expect("digest");
        assert_ne!(forward, changed, "NULL and empty string must differ");
    }

    #[test]
    fn integer_width_does_not_matter() {
        let narrow = RecordBatch::try_from_iter([(
            "v",
            Arc::new(Int32Array::from(vec![7, -1])) as ArrayRef,
        )])
        .expect("batch");
        let wide = RecordBatch::try_from_iter([(
            "v",
            Arc::new(Int64Array::from(vec![7, -1])) as ArrayRef,
        )])
        .expect("batch");
        let mut first = TableDigest::default();
        first.add_batch(&narrow).expect("digest");
        let mut second = TableDigest::default();
        second.add_batch(&wide).expect("digest");
        assert_eq!(first, second);
    }

    fn digest_of(column: ArrayRef) -> TableDigest {
        let batch = RecordBatch::try_from_iter([("v", column)]).expect("batch");
        let mut digest = TableDigest::default();
        digest.add_batch(&batch).expect("digest");
        digest
    }

    #[test]
    fn decimals_hash_by_value_whatever_width_and_scale() {
        use arrow_array::{Decimal128Array, Decimal256Array};
        let narrow = Decimal128Array::from(vec![Some(150), None, Some(0)])
            .with_precision_and_scale(10, 2)
            .expect("decimal");
        let wide = Decimal256Array::from(vec![Some(i256::from_i128(15)), None, Some(i256::ZERO)])
            .with_precision_and_scale(65, 1)
            .expect("decimal");
        assert_eq!(digest_of(Arc::new(narrow)), digest_of(Arc::new(wide)));
        let other = Decimal128Array::from(vec![Some(151), None, Some(0)])
            .with_precision_and_scale(10, 2)
            .expect("decimal");
        let base = Decimal128Array::from(vec![Some(150), None, Some(0)])
            .with_precision_and_scale(10, 2)
            .expect("decimal");
        assert_ne!(digest_of(Arc::new(other)), digest_of(Arc::new(base)));
    }

    #[test]
    fn times_binary_and_lists_are_supported() {
        use arrow_array::builder::{Int32Builder, ListBuilder};
        use arrow_array::{
            BinaryArray, FixedSizeBinaryArray, Time64MicrosecondArray, Time64NanosecondArray,
        };
        assert_eq!(
            digest_of(Arc::new(Time64MicrosecondArray::from(vec![1_000_000]))),
            digest_of(Arc::new(Time64NanosecondArray::from(vec![1_000_000_000])))
        );
        let fixed = FixedSizeBinaryArray::try_from_iter(vec![vec![1u8, 2], vec![3, 4]].into_iter())
            .expect("fixed");
        let variable = BinaryArray::from(vec![&[1u8, 2][..], &[3, 4][..]]);
        assert_eq!(digest_of(Arc::new(fixed)), digest_of(Arc::new(variable)));
        let mut lists = ListBuilder::new(Int32Builder::new());
        lists.values().append_value(1);
        lists.values().append_null();
        lists.append(true);
        lists.append(true);
        let first = digest_of(Arc::new(lists.finish()));
        let mut other = ListBuilder::new(Int32Builder::new());
        other.values().append_value(1);
        other.append(true);
        other.append(true);
        assert_ne!(first, digest_of(Arc::new(other.finish())));
    }

    #[test]
    fn structs_maps_and_half_floats_are_supported() {
        use arrow_array::builder::{Int32Builder, MapBuilder, StringBuilder};
        use arrow_array::StructArray;
        use arrow_schema::{DataType, Field};
        let double: ArrayRef = Arc::new(arrow_array::Float64Array::from(vec![1.5]));
        let half = arrow_cast::cast(&double, &DataType::Float16).expect("half");
        assert_eq!(half.data_type(), &DataType::Float16);
        assert_eq!(digest_of(half), digest_of(double));
        let structs = StructArray::from(vec![(
            Arc::new(Field::new("a", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
        )]);
        let other = StructArray::from(vec![(
            Arc::new(Field::new("a", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![1, 3])) as ArrayRef,
        )]);
        assert_ne!(digest_of(Arc::new(structs)), digest_of(Arc::new(other)));
        let mut maps = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
        maps.keys().append_value("k");
        maps.values().append_value(1);
        maps.append(true).expect("map");
        let first = digest_of(Arc::new(maps.finish()));
        let mut maps = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
        maps.keys().append_value("k");
        maps.values().append_value(2);
        maps.append(true).expect("map");
        assert_ne!(first, digest_of(Arc::new(maps.finish())));
    }

    #[test]
    fn duplicates_change_the_digest() {
        let mut once = TableDigest::default();
        once.add_batch(&batch_of(vec![1], vec![Some("a")]))
            .expect("digest");
        let twice = once.merge(once);
        assert_ne!(once, twice);
        assert_eq!(twice.rows, 2);
    }
}
