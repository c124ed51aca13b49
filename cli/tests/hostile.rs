//! Hostile inputs: each must end in a clear error naming file, line and column, under a memory
//! ceiling, never in a panic, a hang or an out-of-memory kill.
//!
//! The ceiling is an address-space limit set with `ulimit -v` in the shell that execs the real
//! binary, so an input that makes nkdev allocate without bound fails the test by aborting it.
//! The timeout is a hang guard for a runaway parser, generous enough for a debug build on a
//! busy CI machine; how fast these inputs are handled is measured by scripts/bench, not here.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// 1 GiB of address space: far above what validating any of these needs (a 4 MiB file takes
/// tens of MiB), far below what an unbounded expansion of them would take.
const ADDRESS_SPACE_KIB: u64 = 1024 * 1024;
const HANG_GUARD: Duration = Duration::from_secs(120);

fn validate(file: &Path) -> Output {
    let script = format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" validate -f \"$1\"");
    let mut cmd = assert_cmd::Command::new("sh");
    cmd.args(["-c", &script]).arg(assert_cmd::cargo::cargo_bin("nkdev")).arg(file).env("NO_COLOR", "1").timeout(HANG_GUARD);
    cmd.output().unwrap()
}

struct Case {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn case(bytes: &[u8]) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nanokit.yml");
    std::fs::write(&path, bytes).unwrap();
    Case { _dir: dir, path }
}

/// Runs nkdev on `bytes` and returns its whole output, after asserting it exited with `code`
/// (not by a signal, not by a panic).
fn run(bytes: &[u8], code: i32) -> (Case, String) {
    let c = case(bytes);
    let out = validate(&c.path);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "exit status {:?}; output:\n{}", out.status, head(&text));
    assert!(!text.contains("panicked"), "panic:\n{}", head(&text));
    (c, text)
}

fn head(text: &str) -> String {
    text.chars().take(2000).collect()
}

/// The output names the file with a line and column, as `path:line:col`.
fn assert_located(c: &Case, text: &str, line: usize, col: usize) {
    let at = format!("{}:{line}:{col}", c.path.display());
    assert!(text.contains(&at), "expected `{at}` in:\n{}", head(text));
}

fn services(n: usize) -> String {
    let mut text = String::from("name: big\nservices:\n");
    for i in 0..n {
        text.push_str(&format!("  svc{i}:\n    image: registry.example.com/team/svc{i}:1.0\n    expose: 8080\n"));
    }
    text
}

#[test]
fn deep_flow_nesting_is_refused_at_the_limit() {
    let (c, text) = run(format!("name: x\nservices: {}", "[".repeat(200_000)).as_bytes(), 1);
    assert!(text.contains("NK010") && text.contains("nesting"), "{}", head(&text));
    assert!(text.contains(&format!("{}:2:", c.path.display())), "{}", head(&text));
}

#[test]
fn deep_block_nesting_is_refused_at_the_limit() {
    let mut yaml = String::from("name: x\nservices:\n");
    for depth in 1..2_000 {
        yaml.push_str(&format!("{}k{depth}:\n", " ".repeat(depth)));
    }
    let (c, text) = run(yaml.as_bytes(), 1);
    assert!(text.contains("NK010"), "{}", head(&text));
    assert!(text.contains(&format!("{}:", c.path.display())));
}

#[test]
fn alias_bomb_is_refused_without_expanding_it() {
    // Nine levels of ten aliases each would expand to 10^9 strings.
    let mut yaml = String::from("name: x\nx-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        yaml.push_str(&format!("x-a{i}: &a{i} [{}]\n", [p.as_str(); 10].join(", ")));
    }
    yaml.push_str("services:\n  api:\n    image: x\n    env:\n      BOMB: *a9\n");
    let (c, text) = run(yaml.as_bytes(), 1);
    assert!(text.contains("NK010") && text.contains("alias"), "{}", head(&text));
    assert!(text.contains(&format!("{}:", c.path.display())));
}

#[test]
fn ten_megabyte_file_is_refused_where_the_limit_falls() {
    let yaml = services(140_000);
    assert!(yaml.len() > 10_000_000);
    let (c, text) = run(yaml.as_bytes(), 1);
    assert!(text.contains("NK011") && text.contains("4 MiB"), "{}", head(&text));
    let limit = nanokit_core::yaml::MAX_SOURCE_BYTES;
    let line = yaml[..limit].matches('\n').count() + 1;
    let col = limit - yaml[..limit].rfind('\n').map_or(0, |i| i + 1) + 1;
    assert_located(&c, &text, line, col);
}

#[test]
fn ten_megabyte_single_line_is_refused() {
    let yaml = format!("name: x\ndescription: \"{}\"\n", "a".repeat(10 * 1024 * 1024));
    let (c, text) = run(yaml.as_bytes(), 1);
    assert!(text.contains("NK011"), "{}", head(&text));
    assert_located(&c, &text, 2, nanokit_core::yaml::MAX_SOURCE_BYTES - 8 + 1);
    // The snippet under the error must not echo megabytes of that line back.
    assert!(text.len() < 20_000, "{} bytes of output", text.len());
}

#[test]
fn a_file_just_under_the_limit_is_analysed_in_full() {
    let mut n = 30_000;
    while services(n + 1_000).len() < nanokit_core::yaml::MAX_SOURCE_BYTES {
        n += 1_000;
    }
    let (_c, text) = run(services(n).as_bytes(), 0);
    assert!(!text.contains("error"), "{}", head(&text));
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let (c, text) = run(b"name: x\nservices:\n  api:\n    image: caf\xe9\n", 1);
    assert!(text.contains("not valid UTF-8") && text.contains("0xe9"), "{}", head(&text));
    assert_located(&c, &text, 4, 15);
}

#[test]
fn crlf_line_endings_are_valid_and_positions_ignore_the_cr() {
    run(b"name: x\r\nservices:\r\n  api:\r\n    image: x\r\n", 0);
    let (c, text) = run(b"name: x\r\nservices:\r\n  api:\r\n    imag: x\r\n", 1);
    assert!(text.contains("NK002"), "{}", head(&text));
    assert_located(&c, &text, 4, 5);
}

#[test]
fn tab_indentation_is_a_syntax_error_that_says_tabs() {
    let (c, text) = run(b"name: x\nservices:\n\tapi:\n\t\timage: x\n", 1);
    assert!(text.contains("NK001") && text.contains("tab"), "{}", head(&text));
    assert_located(&c, &text, 3, 1);
}

#[test]
fn nul_byte_is_a_syntax_error_at_its_position() {
    let (c, text) = run(b"name: x\nservices:\n  api:\n    image: a\x00b\n", 1);
    assert!(text.contains("NK001"), "{}", head(&text));
    assert!(text.contains(&format!("{}:4:", c.path.display())), "{}", head(&text));
}

#[test]
fn many_documents_are_refused_at_the_second() {
    let (c, text) = run("name: x\n---\n".repeat(100_000).as_bytes(), 1);
    assert!(text.contains("NK001"), "{}", head(&text));
    assert_located(&c, &text, 2, 1);
}

#[test]
fn binary_garbage_is_refused_as_not_utf8() {
    let bytes: Vec<u8> = (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (c, text) = run(&bytes, 1);
    assert!(text.contains("not valid UTF-8"), "{}", head(&text));
    assert!(text.contains(&format!("{}:1:", c.path.display())), "{}", head(&text));
}
