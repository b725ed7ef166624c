//! The AWS context against the local AWS endpoint: clients per service honour
//! the endpoint settings, `assume` acts in another account, the account is
//! asked once per identity, a role is assumed once per process and its
//! credentials renewed before they expire, and a role that cannot be
//! assumed fails only what needs it. One test: the caller's keys are set in
//! the process environment.

use std::time::Duration;

use bokbasen_e2e::local_aws::{ACCOUNT_ACCESS_ROLE, DEFAULT_ACCOUNT};
use bokbasen_e2e::LocalAws;
use bokbasen_provider::aws::roles::listed_role_arn;
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
    aws.reset_calls();
    let test_account = pipeline_account.assume(&role).await.unwrap();
    assert_eq!(account(&test_account).await, "222222222222");

    // A role made through the assumed context exists only in that account.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let created = test_account
        .iam()
        .create_role()
        .role_name("probe")
        .path("/bokbasen/")
        .assume_role_policy_document(trust)
        .send()
        .await;
    let arn = created.expect("role created").role.expect("role").arn;
    assert!(arn.starts_with("arn:aws:iam::222222222222:role/"), "{arn}");
    let names = |roles: Vec<aws_sdk_iam::types::Role>| roles.into_iter().map(|r| r.role_name).collect::<Vec<_>>();
    let here = test_account.iam().list_roles().send().await.unwrap().roles;
    assert!(names(here).contains(&"probe".to_string()));
    // The tooling account, seen by the endpoint's admin (the caller may not list its roles).
    let there = aws.boto3(r#"print(json.dumps([r["RoleName"] for r in client("iam").list_roles()["Roles"]]))"#);
    assert!(!there.as_array().unwrap().contains(&serde_json::json!("probe")), "{there}");

    assert_eq!(assume_calls(&aws), 1, "{:?}", aws.calls());

    // The roles under bokbasen's path are listed once until the process
    // writes; one not among them is asked for by name.
    aws.reset_calls();
    for _ in 0..3 {
        assert_eq!(listed_role_arn(&test_account, "probe").await.unwrap().as_deref(), Some(arn.as_str()));
    }
    assert_eq!(listed_role_arn(&test_account, "gone").await.unwrap(), None);
    assert_eq!(calls_of(&aws, "iam:ListRoles"), 1, "{:?}", aws.calls());
    assert_eq!(calls_of(&aws, "iam:GetRole"), 1, "only the one not listed: {:?}", aws.calls());
    let made = test_account.iam().create_role().role_name("made").path("/bokbasen/").assume_role_policy_document(trust);
    made.send().await.expect("role created");
    assert!(listed_role_arn(&test_account, "made").await.unwrap().is_some());
    assert_eq!(calls_of(&aws, "iam:ListRoles"), 2, "listed again after a write: {:?}", aws.calls());
    assert_eq!(calls_of(&aws, "iam:GetRole"), 1, "{:?}", aws.calls());

    // Every resource of a plan asks where it is; STS answers once per identity.
    aws.reset_calls();
    for _ in 0..3 {
        let copy = pipeline_account.clone();
        assert_eq!(copy.whereabouts().await.unwrap().0, DEFAULT_ACCOUNT);
        assert_eq!(test_account.whereabouts().await.unwrap().0, "222222222222");
    }
    let asked = aws.calls().get("sts:GetCallerIdentity").copied().unwrap_or(0);
    assert_eq!(asked, 2, "once for each identity: {:?}", aws.calls());

    // Many resources assume the same role at once, and call several
    // services through it: the one AssumeRole above serves them all.
    aws.reset_calls();
    let many = futures_util::future::join_all((0..20).map(|_| pipeline_account.assume(&role))).await;
    for context in many {
        let context = context.expect("assumed");
        context.iam().list_roles().send().await.expect("iam through the role");
        context.codebuild().list_projects().send().await.expect("codebuild through the role");
        context.ssm().describe_parameters().send().await.expect("ssm through the role");
    }
    assert_eq!(assume_calls(&aws), 0, "no AssumeRole after the first: {:?}", aws.calls());

    // Credentials are renewed before they expire. The SDK renews them 5–10 s
    // before (its buffer, jittered); issued for 14 s, they serve at once
    // and are renewed by 10 s after issue.
    aws.set_credential_lifetime(Some(14));
    let stage =
        pipeline_account.assume(&format!("arn:aws:iam::333333333333:role/{ACCOUNT_ACCESS_ROLE}")).await.unwrap();
    aws.set_credential_lifetime(None);
    aws.reset_calls();
    stage.iam().list_roles().send().await.expect("iam with the first credentials");
    assert_eq!(assume_calls(&aws), 0, "fresh credentials are used as they are: {:?}", aws.calls());
    tokio::time::sleep(Duration::from_secs(10)).await;
    stage.iam().list_roles().send().await.expect("iam after renewal");
    stage.codebuild().list_projects().send().await.expect("codebuild after renewal");
    assert_eq!(assume_calls(&aws), 1, "renewed once, for every client: {:?}", aws.calls());
    assert_eq!(account(&stage).await, "333333333333");

    // A role that cannot be assumed fails each use of it, naming it, with
    // one AssumeRole for the process; the roles already assumed go on.
    aws.reset_calls();
    aws.inject_fault("sts:AssumeRole", 403, "RegionDisabledException", "STS is not activated in this region", None);
    let refused = format!("arn:aws:iam::444444444444:role/{ACCOUNT_ACCESS_ROLE}");
    for _ in 0..3 {
        let err = pipeline_account.assume(&refused).await.expect_err("STS refuses");
        assert!(err.contains(&refused) && err.contains("RegionDisabledException"), "{err}");
    }
    assert_eq!(assume_calls(&aws), 1, "the refusal is the answer for the process: {:?}", aws.calls());
    let still = pipeline_account.assume(&role).await.expect("the role assumed before still serves");
    still.iam().list_roles().send().await.expect("iam through the role assumed before");
    aws.clear_faults();
}

fn assume_calls(aws: &LocalAws) -> u64 {
    calls_of(aws, "sts:AssumeRole")
}

fn calls_of(aws: &LocalAws, operation: &str) -> u64 {
    aws.calls().get(operation).copied().unwrap_or(0)
}
