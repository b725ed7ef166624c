//! `bokbasen_service_pipeline`: one microservice's release stack.
//!
//! - `schema.rs`: what users write; `config.rs`: state as serde structs and
//!   its mapping to a checked [`ServiceSpec`](bokbasen_pipeline::ServiceSpec);
//! - `resource.rs`: plan (the shape is known at plan time) and apply;
//! - `deploy.rs`: orchestration, making the accounts match the shape, with
//!   `accounts.rs` (where each call goes) and `convert.rs` (the shape to
//!   SDK requests and back, without calls).

mod accounts;
mod config;
mod convert;
mod deploy;
mod resource;
mod schema;

pub use config::{plan_stages, to_spec, EnvironmentBlock, ServicePipelineState, StageState};
pub use resource::ServicePipeline;
pub use schema::{schema, TYPE_NAME};
