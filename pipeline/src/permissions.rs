//! What the identity that runs Terraform needs in the tooling account, as
//! one least-privilege policy: the provider's own calls for the service
//! pipelines, their configuration and secrets, and the artifact store, each
//! scoped by the names of [`crate::names`]. The environment accounts are
//! reached through each deploy target's deployer role ([`crate::target`]),
//! so this policy only lets the identity assume those.
//!
//! `docs/guides/permissions.md` is rendered from this document and the
//! deployer's, and the end-to-end suites run as an IAM user holding exactly
//! this policy against an endpoint that enforces it.

use serde_json::Value;

use crate::names::{builds_glob, deployer_role_name, pipeline_roles_glob, role_arn};
use crate::policy::{allow, find_roles, list_for_refresh, pass_role, policy, Region, MANAGE_ROLE};
use crate::store::key_alias;

/// Whose calls [`provisioner_policy`] allows: the account and its SSM layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioner {
    /// The tooling account (pipelines, artifact store, build configuration).
    pub account: String,
    /// The SSM prefix of services' configuration (`/config`).
    pub config_prefix: String,
    /// A role by this name in each environment account, for applying the
    /// deploy targets from the same configuration (AWS Organizations makes
    /// `OrganizationAccountAccessRole`); `None` when others apply them.
    pub environment_admin_role: Option<String>,
}

