//! Parameters in job specs, as DataWorks users write them.
//!
//! Every string of a spec may hold placeholders, replaced before the spec is parsed:
//!
//! | placeholder | value |
//! | --- | --- |
//! | `${name}` | the parameter `name` (`--param name=value`, or the schedule's parameters); a value that is itself one of the expressions below is evaluated |
//! | `$bizdate` | the business date, `yyyymmdd`: the day before the cycle time |
//! | `$cyctime` | the cycle (scheduled) time, `yyyymmddhh24miss` |
//! | `$gmtdate` | the cycle time's date, `yyyymmdd` |
//! | `$bizmonth` | the business date's month, `yyyymm` |
//! | `${yyyymmdd}`, `${yyyy-mm-dd-7}`, `${yyyymm-1}` | the business date in that format, shifted by ±N days (formats with `dd`), months (with `mm` but no `dd`) or years |
//! | `$[yyyymmddhh24miss]`, `$[yyyymmdd-1]`, `$[hh24-1/24]`, `$[hh24mi-30/24/60]` | the cycle time in that format, shifted by ±N days, ±N/24 hours or ±N/24/60 minutes |
//! | `$[add_months(yyyymmdd,-1)]` | the cycle time shifted by N months (the last day of a shorter month when the day does not exist) |
//!
//! Format letters: `yyyy`, `yy`, `mm` (month), `dd`, `hh24`, `mi` (minute), `ss`; between them
//! `-`, `/`, `:`, `_`, `.` and spaces. A `$[...]` or `${...}` that is neither a parameter nor a
//! format (a JSON path such as `$[*]` in SQL, say) is left as written; a `${name}` whose name has
//! no value is an error that names the field.

use crate::error::{SpecError, SpecErrors};
use crate::spec::SpecFormat;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// What placeholders are replaced with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamContext {
    /// User parameters by name.
    pub values: BTreeMap<String, String>,
    /// The cycle (scheduled) time, as wall-clock time in the job's time zone.
    pub cycle_time: NaiveDateTime,
}

impl ParamContext {
    /// Returns a context with no user parameters at `cycle_time`.
    pub fn at(cycle_time: NaiveDateTime) -> Self {
        ParamContext {
            values: BTreeMap::new(),
            cycle_time,
        }
    }

    /// Returns the context of a run at `cycle_time` in the IANA time zone `time_zone` (empty
    /// means UTC), with the user's parameters.
    ///
    /// # Errors
    /// A [`SpecError`] at `time_zone` when the zone is unknown.
    pub fn for_run(
        values: BTreeMap<String, String>,
        cycle_time: DateTime<Utc>,
        time_zone: &str,
    ) -> Result<Self, SpecError> {
        let zone: Tz = if time_zone.trim().is_empty() {
            Tz::UTC
        } else {
            time_zone.trim().parse().map_err(|_| {
                SpecError::new(
                    "time_zone",
                    format!(
                        "\"{time_zone}\" is not an IANA time zone name (such as UTC, Asia/Shanghai, Europe/Berlin)"
                    ),
                )
            })?
        };
        Ok(ParamContext {
            values,
            cycle_time: cycle_time.with_timezone(&zone).naive_local(),
        })
    }

    /// Returns the business date: the day before the cycle time.
    pub fn business_date(&self) -> NaiveDate {
        self.cycle_time.date() - Duration::days(1)
    }
}

/// Replaces the placeholders of every string of a spec document. Returns the document and its
/// format: a document without `$` comes back unchanged (so its parse errors stay the same), any
/// other as JSON text.
///
/// # Errors
/// [`SpecErrors`] naming the field of each placeholder that has no value, or the document itself
/// when it is not valid JSON or YAML.
pub fn substitute_params(
    text: &str,
    format: SpecFormat,
    context: &ParamContext,
) -> Result<(String, SpecFormat), SpecErrors> {
    if !text.contains('$') {
        return Ok((text.to_string(), format));
    }
    let json = match format {
        SpecFormat::Json => true,
        SpecFormat::Yaml => false,
        SpecFormat::Auto => text.trim_start().starts_with('{'),
    };
    let mut document: serde_json::Value = if json {
        serde_json::from_str(text).map_err(|error| document_error(error.to_string()))?
    } else {
        serde_yaml_ng::from_str(text).map_err(|error| document_error(error.to_string()))?
    };
    let mut errors = Vec::new();
    substitute_value(&mut document, String::new(), context, &mut errors);
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    let rewritten =
        serde_json::to_string(&document).map_err(|error| document_error(error.to_string()))?;
    Ok((rewritten, SpecFormat::Json))
}

fn document_error(message: String) -> SpecErrors {
    SpecErrors(vec![SpecError::new("", message)])
}

