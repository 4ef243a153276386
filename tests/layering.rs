//! The code's layering, read from the source (issue 34): no import circle between the modules
//! (files) of the engine crate or of the app, and the engine's top-level modules reach only down
//! [`LAYERS`]. A module's edges are the `crate::`, `super::` and `self::` paths it names outside
//! its tests and comments, followed through `pub use` re-exports to the file that defines the
//! item; a module and its own submodules (a `mod.rs` and its children) may name each other.
//! Measured: the whole check reads ~130 files in a few milliseconds.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The engine's top-level modules, lowest first: each may use itself and those before it.
/// The engines know no ops, networks or training; ops know no networks; and so on up.
const LAYERS: [&str; 7] = ["engine", "ops", "reference", "data", "net", "model", "train"];

/// One crate's modules by path (`engine::wgsl::gemm`; the crate root is ""), with their code.
struct Crate {
    modules: BTreeMap<String, String>,
}

impl Crate {
    /// The library under `root` (its `lib.rs` and modules; `main.rs` and `bin/` are other crates).
    fn read(root: &Path) -> Crate {
        let mut modules = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                if path.is_dir() {
                    if relative != "bin" {
                        stack.push(path);
                    }
                    continue;
                }
                let Some(stem) = relative.strip_suffix(".rs") else { continue };
                if stem == "main" {
                    continue;
                }
                let mut segments: Vec<&str> = stem.split('/').collect();
                if matches!(segments.last(), Some(&("mod" | "lib"))) {
                    segments.pop();
                }
                modules.insert(segments.join("::"), code(&std::fs::read_to_string(&path).unwrap()));
            }
        }
        Crate { modules }
    }

    fn from_sources(sources: &[(&str, &str)]) -> Crate {
        Crate { modules: sources.iter().map(|(m, s)| (m.to_string(), code(s))).collect() }
    }

    /// The absolute path `segments` name, written in module `at` (`crate::`, `super::`, `self::`,
    /// or a child module's name); None for another crate's path.
    fn absolute(&self, at: &str, segments: &[String]) -> Option<Vec<String>> {
        let mut base: Vec<String> = if at.is_empty() { vec![] } else { at.split("::").map(String::from).collect() };
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            Some(first) => {
                let child = join(&base, &[first.to_string()]);
                if !self.modules.contains_key(&child) {
                    return None;
                }
            }
            None => return None,
        }
        Some(base.into_iter().chain(rest.iter().cloned()).collect())
    }

    /// The item each `pub use` of `module` re-exports, by the name it is exported under.
    fn reexports(&self, module: &str) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let code = &self.modules[module];
        for (i, _) in code.match_indices("use ") {
            let before = code[..i].trim_end();
            if !(before.ends_with("pub") || before.ends_with("pub(crate)")) {
                continue;
            }
            for (path, alias) in paths(&code[i + 4..]) {
                if let Some(target) = self.absolute(module, &path) {
                    let name = alias.unwrap_or_else(|| path.last().cloned().unwrap_or_default());
                    out.insert(name, target);
                }
            }
        }
        out
    }

    /// The module that defines what `path` (absolute) names, through re-exports.
    fn resolve(&self, path: &[String], reexports: &BTreeMap<String, BTreeMap<String, Vec<String>>>, depth: usize) -> Option<String> {
        let (module, used) = (0..=path.len()).rev().map(|n| (path[..n].join("::"), n)).find(|(m, _)| self.modules.contains_key(m))?;
        if let Some(name) = path.get(used)
            && depth < 8
            && let Some(target) = reexports[&module].get(name)
        {
            let further: Vec<String> = target.iter().chain(&path[used + 1..]).cloned().collect();
            return self.resolve(&further, reexports, depth + 1).or(Some(module));
        }
        Some(module)
    }

    /// Module → the modules it names (not itself, its ancestors or its descendants).
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let reexports: BTreeMap<_, _> = self.modules.keys().map(|m| (m.clone(), self.reexports(m))).collect();
        let mut edges = BTreeMap::new();
        for (module, code) in &self.modules {
            let mut to = BTreeSet::new();
            for start in ["crate::", "super::", "self::"].iter().flat_map(|p| code.match_indices(p).map(|(i, _)| i)) {
                let preceded_by_ident = code[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
                if preceded_by_ident {
                    continue;
                }
                for (path, _) in paths(&code[start..]) {
                    let Some(absolute) = self.absolute(module, &path) else { continue };
                    if let Some(target) = self.resolve(&absolute, &reexports, 0)
                        && !related(module, &target)
                    {
                        to.insert(target);
                    }
                }
            }
            // A mod.rs's `use child::…` names its own children: never an edge.
            edges.insert(module.clone(), to);
        }
        edges
    }

    /// Each circle of modules (a strongly connected set of more than one), with its edges.
    fn circles(&self) -> Vec<Vec<String>> {
        let edges = self.edges();
        let reach = |from: &String| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from.clone()];
            while let Some(m) = stack.pop() {
                for next in &edges[&m] {
                    if seen.insert(next.clone()) {
                        stack.push(next.clone());
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<&String, BTreeSet<String>> = edges.keys().map(|m| (m, reach(m))).collect();
        let mut circles: Vec<Vec<String>> = Vec::new();
        for m in edges.keys() {
            let circle: Vec<String> = edges.keys().filter(|o| reaches[m].contains(*o) && reaches[*o].contains(m)).cloned().collect();
            if circle.len() > 1 && !circles.contains(&circle) {
                circles.push(circle);
            }
        }
        circles
            .into_iter()
            .map(|circle| {
                let inner = circle.iter().flat_map(|a| edges[a].iter().filter(|b| circle.contains(b)).map(move |b| format!("{a} → {b}")));
                inner.collect()
            })
            .collect()
    }
}

fn join(base: &[String], more: &[String]) -> String {
    base.iter().chain(more).cloned().collect::<Vec<_>>().join("::")
}

/// Whether one module contains the other (or they are the same).
fn related(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| outer.is_empty() || inner == outer || inner.starts_with(&format!("{outer}::"));
    inside(a, b) || inside(b, a)
}

/// The code of a file as the checks read it: without its `#[cfg(test)]` module (tests may reach
/// anywhere) and without comments (doc links are not imports).
fn code(source: &str) -> String {
    let source: Vec<char> = source.split("#[cfg(test)]").next().unwrap_or_default().chars().collect();
    let mut out = String::new();
    let (mut at, mut in_string) = (0, false);
    while let Some(&c) = source.get(at) {
        let next = source.get(at + 1).copied();
        let char_literal = !in_string && c == '\'' && (next == Some('\\') || source.get(at + 2) == Some(&'\''));
        if char_literal {
            // '"', '\'', '\n': copied whole, so a quote inside does not open a string.
            let end = match next {
                // '\n', '\\', '\'' end at their fourth character; '\u{…}' at the next quote.
                Some('\\') if source.get(at + 3) == Some(&'\'') => at + 3,
                Some('\\') => (at + 3..source.len()).find(|&i| source[i] == '\'').unwrap_or(source.len() - 1),
                _ => at + 2,
            };
            out.extend(&source[at..=end]);
            at = end + 1;
            continue;
        }
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => {
                out.push(c);
                out.extend(next);
                at += 2;
                continue;
            }
            '/' if !in_string && next == Some('/') => {
                at = (at..source.len()).find(|&i| source[i] == '\n').unwrap_or(source.len());
                continue;
            }
            _ => {}
        }
        out.push(c);
        at += 1;
    }
    out
}

