//! The buffers the COPY decoder appends values to: a plain vector of values (or of bytes and
//! offsets) beside a validity bitmap that only materialises at the first NULL. They cost less
//! per value than Arrow's builders, become arrays without copying, and start each batch with
//! the room the previous one needed.

use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{BinaryArray, BooleanArray, PrimitiveArray, StringArray};
use arrow_buffer::{
    ArrowNativeType, BooleanBuffer, BooleanBufferBuilder, Buffer, NullBuffer, OffsetBuffer,
    ScalarBuffer,
};
use arrow_schema::ArrowError;

/// Validity of a column's entries: nothing until the first NULL, then one bit per entry.
#[derive(Debug, Default)]
struct Validity {
    bits: Option<BooleanBufferBuilder>,
}

impl Validity {
    /// Records that the next entry is a value.
    #[inline(always)]
    fn push_valid(&mut self) {
        if let Some(bits) = &mut self.bits {
            bits.append(true);
        }
    }

    /// Records that entry `index` (the next one) is NULL.
    #[cold]
    fn push_null(&mut self, index: usize) {
        let bits = self.bits.get_or_insert_with(|| {
            let mut bits = BooleanBufferBuilder::new(index.max(64) * 2);
            bits.append_n(index, true);
            bits
        });
        bits.append(false);
    }

    /// Returns the validity of the entries so far and starts again with none.
    fn finish(&mut self) -> Option<NullBuffer> {
        self.bits
            .take()
            .map(|mut bits| NullBuffer::new(bits.finish()))
    }
}

/// Fixed-width values of one column.
#[derive(Debug)]
pub struct FixedValues<T: ArrowNativeType> {
    values: Vec<T>,
    nulls: Validity,
}

impl<T: ArrowNativeType> FixedValues<T> {
    /// Returns an empty buffer with room for `capacity` values.
    pub fn with_capacity(capacity: usize) -> Self {
        FixedValues {
            values: Vec::with_capacity(capacity),
            nulls: Validity::default(),
        }
    }

    /// Appends a value.
    #[inline(always)]
    pub fn push(&mut self, value: T) {
        self.values.push(value);
        self.nulls.push_valid();
    }

    /// Appends NULL.
    #[inline]
    pub fn push_null(&mut self) {
        self.nulls.push_null(self.values.len());
        self.values.push(T::default());
    }

    /// Returns how many entries are buffered.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Returns whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Returns the buffered entries as an array and starts again empty, with room for
    /// `reserve` values.
    ///
    /// # Errors
    /// An [`ArrowError`] if values and validity disagree in length (a bug).
    pub fn finish<P: ArrowPrimitiveType<Native = T>>(
        &mut self,
        reserve: usize,
    ) -> Result<PrimitiveArray<P>, ArrowError> {
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(reserve));
        PrimitiveArray::try_new(ScalarBuffer::from(values), self.nulls.finish())
    }
}

/// Booleans of one column (one byte each until the batch is finished, then one bit).
#[derive(Debug)]
pub struct BoolValues {
    values: Vec<bool>,
    nulls: Validity,
}

impl BoolValues {
    /// Returns an empty buffer with room for `capacity` values.
    pub fn with_capacity(capacity: usize) -> Self {
        BoolValues {
            values: Vec::with_capacity(capacity),
            nulls: Validity::default(),
        }
    }

    /// Appends a value.
    #[inline(always)]
    pub fn push(&mut self, value: bool) {
        self.values.push(value);
        self.nulls.push_valid();
    }

    /// Appends NULL.
    #[inline]
    pub fn push_null(&mut self) {
        self.nulls.push_null(self.values.len());
        self.values.push(false);
    }

    /// Returns how many entries are buffered.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Returns whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Returns the buffered entries as an array and starts again empty, with room for
    /// `reserve` values.
    pub fn finish(&mut self, reserve: usize) -> BooleanArray {
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(reserve));
        // Values and validity grew together: their lengths agree.
        BooleanArray::new(BooleanBuffer::from(values.as_slice()), self.nulls.finish())
    }
}

/// Variable-length values (text or bytes) of one column: their bytes back to back and the
/// offset where each ends.
#[derive(Debug)]
pub struct VarValues {
    offsets: Vec<i32>,
    data: Vec<u8>,
    nulls: Validity,
}

impl VarValues {
    /// Returns an empty buffer with room for `capacity` values of `bytes` bytes in all.
    pub fn with_capacity(capacity: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        VarValues {
            offsets,
            data: Vec::with_capacity(bytes),
            nulls: Validity::default(),
        }
    }

