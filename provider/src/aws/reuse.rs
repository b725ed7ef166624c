//! Asking AWS each question once per provider process.
//!
//! Terraform refreshes every resource of a workspace through one provider
//! process, up to ten at a time, and hundreds of pipelines ask the same
//! accounts the same things. Two rules keep the answers exact:
//!
//! - [`UntilWrite`]: an answer about an account (which roles exist) is kept
//!   until this process makes any call that may change something in AWS
//!   ([`Writes`] counts them, as an SDK interceptor on every client). A plan
//!   changes nothing, so its refresh asks once; an apply's reads after a
//!   write ask again. Changes made by others during one refresh are seen as
//!   of the first question, as a refresh is one moment anyway.
//! - [`Batches`]: questions about items by name (CodeBuild projects) asked
//!   within [`BATCH_WINDOW`] of each other go to AWS as one call; every
//!   answer is fetched after its question was asked, so nothing is reused.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::sync::{watch, OnceCell};

use super::Step;

/// How long the first question of a batch waits for others to join it.
/// Terraform's concurrent reads of one plan ask within a few milliseconds
/// of each other; a lone question pays this once.
pub const BATCH_WINDOW: Duration = Duration::from_millis(15);

/// The calls this process made that may change something in AWS: every
/// operation but those that only read (`Get…`, `List…`, `Describe…`,
/// `BatchGet…`, `Head…`) and `AssumeRole`. Unknown operations count as
/// writes, so a new call can only make answers fresher.
#[derive(Clone, Debug, Default)]
pub struct Writes(Arc<AtomicU64>);

impl Writes {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    fn note(&self, operation: &str) {
        if !only_reads(operation) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn only_reads(operation: &str) -> bool {
    ["Get", "List", "Describe", "BatchGet", "Head"].iter().any(|read| operation.starts_with(read))
        || operation == "AssumeRole"
}

impl Intercept for Writes {
    fn name(&self) -> &'static str {
        "bokbasen::Writes"
    }

    // Not `read_before_execution`: a client's interceptors run that before
    // the operation's configuration (which names it) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Every operation carries its name; without one, count it as a write.
        self.note(cfg.load::<Metadata>().map(Metadata::name).unwrap_or("unknown"));
        Ok(())
    }
}

/// One answer, kept until this process writes ([`Writes`]); a failed
/// question is asked again by the next caller.
#[derive(Debug)]
pub struct UntilWrite<T> {
    slot: Mutex<Option<(u64, Arc<OnceCell<T>>)>>,
}

impl<T> Default for UntilWrite<T> {
    fn default() -> Self {
        UntilWrite { slot: Mutex::new(None) }
    }
}

