//! The provider as Terraform's RPCs see it, in terms of [`Value`]s: looks up
//! resources by type name, holds the configured provider data, runs the
//! generic planning rules and guards every call against misuse.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use super::{plan_change, AnyDataSource, AnyResource, Diagnostics, PlannedChange, Provider, Schema};
use crate::value::{from_json, AttributePath, Type, Value};

/// A resource Terraform asked to import.
#[derive(Debug)]
pub struct ImportedResource {
    pub type_name: String,
    pub state: Value,
}

/// What an apply produced.
#[derive(Debug)]
pub struct Applied {
    pub new_state: Value,
    pub diagnostics: Diagnostics,
}

pub struct Server<P: Provider> {
    provider: P,
    provider_schema: Schema,
    resources: BTreeMap<&'static str, Arc<dyn AnyResource<P::Data>>>,
    data_sources: BTreeMap<&'static str, Arc<dyn AnyDataSource<P::Data>>>,
    data: RwLock<Option<Arc<P::Data>>>,
    stop: watch::Sender<bool>,
}

impl<P: Provider> Server<P> {
    pub fn new(provider: P) -> Self {
        let resources = provider.resources().into_iter().map(|r| (r.type_name(), r)).collect();
        let data_sources = provider.data_sources().into_iter().map(|d| (d.type_name(), d)).collect();
        Server {
            provider_schema: provider.schema(),
            provider,
            resources,
            data_sources,
            data: RwLock::new(None),
            stop: watch::channel(false).0,
        }
    }

    pub fn provider_schema(&self) -> &Schema {
        &self.provider_schema
    }

    pub fn resource_schemas(&self) -> impl Iterator<Item = (&'static str, &Schema)> {
        self.resources.iter().map(|(name, r)| (*name, r.schema()))
    }

    pub fn data_source_schemas(&self) -> impl Iterator<Item = (&'static str, &Schema)> {
        self.data_sources.iter().map(|(name, d)| (*name, d.schema()))
    }

    /// The value type of a resource's state, for decoding wire values.
    pub fn resource_type(&self, type_name: &str, diags: &mut Diagnostics) -> Option<Type> {
        self.resource(type_name, diags).map(|r| r.schema().value_type().clone())
    }

    pub fn data_source_type(&self, type_name: &str, diags: &mut Diagnostics) -> Option<Type> {
        self.data_source(type_name, diags).map(|d| d.schema().value_type().clone())
    }

    fn resource(&self, type_name: &str, diags: &mut Diagnostics) -> Option<&Arc<dyn AnyResource<P::Data>>> {
        let found = self.resources.get(type_name);
        if found.is_none() {
            diags.error("Unknown resource type", format!("This provider has no resource type {type_name:?}."));
        }
        found
    }

    fn data_source(&self, type_name: &str, diags: &mut Diagnostics) -> Option<&Arc<dyn AnyDataSource<P::Data>>> {
        let found = self.data_sources.get(type_name);
        if found.is_none() {
            diags.error("Unknown data source", format!("This provider has no data source {type_name:?}."));
        }
        found
    }

