//! The text forms in which the SQLite connector stores values SQLite has no type for: dates
//! and timestamps over Arrow's whole range, times of day, intervals, exact decimals, uuids and
//! hex bytes. Every `format_*` has a `parse_*` that returns exactly the value formatted.
//!
//! Dates use the proleptic Gregorian calendar with astronomical years (year 0 is 1 BC), written
//! `YYYY` when 0 ≤ year ≤ 9999, `+YYYYYY` above and `-YYYY` below (as chrono writes them), so
//! PostgreSQL's `5874897-12-31` and `4713-01-01 BC` both fit.

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;

/// Returns `(year, month, day)` of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's `civil_from_days`, on i64 so that every i32 day count fits.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // month is in 1..=12 and day in 1..=31 by construction.
    (year, month as u32, day as u32)
}

/// Returns the day count since 1970-01-01 of a valid `(year, month, day)`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year_from_march = if month <= 2 { year - 1 } else { year };
    let era = year_from_march.div_euclid(400);
    let year_of_era = year_from_march.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Returns a date as `YYYY-MM-DD` (see the module doc for years outside 0..=9999).
pub fn format_date(days_since_epoch: i64) -> String {
    let (year, month, day) = civil_from_days(days_since_epoch);
    let year_text = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year > 9999 {
        format!("+{year}")
    } else {
        format!("-{:04}", year.unsigned_abs())
    };
    format!("{year_text}-{month:02}-{day:02}")
}

/// Parses what [`format_date`] writes (a `+` before a year is optional); returns days since
/// 1970-01-01.
pub fn parse_date(text: &str) -> Result<i64, String> {
    let invalid = || format!("\"{text}\" is not a date (YYYY-MM-DD)");
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut parts = unsigned.splitn(3, '-');
    let (Some(year_text), Some(month_text), Some(day_text)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if year_text.len() < 4
        || month_text.len() != 2
        || day_text.len() != 2
        || ![year_text, month_text, day_text]
            .iter()
            .all(|part| part.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return Err(invalid());
    }
    let year_magnitude: i64 = year_text.parse().map_err(|_| invalid())?;
    let year = if negative {
        -year_magnitude
    } else {
        year_magnitude
    };
    let month: u32 = month_text.parse().map_err(|_| invalid())?;
    let day: u32 = day_text.parse().map_err(|_| invalid())?;
    // Beyond ±10 million years no Arrow date or timestamp fits; refusing early keeps the
    // arithmetic far from overflow.
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || year.abs() > 10_000_000
    {
        return Err(invalid());
    }
    Ok(days_from_civil(year, month, day))
}

/// Returns a time of day in microseconds as `HH:MM:SS.ffffff` (`24:00:00.000000` for a full
/// day, which PostgreSQL's `time` allows).
pub fn format_time(micros: i64) -> Result<String, String> {
    if !(0..=MICROS_PER_DAY).contains(&micros) {
        return Err(format!("time {micros} µs is outside 00:00:00..24:00:00"));
    }
    let seconds = micros / MICROS_PER_SECOND;
    Ok(format!(
        "{:02}:{:02}:{:02}.{:06}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60,
        micros % MICROS_PER_SECOND
    ))
}

/// Parses `HH:MM[:SS[.f]]` (up to six fractional digits) into microseconds since midnight.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let invalid = || format!("\"{text}\" is not a time (HH:MM:SS[.ffffff])");
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|part| part.len() != 2 || !part.bytes().all(|byte| byte.is_ascii_digit()))
        || (fraction.is_some() && parts.len() != 3)
    {
        return Err(invalid());
    }
    let number = |part: &str| part.parse::<i64>().map_err(|_| invalid());
    let hours = number(parts[0])?;
    let minutes = number(parts[1])?;
    let seconds = match parts.get(2) {
        Some(part) => number(part)?,
        None => 0,
    };
    let micros_fraction = match fraction {
        Some(digits) => parse_fraction(digits, 6).ok_or_else(invalid)?,
        None => 0,
    };
    if hours > 24 || minutes > 59 || seconds > 59 {
        return Err(invalid());
    }
    let total = ((hours * 60 + minutes) * 60 + seconds) * MICROS_PER_SECOND + micros_fraction;
    if total > MICROS_PER_DAY {
        return Err(invalid());
    }
    Ok(total)
}