impl<T: Clone> UntilWrite<T> {
    /// The kept answer, or `ask`'s, kept. Concurrent callers share one question.
    pub async fn get<F: Future<Output = Step<T>>>(&self, writes: &Writes, ask: F) -> Step<T> {
        let cell = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            // Counted before asking: a write during the question makes the next caller ask again.
            let now = writes.count();
            match &*slot {
                Some((asked_at, cell)) if *asked_at == now => cell.clone(),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    *slot = Some((now, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_try_init(|| ask).await.cloned()
    }
}

type Answer<T> = Option<Result<Arc<BTreeMap<String, T>>, String>>;

/// Questions about items by name, gathered into calls of at most `max` names.
#[derive(Debug)]
pub struct Batches<T> {
    max: usize,
    /// The batch still taking questions, if any.
    open: Arc<Mutex<Option<Arc<Batch<T>>>>>,
}

#[derive(Debug)]
struct Batch<T> {
    names: Mutex<Vec<String>>,
    answer: watch::Sender<Answer<T>>,
}

impl<T: Clone + Send + Sync + 'static> Batches<T> {
    pub fn new(max: usize) -> Batches<T> {
        Batches { max, open: Arc::default() }
    }

    /// The items among `names` that exist, by name, asked with whatever
    /// other questions come within [`BATCH_WINDOW`]. `fetch` answers a batch
    /// (the items found among its names); it runs on its own task, so a
    /// caller that gives up never strands the others.
    pub async fn get<F, Fut>(&self, names: &[String], fetch: F) -> Step<BTreeMap<String, T>>
    where
        F: FnOnce(Vec<String>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Step<BTreeMap<String, T>>> + Send + 'static,
    {
        let mut found = BTreeMap::new();
        for chunk in names.chunks(self.max.max(1)) {
            let mut answer = self.join(chunk, fetch.clone());
            let answered = answer
                .wait_for(Option::is_some)
                .await
                .map_err(|_| "a batched AWS request was abandoned".to_string())?
                .clone()
                .expect("waited for an answer");
            let items = answered?;
            found.extend(chunk.iter().filter_map(|name| items.get(name).map(|item| (name.clone(), item.clone()))));
        }
        Ok(found)
    }

    /// Adds `names` to the open batch if they fit, or opens a new one whose
    /// call goes out when the window closes.
    fn join<F, Fut>(&self, names: &[String], fetch: F) -> watch::Receiver<Answer<T>>
    where
        F: FnOnce(Vec<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Step<BTreeMap<String, T>>> + Send + 'static,
    {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(batch) = open.as_ref() {
            let mut pending = batch.names.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.len() + names.len() <= self.max {
                pending.extend(names.iter().cloned());
                return batch.answer.subscribe();
            }
        }
        let (answer, receiver) = watch::channel(None);
        let batch = Arc::new(Batch { names: Mutex::new(names.to_vec()), answer });
        *open = Some(batch.clone());
        let still_open = self.open.clone();
        tokio::spawn(async move {
            tokio::time::sleep(BATCH_WINDOW).await;
            {
                // Names join under this lock: once closed, nothing joins.
                let mut open = still_open.lock().unwrap_or_else(PoisonError::into_inner);
                if open.as_ref().is_some_and(|current| Arc::ptr_eq(current, &batch)) {
                    *open = None;
                }
            }
            let mut names = batch.names.lock().unwrap_or_else(PoisonError::into_inner).clone();
            names.sort();
            names.dedup();
            let answer = fetch(names).await.map(Arc::new);
            let _ = batch.answer.send(Some(answer));
        });
        receiver
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A fetch that answers the names it is given that `existing` holds,
    /// counting its calls and remembering the names of each.
    fn fetch_counting(
        calls: Arc<Mutex<Vec<Vec<String>>>>,
        existing: &[&str],
    ) -> impl FnOnce(Vec<String>) -> std::future::Ready<Step<BTreeMap<String, u32>>> + Clone + Send + 'static {
        let existing: Vec<String> = existing.iter().map(|s| s.to_string()).collect();
        move |names: Vec<String>| {
            calls.lock().unwrap().push(names.clone());
            let found =
                names.into_iter().filter(|n| existing.contains(n)).map(|n| (n.clone(), n.len() as u32)).collect();
            std::future::ready(Ok(found))
        }
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn questions_within_the_window_go_as_one_call_and_each_gets_its_own_answer() {
        let batches = Batches::new(100);
        let calls = Arc::default();
        let fetch = fetch_counting(Arc::clone(&calls), &["a-build", "b-build", "b-test-deploy"]);
        let asked = [names(&["a-build", "a-test-deploy"]), names(&["b-build", "b-test-deploy"]), names(&["a-build"])];
        let (a, b, c) = tokio::join!(
            batches.get(&asked[0], fetch.clone()),
            batches.get(&asked[1], fetch.clone()),
            batches.get(&asked[2], fetch.clone()),
        );
        assert_eq!(a.unwrap().keys().collect::<Vec<_>>(), ["a-build"]);
        assert_eq!(b.unwrap().keys().collect::<Vec<_>>(), ["b-build", "b-test-deploy"]);
        assert_eq!(c.unwrap().keys().collect::<Vec<_>>(), ["a-build"]);
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "{calls:?}");
        // Each name once, though two questions asked for it.
        assert_eq!(calls[0], names(&["a-build", "a-test-deploy", "b-build", "b-test-deploy"]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_takes_at_most_max_names_and_a_later_question_is_asked_anew() {
        let batches = Batches::new(3);
        let calls = Arc::default();
        let fetch = fetch_counting(Arc::clone(&calls), &["a", "b", "c", "d"]);
        let asked = [names(&["a", "b"]), names(&["c", "d"])];
        let (first, second) =
            tokio::join!(batches.get(&asked[0], fetch.clone()), batches.get(&asked[1], fetch.clone()));
        assert_eq!(first.unwrap().len() + second.unwrap().len(), 4);
        assert_eq!(calls.lock().unwrap().len(), 2, "3 names fit a call, not 4");
        // Nothing is kept: the same question later is a new call.
        let again = batches.get(&names(&["a"]), fetch.clone()).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(calls.lock().unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_fails_every_question_in_it() {
        let batches: Batches<u32> = Batches::new(100);
        let fetch = |names: Vec<String>| async move {
            Err(format!("reading CodeBuild projects {}: throttled", names.join(", ")))
        };
        let asked = [names(&["a"]), names(&["b"])];
        let (a, b) = tokio::join!(batches.get(&asked[0], fetch), batches.get(&asked[1], fetch));
        assert_eq!(a.unwrap_err(), "reading CodeBuild projects a, b: throttled");
        assert!(b.is_err());
    }

    #[tokio::test]
    async fn an_answer_is_kept_until_the_process_writes() {
        let writes = Writes::default();
        let kept: UntilWrite<u32> = UntilWrite::default();
        let asked = AtomicUsize::new(0);
        let ask = || async {
            asked.fetch_add(1, Ordering::SeqCst);
            Ok(7)
        };
        assert_eq!(kept.get(&writes, ask()).await, Ok(7));
        assert_eq!(kept.get(&writes, ask()).await, Ok(7));
        writes.note("GetRole");
        writes.note("ListRoles");
        writes.note("BatchGetProjects");
        writes.note("AssumeRole");
        assert_eq!(kept.get(&writes, ask()).await, Ok(7));
        assert_eq!(asked.load(Ordering::SeqCst), 1, "reads change nothing");
        writes.note("CreateRole");
        assert_eq!(kept.get(&writes, ask()).await, Ok(7));
        assert_eq!(asked.load(Ordering::SeqCst), 2, "asked again after a write");
        // A failed question is not kept.
        writes.note("DeleteRole");
        assert!(kept.get(&writes, async { Err::<u32, _>("denied".to_string()) }).await.is_err());
        assert_eq!(kept.get(&writes, ask()).await, Ok(7));
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn only_reads_are_not_writes() {
        for read in [
            "GetPipeline",
            "ListTagsForResource",
            "DescribeRepositories",
            "BatchGetProjects",
            "HeadBucket",
            "AssumeRole",
        ] {
            assert!(only_reads(read), "{read}");
        }
        for write in
            ["CreateRole", "PutRolePolicy", "BatchDeleteImage", "TagResource", "AssumeRoleWithWebIdentity", "unknown"]
        {
            assert!(!only_reads(write), "{write}");
        }
    }
}
