//! The `transformers:` list of a job spec: the DataX built-in transformers (`dx_substr`,
//! `dx_pad`, `dx_replace`, `dx_filter`, `dx_digest`, `dx_map`) and `dx_null_to_default`, parsed
//! from their written form into typed parameters.
//!
//! Parsing is pure and shared: the coordinator refuses a bad transformer at submit, and the
//! worker parses the same list again to build the chain it runs (see
//! `sluice_connectors::transform`).
//!
//! ```
//! use sluice_common::spec::{parse_transformers, TransformerSpec, ColumnRef, Transformer};
//! let spec = TransformerSpec {
//!     name: "dx_substr".into(),
//!     column: ColumnRef::Index(1),
//!     params: vec!["2".into(), "5".into()],
//! };
//! let parsed = parse_transformers(&[spec]).unwrap();
//! assert_eq!(parsed[0].transformer, Transformer::Substr { start: 2, length: 5 });
//! ```

use crate::error::{SpecError, SpecErrors};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A transformer as written in a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerSpec {
    /// Transformer name, e.g. `dx_substr`.
    pub name: String,
    /// The column it works on: a 0-based position in the rows the source produces (as DataX's
    /// `columnIndex`), or a column name.
    pub column: ColumnRef,
    /// The transformer's parameters after the column, in DataX order (DataX's `paras`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<serde_json::Value>,
}

/// A column named by position or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    /// 0-based position in the source's columns.
    Index(usize),
    /// Column name, as the source produces it.
    Name(String),
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnRef::Index(index) => write!(formatter, "#{index}"),
            ColumnRef::Name(name) => formatter.write_str(name),
        }
    }
}

/// Which end `dx_pad` pads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadSide {
    /// `l`: pad at the start.
    Left,
    /// `r`: pad at the end.
    Right,
}

/// The comparison of `dx_filter`; a row for which it holds is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `like`: the value as text fully matches the regular expression.
    Like,
    /// `not like`: the value as text does not fully match the regular expression.
    NotLike,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
    /// `=` or `==`.
    Equal,
    /// `!=`.
    NotEqual,
}

impl FilterOp {
    const NAMES: &'static str = "like, not like, >, >=, <, <=, =, ==, !=";

    fn parse(text: &str) -> Option<FilterOp> {
        match text.to_ascii_lowercase().as_str() {
            "like" => Some(FilterOp::Like),
            "not like" => Some(FilterOp::NotLike),
            ">" => Some(FilterOp::Greater),
            ">=" => Some(FilterOp::GreaterOrEqual),
            "<" => Some(FilterOp::Less),
            "<=" => Some(FilterOp::LessOrEqual),
            "=" | "==" => Some(FilterOp::Equal),
            "!=" => Some(FilterOp::NotEqual),
            _ => None,
        }
    }
}

/// The hash of `dx_digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256 (a Sluice addition; DataX has md5 and sha1).
    Sha256,
}

/// Letter case of `dx_digest`'s hex output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexCase {
    /// `toUpperCase`.
    Upper,
    /// `toLowerCase`.
    Lower,
}

/// The arithmetic of `dx_map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapOp {
    /// `+`.
    Add,
    /// `-`.
    Subtract,
    /// `*`.
    Multiply,
    /// `/` (2 decimal places, rounded half up, as DataX).
    Divide,
    /// `%` (remainder with the sign of the dividend).
    Remainder,
}

