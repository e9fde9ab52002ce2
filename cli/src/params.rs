//! `--param`, `--cycle-time` and `--time-zone`: the values of a spec's placeholders.

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use clap::Args;
use sluice_common::spec::ParamContext;
use std::collections::BTreeMap;

/// Parameter options shared by `sluice run`, `sluice job submit` and `sluice compare`.
#[derive(Debug, Clone, Default, Args)]
pub struct ParamArgs {
    /// Value of a `${NAME}` placeholder of the spec, as NAME=VALUE (repeatable). A value may
    /// itself be a built-in date such as `$bizdate` or `${yyyy-mm-dd-1}`; see docs/parameters.md.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Cycle (scheduled) time the built-in dates derive from ($bizdate is the day before it):
    /// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (in --time-zone) or RFC 3339. Default: now.
    #[arg(long, value_name = "TIME")]
    pub cycle_time: Option<String>,
    /// IANA time zone of the cycle time and of the built-in dates, e.g. Asia/Shanghai.
    #[arg(long, env = "SLUICE_TIME_ZONE", default_value = "UTC")]
    pub time_zone: String,
}

impl ParamArgs {
    /// Returns the parameters by name.
    ///
    /// # Errors
    /// When a `--param` is not NAME=VALUE with a valid name, or is given twice.
    pub fn values(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut values = BTreeMap::new();
        for param in &self.params {
            let Some((name, value)) = param.split_once('=') else {
                bail!("--param {param:?}: write it as NAME=VALUE");
            };
            let valid = name
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
                && name
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '_');
            if !valid {
                bail!("--param {param:?}: the name must be letters, digits and `_`, not starting with a digit");
            }
            if values.insert(name.to_string(), value.to_string()).is_some() {
                bail!("--param {name} is given twice");
            }
        }
        Ok(values)
    }

    /// Returns the cycle time as an instant.
    ///
    /// # Errors
    /// When `--cycle-time` or `--time-zone` cannot be read.
    pub fn cycle_time(&self) -> anyhow::Result<DateTime<Utc>> {
        let Some(text) = self.cycle_time.as_deref() else {
            return Ok(Utc::now());
        };
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return Ok(instant.with_timezone(&Utc));
        }
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
            .or_else(|_| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(|date| date.and_time(NaiveTime::MIN))
            })
            .with_context(|| {
                format!("--cycle-time {text:?}: write YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or RFC 3339")
            })?;
        let zone = self.zone()?;
        zone.from_local_datetime(&local)
            .earliest()
            .map(|instant| instant.with_timezone(&Utc))
            .with_context(|| {
                format!("--cycle-time {text:?} does not exist in {zone} (a daylight saving gap)")
            })
    }

    fn zone(&self) -> anyhow::Result<Tz> {
        self.time_zone.parse().map_err(|_| {
            anyhow::anyhow!(
                "--time-zone {:?} is not an IANA time zone name (such as UTC, Asia/Shanghai)",
                self.time_zone
            )
        })
    }

    /// Returns the context that replaces placeholders, for checking a spec locally.
    ///
    /// # Errors
    /// As [`ParamArgs::values`] and [`ParamArgs::cycle_time`].
    pub fn context(&self) -> anyhow::Result<ParamContext> {
        ParamContext::for_run(self.values()?, self.cycle_time()?, &self.time_zone)
            .map_err(|error| anyhow::anyhow!("{}: {}", error.path, error.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(params: &[&str], cycle_time: Option<&str>, zone: &str) -> ParamArgs {
        ParamArgs {
            params: params.iter().map(|param| param.to_string()).collect(),
            cycle_time: cycle_time.map(str::to_string),
            time_zone: zone.to_string(),
        }
    }

    #[test]
    fn params_are_name_value_pairs() {
        let values = args(&["a=1", "b=x=y", "c="], None, "UTC")
            .values()
            .expect("valid");
        assert_eq!(values["b"], "x=y");
        assert_eq!(values["c"], "");
        for bad in ["novalue", "1a=2", "a b=3"] {
            assert!(args(&[bad], None, "UTC").values().is_err(), "{bad}");
        }
        assert!(args(&["a=1", "a=2"], None, "UTC").values().is_err());
    }

    #[test]
    fn cycle_time_is_local_to_the_zone() {
        let instant = args(&[], Some("2025-03-02 04:00:00"), "Asia/Shanghai")
            .cycle_time()
            .expect("valid");
        assert_eq!(instant.to_rfc3339(), "2025-03-01T20:00:00+00:00");
        let midnight = args(&[], Some("2025-03-02"), "UTC")
            .cycle_time()
            .expect("valid");
        assert_eq!(midnight.to_rfc3339(), "2025-03-02T00:00:00+00:00");
        assert!(args(&[], Some("yesterday"), "UTC").cycle_time().is_err());
        assert!(args(&[], Some("2025-03-02"), "Nowhere/City")
            .cycle_time()
            .is_err());
    }
}
