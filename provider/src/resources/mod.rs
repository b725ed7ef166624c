//! Managed resources, one module each.

use std::sync::Arc;

use crate::aws::AwsContext;
use crate::framework::{resource, AnyResource};

/// Every resource type the provider offers.
pub fn all() -> Vec<Arc<dyn AnyResource<AwsContext>>> {
    vec![
        resource(service_pipeline::ServicePipeline),
        resource(service_config::ServiceConfig),
        resource(service_secret::ServiceSecret),
        resource(deploy_target::DeployTargetResource),
    ]
}

pub mod deploy_target;
pub mod layout;
pub mod service_config;
pub mod service_pipeline;
pub mod service_secret;
