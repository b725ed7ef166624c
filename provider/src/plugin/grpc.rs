//! The tfplugin5 gRPC service: decodes requests into [`Value`]s with the
//! schema's types, calls the framework [`Server`], encodes the answers.
//! Malformed values become diagnostics; no request can panic the process.

use std::sync::Arc;

use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use super::proto::go_plugin;
use super::proto::tfplugin5::{self as pb, attribute_path::step::Selector};
use crate::framework::{Block, Diagnostics, Mode, Nesting, Provider, Schema, Server, Severity};
use crate::value::{decode_msgpack, encode_msgpack, from_json, AttributePath, PathStep, Type, Value};

pub struct ProviderService<P: Provider> {
    server: Arc<Server<P>>,
}

impl<P: Provider> ProviderService<P> {
    pub fn new(server: Arc<Server<P>>) -> Self {
        ProviderService { server }
    }
}

/// go-plugin's controller: `Shutdown` ends the process cleanly.
pub struct Controller {
    pub shutdown: Arc<Notify>,
}

#[tonic::async_trait]
impl go_plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<go_plugin::Empty>) -> Result<Response<go_plugin::Empty>, Status> {
        tracing::debug!("Terraform asked the provider to shut down");
        self.shutdown.notify_one();
        Ok(Response::new(go_plugin::Empty {}))
    }
}

/// Decodes a request value; absent means null.
fn decode(value: Option<&pb::DynamicValue>, ty: &Type, what: &str, diags: &mut Diagnostics) -> Option<Value> {
    let Some(value) = value else { return Some(Value::Null) };
    let decoded = if !value.msgpack.is_empty() {
        decode_msgpack(&value.msgpack, ty)
    } else if !value.json.is_empty() {
        serde_json::from_slice(&value.json)
            .map_err(|e| crate::value::DecodeError { path: AttributePath::root(), message: e.to_string() })
            .and_then(|json| from_json(&json, ty))
    } else {
        Ok(Value::Null)
    };
    decoded.map_err(|e| diags.decode_error(what, e)).ok()
}

fn encode(value: &Value, ty: &Type, diags: &mut Diagnostics) -> Option<pb::DynamicValue> {
    match encode_msgpack(value, ty) {
        Ok(msgpack) => Some(pb::DynamicValue { msgpack, json: Vec::new() }),
        Err(e) => {
            diags.error("Provider bug: value does not fit the schema", e.to_string());
            None
        }
    }
}

fn diagnostics(diags: Diagnostics) -> Vec<pb::Diagnostic> {
    diags
        .into_iter()
        .map(|d| pb::Diagnostic {
            severity: match d.severity {
                Severity::Error => pb::diagnostic::Severity::Error,
                Severity::Warning => pb::diagnostic::Severity::Warning,
            } as i32,
            summary: d.summary,
            detail: d.detail,
            attribute: d.path.filter(|p| !p.is_empty()).map(|p| attribute_path(&p)),
        })
        .collect()
}

fn attribute_path(path: &AttributePath) -> pb::AttributePath {
    let steps = path
        .steps()
        .iter()
        .map(|step| pb::attribute_path::Step {
            selector: Some(match step {
                PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                PathStep::Key(key) => Selector::ElementKeyString(key.clone()),
                PathStep::Index(index) => Selector::ElementKeyInt(*index),
            }),
        })
        .collect();
    pb::AttributePath { steps }
}

fn schema(schema: &Schema) -> pb::Schema {
    pb::Schema { version: schema.version, block: Some(block(schema.block())) }
}