/// A transformer with typed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transformer {
    /// `dx_substr(column, start, length)`: the characters from `start` (0-based), at most
    /// `length` of them. NULL stays NULL; `start` past the end fails the row.
    Substr {
        /// First character, 0-based.
        start: usize,
        /// Characters kept at most.
        length: usize,
    },
    /// `dx_pad(column, l|r, length, pad)`: pads with `pad` (repeated, the last copy cut) to
    /// `length` characters, or cuts a longer value to its first `length` characters. NULL is
    /// padded as the empty string.
    Pad {
        /// Where to pad.
        side: PadSide,
        /// Target length in characters.
        length: usize,
        /// The padding text (not empty).
        pad: String,
    },
    /// `dx_replace(column, start, length, text)`: replaces `length` characters from `start` by
    /// `text` (everything from `start` when fewer are left). NULL stays NULL; `start` past the
    /// end fails the row.
    Replace {
        /// First replaced character, 0-based.
        start: usize,
        /// Characters replaced at most.
        length: usize,
        /// Replacement text.
        replacement: String,
    },
    /// `dx_filter(column, op, value)`: drops the rows for which `column op value` holds.
    Filter {
        /// The comparison.
        op: FilterOp,
        /// The value compared with, or the regular expression of `like`/`not like`.
        value: String,
    },
    /// `dx_digest(column, algorithm, case)`: the hex digest of the value as text (NULL is
    /// hashed as the empty string).
    Digest {
        /// The hash.
        algorithm: DigestAlgorithm,
        /// Letter case of the hex digits.
        case: HexCase,
    },
    /// `dx_map(column, op, operand)`: decimal arithmetic with a constant; the result is text.
    /// NULL stays NULL; a value that is not a number fails the row.
    Map {
        /// The operation.
        op: MapOp,
        /// The constant operand, a decimal number.
        operand: String,
    },
    /// `dx_null_to_default(column, value)`: NULL becomes `value`, converted to the column's type.
    NullToDefault {
        /// The default, as text.
        value: String,
    },
}

/// Every transformer name, for error messages.
pub const TRANSFORMER_NAMES: &str =
    "dx_substr, dx_pad, dx_replace, dx_filter, dx_digest, dx_map, dx_null_to_default";

/// A transformer of the spec, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTransformer {
    /// The name as written (for reports).
    pub name: String,
    /// The column it works on.
    pub column: ColumnRef,
    /// What it does.
    pub transformer: Transformer,
}

