//! Reads CSV objects: schema from `csv_schema` or inferred from the first records, rows decoded
//! as text with arrow-csv's streaming decoder and then converted column by column, so a value
//! that does not parse as its column's type makes its row a dirty record (never a NULL).

use super::config::FileSettings;
use super::listing::DataFile;
use super::text::{InferSample, TextStream};
use super::zones;
use crate::channel::{BatchSender, DirtySample};
use crate::error::{ConnectorError, Result};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_cast::cast::{cast_with_options, CastOptions};
use arrow_csv::reader::Format;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

fn arrow_error(context: impl Into<String>) -> impl FnOnce(ArrowError) -> ConnectorError {
    let context = context.into();
    move |source| ConnectorError::Arrow { context, source }
}

fn format_of(settings: &FileSettings) -> Result<Format> {
    let options = &settings.csv;
    let mut format = Format::default()
        .with_header(options.header)
        .with_delimiter(options.delimiter)
        .with_quote(options.quote)
        .with_truncated_rows(options.allow_short_rows);
    if let Some(escape) = options.escape {
        format = format.with_escape(escape);
    }
    if let Some(null) = &options.null_string {
        let pattern = format!("^{}$", regex::escape(null));
        let regex = regex::Regex::new(&pattern).map_err(|error| {
            ConnectorError::config(
                "connection.null_string",
                format!("cannot be matched: {error}"),
            )
        })?;
        format = format.with_null_regex(regex);
    }
    Ok(format)
}

/// Parses a `csv_schema` option: `name:type` pairs separated by commas, types `bool`, `int8`
/// .. `int64`, `uint8` .. `uint64`, `float32`, `float64`, `utf8` (or `string`), `date`,
/// `timestamp` (µs, no zone), `timestamptz` (µs, UTC), `decimal(p;s)`.
///
/// # Errors
/// A message naming the entry and the allowed types.
pub fn parse_schema(text: &str) -> std::result::Result<Schema, String> {
    let mut fields = Vec::new();
    for (index, entry) in text.split(',').enumerate() {
        let (name, type_name) = entry
            .split_once(':')
            .ok_or_else(|| format!("entry {index} (\"{entry}\") is not name:type"))?;
        let type_name = type_name.trim().to_ascii_lowercase();
        let data_type = match type_name.as_str() {
            "bool" | "boolean" => DataType::Boolean,
            "int8" => DataType::Int8,
            "int16" => DataType::Int16,
            "int32" => DataType::Int32,
            "int64" => DataType::Int64,
            "uint8" => DataType::UInt8,
            "uint16" => DataType::UInt16,
            "uint32" => DataType::UInt32,
            "uint64" => DataType::UInt64,
            "float32" => DataType::Float32,
            "float64" => DataType::Float64,
            "utf8" | "string" => DataType::Utf8,
            "date" => DataType::Date32,
            "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            other => match other.strip_prefix("decimal(").and_then(|rest| rest.strip_suffix(')')) {
                Some(inner) => {
                    let (precision, scale) = inner
                        .split_once(';')
                        .and_then(|(p, s)| Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?)))
                        .ok_or_else(|| format!("entry {index}: \"{other}\" is not decimal(precision;scale)"))?;
                    if precision <= 38 {
                        DataType::Decimal128(precision, scale)
                    } else {
                        DataType::Decimal256(precision, scale)
                    }
                }
                None => {
                    return Err(format!(
                        "entry {index}: \"{other}\" is not one of bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, \
                         float32, float64, utf8, date, timestamp, timestamptz, decimal(p;s)"
                    ))
                }
            },
        };
        fields.push(Field::new(name.trim(), data_type, true));
    }
    Ok(Schema::new(fields))
}