    fn configured(&self, diags: &mut Diagnostics) -> Option<Arc<P::Data>> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner()).clone();
        if data.is_none() {
            diags.error(
                "Provider not configured",
                "The bokbasen provider was not configured, or its configuration failed; see the errors above.",
            );
        }
        data
    }

    /// Runs `operation` unless Terraform asks the provider to stop first.
    async fn unless_stopped<T>(&self, diags: &mut Diagnostics, operation: impl Future<Output = T>) -> Option<T> {
        let mut stop = self.stop.subscribe();
        if *stop.borrow() {
            diags.error("Operation cancelled", "Terraform asked the provider to stop.");
            return None;
        }
        tokio::select! {
            result = operation => Some(result),
            _ = stop.wait_for(|stopped| *stopped) => {
                diags.error("Operation cancelled", "Terraform asked the provider to stop; the operation was interrupted.");
                None
            }
        }
    }

    pub fn validate_provider_config(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(config) = self.decode_provider_config(config, &mut diags) {
            self.provider.validate(&config, &mut diags);
        }
        diags
    }

    fn decode_provider_config(&self, config: &Value, diags: &mut Diagnostics) -> Option<P::Config> {
        super::from_value(config, self.provider_schema.value_type())
            .map_err(|e| diags.decode_error("provider configuration", e))
            .ok()
    }

    pub async fn configure(&self, terraform_version: &str, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(config) = self.decode_provider_config(config, &mut diags) else { return diags };
        self.provider.validate(&config, &mut diags);
        if diags.has_errors() {
            return diags;
        }
        if let Some(data) = self.provider.configure(terraform_version, config, &mut diags).await {
            *self.data.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(data));
        }
        diags
    }

    /// `write_only_allowed`: whether this Terraform keeps write-only values
    /// out of plan and state (1.11+). An older one would store them, so a
    /// value there is refused before anything is planned.
    pub async fn validate_resource_config(
        &self,
        type_name: &str,
        config: &Value,
        write_only_allowed: bool,
    ) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(resource) = self.resource(type_name, &mut diags) {
            if !write_only_allowed {
                for attr in resource.schema().block().write_only_attributes() {
                    let set = config.attribute(&attr.name).is_some_and(|v| !v.is_null());
                    if set {
                        diags.attribute_error(
                            AttributePath::attr(&attr.name),
                            "Write-only argument needs Terraform 1.11 or later",
                            format!(
                                "`{}` is write-only: Terraform 1.11 and later send it to the provider without keeping it in the plan or state. This Terraform would store it in both, so it is refused. Remove it and {}, or upgrade Terraform.",
                                attr.name,
                                attr.write_only.as_deref().unwrap_or("set the value another way")
                            ),
                        );
                    }
                }
            }
            resource.validate(config, &mut diags).await;
        }
        diags
    }

    pub async fn validate_data_source_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(data_source) = self.data_source(type_name, &mut diags) {
            data_source.validate(config, &mut diags).await;
        }
        diags
    }

    /// Reads stored JSON state against the current schema, upgrading it first
    /// when it was written by an older schema version.
    pub fn upgrade_resource_state(&self, type_name: &str, version: i64, json: &[u8]) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(resource) = self.resource(type_name, &mut diags) else { return (Value::Null, diags) };
        let stored: serde_json::Value = match serde_json::from_slice(json) {
            Ok(stored) => stored,
            Err(e) => {
                diags.error("Invalid stored state", format!("The state of this {type_name} is not valid JSON: {e}."));
                return (Value::Null, diags);
            }
        };
        let Some(upgraded) = resource.upgrade_state(version, stored, &mut diags) else { return (Value::Null, diags) };
        match from_json(&upgraded, resource.schema().value_type()) {
            Ok(value) => (value, diags),
            Err(e) => {
                diags.decode_error("stored state", e);
                (Value::Null, diags)
            }
        }
    }

    pub async fn read_resource(&self, type_name: &str, current: &Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let (Some(resource), Some(data)) = (self.resource(type_name, &mut diags), self.configured(&mut diags)) else {
            return (current.clone(), diags);
        };
        if current.is_null() {
            return (Value::Null, diags);
        }
        let mut op_diags = Diagnostics::new();
        let read = self.unless_stopped(&mut diags, resource.read(&data, current, &mut op_diags)).await;
        diags.extend(op_diags);
        (resource.schema().block().without_write_only(read.unwrap_or_else(|| current.clone())), diags)
    }

    pub async fn plan_resource_change(
        &self,
        type_name: &str,
        prior: &Value,
        proposed: &Value,
        config: &Value,
    ) -> (PlannedChange, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(resource) = self.resource(type_name, &mut diags) else {
            return (PlannedChange { planned: proposed.clone(), requires_replace: Vec::new() }, diags);
        };
        let block = resource.schema().block();
        let mut change = plan_change(block, prior, proposed, config);
        if !change.planned.is_null() {
            // The resource may check write-only values; the plan never holds them.
            let planned = block.with_write_only_from(change.planned, config);
            change.planned = block.without_write_only(resource.modify_plan(prior, planned, &mut diags).await);
        }
        (change, diags)
    }

    /// Creates, updates or deletes, as the planned and prior states say.
    /// Write-only values come from `config` and are left out of the result.
    pub async fn apply_resource_change(
        &self,
        type_name: &str,
        prior: &Value,
        planned: &Value,
        config: &Value,
    ) -> Applied {
        let mut diags = Diagnostics::new();
        let (Some(resource), Some(data)) = (self.resource(type_name, &mut diags), self.configured(&mut diags)) else {
            return Applied { new_state: prior.clone(), diagnostics: diags };
        };
        let block = resource.schema().block();
        let planned =
            &if planned.is_null() { Value::Null } else { block.with_write_only_from(planned.clone(), config) };
        let mut op_diags = Diagnostics::new();
        let new_state = match (prior.is_null(), planned.is_null()) {
            (_, true) => {
                let deleted = self.unless_stopped(&mut diags, resource.delete(&data, prior, &mut op_diags)).await;
                diags.extend(op_diags);
                // Until the delete succeeded the object still exists.
                if deleted.is_some() && !diags.has_errors() {
                    Value::Null
                } else {
                    prior.clone()
                }
            }
            (true, false) => {
                let created = self.unless_stopped(&mut diags, resource.create(&data, planned, &mut op_diags)).await;
                diags.extend(op_diags);
                created.unwrap_or(Value::Null)
            }
            (false, false) => {
                let updated =
                    self.unless_stopped(&mut diags, resource.update(&data, prior, planned, &mut op_diags)).await;
                diags.extend(op_diags);
                updated.unwrap_or_else(|| prior.clone())
            }
        };
        let new_state = block.without_write_only(new_state);
        if !new_state.is_wholly_known() {
            diags.error(
                "Provider bug: applied state has unknown values",
                format!("{type_name} returned a state with values still unknown after apply."),
            );
        }
        Applied { new_state, diagnostics: diags }
    }

    pub async fn import_resource_state(&self, type_name: &str, id: &str) -> (Vec<ImportedResource>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let (Some(resource), Some(data)) = (self.resource(type_name, &mut diags), self.configured(&mut diags)) else {
            return (Vec::new(), diags);
        };
        let mut op_diags = Diagnostics::new();
        let state = self.unless_stopped(&mut diags, resource.import(&data, id, &mut op_diags)).await;
        let state = state.map(|s| resource.schema().block().without_write_only(s));
        diags.extend(op_diags);
        match state {
            Some(state) if !state.is_null() && !diags.has_errors() => {
                (vec![ImportedResource { type_name: type_name.to_string(), state }], diags)
            }
            Some(_) if !diags.has_errors() => {
                diags.attribute_error(
                    AttributePath::root(),
                    "Cannot import non-existent remote object",
                    format!("No {type_name} with id {id:?} exists."),
                );
                (Vec::new(), diags)
            }
            _ => (Vec::new(), diags),
        }
    }

    pub async fn read_data_source(&self, type_name: &str, config: &Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let (Some(data_source), Some(data)) = (self.data_source(type_name, &mut diags), self.configured(&mut diags))
        else {
            return (Value::Null, diags);
        };
        let mut op_diags = Diagnostics::new();
        let state = self.unless_stopped(&mut diags, data_source.read(&data, config, &mut op_diags)).await;
        diags.extend(op_diags);
        let state = state.unwrap_or(Value::Null);
        if !diags.has_errors() && (state.is_null() || !state.is_wholly_known()) {
            diags.error("Provider bug: data source read returned no complete state", type_name.to_string());
        }
        (state, diags)
    }

    /// Terraform's Stop: interrupts operations in flight and refuses new ones.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}
