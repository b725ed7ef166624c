//! Waiting out IAM's eventual consistency.
//!
//! IAM is eventually consistent: a role just created, or whose trust or
//! policy just changed, is not yet usable everywhere for a few seconds
//! ("Troubleshoot IAM", "Changes that I make are not always immediately
//! visible", docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html).
//! bokbasen writes its roles and names them in the next breath, so the first
//! apply meets that window, and the services answer with errors that look
//! permanent. Only the error code together with the message tells them from
//! a real refusal:
//!
//! | call | code | message |
//! |---|---|---|
//! | CodeBuild CreateProject, UpdateProject | `InvalidInputException` | "CodeBuild is not authorized to perform: sts:AssumeRole on arn:…:role/…", "Not authorized to perform DescribeSecurityGroups" (a `vpcConfig` checked against the role's just-written policy), "… service role … cannot be assumed …" |
//! | CodePipeline CreatePipeline, UpdatePipeline | `InvalidStructureException` | "CodePipeline is not authorized to perform AssumeRole on role arn:…", "arn:…:role/…-pipeline is not authorized to perform AssumeRole on role arn:…" (an action's role in another account) |
//! | STS AssumeRole | `AccessDenied` | "User: arn:… is not authorized to perform: sts:AssumeRole on resource: arn:…:role/…" |
//!
//! terraform-provider-aws waits out the same errors for up to two minutes
//! (`propagationTimeout` in `internal/service/codebuild/consts.go`; CreateProject
//! and UpdateProject on `InvalidInputException` containing "ot authorized to
//! perform" in `project.go`; CreatePipeline on `InvalidStructureException`
//! containing "not authorized" in `codepipeline/codepipeline.go`). bokbasen
//! also retries UpdatePipeline, which checks the roles the same way, and the
//! AssumeRole into an environment's deploy role.
//!
//! [`while_propagating`] retries exactly those errors, with exponential
//! backoff and jitter, until a deadline ([`Patience`]); every other error
//! returns at once. A refusal that is not propagation but looks like it (a
//! trust policy that never allows the caller) costs the deadline before it is
//! reported, as it does with terraform-provider-aws.

use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::time::{sleep, Instant};

/// How long to wait for IAM, and how often to ask again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patience {
    /// The last attempt starts at most this long after the first.
    pub deadline: Duration,
    /// The wait after the first refusal; it doubles after each refusal. Each
    /// wait is jittered down to as little as half.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl Patience {
    /// Two minutes, as terraform-provider-aws waits for IAM; the first retry
    /// after about a second, which is when most changes have propagated.
    pub const IAM: Patience = Patience {
        deadline: Duration::from_secs(120),
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
    };
}

impl Default for Patience {
    fn default() -> Patience {
        Patience::IAM
    }
}

/// Whether an AWS error, by its code and message, says that an IAM change
/// has not reached the service yet (the table in the module documentation).
pub fn is_propagation(code: Option<&str>, message: Option<&str>) -> bool {
    let (Some(code), Some(message)) = (code, message) else {
        return false;
    };
    let message = message.to_ascii_lowercase();
    match code {
        // CodeBuild checks that it may assume the service role, and, for a
        // vpcConfig, what the role may do in EC2. "not authorized to
        // perform" is never an input mistake.
        "InvalidInputException" => {
            message.contains("not authorized to perform")
                || (message.contains("service role") && message.contains("cannot be assumed"))
        }
        // CodePipeline checks that it may assume the pipeline's role, and that
        // role each action's role.
        "InvalidStructureException" => message.contains("not authorized to perform assumerole"),
        // STS: the role's trust does not (yet) allow the caller.
        "AccessDenied" => message.contains("not authorized to perform: sts:assumerole"),
        _ => false,
    }
}

/// [`is_propagation`] for an SDK error (a service error's code and message;
/// other SDK errors, such as a failed connection, are not propagation).
pub fn is_propagation_error<E: ProvideErrorMetadata>(err: &E) -> bool {
    is_propagation(err.code(), err.message())
}

