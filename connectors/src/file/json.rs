//! Reads JSON objects: JSON lines (one object per line, or any whitespace-separated objects)
//! and top-level arrays of objects (each element is a row), streamed through arrow-json's
//! decoder. The schema is inferred from the first `infer_rows` records; numbers and booleans
//! met in a text column are kept as their JSON text (lossless). A value that does not fit its
//! inferred column (text in a number column) fails the object with the decoder's message:
//! raise `infer_rows` so inference sees it.

use super::config::FileSettings;
use super::listing::DataFile;
use super::text::{InferSample, TextStream};
use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use arrow_json::reader::infer_json_schema_from_iterator;
use arrow_schema::{ArrowError, Schema, SchemaRef};
use serde_json::Value;
use std::sync::Arc;

/// The keys of a JSON object in the order they are written (serde_json's own map sorts them).
struct OrderedKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for OrderedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> serde::de::Visitor<'de> for KeysVisitor {
            type Value = OrderedKeys;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<OrderedKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(OrderedKeys(keys))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<OrderedKeys, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(OrderedKeys(Vec::new()))
            }
            fn visit_unit<E>(self) -> std::result::Result<OrderedKeys, E> {
                Ok(OrderedKeys(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<OrderedKeys, E> {
                Ok(OrderedKeys(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<OrderedKeys, E> {
                Ok(OrderedKeys(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<OrderedKeys, E> {
                Ok(OrderedKeys(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<OrderedKeys, E> {
                Ok(OrderedKeys(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<OrderedKeys, E> {
                Ok(OrderedKeys(Vec::new()))
            }
        }
        deserializer.deserialize_any(KeysVisitor)
    }
}

/// Returns the top-level keys of `records` (raw JSON texts) in first-seen order.
fn key_order(records: &[&[u8]]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for record in records {
        if let Ok(OrderedKeys(keys)) = serde_json::from_slice::<OrderedKeys>(record) {
            for key in keys {
                if !order.contains(&key) {
                    order.push(key);
                }
            }
        }
    }
    order
}

/// Returns the values of the complete records at the start of `head`: whitespace-separated
/// values, with top-level arrays flattened into their elements; a record cut off by the end of
/// `head` is ignored.
pub fn head_records(head: &[u8], limit: usize) -> Vec<Value> {
    head_record_slices(head, limit)
        .into_iter()
        .filter_map(|slice| serde_json::from_slice(slice).ok())
        .collect()
}

/// Returns the raw texts of the complete records at the start of `head` (see [`head_records`]).
fn head_record_slices(head: &[u8], limit: usize) -> Vec<&[u8]> {
    let mut records = Vec::new();
    let mut position = 0;
    let mut in_array = false;
    while records.len() < limit {
        while position < head.len()
            && (head[position].is_ascii_whitespace() || (in_array && head[position] == b','))
        {
            position += 1;
        }
        if position >= head.len() {
            break;
        }
        match head[position] {
            b'[' if !in_array => {
                in_array = true;
                position += 1;
                continue;
            }
            b']' if in_array => {
                in_array = false;
                position += 1;
                continue;
            }
            _ => {}
        }
        let mut values = serde_json::Deserializer::from_slice(&head[position..])
            .into_iter::<serde::de::IgnoredAny>();
        match values.next() {
            Some(Ok(_)) => {
                let end = position + values.byte_offset();
                records.push(&head[position..end]);
                position = end;
            }
            _ => break,
        }
    }
    records
}

/// Returns the schema inferred from the first records of a JSON dataset (an [`InferSample`]:
/// whole numbers in one part and fractions in another give Float64). Columns come in the order
/// the first object writes them.
///
/// # Errors
/// Read and decoding errors, or [`ConnectorError::Arrow`] when inference fails.
pub async fn schema(settings: &FileSettings, files: &[DataFile]) -> Result<SchemaRef> {
    let Some(sample) = InferSample::of(files, settings.infer_rows) else {
        return Err(ConnectorError::File {
            object: settings.display.to_string(),
            message: "no files to infer a schema from".into(),
        });
    };
    let mut order = Vec::new();
    let mut records: Vec<Value> = Vec::new();
    for file in sample.files {
        // A record may span lines (arrays, pretty-printed objects): bytes alone bound the head.
        let (head, _) = sample.head(settings, file, usize::MAX).await?;
        let slices = head_record_slices(&head, sample.rows_each);
        for key in key_order(&slices) {
            if !order.contains(&key) {
                order.push(key);
            }
        }
        let before = records.len();
        records.extend(
            slices
                .iter()
                .filter_map(|slice| serde_json::from_slice::<Value>(slice).ok()),
        );
        if records.len() == before && !head.iter().all(u8::is_ascii_whitespace) {
            return Err(ConnectorError::File {
                object: file.path.to_string(),
                message: "does not start with a JSON value (format json reads JSON lines or arrays of objects)".into(),
            });
        }
    }
    let file = &sample.files[0];
    let schema = infer_json_schema_from_iterator(records.into_iter().map(Ok::<Value, ArrowError>))
        .map_err(|source| ConnectorError::Arrow {
            context: format!("infer the schema of {}", file.path),
            source,
        })?;
    // Columns in the order the file writes them, not serde_json's sorted key order.
    let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
    fields.sort_by_key(|field| {
        order
            .iter()
            .position(|key| key == field.name())
            .unwrap_or(usize::MAX)
    });
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )))
}

/// Reads every record of a JSON object as `schema` and sends batches of the `projection`
/// columns.
///
/// # Errors
/// Read, decoding and JSON errors naming the object.
pub async fn read(
    settings: &FileSettings,
    file: &DataFile,
    schema: &SchemaRef,
    projection: &[usize],
    batch_rows: usize,
    output: &BatchSender,
) -> Result<()> {
    let object = file.path.to_string();
    let json_error = |source: ArrowError| ConnectorError::Arrow {
        context: format!("parse JSON {object}"),
        source,
    };
    let mut decoder = arrow_json::ReaderBuilder::new(Arc::clone(schema))
        .with_batch_size(batch_rows.max(1))
        .with_coerce_primitive(true)
        .with_flatten(true)
        .build_decoder()
        .map_err(json_error)?;
    let mut stream = TextStream::open(settings, file).await?;
    loop {
        let chunk = stream.next_chunk().await?;
        let at_end = chunk.is_none();
        let bytes = chunk.as_deref().unwrap_or(&[]);
        let mut offset = 0;
        loop {
            if offset < bytes.len() {
                offset += decoder.decode(&bytes[offset..]).map_err(json_error)?;
            }
            if decoder.len() >= batch_rows.max(1) || at_end {
                if at_end && decoder.has_partial_record() {
                    return Err(ConnectorError::File {
                        object: object.clone(),
                        message: "ends in the middle of a JSON value".into(),
                    });
                }
                if let Some(batch) = decoder.flush().map_err(json_error)? {
                    let projected = batch.project(projection).map_err(json_error)?;
                    if projected.num_rows() > 0 {
                        output.send(projected).await?;
                    }
                }
            }
            if offset >= bytes.len() {
                break;
            }
        }
        if at_end {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_records_flatten_arrays_and_skip_a_cut_record() {
        let lines = b"{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3";
        assert_eq!(head_records(lines, 10).len(), 2);
        let array = b"[{\"a\": 1}, {\"a\": 2},\n {\"a\"";
        assert_eq!(head_records(array, 10).len(), 2);
        assert_eq!(head_records(b"[]", 10).len(), 0);
        assert_eq!(head_records(lines, 1).len(), 1);
    }

    #[test]
    fn keys_keep_their_written_order() {
        let records: Vec<&[u8]> = vec![b"{\"z\": 1, \"a\": {\"q\": 2}}", b"{\"m\": 3, \"a\": 1}"];
        assert_eq!(key_order(&records), vec!["z", "a", "m"]);
    }
}
