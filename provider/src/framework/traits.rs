//! The traits a provider, its resources and its data sources implement, and
//! the adapters that erase their state types so the server can hold them
//! side by side.

use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::typed::{from_value, to_value};
use super::{Diagnostics, Schema};
use crate::value::Value;

/// The provider itself: its configuration block, and what it offers.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider block, serde-modelled (use `Attr` for every field: any of
    /// them may be unknown while planning).
    type Config: DeserializeOwned + Send + Sync;
    /// What `configure` produces and every resource call receives.
    type Data: Send + Sync + 'static;

    fn schema(&self) -> Schema;

    /// Checks the provider block without touching the network.
    fn validate(&self, _config: &Self::Config, _diags: &mut Diagnostics) {}

    /// Prepares `Data` (e.g. AWS clients). `None` with errors in `diags` when
    /// it cannot.
    async fn configure(
        &self,
        terraform_version: &str,
        config: Self::Config,
        diags: &mut Diagnostics,
    ) -> Option<Self::Data>;

    fn resources(&self) -> Vec<Arc<dyn AnyResource<Self::Data>>>;

    fn data_sources(&self) -> Vec<Arc<dyn AnyDataSource<Self::Data>>>;
}

/// A managed resource. Every method gets the provider's configured data and
/// reports problems into `diags`.
///
/// Partial failures, one rule for every resource, so that after any failure
/// the state says exactly what exists:
/// - `create` removes what this attempt made (recorded as it goes, never
///   found by name); what it cannot remove, or found of its own (its
///   ownership marker: left by an interrupted apply), it returns as
///   `Some(state)` with the error, which Terraform records tainted, so the
///   next apply replaces it and destroy removes it. `None` with an error:
///   nothing exists.
/// - `update` that fails returns the state as far as it got with the error;
///   when it returns `None` with an error, the server reads the object back
///   ([`Resource::read`] of the prior state) and records what it finds.
/// - `delete` that fails leaves the state; the next destroy goes on
///   (already gone is fine).
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    type Data: Send + Sync + 'static;
    type State: Serialize + DeserializeOwned + Send + Sync;

    /// The full type name, e.g. `bokbasen_service_pipeline`.
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Checks configuration (which may hold unknowns) without the network.
    async fn validate(&self, _config: &Self::State, _diags: &mut Diagnostics) {}

    /// Adjusts a plan after the generic rules ran (e.g. derived names).
    async fn modify_plan(&self, _prior: Option<&Self::State>, _planned: &mut Self::State, _diags: &mut Diagnostics) {}

    async fn create(&self, data: &Self::Data, planned: Self::State, diags: &mut Diagnostics) -> Option<Self::State>;

    /// Refreshes state from AWS; `None` (without errors) when the object is gone.
    async fn read(&self, data: &Self::Data, current: Self::State, diags: &mut Diagnostics) -> Option<Self::State>;

    /// `None` without errors: nothing to change. See the partial-failure
    /// rule above for `None` with errors.
    async fn update(
        &self,
        data: &Self::Data,
        prior: Self::State,
        planned: Self::State,
        diags: &mut Diagnostics,
    ) -> Option<Self::State>;

    async fn delete(&self, data: &Self::Data, prior: Self::State, diags: &mut Diagnostics);

    /// State for `terraform import`; Terraform reads it afterwards.
    async fn import(&self, _data: &Self::Data, _id: &str, diags: &mut Diagnostics) -> Option<Self::State> {
        diags.error("Import is not supported", format!("{} cannot be imported.", self.type_name()));
        None
    }

    /// Rewrites stored JSON state written by an older schema `version`;
    /// refuses state written by a newer one.
    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
        diags: &mut Diagnostics,
    ) -> Option<serde_json::Value> {
        let current = self.schema().version;
        if version > current {
            diags.error(
                "State written by a newer provider",
                format!("The state of this {} has schema version {version}; this provider knows versions up to {current}. Upgrade the provider.", self.type_name()),
            );
            return None;
        }
        Some(self.upgrade_from(version, state))
    }

    /// The current schema's form of state stored under the older `version`
    /// (attributes missing from it read as null). As it is, by default.
    fn upgrade_from(&self, _version: i64, state: serde_json::Value) -> serde_json::Value {
        state
    }
}

/// A data source: reads something and exposes it as attributes.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    type Data: Send + Sync + 'static;
    type State: Serialize + DeserializeOwned + Send + Sync;

    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    async fn validate(&self, _config: &Self::State, _diags: &mut Diagnostics) {}

    async fn read(&self, data: &Self::Data, config: Self::State, diags: &mut Diagnostics) -> Option<Self::State>;
}

/// A resource with its state type erased to [`Value`].
#[async_trait]
pub trait AnyResource<D>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    async fn validate(&self, config: &Value, diags: &mut Diagnostics);
    async fn modify_plan(&self, prior: &Value, planned: Value, diags: &mut Diagnostics) -> Value;
    async fn create(&self, data: &D, planned: &Value, diags: &mut Diagnostics) -> Value;
    async fn read(&self, data: &D, current: &Value, diags: &mut Diagnostics) -> Value;
    async fn update(&self, data: &D, prior: &Value, planned: &Value, diags: &mut Diagnostics) -> Value;
    async fn delete(&self, data: &D, prior: &Value, diags: &mut Diagnostics);
    async fn import(&self, data: &D, id: &str, diags: &mut Diagnostics) -> Value;
    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
        diags: &mut Diagnostics,
    ) -> Option<serde_json::Value>;
}

