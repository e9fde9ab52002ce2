//! PostgreSQL `numeric` in its binary form: `ndigits`, `weight`, `sign`, `dscale` (each 16
//! bits, big-endian) then `ndigits` base-10000 digits, most significant first. The value is
//! `Σ digit[i] × 10000^(weight - i)`; `dscale` is the number of decimal digits shown after the
//! point. Special values use the sign word: NaN `0xC000`, +Infinity `0xD000`, -Infinity
//! `0xF000` (PostgreSQL 14 and later).

use arrow_buffer::i256;
use bytes::BufMut;
use std::sync::LazyLock;

const SIGN_POSITIVE: u16 = 0x0000;
const SIGN_NEGATIVE: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_POSITIVE_INFINITY: u16 = 0xD000;
const SIGN_NEGATIVE_INFINITY: u16 = 0xF000;
/// Largest display scale PostgreSQL accepts.
const MAX_DSCALE: usize = 0x3FFF;

/// Powers of ten that fit an `i256` (10^0 to 10^76).
static POWERS_OF_TEN: LazyLock<Vec<i256>> = LazyLock::new(|| {
    let ten = i256::from_i128(10);
    let mut powers = Vec::with_capacity(77);
    let mut value = i256::from_i128(1);
    for _ in 0..=76 {
        powers.push(value);
        value = value.wrapping_mul(ten);
    }
    powers
});

/// Returns 10^exponent, or `None` past 10^76.
pub fn power_of_ten(exponent: u32) -> Option<i256> {
    POWERS_OF_TEN.get(exponent as usize).copied()
}

/// A decoded binary numeric, borrowing its digits.
#[derive(Debug, Clone, Copy)]
pub struct NumericRef<'a> {
    weight: i16,
    sign: u16,
    dscale: u16,
    digits: &'a [u8],
}