    /// Appends a value.
    ///
    /// # Errors
    /// A description when the column's values in this batch would pass 2 GiB (what 32-bit
    /// offsets can address); nothing is appended then.
    #[inline(always)]
    pub fn push(&mut self, value: &[u8]) -> Result<(), String> {
        let Ok(end) = i32::try_from(self.data.len() + value.len()) else {
            return Err(too_long(value.len()));
        };
        self.data.extend_from_slice(value);
        self.offsets.push(end);
        self.nulls.push_valid();
        Ok(())
    }

    /// Appends NULL.
    #[inline]
    pub fn push_null(&mut self) {
        self.nulls.push_null(self.len());
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
    }

    /// Returns how many entries are buffered.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Returns whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the parts and starts again empty, with room for `reserve` values (and, when
    /// `reserve` is not 0, as many bytes as this batch held).
    fn take(&mut self, reserve: usize) -> (OffsetBuffer<i32>, Buffer, Option<NullBuffer>) {
        let bytes = if reserve == 0 { 0 } else { self.data.len() };
        let mut fresh = VarValues::with_capacity(reserve, bytes);
        std::mem::swap(&mut fresh.offsets, &mut self.offsets);
        std::mem::swap(&mut fresh.data, &mut self.data);
        (
            OffsetBuffer::new(ScalarBuffer::from(fresh.offsets)),
            Buffer::from_vec(fresh.data),
            self.nulls.finish(),
        )
    }

    /// Returns the buffered entries as a string array (checking, once for the batch, that
    /// they are UTF-8) and starts again (see [`VarValues::finish_binary`]).
    ///
    /// # Errors
    /// An [`ArrowError`] if the bytes are not UTF-8 (callers check every value as they
    /// append it, so a bug).
    pub fn finish_string(&mut self, reserve: usize) -> Result<StringArray, ArrowError> {
        let (offsets, data, nulls) = self.take(reserve);
        StringArray::try_new(offsets, data, nulls)
    }

    /// Returns the buffered entries as a binary array and starts again empty, with room for
    /// `reserve` values (and, when `reserve` is not 0, as many bytes as this batch held).
    ///
    /// # Errors
    /// An [`ArrowError`] if offsets and validity disagree (a bug).
    pub fn finish_binary(&mut self, reserve: usize) -> Result<BinaryArray, ArrowError> {
        let (offsets, data, nulls) = self.take(reserve);
        BinaryArray::try_new(offsets, data, nulls)
    }
}

#[cold]
fn too_long(length: usize) -> String {
    format!(
        "a value of {length} bytes does not fit the batch (a column's values are limited to 2 GiB per batch; lower batch_rows)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int64Type;
    use arrow_array::Array;

    #[test]
    fn fixed_values_keep_nulls_and_start_again() {
        let mut values = FixedValues::<i64>::with_capacity(2);
        values.push(7);
        values.push_null();
        values.push(-1);
        assert_eq!(values.len(), 3);
        let array = values.finish::<Int64Type>(4).expect("array");
        assert_eq!(array.len(), 3);
        assert!(array.is_null(1));
        assert_eq!(array.value(2), -1);
        assert!(values.is_empty());
        values.push(1);
        let again = values.finish::<Int64Type>(0).expect("array");
        assert_eq!(again.null_count(), 0);
        assert_eq!(again.values().to_vec(), vec![1]);
    }

    #[test]
    fn bool_values_pack_with_nulls() {
        let mut values = BoolValues::with_capacity(0);
        for index in 0..70 {
            if index == 65 {
                values.push_null();
            } else {
                values.push(index % 3 == 0);
            }
        }
        let array = values.finish(8);
        assert_eq!(array.len(), 70);
        assert_eq!(array.null_count(), 1);
        assert!(array.is_null(65));
        assert!(array.value(66));
        assert!(!array.value(64));
        assert!(values.is_empty());
    }

    #[test]
    fn var_values_build_strings_and_bytes() {
        let mut values = VarValues::with_capacity(1, 1);
        values.push("".as_bytes()).expect("push");
        values.push_null();
        values.push("数据".as_bytes()).expect("push");
        let strings = values.finish_string(8).expect("strings");
        assert_eq!(strings.len(), 3);
        assert_eq!(strings.value(0), "");
        assert!(strings.is_null(1));
        assert_eq!(strings.value(2), "数据");
        assert!(values.is_empty());
        values.push(&[0xFF]).expect("push");
        assert!(values.finish_string(0).is_err());
        values.push(&[0xFF, 0]).expect("push");
        let bytes = values.finish_binary(0).expect("bytes");
        assert_eq!(bytes.value(0), &[0xFF, 0]);
    }
}