/// Returns the schema of a CSV dataset: the `csv_schema` option when given, else inferred from
/// the first records of its first objects (an [`InferSample`]: one part of a dataset may hold
/// only small numbers or whole seconds where another does not), with the header names of the
/// first, or `column_1`.. without a header.
///
/// # Errors
/// [`ConnectorError::Config`] for a bad `csv_schema`, read and decoding errors.
pub async fn schema(settings: &FileSettings, files: &[DataFile], role: &str) -> Result<SchemaRef> {
    if let Some(text) = &settings.csv.schema {
        return parse_schema(text).map(Arc::new).map_err(|message| {
            ConnectorError::config(format!("{role}.connection.csv_schema"), message)
        });
    }
    let Some(sample) = InferSample::of(files, settings.infer_rows) else {
        return Err(ConnectorError::config(
            format!("{role}.connection"),
            format!("no files at {}", settings.display),
        ));
    };
    let mut head = Vec::new();
    for (position, file) in sample.files.iter().enumerate() {
        // Header line included: a record more.
        let (mut part, cut) = sample.head(settings, file, sample.rows_each + 1).await?;
        // Keep whole lines only (a quoted field may still span the cut; inference then stops
        // there).
        if cut {
            if let Some(end) = part.iter().rposition(|byte| *byte == b'\n') {
                part.truncate(end + 1);
            }
        }
        if position > 0 && settings.csv.header {
            // The header line is the first object's to give.
            match part.iter().position(|byte| *byte == b'\n') {
                Some(end) => {
                    part.drain(..=end);
                }
                None => part.clear(),
            }
        }
        if !head.is_empty() && head.last() != Some(&b'\n') {
            head.push(b'\n');
        }
        head.extend_from_slice(&part);
    }
    let first = &sample.files[0];
    let path = &first.path;
    let format = format_of(settings)?;
    let (schema, _) = format
        .infer_schema(std::io::Cursor::new(&head), Some(settings.infer_rows))
        .map_err(arrow_error(format!("infer the schema of {path}")))?;
    let sampled = inspect_samples(settings, &schema, &head)?;
    // A column empty in every sampled record has no type yet, a numeric column whose text a
    // number would not keep (leading zeros, a plus sign, more digits than a double holds) stays
    // text, and timestamps that all carry a zone (`Z`, `+02:00`) are instants. Timestamps are
    // kept to the microsecond at least: the sample may show only whole seconds while later
    // records (or later files of the same dataset) carry fractions, which a column of seconds
    // would cut off without a word.
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| match field.data_type() {
            DataType::Null => Field::new(field.name(), DataType::Utf8, true),
            _ if sampled.lossy.contains(&index) => Field::new(field.name(), DataType::Utf8, true),
            DataType::Timestamp(unit, zone) => {
                let unit = match unit {
                    TimeUnit::Second | TimeUnit::Millisecond => TimeUnit::Microsecond,
                    finer => *finer,
                };
                let zone = match zone {
                    None if sampled.zoned.contains(&index) => Some("UTC".into()),
                    zone => zone.clone(),
                };
                Field::new(field.name(), DataType::Timestamp(unit, zone), true)
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// Returns whether reading `text` as a number would lose how it is written: a leading zero
/// (`08123`), a plus sign, an integer beyond the 64-bit range, or, for floats, an integer of
/// more than 15 digits or a number a double does not hold exactly (more significant digits than
/// its shortest round-trip form, as in a 38-digit decimal).
pub fn number_loses_text(text: &str, float: bool) -> bool {
    let trimmed = text.trim();
    if !float && !trimmed.is_empty() && trimmed.parse::<i64>().is_err() {
        return true;
    }
    let unsigned = trimmed.strip_prefix('-').unwrap_or(trimmed);
    let digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    trimmed.starts_with('+')
        || (unsigned.len() > 1
            && unsigned.starts_with('0')
            && unsigned.as_bytes()[1].is_ascii_digit())
        || (float && digits == unsigned.len() && digits > 15)
        || (float && !double_keeps(trimmed))
}

/// A decimal number as sign, significant digits (no leading or trailing zeros) and the
/// exponent of the last digit; zero is `(negative, "", 0)`.
fn decimal_parts(text: &str) -> Option<(bool, String, i64)> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all = format!("{whole}{fraction}");
    let trimmed_end = all.trim_end_matches('0');
    let exponent = exponent - fraction.len() as i64 + (all.len() - trimmed_end.len()) as i64;
    let significant = trimmed_end.trim_start_matches('0');
    if significant.is_empty() {
        return Some((negative, String::new(), 0));
    }
    Some((negative, significant.to_string(), exponent))
}

/// Returns whether the double nearest to the decimal `text` has exactly its value, so reading
/// it as Float64 loses no digit (`0.1` and `1.50` are kept; `12345678901234567.5` is not).
/// Text that is not a plain decimal (`NaN`, `inf`) is kept as the double it names.
fn double_keeps(text: &str) -> bool {
    let Some(written) = decimal_parts(text) else {
        return true;
    };
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => decimal_parts(&format!("{value:e}")) == Some(written),
        _ => false,
    }
}

/// Returns whether a timestamp text carries a zone: `Z` or an offset after the time of day.
fn has_zone(text: &str) -> bool {
    let trimmed = text.trim();
    if trimmed.ends_with(['Z', 'z']) {
        return true;
    }
    // After `YYYY-MM-DD?HH:MM:SS`, a sign starts an offset.
    trimmed
        .get(19..)
        .is_some_and(|rest| rest.contains(['+', '-']))
}

/// What the sampled text says about the inferred columns.
#[derive(Debug, Default)]
struct Sampled {
    /// Numeric columns whose text a number would not keep exactly.
    lossy: Vec<usize>,
    /// Timestamp columns whose every sampled value carries a zone.
    zoned: Vec<usize>,
}

/// Returns which numeric columns of `schema` have sampled text a number would not keep
/// exactly, and which timestamp columns hold instants (every sampled value with a zone).
fn inspect_samples(settings: &FileSettings, schema: &Schema, head: &[u8]) -> Result<Sampled> {
    let numeric: Vec<(usize, bool)> = schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(index, field)| match field.data_type() {
            DataType::Int64 => Some((index, false)),
            DataType::Float64 => Some((index, true)),
            _ => None,
        })
        .collect();
    let mut zoned: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| matches!(field.data_type(), DataType::Timestamp(_, None)))
        .map(|(index, _)| index)
        .collect();
    if numeric.is_empty() && zoned.is_empty() {
        return Ok(Sampled::default());
    }
    let text_schema = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|field| Field::new(field.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let reader = arrow_csv::ReaderBuilder::new(text_schema)
        .with_format(format_of(settings)?)
        .with_truncated_rows(settings.csv.allow_short_rows)
        .with_batch_size(4096)
        .build(std::io::Cursor::new(head))
        .map_err(arrow_error("sample CSV text"))?;
    let mut lossy = Vec::new();
    let mut rows_seen = 0usize;
    for batch in reader {
        // The sample may end in a cut record: keep what parsed.
        let Ok(batch) = batch else {
            break;
        };
        for (index, float) in &numeric {
            if lossy.contains(index) {
                continue;
            }
            if let Some(strings) = batch.column(*index).as_any().downcast_ref::<StringArray>() {
                if strings
                    .iter()
                    .flatten()
                    .any(|text| number_loses_text(text, *float))
                {
                    lossy.push(*index);
                }
            }
        }
        zoned.retain(|index| {
            batch
                .column(*index)
                .as_any()
                .downcast_ref::<StringArray>()
                .is_some_and(|strings| strings.iter().flatten().all(has_zone))
        });
        rows_seen += batch.num_rows();
        if rows_seen >= settings.infer_rows {
            break;
        }
    }
    Ok(Sampled { lossy, zoned })
}

