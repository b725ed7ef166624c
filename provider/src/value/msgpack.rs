//! The msgpack form of values that Terraform puts in `DynamicValue.msgpack`.
//!
//! cty's conventions: an object is a map holding every attribute (nil for
//! null); unknown is the extension type 0 (Terraform ≥ 1.6 may send type 12,
//! an unknown with refinements, which we read as plain unknown); numbers are
//! integers, floats, or strings for values too large for both; a `dynamic`
//! value is a two-element array of its type's JSON and the value itself.

use std::collections::BTreeMap;

use rmp::Marker;

use super::{AttributePath, DecodeError, Type, Value};

const UNKNOWN_EXT: i8 = 0;
const REFINED_UNKNOWN_EXT: i8 = 12;

/// How deeply values may nest. A schema bounds the depth of its own types,
/// but a `dynamic` value declares its type in the bytes, and `dynamic`
/// elements inside it can declare theirs again: without a limit a few
/// megabytes of `["list","dynamic"]` overflow the stack. serde_json, which
/// reads the JSON forms, stops at the same depth.
const MAX_DEPTH: usize = 128;

/// Decodes `bytes` as a value of type `ty`. The whole input must be used.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let root = AttributePath::root();
    let mut reader = Reader { bytes, pos: 0, depth: 0 };
    let value = reader.value(ty, &root)?;
    if reader.pos != bytes.len() {
        return Err(DecodeError::new(&root, format!("{} trailing bytes after the value", bytes.len() - reader.pos)));
    }
    Ok(value)
}

