//! The accounts a service pipeline acts in: the pipeline's own, and each
//! environment's through the role its actions act through.

use std::collections::BTreeMap;

use bokbasen_pipeline::{Region, ServiceSpec, Where};

use crate::aws::{AwsContext, Step};

pub struct Accounts {
    pub pipeline: AwsContext,
    pub pipeline_account: String,
    pub region: Region,
    environments: BTreeMap<String, AwsContext>,
}

impl Accounts {
    /// The accounts of `spec`, each environment's through its deploy role.
    pub async fn of(aws: &AwsContext, spec: &ServiceSpec) -> Step<Accounts> {
        // Collected first: a borrowing iterator held across the awaits would keep the future from being Send.
        let roles: Vec<(String, String)> =
            spec.environments.iter().map(|env| (env.name.clone(), env.deploy_role_arn.clone())).collect();
        Accounts::through(aws, roles).await
    }

    /// The pipeline's account, and each environment's through the given role.
    pub async fn through(aws: &AwsContext, roles: impl IntoIterator<Item = (String, String)>) -> Step<Accounts> {
        let (pipeline_account, region) = aws.whereabouts().await?;
        let mut environments = BTreeMap::new();
        for (env, role_arn) in roles {
            environments.insert(env, aws.assume(&role_arn).await?);
        }
        Ok(Accounts { pipeline: aws.clone(), pipeline_account, region, environments })
    }

    /// Where calls about something in `place` go.
    pub fn context(&self, place: &Where) -> &AwsContext {
        match place {
            Where::Pipeline => &self.pipeline,
            Where::Environment(env) => self.environment(env),
        }
    }

    pub fn environment(&self, env: &str) -> &AwsContext {
        self.environments.get(env).unwrap_or(&self.pipeline)
    }
}