fn block(block: &Block) -> pb::schema::Block {
    let attributes = block
        .attributes
        .iter()
        .map(|a| pb::schema::Attribute {
            name: a.name.clone(),
            r#type: a.ty.to_json_bytes(),
            description: a.description.clone(),
            required: a.mode == Mode::Required,
            optional: matches!(a.mode, Mode::Optional | Mode::OptionalComputed),
            computed: a.is_computed(),
            sensitive: a.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: a.deprecated,
            write_only: a.write_only.is_some(),
        })
        .collect();
    let block_types = block
        .blocks
        .iter()
        .map(|b| pb::schema::NestedBlock {
            type_name: b.name.clone(),
            block: Some(self::block(&b.block)),
            nesting: match b.nesting {
                Nesting::Single => pb::schema::nested_block::NestingMode::Single,
                Nesting::Group => pb::schema::nested_block::NestingMode::Group,
                Nesting::List => pb::schema::nested_block::NestingMode::List,
                Nesting::Set => pb::schema::nested_block::NestingMode::Set,
                Nesting::Map => pb::schema::nested_block::NestingMode::Map,
            } as i32,
            min_items: b.min_items,
            max_items: b.max_items,
        })
        .collect();
    pb::schema::Block {
        version: 0,
        attributes,
        block_types,
        description: block.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: block.deprecated,
    }
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        tracing::debug!(rpc = "GetSchema", "serving schema");
        let server = &self.server;
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema(server.provider_schema())),
            resource_schemas: server.resource_schemas().map(|(n, s)| (n.to_string(), schema(s))).collect(),
            data_source_schemas: server.data_source_schemas().map(|(n, s)| (n.to_string(), schema(s))).collect(),
            diagnostics: Vec::new(),
            provider_meta: None,
            server_capabilities: Some(pb::ServerCapabilities {
                plan_destroy: false,
                // Every RPC is served from the schemas built at start, whether
                // or not this was asked: Terraform (1.6+) may then reuse one
                // copy of the schema for every provider process of a command
                // rather than ask each one for it.
                get_provider_schema_optional: true,
            }),
        }))
    }

    async fn prepare_provider_config(
        &self,
        request: Request<pb::prepare_provider_config::Request>,
    ) -> Result<Response<pb::prepare_provider_config::Response>, Status> {
        let request = request.into_inner();
        let server = &self.server;
        let ty = server.provider_schema().value_type();
        let mut diags = Diagnostics::new();
        let mut prepared_config = None;
        if let Some(config) = decode(request.config.as_ref(), ty, "provider configuration", &mut diags) {
            tracing::trace!(rpc = "PrepareProviderConfig", config = ?server.provider_schema().block().redact(&config), "validating provider configuration");
            diags.extend(server.validate_provider_config(&config));
            prepared_config = encode(&config, ty, &mut diags);
        }
        Ok(Response::new(pb::prepare_provider_config::Response { prepared_config, diagnostics: diagnostics(diags) }))
    }

    async fn validate_resource_type_config(
        &self,
        request: Request<pb::validate_resource_type_config::Request>,
    ) -> Result<Response<pb::validate_resource_type_config::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        if let Some(ty) = self.server.resource_type(&request.type_name, &mut diags) {
            if let Some(config) = decode(request.config.as_ref(), &ty, "configuration", &mut diags) {
                let write_only_allowed = request.client_capabilities.is_some_and(|c| c.write_only_attributes_allowed);
                diags.extend(
                    self.server.validate_resource_config(&request.type_name, &config, write_only_allowed).await,
                );
            }
        }
        Ok(Response::new(pb::validate_resource_type_config::Response { diagnostics: diagnostics(diags) }))
    }

    async fn validate_data_source_config(
        &self,
        request: Request<pb::validate_data_source_config::Request>,
    ) -> Result<Response<pb::validate_data_source_config::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        if let Some(ty) = self.server.data_source_type(&request.type_name, &mut diags) {
            if let Some(config) = decode(request.config.as_ref(), &ty, "configuration", &mut diags) {
                diags.extend(self.server.validate_data_source_config(&request.type_name, &config).await);
            }
        }
        Ok(Response::new(pb::validate_data_source_config::Response { diagnostics: diagnostics(diags) }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut upgraded_state = None;
        if let Some(ty) = self.server.resource_type(&request.type_name, &mut diags) {
            let raw = request.raw_state.unwrap_or_default();
            if raw.json.is_empty() && !raw.flatmap.is_empty() {
                diags.error(
                    "Unsupported state format",
                    "This state was written in the flatmap format of Terraform 0.11 and older, which this provider never produced.",
                );
            } else {
                let (state, upgrade_diags) =
                    self.server.upgrade_resource_state(&request.type_name, request.version, &raw.json);
                diags.extend(upgrade_diags);
                if !diags.has_errors() {
                    upgraded_state = encode(&state, &ty, &mut diags);
                }
            }
        }
        Ok(Response::new(pb::upgrade_resource_state::Response { upgraded_state, diagnostics: diagnostics(diags) }))
    }

    async fn configure(
        &self,
        request: Request<pb::configure::Request>,
    ) -> Result<Response<pb::configure::Response>, Status> {
        let request = request.into_inner();
        let server = &self.server;
        let ty = server.provider_schema().value_type();
        let mut diags = Diagnostics::new();
        if let Some(config) = decode(request.config.as_ref(), ty, "provider configuration", &mut diags) {
            tracing::debug!(rpc = "Configure", terraform_version = %request.terraform_version, config = ?server.provider_schema().block().redact(&config), "configuring provider");
            diags.extend(server.configure(&request.terraform_version, &config).await);
        }
        Ok(Response::new(pb::configure::Response { diagnostics: diagnostics(diags) }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut new_state = request.current_state.clone();
        if let Some(ty) = self.server.resource_type(&request.type_name, &mut diags) {
            if let Some(current) = decode(request.current_state.as_ref(), &ty, "current state", &mut diags) {
                tracing::debug!(rpc = "ReadResource", type_name = %request.type_name, "reading resource");
                let (state, read_diags) = self.server.read_resource(&request.type_name, &current).await;
                diags.extend(read_diags);
                new_state = encode(&state, &ty, &mut diags).or(new_state);
            }
        }
        Ok(Response::new(pb::read_resource::Response {
            new_state,
            diagnostics: diagnostics(diags),
            private: request.private,
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut response =
            pb::plan_resource_change::Response { planned_private: request.prior_private.clone(), ..Default::default() };
        if let Some(ty) = self.server.resource_type(&request.type_name, &mut diags) {
            let prior = decode(request.prior_state.as_ref(), &ty, "prior state", &mut diags);
            let proposed = decode(request.proposed_new_state.as_ref(), &ty, "proposed state", &mut diags);
            let config = decode(request.config.as_ref(), &ty, "configuration", &mut diags);
            if let (Some(prior), Some(proposed), Some(config)) = (prior, proposed, config) {
                tracing::debug!(rpc = "PlanResourceChange", type_name = %request.type_name, "planning");
                let (change, plan_diags) =
                    self.server.plan_resource_change(&request.type_name, &prior, &proposed, &config).await;
                diags.extend(plan_diags);
                response.planned_state = encode(&change.planned, &ty, &mut diags);
                response.requires_replace = change.requires_replace.iter().map(attribute_path).collect();
            }
        }
        response.diagnostics = diagnostics(diags);
        Ok(Response::new(response))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        // Should decoding fail, answer with the prior state: nothing changed.
        let mut new_state = request.prior_state.clone();
        if let Some(ty) = self.server.resource_type(&request.type_name, &mut diags) {
            let prior = decode(request.prior_state.as_ref(), &ty, "prior state", &mut diags);
            let planned = decode(request.planned_state.as_ref(), &ty, "planned state", &mut diags);
            // A delete carries no configuration.
            let config = match request.config.as_ref() {
                Some(config) => decode(Some(config), &ty, "configuration", &mut diags),
                None => Some(Value::Null),
            };
            if let (Some(prior), Some(planned), Some(config)) = (prior, planned, config) {
                tracing::debug!(rpc = "ApplyResourceChange", type_name = %request.type_name, "applying");
                let applied = self.server.apply_resource_change(&request.type_name, &prior, &planned, &config).await;
                diags.extend(applied.diagnostics);
                new_state = encode(&applied.new_state, &ty, &mut diags).or(new_state);
            }
        }
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state,
            private: request.planned_private,
            diagnostics: diagnostics(diags),
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut imported_resources = Vec::new();
        if let Some(ty) = self.server.resource_type(&request.type_name, &mut diags) {
            tracing::debug!(rpc = "ImportResourceState", type_name = %request.type_name, id = %request.id, "importing");
            let (imported, import_diags) = self.server.import_resource_state(&request.type_name, &request.id).await;
            diags.extend(import_diags);
            for resource in imported {
                if let Some(state) = encode(&resource.state, &ty, &mut diags) {
                    imported_resources.push(pb::import_resource_state::ImportedResource {
                        type_name: resource.type_name,
                        state: Some(state),
                        private: Vec::new(),
                    });
                }
            }
        }
        Ok(Response::new(pb::import_resource_state::Response { imported_resources, diagnostics: diagnostics(diags) }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::new();
        let mut state = None;
        if let Some(ty) = self.server.data_source_type(&request.type_name, &mut diags) {
            if let Some(config) = decode(request.config.as_ref(), &ty, "configuration", &mut diags) {
                tracing::debug!(rpc = "ReadDataSource", type_name = %request.type_name, "reading data source");
                let (read, read_diags) = self.server.read_data_source(&request.type_name, &config).await;
                diags.extend(read_diags);
                if !diags.has_errors() {
                    state = encode(&read, &ty, &mut diags);
                }
            }
        }
        Ok(Response::new(pb::read_data_source::Response { state, diagnostics: diagnostics(diags) }))
    }

    async fn stop(&self, _: Request<pb::stop::Request>) -> Result<Response<pb::stop::Response>, Status> {
        tracing::debug!(rpc = "Stop", "stopping operations in flight");
        self.server.stop();
        Ok(Response::new(pb::stop::Response { error: String::new() }))
    }
}
