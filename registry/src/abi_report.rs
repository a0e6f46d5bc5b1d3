//! One sentence from abi_stable's layout report.
//!
//! When a library's types do not match this agon's, abi_stable explains it
//! in a report of hundreds of lines (`AGON_LOG_ABI_REPORT=1 agon plugins
//! verify FILE` prints it). After a header comparing the two root modules,
//! the report holds one block per type it compared:
//!
//! ```text
//! 2 error(s)inside:
//!     <other>
//!
//!     field_name:0            ┐ the path from the root module to the type,
//!     type:AgonPlugin         │ one field (or function pointer) at a time,
//!     ...                     │ as the library has it; the last `type:` is
//!     field_name:field_0      │ the type the errors are about
//!     type:StepStats          ┘
//!
//! Layout of expected type:    this agon's layout of that type (its fields)
//! Layout of found type:       the library's
//!
//! Error:incompatible type size
//! Expected:
//!     40
//! Found:
//!     72
//! ```
//!
//! A type that differs makes every type holding it differ too (a bigger
//! `StepStats` makes the `RResult` returning it bigger), and the holder's
//! block comes first; so the summary follows the first block with errors to
//! the deepest block whose path extends it, and names that type, its first
//! field that differs, and the function pointers on the way to it.

/// One `Error:` of a block, with its `Expected:` and `Found:` values.
#[derive(Debug, Default)]
struct Difference {
    what: String,
    expected: Vec<String>,
    found: Vec<String>,
}

/// One `N error(s)` block.
#[derive(Debug, Default)]
struct Block {
    errors: usize,
    path: Vec<String>,
    expected_layout: Vec<String>,
    found_layout: Vec<String>,
    differences: Vec<Difference>,
    extra: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Path,
    ExpectedLayout,
    FoundLayout,
    Error,
    ErrorExpected,
    ErrorFound,
    Extra,
}

/// `N` of a line `N error(s)…`, and whether a path (`inside:`) follows.
fn block_header(line: &str) -> Option<(usize, bool)> {
    let (count, rest) = line.split_once(' ')?;
    let count = count.parse().ok()?;
    let rest = rest.strip_prefix("error(s)")?;
    Some((count, rest.starts_with("inside")))
}

fn parse(report: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut section = Section::Path;
    for line in report.lines().map(str::trim) {
        if let Some((errors, has_path)) = block_header(line) {
            blocks.push(Block {
                errors,
                ..Block::default()
            });
            section = if has_path {
                Section::Path
            } else {
                Section::Error
            };
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        if line.is_empty() || line == "<other>" {
            continue;
        }
        if line == "Layout of expected type:" {
            section = Section::ExpectedLayout;
        } else if line == "Layout of found type:" {
            section = Section::FoundLayout;
        } else if let Some(what) = line.strip_prefix("Error:") {
            block.differences.push(Difference {
                what: what.trim().to_string(),
                ..Difference::default()
            });
            section = Section::Error;
        } else if line == "Expected:" && section == Section::Error {
            section = Section::ErrorExpected;
        } else if line == "Found:" && section == Section::ErrorExpected {
            section = Section::ErrorFound;
        } else if line == "Extra:" {
            section = Section::Extra;
        } else {
            let line = line.to_string();
            match section {
                Section::Path => block.path.push(line),
                Section::ExpectedLayout => block.expected_layout.push(line),
                Section::FoundLayout => block.found_layout.push(line),
                Section::ErrorExpected => {
                    if let Some(d) = block.differences.last_mut() {
                        d.expected.push(line);
                    }
                }
                Section::ErrorFound => {
                    if let Some(d) = block.differences.last_mut() {
                        d.found.push(line);
                    }
                }
                Section::Extra => block.extra.push(line),
                Section::Error => {}
            }
        }
    }
    blocks
}

/// A field of a layout: name, type and size lines.
#[derive(Debug, PartialEq)]
struct Field<'a> {
    name: &'a str,
    ty: Option<&'a str>,
    size: Option<&'a str>,
}

/// The fields listed in a `--- Type Layout ---` section (the type's own
/// `type:` and `size:` lines come before the first `field_name:`).
fn fields(layout: &[String]) -> Vec<Field<'_>> {
    let mut fields: Vec<Field> = Vec::new();
    for line in layout {
        if let Some(name) = line.strip_prefix("field_name:") {
            fields.push(Field {
                name,
                ty: None,
                size: None,
            });
        } else if let Some(field) = fields.last_mut() {
            if let Some(ty) = line.strip_prefix("type:") {
                field.ty.get_or_insert(ty);
            } else if let Some(size) = line.strip_prefix("size:") {
                field.size.get_or_insert(size);
            }
        }
    }
    fields
}

/// The first field in which the found layout differs from the expected one.
fn differing_field(block: &Block) -> Option<String> {
    let expected = fields(&block.expected_layout);
    let found = fields(&block.found_layout);
    let at = (0..expected.len().max(found.len())).find(|&i| expected.get(i) != found.get(i))?;
    Some(match (expected.get(at), found.get(at)) {
        (Some(e), Some(f)) if e.name != f.name => {
            format!("field `{}` where this agon has `{}`", f.name, e.name)
        }
        (_, Some(f)) if expected.len() <= at => format!("extra field `{}`", f.name),
        (_, Some(f)) => format!("field `{}`", f.name),
        (Some(e), None) => format!("missing field `{}`", e.name),
        (None, None) => return None,
    })
}

