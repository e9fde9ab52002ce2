//! DataWorks script-mode job JSON (`{"type": "job", "version": "2.0", "steps": [...],
//! "setting": {...}, "order": {"hops": [...]}}`) translated into a [`JobSpec`].
//!
//! Readers and writers name a data source of the job's workspace (`datasource`) instead of a
//! JDBC URL; otherwise their parameters are DataX's, and the same translation (and the same
//! refusal of unknown keys) applies. `docs/dataworks.md` lists every key.

use super::{join, Flavor, Node, Translator};
use crate::error::{SpecError, SpecErrors};
use crate::spec::{ErrorLimit, JobSpec, Settings, SinkSpec, SourceSpec, Speed};
use serde_json::Value;

/// Returns whether `text` is a DataWorks script-mode job: a JSON object with `"type": "job"`
/// and `steps`.
pub fn is_dataworks_job(text: &str) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            map.get("type").and_then(Value::as_str) == Some("job") && map.contains_key("steps")
        }
        _ => false,
    }
}

/// Translates a DataWorks script-mode job into a job spec (not yet validated). Its data
/// sources are resolved in the workspace the job is submitted to.
///
/// # Errors
/// Every problem found, each with the JSON path of the key (`steps[1].parameter.writeMode`).
pub fn translate_dataworks(text: &str) -> Result<JobSpec, SpecErrors> {
    let document: Value = serde_json::from_str(text).map_err(|error| {
        SpecErrors::from(SpecError::new("", format!("not valid JSON: {error}")))
    })?;
    let mut translator = Translator::default();
    let spec = translator.dataworks_document(&document);
    if translator.errors.is_empty() {
        spec.ok_or_else(|| SpecErrors::from(SpecError::new("", "could not be translated")))
    } else {
        Err(SpecErrors(translator.errors))
    }
}

/// DataWorks `stepType`s Sluice can read from.
const READER_STEPS: &[&str] = &["mysql", "postgresql", "stream"];
/// DataWorks `stepType`s Sluice can write to.
const WRITER_STEPS: &[&str] = &["mysql", "postgresql", "stream"];
/// Other DataWorks step types: "not supported yet" rather than unknown.
const OTHER_STEPS: &[&str] = &[
    "odps",
    "oss",
    "hdfs",
    "ftp",
    "oracle",
    "sqlserver",
    "drds",
    "polardb",
    "polardbx",
    "hologres",
    "analyticdb_for_mysql",
    "ads",
    "mongodb",
    "elasticsearch",
    "kafka",
    "datahub",
    "loghub",
    "clickhouse",
    "starrocks",
    "doris",
    "hive",
    "hbase",
    "otsstream",
    "ots",
    "redis",
    "db2",
    "dm",
    "gbase8a",
    "kingbasees",
    "oceanbase",
    "opensearch",
    "selectdb",
    "tsdb",
    "vertica",
];

/// One entry of `steps`.
struct Step<'a> {
    index: usize,
    name: String,
    step_type: String,
    parameter: Node<'a>,
}

