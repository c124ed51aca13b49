//! The `depends_on` graph of one resolved environment (SPEC §5.4): unknown targets,
//! cycles (printed whole), start levels, and the closure `up S` deploys.

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::document::Document;
use crate::resolve::ResolvedEnvironment;
use indexmap::{IndexMap, IndexSet};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// service → the services it depends on (known targets only, self-edges removed).
    pub edges: IndexMap<String, Vec<String>>,
    /// Start order: every service of level n depends only on services of levels < n.
    pub levels: Vec<Vec<String>>,
    /// Each cycle as the list of its services, in dependency order.
    pub cycles: Vec<Vec<String>>,
}

impl Graph {
    pub fn build(env: &ResolvedEnvironment) -> Graph {
        let mut edges = IndexMap::with_capacity(env.services.len());
        for (name, service) in &env.services {
            let deps: Vec<String> =
                service.depends_on.iter().map(|d| d.value.clone()).filter(|d| d != name && env.services.contains_key(d)).collect();
            edges.insert(name.clone(), deps);
        }
        let cycles = find_cycles(&edges);
        let levels = levels(&edges);
        Graph { edges, levels, cycles }
    }

    /// `targets` and everything they depend on, transitively, in start order.
    pub fn closure(&self, targets: &[String]) -> Vec<String> {
        let mut wanted: IndexSet<String> = IndexSet::new();
        let mut stack: Vec<String> = targets.to_vec();
        while let Some(s) = stack.pop() {
            if wanted.insert(s.clone()) {
                stack.extend(self.edges.get(&s).into_iter().flatten().cloned());
            }
        }
        self.levels.iter().flatten().filter(|s| wanted.contains(*s)).cloned().collect()
    }

    /// Graphviz text of the graph.
    pub fn to_dot(&self, title: &str) -> String {
        let mut out = format!("digraph \"{title}\" {{\n  rankdir=LR;\n");
        for (from, deps) in &self.edges {
            out.push_str(&format!("  \"{from}\";\n"));
            for to in deps {
                out.push_str(&format!("  \"{from}\" -> \"{to}\";\n"));
            }
        }
        out.push_str("}\n");
        out
    }
}

/// Kahn's algorithm by level; services on a cycle never get a level.
fn levels(edges: &IndexMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut remaining: IndexMap<&str, usize> = edges.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
    let mut dependents: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for (from, deps) in edges {
        for to in deps {
            dependents.entry(to.as_str()).or_default().push(from.as_str());
        }
    }
    let mut levels = Vec::new();
    let mut ready: Vec<&str> = remaining.iter().filter(|(_, n)| **n == 0).map(|(k, _)| *k).collect();
    while !ready.is_empty() {
        let mut next = Vec::new();
        for s in &ready {
            remaining.swap_remove(s);
            for d in dependents.get(s).into_iter().flatten() {
                if let Some(n) = remaining.get_mut(d) {
                    *n -= 1;
                    if *n == 0 {
                        next.push(*d);
                    }
                }
            }
        }
        levels.push(ready.iter().map(|s| s.to_string()).collect());
        ready = next;
    }
    levels
}

