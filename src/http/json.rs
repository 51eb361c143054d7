//! `JsonBody<T>`: the JSON request body every endpoint reads. It goes through actix's
//! `Json` (size limit, content type, error shape from `errors::json_config`), then:
//! - the body must be a JSON object (serde would otherwise read a struct from an array);
//! - a whole number written with a fraction (`5.0`) counts as the integer it is, as JSON
//!   Schema says, so integer fields accept it;
//! - no string the endpoint reads may hold a NUL character: PostgreSQL cannot store one,
//!   so it is refused here with 400 on every database alike. Fields the type does not
//!   have are ignored, as serde ignores them.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

use super::fields;
use crate::error::AppError;

pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = web::Json::<Strict>::from_request(req, payload);
        Box::pin(async move {
            let mut value = raw.await?.into_inner().0;
            if !value.is_object() {
                return Err(AppError::invalid_request("请求体须为 JSON 对象").into());
            }
            if read_fields_have_nul(&value, struct_fields::<T>()) {
                return Err(AppError::invalid_request("请求体不能包含 NUL 字符").into());
            }
            whole_numbers_as_integers(&mut value);
            serde_path_to_error::deserialize(value)
                .map(JsonBody)
                .map_err(|e| fields::refusal(e.path(), &e.inner().to_string(), "请求体").into())
        })
    }
}

/// A JSON value that refuses an object with the same key twice: which of the two would
/// count is a guess (serde_json keeps the last, other parsers the first), so neither is.
struct Strict(Value);

/// The message a duplicated key is refused with (`errors::json_config` recognises it).
pub const DUPLICATE_KEY: &str = "duplicate key";

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!("{DUPLICATE_KEY} `{key}`")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Largest magnitude below which every whole f64 is exactly an integer.
const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                if f.fract() == 0.0 && f.abs() < EXACT {
                    *n = Number::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// The field names of a struct `T` deserializes from (None if it is not a struct): asked
/// of `T::deserialize` itself, which names them when it calls `deserialize_struct`.
fn struct_fields<'de, T: Deserialize<'de>>() -> Option<&'static [&'static str]> {
    struct Names(Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for &mut Names {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(fields);
            Err(serde::de::Error::custom("names taken"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut names = Names(None);
    let _ = T::deserialize(&mut names);
    names.0
}

/// Whether a NUL reaches `T`: in the named fields only, or anywhere if `fields` is None.
fn read_fields_have_nul(body: &Value, fields: Option<&[&str]>) -> bool {
    match (body, fields) {
        (Value::Object(map), Some(fields)) => fields.iter().any(|f| map.get(*f).is_some_and(has_nul)),
        _ => has_nul(body),
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// For a PATCH field that may be absent (None), null (Some(None)) or set (Some(Some)):
/// `#[serde(default, deserialize_with = "crate::http::json::present")]`.
pub fn present<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_floats_become_integers_and_others_stay() {
        let mut v = json!({"a": 5.0, "b": [-709.0, 1.5], "c": {"d": 1e300, "e": 7}, "f": "5.0"});
        whole_numbers_as_integers(&mut v);
        assert_eq!(v, json!({"a": 5, "b": [-709, 1.5], "c": {"d": 1e300, "e": 7}, "f": "5.0"}));
        assert!(v["a"].is_i64() && v["c"]["d"].is_f64());
    }

    #[test]
    fn only_the_fields_a_type_reads_are_checked_for_nul() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Req {
            name: String,
            #[serde(default)]
            tags: Vec<String>,
        }
        assert_eq!(struct_fields::<Req>(), Some(&["name", "tags"][..]));
        assert_eq!(struct_fields::<Vec<String>>(), None);
        let fields = struct_fields::<Req>();
        assert!(read_fields_have_nul(&json!({"name": "a\u{0}b"}), fields));
        assert!(read_fields_have_nul(&json!({"name": "a", "tags": ["x\u{0}"]}), fields));
        assert!(!read_fields_have_nul(&json!({"name": "a", "extra\u{0}": "b\u{0}"}), fields));
    }

    #[test]
    fn a_key_twice_in_any_object_is_refused() {
        let parse = |s: &str| serde_json::from_str::<Strict>(s).map(|v| v.0);
        assert_eq!(
            parse(r#"{"a": [1, {"b": 2.5, "c": null}], "d": "x"}"#).unwrap(),
            json!({"a": [1, {"b": 2.5, "c": null}], "d": "x"})
        );
        for twice in [r#"{"a": 1, "a": 2}"#, r#"{"x": [{"b": 1, "b": 1}]}"#, r#"{"o": {"k": 1, "k": {}}}"#] {
            let err = parse(twice).unwrap_err().to_string();
            assert!(err.starts_with(DUPLICATE_KEY), "{twice}: {err}");
        }
    }

    #[test]
    fn nul_characters_are_found_in_keys_and_nested_values() {
        assert!(has_nul(&json!({"a": ["x", {"b": "y\u{0}"}]})));
        assert!(has_nul(&json!({"k\u{0}": 1})));
        assert!(!has_nul(&json!({"a": ["x", {"b": "y"}], "n": null})));
    }
}