impl Translator {
    fn dataworks_document(&mut self, document: &Value) -> Option<JobSpec> {
        let root = self.object("", document)?;
        self.check_keys(root, &["type", "version", "steps", "setting", "order"]);
        match self.string(root, "version").as_deref() {
            Some("2.0") => {}
            Some("1.0") => self.not_yet(
                "version",
                "script version 1.0 (configuration.reader/writer); use version 2.0 with steps",
            ),
            Some(other) => self.error("version", format!("\"{other}\" is not 2.0")),
            None => self.error("version", "is required: \"2.0\""),
        }
        let mut settings = Settings::default();
        if let Some(value) = root.map.get("setting") {
            if let Some(setting) = self.object("setting", value) {
                self.dataworks_setting(setting, &mut settings);
            }
        }
        let Some(Value::Array(step_values)) = root.map.get("steps") else {
            self.error("steps", "must be a list of one reader and one writer step");
            return None;
        };
        let paths: Vec<String> = (0..step_values.len())
            .map(|index| format!("steps[{index}]"))
            .collect();
        let parameter_paths: Vec<String> = paths
            .iter()
            .map(|path| format!("{path}.parameter"))
            .collect();
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for (index, value) in step_values.iter().enumerate() {
            let Some(step) = self.object(&paths[index], value) else {
                continue;
            };
            self.check_keys(step, &["stepType", "parameter", "name", "category"]);
            let step_type = self.required_string(step, "stepType");
            let name = self.required_string(step, "name");
            let category = self.required_string(step, "category");
            let parameter = match step.map.get("parameter") {
                Some(value) => self.object(&parameter_paths[index], value),
                None => {
                    self.error(join(step.path, "parameter"), "is required");
                    None
                }
            };
            let (Some(step_type), Some(name), Some(category), Some(parameter)) =
                (step_type, name, category, parameter)
            else {
                continue;
            };
            let entry = Step {
                index,
                name,
                step_type: step_type.to_ascii_lowercase(),
                parameter,
            };
            match category.as_str() {
                "reader" => readers.push(entry),
                "writer" => writers.push(entry),
                other => self.error(
                    join(step.path, "category"),
                    format!(
                        "\"{other}\" is not a step category Sluice knows; use reader or writer"
                    ),
                ),
            }
        }
        if readers.len() != 1 || writers.len() != 1 {
            self.not_yet(
                "steps",
                &format!(
                    "{} reader and {} writer steps; Sluice runs one reader and one writer per job",
                    readers.len(),
                    writers.len()
                ),
            );
            return None;
        }
        let reader = readers.pop()?;
        let writer = writers.pop()?;
        self.dataworks_order(root, &reader, &writer);
        let channels = u64::from(settings.parallelism.max(1));
        let source = self.dataworks_reader(&reader, channels);
        let sink = self.dataworks_writer(&writer, &mut settings);
        Some(JobSpec {
            source: source?,
            sink: sink?,
            settings,
            transformers: Vec::new(),
            mapping: None,
        })
    }

    /// `order.hops`: optional; when given, exactly the one hop from the reader to the writer.
    fn dataworks_order(&mut self, root: Node<'_>, reader: &Step<'_>, writer: &Step<'_>) {
        let Some(value) = root.map.get("order") else {
            return;
        };
        let Some(order) = self.object("order", value) else {
            return;
        };
        self.check_keys(order, &["hops"]);
        let Some(Value::Array(hops)) = order.map.get("hops") else {
            self.error(
                "order.hops",
                "must be a list like [{\"from\": \"Reader\", \"to\": \"Writer\"}]",
            );
            return;
        };
        let expected = format!(
            "[{{\"from\": \"{}\", \"to\": \"{}\"}}]",
            reader.name, writer.name
        );
        let matches = hops.len() == 1
            && hops[0].get("from").and_then(Value::as_str) == Some(reader.name.as_str())
            && hops[0].get("to").and_then(Value::as_str) == Some(writer.name.as_str())
            && hops[0].as_object().is_some_and(|hop| hop.len() == 2);
        if !matches {
            self.not_yet(
                "order.hops",
                &format!("hops other than the reader step to the writer step; expected {expected}"),
            );
        }
    }