/// [`is_propagation`] for a failed AssumeRole as the SDK's credentials
/// provider reports it: STS's error is in the chain of sources.
pub fn is_assume_role_propagation(err: &CredentialsError) -> bool {
    let mut next = std::error::Error::source(err);
    while let Some(cause) = next {
        if let Some(refused) = cause.downcast_ref::<aws_sdk_sts::error::SdkError<AssumeRoleError>>() {
            return is_propagation_error(refused);
        }
        next = cause.source();
    }
    false
}

/// Runs `call` until it succeeds, fails with an error `is_propagating` does
/// not accept, or `patience.deadline` has passed; returns the last answer.
/// `operation` names the call in the debug log of each retry.
pub async fn while_propagating_with<T, E, F, Fut>(
    operation: &str,
    patience: Patience,
    is_propagating: impl Fn(&E) -> bool,
    mut call: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    let mut delay = patience.first_delay;
    let mut attempt: u32 = 1;
    loop {
        let err = match call().await {
            Ok(answer) => return Ok(answer),
            Err(err) => err,
        };
        if !is_propagating(&err) {
            return Err(err);
        }
        let left = patience.deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            tracing::debug!(
                operation,
                attempt,
                "IAM change still not visible to the service at the deadline; giving up"
            );
            return Err(err);
        }
        // The last wait ends at the deadline, so the last attempt starts there.
        let wait = jittered(delay).min(left);
        tracing::debug!(
            operation,
            attempt,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "IAM change not yet visible to the service; retrying"
        );
        sleep(wait).await;
        delay = delay.saturating_mul(2).min(patience.max_delay);
        attempt += 1;
    }
}

/// [`while_propagating_with`] for an SDK call, with [`Patience::IAM`]: the
/// way every CodeBuild and CodePipeline call that names a role is made.
pub async fn while_propagating<T, E, F, Fut>(operation: &str, call: F) -> Result<T, E>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    while_propagating_with(operation, Patience::IAM, is_propagation_error::<E>, call).await
}

/// "Equal jitter": half of `delay`, plus a random part of the other half, so
/// that many calls refused together do not come back together.
fn jittered(delay: Duration) -> Duration {
    let half = delay / 2;
    let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    // A fresh RandomState is randomly keyed: enough randomness for spreading retries.
    let random = std::collections::hash_map::RandomState::new().hash_one(0u8);
    half + Duration::from_nanos(random % spread.saturating_add(1))
}

/// Credentials from `provider` (an AssumeRole), fetched now and retried while
/// the role's trust propagates, as a provider that hands the SDK exactly
/// these first and asks `provider` again only when they expire.
///
/// Why now: the SDK assumes a role lazily, on a client's first call, inside
/// its identity cache, which gives up on a load after 5 seconds and reports
/// the failure as that first call's (reading an IAM role, say). A role just
/// made may take longer to become assumable, and only here is it known that
/// the call to wait for is the AssumeRole. Handing over the credentials
/// fetched here keeps it to one AssumeRole per context, as before.
pub async fn credentials_now<P>(
    operation: &str,
    patience: Patience,
    provider: P,
) -> Result<SharedCredentialsProvider, CredentialsError>
where
    P: ProvideCredentials + 'static,
{
    let source = &provider;
    let first =
        while_propagating_with(operation, patience, is_assume_role_propagation, || source.provide_credentials())
            .await?;
    Ok(SharedCredentialsProvider::new(FirstThen { first: Mutex::new(Some(first)), then: provider }))
}

/// Credentials already fetched, then `then` for every later request.
struct FirstThen<P> {
    first: Mutex<Option<Credentials>>,
    then: P,
}

impl<P: fmt::Debug> fmt::Debug for FirstThen<P> {
    // Never the credentials themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirstThen").field("then", &self.then).finish_non_exhaustive()
    }
}

