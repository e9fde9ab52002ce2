//! Real files from other projects (`shared/fixtures` beside the checkout, see its SOURCES.md), read in place
//! through the file connector. Every CSV, JSON and Parquet fixture is a row of [`CASES`]: it
//! either loads with the values checked here (row and column counts, spot values, or the
//! upstream project's own expected output) or fails with the documented reason
//! (docs/connectors/files.md, "Known limits").

#[path = "postgres_support.rs"]
mod support;

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use sluice_common::records::KeyRange;
use sluice_connectors::{batch_channel, DirtySample, ShardCounters};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The shared fixtures folder: `shared/fixtures` beside the repository checkout (override with
/// `SLUICE_FIXTURES`).
fn fixtures() -> String {
    let folder = std::env::var("SLUICE_FIXTURES").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").to_string()
    });
    assert!(
        std::path::Path::new(&folder).join("SOURCES.md").exists(),
        "fixtures not found at {folder}: the tests read the project's shared/fixtures folder beside the checkout (or set SLUICE_FIXTURES)"
    );
    folder
}

/// What reading a fixture must give.
enum Expect {
    /// Loads: this many rows and columns, then `check` on the rows.
    Loads {
        rows: usize,
        columns: usize,
        check: fn(&Loaded),
    },
    /// A csv-spectrum file: equal to its upstream JSON (every value as text; empty is NULL).
    Spectrum,
    /// Fails with an error containing this text.
    Fails(&'static str),
}

struct Case {
    file: &'static str,
    options: &'static str,
    expect: Expect,
}

/// The rows of a fixture, as batches and as display text.
struct Loaded {
    batches: Vec<RecordBatch>,
    dirty: Vec<DirtySample>,
}

impl Loaded {
    fn column_names(&self) -> Vec<String> {
        self.batches
            .first()
            .map(|batch| {
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|field| field.name().clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn data_type(&self, column: &str) -> String {
        let batch = &self.batches[0];
        batch
            .schema()
            .field_with_name(column)
            .expect("column")
            .data_type()
            .to_string()
    }

    /// Returns every value of `column` as display text (`None` for NULL).
    fn text(&self, column: &str) -> Vec<Option<String>> {
        let mut values = Vec::new();
        for batch in &self.batches {
            // Display needs offset zones (no time zone database): `UTC` instants as `+00:00`.
            let batch = sluice_connectors::file::zones::offset_zones(batch.clone()).expect("zones");
            let array = batch.column(batch.schema().index_of(column).expect("column"));
            let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
                .expect("formatter");
            for row in 0..batch.num_rows() {
                values.push(
                    array
                        .is_valid(row)
                        .then(|| formatter.value(row).to_string()),
                );
            }
        }
        values
    }
}

async fn load(file: &str, options: &str) -> Result<Loaded, String> {
    let yaml = format!("{{type: file, path: \"{}/{file}\"{options}}}", fixtures());
    let job = support::spec(&format!(
        "source: {{connection: {yaml}}}\nsink: {{connection: {yaml}}}\n"
    ));
    let source = sluice_connectors::open_source(&job, &support::source_connection(&job))
        .map_err(|e| e.to_string())?;
    let counters = Arc::new(ShardCounters::default());
    let (sender, mut receiver) = batch_channel(4, Arc::clone(&counters));
    let reader = async {
        let result = source.read(&KeyRange::All, &sender).await;
        match result {
            Ok(()) => sender.finish().await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        }
    };
    let collector = async {
        let mut batches = Vec::new();
        while let Ok(Some(batch)) = receiver.next().await {
            batches.push(batch);
        }
        batches
    };
    let (result, batches) = tokio::join!(reader, collector);
    result?;
    Ok(Loaded {
        batches,
        dirty: counters.take_dirty_samples(),
    })
}

fn check_spectrum(file: &str, loaded: &Loaded) {
    let expected_path = format!(
        "{}/{}",
        fixtures(),
        file.replace("/csvs/", "/json/").replace(".csv", ".json")
    );
    let expected: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("expected json"))
            .expect("json array");
    let columns = loaded.column_names();
    let texts: Vec<Vec<Option<String>>> =
        columns.iter().map(|column| loaded.text(column)).collect();
    assert_eq!(texts[0].len(), expected.len(), "{file}: rows");
    for (row, record) in expected.iter().enumerate() {
        for (index, column) in columns.iter().enumerate() {
            let want = record
                .get(column)
                .and_then(|value| value.as_str())
                .unwrap_or_default();
            let got = texts[index][row].clone().unwrap_or_default();
            assert_eq!(got, want, "{file}: row {row} column {column}");
        }
    }
}

fn no_check(_: &Loaded) {}

/// Compares a parquet-testing file with its `_expect.csv` (values as text).
fn check_against_expect_csv(parquet: &str, loaded: &Loaded) {
    let expect_file = parquet.replace(".parquet", "_expect.csv");
    let runtime_expected = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(load(&expect_file, ""))
            })
            .join()
            .expect("thread")
    })
    .expect("expect csv loads");
    for column in loaded.column_names() {
        let expected_column = runtime_expected
            .column_names()
            .into_iter()
            .find(|name| name.trim() == column)
            .expect("expected column");
        assert_eq!(
            loaded.text(&column),
            runtime_expected.text(&expected_column),
            "{parquet}: column {column}"
        );
    }
}

