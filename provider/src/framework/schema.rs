//! Schemas, built in code: what Terraform shows in `providers schema -json`,
//! and what the framework uses to plan, decode and redact values.

use std::collections::BTreeMap;

use crate::value::{Type, Value};

/// The schema of a resource, data source or the provider block.
#[derive(Clone, Debug)]
pub struct Schema {
    /// Bumped when stored state needs upgrading; see `Resource::upgrade_state`.
    pub version: i64,
    block: Block,
    /// Derived from `block` once: every value on the wire is decoded with it.
    value_type: Type,
}

impl Schema {
    pub fn new(block: Block) -> Self {
        let value_type = block.value_type();
        Schema { version: 0, block, value_type }
    }

    pub fn with_version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    pub fn block(&self) -> &Block {
        &self.block
    }

    /// The object type of a whole value of this schema.
    pub fn value_type(&self) -> &Type {
        &self.value_type
    }
}

#[derive(Clone, Debug, Default)]
pub struct Block {
    /// Markdown.
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub deprecated: bool,
}

impl Block {
    pub fn new(description: impl Into<String>) -> Self {
        Block { description: description.into(), ..Block::default() }
    }

    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    pub fn block(mut self, block: NestedBlock) -> Self {
        self.blocks.push(block);
        self
    }

    /// The object type Terraform uses for values of this block.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> =
            self.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
        for nested in &self.blocks {
            let object = nested.block.value_type();
            let ty = match nested.nesting {
                Nesting::Single | Nesting::Group => object,
                Nesting::List => Type::list(object),
                Nesting::Set => Type::set(object),
                Nesting::Map => Type::map(object),
            };
            attrs.insert(nested.name.clone(), ty);
        }
        Type::Object(attrs)
    }

    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn find_block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// The write-only attributes of this block (top level only: Terraform
    /// allows them nowhere else that this provider uses).
    pub fn write_only_attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes.iter().filter(|a| a.write_only.is_some())
    }

    /// `value` with every write-only attribute set from `source` (`null`
    /// when `source` is null): how the configuration's write-only values
    /// reach a resource during plan checks and apply.
    pub fn with_write_only_from(&self, value: Value, source: &Value) -> Value {
        self.map_write_only(value, |name| match source {
            Value::Object(attrs) => attrs.get(name).cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        })
    }

    /// `value` with every write-only attribute null, as Terraform requires
    /// of plans and states.
    pub fn without_write_only(&self, value: Value) -> Value {
        self.map_write_only(value, |_| Value::Null)
    }

    fn map_write_only(&self, value: Value, mut new: impl FnMut(&str) -> Value) -> Value {
        let Value::Object(mut attrs) = value else { return value };
        for attr in self.write_only_attributes() {
            attrs.insert(attr.name.clone(), new(&attr.name));
        }
        Value::Object(attrs)
    }

    /// A copy of `value` safe to log: every sensitive attribute's value,
    /// however deep, is replaced by the string `(sensitive)`.
    pub fn redact(&self, value: &Value) -> Value {
        let Value::Object(attrs) = value else { return value.clone() };
        let redacted = attrs
            .iter()
            .map(|(name, v)| {
                let v = if let Some(attr) = self.find_attribute(name) {
                    if attr.sensitive && !v.is_null() {
                        Value::string("(sensitive)")
                    } else {
                        v.clone()
                    }
                } else if let Some(nested) = self.find_block(name) {
                    match v {
                        Value::List(items) => Value::List(items.iter().map(|i| nested.block.redact(i)).collect()),
                        Value::Set(items) => Value::Set(items.iter().map(|i| nested.block.redact(i)).collect()),
                        Value::Map(items) => {
                            Value::Map(items.iter().map(|(k, i)| (k.clone(), nested.block.redact(i))).collect())
                        }
                        other => nested.block.redact(other),
                    }
                } else {
                    v.clone()
                };
                (name.clone(), v)
            })
            .collect();
        Value::Object(redacted)
    }
}