fn substitute_value(
    value: &mut serde_json::Value,
    path: String,
    context: &ParamContext,
    errors: &mut Vec<SpecError>,
) {
    match value {
        serde_json::Value::String(text) => match expand_placeholders(text, context, true) {
            Ok(expanded) => *text = expanded,
            Err(message) => errors.push(SpecError::new(path, message)),
        },
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                substitute_value(item, format!("{path}[{index}]"), context, errors);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                substitute_value(item, child, context, errors);
            }
        }
        _ => {}
    }
}

/// Expands the placeholders of one string. `allow_names` is false while expanding a
/// parameter's own value, so values cannot refer to other parameters (no cycles).
pub fn expand_placeholders(
    text: &str,
    context: &ParamContext,
    allow_names: bool,
) -> Result<String, String> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('$') {
        output.push_str(&rest[..position]);
        let tail = &rest[position..];
        match placeholder_at(tail, context, allow_names)? {
            Some((replacement, consumed)) => {
                output.push_str(&replacement);
                rest = &tail[consumed..];
            }
            None => {
                output.push('$');
                rest = &tail[1..];
            }
        }
    }
    output.push_str(rest);
    Ok(output)
}

/// Returns the value of the placeholder at the start of `tail` (which starts with `$`) and how
/// many bytes it spans, or `None` when it is not a placeholder.
fn placeholder_at(
    tail: &str,
    context: &ParamContext,
    allow_names: bool,
) -> Result<Option<(String, usize)>, String> {
    if let Some(inner_and_rest) = tail.strip_prefix("${") {
        let Some(end) = inner_and_rest.find('}') else {
            return Ok(None);
        };
        let inner = &inner_and_rest[..end];
        let consumed = end + 3;
        if allow_names {
            if let Some(value) = context.values.get(inner) {
                let evaluated = expand_placeholders(value, context, false)
                    .map_err(|message| format!("parameter `{inner}`: {message}"))?;
                return Ok(Some((evaluated, consumed)));
            }
        }
        if let Some(value) = business_date_expression(inner, context.business_date()) {
            return Ok(Some((value, consumed)));
        }
        if is_parameter_name(inner) {
            return Err(if allow_names {
                format!(
                    "parameter `{inner}` has no value: pass `--param {inner}=VALUE` (or set it \
                     in the schedule's parameters)"
                )
            } else {
                format!("refers to `${{{inner}}}`: a parameter's value may use the built-in dates but not other parameters")
            });
        }
        return Ok(None);
    }
    if let Some(inner_and_rest) = tail.strip_prefix("$[") {
        let Some(end) = inner_and_rest.find(']') else {
            return Ok(None);
        };
        let inner = &inner_and_rest[..end];
        return Ok(cycle_time_expression(inner, context.cycle_time).map(|value| (value, end + 3)));
    }
    let word: String = tail[1..]
        .chars()
        .take_while(|character| character.is_ascii_alphanumeric() || *character == '_')
        .collect();
    let value = match word.as_str() {
        "bizdate" => context.business_date().format("%Y%m%d").to_string(),
        "cyctime" => context.cycle_time.format("%Y%m%d%H%M%S").to_string(),
        "gmtdate" => context.cycle_time.format("%Y%m%d").to_string(),
        "bizmonth" => context.business_date().format("%Y%m").to_string(),
        _ => return Ok(None),
    };
    Ok(Some((value, word.len() + 1)))
}

fn is_parameter_name(text: &str) -> bool {
    let mut characters = text.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// One piece of a date format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormatPiece {
    Year4,
    Year2,
    Month,
    Day,
    Hour24,
    Minute,
    Second,
    Literal(char),
}

/// Splits a DataWorks date format into pieces, or `None` when it is not one (it must hold at
/// least one date or time letter group and nothing but those and separators).
fn parse_format(text: &str) -> Option<Vec<FormatPiece>> {
    const GROUPS: [(&str, FormatPiece); 7] = [
        ("yyyy", FormatPiece::Year4),
        ("yy", FormatPiece::Year2),
        ("mm", FormatPiece::Month),
        ("dd", FormatPiece::Day),
        ("hh24", FormatPiece::Hour24),
        ("mi", FormatPiece::Minute),
        ("ss", FormatPiece::Second),
    ];
    let mut pieces = Vec::new();
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for (group, piece) in GROUPS {
            if let Some(after) = rest.strip_prefix(group) {
                pieces.push(piece);
                rest = after;
                continue 'outer;
            }
        }
        let mut characters = rest.chars();
        let separator = characters.next()?;
        if !matches!(separator, '-' | '/' | ':' | '_' | '.' | ' ') {
            return None;
        }
        pieces.push(FormatPiece::Literal(separator));
        rest = characters.as_str();
    }
    pieces
        .iter()
        .any(|piece| !matches!(piece, FormatPiece::Literal(_)))
        .then_some(pieces)
}