/// Parses 1 to `max_digits` fractional digits into units of 10^-max_digits.
fn parse_fraction(digits: &str, max_digits: usize) -> Option<i64> {
    if digits.is_empty()
        || digits.len() > max_digits
        || !digits.bytes().all(|byte| byte.is_ascii_digit())
    {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    let padding = u32::try_from(max_digits - digits.len()).ok()?;
    Some(value * 10_i64.pow(padding))
}

/// Returns a timestamp in microseconds since the epoch as `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let time_of_day = micros.rem_euclid(MICROS_PER_DAY);
    let time = format_time(time_of_day).unwrap_or_default();
    format!("{} {time}", format_date(days))
}

/// Parses what [`format_timestamp`] writes (`T` may replace the space; the time may omit
/// seconds or fraction); returns `None` for other forms, which callers hand to a more lenient
/// parser.
pub fn parse_timestamp_exact(text: &str) -> Option<i64> {
    // The date may start with a sign, so look for the separator after it.
    let separator = text
        .char_indices()
        .skip(1)
        .find(|(_, character)| *character == ' ' || *character == 'T')
        .map(|(index, _)| index)?;
    let days = parse_date(&text[..separator]).ok()?;
    let time = parse_time(&text[separator + 1..]).ok()?;
    // i128: the day of i64::MIN starts before i64::MIN.
    i64::try_from(i128::from(days) * i128::from(MICROS_PER_DAY) + i128::from(time)).ok()
}

/// Returns an Arrow MonthDayNano interval as ISO 8601 text with a sign on each part, e.g.
/// `P1Y2M-3DT4H5M6.789S`: years and months come from `months` (same sign), hours, minutes and
/// seconds from `nanos` (same sign), up to nine fractional digits; a zero interval is `PT0S`.
pub fn format_interval(months: i32, days: i32, nanos: i64) -> String {
    let mut text = String::from("P");
    let years = months / 12;
    let remaining_months = months % 12;
    if years != 0 {
        text.push_str(&format!("{years}Y"));
    }
    if remaining_months != 0 {
        text.push_str(&format!("{remaining_months}M"));
    }
    if days != 0 {
        text.push_str(&format!("{days}D"));
    }
    if nanos != 0 {
        text.push('T');
        let sign = if nanos < 0 { "-" } else { "" };
        let magnitude = nanos.unsigned_abs();
        let hours = magnitude / NANOS_PER_HOUR.unsigned_abs();
        let minutes = magnitude / NANOS_PER_MINUTE.unsigned_abs() % 60;
        let seconds = magnitude / NANOS_PER_SECOND.unsigned_abs() % 60;
        let fraction = magnitude % NANOS_PER_SECOND.unsigned_abs();
        if hours != 0 {
            text.push_str(&format!("{sign}{hours}H"));
        }
        if minutes != 0 {
            text.push_str(&format!("{sign}{minutes}M"));
        }
        if seconds != 0 || fraction != 0 {
            text.push_str(&format!("{sign}{seconds}"));
            if fraction != 0 {
                let digits = format!("{fraction:09}");
                text.push('.');
                text.push_str(digits.trim_end_matches('0'));
            }
            text.push('S');
        }
    }
    if text == "P" {
        text.push_str("T0S");
    }
    text
}

