//! Property tests of the value codecs: untrusted bytes never panic the
//! decoders, and values survive the wire and state encodings unchanged.

use std::collections::BTreeMap;

use bokbasen_provider::value::{decode_msgpack, encode_msgpack, from_json, to_json, Type, Value};
use proptest::prelude::*;

fn object_type(attrs: &[(&str, Type)]) -> Type {
    Type::Object(attrs.iter().map(|(k, t)| (k.to_string(), t.clone())).collect())
}

/// The object type the round-trip properties use: every primitive, every
/// collection, a list of nested objects, and a dynamic attribute.
fn resource_type() -> Type {
    object_type(&[
        ("name", Type::String),
        ("count", Type::Number),
        ("enabled", Type::Bool),
        ("tags", Type::map(Type::String)),
        ("ids", Type::set(Type::Number)),
        ("aliases", Type::list(Type::String)),
        ("pair", Type::Tuple(vec![Type::String, Type::Bool])),
        ("rules", Type::list(object_type(&[("priority", Type::Number), ("actions", Type::list(Type::String))]))),
        ("settings", Type::Dynamic),
    ])
}

/// The types random bytes are decoded against.
fn decode_types() -> Vec<Type> {
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::list(Type::String),
        Type::set(Type::String),
        Type::map(Type::String),
        Type::Dynamic,
        object_type(&[
            ("name", Type::String),
            ("rules", Type::list(object_type(&[("priority", Type::Number), ("on", Type::Bool)]))),
            ("extra", Type::Dynamic),
        ]),
        resource_type(),
    ]
}

/// Null or unknown sometimes, otherwise a known value from `known`.
fn maybe<S: Strategy<Value = Value> + 'static>(known: S) -> BoxedStrategy<Value> {
    prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_filter_map("finite", serde_json::Number::from_f64).prop_map(Value::Number),
    ]
}

fn string() -> impl Strategy<Value = Value> {
    "\\PC{0,12}".prop_map(Value::String)
}

fn list_of(element: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop::collection::vec(element, 0..4).prop_map(Value::List)
}

fn map_of(element: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop::collection::btree_map("\\PC{0,6}", element, 0..4).prop_map(Value::Map)
}

/// Values a `dynamic` attribute can hold: any type, chosen at random.
fn dynamic_value() -> BoxedStrategy<Value> {
    let leaf =
        prop_oneof![Just(Value::Null), Just(Value::Unknown), any::<bool>().prop_map(Value::Bool), number(), string(),];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            prop::collection::btree_map("\\PC{0,6}", inner.clone(), 0..4).prop_map(Value::Map),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4).prop_map(Value::Object),
        ]
    })
    .boxed()
}

fn rule() -> BoxedStrategy<Value> {
    (maybe(number()), maybe(list_of(maybe(string()).boxed())))
        .prop_map(|(priority, actions)| {
            Value::Object(BTreeMap::from([("priority".into(), priority), ("actions".into(), actions)]))
        })
        .boxed()
}

/// Any value of [`resource_type`].
fn resource_value() -> impl Strategy<Value = Value> {
    let attrs = (
        maybe(string()),
        maybe(number()),
        maybe(any::<bool>().prop_map(Value::Bool)),
        maybe(map_of(maybe(string()))),
        maybe(prop::collection::vec(maybe(number()), 0..4).prop_map(Value::Set)),
        maybe(list_of(maybe(string()))),
        maybe(
            (maybe(string()), maybe(any::<bool>().prop_map(Value::Bool))).prop_map(|(s, b)| Value::Tuple(vec![s, b])),
        ),
        maybe(list_of(maybe(rule()))),
        dynamic_value(),
    );
    let object = attrs.prop_map(|(name, count, enabled, tags, ids, aliases, pair, rules, settings)| {
        Value::Object(BTreeMap::from([
            ("name".into(), name),
            ("count".into(), count),
            ("enabled".into(), enabled),
            ("tags".into(), tags),
            ("ids".into(), ids),
            ("aliases".into(), aliases),
            ("pair".into(), pair),
            ("rules".into(), rules),
            ("settings".into(), settings),
        ]))
    });
    maybe(object)
}

/// Arbitrary JSON documents, of the shapes state files hold.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter_map("finite", serde_json::Number::from_f64).prop_map(serde_json::Value::Number),
        prop_oneof![Just("string".to_string()), Just("list".to_string()), Just("type".to_string()), "\\PC{0,8}"]
            .prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let key = prop_oneof![
            Just("type".to_string()),
            Just("value".to_string()),
            Just("name".to_string()),
            Just("rules".to_string()),
            "\\PC{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(key, inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A mutation of a byte string: overwrite, insert, remove or truncate.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..6)
}

fn apply(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for edit in edits {
        let len = bytes.len();
        match *edit {
            Edit::Set(i, b) if len > 0 => bytes[i % len] = b,
            Edit::Insert(i, b) => bytes.insert(i % (len + 1), b),
            Edit::Remove(i) if len > 0 => {
                bytes.remove(i % len);
            }
            Edit::Truncate(i) => bytes.truncate(i % (len + 1)),
            _ => {}
        }
    }
}

