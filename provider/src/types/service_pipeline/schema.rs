//! The resource's schema: what a platform engineer writes per service.

use bokbasen_pipeline::{Build, Cache, Flyway, Kind};

use crate::framework::{Attribute, Block, NestedBlock, Nesting, Schema};
use crate::value::Type;

pub const TYPE_NAME: &str = "bokbasen_service_pipeline";

fn object(fields: &[(&str, Type)]) -> Type {
    Type::Object(fields.iter().map(|(name, ty)| (name.to_string(), ty.clone())).collect())
}

/// The type of an environment's `network`.
pub fn network_type() -> Type {
    object(&[
        ("vpc_id", Type::String),
        ("subnet_ids", Type::list(Type::String)),
        ("security_group_ids", Type::list(Type::String)),
    ])
}

/// The type of `stages`: ordered stage names with their ordered action names.
pub fn stage_type() -> Type {
    object(&[("name", Type::String), ("actions", Type::list(Type::String))])
}

pub fn schema() -> Schema {
    let kinds: Vec<String> = Kind::ALL.iter().map(|k| format!("`{}`", k.name())).collect();
    let source = Block::new("Where releases come from: a push to `branch` starts the pipeline.")
        .attribute(
            Attribute::required("connection_arn", Type::String)
                .description("ARN of the CodeStar connection (GitHub, Bitbucket, GitLab) that reads the repository."),
        )
        .attribute(Attribute::required("repository", Type::String).description("Repository as `owner/name`."))
        .attribute(Attribute::required("branch", Type::String).description("Branch whose pushes are released."));
    let build = Block::new("How the service is built (the CodeBuild project in the pipeline account).")
        .attribute(Attribute::optional("image", Type::String).default(Build::DEFAULT_IMAGE).description(format!("CodeBuild image. Defaults to `{}`.", Build::DEFAULT_IMAGE)))
        .attribute(Attribute::optional("compute_type", Type::String).default(Build::DEFAULT_COMPUTE_TYPE).description(format!("CodeBuild compute type. Defaults to `{}`.", Build::DEFAULT_COMPUTE_TYPE)))
        .attribute(Attribute::optional("buildspec", Type::String).default(Build::DEFAULT_BUILDSPEC).description(format!("Path of the buildspec in the repository, or inline YAML. Defaults to `{}`. Container kinds must write `imagedefinitions.json` (fargate) or `imageDetail.json` (batch).", Build::DEFAULT_BUILDSPEC)))
        .attribute(Attribute::optional("environment", Type::map(Type::String)).description("Plain environment variables for the build."))
        .attribute(Attribute::optional("secrets", Type::map(Type::String)).description("Environment variables read from SSM Parameter Store at build time: variable name → parameter name. Values never enter Terraform state."))
        .attribute(Attribute::optional("cache", Type::String).default(Cache::default().name()).description(format!("`none`, `local` (Docker layers and sources on the build host) or `s3` (in the artifact bucket). Defaults to `{}`.", Cache::default().name())));
    let environment = Block::new("A deployment environment. Releases are promoted through the blocks in order.")
        .attribute(Attribute::required("name", Type::String).description("Environment name, e.g. `test`; names the pipeline stage and the `/config/<service>_<name>` parameters."))
        .attribute(Attribute::required("account_id", Type::String).description("The environment's 12-digit AWS account ID."))
        .attribute(Attribute::required("deploy_role_arn", Type::String).description("Role in that account that the pipeline assumes to deploy; must be in `account_id`."))
        .attribute(Attribute::optional("approval", Type::Bool).default(false).description("Wait for a manual approval before releasing here. Defaults to `false`."))
        .attribute(Attribute::optional("migrate", Type::Bool).default(false).description("Run the Flyway migration (see `flyway`) before deploying. Defaults to `false`."))
        .attribute(Attribute::optional("smoke_test", object(&[("runscope_trigger_parameter", Type::String)])).description("Run a Runscope smoke test after deploying: `{ runscope_trigger_parameter = \"/config/<service>_<env>/runscope-trigger\" }`, the SSM parameter holding the trigger URL."))
        .attribute(Attribute::optional("verification", Type::list(Type::String)).description("Commands run after the smoke test, from the repository, e.g. `[\"./gradlew verificationTest\"]`."))
        .attribute(Attribute::required("target", Type::map(Type::String)).description("What to deploy to, per kind: fargate `cluster`, `service`; lambda `function`; batch `job_queue`, `job_definition`; api_gateway `api_id`, `stage`; static_site `bucket`, `distribution_id`."))
        .attribute(Attribute::optional("network", network_type()).description("The VPC this environment's steps (migration, tests, deploy) run in, to reach a database or endpoint in private subnets: `{ vpc_id, subnet_ids, security_group_ids }`. The subnets need a route to AWS's APIs (a NAT gateway or VPC endpoints)."))
        .attribute(Attribute::optional("external_id", Type::String).sensitive().description("Sent when the provider assumes `deploy_role_arn` to manage this environment's projects, if the deploy target requires one of its provisioners. Pipelines assume the role without one."));
    let flyway = Block::new("Flyway migrations; the database URL, user and password come from `/config/<service>_<env>/flyway/{url,user,password}` in each environment's account.")
        .attribute(Attribute::required("locations", Type::list(Type::String)).description("Flyway locations in the build's output artifact, e.g. `[\"filesystem:db/migration\"]`: the buildspec's `artifacts` must include them."))
        .attribute(Attribute::optional("image", Type::String).default(Flyway::DEFAULT_IMAGE).description(format!("The image the migration runs in. Defaults to `{}` from Docker Hub, whose anonymous pulls are rate-limited: a copy in ECR (a pull-through cache) is pulled with the step's role instead.", Flyway::DEFAULT_IMAGE)));
    Schema::new(
        Block::new("One microservice's release pipeline: build, then for each environment in order an optional approval, migration, deploy, smoke test and verification, each acting in that environment's account through its deploy role. Faults are fixed by rolling forward; nothing rolls back automatically.")
            .attribute(Attribute::required("name", Type::String).requires_replace().description("Service name: 2–40 lowercase letters, digits and `-`. Names the pipeline, its projects, roles and ECR repository. Changing it replaces the resource."))
            .attribute(Attribute::required("kind", Type::String).requires_replace().description(format!("How the service runs: {}. Changing it replaces the resource.", kinds.join(", "))))
            .attribute(Attribute::required("artifact_bucket", Type::String).description("S3 bucket for pipeline artifacts, in the pipeline account."))
            .attribute(Attribute::optional("artifact_key_arn", Type::String).description("ARN of the customer-managed KMS key the artifacts are encrypted with (the artifact store's and every CodeBuild project's), e.g. a `bokbasen_artifact_store`'s `key_arn`. Required when an environment is in another account than the pipeline: AWS managed keys cannot be shared."))
            .attribute(Attribute::optional("approval_topic_arn", Type::String).description("SNS topic notified when a release waits for approval."))
            .attribute(Attribute::optional("tags", Type::map(Type::String)).description("Tags for everything the resource creates, over the provider's `default_tags`. bokbasen adds `bokbasen:service` and `bokbasen:owner` (the mark of the resource that made an object, which cannot be set here and never shows here)."))
            .attribute(Attribute::optional("force_destroy", Type::Bool).default(false).description("Let destroy delete the service's ECR repository while it still holds images. Defaults to `false`: destroy is refused, naming the image count, and nothing is deleted."))
            .attribute(Attribute::computed("id", Type::String).use_state_for_unknown().description("The pipeline name."))
            .attribute(Attribute::computed("arn", Type::String).use_state_for_unknown().description("ARN of the CodePipeline pipeline."))
            .attribute(Attribute::computed("pipeline_version", Type::Number).description("The pipeline's version; it grows with every update."))
            .attribute(Attribute::computed("role_arns", Type::map(Type::String)).use_state_for_unknown().description("ARNs of the IAM roles the resource created: `pipeline`, `build`, and one per environment with projects."))
            .attribute(Attribute::computed("ecr_repository_url", Type::String).use_state_for_unknown().description("URL of the service's ECR repository (fargate and batch); empty for other kinds."))
            .attribute(Attribute::computed("codebuild_projects", Type::map(Type::String)).description("CodeBuild project names by purpose, e.g. `build`, `test/migrate`."))
            .attribute(Attribute::computed("stages", Type::list(stage_type())).description("The pipeline's stages in order, each with its actions in order; known at plan time."))
            .block(NestedBlock::new("source", Nesting::Single, source).items(1, 1))
            .block(NestedBlock::new("build", Nesting::Single, build))
            .block(NestedBlock::new("environment", Nesting::List, environment).items(1, 0))
            .block(NestedBlock::new("flyway", Nesting::Single, flyway)),
    )
}
