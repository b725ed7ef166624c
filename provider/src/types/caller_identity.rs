//! `bokbasen_caller_identity`: who the provider acts as (STS
//! `GetCallerIdentity`). With `assume_role` it reports the assumed role in
//! the target account, which makes it the quickest check that cross-account
//! access works.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::{error_detail, AwsContext};
use crate::framework::{Attribute, Block, DataSource, Diagnostics, Schema};
use crate::value::Type;

pub struct CallerIdentity;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CallerIdentityState {
    pub account_id: Option<String>,
    pub arn: Option<String>,
    pub user_id: Option<String>,
}

#[async_trait]
impl DataSource for CallerIdentity {
    type Data = AwsContext;
    type State = CallerIdentityState;

    fn type_name(&self) -> &'static str {
        "bokbasen_caller_identity"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("The AWS identity the provider acts as: the account, ARN and user ID that STS `GetCallerIdentity` reports. With `assume_role` in the provider block, this is the assumed role in its account.")
                .attribute(Attribute::computed("account_id", Type::String).description("The 12-digit AWS account ID."))
                .attribute(Attribute::computed("arn", Type::String).description("ARN of the caller, e.g. `arn:aws:sts::222222222222:assumed-role/deploy/bokbasen-terraform`."))
                .attribute(Attribute::computed("user_id", Type::String).description("Unique identifier of the caller.")),
        )
    }

    async fn read(
        &self,
        aws: &AwsContext,
        _config: CallerIdentityState,
        diags: &mut Diagnostics,
    ) -> Option<CallerIdentityState> {
        match aws.sts().get_caller_identity().send().await {
            Ok(identity) => {
                Some(CallerIdentityState { account_id: identity.account, arn: identity.arn, user_id: identity.user_id })
            }
            Err(err) => {
                diags.error(
                    "Cannot read the caller identity",
                    format!("STS GetCallerIdentity failed: {}", error_detail(&err)),
                );
                None
            }
        }
    }
}