impl<P: ProvideCredentials> ProvideCredentials for FirstThen<P> {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        match self.first.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(credentials) => future::ProvideCredentials::ready(Ok(credentials)),
            None => self.then.provide_credentials(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use aws_sdk_codebuild::operation::create_project::CreateProjectError;
    use aws_sdk_sts::config::http::HttpResponse;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const CODEBUILD: &str =
        "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-build";
    const CODEBUILD_SERVICE_ROLE: &str =
        "Service role arn:aws:iam::222222222222:role/bokbasen/isbn-lookup-test-cb cannot be assumed by CodeBuild";
    const CODEBUILD_VPC: &str = "Not authorized to perform DescribeSecurityGroups";
    const CODEPIPELINE: &str =
        "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-pipeline";
    const CODEPIPELINE_ACTION: &str = "arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-pipeline is not authorized to perform AssumeRole on role arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test";
    const STS: &str = "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test";

    #[test]
    fn propagation_errors_are_recognised() {
        for (code, message) in [
            ("InvalidInputException", CODEBUILD),
            ("InvalidInputException", CODEBUILD_SERVICE_ROLE),
            ("InvalidInputException", CODEBUILD_VPC),
            ("InvalidStructureException", CODEPIPELINE),
            ("InvalidStructureException", CODEPIPELINE_ACTION),
            ("AccessDenied", STS),
        ] {
            assert!(is_propagation(Some(code), Some(message)), "{code}: {message}");
        }
    }

    #[test]
    fn other_errors_are_not_propagation() {
        for (code, message) in [
            // The same codes about something else.
            (Some("InvalidInputException"), Some("Invalid project name")),
            (Some("InvalidInputException"), Some("Project source location is required")),
            (
                Some("InvalidStructureException"),
                Some("Pipeline has only 1 stage(s). There should be a minimum of 2 stages in a pipeline"),
            ),
            (
                Some("AccessDenied"),
                Some("User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:GetRole"),
            ),
            // The right words under another code, or no code or message.
            (Some("ValidationException"), Some(CODEBUILD)),
            (Some("AccessDeniedException"), Some(STS)),
            (None, Some(CODEBUILD)),
            (Some("InvalidInputException"), None),
        ] {
            assert!(!is_propagation(code, message), "{code:?}: {message:?}");
        }
    }

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().expect("a status code"), SdkBody::empty())
    }

    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    #[test]
    fn sdk_errors_are_classified_by_their_code_and_message() {
        let refused = |message: &str| {
            aws_sdk_codebuild::error::SdkError::service_error(
                CreateProjectError::generic(meta("InvalidInputException", message)),
                response(400),
            )
        };
        assert!(is_propagation_error(&refused(CODEBUILD)));
        assert!(!is_propagation_error(&refused("Invalid project name")));
    }

    fn assume_role_refused(message: &str) -> CredentialsError {
        let refused = aws_sdk_sts::error::SdkError::service_error(
            AssumeRoleError::generic(meta("AccessDenied", message)),
            response(403),
        );
        // As aws-config's AssumeRoleProvider reports it.
        CredentialsError::provider_error(refused)
    }

    #[test]
    fn a_refused_assume_role_is_found_in_the_credentials_error() {
        assert!(is_assume_role_propagation(&assume_role_refused(STS)));
        assert!(!is_assume_role_propagation(&assume_role_refused(
            "The security token included in the request is invalid"
        )));
        assert!(!is_assume_role_propagation(&CredentialsError::not_loaded("no credentials in the environment")));
    }

    #[test]
    fn iam_patience_is_two_minutes_from_one_second_to_ten() {
        let patience = Patience::default();
        assert_eq!(patience.deadline, Duration::from_secs(120));
        assert_eq!(patience.first_delay, Duration::from_secs(1));
        assert_eq!(patience.max_delay, Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_delay() {
        let delay = Duration::from_secs(4);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(delay)).collect();
        assert!(waits.iter().all(|w| *w >= delay / 2 && *w <= delay), "{waits:?}");
        assert!(waits.iter().any(|w| *w != waits[0]), "the waits vary");
    }

    /// An error for the loop tests: whether it is propagation, and which attempt made it.
    #[derive(Debug, PartialEq)]
    struct Refusal {
        propagating: bool,
        attempt: u32,
    }

    #[tokio::test(start_paused = true)]
    async fn retries_propagation_until_it_succeeds() {
        let start = Instant::now();
        let mut attempts = 0;
        let answer = while_propagating_with(
            "test",
            Patience::IAM,
            |e: &Refusal| e.propagating,
            || {
                attempts += 1;
                let attempt = attempts;
                async move {
                    if attempt <= 3 {
                        Err(Refusal { propagating: true, attempt })
                    } else {
                        Ok(attempt)
                    }
                }
            },
        )
        .await;
        assert_eq!(answer, Ok(4));
        // Waits of about 1, 2 and 4 seconds, each at least half of that.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(3500) && waited <= Duration::from_secs(7), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_return_at_once() {
        let start = Instant::now();
        let mut attempts = 0;
        let answer: Result<(), Refusal> = while_propagating_with(
            "test",
            Patience::IAM,
            |e: &Refusal| e.propagating,
            || {
                attempts += 1;
                let attempt = attempts;
                async move { Err(Refusal { propagating: false, attempt }) }
            },
        )
        .await;
        assert_eq!(answer, Err(Refusal { propagating: false, attempt: 1 }));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_with_the_last_error() {
        let patience = Patience {
            deadline: Duration::from_secs(30),
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        let start = Instant::now();
        let mut starts = Vec::new();
        let answer: Result<(), Refusal> = while_propagating_with(
            "test",
            patience,
            |e: &Refusal| e.propagating,
            || {
                starts.push(start.elapsed());
                let attempt = starts.len() as u32;
                async move { Err(Refusal { propagating: true, attempt }) }
            },
        )
        .await;
        let attempts = starts.len() as u32;
        assert_eq!(answer, Err(Refusal { propagating: true, attempt: attempts }), "the last error");
        // The last attempt starts at the deadline, and nothing after it.
        assert_eq!(*starts.last().unwrap(), patience.deadline);
        assert_eq!(start.elapsed(), patience.deadline);
        // Waits grow from the first delay (jittered down to half) and never exceed the cap.
        let waits: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(waits[0] >= Duration::from_millis(500) && waits[0] <= Duration::from_secs(1), "{waits:?}");
        assert!(waits.iter().all(|w| *w <= patience.max_delay), "{waits:?}");
        // Longest waits: 1+2+4+5+5+5+5 = 27 s, then 3 s to the deadline: 9 attempts;
        // shortest: 0.5+1+2+2.5×10 = 28.5 s, then 1.5 s: 15 attempts.
        assert!((9..=15).contains(&attempts), "{attempts} attempts: {starts:?}");
    }

    /// A credentials provider refusing `refusals` times as STS does while a
    /// role propagates, then answering; counts the calls.
    #[derive(Debug)]
    struct Sts {
        refusals: u32,
        calls: Arc<AtomicU32>,
    }

    impl ProvideCredentials for Sts {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            future::ProvideCredentials::ready(if call <= self.refusals {
                Err(assume_role_refused(STS))
            } else {
                Ok(Credentials::new(format!("ASIA{call}"), "secret", Some("token".into()), None, "test"))
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn credentials_are_fetched_now_through_refusals_and_handed_over_once() {
        let calls = Arc::new(AtomicU32::new(0));
        let provider = credentials_now("sts:AssumeRole", Patience::IAM, Sts { refusals: 2, calls: calls.clone() })
            .await
            .expect("assumed after two refusals");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // The SDK's first request gets the credentials fetched above, with no call.
        let first = provider.provide_credentials().await.expect("credentials");
        assert_eq!(first.access_key_id(), "ASIA3");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // A refresh asks the role's provider again.
        let refreshed = provider.provide_credentials().await.expect("credentials");
        assert_eq!(refreshed.access_key_id(), "ASIA4");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(!format!("{provider:?}").contains("ASIA"), "credentials are not debug-printed");
    }

    #[tokio::test(start_paused = true)]
    async fn credentials_errors_that_are_not_propagation_return_at_once() {
        #[derive(Debug)]
        struct NoCredentials;
        impl ProvideCredentials for NoCredentials {
            fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
            where
                Self: 'a,
            {
                future::ProvideCredentials::ready(Err(CredentialsError::not_loaded("no source credentials")))
            }
        }
        let start = Instant::now();
        let err = credentials_now("sts:AssumeRole", Patience::IAM, NoCredentials).await.unwrap_err();
        assert!(matches!(err, CredentialsError::CredentialsNotLoaded(_)), "{err:?}");
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