/// The paths a `use` tree or a path expression at the start of `text` names, groups (`a::{b, c::d}`)
/// expanded, each with the name it is imported as (`as x`).
fn paths(text: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    tree(&chars, &mut 0, &mut Vec::new(), &mut out);
    out
}

fn tree(chars: &[char], at: &mut usize, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let depth = prefix.len();
    loop {
        skip_space(chars, at);
        if chars.get(*at) == Some(&'{') {
            *at += 1;
            loop {
                tree(chars, at, prefix, out);
                skip_space(chars, at);
                match chars.get(*at) {
                    Some(',') => *at += 1,
                    Some('}') => {
                        *at += 1;
                        break;
                    }
                    _ => break,
                }
                skip_space(chars, at);
                if chars.get(*at) == Some(&'}') {
                    *at += 1;
                    break;
                }
            }
            break;
        }
        let word: String = chars[*at..].iter().take_while(|c| c.is_alphanumeric() || **c == '_').collect();
        if word.is_empty() {
            if chars.get(*at) == Some(&'*') {
                *at += 1;
            }
            if prefix.len() > depth {
                out.push((prefix.clone(), None));
            }
            break;
        }
        *at += word.chars().count();
        if word == "self" && prefix.len() > depth {
            // `a::{self, …}`: the module itself.
        } else {
            prefix.push(word);
        }
        if chars.get(*at) == Some(&':') && chars.get(*at + 1) == Some(&':') {
            *at += 2;
            continue;
        }
        skip_space(chars, at);
        let rest: String = chars[*at..].iter().take(3).collect();
        let alias = if rest == "as " {
            *at += 3;
            skip_space(chars, at);
            let alias: String = chars[*at..].iter().take_while(|c| c.is_alphanumeric() || **c == '_').collect();
            *at += alias.chars().count();
            Some(alias)
        } else {
            None
        };
        out.push((prefix.clone(), alias));
        break;
    }
    prefix.truncate(depth);
}

