//! SIGINT, SIGTERM and SIGHUP stop a deploy under way: the lock is released, the services
//! not yet seen ready are recorded, and the error names the signal. (Its own test binary:
//! the signal goes to the whole process.)

use nanokit_deploy::fake::{Fake, Faults};
use nanokit_deploy::interrupt::Signals;
use nanokit_deploy::provider::Silent;
use nanokit_deploy::{conformance, session};
use std::sync::Arc;

#[tokio::test]
async fn a_signal_mid_deploy_releases_the_lock_and_records_what_is_unready() {
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("NANOKIT_HOME", home.path());
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: shop\nservices:\n  a:\n    image: x\n  b:\n    image: x\n    depends_on: [a]\n";
    let desired = conformance::desired_from_yaml(yaml, "local", dir.path()).unwrap();
    let book = conformance::book(&desired, "fake", dir.path());
    let mut fake = Fake::new(Arc::default());
    fake.faults = Faults { hang_apply: Some("create a ".into()), ..Faults::default() };
    let mut signals = Signals::install().unwrap();
    let held = session::lock(&fake, &desired, "nkdev up").await.unwrap();
    let lock_file = home.path().join("clusters/fake_shop_local/lock");
    assert!(lock_file.exists(), "a provider without a lock of its own gets the lock file");
    let pid = std::process::id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    });
    let s = session::Session { provider: &fake, book: &book, reporter: &Silent };
    let e = session::interruptible(&mut signals, &book, "nkdev up", s.up(&desired, false, true, &|_| {})).await.unwrap_err();
    held.release().await;
    let text = e.to_string();
    assert!(text.contains("interrupted by SIGINT") && text.contains("recorded to be retried: a, b"), "{text}");
    assert!(!lock_file.exists(), "the lock is released");
    assert!(!fake.calls().iter().any(|c| c.starts_with("apply create b ")), "nothing after the signal");
}
