//! The AWS context against the local AWS endpoint: clients per service honour
//! the endpoint settings, `assume` acts in another account, and the account
//! is asked once per identity. One test: the caller's keys are set in the
//! process environment.

use bokbasen_e2e::local_aws::{ACCOUNT_ACCESS_ROLE, DEFAULT_ACCOUNT};
use bokbasen_e2e::LocalAws;
use bokbasen_provider::aws::{AwsContext, AwsSettings};

async fn context(aws: &LocalAws) -> AwsContext {
    // The endpoint enforces IAM: act as the user Terraform runs as.
    let keys = aws.caller_keys();
    std::env::set_var("AWS_ACCESS_KEY_ID", &keys.id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &keys.secret);
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let settings = AwsSettings {
        region: Some("eu-north-1".into()),
        endpoint_url: Some(aws.endpoint()),
        max_retries: Some(0),
        ..AwsSettings::default()
    };
    AwsContext::load(settings).await.expect("loads")
}

async fn account(context: &AwsContext) -> String {
    context.sts().get_caller_identity().send().await.expect("caller identity").account.expect("account")
}

#[tokio::test]
async fn assume_acts_in_the_other_account_with_separate_state() {
    let aws = LocalAws::start();
    let pipeline_account = context(&aws).await;
    assert_eq!(account(&pipeline_account).await, DEFAULT_ACCOUNT);
    assert_eq!(pipeline_account.region(), Some("eu-north-1"));

    let role = format!("arn:aws:iam::222222222222:role/{ACCOUNT_ACCESS_ROLE}");
    let test_account = pipeline_account.assume(&role, "bokbasen-test").await.unwrap();
    assert_eq!(account(&test_account).await, "222222222222");

    // A role made through the assumed context exists only in that account.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let created = test_account.iam().create_role().role_name("probe").assume_role_policy_document(trust).send().await;
    let arn = created.expect("role created").role.expect("role").arn;
    assert!(arn.starts_with("arn:aws:iam::222222222222:role/"), "{arn}");
    let names = |roles: Vec<aws_sdk_iam::types::Role>| roles.into_iter().map(|r| r.role_name).collect::<Vec<_>>();
    let here = test_account.iam().list_roles().send().await.unwrap().roles;
    assert!(names(here).contains(&"probe".to_string()));
    // The tooling account, seen by the endpoint's admin (the caller may not list its roles).
    let there = aws.boto3(r#"print(json.dumps([r["RoleName"] for r in client("iam").list_roles()["Roles"]]))"#);
    assert!(!there.as_array().unwrap().contains(&serde_json::json!("probe")), "{there}");

    // Every resource of a plan asks where it is; STS answers once per identity.
    aws.reset_calls();
    for _ in 0..3 {
        let copy = pipeline_account.clone();
        assert_eq!(copy.whereabouts().await.unwrap().0, DEFAULT_ACCOUNT);
        assert_eq!(test_account.whereabouts().await.unwrap().0, "222222222222");
    }
    let asked = aws.calls().get("sts:GetCallerIdentity").copied().unwrap_or(0);
    assert_eq!(asked, 2, "once for each identity: {:?}", aws.calls());
}