impl<'a> NumericRef<'a> {
    /// Parses the binary form.
    ///
    /// # Errors
    /// A description when the bytes are not a well-formed numeric.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        if bytes.len() < 8 {
            return Err(format!(
                "numeric value of {} bytes is too short",
                bytes.len()
            ));
        }
        let ndigits = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        let weight = i16::from_be_bytes([bytes[2], bytes[3]]);
        let sign = u16::from_be_bytes([bytes[4], bytes[5]]);
        let dscale = u16::from_be_bytes([bytes[6], bytes[7]]);
        let digits = &bytes[8..];
        if digits.len() != ndigits * 2 {
            return Err(format!(
                "numeric value announces {ndigits} digits but carries {} bytes",
                digits.len()
            ));
        }
        if !matches!(
            sign,
            SIGN_POSITIVE
                | SIGN_NEGATIVE
                | SIGN_NAN
                | SIGN_POSITIVE_INFINITY
                | SIGN_NEGATIVE_INFINITY
        ) {
            return Err(format!("numeric sign word {sign:#06x} is invalid"));
        }
        Ok(NumericRef {
            weight,
            sign,
            dscale,
            digits,
        })
    }

    fn digit(&self, index: usize) -> i64 {
        match self.digits.get(index * 2..index * 2 + 2) {
            Some(pair) => i64::from(u16::from_be_bytes([pair[0], pair[1]])),
            None => 0,
        }
    }

    fn ndigits(&self) -> usize {
        self.digits.len() / 2
    }

    /// Returns the special value's name (`NaN`, `Infinity`, `-Infinity`), if it is one.
    pub fn special(&self) -> Option<&'static str> {
        match self.sign {
            SIGN_NAN => Some("NaN"),
            SIGN_POSITIVE_INFINITY => Some("Infinity"),
            SIGN_NEGATIVE_INFINITY => Some("-Infinity"),
            _ => None,
        }
    }

    /// Appends the value as decimal text (PostgreSQL's own rendering) to `out`.
    pub fn write_text(&self, out: &mut String) {
        if let Some(name) = self.special() {
            out.push_str(name);
            return;
        }
        if self.sign == SIGN_NEGATIVE && self.ndigits() > 0 {
            out.push('-');
        }
        let weight = i64::from(self.weight);
        if weight < 0 {
            out.push('0');
        } else {
            for index in 0..=weight {
                let group = self.digit(index as usize);
                if index == 0 {
                    push_number(out, group);
                } else {
                    push_group(out, group, 4);
                }
            }
        }
        let dscale = usize::from(self.dscale);
        if dscale > 0 {
            out.push('.');
            let mut written = 0usize;
            // Fraction groups are at indexes weight + 1, weight + 2, ... (negative weight means
            // leading zero groups before the first stored digit).
            let mut position = weight + 1;
            while written < dscale {
                let group = if position < 0 {
                    0
                } else {
                    self.digit(position as usize)
                };
                let take = (dscale - written).min(4);
                let text_group = group / 10_i64.pow(4 - take as u32);
                push_group(out, text_group, take);
                written += take;
                position += 1;
            }
        }
    }

    /// Returns the value scaled by `10^scale` as an integer (the unscaled value of an Arrow
    /// decimal with that scale).
    ///
    /// # Errors
    /// A description for NaN and infinities, values with more fractional digits than
    /// `scale`, and values that do not fit 76 digits.
    pub fn to_unscaled(&self, scale: i8) -> Result<i256, String> {
        if let Some(name) = self.special() {
            return Err(format!("{name} cannot be represented as an Arrow decimal"));
        }
        let overflow = || "value does not fit 76 decimal digits".to_string();
        let base = i256::from_i128(10_000);
        let mut unscaled = i256::ZERO;
        for index in 0..self.ndigits() {
            unscaled = unscaled
                .checked_mul(base)
                .and_then(|value| value.checked_add(i256::from_i128(i128::from(self.digit(index)))))
                .ok_or_else(overflow)?;
        }
        let exponent = 4 * (i64::from(self.weight) - self.ndigits() as i64 + 1) + i64::from(scale);
        if unscaled != i256::ZERO {
            if exponent >= 0 {
                let factor = power_of_ten(u32::try_from(exponent).map_err(|_| overflow())?)
                    .ok_or_else(overflow)?;
                unscaled = unscaled.checked_mul(factor).ok_or_else(overflow)?;
            } else {
                let divisor = power_of_ten(u32::try_from(-exponent).map_err(|_| overflow())?);
                let (quotient, remainder) = match divisor {
                    Some(divisor) => unscaled.checked_div_rem(divisor).ok_or_else(overflow)?,
                    None => (i256::ZERO, unscaled),
                };
                if remainder != i256::ZERO {
                    return Err(format!("value has more than {scale} fractional digits"));
                }
                unscaled = quotient;
            }
        }
        if self.sign == SIGN_NEGATIVE {
            unscaled = unscaled.checked_neg().ok_or_else(overflow)?;
        }
        Ok(unscaled)
    }
}

