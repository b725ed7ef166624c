# The release pipeline of one ECS Fargate service: build an image into ECR,
# then Test -> Stage -> Production, each in its own account through the deploy
# target there. Artifacts cross accounts encrypted with the artifact store's
# key. The whole organisation's side in one configuration (store, deploy
# targets through OrganizationAccountAccessRole, pipeline), runnable for every
# kind: examples/service-pipeline/.
resource "bokbasen_service_pipeline" "ebook_api" {
  name             = "ebook-api"
  kind             = "fargate"
  artifact_bucket  = bokbasen_artifact_store.artifacts.id
  artifact_key_arn = bokbasen_artifact_store.artifacts.key_arn

  source {
    connection_arn = "arn:aws:codestar-connections:eu-north-1:111111111111:connection/0a1b2c3d"
    repository     = "bokbasen/ebook-api"
    branch         = "main"
  }

  build {
    image        = "aws/codebuild/standard:7.0"
    compute_type = "BUILD_GENERAL1_SMALL"
    buildspec    = "buildspec.yml"
    environment  = { JAVA_TOOL_OPTIONS = "-Xmx1g" }
    secrets      = { SONAR_TOKEN = "/config/ebook-api_build/sonar-token" }
    cache        = "local"
  }

  environment {
    name            = "test"
    account_id      = bokbasen_deploy_target.test.account_id
    deploy_role_arn = bokbasen_deploy_target.test.deployer_role_arn
    migrate         = true
    # The migration reaches the database in private subnets.
    network = {
      vpc_id             = "vpc-0a1b2c3d4e5f60718"
      subnet_ids         = ["subnet-0a1b2c3d4e5f60718"]
      security_group_ids = ["sg-0a1b2c3d4e5f60718"]
    }
    smoke_test = { runscope_trigger_parameter = "/config/ebook-api_test/runscope-trigger" }
    target     = { cluster = "test", service = "ebook-api" }
  }

  environment {
    name            = "stage"
    account_id      = bokbasen_deploy_target.stage.account_id
    deploy_role_arn = bokbasen_deploy_target.stage.deployer_role_arn
    approval        = true
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/ebook-api_stage/runscope-trigger" }
    verification    = ["./gradlew verificationTest"]
    target          = { cluster = "stage", service = "ebook-api" }
  }

  environment {
    name            = "production"
    account_id      = bokbasen_deploy_target.production.account_id
    deploy_role_arn = bokbasen_deploy_target.production.deployer_role_arn
    approval        = true
    migrate         = true
    target          = { cluster = "production", service = "ebook-api" }
  }

  approval_topic_arn = "arn:aws:sns:eu-north-1:111111111111:releases"

  flyway {
    locations = ["filesystem:db/migration"]
    # Docker Hub's anonymous pulls are rate-limited: a copy through an ECR
    # pull-through cache, pulled with the migration step's role.
    image = "111111111111.dkr.ecr.eu-north-1.amazonaws.com/docker-hub/flyway/flyway:10"
  }

  tags = { team = "ebooks" }
}
