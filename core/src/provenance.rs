//! What an interpolated value read: the text as written and each variable with where its
//! value came from. Kept by the [`crate::document::Document`] (filled by
//! [`crate::interpolate::apply`]) for `nkdev config --explain` and hover.

use crate::variables::VarSource;
use std::ops::Range;

/// One variable a value read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarUse {
    pub name: String,
    /// Byte range of the whole `${…}` in the template.
    pub range: Range<usize>,
    /// Where the value came from; `None` when the variable is unset (a default or "" was used).
    pub source: Option<VarSource>,
}

/// What one string value of the file read, kept for provenance (`config --explain`, hover).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolation {
    /// The value as written in the file.
    pub template: String,
    pub uses: Vec<VarUse>,
}

impl Interpolation {
    /// "from $DB_HOST (.env line 3)", for explanations.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .uses
            .iter()
            .map(|u| match &u.source {
                Some(source) => format!("${} ({source})", u.name),
                None => format!("${} (unset)", u.name),
            })
            .collect();
        format!("from {}", parts.join(", "))
    }
}