impl NumericRef<'_> {
    /// Returns what [`NumericRef::to_unscaled`] returns for an ordinary value of at most 9
    /// digit groups whose scaled value fits an `i128` without rounding; `None` for every other
    /// value (specials, rounding, overflow, long values), which the caller hands to
    /// [`NumericRef::to_unscaled`] for its result or its error.
    pub fn to_unscaled_i128(&self, scale: i8) -> Option<i128> {
        if self.sign != SIGN_POSITIVE && self.sign != SIGN_NEGATIVE {
            return None;
        }
        let ndigits = self.ndigits();
        if ndigits > 9 {
            return None;
        }
        let exponent = 4 * (i32::from(self.weight) - ndigits as i32 + 1) + i32::from(scale);
        let magnitude: u128 = if ndigits <= 4 {
            // Below 10^16: u64 arithmetic.
            let mut value = 0u64;
            for pair in self.digits.chunks_exact(2) {
                value = value * 10_000 + u64::from(u16::from_be_bytes([pair[0], pair[1]]));
            }
            if value == 0 {
                return Some(0);
            }
            let shift = exponent.unsigned_abs() as usize;
            if exponent >= 0 {
                match POW10_U64
                    .get(shift)
                    .and_then(|factor| value.checked_mul(*factor))
                {
                    Some(scaled) => u128::from(scaled),
                    None => u128::from(value).checked_mul(*POW10_U128.get(shift)?)?,
                }
            } else {
                // The common shifts (the zeros that pad the last group) divide by constants.
                let (quotient, remainder) = match shift {
                    1 => (value / 10, value % 10),
                    2 => (value / 100, value % 100),
                    3 => (value / 1000, value % 1000),
                    _ => {
                        let divisor = *POW10_U64.get(shift)?;
                        (value / divisor, value % divisor)
                    }
                };
                if remainder != 0 {
                    return None;
                }
                u128::from(quotient)
            }
        } else {
            let mut value = 0u128;
            for pair in self.digits.chunks_exact(2) {
                value = value * 10_000 + u128::from(u16::from_be_bytes([pair[0], pair[1]]));
            }
            let shift = exponent.unsigned_abs() as usize;
            if exponent >= 0 {
                value.checked_mul(*POW10_U128.get(shift)?)?
            } else {
                let divisor = *POW10_U128.get(shift)?;
                if !value.is_multiple_of(divisor) {
                    return None;
                }
                value / divisor
            }
        };
        let signed = i128::try_from(magnitude).ok()?;
        Some(if self.sign == SIGN_NEGATIVE {
            -signed
        } else {
            signed
        })
    }
}

fn push_number(out: &mut String, value: i64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{value}");
}

/// Appends `value` left-padded with zeros to `width` digits.
fn push_group(out: &mut String, value: i64, width: usize) {
    let mut divisor = 10_i64.pow(width.saturating_sub(1) as u32);
    let mut rest = value;
    for _ in 0..width {
        let digit = rest / divisor;
        out.push(char::from(b'0' + (digit % 10) as u8));
        rest %= divisor;
        divisor = (divisor / 10).max(1);
    }
}

/// Writes the binary numeric for `negative`, integer digits and fraction digits (ASCII digits
/// without sign or point); the display scale is the number of fraction digits.
///
/// # Errors
/// A description when the value has more than 16383 fraction digits or a weight beyond
/// PostgreSQL's range.
pub fn encode_digits(
    negative: bool,
    integer_digits: &[u8],
    fraction_digits: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if fraction_digits.len() > MAX_DSCALE {
        return Err(format!(
            "{} fractional digits exceed PostgreSQL's limit of {MAX_DSCALE}",
            fraction_digits.len()
        ));
    }
    let leading = integer_digits
        .iter()
        .take_while(|digit| **digit == b'0')
        .count();
    let integer_digits = &integer_digits[leading..];
    let left_pad = (4 - integer_digits.len() % 4) % 4;
    let right_pad = (4 - fraction_digits.len() % 4) % 4;
    let total = left_pad + integer_digits.len() + fraction_digits.len() + right_pad;
    let group_count = total / 4;
    let digit_at = |position: usize| -> u16 {
        if position < left_pad {
            return 0;
        }
        let index = position - left_pad;
        let byte = if index < integer_digits.len() {
            integer_digits[index]
        } else {
            fraction_digits
                .get(index - integer_digits.len())
                .copied()
                .unwrap_or(b'0')
        };
        u16::from(byte.wrapping_sub(b'0'))
    };
    let group = |index: usize| -> u16 {
        (0..4).fold(0u16, |value, offset| {
            value * 10 + digit_at(index * 4 + offset)
        })
    };
    let integer_groups = (left_pad + integer_digits.len()) / 4;
    let first = (0..group_count).find(|index| group(*index) != 0);
    let dscale = fraction_digits.len() as u16;
    let Some(first) = first else {
        out.put_u16(0);
        out.put_i16(0);
        out.put_u16(SIGN_POSITIVE);
        out.put_u16(dscale);
        return Ok(());
    };
    let last = (first..group_count)
        .rev()
        .find(|index| group(*index) != 0)
        .unwrap_or(first);
    let weight = integer_groups as i64 - 1 - first as i64;
    let weight = i16::try_from(weight)
        .map_err(|_| "value's magnitude exceeds PostgreSQL numeric's range".to_string())?;
    let ndigits = u16::try_from(last - first + 1)
        .map_err(|_| "value has too many digits for PostgreSQL numeric".to_string())?;
    out.put_u16(ndigits);
    out.put_i16(weight);
    out.put_u16(if negative {
        SIGN_NEGATIVE
    } else {
        SIGN_POSITIVE
    });
    out.put_u16(dscale);
    for index in first..=last {
        out.put_u16(group(index));
    }
    Ok(())
}