/// A data source with its state type erased to [`Value`].
#[async_trait]
pub trait AnyDataSource<D>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    async fn validate(&self, config: &Value, diags: &mut Diagnostics);
    async fn read(&self, data: &D, config: &Value, diags: &mut Diagnostics) -> Value;
}

/// Registers a typed resource with the provider.
pub fn resource<R: Resource>(resource: R) -> Arc<dyn AnyResource<R::Data>> {
    let schema = resource.schema();
    Arc::new(Typed { inner: resource, schema })
}

/// Registers a typed data source with the provider.
pub fn data_source<S: DataSource>(data_source: S) -> Arc<dyn AnyDataSource<S::Data>> {
    let schema = data_source.schema();
    Arc::new(Typed { inner: data_source, schema })
}

struct Typed<T> {
    inner: T,
    schema: Schema,
}

impl<T> Typed<T> {
    fn decode<S: DeserializeOwned>(&self, value: &Value, what: &str, diags: &mut Diagnostics) -> Option<S> {
        from_value(value, self.schema.value_type()).map_err(|e| diags.decode_error(what, e)).ok()
    }

    /// Encodes a returned state; `None` becomes null (the object is gone).
    fn encode<S: Serialize>(&self, state: Option<S>, diags: &mut Diagnostics) -> Value {
        let Some(state) = state else { return Value::Null };
        to_value(&state, self.schema.value_type()).unwrap_or_else(|e| {
            diags.error("Provider bug: state does not fit the schema", e.to_string());
            Value::Null
        })
    }
}

#[async_trait]
impl<R: Resource> AnyResource<R::Data> for Typed<R> {
    fn type_name(&self) -> &'static str {
        self.inner.type_name()
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(config) = self.decode(config, "configuration", diags) {
            self.inner.validate(&config, diags).await;
        }
    }

    async fn modify_plan(&self, prior: &Value, planned: Value, diags: &mut Diagnostics) -> Value {
        let prior: Option<R::State> = if prior.is_null() { None } else { self.decode(prior, "prior state", diags) };
        let Some(mut typed) = self.decode::<R::State>(&planned, "planned state", diags) else { return planned };
        self.inner.modify_plan(prior.as_ref(), &mut typed, diags).await;
        self.encode(Some(typed), diags)
    }

    async fn create(&self, data: &R::Data, planned: &Value, diags: &mut Diagnostics) -> Value {
        let Some(planned) = self.decode(planned, "planned state", diags) else { return Value::Null };
        let created = self.inner.create(data, planned, diags).await;
        self.encode(created, diags)
    }

    async fn read(&self, data: &R::Data, current: &Value, diags: &mut Diagnostics) -> Value {
        let Some(state) = self.decode(current, "current state", diags) else { return current.clone() };
        let read = self.inner.read(data, state, diags).await;
        self.encode(read, diags)
    }

    async fn update(&self, data: &R::Data, prior: &Value, planned: &Value, diags: &mut Diagnostics) -> Value {
        let (Some(prior_state), Some(planned)) =
            (self.decode(prior, "prior state", diags), self.decode(planned, "planned state", diags))
        else {
            return prior.clone();
        };
        match self.inner.update(data, prior_state, planned, diags).await {
            Some(updated) => self.encode(Some(updated), diags),
            // Failed without saying what exists: parts may have changed, so
            // the state becomes what a read finds now (the prior when the
            // read fails too, or finds nothing: it is still there to destroy).
            None if diags.has_errors() => {
                let mut reading = Diagnostics::new();
                let found = match self.decode(prior, "prior state", &mut reading) {
                    Some(prior_state) => self.inner.read(data, prior_state, &mut reading).await,
                    None => None,
                };
                match found {
                    Some(found) if !reading.has_errors() => self.encode(Some(found), diags),
                    _ => prior.clone(),
                }
            }
            // Nothing to change.
            None => prior.clone(),
        }
    }

    async fn delete(&self, data: &R::Data, prior: &Value, diags: &mut Diagnostics) {
        if let Some(prior) = self.decode(prior, "prior state", diags) {
            self.inner.delete(data, prior, diags).await;
        }
    }

    async fn import(&self, data: &R::Data, id: &str, diags: &mut Diagnostics) -> Value {
        let imported = self.inner.import(data, id, diags).await;
        self.encode(imported, diags)
    }

    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
        diags: &mut Diagnostics,
    ) -> Option<serde_json::Value> {
        self.inner.upgrade_state(version, state, diags)
    }
}

#[async_trait]
impl<S: DataSource> AnyDataSource<S::Data> for Typed<S> {
    fn type_name(&self) -> &'static str {
        self.inner.type_name()
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(config) = self.decode(config, "configuration", diags) {
            self.inner.validate(&config, diags).await;
        }
    }

    async fn read(&self, data: &S::Data, config: &Value, diags: &mut Diagnostics) -> Value {
        let Some(config) = self.decode(config, "configuration", diags) else { return Value::Null };
        let read = self.inner.read(data, config, diags).await;
        self.encode(read, diags)
    }
}