/// Parses ISO 8601 interval text such as [`format_interval`] writes (`W` weeks are accepted
/// too) into `(months, days, nanos)`.
pub fn parse_interval(text: &str) -> Result<(i32, i32, i64), String> {
    let invalid = |why: &str| format!("\"{text}\" is not an ISO 8601 interval ({why})");
    let Some(body) = text.strip_prefix('P') else {
        return Err(invalid("it must start with P"));
    };
    if body.is_empty() {
        return Err(invalid("it has no parts"));
    }
    let mut months: i64 = 0;
    let mut days: i64 = 0;
    let mut nanos: i128 = 0;
    let mut in_time = false;
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('T') {
            if in_time {
                return Err(invalid("T appears twice"));
            }
            in_time = true;
            rest = after;
            continue;
        }
        let unit_at = rest
            .find(|character: char| character.is_ascii_alphabetic())
            .ok_or_else(|| invalid("a number has no unit"))?;
        let number = &rest[..unit_at];
        let unit = rest.as_bytes()[unit_at];
        rest = &rest[unit_at + 1..];
        let (negative, digits) = match number.strip_prefix('-') {
            Some(digits) => (true, digits),
            None => (false, number.strip_prefix('+').unwrap_or(number)),
        };
        let (whole_text, fraction_text) = match digits.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (digits, None),
        };
        if whole_text.is_empty() || !whole_text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid("a part is not a number"));
        }
        let whole: i128 = whole_text
            .parse()
            .map_err(|_| invalid("a part is too large"))?;
        let signed = if negative { -whole } else { whole };
        if fraction_text.is_some() && !(in_time && unit == b'S') {
            return Err(invalid("only seconds may have a fraction"));
        }
        match (in_time, unit) {
            (false, b'Y') => {
                months += i64::try_from(signed * 12).map_err(|_| invalid("too large"))?
            }
            (false, b'M') => months += i64::try_from(signed).map_err(|_| invalid("too large"))?,
            (false, b'W') => days += i64::try_from(signed * 7).map_err(|_| invalid("too large"))?,
            (false, b'D') => days += i64::try_from(signed).map_err(|_| invalid("too large"))?,
            (true, b'H') => nanos += signed * i128::from(NANOS_PER_HOUR),
            (true, b'M') => nanos += signed * i128::from(NANOS_PER_MINUTE),
            (true, b'S') => {
                let fraction =
                    match fraction_text {
                        Some(digits) => i128::from(parse_fraction(digits, 9).ok_or_else(|| {
                            invalid("seconds have more than nine fractional digits")
                        })?),
                        None => 0,
                    };
                let part = whole * i128::from(NANOS_PER_SECOND) + fraction;
                nanos += if negative { -part } else { part };
            }
            _ => return Err(invalid("unknown unit")),
        }
        if months.abs() > i64::from(i32::MAX) + 1
            || days.abs() > i64::from(i32::MAX) + 1
            || nanos.abs() > i128::from(i64::MAX) + 1
        {
            return Err(invalid("a part is out of range"));
        }
    }
    let months = i32::try_from(months).map_err(|_| invalid("months out of range"))?;
    let days = i32::try_from(days).map_err(|_| invalid("days out of range"))?;
    let nanos = i64::try_from(nanos).map_err(|_| invalid("nanoseconds out of range"))?;
    Ok((months, days, nanos))
}

/// Returns the decimal text of an unscaled integer (given as its decimal digits with an
/// optional leading `-`) at `scale`: `("-12345", 2)` is `-123.45`, `("5", -2)` is `500`.
pub fn format_decimal(unscaled: &str, scale: i8) -> String {
    let (sign, digits) = match unscaled.strip_prefix('-') {
        Some(digits) => ("-", digits),
        None => ("", unscaled),
    };
    if scale <= 0 {
        if digits == "0" {
            return "0".to_string();
        }
        return format!(
            "{sign}{digits}{}",
            "0".repeat(usize::from(scale.unsigned_abs()))
        );
    }
    let scale_digits = usize::from(scale.unsigned_abs());
    let padded = format!("{digits:0>width$}", width = scale_digits + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale_digits);
    format!("{sign}{whole}.{fraction}")
}

