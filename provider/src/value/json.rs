//! The JSON form of values: Terraform's stored state, and the bridge to
//! serde-modelled resource state.
//!
//! Stored state never holds unknowns, but planned values do, and typed
//! resource code sees them through serde. An unknown becomes the one-key
//! object [`UNKNOWN_SENTINEL`] in JSON; `framework::Attr` recognises it.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{AttributePath, DecodeError, Type, Value};

/// The key of the one-key JSON object that stands for an unknown value.
/// The NUL byte keeps it apart from any key a configuration could hold.
pub const UNKNOWN_SENTINEL: &str = "\u{0}unknown";

/// Reads JSON as a value of type `ty`. Object attributes the type does not
/// have are dropped (state written by an older schema), missing ones are null.
pub fn from_json(json: &Json, ty: &Type) -> Result<Value, DecodeError> {
    convert(json, ty, &AttributePath::root())
}

fn convert(json: &Json, ty: &Type, path: &AttributePath) -> Result<Value, DecodeError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    if is_unknown_sentinel(json) {
        return Ok(Value::Unknown);
    }
    let mismatch = || DecodeError::new(path, format!("expected {}, found {}", ty.to_json(), kind(json)));
    Ok(match (ty, json) {
        (Type::Bool, Json::Bool(b)) => Value::Bool(*b),
        (Type::Number, Json::Number(n)) => Value::Number(n.clone()),
        (Type::Number, Json::String(s)) => Value::Number(s.parse().map_err(|_| mismatch())?),
        (Type::String, Json::String(s)) => Value::String(s.clone()),
        // Terraform's own JSON conversion accepts these for strings.
        (Type::String, Json::Number(n)) => Value::String(n.to_string()),
        (Type::String, Json::Bool(b)) => Value::String(b.to_string()),
        (Type::List(elem), Json::Array(items)) => Value::List(elements(items, elem, path)?),
        (Type::Set(elem), Json::Array(items)) => Value::Set(elements(items, elem, path)?),
        (Type::Tuple(elems), Json::Array(items)) if elems.len() == items.len() => Value::Tuple(
            items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (j, t))| convert(j, t, &path.index(i)))
                .collect::<Result<_, _>>()?,
        ),
        (Type::Map(elem), Json::Object(items)) => Value::Map(
            items.iter().map(|(k, j)| Ok((k.clone(), convert(j, elem, &path.key(k))?))).collect::<Result<_, _>>()?,
        ),
        (Type::Object(attrs), Json::Object(items)) => Value::Object(
            attrs
                .iter()
                .map(|(name, t)| {
                    let item = items.get(name).map_or(Ok(Value::Null), |j| convert(j, t, &path.attribute(name)))?;
                    Ok((name.clone(), item))
                })
                .collect::<Result<_, _>>()?,
        ),
        (Type::Dynamic, Json::Object(parts)) if parts.contains_key("type") => {
            let actual = Type::from_json(&parts["type"]).map_err(|e| DecodeError::new(path, e))?;
            convert(parts.get("value").unwrap_or(&Json::Null), &actual, path)?
        }
        _ => return Err(mismatch()),
    })
}

fn elements(items: &[Json], elem: &Type, path: &AttributePath) -> Result<Vec<Value>, DecodeError> {
    items.iter().enumerate().map(|(i, j)| convert(j, elem, &path.index(i))).collect()
}

fn is_unknown_sentinel(json: &Json) -> bool {
    matches!(json, Json::Object(map) if map.len() == 1 && map.contains_key(UNKNOWN_SENTINEL))
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// Writes a value as JSON; `dynamic` attributes as `{"value", "type"}` like
/// Terraform's state, unknowns as the sentinel object.
pub fn to_json(value: &Value, ty: &Type) -> Json {
    match (value, ty) {
        (Value::Null, _) => Json::Null,
        (Value::Unknown, _) => Json::Object([(UNKNOWN_SENTINEL.to_string(), Json::Bool(true))].into_iter().collect()),
        (value, Type::Dynamic) => {
            let actual = value.infer_type();
            serde_json::json!({ "value": to_json(value, &actual), "type": actual.to_json() })
        }
        (Value::Bool(b), _) => Json::Bool(*b),
        (Value::Number(n), _) => Json::Number(n.clone()),
        (Value::String(s), _) => Json::String(s.clone()),
        (Value::List(items) | Value::Set(items) | Value::Tuple(items), ty) => {
            Json::Array(items.iter().enumerate().map(|(i, v)| to_json(v, &element_type(ty, i, None))).collect())
        }
        // Every attribute of the type is written, so serde sees null, not a missing field.
        (Value::Object(items), Type::Object(attrs)) => Json::Object(
            attrs.iter().map(|(k, t)| (k.clone(), to_json(items.get(k).unwrap_or(&Value::Null), t))).collect(),
        ),
        (Value::Map(items) | Value::Object(items), ty) => {
            Json::Object(items.iter().map(|(k, v)| (k.clone(), to_json(v, &element_type(ty, 0, Some(k))))).collect())
        }
    }
}

fn element_type(ty: &Type, index: usize, key: Option<&str>) -> Type {
    match ty {
        Type::List(t) | Type::Set(t) | Type::Map(t) => (**t).clone(),
        Type::Tuple(ts) => ts.get(index).cloned().unwrap_or(Type::Dynamic),
        Type::Object(attrs) => key.and_then(|k| attrs.get(k)).cloned().unwrap_or(Type::Dynamic),
        _ => Type::Dynamic,
    }
}

/// Convenience for tests and resource code: an object value from pairs.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<_, _>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_from_an_older_schema_is_read_against_the_current_one() {
        let ty = Type::Object(BTreeMap::from([
            ("name".to_string(), Type::String),
            ("added_later".to_string(), Type::Number),
        ]));
        let stored = json!({ "name": "x", "removed_attribute": true });
        let value = from_json(&stored, &ty).unwrap();
        assert_eq!(value, object([("name", "x".into()), ("added_later", Value::Null)]));
    }

    #[test]
    fn unknown_round_trips_through_the_sentinel() {
        let ty = Type::list(Type::String);
        let value = Value::List(vec!["a".into(), Value::Unknown]);
        assert_eq!(from_json(&to_json(&value, &ty), &ty).unwrap(), value);
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let value = Value::List(vec![1.into()]);
        let json = to_json(&value, &Type::Dynamic);
        assert_eq!(json, json!({ "value": [1], "type": ["list", "number"] }));
        assert_eq!(from_json(&json, &Type::Dynamic).unwrap(), value);
    }

    #[test]
    fn mismatches_name_the_path() {
        let ty = Type::Object(BTreeMap::from([("tags".to_string(), Type::map(Type::String))]));
        let err = from_json(&json!({ "tags": { "a": [1] } }), &ty).unwrap_err();
        assert_eq!(err.path.to_string(), r#"tags["a"]"#);
    }
}