const CASES: &[Case] = &[
    // csv-spectrum: every case against its upstream JSON.
    Case {
        file: "csv/csv-spectrum/csvs/comma_in_quotes.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/empty.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/empty_crlf.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/escaped_quotes.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/json.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/newlines.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/newlines_crlf.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/quotes_and_newlines.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/simple.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/simple_crlf.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    Case {
        file: "csv/csv-spectrum/csvs/utf8.csv",
        options: "",
        expect: Expect::Spectrum,
    },
    // Upstream's JSON for this one is wrong (another phone number, an object): checked by hand.
    Case {
        file: "csv/csv-spectrum/csvs/location_coordinates.csv",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 4,
            check: |loaded| {
                assert_eq!(
                    loaded.text("Contact Phone Number"),
                    vec![Some("2095257564".into())]
                );
                assert_eq!(
                    loaded.text("Location Coordinates"),
                    vec![Some("37\u{FFFD}36'37.8\"N 121\u{FFFD}2'17.9\"W".into())]
                );
            },
        },
    },
    // JSON documents are checked against the expected JSON here too (they are not CSV).
    Case {
        file: "csv/csv-spectrum/json/json.json",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 2,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/test1.csv",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 10,
            check: |loaded| {
                assert_eq!(
                    loaded.text("first_name")[0].as_deref(),
                    Some("AOCG,\"\n883")
                );
                assert_eq!(
                    loaded.data_type("code"),
                    "Float64",
                    "2.1 makes code a decimal number"
                );
                assert_eq!(loaded.data_type("date"), "Date32");
                assert_eq!(loaded.data_type("target"), "Boolean");
                assert_eq!(
                    loaded
                        .text("date")
                        .iter()
                        .filter(|value| value.is_none())
                        .count(),
                    142
                );
                assert_eq!(
                    loaded.text("create_dt")[0].as_deref(),
                    Some("2019-02-11T11:23:00.501")
                );
                assert!(loaded.dirty.is_empty());
            },
        },
    },
    Case {
        file: "csv/sling/test1.1.csv",
        options: "",
        expect: Expect::Loads {
            rows: 18,
            columns: 8,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/test1.1.csv.gz",
        options: "",
        expect: Expect::Loads {
            rows: 18,
            columns: 7,
            check: |loaded| assert_eq!(loaded.text("id")[17].as_deref(), Some("18")),
        },
    },
    Case {
        file: "csv/sling/test1.2.csv",
        options: "",
        expect: Expect::Loads {
            rows: 18,
            columns: 7,
            check: |loaded| {
                assert_eq!(loaded.data_type("id"), "Float64");
                assert_eq!(loaded.text("id")[17].as_deref(), Some("18.1"));
            },
        },
    },
    Case {
        file: "csv/sling/test1.skiplines.csv",
        options: ", skip_lines: 4",
        expect: Expect::Loads {
            rows: 6,
            columns: 3,
            check: |loaded| {
                assert_eq!(loaded.column_names(), vec!["name", "password", "file_name"])
            },
        },
    },
    Case {
        file: "csv/sling/test1.upsert.csv",
        options: "",
        expect: Expect::Loads {
            rows: 14,
            columns: 10,
            check: |loaded| {
                assert!(loaded
                    .text("json_data")
                    .iter()
                    .flatten()
                    .any(|value| value.starts_with('{')))
            },
        },
    },
    Case {
        file: "csv/sling/test2.1.noheader.csv",
        options: ", header: false",
        expect: Expect::Loads {
            rows: 18,
            columns: 7,
            check: |loaded| assert_eq!(loaded.text("column_2")[0].as_deref(), Some("AOCG,\"\n883")),
        },
    },
    Case {
        file: "csv/sling/test2.csv",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 7,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/test4.csv",
        options: ", delimiter: \"|\", escape: \"\\\\\"",
        expect: Expect::Loads {
            rows: 4,
            columns: 3,
            check: |loaded| {
                assert_eq!(
                    loaded.text("header")[0].as_deref(),
                    Some("column2 data with \"space\"")
                );
                assert_eq!(
                    loaded.text("col1")[3].as_deref(),
                    Some("column2 data with\nheeelo \"space\" -- ")
                );
            },
        },
    },
    Case {
        file: "csv/sling/test5.csv",
        options: ", delimiter: \";\", allow_short_rows: true",
        expect: Expect::Loads {
            rows: 36,
            columns: 5,
            check: |loaded| {
                assert_eq!(
                    loaded
                        .text("TimeStampISO")
                        .iter()
                        .filter(|value| value.is_none())
                        .count(),
                    2
                );
                assert_eq!(
                    loaded.text("TimeStamp")[0].as_deref(),
                    Some("133245162327228051"),
                    "19 digits stay exact"
                );
                assert_eq!(
                    loaded.text("Value")[0].as_deref(),
                    Some("45,3828582763672"),
                    "a decimal comma stays text"
                );
            },
        },
    },
    Case {
        file: "csv/sling/test5.csv",
        options: ", delimiter: \";\"",
        expect: Expect::Fails("unequal lengths between records"),
    },
    Case {
        file: "csv/sling/test6.csv",
        options: ", header: false, delimiter: \";\"",
        expect: Expect::Loads {
            rows: 2,
            columns: 5,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/test7.csv",
        options: ", delimiter: \"|\", quote: \"'\", escape: \"\\\\\"",
        expect: Expect::Loads {
            rows: 3,
            columns: 3,
            check: |loaded| {
                assert_eq!(
                    loaded.text("header")[0].as_deref(),
                    Some("data with single quote ' inside")
                );
                assert_eq!(
                    loaded.text("col1")[1].as_deref(),
                    Some("data with pipe | inside")
                );
            },
        },
    },
    Case {
        file: "csv/sling/test8.csv",
        options: ", delimiter: \"|\", quote: \"$\", escape: \"\\\\\"",
        expect: Expect::Loads {
            rows: 3,
            columns: 3,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/test9.csv.zip",
        options: ", format: csv",
        expect: Expect::Fails("zip is not supported"),
    },
    Case {
        file: "csv/sling/test_wide_columns.csv",
        options: "",
        expect: Expect::Loads {
            rows: 5,
            columns: 51,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/test.wide.csv",
        options: "",
        expect: Expect::Loads {
            rows: 100,
            columns: 301,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/test.bytes.csv",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 1,
            check: |loaded| {
                let value = loaded.text("byte_val")[0].clone().unwrap_or_default();
                assert_eq!(value.len(), 23_794);
                assert!(
                    value.starts_with("\\x89504e47"),
                    "a PNG as hex text, read as text"
                );
            },
        },
    },
    Case {
        file: "csv/sling/disc763_explicit_cast.csv",
        options: "",
        expect: Expect::Loads {
            rows: 3,
            columns: 2,
            check: |loaded| assert!(loaded.data_type("rowid").starts_with("Timestamp")),
        },
    },
    Case {
        file: "csv/sling/my_file.utf16.csv",
        options: ", encoding: utf-16le",
        expect: Expect::Loads {
            rows: 2,
            columns: 5,
            check: no_check,
        },
    },
    Case {
        file: "csv/sling/my_file.utf16.csv",
        options: "",
        expect: Expect::Fails("UTF-8"),
    },
    // JSON.
    Case {
        file: "json/sling/test1_test1.json",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 7,
            check: |loaded| {
                assert_eq!(
                    loaded.column_names()[0],
                    "id",
                    "columns keep the file's order"
                );
                assert_eq!(loaded.data_type("target"), "Boolean");
            },
        },
    },
    Case {
        file: "json/sling/test1_test1.1.json",
        options: "",
        expect: Expect::Loads {
            rows: 18,
            columns: 7,
            check: no_check,
        },
    },
    Case {
        file: "json/sling/test2_test1.2.json",
        options: "",
        expect: Expect::Loads {
            rows: 2,
            columns: 8,
            check: |loaded| {
                assert_eq!(
                    loaded.data_type("extraCol2"),
                    "Utf8",
                    "a string and a number: text"
                );
                assert_eq!(loaded.text("extraCol2").iter().flatten().count(), 2);
            },
        },
    },
    Case {
        file: "json/sling/test3.json",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 2,
            check: |loaded| assert!(loaded.data_type("Col2").starts_with("Struct")),
        },
    },
    Case {
        file: "json/sling/test_jq.json",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 1,
            check: |loaded| assert!(loaded.data_type("data").starts_with("List(Struct")),
        },
    },
    // Parquet.
    Case {
        file: "parquet/sling/test1.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 9,
            check: |loaded| assert_eq!(loaded.data_type("rating"), "Decimal128(28, 9)"),
        },
    },
    Case {
        file: "parquet/sling/test1.1.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 18,
            columns: 9,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/alltypes_plain.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 8,
            columns: 11,
            check: |loaded| {
                let ids: Vec<Option<String>> = [4, 5, 6, 7, 2, 3, 0, 1]
                    .iter()
                    .map(|id: &i32| Some(id.to_string()))
                    .collect();
                assert_eq!(loaded.text("id"), ids);
            },
        },
    },
    Case {
        file: "parquet/parquet-testing/alltypes_dictionary.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 2,
            columns: 11,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/alltypes_plain.snappy.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 2,
            columns: 11,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/alltypes_tiny_pages.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 7300,
            columns: 13,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/binary.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 12,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/byte_array_decimal.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 24,
            columns: 1,
            check: |loaded| {
                assert_eq!(
                    loaded.text("value"),
                    (1..=24)
                        .map(|v| Some(format!("{v}.00")))
                        .collect::<Vec<_>>()
                )
            },
        },
    },
    Case {
        file: "parquet/parquet-testing/byte_stream_split.zstd.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 300,
            columns: 2,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/concatenated_gzip_members.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 513,
            columns: 1,
            check: |loaded| assert_eq!(loaded.text("long_col")[512].as_deref(), Some("513")),
        },
    },
    Case {
        file: "parquet/parquet-testing/datapage_v2.snappy.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 5,
            columns: 5,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/delta_binary_packed.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 200,
            columns: 66,
            check: |loaded| {
                check_against_expect_csv(
                    "parquet/parquet-testing/delta_binary_packed.parquet",
                    loaded,
                )
            },
        },
    },
    Case {
        file: "parquet/parquet-testing/delta_byte_array.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 9,
            check: |loaded| {
                check_against_expect_csv("parquet/parquet-testing/delta_byte_array.parquet", loaded)
            },
        },
    },
    Case {
        file: "parquet/parquet-testing/delta_encoding_optional_column.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 100,
            columns: 17,
            check: |loaded| {
                check_against_expect_csv(
                    "parquet/parquet-testing/delta_encoding_optional_column.parquet",
                    loaded,
                )
            },
        },
    },
    Case {
        file: "parquet/parquet-testing/delta_binary_packed_expect.csv",
        options: "",
        expect: Expect::Loads {
            rows: 200,
            columns: 66,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/delta_byte_array_expect.csv",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 9,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/delta_encoding_optional_column_expect.csv",
        options: "",
        expect: Expect::Loads {
            rows: 100,
            columns: 17,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/delta_length_byte_array.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/dict-page-offset-zero.parquet",
        options: "",
        expect: Expect::Fails("Expected list element type"),
    },
    Case {
        file: "parquet/parquet-testing/fixed_length_decimal.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 24,
            columns: 1,
            check: |loaded| assert_eq!(loaded.data_type("value"), "Decimal128(25, 2)"),
        },
    },
    Case {
        file: "parquet/parquet-testing/fixed_length_decimal_legacy.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 24,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/float16_nonzeros_and_nans.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 8,
            columns: 1,
            check: |loaded| assert_eq!(loaded.data_type("x"), "Float16"),
        },
    },
    Case {
        file: "parquet/parquet-testing/hadoop_lz4_compressed.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 4,
            columns: 3,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/int32_decimal.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 24,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/int32_with_null_pages.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1000,
            columns: 1,
            check: |loaded| {
                assert_eq!(
                    loaded
                        .text("int32_field")
                        .iter()
                        .filter(|v| v.is_none())
                        .count(),
                    275
                )
            },
        },
    },
    Case {
        file: "parquet/parquet-testing/int64_decimal.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 24,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/int96_from_spark.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 6,
            columns: 1,
            check: |loaded| {
                use arrow_array::cast::AsArray;
                use arrow_array::types::TimestampMicrosecondType;
                let values: Vec<Option<i64>> = loaded.batches[0]
                    .column(0)
                    .as_primitive::<TimestampMicrosecondType>()
                    .iter()
                    .collect();
                assert_eq!(
                    values,
                    vec![
                        Some(1_704_141_296_123_456),
                        Some(1_704_070_800_000_000),
                        Some(253_402_225_200_000_000),
                        Some(1_735_599_600_000_000),
                        None,
                        Some(9_089_380_393_200_000_000)
                    ],
                    "INT96 read as microseconds keeps dates past 2262"
                );
            },
        },
    },
    Case {
        file: "parquet/parquet-testing/list_columns.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 3,
            columns: 2,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/lz4_raw_compressed.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 4,
            columns: 3,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/nan_in_stats.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 2,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/nested_lists.snappy.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 3,
            columns: 2,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/nested_maps.snappy.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 6,
            columns: 3,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/nested_structs.rust.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 36,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/non_hadoop_lz4_compressed.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 4,
            columns: 3,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/nonnullable.impala.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 6,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/null_list.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/nullable.impala.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 7,
            columns: 6,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/nulls.snappy.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 8,
            columns: 1,
            check: no_check,
        },
    },
    Case {
        file: "parquet/parquet-testing/repeated_no_annotation.parquet",
        options: "",
        expect: Expect::Fails("decoded 0 rows but its row groups declare 6"),
    },
    Case {
        file: "parquet/parquet-testing/single_nan.parquet",
        options: "",
        expect: Expect::Loads {
            rows: 1,
            columns: 1,
            check: no_check,
        },
    },
];