/// Every elementary cycle found by a DFS, each reported once (iterative: no stack overflow
/// on a 1,000-deep chain).
fn find_cycles(edges: &IndexMap<String, Vec<String>>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let index: IndexMap<&str, usize> = edges.keys().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let mut mark = vec![Mark::New; edges.len()];
    let mut cycles: Vec<Vec<String>> = Vec::new();
    let mut seen: IndexSet<Vec<String>> = IndexSet::new();
    for start in 0..edges.len() {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::OnStack;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let deps = &edges[node];
            if *next < deps.len() {
                let to = index[deps[*next].as_str()];
                *next += 1;
                match mark[to] {
                    Mark::New => {
                        mark[to] = Mark::OnStack;
                        stack.push((to, 0));
                    }
                    Mark::OnStack => {
                        let pos = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                        let cycle: Vec<String> =
                            stack[pos..].iter().map(|(n, _)| edges.get_index(*n).map(|(k, _)| k.clone()).unwrap_or_default()).collect();
                        let mut canonical = cycle.clone();
                        canonical.sort();
                        if seen.insert(canonical) {
                            cycles.push(cycle);
                        }
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    cycles
}

/// Graph diagnostics: unknown targets, declared self-dependencies, cycles.
pub fn check(env: &ResolvedEnvironment, graph: &Graph, doc: &Document) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, service) in &env.services {
        for dep in &service.depends_on {
            let p = dep.pointer.clone().unwrap_or_default();
            let span = doc.span_of(&p);
            if &dep.value == name {
                out.push(
                    Diagnostic::new(Code::SelfDependency, span, format!("service `{name}` depends on itself"))
                        .label("a service cannot wait for itself")
                        .help("remove this entry"),
                );
            } else if !env.services.contains_key(&dep.value) {
                let mut d = Diagnostic::new(Code::UnknownDependency, span, format!("`{name}` depends on unknown service `{}`", dep.value))
                    .label("no service with this name");
                if let Some(best) = did_you_mean(&dep.value, env.services.keys().map(String::as_str)) {
                    d = d.help(format!("did you mean `{best}`?")).fix(format!("Change to `{best}`"), span, best);
                } else {
                    d = d.help(format!("services in this file: {}", env.services.keys().cloned().collect::<Vec<_>>().join(", ")));
                }
                if dep.origin != crate::resolve::Origin::Service {
                    d = d.help(format!("inherited from {}", dep.origin));
                }
                out.push(d);
            }
        }
    }
    for cycle in &graph.cycles {
        let mut path = cycle.clone();
        path.push(cycle[0].clone());
        let text = path.join(" → ");
        let edge_span = |from: &str, to: &str| {
            env.services[from].depends_on.iter().find(|d| d.value == to).and_then(|d| d.pointer.clone()).map(|p| doc.span_of(&p))
        };
        let first = edge_span(&path[0], &path[1]).unwrap_or_default();
        let mut d = Diagnostic::new(Code::DependencyCycle, first, format!("dependency cycle: {text}"))
            .label(format!("`{}` waits for `{}`", path[0], path[1]))
            .help("services in a cycle can never start; remove one of these dependencies");
        for pair in path.windows(2).skip(1) {
            if let Some(span) = edge_span(&pair[0], &pair[1]) {
                d = d.related(span, format!("`{}` waits for `{}`", pair[0], pair[1]));
            }
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[(&str, &[&str])]) -> IndexMap<String, Vec<String>> {
        list.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
    }

    #[test]
    fn levels_order_dependencies_first() {
        let e = edges(&[("api", &["auth", "db"]), ("auth", &["db"]), ("db", &[]), ("web", &[])]);
        assert_eq!(levels(&e), vec![vec!["db".to_string(), "web".into()], vec!["auth".into()], vec!["api".into()]]);
        let g = Graph { levels: levels(&e), edges: e, cycles: vec![] };
        assert_eq!(g.closure(&["auth".into()]), vec!["db".to_string(), "auth".into()]);
    }

    #[test]
    fn cycles_are_found_whole_and_once() {
        let e = edges(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]);
        let cycles = find_cycles(&e);
        assert_eq!(cycles, vec![vec!["a".to_string(), "b".into(), "c".into()]]);
        assert_eq!(levels(&e), Vec::<Vec<String>>::new());
    }

    #[test]
    fn long_chain_does_not_overflow() {
        let names: Vec<String> = (0..5000).map(|i| format!("s{i}")).collect();
        let e: IndexMap<String, Vec<String>> =
            names.iter().enumerate().map(|(i, n)| (n.clone(), if i > 0 { vec![names[i - 1].clone()] } else { vec![] })).collect();
        assert!(find_cycles(&e).is_empty());
        assert_eq!(levels(&e).len(), 5000);
    }
}