/// Who sets an attribute: the user, the provider, or either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    /// Set only by the provider.
    Computed,
    /// Set by the user, or by the provider where the user did not.
    OptionalComputed,
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    /// Markdown.
    pub description: String,
    pub mode: Mode,
    pub sensitive: bool,
    pub deprecated: bool,
    /// A change to this attribute replaces the resource instead of updating it.
    pub requires_replace: bool,
    /// For computed attributes: keep the prior value during planning instead
    /// of marking it "known after apply" when something else changes.
    pub use_state_for_unknown: bool,
    /// The value planned whenever the configuration leaves the attribute
    /// unset. State then always holds the effective value, so an imported or
    /// refreshed object compares equal to a configuration that relies on it.
    pub default: Option<Value>,
    /// Write-only (Terraform 1.11+): the value is sent with the configuration
    /// and reaches the resource during apply, but is never kept in plan or
    /// state. Holds how to set the value on a Terraform without write-only
    /// support, for the error that refuses it there.
    pub write_only: Option<String>,
}

impl Attribute {
    fn new(name: &str, ty: Type, mode: Mode) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            description: String::new(),
            mode,
            sensitive: false,
            deprecated: false,
            requires_replace: false,
            use_state_for_unknown: false,
            default: None,
            write_only: None,
        }
    }

    pub fn required(name: &str, ty: Type) -> Self {
        Self::new(name, ty, Mode::Required)
    }

    pub fn optional(name: &str, ty: Type) -> Self {
        Self::new(name, ty, Mode::Optional)
    }

    pub fn computed(name: &str, ty: Type) -> Self {
        Self::new(name, ty, Mode::Computed)
    }

    pub fn optional_computed(name: &str, ty: Type) -> Self {
        Self::new(name, ty, Mode::OptionalComputed)
    }

    pub fn description(mut self, markdown: impl Into<String>) -> Self {
        self.description = markdown.into();
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    pub fn use_state_for_unknown(mut self) -> Self {
        self.use_state_for_unknown = true;
        self
    }

    /// Optional with a default: Terraform's rule is that such an attribute
    /// is also computed, since the provider, not the configuration, sets it.
    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.mode = Mode::OptionalComputed;
        self.default = Some(value.into());
        self
    }

    /// Never stored: see [`Attribute::write_only`]. `otherwise` tells users of
    /// older Terraform how else to set the value. Implies sensitive.
    pub fn write_only(mut self, otherwise: impl Into<String>) -> Self {
        self.write_only = Some(otherwise.into());
        self.sensitive = true;
        self
    }

    pub fn is_computed(&self) -> bool {
        matches!(self.mode, Mode::Computed | Mode::OptionalComputed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; its value is an object (or null when absent).
    Single,
    /// Exactly one block's worth of attributes; never null.
    Group,
    List,
    Set,
    /// Labelled blocks: `rule "name" { … }`.
    Map,
}

#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub name: String,
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    pub fn new(name: &str, nesting: Nesting, block: Block) -> Self {
        NestedBlock { name: name.to_string(), nesting, block, min_items: 0, max_items: 0 }
    }

    pub fn items(mut self, min: i64, max: i64) -> Self {
        self.min_items = min;
        self.max_items = max;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::object;

    fn schema() -> Block {
        Block::new("test")
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::optional("password", Type::String).sensitive())
            .block(NestedBlock::new(
                "login",
                Nesting::List,
                Block::new("").attribute(Attribute::optional("token", Type::String).sensitive()),
            ))
    }

    #[test]
    fn value_type_includes_blocks() {
        let Type::Object(attrs) = schema().value_type() else { panic!() };
        assert_eq!(attrs["login"], Type::list(Type::Object(BTreeMap::from([("token".into(), Type::String)]))));
    }

    #[test]
    fn redaction_reaches_nested_blocks() {
        let value = object([
            ("name", "svc".into()),
            ("password", "hunter2".into()),
            ("login", Value::List(vec![object([("token", "t0k3n".into())])])),
        ]);
        let shown = format!("{:?}", schema().redact(&value));
        assert!(shown.contains("svc"));
        assert!(!shown.contains("hunter2") && !shown.contains("t0k3n"), "{shown}");
    }
}