fn render(pieces: &[FormatPiece], time: NaiveDateTime) -> String {
    let mut output = String::new();
    for piece in pieces {
        match piece {
            FormatPiece::Year4 => output.push_str(&format!("{:04}", time.year())),
            FormatPiece::Year2 => output.push_str(&format!("{:02}", time.year().rem_euclid(100))),
            FormatPiece::Month => output.push_str(&format!("{:02}", time.month())),
            FormatPiece::Day => output.push_str(&format!("{:02}", time.day())),
            FormatPiece::Hour24 => output.push_str(&format!("{:02}", time.hour())),
            FormatPiece::Minute => output.push_str(&format!("{:02}", time.minute())),
            FormatPiece::Second => output.push_str(&format!("{:02}", time.second())),
            FormatPiece::Literal(character) => output.push(*character),
        }
    }
    output
}

/// Splits `format±N...` into the format and the signed offset text after it: the offset starts
/// at the last `+` or `-` followed only by digits and `/`.
fn split_offset(text: &str) -> (&str, Option<(i64, &str)>) {
    let Some(position) = text.rfind(['+', '-']) else {
        return (text, None);
    };
    let (format, offset) = text.split_at(position);
    let digits = &offset[1..];
    let number_end = digits
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(digits.len());
    if number_end == 0 || format.is_empty() {
        return (text, None);
    }
    let Ok(magnitude) = digits[..number_end].parse::<i64>() else {
        return (text, None);
    };
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    (format, Some((sign * magnitude, &digits[number_end..])))
}

/// `${...}`: the business date in a format, shifted by days, months or years.
fn business_date_expression(text: &str, business_date: NaiveDate) -> Option<String> {
    let (format_text, offset) = split_offset(text);
    let pieces = parse_format(format_text)?;
    if pieces.iter().any(|piece| {
        matches!(
            piece,
            FormatPiece::Hour24 | FormatPiece::Minute | FormatPiece::Second
        )
    }) {
        return None;
    }
    let mut date = business_date;
    if let Some((amount, unit_suffix)) = offset {
        if !unit_suffix.is_empty() {
            return None;
        }
        date = if pieces.contains(&FormatPiece::Day) {
            date.checked_add_signed(Duration::days(amount))?
        } else if pieces.contains(&FormatPiece::Month) {
            add_months(date, amount)?
        } else {
            add_months(date, amount.checked_mul(12)?)?
        };
    }
    Some(render(&pieces, date.and_hms_opt(0, 0, 0)?))
}

/// `$[...]`: the cycle time in a format, shifted by days, hours or minutes, or
/// `add_months(format,N)`.
fn cycle_time_expression(text: &str, cycle_time: NaiveDateTime) -> Option<String> {
    if let Some(arguments) = text
        .strip_prefix("add_months(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let (format_text, amount_text) = arguments.split_once(',')?;
        let pieces = parse_format(format_text.trim())?;
        let amount: i64 = amount_text.trim().parse().ok()?;
        let date = add_months(cycle_time.date(), amount)?;
        return Some(render(&pieces, date.and_time(cycle_time.time())));
    }
    let (format_text, offset) = split_offset(text);
    let pieces = parse_format(format_text)?;
    let mut time = cycle_time;
    if let Some((amount, unit_suffix)) = offset {
        let shift = match unit_suffix {
            "" => Duration::try_days(amount)?,
            "/24" => Duration::try_hours(amount)?,
            "/24/60" => Duration::try_minutes(amount)?,
            _ => return None,
        };
        time = time.checked_add_signed(shift)?;
    }
    Some(render(&pieces, time))
}

