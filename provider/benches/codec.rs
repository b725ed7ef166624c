//! Value codec throughput: every RPC decodes and encodes msgpack values, so a
//! plan of many resources spends its provider time here.
//! Run: `cargo bench -p terraform-provider-bokbasen --bench codec`.

use std::collections::BTreeMap;

use bokbasen_provider::value::{decode_msgpack, encode_msgpack, Type, Value};
use criterion::{criterion_group, criterion_main, Criterion};

/// A state shaped like a pipeline's: strings, tags, and a list of stages.
fn pipeline_like() -> (Type, Value) {
    let stage_type = Type::Object(BTreeMap::from([
        ("name".to_string(), Type::String),
        ("account".to_string(), Type::String),
        ("actions".to_string(), Type::list(Type::String)),
    ]));
    let ty = Type::Object(BTreeMap::from([
        ("name".to_string(), Type::String),
        ("arn".to_string(), Type::String),
        ("version".to_string(), Type::Number),
        ("tags".to_string(), Type::map(Type::String)),
        ("stages".to_string(), Type::list(stage_type)),
    ]));
    let stage = |i: i64| {
        Value::Object(BTreeMap::from([
            ("name".to_string(), Value::from(format!("stage-{i}"))),
            ("account".to_string(), Value::from("222222222222")),
            ("actions".to_string(), Value::List((0..4).map(|a| Value::from(format!("action-{a}"))).collect())),
        ]))
    };
    let value = Value::Object(BTreeMap::from([
        ("name".to_string(), Value::from("catalogue-api")),
        ("arn".to_string(), Value::from("arn:aws:codepipeline:eu-north-1:123456789012:catalogue-api")),
        ("version".to_string(), Value::from(7)),
        ("tags".to_string(), Value::Map((0..10).map(|i| (format!("k{i}"), Value::from(format!("v{i}")))).collect())),
        ("stages".to_string(), Value::List((0..8).map(stage).collect())),
    ]));
    (ty, value)
}

fn codec(c: &mut Criterion) {
    let (ty, value) = pipeline_like();
    let bytes = encode_msgpack(&value, &ty).expect("encodes");
    c.bench_function("msgpack encode pipeline-like state", |b| b.iter(|| encode_msgpack(&value, &ty)));
    c.bench_function("msgpack decode pipeline-like state", |b| b.iter(|| decode_msgpack(&bytes, &ty)));
}

criterion_group!(benches, codec);
criterion_main!(benches);
