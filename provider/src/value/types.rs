//! cty types and their JSON form, which Terraform reads from schemas.

use std::collections::BTreeMap;

use serde_json::json;

/// A Terraform (cty) type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// Any type; values travel with their type attached.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// The cty JSON form: primitives are JSON *strings* (`"string"`, with the
    /// quotes once serialized), collections are `["list", T]`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<_, _> = attrs.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                json!(["object", attrs])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    /// The serialized JSON bytes that go into a schema attribute's `type`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).expect("a JSON value always serializes")
    }

    /// Parses the cty JSON form, as found in dynamic values and state.
    pub fn from_json(json: &serde_json::Value) -> Result<Type, String> {
        use serde_json::Value as J;
        match json {
            J::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(format!("unknown primitive type {other:?}")),
            },
            J::Array(parts) => match (parts.first().and_then(J::as_str), parts.get(1), parts.len()) {
                (Some("list"), Some(t), 2) => Ok(Type::list(Type::from_json(t)?)),
                (Some("set"), Some(t), 2) => Ok(Type::set(Type::from_json(t)?)),
                (Some("map"), Some(t), 2) => Ok(Type::map(Type::from_json(t)?)),
                (Some("object"), Some(J::Object(attrs)), 2 | 3) => {
                    Ok(Type::Object(attrs.iter().map(|(k, t)| Ok((k.clone(), Type::from_json(t)?))).collect::<Result<
                        _,
                        String,
                    >>(
                    )?))
                }
                (Some("tuple"), Some(J::Array(elems)), 2) => {
                    Ok(Type::Tuple(elems.iter().map(Type::from_json).collect::<Result<_, _>>()?))
                }
                _ => Err(format!("malformed type {json}")),
            },
            other => Err(format!("malformed type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_are_quoted_json_strings() {
        assert_eq!(Type::String.to_json_bytes(), br#""string""#);
        assert_eq!(Type::map(Type::String).to_json_bytes(), br#"["map","string"]"#);
    }

    #[test]
    fn json_round_trip() {
        let ty = Type::Object(BTreeMap::from([
            ("a".to_string(), Type::list(Type::Number)),
            ("b".to_string(), Type::set(Type::Bool)),
            ("c".to_string(), Type::Tuple(vec![Type::String, Type::Dynamic])),
        ]));
        assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
        assert!(Type::from_json(&json!("strin")).is_err());
        assert!(Type::from_json(&json!(["list"])).is_err());
    }
}