    fn dataworks_setting(&mut self, setting: Node<'_>, settings: &mut Settings) {
        self.check_keys(setting, &["speed", "errorLimit"]);
        if let Some(value) = setting.map.get("speed") {
            if let Some(speed) = self.object("setting.speed", value) {
                self.check_keys(speed, &["throttle", "concurrent", "mbps", "dmu"]);
                if let Some(concurrent) = self.unsigned(speed, "concurrent") {
                    match u32::try_from(concurrent) {
                        Ok(parallelism) if parallelism > 0 => settings.parallelism = parallelism,
                        _ => self.error("setting.speed.concurrent", "must be from 1 to 4294967295"),
                    }
                }
                // dmu sizes DataWorks' resource group; workers are sized by their count here.
                let _ = self.unsigned(speed, "dmu");
                let throttle = match speed.map.get("throttle") {
                    None => None,
                    Some(Value::Bool(flag)) => Some(*flag),
                    Some(Value::String(text)) if text == "true" || text == "false" => {
                        Some(text == "true")
                    }
                    Some(_) => {
                        self.error("setting.speed.throttle", "must be true or false");
                        None
                    }
                };
                let mbps = self.unsigned(speed, "mbps");
                match (throttle, mbps) {
                    (Some(true), Some(mbps)) if mbps > 0 => {
                        settings.speed = Some(Speed {
                            records_per_second: None,
                            bytes_per_second: mbps.checked_mul(1 << 20),
                            concurrent: None,
                            throttle: true,
                        });
                    }
                    (Some(true), _) => self.error(
                        "setting.speed.mbps",
                        "is required when throttle is true: the job's limit in MB/s (or set throttle: false)",
                    ),
                    (Some(false), Some(_)) => self.error(
                        "setting.speed.mbps",
                        "has no effect when throttle is false; remove it or set throttle: true",
                    ),
                    _ => {}
                }
            }
        }
        if let Some(value) = setting.map.get("errorLimit") {
            if let Some(limit) = self.object("setting.errorLimit", value) {
                self.check_keys(limit, &["record"]);
                // DataWorks writes the limit as a string ("0") or leaves it empty (no limit).
                let empty = limit
                    .map
                    .get("record")
                    .and_then(Value::as_str)
                    .is_some_and(|text| text.trim().is_empty());
                if !empty {
                    if let Some(record) = self.unsigned(limit, "record") {
                        settings.error_limit = Some(ErrorLimit {
                            record: Some(record),
                            percentage: None,
                        });
                    }
                }
            }
        }
    }

    fn dataworks_reader(&mut self, step: &Step<'_>, channels: u64) -> Option<SourceSpec> {
        let path = format!("steps[{}].stepType", step.index);
        match step.step_type.as_str() {
            "mysql" => self.rdbms_reader("mysqlreader", step.parameter, Flavor::DataWorks),
            "postgresql" => {
                self.rdbms_reader("postgresqlreader", step.parameter, Flavor::DataWorks)
            }
            "stream" => self.stream_reader(step.parameter, channels),
            other => {
                self.unknown_step(&path, other, READER_STEPS);
                None
            }
        }
    }

    fn dataworks_writer(&mut self, step: &Step<'_>, settings: &mut Settings) -> Option<SinkSpec> {
        let path = format!("steps[{}].stepType", step.index);
        match step.step_type.as_str() {
            "mysql" => self.rdbms_writer("mysql", step.parameter, settings, Flavor::DataWorks),
            "postgresql" => {
                self.rdbms_writer("postgresql", step.parameter, settings, Flavor::DataWorks)
            }
            "stream" => self.stream_writer(step.parameter),
            other => {
                self.unknown_step(&path, other, WRITER_STEPS);
                None
            }
        }
    }

