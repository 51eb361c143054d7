//! serde's refusals, said in Chinese for the field they concern: every 400 for a missing,
//! mistyped or malformed field in a JSON body or a query string goes through `refusal`, so
//! the client learns which field and what format was expected.
use serde_path_to_error::{Path, Segment};

use crate::error::{AppError, FieldErrors};

/// RFC 3339 with a time zone: the one time format the API reads.
pub const DATETIME: &str = "带时区的 RFC 3339 时间，如 2026-11-29T08:30:00+08:00";

/// A 400 `invalid_request` naming the field serde stopped at and what it expected there.
pub fn refusal(path: &Path, message: &str, what: &str) -> AppError {
    let (field, why) = explain(path, message);
    let mut fields = FieldErrors::new();
    let text = format!("{what}字段 {field} 有误：{why}");
    fields.insert(field, why);
    AppError::bad_fields(text, fields)
}

/// The field's dotted name and why it was refused.
fn explain(path: &Path, message: &str) -> (String, String) {
    let at = dotted(path);
    if let Some(name) = between(message, "missing field `", "`") {
        return (join(&at, name), "缺少此字段".to_owned());
    }
    if let Some(name) = between(message, "duplicate field `", "`") {
        return (join(&at, name), "字段重复".to_owned());
    }
    let field = if at.is_empty() { "body".to_owned() } else { at };
    (field, reason(message))
}

fn reason(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return format!("类型不对，应为{}", expected_in_chinese(expected));
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return format!("取值无效，应为{}", expected_in_chinese(expected));
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return format!("长度不对，应为{}", expected_in_chinese(expected));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let expected = rest.split_once("expected ").map_or("", |(_, e)| e);
        return format!("取值须为 {} 之一", choices(expected).join("、"));
    }
    if CHRONO_PARSE_ERRORS.iter().any(|e| message.starts_with(e)) {
        return format!("时间格式不对，应为{DATETIME}");
    }
    if message.contains("invalid digit") || message.contains("number too large") || message.contains("number too small")
    {
        return "应为整数".to_owned();
    }
    if message.contains("invalid float literal") {
        return "应为数字".to_owned();
    }
    // Our own deserializers speak Chinese already.
    message.to_owned()
}

/// chrono's `ParseError` texts: a time that does not parse as RFC 3339.
const CHRONO_PARSE_ERRORS: &[&str] = &[
    "premature end of input",
    "input contains invalid characters",
    "trailing input",
    "input is out of range",
    "no possible date and time matching input",
    "input is not enough for unique date and time",
    "bad or unsupported format string",
];

fn expected_in_chinese(expected: &str) -> String {
    let e = expected.trim();
    let text = match e {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "整数",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "非负整数",
        "f32" | "f64" => "数字",
        "a string" | "a borrowed string" | "a char" => "字符串",
        "a boolean" => "布尔值 true 或 false",
        "a sequence" => "数组",
        "a map" => "对象",
        _ if e.starts_with("struct ") => "对象",
        _ if e.contains("date and time") || e.contains("RFC 3339") || e.contains("unix timestamp") => DATETIME,
        _ if e.contains("date") => "日期，如 2026-11-29",
        _ if e.starts_with("one of ") || e.starts_with('`') => return format!(" {} 之一", choices(e).join("、")),
        _ if e.starts_with("an integer") || e.starts_with("integer") => "整数",
        _ => return format!(" {e}"),
    };
    text.to_owned()
}

/// serde lists choices as "`a`", "`a` or `b`" or "one of `a`, `b`, `c`".
fn choices(expected: &str) -> Vec<&str> {
    expected
        .trim_start_matches("one of ")
        .split(", ")
        .flat_map(|o| o.split(" or "))
        .map(|o| o.trim().trim_matches('`'))
        .filter(|o| !o.is_empty())
        .collect()
}

fn dotted(path: &Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(start)?;
    rest.split_once(end).map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Req {
        occurred_at: DateTime<Utc>,
        count: Option<u32>,
        #[serde(default)]
        items: Vec<Inner>,
        flag: Option<bool>,
    }

    fn fields_of(value: serde_json::Value) -> FieldErrors {
        let err = serde_path_to_error::deserialize::<_, Req>(value).unwrap_err();
        match refusal(err.path(), &err.inner().to_string(), "") {
            AppError::BadFields { fields, .. } => fields,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_kind_of_refusal_names_its_field_in_chinese() {
        let f = fields_of(json!({}));
        assert_eq!(f.get("occurred_at").map(String::as_str), Some("缺少此字段"));
        let f = fields_of(json!({"occurred_at": "2026-11-29T08:00:00"}));
        assert!(f["occurred_at"].contains("RFC 3339") && f["occurred_at"].contains("+08:00"), "{f:?}");
        let f = fields_of(json!({"occurred_at": 5}));
        assert!(f["occurred_at"].starts_with("类型不对") && f["occurred_at"].contains("RFC 3339"), "{f:?}");
        let t = "2026-11-29T08:00:00Z";
        let f = fields_of(json!({"occurred_at": t, "count": "three"}));
        assert_eq!(f["count"], "类型不对，应为非负整数");
        let f = fields_of(json!({"occurred_at": t, "count": -1}));
        assert_eq!(f["count"], "取值无效，应为非负整数");
        let f = fields_of(json!({"occurred_at": t, "items": [{"n": 1}, {"n": "x"}]}));
        assert_eq!(f["items[1].n"], "类型不对，应为整数");
        let f = fields_of(json!({"occurred_at": t, "items": [{}]}));
        assert_eq!(f["items[0].n"], "缺少此字段");
        let f = fields_of(json!({"occurred_at": t, "flag": "yes"}));
        assert_eq!(f["flag"], "类型不对，应为布尔值 true 或 false");
        assert!(f.values().all(|why| !why.contains("expected")), "{f:?}");
    }

    #[test]
    fn unknown_variants_list_the_choices() {
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Period {
            Week,
            Month,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Q {
            period: Period,
        }
        let err = serde_path_to_error::deserialize::<_, Q>(json!({"period": "day"})).unwrap_err();
        let AppError::BadFields { fields, message } = refusal(err.path(), &err.inner().to_string(), "参数") else {
            panic!()
        };
        assert_eq!(fields["period"], "取值须为 week、month 之一");
        assert_eq!(message, "参数字段 period 有误：取值须为 week、month 之一");
    }
}
