//! Serde-modelled state: resources work with plain Rust structs, and the
//! framework converts them to and from [`Value`]s of the schema's type.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::{from_json, to_json, AttributePath, DecodeError, PathStep, Type, Value, UNKNOWN_SENTINEL};

/// An attribute that may be null or, while planning, not yet known.
///
/// Use it for every field that can be unknown at the time the struct is
/// read: all configuration during validation, computed attributes in plans.
/// Plain `Option<T>` is fine where the value is always known (applied state).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Attr<T> {
    #[default]
    Null,
    Unknown,
    Known(T),
}

impl<T> Attr<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Attr::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn into_known(self) -> Option<T> {
        match self {
            Attr::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Attr::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Attr::Unknown)
    }
}

impl<T> From<Option<T>> for Attr<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Attr::Null, Attr::Known)
    }
}

impl<T: Serialize> Serialize for Attr<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Attr::Null => serializer.serialize_none(),
            Attr::Unknown => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(UNKNOWN_SENTINEL, &true)?;
                map.end()
            }
            Attr::Known(v) => v.serialize(serializer),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Attr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = serde_json::Value::deserialize(deserializer)?;
        match &json {
            serde_json::Value::Null => Ok(Attr::Null),
            serde_json::Value::Object(map) if map.len() == 1 && map.contains_key(UNKNOWN_SENTINEL) => Ok(Attr::Unknown),
            _ => T::deserialize(json).map(Attr::Known).map_err(serde::de::Error::custom),
        }
    }
}

/// Reads a value of type `ty` into a serde struct; errors name the path.
pub fn from_value<T: DeserializeOwned>(value: &Value, ty: &Type) -> Result<T, DecodeError> {
    let json = to_json(value, ty);
    serde_path_to_error::deserialize(json).map_err(|err| {
        let steps = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(PathStep::Attribute(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(PathStep::Index(*index as i64)),
                _ => None,
            })
            .collect();
        DecodeError { path: AttributePath(steps), message: err.into_inner().to_string() }
    })
}

/// Writes a serde struct as a value of type `ty`.
pub fn to_value<T: Serialize>(state: &T, ty: &Type) -> Result<Value, DecodeError> {
    let json =
        serde_json::to_value(state).map_err(|e| DecodeError { path: AttributePath::root(), message: e.to_string() })?;
    from_json(&json, ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct State {
        name: Attr<String>,
        arn: Attr<String>,
        retries: Option<i64>,
    }

    fn ty() -> Type {
        Type::Object(BTreeMap::from([
            ("name".into(), Type::String),
            ("arn".into(), Type::String),
            ("retries".into(), Type::Number),
        ]))
    }

    #[test]
    fn unknowns_survive_the_round_trip() {
        let value = object([("name", "svc".into()), ("arn", Value::Unknown), ("retries", Value::Null)]);
        let state: State = from_value(&value, &ty()).unwrap();
        assert_eq!(state, State { name: Attr::Known("svc".into()), arn: Attr::Unknown, retries: None });
        assert_eq!(to_value(&state, &ty()).unwrap(), value);
    }

    #[test]
    fn errors_name_the_attribute() {
        let value = object([("name", "svc".into()), ("arn", Value::Null), ("retries", Value::Unknown)]);
        let err = from_value::<State>(&value, &ty()).unwrap_err();
        assert_eq!(err.path.to_string(), "retries");
    }
}