    fn unknown_step(&mut self, path: &str, step_type: &str, known: &[&str]) {
        if OTHER_STEPS.contains(&step_type) {
            self.not_yet(
                path,
                &format!(
                    "the DataWorks step type {step_type} needs a connector Sluice does not have yet; supported here: {}",
                    known.join(", ")
                ),
            );
        } else {
            self.error(
                path,
                format!(
                    "\"{step_type}\" is not a DataWorks step type Sluice knows; supported here: {}",
                    known.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#"{
      "type": "job",
      "version": "2.0",
      "steps": [
        {"stepType": "mysql", "name": "Reader", "category": "reader",
         "parameter": {"datasource": "orders_mysql", "table": ["orders"],
                       "column": ["id", "amount"], "splitPk": "id",
                       "where": "created >= '${bizdate}'", "encoding": "UTF-8"}},
        {"stepType": "postgresql", "name": "Writer", "category": "writer",
         "parameter": {"datasource": "dw_pg", "table": "public.orders", "column": ["id", "amount"],
                       "preSql": ["delete from @table where day = '${bizdate}'"], "postSql": [],
                       "writeMode": "insert"}}
      ],
      "setting": {"errorLimit": {"record": "10"},
                  "speed": {"throttle": true, "concurrent": 3, "mbps": "12"}},
      "order": {"hops": [{"from": "Reader", "to": "Writer"}]}
    }"#;

    fn translate(text: &str) -> Result<JobSpec, String> {
        translate_dataworks(text).map_err(|errors| errors.to_string())
    }

    #[test]
    fn a_script_mode_job_maps_every_key() {
        assert!(is_dataworks_job(JOB));
        let spec = translate(JOB).expect("translates");
        assert_eq!(spec.source.datasource.as_deref(), Some("orders_mysql"));
        assert!(spec.source.connection.is_none());
        assert_eq!(spec.source.table.as_deref(), Some("orders"));
        assert_eq!(spec.source.columns, vec!["id", "amount"]);
        assert_eq!(spec.source.split_pk.as_deref(), Some("id"));
        assert_eq!(
            spec.source.where_clause.as_deref(),
            Some("created >= '${bizdate}'")
        );
        assert_eq!(spec.sink.datasource.as_deref(), Some("dw_pg"));
        assert_eq!(spec.sink.table.as_deref(), Some("public.orders"));
        assert_eq!(
            spec.sink.pre_sql,
            vec!["delete from public.orders where day = '${bizdate}'"]
        );
        assert_eq!(spec.settings.parallelism, 3);
        let speed = spec.settings.speed.expect("speed");
        assert_eq!(speed.bytes_per_second, Some(12 << 20));
        assert!(speed.throttle);
        assert_eq!(
            spec.settings.error_limit.and_then(|limit| limit.record),
            Some(10)
        );
    }

    #[test]
    fn connection_lists_and_query_sql_resolve_too() {
        let text = JOB.replace(
            r#""datasource": "orders_mysql", "table": ["orders"],"#,
            r#""connection": [{"datasource": "orders_mysql", "querySql": ["select id, amount from orders;"]}],"#,
        );
        let spec = translate(&text).expect("translates");
        assert_eq!(spec.source.datasource.as_deref(), Some("orders_mysql"));
        assert_eq!(
            spec.source.query.as_deref(),
            Some("select id, amount from orders")
        );
        assert!(spec.source.table.is_none());
    }

    #[test]
    fn unknown_unsupported_and_inconsistent_keys_are_named() {
        let text = JOB
            .replace(r#""encoding": "UTF-8""#, r#""encodin": "UTF-8""#)
            .replace(r#""stepType": "postgresql""#, r#""stepType": "odps""#)
            .replace(r#""to": "Writer""#, r#""to": "Elsewhere""#);
        let message = translate(&text).expect_err("refused");
        for expected in [
            "steps[0].parameter.encodin: is not a key Sluice knows here",
            "steps[1].stepType: not supported yet: the DataWorks step type odps",
            "order.hops: not supported yet: hops other than the reader step to the writer step",
        ] {
            assert!(message.contains(expected), "{expected} in {message}");
        }
        let text = JOB.replace(r#""throttle": true"#, r#""throttle": false"#);
        let message = translate(&text).expect_err("mbps without throttle");
        assert!(
            message.contains("setting.speed.mbps: has no effect"),
            "{message}"
        );
        let text = JOB.replace(r#""datasource": "dw_pg", "#, "");
        let message = translate(&text).expect_err("no data source");
        assert!(
            message.contains("steps[1].parameter.datasource: is required"),
            "{message}"
        );
        let text = JOB.replace(r#""writeMode": "insert""#, r#""writeMode": "replace""#);
        let message = translate(&text).expect_err("replace on postgresql");
        assert!(
            message.contains("\"replace\" is not a write mode of postgresql"),
            "{message}"
        );
    }

    #[test]
    fn throttle_false_is_unlimited_and_stream_steps_work() {
        let text = r#"{"type": "job", "version": "2.0",
          "steps": [
            {"stepType": "stream", "name": "Reader", "category": "reader",
             "parameter": {"sliceRecordCount": 5, "column": [{"value": 1, "type": "long"}]}},
            {"stepType": "stream", "name": "Writer", "category": "writer",
             "parameter": {"print": false}}],
          "setting": {"speed": {"throttle": false, "concurrent": 2}, "errorLimit": {"record": ""}}}"#;
        let spec = translate(text).expect("translates");
        assert!(spec.settings.speed.is_none());
        assert!(spec.settings.error_limit.is_none());
        let source = spec.source.connection.expect("stream source");
        assert_eq!(source.options.get("rows"), Some(&Value::from(10u64)));
    }
}