/// Writes a special numeric (`NaN`, `Infinity`, `-Infinity`).
pub fn encode_special(name: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let sign = match name {
        "NaN" => SIGN_NAN,
        "Infinity" => SIGN_POSITIVE_INFINITY,
        "-Infinity" => SIGN_NEGATIVE_INFINITY,
        other => return Err(format!("\"{other}\" is not a special numeric value")),
    };
    out.put_u16(0);
    out.put_i16(0);
    out.put_u16(sign);
    out.put_u16(0);
    Ok(())
}

/// Writes the decimal text `text` (`-12.50`, `1e-3`, `NaN`, `Infinity`) as a binary numeric.
/// `scratch` is a reusable buffer for texts with an exponent.
///
/// # Errors
/// A description naming the text when it is not a decimal number.
pub fn encode_text(text: &str, scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<(), String> {
    let trimmed = text.trim();
    match trimmed.to_ascii_lowercase().as_str() {
        "nan" => return encode_special("NaN", out),
        "infinity" | "+infinity" | "inf" | "+inf" => return encode_special("Infinity", out),
        "-infinity" | "-inf" => return encode_special("-Infinity", out),
        _ => {}
    }
    let invalid = || format!("\"{text}\" is not a decimal number");
    let bytes = trimmed.as_bytes();
    let (negative, unsigned) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mantissa, exponent) = match unsigned
        .iter()
        .position(|byte| *byte == b'e' || *byte == b'E')
    {
        Some(at) => {
            let exponent_text = std::str::from_utf8(&unsigned[at + 1..]).map_err(|_| invalid())?;
            (
                &unsigned[..at],
                exponent_text.parse::<i32>().map_err(|_| invalid())?,
            )
        }
        None => (unsigned, 0),
    };
    let (integer_digits, fraction_digits) = match mantissa.iter().position(|byte| *byte == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &mantissa[mantissa.len()..]),
    };
    if integer_digits.is_empty() && fraction_digits.is_empty()
        || !integer_digits
            .iter()
            .chain(fraction_digits)
            .all(u8::is_ascii_digit)
    {
        return Err(invalid());
    }
    if exponent == 0 {
        return encode_digits(negative, integer_digits, fraction_digits, out);
    }
    if exponent.unsigned_abs() > 100_000 {
        return Err(format!("\"{text}\": exponent is out of range"));
    }
    // Move the point: rebuild "integer.fraction" in scratch.
    scratch.clear();
    scratch.extend_from_slice(integer_digits);
    scratch.extend_from_slice(fraction_digits);
    let point = integer_digits.len() as i64 + i64::from(exponent);
    let (point_index, fraction_start) = if point <= 0 {
        let zeros = (-point) as usize;
        scratch.splice(0..0, std::iter::repeat_n(b'0', zeros));
        (0usize, 0usize)
    } else {
        let point = point as usize;
        if point > scratch.len() {
            let missing = point - scratch.len();
            scratch.extend(std::iter::repeat_n(b'0', missing));
        }
        (point, point)
    };
    let (integer_part, fraction_part) = scratch.split_at(point_index.max(fraction_start));
    encode_digits(negative, integer_part, fraction_part, out)
}