/// Converts a batch of text columns into `target`'s types; rows with a value that does not
/// parse are left out and pushed to `dirty`.
///
/// # Errors
/// [`ConnectorError::Arrow`] when a conversion is impossible for a whole column (a bug).
pub fn convert_text_batch(
    text: &RecordBatch,
    target: &SchemaRef,
    object: &str,
    dirty: &mut Vec<DirtySample>,
) -> Result<RecordBatch> {
    let rows = text.num_rows();
    let mut keep = vec![true; rows];
    let mut any_dirty = false;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    let options = CastOptions {
        safe: true,
        ..Default::default()
    };
    for (index, field) in target.fields().iter().enumerate() {
        let source = text.column(index);
        if field.data_type() == source.data_type() {
            columns.push(Arc::clone(source));
            continue;
        }
        let context = || format!("convert column {} of {object}", field.name());
        let converted = match zones::naive_parse_type(field) {
            // Offsets in the text are applied by the naive parse; the zone is then a tag.
            Some(naive) => {
                let instants =
                    cast_with_options(source, &naive, &options).map_err(arrow_error(context()))?;
                zones::tag_zone(&instants, field.data_type(), field.name())?
            }
            None => cast_with_options(source, field.data_type(), &options)
                .map_err(arrow_error(context()))?,
        };
        for (row, kept) in keep.iter_mut().enumerate() {
            if *kept && source.is_valid(row) && converted.is_null(row) {
                *kept = false;
                any_dirty = true;
                let value = source
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .map(|strings| strings.value(row).to_string())
                    .unwrap_or_default();
                dirty.push(DirtySample {
                    column: field.name().clone(),
                    reason: format!(
                        "\"{value}\" in {object} is not a valid {}",
                        field.data_type()
                    ),
                    row: describe_text_row(text, row),
                });
            }
        }
        columns.push(converted);
    }
    let batch = RecordBatch::try_new(Arc::clone(target), columns)
        .map_err(arrow_error(format!("assemble rows of {object}")))?;
    if !any_dirty {
        return Ok(batch);
    }
    arrow_select::filter::filter_record_batch(&batch, &BooleanArray::from(keep))
        .map_err(arrow_error(format!("drop dirty rows of {object}")))
}

