//! Data source `bokbasen_service_config`: a service's configuration for one
//! environment as it is in SSM, for wiring modules together (e.g. a task
//! definition that needs the database URL). Secrets are listed by key only.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{computed_attributes, TYPE_NAME};
use crate::aws::parameters;
use crate::aws::AwsContext;
use crate::framework::{Attr, Attribute, Block, DataSource, Diagnostics, Schema};
use crate::types::shared::{location_attributes, LocationArgs};
use crate::value::Type;

pub struct ServiceConfigData;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ServiceConfigDataState {
    /// `service`, `environment`, `prefix`, `separator`.
    #[serde(flatten)]
    pub location: LocationArgs,
    pub values: Attr<BTreeMap<String, String>>,
    pub secret_keys: Attr<Vec<String>>,
    pub id: Attr<String>,
    pub path: Attr<String>,
    pub parameter_arns: Attr<BTreeMap<String, String>>,
    pub spring_config_import: Attr<String>,
}

#[async_trait]
impl DataSource for ServiceConfigData {
    type Data = AwsContext;
    type State = ServiceConfigDataState;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        let block = location_attributes(
            Block::new("A service's configuration for one environment as it is in SSM Parameter Store (`{prefix}/{service}{separator}{environment}`): the `String` values, and the keys of the secrets next to them (never their values).")
                .attribute(Attribute::computed("values", Type::map(Type::String)).description("Key → value of every `String` parameter under the path."))
                .attribute(Attribute::computed("secret_keys", Type::list(Type::String)).description("Keys of the `SecureString` parameters under the path, sorted; their values are not read.")),
            false,
        );
        Schema::new(computed_attributes(block))
    }

    async fn validate(&self, config: &ServiceConfigDataState, diags: &mut Diagnostics) {
        config.location.check(diags);
    }

    async fn read(
        &self,
        aws: &AwsContext,
        config: ServiceConfigDataState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceConfigDataState> {
        let location = config.location.known()?;
        let stored = match parameters::list_path(aws, &location.path()).await {
            Ok(stored) => stored,
            Err(err) => {
                diags.error("Reading the configuration failed", err);
                return None;
            }
        };
        let mut values = BTreeMap::new();
        let mut secret_keys = Vec::new();
        let mut arns = BTreeMap::new();
        for parameter in stored {
            let Some(key) = location.key_of(&parameter.name).map(str::to_string) else { continue };
            arns.insert(key.clone(), parameter.arn);
            match parameter.value {
                Some(value) if !parameter.secure => {
                    values.insert(key, value);
                }
                _ => secret_keys.push(key),
            }
        }
        secret_keys.sort();
        let args = LocationArgs::from_location(&location);
        Some(ServiceConfigDataState {
            id: args.id().into(),
            location: args,
            values: Attr::Known(values),
            secret_keys: Attr::Known(secret_keys),
            path: Attr::Known(location.path()),
            parameter_arns: Attr::Known(arns),
            spring_config_import: Attr::Known(location.spring_config_import()),
        })
    }
}
