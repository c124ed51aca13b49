//! The executor and the deploy session against the in-memory provider: ordering, parallel
//! start levels, unready bookkeeping, failure mid-deploy and ownership refusals, with no
//! engine, in milliseconds.

use nanokit_deploy::fake::{Fake, Faults, Platform};
use nanokit_deploy::provider::Silent;
use nanokit_deploy::session::{Book, Outcome, Session};
use nanokit_deploy::{conformance, executor};
use std::sync::{Arc, Mutex};

/// Two independent services and one that needs both: two start levels.
const THREE: &str = "name: shop\nservices:\n  a:\n    image: x\n    expose: 3001\n    host: a.shop.localhost\n  b:\n    image: x\n    expose: 3002\n  c:\n    image: x\n    expose: 3003\n    depends_on: [a, b]\n";

fn setup(yaml: &str) -> (tempfile::TempDir, nanokit_core::plan::Desired, Book) {
    let dir = tempfile::tempdir().unwrap();
    let desired = conformance::desired_from_yaml(yaml, "local", dir.path()).unwrap();
    let book = conformance::book(&desired, "fake", dir.path());
    (dir, desired, book)
}

fn index(calls: &[String], what: &str) -> usize {
    calls.iter().position(|c| c.starts_with(what)).unwrap_or_else(|| panic!("no call `{what}` in {calls:#?}"))
}

#[tokio::test]
async fn infrastructure_first_then_each_level_in_parallel_each_service_seen_ready_before_its_dependents() {
    let (_dir, desired, book) = setup(THREE);
    let fake = Fake::new(Arc::default());
    let session = Session { provider: &fake, book: &book, reporter: &Silent };
    let outcome = session.up(&desired, false, true, &|_| {}).await.unwrap();
    assert!(matches!(outcome, Outcome::Deployed(..)), "{outcome:?}");
    let calls = fake.calls();
    let network = index(&calls, "apply create network");
    let gateway = calls.iter().position(|c| c.starts_with("apply create gateway")).expect("gateway created");
    let create =
        |s: &str| calls.iter().position(|c| c.starts_with(&format!("apply create {s} "))).unwrap_or_else(|| panic!("{s}: {calls:#?}"));
    assert!(network < gateway && gateway < create("a") && gateway < create("b"), "services wait for the gateway here: {calls:#?}");
    assert!(index(&calls, "ready a") < create("c") && index(&calls, "ready b") < create("c"), "c after a and b are ready: {calls:#?}");
    assert!(fake.max_in_flight.load(std::sync::atomic::Ordering::SeqCst) >= 2, "a and b start at once");
    let routes = calls.iter().position(|c| c.starts_with("apply update gateway routes")).expect("routes set");
    assert!(routes > index(&calls, "ready c"), "routes last: {calls:#?}");
}

#[tokio::test]
async fn a_provider_whose_gateway_only_routes_starts_services_beside_it() {
    let (_dir, desired, book) = setup(THREE);
    let mut fake = Fake::new(Arc::default());
    fake.capabilities.services_need_gateway = false;
    Session { provider: &fake, book: &book, reporter: &Silent }.up(&desired, false, true, &|_| {}).await.unwrap();
    let calls = fake.calls();
    let network = index(&calls, "apply create network");
    let first_service = calls.iter().position(|c| c.starts_with("apply create a ") || c.starts_with("apply create b ")).unwrap();
    assert!(network < first_service, "{calls:#?}");
}

#[tokio::test]
async fn a_service_that_never_becomes_ready_stops_the_deploy_and_leaves_it_and_the_unreached_unready() {
    let (_dir, desired, book) = setup(THREE);
    let mut fake = Fake::new(Arc::default());
    fake.faults = Faults { fail_ready: Some("a".into()), ..Faults::default() };
    let e = Session { provider: &fake, book: &book, reporter: &Silent }.up(&desired, false, true, &|_| {}).await.unwrap_err();
    assert!(format!("{e:#}").contains("never became ready"), "{e:#}");
    let calls = fake.calls();
    assert!(!calls.iter().any(|c| c.starts_with("apply create c ")), "c is never started: {calls:#?}");
    assert!(!calls.iter().any(|c| c.starts_with("apply update gateway routes")), "routes are not changed: {calls:#?}");
    let mut unready = book.unready().unwrap();
    unready.sort();
    assert_eq!(unready, ["a", "c"], "b was seen ready; a failed; c was never reached");
    // The next deploy retries them although their configuration did not change.
    let fixed = Fake::new(fake.platform.clone());
    let plan = Session { provider: &fixed, book: &book, reporter: &Silent }.plan(&desired).await.unwrap();
    let changed = executor::changed_services(&plan);
    assert!(changed.contains(&"a".to_string()) && changed.contains(&"c".to_string()) && !changed.contains(&"b".to_string()), "{changed:?}");
    Session { provider: &fixed, book: &book, reporter: &Silent }.up(&desired, false, true, &|_| {}).await.unwrap();
    assert!(book.unready().unwrap().is_empty());
}