/// Parses every transformer of a spec, collecting every problem with its path
/// (`transformers[1].params`).
///
/// # Errors
/// Every problem found.
pub fn parse_transformers(specs: &[TransformerSpec]) -> Result<Vec<ParsedTransformer>, SpecErrors> {
    let mut parsed = Vec::with_capacity(specs.len());
    let mut errors = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        match parse_one(spec) {
            Ok(transformer) => parsed.push(ParsedTransformer {
                name: spec.name.clone(),
                column: spec.column.clone(),
                transformer,
            }),
            Err((field, message)) => errors.push(SpecError::new(
                format!("transformers[{index}]{field}"),
                message,
            )),
        }
        if let ColumnRef::Name(name) = &spec.column {
            if name.trim().is_empty() {
                errors.push(SpecError::new(
                    format!("transformers[{index}].column"),
                    "must not be empty: give a column name or a 0-based position",
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(SpecErrors(errors))
    }
}

/// A problem: the field below `transformers[i]` (`.name`, `.params`, `.params[1]`) and the
/// message.
type Problem = (String, String);

fn parse_one(spec: &TransformerSpec) -> Result<Transformer, Problem> {
    let params = params_as_text(&spec.params)?;
    let (arity, expected) = match spec.name.as_str() {
        "dx_substr" => (2, "start, length"),
        "dx_pad" => (3, "l or r, length, pad text"),
        "dx_replace" => (3, "start, length, replacement"),
        "dx_filter" => (2, "operator, value"),
        "dx_digest" => (2, "md5/sha1/sha256, toUpperCase/toLowerCase"),
        "dx_map" => (2, "operator +, -, *, / or %, number"),
        "dx_null_to_default" => (1, "default value"),
        "dx_groovy" => {
            return Err((
                ".name".into(),
                "dx_groovy is not supported (Sluice runs no Groovy code); use the built-in transformers or a source-side SQL expression".into(),
            ))
        }
        other => {
            return Err((
                ".name".into(),
                format!("\"{other}\" is not one of {TRANSFORMER_NAMES}"),
            ))
        }
    };
    if params.len() != arity {
        return Err((
            ".params".into(),
            format!(
                "{} takes {arity} parameters after the column ({expected}), got {}",
                spec.name,
                params.len()
            ),
        ));
    }
    match spec.name.as_str() {
        "dx_substr" => Ok(Transformer::Substr {
            start: count_param(&params, 0, "start")?,
            length: count_param(&params, 1, "length")?,
        }),
        "dx_pad" => {
            let side = match params[0].to_ascii_lowercase().as_str() {
                "l" => PadSide::Left,
                "r" => PadSide::Right,
                _ => {
                    return Err((
                        ".params[0]".into(),
                        format!("\"{}\" is not l or r", params[0]),
                    ))
                }
            };
            if params[2].is_empty() {
                return Err((".params[2]".into(), "the pad text must not be empty".into()));
            }
            Ok(Transformer::Pad {
                side,
                length: count_param(&params, 1, "length")?,
                pad: params[2].clone(),
            })
        }
        "dx_replace" => Ok(Transformer::Replace {
            start: count_param(&params, 0, "start")?,
            length: count_param(&params, 1, "length")?,
            replacement: params[2].clone(),
        }),
        "dx_filter" => {
            let Some(op) = FilterOp::parse(&params[0]) else {
                return Err((
                    ".params[0]".into(),
                    format!("\"{}\" is not one of {}", params[0], FilterOp::NAMES),
                ));
            };
            if params[1].is_empty() {
                return Err((".params[1]".into(), "the value must not be empty".into()));
            }
            if matches!(op, FilterOp::Like | FilterOp::NotLike) {
                if let Err(error) = regex::Regex::new(&params[1]) {
                    return Err((
                        ".params[1]".into(),
                        format!("not a valid regular expression: {error}"),
                    ));
                }
            }
            Ok(Transformer::Filter {
                op,
                value: params[1].clone(),
            })
        }
        "dx_digest" => {
            let algorithm = match params[0].to_ascii_lowercase().as_str() {
                "md5" => DigestAlgorithm::Md5,
                "sha1" => DigestAlgorithm::Sha1,
                "sha256" => DigestAlgorithm::Sha256,
                _ => {
                    return Err((
                        ".params[0]".into(),
                        format!("\"{}\" is not one of md5, sha1, sha256", params[0]),
                    ))
                }
            };
            let case = match params[1].to_ascii_lowercase().as_str() {
                "touppercase" => HexCase::Upper,
                "tolowercase" => HexCase::Lower,
                _ => {
                    return Err((
                        ".params[1]".into(),
                        format!("\"{}\" is not toUpperCase or toLowerCase", params[1]),
                    ))
                }
            };
            Ok(Transformer::Digest { algorithm, case })
        }
        "dx_map" => {
            let op = match params[0].as_str() {
                "+" => MapOp::Add,
                "-" => MapOp::Subtract,
                "*" => MapOp::Multiply,
                "/" => MapOp::Divide,
                "%" => MapOp::Remainder,
                other => {
                    return Err((
                        ".params[0]".into(),
                        format!("\"{other}\" is not one of +, -, *, /, %"),
                    ))
                }
            };
            let operand = params[1].trim();
            if !is_decimal_text(operand) {
                return Err((
                    ".params[1]".into(),
                    format!("\"{}\" is not a decimal number", params[1]),
                ));
            }
            if matches!(op, MapOp::Divide | MapOp::Remainder)
                && operand.chars().all(|c| matches!(c, '0' | '.' | '+' | '-'))
            {
                return Err((".params[1]".into(), "cannot divide by zero".into()));
            }
            Ok(Transformer::Map {
                op,
                operand: operand.to_string(),
            })
        }
        _ => Ok(Transformer::NullToDefault {
            value: params[0].clone(),
        }),
    }
}

/// Returns whether `text` is a plain decimal number: an optional sign, digits, an optional
/// fraction.
pub fn is_decimal_text(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.chars().all(|c| c.is_ascii_digit())
}

fn params_as_text(params: &[serde_json::Value]) -> Result<Vec<String>, Problem> {
    params
        .iter()
        .enumerate()
        .map(|(index, value)| match value {
            serde_json::Value::String(text) => Ok(text.clone()),
            serde_json::Value::Number(number) => Ok(number.to_string()),
            serde_json::Value::Bool(flag) => Ok(flag.to_string()),
            _ => Err((
                format!(".params[{index}]"),
                "must be a string, number or boolean".to_string(),
            )),
        })
        .collect()
}

fn count_param(params: &[String], index: usize, what: &str) -> Result<usize, Problem> {
    params[index].trim().parse::<usize>().map_err(|_| {
        (
            format!(".params[{index}]"),
            format!("{what} \"{}\" is not a non-negative integer", params[index]),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, params: &[&str]) -> TransformerSpec {
        TransformerSpec {
            name: name.into(),
            column: ColumnRef::Index(0),
            params: params.iter().map(|p| serde_json::Value::from(*p)).collect(),
        }
    }

    fn parse(name: &str, params: &[&str]) -> Result<Transformer, String> {
        parse_transformers(&[spec(name, params)])
            .map(|mut parsed| parsed.remove(0).transformer)
            .map_err(|errors| errors.to_string())
    }

    #[test]
    fn every_builtin_parses() {
        assert_eq!(
            parse("dx_pad", &["L", "4", "A"]),
            Ok(Transformer::Pad {
                side: PadSide::Left,
                length: 4,
                pad: "A".into()
            })
        );
        assert_eq!(
            parse("dx_filter", &["NOT LIKE", "a.*"]),
            Ok(Transformer::Filter {
                op: FilterOp::NotLike,
                value: "a.*".into()
            })
        );
        assert_eq!(
            parse("dx_digest", &["MD5", "toUpperCase"]),
            Ok(Transformer::Digest {
                algorithm: DigestAlgorithm::Md5,
                case: HexCase::Upper
            })
        );
        assert_eq!(
            parse("dx_map", &["/", " 2.5 "]),
            Ok(Transformer::Map {
                op: MapOp::Divide,
                operand: "2.5".into()
            })
        );
        assert_eq!(
            parse("dx_null_to_default", &["0"]),
            Ok(Transformer::NullToDefault { value: "0".into() })
        );
        assert!(parse("dx_replace", &["1", "2", "**"]).is_ok());
    }

    #[test]
    fn problems_name_the_parameter_and_what_is_allowed() {
        let text = parse("dx_substr", &["1"]).expect_err("arity");
        assert!(
            text.contains("transformers[0].params: dx_substr takes 2 parameters"),
            "{text}"
        );
        let text = parse("dx_substr", &["-1", "2"]).expect_err("negative");
        assert!(text.contains("transformers[0].params[0]"), "{text}");
        let text = parse("dx_pad", &["m", "2", "x"]).expect_err("side");
        assert!(text.contains("is not l or r"), "{text}");
        let text = parse("dx_pad", &["l", "2", ""]).expect_err("empty pad");
        assert!(text.contains("params[2]"), "{text}");
        let text = parse("dx_filter", &["~", "x"]).expect_err("op");
        assert!(text.contains("is not one of like, not like"), "{text}");
        let text = parse("dx_filter", &["like", "(a"]).expect_err("regex");
        assert!(text.contains("not a valid regular expression"), "{text}");
        let text = parse("dx_filter", &["=", ""]).expect_err("empty value");
        assert!(text.contains("must not be empty"), "{text}");
        let text = parse("dx_digest", &["crc32", "toLowerCase"]).expect_err("hash");
        assert!(text.contains("md5, sha1, sha256"), "{text}");
        let text = parse("dx_map", &["/", "0.0"]).expect_err("zero");
        assert!(text.contains("divide by zero"), "{text}");
        let text = parse("dx_groovy", &["code"]).expect_err("groovy");
        assert!(
            text.contains("transformers[0].name: dx_groovy is not supported"),
            "{text}"
        );
        let text = parse("dx_upper", &[]).expect_err("unknown");
        assert!(text.contains("is not one of dx_substr"), "{text}");
    }

    #[test]
    fn column_is_a_position_or_a_name() {
        let yaml = "[{name: dx_substr, column: 2, params: [0, 1]}, {name: dx_pad, column: code, params: [r, 3, '0']}]";
        let specs: Vec<TransformerSpec> = serde_yaml_ng::from_str(yaml).expect("parses");
        assert_eq!(specs[0].column, ColumnRef::Index(2));
        assert_eq!(specs[1].column, ColumnRef::Name("code".into()));
        let parsed = parse_transformers(&specs).expect("valid");
        assert_eq!(
            parsed[0].transformer,
            Transformer::Substr {
                start: 0,
                length: 1
            }
        );
    }

    #[test]
    fn decimal_text() {
        for good in ["1", "-1.5", "+.5", "10."] {
            assert!(is_decimal_text(good), "{good}");
        }
        for bad in ["", ".", "1e3", "abc", "1.2.3", "--1"] {
            assert!(!is_decimal_text(bad), "{bad}");
        }
    }
}
