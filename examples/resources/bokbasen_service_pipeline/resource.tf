# The release pipeline of one ECS Fargate service: build an image into ECR,
# then Test -> Stage -> Production, each in its own account through the deploy
# role there. Runnable configurations for every kind: examples/service-pipeline/.
resource "bokbasen_service_pipeline" "ebook_api" {
  name            = "ebook-api"
  kind            = "fargate"
  artifact_bucket = "bokbasen-pipeline-artifacts"

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
    account_id      = "222222222222"
    deploy_role_arn = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test"
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/ebook-api_test/runscope-trigger" }
    target          = { cluster = "test", service = "ebook-api" }
  }

  environment {
    name            = "stage"
    account_id      = "333333333333"
    deploy_role_arn = "arn:aws:iam::333333333333:role/bokbasen/bokbasen-deployer-stage"
    approval        = true
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/ebook-api_stage/runscope-trigger" }
    verification    = ["./gradlew verificationTest"]
    target          = { cluster = "stage", service = "ebook-api" }
  }

  environment {
    name            = "production"
    account_id      = "444444444444"
    deploy_role_arn = "arn:aws:iam::444444444444:role/bokbasen/bokbasen-deployer-production"
    approval        = true
    migrate         = true
    target          = { cluster = "production", service = "ebook-api" }
  }

  approval_topic_arn = "arn:aws:sns:eu-north-1:111111111111:releases"

  flyway {
    locations = ["filesystem:db/migration"]
  }

  tags = { team = "ebooks" }
}
