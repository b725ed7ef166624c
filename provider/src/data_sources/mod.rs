//! Data sources, one module each.

use std::sync::Arc;

use crate::aws::AwsContext;
use crate::framework::{data_source, AnyDataSource};

pub mod caller_identity;
pub mod deploy_target;
pub mod service_config;

/// Every data source the provider offers.
pub fn all() -> Vec<Arc<dyn AnyDataSource<AwsContext>>> {
    vec![
        data_source(caller_identity::CallerIdentity),
        data_source(deploy_target::DeployTargetData),
        data_source(service_config::ServiceConfigData),
    ]
}