/// Parses decimal text into the unscaled integer's text (`-` and digits) for a decimal of
/// `precision` digits and `scale`. Extra fractional zeros are accepted; digits that would be
/// lost or a value wider than `precision` are errors.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<String, String> {
    let invalid = |why: &str| format!("\"{text}\" is not a DECIMAL({precision},{scale}): {why}");
    let trimmed = text.trim();
    let (negative, unsigned) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(invalid("not a plain decimal number"));
    }
    let mut digits = String::with_capacity(whole.len() + fraction.len());
    if scale >= 0 {
        let scale_digits = usize::from(scale.unsigned_abs());
        let (kept, dropped) = fraction.split_at(fraction.len().min(scale_digits));
        if dropped.bytes().any(|byte| byte != b'0') {
            return Err(invalid("more fractional digits than the scale"));
        }
        digits.push_str(whole);
        digits.push_str(kept);
        for _ in kept.len()..scale_digits {
            digits.push('0');
        }
    } else {
        let dropped_count = usize::from(scale.unsigned_abs());
        if fraction.bytes().any(|byte| byte != b'0') {
            return Err(invalid("a fraction on a negative scale"));
        }
        let significant = whole.trim_start_matches('0');
        if significant.is_empty() {
            digits.push('0');
        } else {
            if significant.len() < dropped_count
                || significant[significant.len() - dropped_count..]
                    .bytes()
                    .any(|byte| byte != b'0')
            {
                return Err(invalid("digits below the scale"));
            }
            digits.push_str(&significant[..significant.len() - dropped_count]);
        }
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > usize::from(precision) {
        return Err(invalid("more digits than the precision"));
    }
    if significant.is_empty() {
        return Ok("0".to_string());
    }
    Ok(format!("{}{significant}", if negative { "-" } else { "" }))
}

