//! When a cron expression fires, in a time zone.

use crate::error::{CoordinatorError, Result};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed cron expression and the time zone it is read in.
#[derive(Debug, Clone)]
pub struct CronTimes {
    cron: croner::Cron,
    zone: Tz,
}

impl CronTimes {
    /// Parses a 5-field (minute first) or 6-field (second first) cron expression and an IANA
    /// time zone (empty means UTC).
    ///
    /// # Errors
    /// [`CoordinatorError::InvalidArgument`] at `schedule.cron` or `schedule.time_zone`.
    pub fn parse(expression: &str, time_zone: &str) -> Result<Self> {
        let fields = expression.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(CoordinatorError::invalid(
                "schedule.cron",
                format!(
                    "\"{expression}\" has {fields} fields: write 5 (minute hour day-of-month month day-of-week) or 6 (second first), e.g. \"0 2 * * *\" for 02:00 every day"
                ),
            ));
        }
        let cron = croner::Cron::new(expression)
            .with_seconds_optional()
            .parse()
            .map_err(|error| {
                CoordinatorError::invalid(
                    "schedule.cron",
                    format!("\"{expression}\" is not a cron expression: {error}"),
                )
            })?;
        let zone = if time_zone.trim().is_empty() {
            Tz::UTC
        } else {
            time_zone.trim().parse().map_err(|_| {
                CoordinatorError::invalid(
                    "schedule.time_zone",
                    format!("\"{time_zone}\" is not an IANA time zone name (such as UTC, Asia/Shanghai)"),
                )
            })?
        };
        Ok(CronTimes { cron, zone })
    }

    /// Returns the time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Returns the first fire strictly after `after_ms` (Unix milliseconds), or `None` when the
    /// expression never fires again.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&after, false)
            .ok()
            .map(|next| next.timestamp_millis())
    }

    /// Returns the cycle time that has `business_date` as its business date: the first fire on
    /// the following day, or that day's midnight when the expression does not fire on it.
    pub fn cycle_time_for_business_date(&self, business_date: NaiveDate) -> Option<i64> {
        let day = business_date.checked_add_signed(Duration::days(1))?;
        let midnight = self
            .zone
            .from_local_datetime(&day.and_time(NaiveTime::MIN))
            .earliest()?
            .timestamp_millis();
        let first_fire = self.next_after(midnight - 1)?;
        let fire_day = DateTime::<Utc>::from_timestamp_millis(first_fire)?
            .with_timezone(&self.zone)
            .date_naive();
        Some(if fire_day == day {
            first_fire
        } else {
            midnight
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .expect("valid time")
            .timestamp_millis()
    }

    #[test]
    fn five_and_six_fields_fire_in_the_time_zone() {
        let daily = CronTimes::parse("30 2 * * *", "Asia/Shanghai").expect("valid");
        assert_eq!(
            daily.next_after(millis("2025-03-01T00:00:00Z")),
            Some(millis("2025-03-01T18:30:00Z"))
        );
        let every_two_seconds = CronTimes::parse("*/2 * * * * *", "").expect("valid");
        assert_eq!(
            every_two_seconds.next_after(millis("2025-03-01T00:00:00Z")),
            Some(millis("2025-03-01T00:00:02Z"))
        );
    }

    #[test]
    fn a_business_date_maps_to_the_next_day_first_fire() {
        let daily = CronTimes::parse("30 2 * * *", "Asia/Shanghai").expect("valid");
        let date = NaiveDate::from_ymd_opt(2025, 2, 28).expect("date");
        // 1 March 02:30 in Shanghai.
        assert_eq!(
            daily.cycle_time_for_business_date(date),
            Some(millis("2025-02-28T18:30:00Z"))
        );
        let mondays = CronTimes::parse("0 3 * * 1", "UTC").expect("valid");
        // 1 March 2025 is a Saturday: no fire that day, so its midnight.
        assert_eq!(
            mondays.cycle_time_for_business_date(date),
            Some(millis("2025-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn bad_expressions_and_zones_name_the_field() {
        let error = CronTimes::parse("every day", "UTC").expect_err("bad cron");
        assert!(error.to_string().starts_with("schedule.cron:"), "{error}");
        let error = CronTimes::parse("61 * * * *", "UTC").expect_err("bad minute");
        assert!(error.to_string().starts_with("schedule.cron:"), "{error}");
        let error = CronTimes::parse("0 2 * * *", "Moon/Base").expect_err("bad zone");
        assert!(
            error.to_string().starts_with("schedule.time_zone:"),
            "{error}"
        );
    }
}