/// Decodes untrusted bytes; whatever is accepted must be a value of `ty`
/// that encodes and decodes to itself.
fn decode_checked(bytes: &[u8], ty: &Type) -> Result<(), TestCaseError> {
    if let Ok(value) = decode_msgpack(bytes, ty) {
        let encoded = encode_msgpack(&value, ty)
            .map_err(|e| TestCaseError::fail(format!("decoded {value:?} as {ty:?} but cannot encode it: {e}")))?;
        let again = decode_msgpack(&encoded, ty)
            .map_err(|e| TestCaseError::fail(format!("re-encoded {value:?} does not decode: {e}")))?;
        prop_assert_eq!(again, value);
    }
    Ok(())
}

/// Reads untrusted stored state as `upgrade_resource_state` does.
fn read_state(bytes: &[u8], ty: &Type) {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let _ = from_json(&json, ty);
    }
}

proptest! {
    // Integration tests have no lib.rs next to them for regression files.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_msgpack_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for ty in decode_types() {
            decode_checked(&bytes, &ty)?;
        }
    }

    /// Random bytes are mostly rejected at the first byte; damaged valid
    /// encodings reach the deeper parts of the decoder.
    #[test]
    fn damaged_encodings_never_panic_the_msgpack_decoder(value in resource_value(), edits in edits()) {
        let ty = resource_type();
        let mut bytes = encode_msgpack(&value, &ty).unwrap();
        apply(&mut bytes, &edits);
        for ty in decode_types() {
            decode_checked(&bytes, &ty)?;
        }
    }

    #[test]
    fn values_round_trip_through_msgpack(value in resource_value()) {
        let ty = resource_type();
        let bytes = encode_msgpack(&value, &ty).unwrap();
        let decoded = decode_msgpack(&bytes, &ty).unwrap();
        prop_assert_eq!(decoded, value);
    }

    #[test]
    fn values_round_trip_through_state_json(value in resource_value()) {
        let ty = resource_type();
        let stored = serde_json::to_vec(&to_json(&value, &ty)).unwrap();
        let read = from_json(&serde_json::from_slice(&stored).unwrap(), &ty).unwrap();
        prop_assert_eq!(read, value);
    }

    #[test]
    fn random_bytes_never_panic_the_state_reader(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for ty in decode_types() {
            read_state(&bytes, &ty);
        }
    }

    #[test]
    fn arbitrary_json_never_panics_the_state_reader(json in json()) {
        let bytes = serde_json::to_vec(&json).unwrap();
        for ty in decode_types() {
            read_state(&bytes, &ty);
        }
    }

    #[test]
    fn damaged_state_never_panics_the_state_reader(value in resource_value(), edits in edits()) {
        let ty = resource_type();
        let mut bytes = serde_json::to_vec(&to_json(&value, &ty)).unwrap();
        apply(&mut bytes, &edits);
        for ty in decode_types() {
            read_state(&bytes, &ty);
        }
    }
}

/// The decoders must not trust nesting depth from the input: a dynamic
/// value's declared type is as deep as the bytes say.
#[test]
fn deeply_nested_dynamic_types_are_refused_or_decoded_without_overflow() {
    let depth = 100_000;
    let type_json = format!("{}\"string\"{}", "[\"list\",".repeat(depth), "]".repeat(depth));
    let mut bytes = vec![0x92, 0xdb];
    bytes.extend_from_slice(&(type_json.len() as u32).to_be_bytes());
    bytes.extend_from_slice(type_json.as_bytes());
    bytes.push(0xc0);
    assert!(decode_msgpack(&bytes, &Type::Dynamic).is_err());

    let state = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(serde_json::from_str::<serde_json::Value>(&state).is_err(), "serde_json limits recursion");
}

/// `levels` dynamic values, each a one-element list of the next, around a null.
fn nested_dynamic_lists(levels: usize) -> Vec<u8> {
    let list_of_dynamic = br#"["list","dynamic"]"#;
    let mut bytes = Vec::with_capacity(levels * (list_of_dynamic.len() + 3) + 1);
    for _ in 0..levels {
        bytes.push(0x92); // [type, value]
        bytes.push(0xa0 | list_of_dynamic.len() as u8);
        bytes.extend_from_slice(list_of_dynamic);
        bytes.push(0x91); // a list of one element
    }
    bytes.push(0xc0);
    bytes
}

/// Each dynamic value declares its own type, so the schema does not bound
/// the depth: a few megabytes (far below the gRPC message limit) used to
/// overflow the stack and abort the provider.
#[test]
fn nested_dynamic_values_cannot_overflow_the_stack() {
    let err = decode_msgpack(&nested_dynamic_lists(200_000), &Type::Dynamic).unwrap_err();
    assert!(err.message.contains("nest"), "{err}");

    // What is accepted decodes, encodes and drops within the 2 MiB stack of
    // a tokio worker thread, where the provider decodes requests.
    let decoded = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let accepted =
                (1..200).rev().find_map(|levels| decode_msgpack(&nested_dynamic_lists(levels), &Type::Dynamic).ok());
            let value = accepted.expect("shallow dynamic values decode");
            let bytes = encode_msgpack(&value, &Type::Dynamic).unwrap();
            let again = decode_msgpack(&bytes, &Type::Dynamic).unwrap();
            again == value
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert!(decoded);
}