/// Encodes `value` as type `ty`. Objects are written with every attribute
/// of the type, in the type's order, as Terraform requires.
pub fn encode_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    write_value(&mut out, value, ty, &AttributePath::root())?;
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Values being decoded around the current one.
    depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, path: &AttributePath) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(DecodeError::new(path, "msgpack value ends early")),
        }
    }

    fn uint(&mut self, n: usize, path: &AttributePath) -> Result<u64, DecodeError> {
        Ok(self.take(n, path)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// Checks a declared element count against what is left, so a forged
    /// length cannot make us allocate more than the input could hold.
    fn count(&mut self, len: u64, min_bytes_each: usize, path: &AttributePath) -> Result<usize, DecodeError> {
        let left = (self.bytes.len() - self.pos) as u64;
        if len.saturating_mul(min_bytes_each as u64) > left {
            return Err(DecodeError::new(path, format!("declares {len} elements but only {left} bytes remain")));
        }
        Ok(len as usize)
    }

    fn marker(&mut self, path: &AttributePath) -> Result<Marker, DecodeError> {
        Ok(Marker::from_u8(self.take(1, path)?[0]))
    }

    fn value(&mut self, ty: &Type, path: &AttributePath) -> Result<Value, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError::new(path, format!("values nest more than {MAX_DEPTH} levels deep")));
        }
        self.depth += 1;
        let value = self.value_within_depth(ty, path);
        self.depth -= 1;
        value
    }

    fn value_within_depth(&mut self, ty: &Type, path: &AttributePath) -> Result<Value, DecodeError> {
        let marker = self.marker(path)?;
        if marker == Marker::Null {
            return Ok(Value::Null);
        }
        if let Some(len) = self.ext_len(marker, path)? {
            let kind = self.take(1, path)?[0] as i8;
            self.take(len, path)?;
            return match kind {
                UNKNOWN_EXT | REFINED_UNKNOWN_EXT => Ok(Value::Unknown),
                other => Err(DecodeError::new(path, format!("unexpected msgpack extension type {other}"))),
            };
        }
        match ty {
            Type::Bool => match marker {
                Marker::True => Ok(Value::Bool(true)),
                Marker::False => Ok(Value::Bool(false)),
                _ => Err(mismatch(path, "bool", marker)),
            },
            Type::Number => self.number(marker, path),
            Type::String => match self.str_len(marker, path)? {
                Some(len) => self.string(len, path).map(Value::String),
                None => Err(mismatch(path, "string", marker)),
            },
            Type::List(elem) | Type::Set(elem) => {
                let len = self.array_len(marker, path)?.ok_or_else(|| mismatch(path, "list", marker))?;
                let items = (0..len).map(|i| self.value(elem, &path.index(i))).collect::<Result<Vec<_>, _>>()?;
                Ok(if matches!(ty, Type::Set(_)) { Value::Set(items) } else { Value::List(items) })
            }
            Type::Tuple(elems) => {
                let len = self.array_len(marker, path)?.ok_or_else(|| mismatch(path, "tuple", marker))?;
                if len != elems.len() {
                    return Err(DecodeError::new(path, format!("tuple of {} elements has {len}", elems.len())));
                }
                let items = elems.iter().enumerate().map(|(i, t)| self.value(t, &path.index(i)));
                Ok(Value::Tuple(items.collect::<Result<_, _>>()?))
            }
            Type::Map(elem) => {
                let len = self.map_len(marker, path)?.ok_or_else(|| mismatch(path, "map", marker))?;
                let mut items = BTreeMap::new();
                for _ in 0..len {
                    let key = self.key(path)?;
                    let item = self.value(elem, &path.key(&key))?;
                    items.insert(key, item);
                }
                Ok(Value::Map(items))
            }
            Type::Object(attrs) => {
                let len = self.map_len(marker, path)?.ok_or_else(|| mismatch(path, "object", marker))?;
                let mut values = BTreeMap::new();
                for _ in 0..len {
                    let name = self.key(path)?;
                    let attr_path = path.attribute(&name);
                    let attr_ty =
                        attrs.get(&name).ok_or_else(|| DecodeError::new(&attr_path, "unsupported attribute"))?;
                    let item = self.value(attr_ty, &attr_path)?;
                    values.insert(name, item);
                }
                for name in attrs.keys() {
                    values.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(values))
            }
            Type::Dynamic => {
                if self.array_len(marker, path)? != Some(2) {
                    return Err(DecodeError::new(path, "a dynamic value must be a [type, value] pair"));
                }
                let type_marker = self.marker(path)?;
                let type_len = match (self.str_len(type_marker, path)?, self.bin_len(type_marker, path)?) {
                    (Some(len), _) | (_, Some(len)) => len,
                    _ => return Err(mismatch(path, "type JSON", type_marker)),
                };
                let type_json: serde_json::Value = serde_json::from_slice(self.take(type_len, path)?)
                    .map_err(|e| DecodeError::new(path, format!("dynamic value type: {e}")))?;
                let actual = Type::from_json(&type_json).map_err(|e| DecodeError::new(path, e))?;
                if actual == Type::Dynamic {
                    return Err(DecodeError::new(path, "a dynamic value cannot have type dynamic"));
                }
                self.value(&actual, path)
            }
        }
    }

    fn number(&mut self, marker: Marker, path: &AttributePath) -> Result<Value, DecodeError> {
        let n: serde_json::Number = match marker {
            Marker::FixPos(n) => n.into(),
            Marker::FixNeg(n) => n.into(),
            Marker::U8 => self.uint(1, path)?.into(),
            Marker::U16 => self.uint(2, path)?.into(),
            Marker::U32 => self.uint(4, path)?.into(),
            Marker::U64 => self.uint(8, path)?.into(),
            Marker::I8 => (self.uint(1, path)? as u8 as i8).into(),
            Marker::I16 => (self.uint(2, path)? as u16 as i16).into(),
            Marker::I32 => (self.uint(4, path)? as u32 as i32).into(),
            Marker::I64 => (self.uint(8, path)? as i64).into(),
            Marker::F32 => finite(f64::from(f32::from_bits(self.uint(4, path)? as u32)), path)?,
            Marker::F64 => finite(f64::from_bits(self.uint(8, path)?), path)?,
            other => match self.str_len(other, path)? {
                Some(len) => {
                    let text = self.string(len, path)?;
                    text.parse::<serde_json::Number>()
                        .map_err(|_| DecodeError::new(path, format!("{text:?} is not a number")))?
                }
                None => return Err(mismatch(path, "number", other)),
            },
        };
        Ok(Value::Number(n))
    }

    fn key(&mut self, path: &AttributePath) -> Result<String, DecodeError> {
        let marker = self.marker(path)?;
        match self.str_len(marker, path)? {
            Some(len) => self.string(len, path),
            None => Err(mismatch(path, "string key", marker)),
        }
    }

    fn string(&mut self, len: usize, path: &AttributePath) -> Result<String, DecodeError> {
        let bytes = self.take(len, path)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::new(path, "string is not UTF-8"))
    }

    fn str_len(&mut self, marker: Marker, path: &AttributePath) -> Result<Option<usize>, DecodeError> {
        Ok(match marker {
            Marker::FixStr(n) => Some(n as usize),
            Marker::Str8 => Some(self.uint(1, path)? as usize),
            Marker::Str16 => Some(self.uint(2, path)? as usize),
            Marker::Str32 => Some(self.uint(4, path)? as usize),
            _ => None,
        })
    }

    fn bin_len(&mut self, marker: Marker, path: &AttributePath) -> Result<Option<usize>, DecodeError> {
        Ok(match marker {
            Marker::Bin8 => Some(self.uint(1, path)? as usize),
            Marker::Bin16 => Some(self.uint(2, path)? as usize),
            Marker::Bin32 => Some(self.uint(4, path)? as usize),
            _ => None,
        })
    }

    fn array_len(&mut self, marker: Marker, path: &AttributePath) -> Result<Option<usize>, DecodeError> {
        let len = match marker {
            Marker::FixArray(n) => u64::from(n),
            Marker::Array16 => self.uint(2, path)?,
            Marker::Array32 => self.uint(4, path)?,
            _ => return Ok(None),
        };
        self.count(len, 1, path).map(Some)
    }

    fn map_len(&mut self, marker: Marker, path: &AttributePath) -> Result<Option<usize>, DecodeError> {
        let len = match marker {
            Marker::FixMap(n) => u64::from(n),
            Marker::Map16 => self.uint(2, path)?,
            Marker::Map32 => self.uint(4, path)?,
            _ => return Ok(None),
        };
        self.count(len, 2, path).map(Some)
    }

    fn ext_len(&mut self, marker: Marker, path: &AttributePath) -> Result<Option<usize>, DecodeError> {
        Ok(match marker {
            Marker::FixExt1 => Some(1),
            Marker::FixExt2 => Some(2),
            Marker::FixExt4 => Some(4),
            Marker::FixExt8 => Some(8),
            Marker::FixExt16 => Some(16),
            Marker::Ext8 => Some(self.uint(1, path)? as usize),
            Marker::Ext16 => Some(self.uint(2, path)? as usize),
            Marker::Ext32 => Some(self.uint(4, path)? as usize),
            _ => None,
        })
    }
}

