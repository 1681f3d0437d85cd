//! A unified diff of two profile texts (`--- a/FILE`, `+++ b/FILE`, `@@` hunks with three
//! lines of context), as `diff -u` and `git diff` print it.

/// The unified diff turning `old` into `new`, with `a/PATH` and `b/PATH` headers; empty when
/// the texts are equal. A last line without newline is marked `\ No newline at end of file`.
pub fn unified_diff(old: &str, new: &str, path: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// Applies a unified diff made by [`unified_diff`] to `old` (test helper: proves a diff
/// really turns the old text into the new one). `None` when a hunk does not match.
#[cfg(test)]
pub(crate) fn apply(old: &str, diff: &str) -> Option<String> {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut at = 0usize; // next old line to copy
    let mut last: Option<char> = None;
    for line in diff.split_inclusive('\n').skip(2) {
        if let Some(h) = line.strip_prefix("@@ -") {
            let start: usize = h.split([',', ' ']).next()?.parse().ok()?;
            let start = start.saturating_sub(1);
            while at < start {
                out.push_str(old_lines.get(at)?);
                at += 1;
            }
            continue;
        }
        if line.starts_with('\\') {
            // The previous line had no newline.
            if last != Some('-') && out.ends_with('\n') {
                out.pop();
            }
            continue;
        }
        let (tag, text) = line.split_at(1);
        match tag {
            " " | "-" => {
                let o = old_lines.get(at)?;
                if o.trim_end_matches('\n') != text.trim_end_matches('\n') {
                    return None;
                }
                if tag == " " {
                    out.push_str(o);
                }
                at += 1;
            }
            "+" => out.push_str(text),
            _ => return None,
        }
        last = tag.chars().next();
    }
    while at < old_lines.len() {
        out.push_str(old_lines[at]);
        at += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_give_nothing() {
        assert_eq!(unified_diff("a\nb\n", "a\nb\n", "p.json"), "");
    }

    #[test]
    fn hunks_with_three_lines_of_context() {
        let old: String = (1..=20).map(|i| format!("line{i}\n")).collect();
        let new = old
            .replace("line10\n", "line10\nadded\n")
            .replace("line2\n", "");
        let d = unified_diff(&old, &new, "dir/p.json");
        let expected = "\
--- a/dir/p.json
+++ b/dir/p.json
@@ -1,5 +1,4 @@
 line1
-line2
 line3
 line4
 line5
@@ -8,6 +7,7 @@
 line8
 line9
 line10
+added
 line11
 line12
 line13
";
        assert_eq!(d, expected);
    }

    #[test]
    fn missing_final_newline_is_marked() {
        let d = unified_diff("a\nb", "a\nc", "x");
        assert!(
            d.contains("-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"),
            "{d}"
        );
    }

    /// The diff applies: rebuilding the new text from the old one and the hunks.
    #[test]
    fn diff_applies() {
        let old = "{\n  \"a\": [\n    \"x\",\n    \"y\"\n  ]\n}\n";
        let new = "{\n  \"a\": [\n    \"x\",\n    \"y\",\n    \"z\"\n  ]\n}\n";
        let d = unified_diff(old, new, "f");
        let minus: Vec<&str> = d
            .lines()
            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
            .collect();
        let plus: Vec<&str> = d
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .collect();
        assert_eq!(minus, ["-    \"y\""]);
        assert_eq!(plus, ["+    \"y\",", "+    \"z\""]);
        assert_eq!(apply(old, &d).as_deref(), Some(new));
        let old: String = (0..50).map(|i| format!("l{i}\n")).collect();
        let new = old
            .replace("l3\n", "x\n")
            .replace("l40\n", "")
            .replace("l49\n", "l49");
        assert_eq!(
            apply(&old, &unified_diff(&old, &new, "f")).as_deref(),
            Some(&*new)
        );
    }
}
