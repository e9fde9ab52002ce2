//! `dx_digest`: the hex digest (MD5, SHA-1 or SHA-256) of each value as text; NULL is hashed as
//! the empty string. Binary columns are hashed as their bytes.

use super::text::text_values;
use super::StepOutput;
use crate::error::Result;
use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use sluice_common::spec::{DigestAlgorithm, HexCase};
use std::sync::Arc;

/// `dx_digest`'s parameters.
#[derive(Debug)]
pub struct Digest {
    /// The hash.
    pub algorithm: DigestAlgorithm,
    /// Letter case of the hex digits.
    pub case: HexCase,
}

impl Digest {
    /// Returns the digests of every value.
    ///
    /// # Errors
    /// [`crate::ConnectorError::Arrow`] when the column cannot be rendered as text.
    pub fn apply(&self, column: &ArrayRef) -> Result<StepOutput> {
        let width = match self.algorithm {
            DigestAlgorithm::Md5 => 32,
            DigestAlgorithm::Sha1 => 40,
            DigestAlgorithm::Sha256 => 64,
        };
        let mut builder = StringBuilder::with_capacity(column.len(), column.len() * width);
        let mut hex = String::with_capacity(width);
        let mut push = |bytes: &[u8]| {
            hex.clear();
            self.hex_digest(bytes, &mut hex);
            builder.append_value(&hex);
        };
        match column.data_type() {
            DataType::Binary => {
                for value in column.as_binary::<i32>().iter() {
                    push(value.unwrap_or_default());
                }
            }
            DataType::LargeBinary => {
                for value in column.as_binary::<i64>().iter() {
                    push(value.unwrap_or_default());
                }
            }
            _ => {
                for value in text_values(column)?.iter() {
                    push(value.unwrap_or_default().as_bytes());
                }
            }
        }
        Ok(StepOutput {
            column: Some(Arc::new(builder.finish())),
            dropped: None,
            failures: Vec::new(),
        })
    }

    fn hex_digest(&self, bytes: &[u8], output: &mut String) {
        match self.algorithm {
            DigestAlgorithm::Md5 => {
                use md5::Digest as _;
                push_hex(&md5::Md5::digest(bytes), self.case, output);
            }
            DigestAlgorithm::Sha1 => {
                use sha1::Digest as _;
                push_hex(&sha1::Sha1::digest(bytes), self.case, output);
            }
            DigestAlgorithm::Sha256 => {
                use sha2::Digest as _;
                push_hex(&sha2::Sha256::digest(bytes), self.case, output);
            }
        }
    }
}

fn push_hex(bytes: &[u8], case: HexCase, output: &mut String) {
    let digits: &[u8; 16] = match case {
        HexCase::Lower => b"0123456789abcdef",
        HexCase::Upper => b"0123456789ABCDEF",
    };
    for byte in bytes {
        output.push(char::from(digits[usize::from(byte >> 4)]));
        output.push(char::from(digits[usize::from(byte & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BinaryArray, Int64Array, StringArray};

    fn digests(algorithm: DigestAlgorithm, case: HexCase, column: ArrayRef) -> Vec<String> {
        let output = Digest { algorithm, case }.apply(&column).expect("digests");
        output
            .column
            .expect("a column")
            .as_string::<i32>()
            .iter()
            .map(|value| value.unwrap_or("<null>").to_string())
            .collect()
    }

    #[test]
    fn md5_matches_the_datax_example_and_null_hashes_as_empty() {
        let column: ArrayRef = Arc::new(StringArray::from(vec![Some("xyzzzzz"), None]));
        assert_eq!(
            digests(DigestAlgorithm::Md5, HexCase::Upper, column),
            vec![
                "9CDFFC4FA4E45A99DB8BBCD762ACFFA2".to_string(),
                "D41D8CD98F00B204E9800998ECF8427E".to_string()
            ]
        );
    }

    #[test]
    fn sha1_and_sha256_of_text_numbers_and_bytes() {
        let text: ArrayRef = Arc::new(StringArray::from(vec!["abc"]));
        assert_eq!(
            digests(DigestAlgorithm::Sha1, HexCase::Lower, text.clone()),
            vec!["a9993e364706816aba3e25717850c26c9cd0d89d".to_string()]
        );
        assert_eq!(
            digests(DigestAlgorithm::Sha256, HexCase::Lower, text),
            vec!["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string()]
        );
        let bytes: ArrayRef = Arc::new(BinaryArray::from(vec![&b"abc"[..]]));
        assert_eq!(
            digests(DigestAlgorithm::Sha1, HexCase::Upper, bytes),
            vec!["A9993E364706816ABA3E25717850C26C9CD0D89D".to_string()]
        );
        let numbers: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        assert_eq!(
            digests(DigestAlgorithm::Md5, HexCase::Lower, numbers),
            vec!["c4ca4238a0b923820dcc509a6f75849b".to_string()]
        );
    }
}