fn describe_text_row(batch: &RecordBatch, row: usize) -> String {
    let mut object = serde_json::Map::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let value = match column.as_any().downcast_ref::<StringArray>() {
            Some(strings) if strings.is_valid(row) => {
                serde_json::Value::String(strings.value(row).to_string())
            }
            _ => serde_json::Value::Null,
        };
        object.insert(field.name().clone(), value);
    }
    serde_json::Value::Object(object).to_string()
}

/// Reads every row of a CSV object as `schema` (the source's full schema) and sends batches of
/// the `projection` columns.
///
/// # Errors
/// Read, decoding and CSV syntax errors naming the object.
pub async fn read(
    settings: &FileSettings,
    file: &DataFile,
    schema: &SchemaRef,
    projection: &[usize],
    batch_rows: usize,
    output: &BatchSender,
) -> Result<()> {
    let object = file.path.to_string();
    let text_schema = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|field| Field::new(field.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let mut decoder = arrow_csv::ReaderBuilder::new(text_schema)
        .with_format(format_of(settings)?)
        .with_truncated_rows(settings.csv.allow_short_rows)
        .with_batch_size(batch_rows.max(1))
        .build_decoder();
    let mut stream = TextStream::open(settings, file).await?;
    let mut dirty = Vec::new();
    let csv_error = |source: ArrowError| ConnectorError::Arrow {
        context: format!("parse CSV {object}"),
        source,
    };
    loop {
        let chunk = stream.next_chunk().await?;
        let at_end = chunk.is_none();
        let bytes = chunk.as_deref().unwrap_or(&[]);
        let mut offset = 0;
        loop {
            // An empty input tells the decoder the text ended: only pass one at the end.
            if offset < bytes.len() || at_end {
                offset += decoder.decode(&bytes[offset..]).map_err(csv_error)?;
            }
            if decoder.capacity() == 0 || at_end {
                if let Some(text) = decoder.flush().map_err(csv_error)? {
                    let converted = convert_text_batch(&text, schema, &object, &mut dirty)?;
                    for sample in dirty.drain(..) {
                        output
                            .counters()
                            .record_dirty(crate::DirtyStage::Read, sample);
                    }
                    let projected = converted
                        .project(projection)
                        .map_err(arrow_error(format!("project columns of {object}")))?;
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
    fn schemas_parse_and_errors_list_the_types() {
        let schema =
            parse_schema("id:int64, price:decimal(12;2),when:timestamptz").expect("schema");
        assert_eq!(schema.field(1).data_type(), &DataType::Decimal128(12, 2));
        assert_eq!(schema.field(0).name(), "id");
        let error = parse_schema("id:integer").expect_err("bad type");
        assert!(error.contains("int64"), "{error}");
    }

    #[test]
    fn numbers_that_would_lose_their_text_stay_text() {
        assert!(number_loses_text("08123", false));
        assert!(number_loses_text("+5", false));
        assert!(number_loses_text("-007.5", true));
        assert!(number_loses_text("12345678901234567", true));
        assert!(!number_loses_text("0", false));
        assert!(!number_loses_text("0.5", true));
        assert!(!number_loses_text("-12", false));
        assert!(
            !number_loses_text("133245162327228051", false),
            "fits an int64"
        );
    }

    #[test]
    fn floats_that_a_double_does_not_hold_stay_text() {
        assert!(number_loses_text(
            "9999999999999999999999999999.9999999999",
            true
        ));
        assert!(number_loses_text(
            "0.000000000000000000000000000001234567890123456789",
            true
        ));
        assert!(number_loses_text("1e400", true));
        assert!(
            !number_loses_text("1.5000000000", true),
            "trailing zeros are the same value"
        );
        assert!(!number_loses_text("1.7976931348623157e308", true));
        assert!(!number_loses_text("5e-324", true));
        assert!(!number_loses_text("-0.0", true));
        assert!(!number_loses_text("NaN", true));
        assert!(!number_loses_text("-inf", true));
        assert!(!number_loses_text("0.1", true));
    }

    #[test]
    fn zones_are_seen_after_the_time_of_day() {
        assert!(has_zone("2024-02-29T12:34:56.123456Z"));
        assert!(has_zone("2024-02-29 12:34:56+02:00"));
        assert!(has_zone("2024-02-29T12:34:56.5-0530"));
        assert!(!has_zone("2024-02-29 12:34:56.123456"));
        assert!(!has_zone("2024-02-29T12:34:56"));
    }

    #[test]
    fn zoned_targets_parse_offsets_into_utc_instants() {
        let text = RecordBatch::try_from_iter([(
            "at",
            Arc::new(StringArray::from(vec![
                Some("2024-02-29T12:34:56.123456+02:00"),
                Some("1970-01-01T00:00:00Z"),
                None,
            ])) as ArrayRef,
        )])
        .expect("batch");
        let target = Arc::new(Schema::new(vec![Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        )]));
        let mut dirty = Vec::new();
        let converted = convert_text_batch(&text, &target, "f.csv", &mut dirty).expect("convert");
        assert!(dirty.is_empty(), "{dirty:?}");
        let instants = converted
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
            .expect("timestamps");
        assert_eq!(instants.value(0), 1_709_202_896_123_456);
        assert_eq!(instants.value(1), 0);
        assert!(instants.is_null(2));
        assert_eq!(instants.timezone(), Some("UTC"));
    }

    #[test]
    fn values_that_do_not_parse_are_dirty_rows() {
        let text = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(StringArray::from(vec![Some("1"), Some("2.1"), None])) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a"), Some("b"), Some("c")])) as ArrayRef,
            ),
        ])
        .expect("batch");
        let target = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let mut dirty = Vec::new();
        let converted = convert_text_batch(&text, &target, "f.csv", &mut dirty).expect("convert");
        assert_eq!(converted.num_rows(), 2, "the NULL stays, 2.1 goes");
        assert_eq!(dirty.len(), 1);
        assert_eq!(dirty[0].column, "id");
        assert!(dirty[0].reason.contains("\"2.1\""), "{}", dirty[0].reason);
    }
}
