//! Terraform's value model (cty) as the provider sees it on the wire.
//!
//! Terraform sends and receives values as msgpack (`DynamicValue`), stores
//! state as JSON, and describes schemas with cty type JSON. Every decoder here
//! is driven by the expected [`Type`], so the shape of untrusted bytes can
//! never make the decoder recurse deeper than the schema does, and malformed
//! input becomes a [`DecodeError`] with the attribute path, never a panic.

mod json;
mod msgpack;
mod path;
mod types;
#[allow(clippy::module_inception)]
mod value;

pub use json::{from_json, object, to_json, UNKNOWN_SENTINEL};
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use path::{AttributePath, PathStep};
pub use types::Type;
pub use value::Value;

/// Bytes or JSON that do not hold a value of the expected type.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub path: AttributePath,
    pub message: String,
}

impl DecodeError {
    pub(crate) fn new(path: &AttributePath, message: impl Into<String>) -> Self {
        DecodeError { path: path.clone(), message: message.into() }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}
