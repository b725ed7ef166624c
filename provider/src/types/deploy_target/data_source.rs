//! Data source `bokbasen_deploy_target`: the role ARNs of an environment
//! account's deploy target, looked up by environment name, so a pipeline's
//! configuration can take `deploy_role_arn` from the account it deploys to.

use async_trait::async_trait;
use bokbasen_pipeline::check_environment_name;
use bokbasen_pipeline::names::{deployer_role_name, devops_role_name};
use serde::{Deserialize, Serialize};

use crate::aws::roles::read_role;
use crate::aws::AwsContext;
use crate::framework::{Attr, Attribute, Block, DataSource, Diagnostics, Schema};
use crate::value::{AttributePath, Type};

pub struct DeployTargetData;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DeployTargetDataState {
    pub environment: Attr<String>,
    pub account_id: Attr<String>,
    pub deployer_role_arn: Attr<String>,
    pub devops_role_arn: Attr<String>,
}

#[async_trait]
impl DataSource for DeployTargetData {
    type Data = AwsContext;
    type State = DeployTargetDataState;

    fn type_name(&self) -> &'static str {
        super::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("The roles of a deploy target (made by the `bokbasen_deploy_target` resource) in the account the provider acts in: use it with a provider that assumes a role there.")
                .attribute(Attribute::required("environment", Type::String).description("Environment name, e.g. `test`."))
                .attribute(Attribute::computed("account_id", Type::String).description("The account the roles are in."))
                .attribute(Attribute::computed("deployer_role_arn", Type::String).description("ARN of the deployer role, for `deploy_role_arn` in `bokbasen_service_pipeline`."))
                .attribute(Attribute::computed("devops_role_arn", Type::String).description("ARN of the read-only DevOps role; null when the target has none.")),
        )
    }

    async fn validate(&self, config: &DeployTargetDataState, diags: &mut Diagnostics) {
        if let Some(Err(message)) = config.environment.known().map(|e| check_environment_name(e)) {
            diags.attribute_error(AttributePath::attr("environment"), "Invalid environment", message);
        }
    }

    async fn read(
        &self,
        aws: &AwsContext,
        config: DeployTargetDataState,
        diags: &mut Diagnostics,
    ) -> Option<DeployTargetDataState> {
        let environment = config.environment.known()?.clone();
        let found = async {
            let deployer = read_role(aws, &deployer_role_name(&environment)).await?;
            let devops = read_role(aws, &devops_role_name(&environment)).await?;
            Ok::<_, String>((deployer, devops))
        }
        .await;
        match found {
            Ok((Some(deployer), devops)) => Some(DeployTargetDataState {
                account_id: Attr::Known(deployer.arn.split(':').nth(4).unwrap_or_default().to_string()),
                deployer_role_arn: Attr::Known(deployer.arn),
                devops_role_arn: devops.map(|d| d.arn).into(),
                environment: Attr::Known(environment),
            }),
            Ok((None, _)) => {
                diags.attribute_error(
                    AttributePath::attr("environment"),
                    "No deploy target",
                    format!("This account has no deploy target for {environment:?} (no role {}). Create it with the `bokbasen_deploy_target` resource, applied through a provider that assumes a role in this account.", deployer_role_name(&environment)),
                );
                None
            }
            Err(err) => {
                diags.error("Reading the deploy target failed", err);
                None
            }
        }
    }
}