/// The names of the function pointers on the path (root-module
/// constructors, trait methods).
fn functions_on_path(block: &Block) -> Vec<&str> {
    let mut functions = Vec::new();
    let mut name = None;
    for line in &block.path {
        if let Some(field) = line.strip_prefix("field_name:") {
            name = Some(field);
        } else if line == "type:AFunctionPointer" {
            functions.extend(name.take());
        }
    }
    functions
}

/// The type the block's errors are about: the last `type:` of its path.
fn type_of(block: &Block) -> Option<&str> {
    block
        .path
        .iter()
        .rev()
        .find_map(|line| line.strip_prefix("type:"))
}

fn summarise_block(block: &Block) -> Option<String> {
    let difference = block.differences.first();
    let what = match difference {
        Some(d) if !d.what.is_empty() => d.what.clone(),
        _ => block.extra.first()?.clone(),
    };
    let mut summary = what.clone();
    let ty = type_of(block);
    let found = difference.map(|d| d.found.join(" ")).unwrap_or_default();
    if let Some(ty) = ty.filter(|ty| *ty != found) {
        summary.push_str(&format!(" of `{ty}`"));
    }
    if let Some(field) = differing_field(block) {
        summary.push_str(&format!(" ({field})"));
    }
    if let Some(d) = difference.filter(|d| !d.expected.is_empty() || !d.found.is_empty()) {
        let unit = if what.contains("size") || what.contains("alignment") {
            " bytes"
        } else {
            ""
        };
        summary.push_str(&format!(
            ": expected {}{unit}, found {}",
            d.expected.join(" "),
            d.found.join(" ")
        ));
    }
    let functions = functions_on_path(block);
    if !functions.is_empty() {
        summary.push_str(&format!(" (used by `{}`)", functions.join("` → `")));
    }
    Some(summary)
}

/// The report's first difference before [`first_difference`] adds the
/// pointer to the full report.
fn summary(report: &str) -> String {
    let blocks = parse(report);
    let mut with_errors = blocks
        .iter()
        .filter(|b| b.errors > 0 && (!b.differences.is_empty() || !b.extra.is_empty()));
    if let Some(mut chosen) = with_errors.next() {
        // Follow the chain of holders to the type that differs itself.
        for next in with_errors {
            if next.path.len() > chosen.path.len() && next.path.starts_with(&chosen.path) {
                chosen = next;
            } else {
                break;
            }
        }
        if let Some(summary) = summarise_block(chosen) {
            return summary;
        }
    }
    report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One sentence from abi_stable's layout report: what differs, in which
/// type and field, and how the root module reaches it (see the module docs).
pub fn first_difference(report: &str) -> String {
    let summary: String = summary(report).chars().take(400).collect();
    format!("{summary}; run `AGON_LOG_ABI_REPORT=1 agon plugins verify FILE` for abi_stable's full report")
}

#[cfg(test)]
#[path = "abi_report_samples.rs"]
mod samples;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grown_struct_is_named_with_its_extra_field_not_its_holder() {
        assert_eq!(
            summary(samples::STEP_STATS_GREW),
            "incompatible type size of `StepStats` (extra field `values`): \
             expected 40 bytes, found 72 (used by `new_generator` → `mle_step`)"
        );
    }

    #[test]
    fn another_root_module_names_the_types_and_the_first_field() {
        assert_eq!(
            summary(samples::IMPOSTOR_ROOT_MODULE),
            "mismatched type (field `greeting` where this agon has `manifest`): \
             expected AgonPlugin, found ImpostorPlugin"
        );
    }

    #[test]
    fn a_changed_field_type_is_named() {
        // STEP_STATS_GREW with the library's `StepStats` (the last layout)
        // edited: no extra field, but `sequences` 8 bytes wide.
        let lines: Vec<&str> = samples::STEP_STATS_GREW.lines().collect();
        let found_layout = lines
            .iter()
            .rposition(|l| l.trim() == "Layout of found type:")
            .unwrap();
        let mut edited: Vec<String> = Vec::new();
        let mut field = "";
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix("field_name:") {
                field = name;
            } else if trimmed.is_empty() {
                field = "";
            }
            let edit = i > found_layout;
            if edit && field == "values" {
                continue;
            }
            edited.push(match (edit, field, trimmed) {
                (true, "sequences", "type:u32") => line.replace("u32", "u64"),
                (true, "sequences", "size:4 align:4") => line.replace('4', "8"),
                _ => line.to_string(),
            });
        }
        let report = edited.join("\n");
        assert!(report.contains("type:u64") && !report.contains("values"));
        let summary = summary(&report);
        assert!(
            summary.starts_with(
                "incompatible type size of `StepStats` (field `sequences`): expected 40 bytes"
            ),
            "{summary}"
        );
    }

    #[test]
    fn a_report_without_blocks_falls_back_to_its_first_lines() {
        assert_eq!(
            summary("\n  something odd\n  happened\n  here\n"),
            "something odd happened"
        );
    }

    #[test]
    fn the_sentence_points_to_the_full_report() {
        let sentence = first_difference(samples::STEP_STATS_GREW);
        assert!(
            sentence.ends_with("for abi_stable's full report"),
            "{sentence}"
        );
        assert_eq!(sentence.lines().count(), 1);
    }
}
