//! What bokbasen offers Terraform: one module per type (`bokbasen_<type>`),
//! holding its resource and its data source side by side.
//!
//! Types share rules only through [`shared`]; a type never imports another
//! type, and nothing here imports the provider block above it.

use std::sync::Arc;

use crate::aws::AwsContext;
use crate::framework::{data_source, resource, AnyDataSource, AnyResource};

pub mod artifact_store;
pub mod caller_identity;
pub mod deploy_target;
pub mod service_config;
pub mod service_pipeline;
pub mod service_secret;
pub mod shared;

/// Every resource type the provider offers.
pub fn resources() -> Vec<Arc<dyn AnyResource<AwsContext>>> {
    vec![
        resource(service_pipeline::ServicePipeline),
        resource(service_config::ServiceConfig),
        resource(service_secret::ServiceSecret),
        resource(deploy_target::DeployTargetResource),
        resource(artifact_store::ArtifactStoreResource),
    ]
}

/// Every data source the provider offers.
pub fn data_sources() -> Vec<Arc<dyn AnyDataSource<AwsContext>>> {
    vec![
        data_source(caller_identity::CallerIdentity),
        data_source(deploy_target::DeployTargetData),
        data_source(service_config::ServiceConfigData),
    ]
}
