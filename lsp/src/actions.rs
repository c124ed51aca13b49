//! Code actions: the quick fixes core attaches to its diagnostics, in the server's own terms.

use crate::documents::Snapshot;
use nanokit_core::diagnostic::{Diagnostic, Edit};

/// One quick fix of a diagnostic in the range asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct QuickFix<'a> {
    pub diagnostic: &'a Diagnostic,
    pub title: String,
    pub edits: Vec<Edit>,
    /// The one an editor may apply on its own ("fix all", "auto fix"): only a safe fix.
    pub preferred: bool,
}

/// The fixes of every diagnostic that touches `start..end` (byte offsets).
pub fn quick_fixes(snapshot: &Snapshot, start: usize, end: usize) -> Vec<QuickFix<'_>> {
    let mut out = Vec::new();
    for d in &snapshot.analysis.diagnostics {
        if d.span.end < start || d.span.start > end {
            continue;
        }
        // The rule's document says whether its fixes may be applied without review; only a
        // safe one is preferred (the one an editor applies on "auto fix").
        let safe = d.code.fix_is_safe() == Some(true);
        for (i, fix) in d.fixes.iter().enumerate() {
            out.push(QuickFix {
                diagnostic: d,
                title: if safe { fix.title.clone() } else { format!("{} (unsafe fix: review the result)", fix.title) },
                edits: fix.edits.clone(),
                preferred: i == 0 && safe,
            });
        }
    }
    out
}