fn skip_space(chars: &[char], at: &mut usize) {
    while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
        *at += 1;
    }
}

fn read(crate_dir: &str) -> Crate {
    Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_dir))
}

#[test]
fn the_engine_crate_has_no_import_circle() {
    let circles = read("src").circles();
    assert!(circles.is_empty(), "import circles between the engine's modules (break each edge that points up):\n{circles:#?}");
}

#[test]
fn the_app_has_no_import_circle() {
    let circles = read("app/src").circles();
    assert!(circles.is_empty(), "import circles between the app's modules (break each edge that points up):\n{circles:#?}");
}

#[test]
fn the_engine_layers_point_down() {
    let layer = |m: &str| LAYERS.iter().position(|l| m.split("::").next() == Some(*l));
    let upward: Vec<String> = read("src")
        .edges()
        .into_iter()
        .flat_map(|(from, to)| to.into_iter().map(move |t| (from.clone(), t)))
        .filter(|(from, to)| matches!((layer(from), layer(to)), (Some(a), Some(b)) if b > a))
        .map(|(from, to)| format!("{from} → {to}"))
        .collect();
    assert!(upward.is_empty(), "modules reaching up {LAYERS:?}:\n{upward:#?}");
}

/// The check sees what it must: a circle through a re-export and a `super::` path, a grouped
/// `use`, and not a doc comment, a test module or a module's own children.
#[test]
fn the_check_finds_a_circle_planted_on_purpose() {
    let planted = Crate::from_sources(&[
        ("", "pub mod a;\npub mod b;"),
        ("a", "pub mod inner;\npub use inner::Thing;\nuse crate::b::{self, Other as O};"),
        ("a::inner", "pub struct Thing;\nuse super::super::c::X;"),
        ("b", "pub struct Other;\nconst Q: char = '\"'; // crate::a::Thing, after a quote\n/// [`crate::a::Thing`]\nfn f() {}\n#[cfg(test)]\nmod tests { use crate::a::Thing; }"),
        ("c", "pub struct X;\nfn g() -> crate::a::Thing { todo!() }"),
    ]);
    let edges = planted.edges();
    assert_eq!(edges["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(edges["a::inner"], BTreeSet::from(["c".to_string()]));
    assert_eq!(edges["b"], BTreeSet::new(), "doc comments and tests are not edges");
    assert_eq!(edges["c"], BTreeSet::from(["a::inner".to_string()]), "through the re-export, to the defining file");
    assert_eq!(planted.circles(), vec![vec!["a::inner → c".to_string(), "c → a::inner".to_string()]]);
    let fine = Crate::from_sources(&[("", "pub mod a;\npub mod b;"), ("a", "use crate::b::Y;"), ("b", "pub struct Y;")]);
    assert!(fine.circles().is_empty());
}