fn add_months(date: NaiveDate, amount: i64) -> Option<NaiveDate> {
    let months = Months::new(u32::try_from(amount.unsigned_abs()).ok()?);
    if amount >= 0 {
        date.checked_add_months(months)
    } else {
        date.checked_sub_months(months)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ParamContext {
        let cycle_time = NaiveDate::from_ymd_opt(2025, 3, 1)
            .and_then(|date| date.and_hms_opt(2, 30, 15))
            .expect("valid time");
        let mut context = ParamContext::at(cycle_time);
        context.values.insert("region".into(), "eu".into());
        context
            .values
            .insert("day".into(), "${yyyy-mm-dd-1}".into());
        context.values.insert("loop".into(), "${region}".into());
        context
    }

    fn expanded(text: &str) -> String {
        expand_placeholders(text, &context(), true)
            .unwrap_or_else(|message| format!("error: {message}"))
    }

    #[test]
    fn built_in_dates_follow_dataworks() {
        assert_eq!(expanded("$bizdate"), "20250228");
        assert_eq!(expanded("$cyctime"), "20250301023015");
        assert_eq!(expanded("$gmtdate"), "20250301");
        assert_eq!(expanded("$bizmonth"), "202502");
        assert_eq!(expanded("p=$bizdate AND q"), "p=20250228 AND q");
    }

    #[test]
    fn business_date_formats_shift_by_their_smallest_unit() {
        assert_eq!(expanded("${yyyymmdd}"), "20250228");
        assert_eq!(expanded("${yyyy-mm-dd}"), "2025-02-28");
        assert_eq!(expanded("${yyyymmdd-1}"), "20250227");
        assert_eq!(expanded("${yyyymmdd+1}"), "20250301");
        assert_eq!(expanded("${yyyy-mm-dd-28}"), "2025-01-31");
        assert_eq!(expanded("${yyyymm-1}"), "202501");
        assert_eq!(expanded("${yyyy-1}"), "2024");
        assert_eq!(expanded("${yy/mm/dd}"), "25/02/28");
    }

    #[test]
    fn cycle_time_formats_shift_by_days_hours_or_minutes() {
        assert_eq!(expanded("$[yyyymmddhh24miss]"), "20250301023015");
        assert_eq!(expanded("$[yyyymmdd-1]"), "20250228");
        assert_eq!(expanded("$[hh24-3/24]"), "23");
        assert_eq!(expanded("$[yyyymmddhh24-3/24]"), "2025022823");
        assert_eq!(expanded("$[hh24:mi-45/24/60]"), "01:45");
        assert_eq!(expanded("$[add_months(yyyymmdd,-1)]"), "20250201");
        assert_eq!(expanded("$[add_months(yyyy-mm-dd,12)]"), "2026-03-01");
    }

    #[test]
    fn add_months_clamps_to_the_last_day() {
        let cycle_time = NaiveDate::from_ymd_opt(2024, 3, 31)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .expect("valid time");
        let context = ParamContext::at(cycle_time);
        assert_eq!(
            expand_placeholders("$[add_months(yyyymmdd,-1)]", &context, true).as_deref(),
            Ok("20240229")
        );
    }

    #[test]
    fn user_parameters_may_hold_built_in_expressions_but_not_names() {
        assert_eq!(expanded("r=${region}"), "r=eu");
        assert_eq!(expanded("d='${day}'"), "d='2025-02-27'");
        let message = expanded("${loop}");
        assert!(message.contains("not other parameters"), "{message}");
    }

    #[test]
    fn missing_parameters_name_the_fix_and_other_dollars_stay() {
        let message = expanded("x=${missing}");
        assert!(message.contains("--param missing=VALUE"), "{message}");
        assert_eq!(
            expanded("jsonb_path_query(doc, '$[*]')"),
            "jsonb_path_query(doc, '$[*]')"
        );
        assert_eq!(expanded("DO $$ BEGIN END $$"), "DO $$ BEGIN END $$");
        assert_eq!(
            expanded("select $1, $price, ${a b}"),
            "select $1, $price, ${a b}"
        );
        assert_eq!(expanded("cost $"), "cost $");
    }

    #[test]
    fn documents_are_rewritten_field_by_field() {
        let text = "source:\n  connection: {type: generator, rows: 5}\n  where: \"day = '${day}'\"\nsink:\n  table: t_$bizdate\n  pre_sql: [\"delete from t where d = ${missing}\"]\n";
        let errors = substitute_params(text, SpecFormat::Auto, &context()).expect_err("missing");
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path, "sink.pre_sql[0]");
        let mut full = context();
        full.values.insert("missing".into(), "3".into());
        let (json, format) = substitute_params(text, SpecFormat::Auto, &full).expect("substituted");
        assert_eq!(format, SpecFormat::Json);
        let document: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(document["source"]["where"], "day = '2025-02-27'");
        assert_eq!(document["sink"]["table"], "t_20250228");
        assert_eq!(document["sink"]["pre_sql"][0], "delete from t where d = 3");
        assert_eq!(document["source"]["connection"]["rows"], 5);
    }

    #[test]
    fn cycle_time_is_read_in_the_time_zone() {
        let utc = DateTime::parse_from_rfc3339("2025-03-01T20:00:00Z")
            .expect("valid time")
            .with_timezone(&Utc);
        let shanghai =
            ParamContext::for_run(BTreeMap::new(), utc, "Asia/Shanghai").expect("known zone");
        assert_eq!(
            expand_placeholders("$bizdate $cyctime", &shanghai, true).as_deref(),
            Ok("20250301 20250302040000")
        );
        let error = ParamContext::for_run(BTreeMap::new(), utc, "Mars/Olympus").expect_err("zone");
        assert_eq!(error.path, "time_zone");
    }

    #[test]
    fn documents_without_placeholders_are_untouched() {
        let text = "{not json";
        let (unchanged, format) =
            substitute_params(text, SpecFormat::Yaml, &context()).expect("no placeholders");
        assert_eq!((unchanged.as_str(), format), (text, SpecFormat::Yaml));
    }
}