#[tokio::test]
async fn every_fixture_loads_exactly_or_fails_with_its_documented_reason() {
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for case in CASES {
        covered.insert(case.file);
        let outcome = load(case.file, case.options).await;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            match (&case.expect, &outcome) {
                (Expect::Fails(reason), Err(error)) => {
                    assert!(error.contains(reason), "error {error:?} lacks {reason:?}")
                }
                (Expect::Fails(reason), Ok(_)) => panic!("loaded, but should fail with {reason:?}"),
                (_, Err(error)) => panic!("failed: {error}"),
                (Expect::Spectrum, Ok(loaded)) => check_spectrum(case.file, loaded),
                (
                    Expect::Loads {
                        rows,
                        columns,
                        check,
                    },
                    Ok(loaded),
                ) => {
                    let read: usize = loaded.batches.iter().map(RecordBatch::num_rows).sum();
                    assert_eq!(read, *rows, "rows");
                    assert_eq!(loaded.column_names().len(), *columns, "columns");
                    check(loaded);
                }
            }
        }));
        if let Err(panic) = result {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_default();
            failures.push(format!("{} ({}): {message}", case.file, case.options));
        }
    }
    // Every CSV, JSON and Parquet fixture is covered.
    let mut missing = Vec::new();
    for folder in [
        "csv/csv-spectrum/csvs",
        "csv/sling",
        "json/sling",
        "parquet/sling",
        "parquet/parquet-testing",
    ] {
        for entry in std::fs::read_dir(format!("{}/{folder}", fixtures())).expect("fixture folder")
        {
            let name = format!(
                "{folder}/{}",
                entry.expect("entry").file_name().to_string_lossy()
            );
            if !name.ends_with(".md") && !covered.contains(name.as_str()) {
                missing.push(name);
            }
        }
    }
    assert!(missing.is_empty(), "fixtures without a case: {missing:?}");
    assert!(
        failures.is_empty(),
        "{} fixture cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
