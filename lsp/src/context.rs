//! Where the cursor is, read from the raw text by indentation, so completion works while the
//! file is mid-edit and does not parse.

/// What the cursor is about to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A key in the mapping at `path`.
    Key,
    /// The value of `key` (in the mapping at `path`).
    Value { key: String },
    /// An item of the list under `key`, block (`- x`) or flow (`[a, x]`) style.
    ListItem { key: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorContext {
    /// Keys from the root to the mapping that holds the cursor; list items appear as "0".
    pub path: Vec<String>,
    pub slot: Slot,
    /// What is typed so far of the word at the cursor.
    pub prefix: String,
    /// Byte offset where `prefix` starts: completions replace from there to the cursor.
    pub prefix_start: usize,
    /// Column of the mapping the cursor writes into (for multi-line insert texts).
    pub indent: usize,
}

impl CursorContext {
    /// JSON pointer of the mapping holding the cursor, e.g. `/services/api`.
    pub fn pointer(&self) -> String {
        let parts: Vec<&str> = self.path.iter().map(String::as_str).collect();
        nanokit_core::document::pointer(&parts)
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `key:` or `key: # comment` or `key: &anchor` — a line that opens a nested block.
fn opening_key(content: &str) -> Option<&str> {
    let (key, rest) = content.split_once(':')?;
    let rest = rest.trim();
    let opens = rest.is_empty() || rest.starts_with('#') || rest.starts_with('&') || rest == "|" || rest == ">";
    (opens && !key.is_empty()).then(|| key.trim().trim_matches(['"', '\'']))
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

pub fn at(text: &str, offset: usize) -> CursorContext {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let indent = indent_of(before);
    let content = &before[indent..];

    let word_start = content.rfind(|c: char| c.is_whitespace() || matches!(c, '[' | ',' | '{' | '"' | '\'' | '$')).map_or(0, |i| i + 1);
    let prefix = content[word_start..].to_string();
    let prefix_start = line_start + indent + word_start;

    let (slot, own_indent, item_line) = if let Some(item) = content.strip_prefix("- ").or_else(|| (content == "-").then_some("")) {
        match item.split_once(':') {
            // `- key: value` inside a list of mappings: the item is a mapping
            Some((key, _)) => (Slot::Value { key: key.trim().to_string() }, indent + 2, true),
            None if item.contains(' ') => (Slot::Key, indent + 2, true),
            None => (Slot::ListItem { key: String::new() }, indent, false),
        }
    } else if let Some((key, value)) = content.split_once(':') {
        let key = key.trim().trim_matches(['"', '\'']).to_string();
        if value.trim_start().starts_with('[') {
            (Slot::ListItem { key }, indent, false)
        } else {
            (Slot::Value { key }, indent, false)
        }
    } else {
        (Slot::Key, indent, false)
    };

    let mut path: Vec<String> = Vec::new();
    let mut current = own_indent;
    if item_line {
        path.push("0".into());
        current = indent;
    }
    let mut list_key_pending = matches!(&slot, Slot::ListItem { key } if key.is_empty());
    let mut list_key = String::new();
    for line in text[..line_start].lines().rev() {
        if is_blank_or_comment(line) {
            continue;
        }
        let i = indent_of(line);
        let c = line[i..].trim_end();
        if list_key_pending {
            // the list's key is the first opening key at or left of the dash
            if c.starts_with('-') && i == current {
                continue;
            }
            if i <= current {
                if let Some(k) = opening_key(c) {
                    list_key = k.to_string();
                    list_key_pending = false;
                    current = i;
                    continue;
                }
                break;
            }
            continue;
        }
        if i < current {
            if let Some(item) = c.strip_prefix("- ") {
                // `- key:` opens a block inside a list item (the path is built innermost first)
                if let Some(k) = opening_key(item) {
                    path.push(k.to_string());
                }
                path.push("0".into());
                current = i;
                continue;
            }
            match opening_key(c) {
                Some(k) => {
                    path.push(k.to_string());
                    current = i;
                    if i == 0 {
                        break;
                    }
                }
                None => break,
            }
        }
    }
    path.reverse();
    let slot = match slot {
        Slot::ListItem { key } if key.is_empty() => Slot::ListItem { key: list_key },
        other => other,
    };
    CursorContext { path, slot, prefix, prefix_start, indent: own_indent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(text_with_cursor: &str) -> CursorContext {
        let offset = text_with_cursor.find('|').unwrap();
        let text = text_with_cursor.replacen('|', "", 1);
        at(&text, offset)
    }

    #[test]
    fn key_in_a_service() {
        let c = ctx("name: x\nservices:\n  api:\n    image: y\n    ex|\n");
        assert_eq!(c.path, vec!["services", "api"]);
        assert_eq!(c.slot, Slot::Key);
        assert_eq!(c.prefix, "ex");
    }

    #[test]
    fn value_of_provider_in_broken_file() {
        let c = ctx("name: x\nservices: [\nenvironments:\n  local:\n    infra:\n      provider: do|");
        assert_eq!(c.path, vec!["environments", "local", "infra"]);
        assert_eq!(c.slot, Slot::Value { key: "provider".into() });
        assert_eq!(c.prefix, "do");
    }

    #[test]
    fn depends_on_block_and_flow_items() {
        let c = ctx("services:\n  api:\n    depends_on:\n      - auth\n      - b|\n");
        assert_eq!(c.path, vec!["services", "api"]);
        assert_eq!(c.slot, Slot::ListItem { key: "depends_on".into() });
        assert_eq!(c.prefix, "b");
        let c = ctx("services:\n  api:\n    depends_on: [auth, |]\n");
        assert_eq!(c.slot, Slot::ListItem { key: "depends_on".into() });
        assert_eq!(c.prefix, "");
        let c = ctx("services:\n  api:\n    depends_on:\n    - |\n");
        assert_eq!(c.slot, Slot::ListItem { key: "depends_on".into() });
        assert_eq!(c.path, vec!["services", "api"]);
    }

    #[test]
    fn blank_line_takes_the_cursor_column() {
        let c = ctx("name: x\nenvironments:\n  prod:\n    infra:\n      provider: aws\n    |\n");
        assert_eq!(c.path, vec!["environments", "prod"]);
        assert_eq!(c.slot, Slot::Key);
        let c = ctx("name: x\n|");
        assert!(c.path.is_empty());
    }

    #[test]
    fn keys_inside_a_list_of_mappings() {
        let c = ctx("environments:\n  prod:\n    infra:\n      instances:\n        - type: t3\n          co|\n");
        assert_eq!(c.path, vec!["environments", "prod", "infra", "instances", "0"]);
        assert_eq!(c.slot, Slot::Key);
    }

    #[test]
    fn env_value_with_url_variable() {
        let c = ctx("services:\n  api:\n    env:\n      UPSTREAM: http://${NANOKIT_URL_|");
        assert_eq!(c.path, vec!["services", "api", "env"]);
        assert_eq!(c.slot, Slot::Value { key: "UPSTREAM".into() });
        assert_eq!(c.prefix, "NANOKIT_URL_");
    }

    #[test]
    fn non_ascii_before_the_cursor() {
        let c = ctx("name: x\nservices:\n  api:\n    env:\n      GRÜSSE: hé\n    im|");
        assert_eq!(c.path, vec!["services", "api"]);
        assert_eq!(c.prefix, "im");
    }
}