#[tokio::test]
async fn a_step_that_fails_stops_everything_after_it() {
    let (_dir, desired, book) = setup(THREE);
    let mut fake = Fake::new(Arc::default());
    fake.faults = Faults { fail_apply: Some("create gateway".into()), ..Faults::default() };
    let e = Session { provider: &fake, book: &book, reporter: &Silent }.up(&desired, false, true, &|_| {}).await.unwrap_err();
    assert!(format!("{e:#}").contains("failed on purpose"), "{e:#}");
    let calls = fake.calls();
    assert!(!calls.iter().any(|c| c.starts_with("apply create a ")), "no service starts without its gateway: {calls:#?}");
    let mut unready = book.unready().unwrap();
    unready.sort();
    assert_eq!(unready, ["a", "b", "c"]);
}

#[tokio::test]
async fn a_plan_that_found_nothing_to_do_without_the_lock_is_not_applied_after_the_platform_changed() {
    let (_dir, desired, book) = setup(THREE);
    let fake = Fake::new(Arc::default());
    let e = Session { provider: &fake, book: &book, reporter: &Silent }.up(&desired, false, false, &|_| {}).await.unwrap_err();
    assert!(e.to_string().contains("another deploy is running"), "{e}");
    assert!(!fake.calls().iter().any(|c| c.starts_with("apply")), "nothing applied");
}

#[tokio::test]
async fn the_conformance_suite_passes_against_the_fake() {
    let mine = format!("component: storefront\n{THREE}");
    let (dir, desired, book) = setup(&mine);
    let platform: Arc<Mutex<Platform>> = Arc::default();
    let fake = Fake::new(platform.clone());
    conformance::deploys_then_plans_nothing(&fake, &desired, &book).await.unwrap();
    let changed = conformance::desired_from_yaml(&mine.replace("expose: 3002", "expose: 3012"), "local", dir.path()).unwrap();
    conformance::changes_only_what_changed(&fake, &changed, "b", &book).await.unwrap();
    conformance::status_lists_each_service(&fake, &changed).await.unwrap();
    // A careless second repository: same project, same service names, another component.
    let theirs = conformance::desired_from_yaml(&format!("component: billing\n{THREE}"), "local", dir.path()).unwrap();
    let their_book = conformance::book(&theirs, "fake", &dir.path().join("billing"));
    let second = Fake::new(platform.clone());
    conformance::refuses_another_components_services(&second, &changed, &theirs, &their_book).await.unwrap();
    conformance::destroy_removes_the_component(&fake, &changed, &book).await.unwrap();
}

#[tokio::test]
async fn a_provider_without_its_own_guard_fails_the_conformance_suite() {
    // The suite must be able to fail: a provider that replaces whatever has the name (the
    // fake with its guard switched off) is caught, though the plan refuses first.
    let mine = format!("component: storefront\n{THREE}");
    let (dir, desired, book) = setup(&mine);
    let platform: Arc<Mutex<Platform>> = Arc::default();
    let fake = Fake::new(platform.clone());
    conformance::deploys_then_plans_nothing(&fake, &desired, &book).await.unwrap();
    let theirs = conformance::desired_from_yaml(&format!("component: billing\n{THREE}"), "local", dir.path()).unwrap();
    let mut careless = Fake::new(platform.clone());
    careless.unguarded = true;
    let e = conformance::refuses_another_components_services(
        &careless,
        &desired,
        &theirs,
        &conformance::book(&theirs, "fake", &dir.path().join("b")),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("was carried out for component `billing`"), "{e}");
}

#[tokio::test]
async fn a_provider_that_removes_anything_of_the_name_fails_the_conformance_suite() {
    // The suite must be able to fail: a platform whose service was taken over by another
    // component between two checks is reported.
    let (_dir, desired, book) = setup(THREE);
    let platform: Arc<Mutex<Platform>> = Arc::default();
    let fake = Fake::new(platform.clone());
    conformance::deploys_then_plans_nothing(&fake, &desired, &book).await.unwrap();
    platform.lock().unwrap().services.values_mut().for_each(|s| s.config_hash = "tampered".into());
    let e = conformance::status_lists_each_service(&fake, &desired).await.unwrap_err();
    assert!(e.to_string().contains("up to date"), "{e}");
}
