//! Open documents: their text (a rope, for cheap incremental edits) and their latest analysis.
//!
//! Ordering: the server loop runs with a concurrency of one (see `lib.rs`), so `didChange`
//! notifications are applied in the order the client sent them. Analysis runs off the loop
//! and may finish out of order; `set_snapshot` keeps only the newest.

use nanokit_core::symbols::{self, Occurrence};
use nanokit_core::{analyze, Analysis, AnalyzeOptions};
use ropey::Rope;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tower_lsp_server::ls_types::{Position, TextDocumentContentChangeEvent, Uri};

/// One analysed version of a document. Immutable, shared with request handlers.
#[derive(Debug)]
pub struct Snapshot {
    pub version: i32,
    pub analysis: Analysis,
    pub occurrences: Vec<Occurrence>,
    pub base_dir: Option<PathBuf>,
    /// What `${VAR}` and `env:` secrets read for this file (the editor's environment, .env).
    pub variables: nanokit_core::variables::Variables,
}

impl Snapshot {
    pub fn text(&self) -> &str {
        &self.analysis.document.text
    }
}

#[derive(Debug)]
struct Open {
    rope: Rope,
    version: i32,
    latest: Option<Arc<Snapshot>>,
    /// The newest snapshot whose YAML parsed: completion and hover fall back to it mid-edit.
    last_good: Option<Arc<Snapshot>>,
}

/// The analysis was older than the one stored (or the document was closed): not stored.
#[derive(Debug)]
pub struct Stale;