fn finite(f: f64, path: &AttributePath) -> Result<serde_json::Number, DecodeError> {
    serde_json::Number::from_f64(f).ok_or_else(|| DecodeError::new(path, "number is not finite"))
}

fn mismatch(path: &AttributePath, expected: &str, found: Marker) -> DecodeError {
    DecodeError::new(path, format!("expected {expected}, found msgpack {found:?}"))
}

/// Writing into a Vec cannot fail for lack of space; this only turns rmp's
/// error type into ours.
fn wrote<T>(result: Result<T, rmp::encode::ValueWriteError>, path: &AttributePath) -> Result<(), DecodeError> {
    result.map(|_| ()).map_err(|e| DecodeError::new(path, format!("msgpack write failed: {e}")))
}

fn write_value(out: &mut Vec<u8>, value: &Value, ty: &Type, path: &AttributePath) -> Result<(), DecodeError> {
    match (value, ty) {
        (Value::Null, _) => out.push(0xc0),
        (Value::Unknown, _) => out.extend_from_slice(&[0xd4, UNKNOWN_EXT as u8, 0]),
        (value, Type::Dynamic) => {
            let actual = value.infer_type();
            wrote(rmp::encode::write_array_len(out, 2), path)?;
            let json = actual.to_json_bytes();
            wrote(rmp::encode::write_str_len(out, json.len() as u32), path)?;
            out.extend_from_slice(&json);
            write_value(out, value, &actual, path)?;
        }
        (Value::Bool(b), Type::Bool) => out.push(if *b { 0xc3 } else { 0xc2 }),
        (Value::Number(n), Type::Number) => {
            if let Some(i) = n.as_i64() {
                wrote(rmp::encode::write_sint(out, i), path)?;
            } else if let Some(u) = n.as_u64() {
                wrote(rmp::encode::write_uint(out, u), path)?;
            } else {
                wrote(rmp::encode::write_f64(out, n.as_f64().unwrap_or(f64::NAN)), path)?;
            }
        }
        (Value::String(s), Type::String) => wrote(rmp::encode::write_str(out, s), path)?,
        (Value::List(items) | Value::Set(items), Type::List(elem) | Type::Set(elem)) => {
            wrote(rmp::encode::write_array_len(out, items.len() as u32), path)?;
            for (i, item) in items.iter().enumerate() {
                write_value(out, item, elem, &path.index(i))?;
            }
        }
        (Value::Tuple(items) | Value::List(items), Type::Tuple(elems)) if items.len() == elems.len() => {
            wrote(rmp::encode::write_array_len(out, items.len() as u32), path)?;
            for (i, (item, elem)) in items.iter().zip(elems).enumerate() {
                write_value(out, item, elem, &path.index(i))?;
            }
        }
        (Value::Map(items) | Value::Object(items), Type::Map(elem)) => {
            wrote(rmp::encode::write_map_len(out, items.len() as u32), path)?;
            for (key, item) in items {
                wrote(rmp::encode::write_str(out, key), path)?;
                write_value(out, item, elem, &path.key(key))?;
            }
        }
        (Value::Object(values) | Value::Map(values), Type::Object(attrs)) => {
            if let Some(extra) = values.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(DecodeError::new(&path.attribute(extra), "attribute is not in the schema"));
            }
            wrote(rmp::encode::write_map_len(out, attrs.len() as u32), path)?;
            for (name, attr_ty) in attrs {
                wrote(rmp::encode::write_str(out, name), path)?;
                write_value(out, values.get(name).unwrap_or(&Value::Null), attr_ty, &path.attribute(name))?;
            }
        }
        (value, ty) => {
            return Err(DecodeError::new(path, format!("value {value:?} does not fit type {}", ty.to_json())))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(attrs: &[(&str, Type)]) -> Type {
        Type::Object(attrs.iter().map(|(k, t)| (k.to_string(), t.clone())).collect())
    }

    #[test]
    fn unknown_and_null_use_terraforms_bytes() {
        assert_eq!(encode_msgpack(&Value::Unknown, &Type::String).unwrap(), [0xd4, 0, 0]);
        assert_eq!(encode_msgpack(&Value::Null, &Type::String).unwrap(), [0xc0]);
        assert_eq!(decode_msgpack(&[0xd4, 0, 0], &Type::Number).unwrap(), Value::Unknown);
        // A refined unknown (ext type 12 with a map payload) is still unknown.
        assert_eq!(decode_msgpack(&[0xc7, 3, 12, 0x81, 1, 0xc3], &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn objects_carry_every_attribute() {
        let ty = object(&[("a", Type::String), ("b", Type::Number)]);
        let value = Value::Object(BTreeMap::from([("a".to_string(), "x".into())]));
        let bytes = encode_msgpack(&value, &ty).unwrap();
        let decoded = decode_msgpack(&bytes, &ty).unwrap();
        assert_eq!(decoded.attribute("b"), Some(&Value::Null));
        assert_eq!(decoded.attribute("a"), Some(&Value::from("x")));
    }

    #[test]
    fn round_trips_nested_collections() {
        let ty = object(&[
            ("tags", Type::map(Type::String)),
            ("ids", Type::set(Type::Number)),
            ("rules", Type::list(object(&[("n", Type::Number), ("on", Type::Bool)]))),
            ("any", Type::Dynamic),
        ]);
        let rule = |n: i64| Value::Object(BTreeMap::from([("n".into(), n.into()), ("on".into(), true.into())]));
        let value = Value::Object(BTreeMap::from([
            ("tags".into(), Value::Map(BTreeMap::from([("team".into(), "books".into())]))),
            (
                "ids".into(),
                Value::Set(vec![1.into(), (-70000).into(), Value::Number(serde_json::Number::from_f64(2.5).unwrap())]),
            ),
            ("rules".into(), Value::List(vec![rule(1), rule(u32::MAX as i64 + 1)])),
            ("any".into(), Value::List(vec!["a".into(), Value::Unknown])),
        ]));
        let bytes = encode_msgpack(&value, &ty).unwrap();
        assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), value);
    }

    #[test]
    fn type_mismatches_name_the_path() {
        let ty = object(&[("region", Type::String)]);
        let bytes = encode_msgpack(&Value::Object(BTreeMap::from([("region".into(), Value::Null)])), &ty).unwrap();
        // Replace the nil with `true`.
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() = 0xc3;
        let err = decode_msgpack(&bad, &ty).unwrap_err();
        assert_eq!(err.path.to_string(), "region");
        assert!(err.message.contains("expected string"), "{err}");
    }

    #[test]
    fn forged_lengths_are_refused_without_allocating() {
        let err = decode_msgpack(&[0xdd, 0xff, 0xff, 0xff, 0xff], &Type::list(Type::String)).unwrap_err();
        assert!(err.message.contains("declares"), "{err}");
        assert!(decode_msgpack(&[0xc0, 0xc0], &Type::String).is_err(), "trailing bytes");
        assert!(decode_msgpack(&[], &Type::String).is_err());
    }

    #[test]
    fn big_numbers_may_arrive_as_strings() {
        assert_eq!(decode_msgpack(&[0xa2, b'4', b'2'], &Type::Number).unwrap(), Value::from(42));
        assert!(decode_msgpack(&[0xa1, b'x'], &Type::Number).is_err());
    }
}