/// Writes an Arrow decimal's unscaled value with `scale` as a binary numeric. `scratch` is a
/// reusable text buffer.
///
/// # Errors
/// A description when the value is out of PostgreSQL's range.
pub fn encode_unscaled(
    unscaled: &dyn std::fmt::Display,
    scale: i8,
    scratch: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    use std::fmt::Write as _;
    scratch.clear();
    let _ = write!(scratch, "{unscaled}");
    let bytes = scratch.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if scale <= 0 {
        let zeros = usize::from(scale.unsigned_abs());
        let mut widened: Vec<u8> = Vec::with_capacity(digits.len() + zeros);
        widened.extend_from_slice(digits);
        widened.extend(std::iter::repeat_n(b'0', zeros));
        return encode_digits(negative, &widened, &[], out);
    }
    let scale = usize::from(scale.unsigned_abs());
    if digits.len() > scale {
        let (integer_digits, fraction_digits) = digits.split_at(digits.len() - scale);
        encode_digits(negative, integer_digits, fraction_digits, out)
    } else {
        let mut fraction: Vec<u8> = Vec::with_capacity(scale);
        fraction.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        fraction.extend_from_slice(digits);
        encode_digits(negative, &[], &fraction, out)
    }
}

/// 10^0 to 10^19 (every power of ten a `u64` holds).
const POW10_U64: [u64; 20] = {
    let mut powers = [1u64; 20];
    let mut index = 1;
    while index < 20 {
        powers[index] = powers[index - 1] * 10;
        index += 1;
    }
    powers
};

/// 10^0 to 10^38 (every power of ten a `u128` holds).
const POW10_U128: [u128; 39] = {
    let mut powers = [1u128; 39];
    let mut index = 1;
    while index < 39 {
        powers[index] = powers[index - 1] * 10;
        index += 1;
    }
    powers
};

/// Unsigned integers the digit-group arithmetic runs on (`u64` when the value allows, as it
/// is several times faster than `u128`).
trait Magnitude:
    Copy
    + PartialEq
    + From<u16>
    + std::ops::Div<Output = Self>
    + std::ops::Rem<Output = Self>
    + std::ops::Mul<Output = Self>
{
    /// The low 16 bits (callers only ask for values below 10000).
    fn low_u16(self) -> u16;
}

impl Magnitude for u64 {
    fn low_u16(self) -> u16 {
        self as u16
    }
}

impl Magnitude for u128 {
    fn low_u16(self) -> u16 {
        self as u16
    }
}

/// Fills `groups`, least significant first, with the base-10000 digit groups of
/// `magnitude × pad` where `pad × unit` = 10000 (which shifts a fraction to whole groups
/// without overflowing); returns how many there are (0 for zero; the last one is not 0).
#[inline]
fn low_groups<T: Magnitude>(magnitude: T, unit: T, pad: T, groups: &mut [u16; 20]) -> usize {
    let zero = T::from(0);
    if magnitude == zero {
        return 0;
    }
    let base = T::from(10_000);
    groups[0] = ((magnitude % unit) * pad).low_u16();
    let mut rest = magnitude / unit;
    let mut count = 1;
    while rest != zero && count < groups.len() {
        groups[count] = (rest % base).low_u16();
        rest = rest / base;
        count += 1;
    }
    count
}

/// The most bytes [`decimal_bytes`] writes: the header and 20 digit groups (10 before the
/// point and 10 after, for an `i128` with a scale of up to 38).
pub const DECIMAL_MAX_BYTES: usize = 8 + 2 * 20;

