//! `dx_substr`, `dx_pad` and `dx_replace`: character positions and lengths, as DataX's
//! `String.substring` (counted in Unicode characters here; DataX counts UTF-16 units, which
//! differs only for characters outside the Basic Multilingual Plane).

use super::StepOutput;
use arrow_array::builder::StringBuilder;
use arrow_array::{Array, StringArray};
use sluice_common::spec::PadSide;
use std::sync::Arc;

/// Returns the byte offset of character `position` of `text`, or `text.len()` past its end.
fn byte_offset(text: &str, position: usize) -> usize {
    if text.is_ascii() {
        return position.min(text.len());
    }
    text.char_indices()
        .nth(position)
        .map_or(text.len(), |(offset, _)| offset)
}

fn char_count(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// `dx_substr`: `length` characters from `start`; the rest of the value when fewer are left;
/// NULL stays NULL; `start` past the end fails the row.
pub fn substr(values: &StringArray, start: usize, length: usize) -> StepOutput {
    let mut builder = StringBuilder::with_capacity(values.len(), values.value_data().len());
    let mut failures = Vec::new();
    for (row, value) in values.iter().enumerate() {
        let Some(text) = value else {
            builder.append_null();
            continue;
        };
        let count = char_count(text);
        if start > count {
            failures.push((row, past_the_end("start", start, count)));
            builder.append_null();
            continue;
        }
        let begin = byte_offset(text, start);
        let end = if start.saturating_add(length) >= count {
            text.len()
        } else {
            begin + byte_offset(&text[begin..], length)
        };
        builder.append_value(&text[begin..end]);
    }
    StepOutput {
        column: Some(Arc::new(builder.finish())),
        dropped: None,
        failures,
    }
}

fn past_the_end(what: &str, start: usize, count: usize) -> String {
    format!("{what} {start} is past the end of the value ({count} characters)")
}

/// `dx_pad`'s parameters.
#[derive(Debug)]
pub struct Pad {
    /// Where to pad.
    pub side: PadSide,
    /// Target length in characters.
    pub length: usize,
    /// Padding text, not empty.
    pub pad: String,
}

impl Pad {
    /// Pads shorter values to `length` with `pad` repeated (its last copy cut), cuts longer ones
    /// to their first `length` characters; NULL is padded as the empty string.
    pub fn apply(&self, values: &StringArray) -> StepOutput {
        let mut builder = StringBuilder::with_capacity(values.len(), values.len() * self.length);
        let mut padding = String::new();
        for value in values.iter() {
            let text = value.unwrap_or("");
            let count = char_count(text);
            if self.length <= count {
                builder.append_value(&text[..byte_offset(text, self.length)]);
                continue;
            }
            padding.clear();
            let mut needed = self.length - count;
            while needed > 0 {
                let pad_count = char_count(&self.pad);
                if needed >= pad_count {
                    padding.push_str(&self.pad);
                    needed -= pad_count;
                } else {
                    padding.push_str(&self.pad[..byte_offset(&self.pad, needed)]);
                    needed = 0;
                }
            }
            match self.side {
                PadSide::Left => {
                    padding.push_str(text);
                    builder.append_value(&padding);
                }
                PadSide::Right => {
                    let mut padded = String::with_capacity(text.len() + padding.len());
                    padded.push_str(text);
                    padded.push_str(&padding);
                    builder.append_value(&padded);
                }
            }
        }
        StepOutput {
            column: Some(Arc::new(builder.finish())),
            dropped: None,
            failures: Vec::new(),
        }
    }
}

/// `dx_replace`'s parameters.
#[derive(Debug)]
pub struct Replace {
    /// First replaced character.
    pub start: usize,
    /// Characters replaced at most.
    pub length: usize,
    /// Replacement text.
    pub replacement: String,
}

impl Replace {
    /// Replaces `length` characters from `start` (all from `start` when fewer are left); NULL
    /// stays NULL; `start` past the end fails the row.
    pub fn apply(&self, values: &StringArray) -> StepOutput {
        let mut builder = StringBuilder::with_capacity(values.len(), values.value_data().len());
        let mut failures = Vec::new();
        let mut replaced = String::new();
        for (row, value) in values.iter().enumerate() {
            let Some(text) = value else {
                builder.append_null();
                continue;
            };
            let count = char_count(text);
            if self.start > count {
                failures.push((row, past_the_end("start", self.start, count)));
                builder.append_null();
                continue;
            }
            let begin = byte_offset(text, self.start);
            replaced.clear();
            replaced.push_str(&text[..begin]);
            replaced.push_str(&self.replacement);
            if self.start.saturating_add(self.length) < count {
                let end = begin + byte_offset(&text[begin..], self.length);
                replaced.push_str(&text[end..]);
            }
            builder.append_value(&replaced);
        }
        StepOutput {
            column: Some(Arc::new(builder.finish())),
            dropped: None,
            failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;

    fn strings(output: &StepOutput) -> Vec<Option<String>> {
        output
            .column
            .as_ref()
            .expect("a column")
            .as_string::<i32>()
            .iter()
            .map(|value| value.map(str::to_string))
            .collect()
    }

    fn input(values: &[Option<&str>]) -> StringArray {
        StringArray::from(values.to_vec())
    }

    #[test]
    fn substr_follows_the_datax_examples() {
        let values = input(&[Some("dataxTest"), None, Some("")]);
        assert_eq!(
            strings(&substr(&values, 2, 5)),
            vec![Some("taxTe".into()), None, None]
        );
        // Start 2 is past the end of "": the row fails.
        let output = substr(&values, 2, 5);
        assert_eq!(output.failures.len(), 1);
        assert_eq!(output.failures[0].0, 2);
        assert_eq!(
            output.failures[0].1,
            "start 2 is past the end of the value (0 characters)"
        );
        // Past the end from a valid start: the rest of the value.
        assert_eq!(strings(&substr(&values, 5, 10))[0], Some("Test".into()));
        // Start exactly at the end is allowed and gives "".
        assert_eq!(strings(&substr(&values, 0, 0))[2], Some(String::new()));
        assert_eq!(strings(&substr(&values, 9, 1))[0], Some(String::new()));
        assert!(substr(&values, 10, 1).failures.iter().any(|f| f.0 == 0));
    }

    #[test]
    fn substr_counts_characters_not_bytes() {
        let values = input(&[Some("äöüß-x")]);
        assert_eq!(strings(&substr(&values, 1, 3)), vec![Some("öüß".into())]);
    }

    #[test]
    fn pad_pads_or_cuts_on_the_right() {
        let values = input(&[Some("xyz"), Some("xyzzzzz"), None]);
        let left = Pad {
            side: PadSide::Left,
            length: 4,
            pad: "A".into(),
        };
        assert_eq!(
            strings(&left.apply(&values)),
            vec![
                Some("Axyz".into()),
                Some("xyzz".into()),
                Some("AAAA".into())
            ]
        );
        let right = Pad {
            side: PadSide::Right,
            length: 4,
            pad: "A".into(),
        };
        assert_eq!(
            strings(&right.apply(&values)),
            vec![
                Some("xyzA".into()),
                Some("xyzz".into()),
                Some("AAAA".into())
            ]
        );
        let long_pad = Pad {
            side: PadSide::Left,
            length: 8,
            pad: "12345".into(),
        };
        assert_eq!(
            strings(&long_pad.apply(&values))[0],
            Some("12345xyz".into())
        );
        let cut_pad = Pad {
            side: PadSide::Left,
            length: 10,
            pad: "12345".into(),
        };
        assert_eq!(
            strings(&cut_pad.apply(&values))[0],
            Some("1234512xyz".into())
        );
        let zero = Pad {
            side: PadSide::Right,
            length: 0,
            pad: "-".into(),
        };
        assert_eq!(strings(&zero.apply(&values))[0], Some(String::new()));
    }

    #[test]
    fn replace_follows_the_datax_examples() {
        let values = input(&[Some("dataxTest"), None, Some("a")]);
        let middle = Replace {
            start: 2,
            length: 4,
            replacement: "****".into(),
        };
        let output = middle.apply(&values);
        assert_eq!(strings(&output)[..2], [Some("da****est".into()), None]);
        assert_eq!(output.failures.len(), 1);
        assert_eq!(output.failures[0].0, 2);
        let tail = Replace {
            start: 5,
            length: 10,
            replacement: "****".into(),
        };
        assert_eq!(strings(&tail.apply(&values))[0], Some("datax****".into()));
        // Start exactly at the end appends.
        let at_end = Replace {
            start: 1,
            length: 3,
            replacement: "+".into(),
        };
        assert_eq!(strings(&at_end.apply(&values))[2], Some("a+".into()));
        // start + length at or past the end replaces the rest.
        let exact = Replace {
            start: 0,
            length: 2,
            replacement: "#".into(),
        };
        assert_eq!(strings(&exact.apply(&values))[2], Some("#".into()));
    }
}