/// The least policy of the Terraform identity in the tooling account.
pub fn provisioner_policy(provisioner: &Provisioner, region: &Region) -> Value {
    let account = provisioner.account.as_str();
    let partition = region.partition.as_str();
    // The service roles bokbasen makes in this account: `{service}-pipeline`, `{service}-build`.
    let service_roles =
        vec![role_arn(partition, account, pipeline_roles_glob()), role_arn(partition, account, builds_glob())];
    let projects = region.arn("codebuild", account, &format!("project/{}", builds_glob()));
    let parameters = region.arn("ssm", account, &format!("parameter{}/*", provisioner.config_prefix));
    let mut statements = vec![
        allow(
            "AssumeDeployers",
            &["sts:AssumeRole"],
            // Any account's deployer: which accounts is the deploy targets' trust to decide.
            vec![role_arn(partition, "*", &deployer_role_name("*"))],
        ),
        find_roles("FindServiceRoles", region, account, &[pipeline_roles_glob(), builds_glob()]),
        list_for_refresh("ListForRefresh"),
        allow("ManageServiceRoles", MANAGE_ROLE, service_roles.clone()),
        pass_role("PassServiceRoles", service_roles, &["codepipeline.amazonaws.com", "codebuild.amazonaws.com"]),
        allow(
            "ManageBuildProjects",
            &[
                "codebuild:BatchGetProjects",
                "codebuild:CreateProject",
                "codebuild:UpdateProject",
                "codebuild:DeleteProject",
            ],
            vec![projects],
        ),
        allow(
            "ManagePipelines",
            &[
                "codepipeline:GetPipeline",
                "codepipeline:CreatePipeline",
                "codepipeline:UpdatePipeline",
                "codepipeline:DeletePipeline",
                "codepipeline:ListTagsForResource",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
            ],
            // Pipelines are named after their services, with nothing to tell them by.
            vec![region.arn("codepipeline", account, "*")],
        ),
        allow(
            // A pipeline's source action uses the connection: creating one passes it.
            "PassConnections",
            &["codestar-connections:PassConnection", "codeconnections:PassConnection"],
            vec![
                region.arn("codestar-connections", account, "connection/*"),
                region.arn("codeconnections", account, "connection/*"),
            ],
        ),
        allow(
            "ManageRepositories",
            &[
                "ecr:CreateRepository",
                "ecr:DescribeRepositories",
                "ecr:DeleteRepository",
                "ecr:PutLifecyclePolicy",
                "ecr:SetRepositoryPolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:DeleteRepositoryPolicy",
                "ecr:PutImageScanningConfiguration",
                "ecr:ListImages",
                "ecr:ListTagsForResource",
                "ecr:TagResource",
                "ecr:UntagResource",
            ],
            vec![region.arn("ecr", account, "repository/*")],
        ),
        allow(
            "ManageConfiguration",
            &[
                "ssm:PutParameter",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:GetParametersByPath",
                "ssm:DeleteParameter",
                "ssm:DeleteParameters",
                "ssm:AddTagsToResource",
                "ssm:RemoveTagsFromResource",
                "ssm:ListTagsForResource",
            ],
            vec![parameters],
        ),
        // DescribeParameters takes no resource: its filters do the narrowing.
        allow("DescribeConfiguration", &["ssm:DescribeParameters"], vec!["*".into()]),
        allow(
            // The bucket is created with its tags (its bokbasen:owner marker) in the CreateBucket
            // request, which then needs s3:TagResource on the bucket too (Amazon S3 API reference,
            // CreateBucketConfiguration, Tags; S3 user guide, "Creating general purpose buckets
            // with tags").
            "ManageArtifactBuckets",
            &[
                "s3:CreateBucket",
                "s3:TagResource",
                "s3:DeleteBucket",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetBucketVersioning",
                "s3:PutBucketVersioning",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            ],
            vec![region.s3("*"), region.s3("*/*")],
        ),
        allow(
            // CreateKey names no key yet; the key policy, not this, governs the key afterwards.
            // ListKeys finds the key an interrupted create made (by its bokbasen:owner tag), so a
            // second is never made; it names no key either ("*": KMS developer guide, "Specifying
            // KMS keys in IAM policy statements"; KMS API reference, ListKeys).
            "CreateArtifactKeys",
            &["kms:CreateKey", "kms:ListAliases", "kms:ListKeys"],
            vec!["*".into()],
        ),
        allow(
            "ManageArtifactKeys",
            &[
                "kms:DescribeKey",
                "kms:EnableKeyRotation",
                "kms:GetKeyRotationStatus",
                "kms:GetKeyPolicy",
                "kms:PutKeyPolicy",
                "kms:ListResourceTags",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ScheduleKeyDeletion",
                "kms:CreateAlias",
                "kms:DeleteAlias",
            ],
            vec![region.arn("kms", account, "key/*"), region.arn("kms", account, &key_alias("*"))],
        ),
    ];
    if let Some(role) = &provisioner.environment_admin_role {
        statements.push(allow(
            "AdministerEnvironments",
            &["sts:AssumeRole"],
            vec![format!("arn:{partition}:iam::*:role/{role}")],
        ));
    }
    policy(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(policy: &Value) -> Vec<&Value> {
        policy["Statement"].as_array().unwrap().iter().collect()
    }

    #[test]
    fn the_provisioner_stays_in_its_account_but_for_the_roles_it_assumes() {
        let region = Region { partition: "aws".into(), region: "eu-north-1".into() };
        let mut provisioner = Provisioner {
            account: "123456789012".into(),
            config_prefix: "/config".into(),
            environment_admin_role: None,
        };
        let policy = provisioner_policy(&provisioner, &region);
        for statement in statements(&policy) {
            let actions: Vec<&str> =
                statement["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
            assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}: actions are named");
            let cross_account = statement["Sid"] == "AssumeDeployers";
            for resource in statement["Resource"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()) {
                let here =
                    resource == "*" || resource.contains(":123456789012:") || resource.starts_with("arn:aws:s3:::");
                assert!(here || cross_account, "{resource} is outside the tooling account");
            }
        }
        assert_eq!(
            statements(&policy)[0]["Resource"][0],
            "arn:aws:iam::*:role/bokbasen/bokbasen-deployer-*",
            "only deployers are assumed"
        );
        assert!(!policy.to_string().contains("OrganizationAccountAccessRole"));
        provisioner.environment_admin_role = Some("OrganizationAccountAccessRole".into());
        let policy = provisioner_policy(&provisioner, &region);
        assert_eq!(statements(&policy).last().unwrap()["Sid"], "AdministerEnvironments");
    }
}
