//! [`Json`]: the few JSON values a leak report writes, built and printed by hand.
//!
//! Why not serde_json: Iris is linked into every test binary of a user's crate, and
//! serde_json's `impl PartialEq<Value> for i32` (and friends) then take part in type
//! inference there, so an innocent `assert_eq!(v.as_slice(), &[])` stops compiling
//! (found on rayon's own test suite). A report needs objects, arrays, strings,
//! numbers and null, written once: a page of code.
//!
//! Invariant: [`Json::write`] always produces valid JSON (RFC 8259): strings are
//! escaped, control characters as `\u00XX`, and object keys keep their given order.

use std::fmt::{self, Write};

/// A JSON value, as a report builds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(u64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    /// An object from its fields, in order.
    pub(crate) fn object<const N: usize>(fields: [(&'static str, Json); N]) -> Json {
        Json::Object(fields.into())
    }

    /// Adds (or replaces) a field of an object; a no-op on other values.
    pub(crate) fn set(&mut self, key: &'static str, value: Json) {
        if let Json::Object(fields) = self {
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some(field) => field.1 = value,
                None => fields.push((key, value)),
            }
        }
    }

    fn write(&self, out: &mut impl Write) -> fmt::Result {
        match self {
            Json::Null => out.write_str("null"),
            Json::Bool(b) => write!(out, "{b}"),
            Json::Number(n) => write!(out, "{n}"),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.write_char(',')?;
                    }
                    item.write(out)?;
                }
                out.write_char(']')
            }
            Json::Object(fields) => {
                out.write_char('{')?;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.write_char(',')?;
                    }
                    write_string(key, out)?;
                    out.write_char(':')?;
                    value.write(out)?;
                }
                out.write_char('}')
            }
        }
    }
}

fn write_string(s: &str, out: &mut impl Write) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if u32::from(c) < 0x20 => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::String(s.to_string())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::String(s)
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::Number(n)
    }
}

impl From<usize> for Json {
    fn from(n: usize) -> Json {
        Json::Number(n as u64)
    }
}

impl From<u32> for Json {
    fn from(n: u32) -> Json {
        Json::Number(u64::from(n))
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Json {
        value.map_or(Json::Null, Into::into)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Json {
        Json::Array(items.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_valid_json_that_a_parser_reads_back() {
        let mut value = Json::object([
            (
                "name",
                "a \"quoted\"\\ name\nwith\tcontrol \u{1} and ü".into(),
            ),
            ("count", 3u64.into()),
            ("none", Json::from(None::<String>)),
            ("list", vec![Json::Null, Json::Array(vec![])].into()),
            ("empty", Json::object([])),
        ]);
        value.set("count", 4usize.into());
        value.set("extra", Some(7u32).into());
        let text = value.to_string();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "name": "a \"quoted\"\\ name\nwith\tcontrol \u{1} and ü",
                "count": 4,
                "none": null,
                "list": [null, []],
                "empty": {},
                "extra": 7,
            })
        );
        // Keys keep their order.
        assert!(text.starts_with("{\"name\":"), "{text}");
        assert!(text.ends_with("\"extra\":7}"), "{text}");
    }
}
