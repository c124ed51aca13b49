//! Byte spans and the line index that turns them into line/column positions.
//!
//! Everything in core speaks byte offsets into the UTF-8 source. Front ends convert:
//! the CLI wants 1-based line and character columns, the LSP wants 0-based UTF-16 units.

use serde::Serialize;

/// A half-open byte range `[start, end)` into the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    pub fn contains(&self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    pub fn cover(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A zero-based line and a zero-based column counted in the unit the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

/// Precomputed line starts for one text: offset ↔ position conversions in O(log lines).
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts, len: text.len() }
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line).copied().unwrap_or(self.len)
    }

    /// Byte offset where `line` ends, excluding its `\n` (and a `\r` before it: a lone `\r`
    /// at the very end is text, as the LSP document store sees it).
    pub fn line_end(&self, text: &str, line: usize) -> usize {
        let ends_with_newline = line + 1 < self.line_starts.len();
        let next = self.line_starts.get(line + 1).copied().unwrap_or(self.len + 1);
        let mut end = next.saturating_sub(1).min(self.len);
        if ends_with_newline && end > self.line_start(line) && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        end
    }

    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset.min(self.len)) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// Zero-based line and column in Unicode scalar values (what humans and rustc count).
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = clamp_to_char_boundary(text, offset);
        let line = self.line_of(offset);
        let col = text[self.line_start(line)..offset].chars().count();
        LineCol { line, col }
    }

    /// Zero-based line and column in UTF-16 code units (what LSP clients count by default).
    pub fn line_col_utf16(&self, text: &str, offset: usize) -> LineCol {
        let offset = clamp_to_char_boundary(text, offset);
        let line = self.line_of(offset);
        let col = text[self.line_start(line)..offset].encode_utf16().count();
        LineCol { line, col }
    }

    /// Inverse of [`LineIndex::line_col_utf16`]; positions past the end of a line clamp to it.
    pub fn offset_utf16(&self, text: &str, pos: LineCol) -> usize {
        if pos.line >= self.line_count() {
            return self.len;
        }
        let start = self.line_start(pos.line);
        let end = self.line_end(text, pos.line);
        // A column inside a surrogate pair means the character that holds it (as ropey reads it).
        let mut units = 0;
        for (i, ch) in text[start..end].char_indices() {
            units += ch.len_utf16();
            if pos.col < units {
                return start + i;
            }
        }
        end
    }
}

fn clamp_to_char_boundary(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The span of the whole lines covering `span`, newline included: what a "remove this" fix deletes.
pub fn line_removal_span(text: &str, span: Span) -> Span {
    let start = text[..span.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.end.min(text.len())..].find('\n').map_or(text.len(), |i| span.end + i + 1);
    Span::new(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_round_trip_with_astral_characters() {
        let text = "a: 😀x\nbé: y\r\nc";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap();
        let pos = idx.line_col_utf16(text, x);
        assert_eq!(pos, LineCol { line: 0, col: 5 });
        assert_eq!(idx.offset_utf16(text, pos), x);
        assert_eq!(idx.line_col(text, x), LineCol { line: 0, col: 4 });
        let y = text.find('y').unwrap();
        assert_eq!(idx.line_col_utf16(text, y), LineCol { line: 1, col: 4 });
        assert_eq!(idx.line_end(text, 1), y + 1, "CR is not part of the line");
        assert_eq!(idx.offset_utf16(text, LineCol { line: 9, col: 0 }), text.len());
    }
}