/// Returns 16 bytes as a lowercase hyphenated uuid.
pub fn format_uuid(bytes: &[u8]) -> String {
    let hex = format_hex(bytes);
    if hex.len() != 32 {
        return hex;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Parses a uuid: hyphenated or 32 hex digits, any case, optionally in braces.
pub fn parse_uuid(text: &str) -> Result<[u8; 16], String> {
    let invalid = || format!("\"{text}\" is not a uuid");
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or(text.trim());
    let hex: String = if inner.len() == 36 {
        let hyphens_in_place = [8, 13, 18, 23]
            .iter()
            .all(|&index| inner.as_bytes()[index] == b'-');
        if !hyphens_in_place {
            return Err(invalid());
        }
        inner
            .chars()
            .filter(|character| *character != '-')
            .collect()
    } else {
        inner.to_string()
    };
    let bytes = parse_hex(&hex).map_err(|_| invalid())?;
    <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| invalid())
}

/// Returns bytes as lowercase hex.
pub fn format_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Parses hex digits (any case, even count) into bytes.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let invalid = || format!("\"{text}\" is not hex bytes");
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return Err(invalid());
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&text[index..index + 2], 16).map_err(|_| invalid()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_cover_arrow_and_postgres_extremes() {
        for (days, text) in [
            (0, "1970-01-01"),
            (-1, "1969-12-31"),
            (10_957, "2000-01-01"),
            (i64::from(i32::MAX), "+5881580-07-11"),
            (2_145_042_905, "+5874897-12-31"),
            (-2_440_588, "-4713-11-24"),
            (-2_440_550, "-4712-01-01"),
            (-719_528, "0000-01-01"),
        ] {
            assert_eq!(format_date(days), text, "{days}");
            assert_eq!(parse_date(text), Ok(days), "{text}");
        }
        assert_eq!(parse_date("5874897-12-31"), Ok(2_145_042_905));
        for bad in ["2023-02-29", "2024-13-01", "24-01-01", "2024-1-01", "x", ""] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_round_trip_including_midnight_at_the_end() {
        for micros in [0, 1, 43_200_000_000, 86_399_999_999, 86_400_000_000] {
            let text = format_time(micros).expect("in range");
            assert_eq!(parse_time(&text), Ok(micros), "{text}");
        }
        assert_eq!(
            format_time(86_399_999_999).as_deref(),
            Ok("23:59:59.999999")
        );
        assert_eq!(parse_time("12:30"), Ok(45_000_000_000));
        assert!(format_time(-1).is_err());
        for bad in [
            "24:00:01",
            "12:60:00",
            "1:00:00",
            "12:00:00.1234567",
            "noon",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_round_trip_over_the_whole_microsecond_range() {
        for micros in [
            0,
            -1,
            1_700_000_000_123_456,
            i64::MIN,
            i64::MAX,
            -210_866_803_200_000_000,
        ] {
            let text = format_timestamp(micros);
            assert_eq!(parse_timestamp_exact(&text), Some(micros), "{text}");
        }
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(
            parse_timestamp_exact("-4713-11-24T00:00:00"),
            Some(-210_866_803_200_000_000)
        );
        assert_eq!(parse_timestamp_exact("2024-01-01 00:00:00Z"), None);
    }

    #[test]
    fn intervals_round_trip_every_part_and_sign() {
        let hms = 4 * NANOS_PER_HOUR + 5 * NANOS_PER_MINUTE + 6_789_000_000;
        assert_eq!(format_interval(14, -3, hms), "P1Y2M-3DT4H5M6.789S");
        assert_eq!(format_interval(0, 0, 0), "PT0S");
        assert_eq!(format_interval(-2_136_000_000, 0, 0), "P-178000000Y");
        assert_eq!(format_interval(0, 0, -1), "PT-0.000000001S");
        for (months, days, nanos) in [
            (14, -3, hms),
            (0, 0, 0),
            (i32::MIN, i32::MIN, i64::MIN),
            (i32::MAX, i32::MAX, i64::MAX),
            (-1, 1, -hms),
            (0, 0, 59 * NANOS_PER_SECOND),
        ] {
            let text = format_interval(months, days, nanos);
            assert_eq!(parse_interval(&text), Ok((months, days, nanos)), "{text}");
        }
        assert_eq!(parse_interval("P2W"), Ok((0, 14, 0)));
        for bad in [
            "",
            "P",
            "1Y",
            "P1.5Y",
            "P1X",
            "PT1.0000000001S",
            "P99999999999Y",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_keep_every_digit() {
        assert_eq!(format_decimal("-12345", 2), "-123.45");
        assert_eq!(format_decimal("5", 3), "0.005");
        assert_eq!(format_decimal("-5", 3), "-0.005");
        assert_eq!(format_decimal("0", 2), "0.00");
        assert_eq!(format_decimal("5", -2), "500");
        assert_eq!(format_decimal("7", 0), "7");
        assert_eq!(parse_decimal("-123.45", 5, 2).as_deref(), Ok("-12345"));
        assert_eq!(parse_decimal("0.005", 5, 3).as_deref(), Ok("5"));
        assert_eq!(parse_decimal("1.5", 5, 3).as_deref(), Ok("1500"));
        assert_eq!(parse_decimal("1.500000", 5, 3).as_deref(), Ok("1500"));
        assert_eq!(parse_decimal("-0.00", 5, 2).as_deref(), Ok("0"));
        assert_eq!(parse_decimal("500", 3, -2).as_deref(), Ok("5"));
        assert_eq!(parse_decimal("12", 3, 0).as_deref(), Ok("12"));
        assert!(parse_decimal("1.2345", 10, 3)
            .expect_err("digits lost")
            .contains("1.2345"));
        assert!(parse_decimal("12345.6", 5, 1).is_err());
        assert!(parse_decimal("550", 3, -2).is_err());
        for bad in ["", ".", "1e5", "NaN", "1.2.3", "--1"] {
            assert!(parse_decimal(bad, 10, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuids_and_hex_round_trip() {
        let bytes: Vec<u8> = (0..16).map(|index| index * 17).collect();
        let text = format_uuid(&bytes);
        assert_eq!(text, "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(parse_uuid(&text).map(Vec::from), Ok(bytes.clone()));
        assert_eq!(
            parse_uuid("{00112233445566778899AABBCCDDEEFF}").map(Vec::from),
            Ok(bytes)
        );
        assert!(parse_uuid("0011-2233").is_err());
        assert_eq!(parse_hex(&format_hex(&[0, 255, 16])), Ok(vec![0, 255, 16]));
        assert!(parse_hex("abc").is_err());
    }
}