/// Snapshots replaced by a newer one. Dropping this frees them: do it once the diagnostics
/// are on their way (see `analyzer`).
#[must_use]
pub struct Displaced(#[allow(dead_code)] Vec<Arc<Snapshot>>);

#[derive(Debug, Default, Clone)]
pub struct Store {
    inner: Arc<Mutex<HashMap<Uri, Open>>>,
}

impl Store {
    pub fn open(&self, uri: Uri, text: &str, version: i32) {
        let open = Open { rope: Rope::from_str(text), version, latest: None, last_good: None };
        self.lock().insert(uri, open);
    }

    pub fn close(&self, uri: &Uri) {
        self.lock().remove(uri);
    }

    /// Apply one `didChange`. Returns the new text and version to analyse.
    pub fn change(&self, uri: &Uri, version: i32, changes: Vec<TextDocumentContentChangeEvent>) -> Option<(String, i32)> {
        let mut docs = self.lock();
        let doc = docs.get_mut(uri)?;
        for change in changes {
            apply(&mut doc.rope, change);
        }
        // Versions only increase, but need not be consecutive (Neovim sends changedtick).
        doc.version = doc.version.max(version);
        Some((doc.rope.to_string(), doc.version))
    }

    pub fn version(&self, uri: &Uri) -> Option<i32> {
        self.lock().get(uri).map(|d| d.version)
    }

    pub fn text(&self, uri: &Uri) -> Option<(String, i32)> {
        self.lock().get(uri).map(|d| (d.rope.to_string(), d.version))
    }

    /// Store an analysis unless a newer version was analysed meanwhile. `Ok` carries the
    /// snapshots it displaced: freeing a large document's analysis takes a sixth of the time of
    /// making it, so the caller frees them after publishing, not on the path to the editor.
    pub fn set_snapshot(&self, uri: &Uri, snapshot: Arc<Snapshot>) -> Result<Displaced, Stale> {
        let mut docs = self.lock();
        let Some(doc) = docs.get_mut(uri) else { return Err(Stale) };
        if doc.latest.as_ref().is_some_and(|l| l.version > snapshot.version) || snapshot.version < doc.version {
            return Err(Stale);
        }
        let mut displaced = Displaced(Vec::with_capacity(2));
        if snapshot.analysis.document.root().is_some() {
            displaced.0.extend(doc.last_good.replace(snapshot.clone()));
        }
        displaced.0.extend(doc.latest.replace(snapshot));
        Ok(displaced)
    }

    pub fn snapshot(&self, uri: &Uri) -> Option<Arc<Snapshot>> {
        self.lock().get(uri).and_then(|d| d.latest.clone())
    }

    pub fn last_good(&self, uri: &Uri) -> Option<Arc<Snapshot>> {
        self.lock().get(uri).and_then(|d| d.last_good.clone())
    }

    pub fn snapshots(&self) -> Vec<(Uri, Arc<Snapshot>)> {
        self.lock().iter().filter_map(|(u, d)| d.latest.clone().map(|s| (u.clone(), s))).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uri, Open>> {
        // A panic while holding the lock must not take the server down with it.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Analyze one document as the editor sees it: the core analysis, plus what the server keeps
/// beside it (symbol occurrences, the variables read).
pub fn snapshot(text: String, version: i32, base_dir: Option<PathBuf>, env: Option<String>) -> Snapshot {
    let options = AnalyzeOptions {
        base_dir: base_dir.clone(),
        env: env.clone(),
        // The opt-in is read from the editor's environment, as nkdev reads it from the shell's.
        allow_outside_paths: nanokit_core::check::allows_outside_paths(
            std::env::var_os(nanokit_core::check::ALLOW_OUTSIDE_PATHS_VAR).as_deref(),
        ),
        // `${VAR}` reads the editor's environment and the .env files, as nkdev reads the shell's.
        variables: Some(nanokit_core::variables::Variables::load(base_dir.as_deref(), env.as_deref())),
        ..AnalyzeOptions::default()
    };
    let analysis = analyze(text, &options);
    let occurrences = symbols::occurrences(&analysis.document);
    Snapshot { version, analysis, occurrences, base_dir, variables: options.variables.unwrap_or_default() }
}

/// LSP positions count UTF-16 units; the rope counts chars.
fn char_index(rope: &Rope, pos: Position) -> usize {
    // Past the last line is the end of the text, as in the core's LineIndex (found by fuzzing:
    // clamping to the last line's start made a "delete to the end" edit delete nothing).
    if pos.line as usize >= rope.len_lines() {
        return rope.len_chars();
    }
    let line = pos.line as usize;
    let line_start = rope.line_to_char(line);
    // The line's length without its line break: positions past the end clamp before it.
    let line_slice = rope.line(line);
    let mut line_len = line_slice.len_chars();
    if line_len > 0 && line_slice.char(line_len - 1) == '\n' {
        line_len -= 1;
        if line_len > 0 && line_slice.char(line_len - 1) == '\r' {
            line_len -= 1;
        }
    }
    let line_utf16_start = rope.char_to_utf16_cu(line_start);
    let target = (line_utf16_start + pos.character as usize).min(rope.char_to_utf16_cu(line_start + line_len));
    rope.utf16_cu_to_char(target).clamp(line_start, line_start + line_len)
}

fn apply(rope: &mut Rope, change: TextDocumentContentChangeEvent) {
    match change.range {
        None => *rope = Rope::from_str(&change.text),
        Some(range) => {
            let start = char_index(rope, range.start);
            let end = char_index(rope, range.end).max(start);
            rope.remove(start..end);
            rope.insert(start, &change.text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::Range;

    fn edit(l1: u32, c1: u32, l2: u32, c2: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(l1, c1), Position::new(l2, c2))),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn incremental_edits_apply_in_order() {
        let store = Store::default();
        let uri: Uri = "file:///x/nanokit.yml".parse().unwrap();
        store.open(uri.clone(), "name: ab\n", 1);
        store.change(&uri, 2, vec![edit(0, 8, 0, 8, "c")]).unwrap();
        let (text, version) = store.change(&uri, 7, vec![edit(0, 9, 0, 9, "d"), edit(0, 6, 0, 7, "A")]).unwrap();
        assert_eq!((text.as_str(), version), ("name: Abcd\n", 7));
    }

    /// Cases cargo-fuzz found where the store and the core's LineIndex disagreed.
    #[test]
    fn positions_past_the_end_inside_a_surrogate_or_with_a_lone_cr_agree_with_the_core() {
        let store = Store::default();
        let uri: Uri = "file:///x/nanokit.yml".parse().unwrap();
        store.open(uri.clone(), "name: demo\nx: 1\n", 1);
        let (text, _) = store.change(&uri, 2, vec![edit(0, 4, 9, 0, "")]).unwrap();
        assert_eq!(text, "name", "a line past the end is the end of the text");
        store.open(uri.clone(), "a\r", 1);
        assert_eq!(store.change(&uri, 2, vec![edit(0, 9, 0, 9, "b")]).unwrap().0, "a\rb");
        store.open(uri.clone(), "x: \"😀\"\n", 1);
        assert_eq!(store.change(&uri, 2, vec![edit(0, 5, 0, 5, "!")]).unwrap().0, "x: \"!😀\"\n");
        // The same positions through convert::offset: its own tests.
    }

    #[test]
    fn utf16_positions_with_astral_characters() {
        let store = Store::default();
        let uri: Uri = "file:///x/nanokit.yml".parse().unwrap();
        store.open(uri.clone(), "a: 😀b\n", 1);
        // 😀 is two UTF-16 units: column 5 is just before `b`
        let (text, _) = store.change(&uri, 2, vec![edit(0, 5, 0, 6, "c")]).unwrap();
        assert_eq!(text, "a: 😀c\n");
        // positions past the end of a line clamp to it
        let (text, _) = store.change(&uri, 3, vec![edit(0, 99, 0, 99, "!")]).unwrap();
        assert_eq!(text, "a: 😀c!\n");
    }
}