/// Writes an Arrow decimal's unscaled `value` with `scale` fractional digits (0 to 38) as a
/// binary numeric into `buffer`, returning its length: the bytes [`encode_unscaled`] writes
/// for it, without going through text.
#[inline]
pub fn decimal_bytes(value: i128, scale: u8, buffer: &mut [u8; DECIMAL_MAX_BYTES]) -> usize {
    let scale = usize::from(scale.min(38));
    // The fraction is padded on the right to whole groups of 4 digits.
    let padding = (4 - scale % 4) % 4;
    let fraction_groups = (scale + padding) / 4;
    let magnitude = value.unsigned_abs();
    let mut groups = [0u16; 20];
    let count = match u64::try_from(magnitude) {
        Ok(small) => low_groups(
            small,
            POW10_U64[4 - padding],
            POW10_U64[padding],
            &mut groups,
        ),
        Err(_) => low_groups(
            magnitude,
            POW10_U128[4 - padding],
            POW10_U128[padding],
            &mut groups,
        ),
    };
    let dscale = (scale as u16).to_be_bytes();
    if count == 0 {
        buffer[..8].copy_from_slice(&[0, 0, 0, 0, 0, 0, dscale[0], dscale[1]]);
        return 8;
    }
    let trailing = groups[..count]
        .iter()
        .take_while(|group| **group == 0)
        .count();
    let ndigits = count - trailing;
    // At most 11 groups and 10 fraction groups: the weight is between -11 and 10.
    let weight = (count as i16 - fraction_groups as i16 - 1).to_be_bytes();
    let sign = if value < 0 {
        SIGN_NEGATIVE
    } else {
        SIGN_POSITIVE
    }
    .to_be_bytes();
    let digit_count = (ndigits as u16).to_be_bytes();
    buffer[..8].copy_from_slice(&[
        digit_count[0],
        digit_count[1],
        weight[0],
        weight[1],
        sign[0],
        sign[1],
        dscale[0],
        dscale[1],
    ]);
    for (slot, group) in buffer[8..8 + 2 * ndigits]
        .chunks_exact_mut(2)
        .zip(groups[trailing..count].iter().rev())
    {
        slot.copy_from_slice(&group.to_be_bytes());
    }
    8 + 2 * ndigits
}

/// Writes an Arrow decimal's unscaled `value` with `scale` fractional digits (0 to 38) as a
/// binary numeric (see [`decimal_bytes`]).
pub fn encode_decimal(value: i128, scale: u8, out: &mut Vec<u8>) {
    let mut buffer = [0u8; DECIMAL_MAX_BYTES];
    let length = decimal_bytes(value, scale, &mut buffer);
    out.extend_from_slice(&buffer[..length]);
}

/// Returns whether the binary numeric in `encoded` has nonzero digits beyond `scale`
/// fractional digits (which PostgreSQL would round away when storing into `numeric(p, s)`).
pub fn exceeds_scale(encoded: &[u8], scale: i16) -> bool {
    let Ok(numeric) = NumericRef::parse(encoded) else {
        return false;
    };
    if numeric.special().is_some() || numeric.ndigits() == 0 {
        return false;
    }
    // The last stored digit group covers decimal places up to 4 × (ndigits - 1 - weight).
    let last_index = numeric.ndigits() - 1;
    let last_group = numeric.digit(last_index);
    let mut places = 4 * (last_index as i64 - i64::from(numeric.weight));
    let mut group = last_group;
    while group % 10 == 0 && group != 0 {
        group /= 10;
        places -= 1;
    }
    places > i64::from(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut out = Vec::new();
        encode_text(text, &mut Vec::new(), &mut out).expect("encode");
        let numeric = NumericRef::parse(&out).expect("parse");
        let mut rendered = String::new();
        numeric.write_text(&mut rendered);
        rendered
    }

    #[test]
    fn text_round_trips() {
        for text in [
            "0",
            "1",
            "-1",
            "12345.6789",
            "0.0001",
            "10000",
            "1.50",
            "-0.000001",
            "99999999999999999999999999999999999999",
            "123456789012345678901234567890.12345678",
            "NaN",
            "Infinity",
            "-Infinity",
            "0.00",
        ] {
            assert_eq!(round_trip(text), text, "{text}");
        }
        assert_eq!(round_trip("1.5e3"), "1500");
        assert_eq!(round_trip("15e-4"), "0.0015");
    }

    #[test]
    fn known_binary_layout() {
        // 12345.678 → digits [1, 2345, 6780], weight 1, dscale 3.
        let mut out = Vec::new();
        encode_text("12345.678", &mut Vec::new(), &mut out).expect("encode");
        assert_eq!(
            &out[..],
            &[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C]
        );
    }

    #[test]
    fn unscaled_round_trips() {
        for (value, scale) in [
            (12345_i128, 2_i8),
            (-5, 3),
            (0, 4),
            (i128::MAX / 10, 10),
            (7, 0),
            (42, -2),
        ] {
            let mut out = Vec::new();
            encode_unscaled(&value, scale, &mut String::new(), &mut out).expect("encode");
            let numeric = NumericRef::parse(&out).expect("parse");
            let expected = if scale < 0 { value * 100 } else { value };
            let target_scale = scale.max(0);
            assert_eq!(
                numeric.to_unscaled(target_scale).expect("unscaled"),
                i256::from_i128(expected),
                "{value} {scale}"
            );
        }
    }

    #[test]
    fn excess_digits_and_specials_are_errors() {
        let mut out = Vec::new();
        encode_text("1.234", &mut Vec::new(), &mut out).expect("encode");
        let numeric = NumericRef::parse(&out).expect("parse");
        assert!(numeric.to_unscaled(2).is_err());
        assert!(exceeds_scale(&out, 2));
        assert!(!exceeds_scale(&out, 3));
        let mut nan = Vec::new();
        encode_special("NaN", &mut nan).expect("encode");
        assert!(NumericRef::parse(&nan)
            .expect("parse")
            .to_unscaled(2)
            .is_err());
        assert!(encode_text("12a", &mut Vec::new(), &mut Vec::new()).is_err());
    }

    /// Values around every power of ten and the i128 extremes.
    fn interesting_i128() -> Vec<i128> {
        let mut values = vec![0, 1, -1, i128::MAX, i128::MIN, i128::MAX / 10, 5_000_000];
        for exponent in 0..=38 {
            let power = 10_i128.pow(exponent);
            for value in [power, power - 1, power + 1, power / 7 * 3] {
                values.push(value);
                values.push(-value);
            }
        }
        values.push(i128::from(u64::MAX));
        values.push(i128::from(u64::MAX) + 1);
        values
    }

    #[test]
    fn decimal_encoding_matches_the_text_path() {
        for value in interesting_i128() {
            for scale in 0..=38_u8 {
                let mut fast = Vec::new();
                encode_decimal(value, scale, &mut fast);
                let mut text = Vec::new();
                encode_unscaled(
                    &i256::from_i128(value),
                    scale as i8,
                    &mut String::new(),
                    &mut text,
                )
                .expect("encode");
                assert_eq!(&fast[..], &text[..], "{value} scale {scale}");
            }
        }
    }

    #[test]
    fn small_unscaled_matches_the_wide_path() {
        let mut fast_hits = 0;
        for value in interesting_i128() {
            for encoded_scale in [0_u8, 1, 2, 4, 6, 9, 20, 38] {
                let mut encoded = Vec::new();
                encode_decimal(value, encoded_scale, &mut encoded);
                let numeric = NumericRef::parse(&encoded).expect("parse");
                for scale in [0_i8, 1, 2, 3, 5, 10, 19, 38] {
                    let wide = numeric
                        .to_unscaled(scale)
                        .ok()
                        .and_then(|unscaled| unscaled.to_i128());
                    if let Some(small) = numeric.to_unscaled_i128(scale) {
                        assert_eq!(Some(small), wide, "{value}e-{encoded_scale} at {scale}");
                        fast_hits += 1;
                    }
                }
            }
        }
        assert!(fast_hits > 1000, "{fast_hits}");
        // The benchmark's shape: numeric(12,2) values.
        let mut encoded = Vec::new();
        encode_text("-1234.56", &mut Vec::new(), &mut encoded).expect("encode");
        let numeric = NumericRef::parse(&encoded).expect("parse");
        assert_eq!(numeric.to_unscaled_i128(2), Some(-123_456));
        assert_eq!(numeric.to_unscaled_i128(1), None);
        let mut nan = Vec::new();
        encode_special("NaN", &mut nan).expect("encode");
        assert_eq!(
            NumericRef::parse(&nan).expect("parse").to_unscaled_i128(2),
            None
        );
    }
}
