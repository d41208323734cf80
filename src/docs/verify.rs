//! Verification of the changes a sync message brings, before they are applied.
//! The rules and their reasons are in [`crate::trust`].
//!
//! What is verified is every change the message makes this node hold: the
//! changes it applies, and the changes Automerge keeps waiting for a missing
//! dependency (its queue). A queued change is verified when it arrives, from
//! what it carries (author, hash, signature), so that a forged change can
//! never wait in the queue for the honest change it depends on.

use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::{AutoCommit, ChangeHash};

use super::judge::{judge, Graph, Inputs};
use super::Docs;
use crate::base::{parse_doc_id, site_doc, DocKind, Sig, NETWORK_DOC};
use crate::domain::registry::{self, TrustRegistry};
use crate::trust::{author_of, Anchor, Refusal};

/// What verification accepted.
pub(crate) struct Verified {
    /// The signatures checked, to store with the changes and relay.
    pub sigs: Vec<(ChangeHash, Sig)>,
    /// Every change now waiting in the document's queue (its dependencies
    /// have not arrived), verified.
    pub queued: HashSet<ChangeHash>,
}

/// Most changes a document may keep waiting for their dependencies.
pub const QUEUE_CAP: usize = 10_000;

/// One change of the graph walked for vouching.
pub(crate) struct Node {
    pub hash: ChangeHash,
    pub author: usize,
    pub deps: Vec<ChangeHash>,
}

/// Hashes chain: a change's hash covers its dependencies, so a signed change
/// vouches for everything beneath it. Given `nodes` in topological order
/// (dependencies first), returns which ones must have their own signature
/// checked: a change needs it unless a newer change of its own author, among
/// `nodes`, has it beneath. `preverified` changes were checked before and
/// vouch without being checked again.
pub(crate) fn needs_signature(
    nodes: &[Node],
    preverified: &dyn Fn(&ChangeHash) -> bool,
) -> Result<Vec<bool>, usize> {
    let index: HashMap<ChangeHash, usize> =
        nodes.iter().enumerate().map(|(i, c)| (c.hash, i)).collect();
    let mut vouched: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut out = vec![false; nodes.len()];
    for i in (0..nodes.len()).rev() {
        let c = &nodes[i];
        let mut v = std::mem::take(&mut vouched[i]);
        if !v.contains(&c.author) {
            out[i] = !preverified(&c.hash);
            v.push(c.author);
        }
        for d in &c.deps {
            if let Some(&j) = index.get(d) {
                if j >= i {
                    return Err(i);
                }
                for a in &v {
                    if !vouched[j].contains(a) {
                        vouched[j].push(*a);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Splits concatenated Automerge chunks (magic, checksum, type, LEB128
/// length, data) into single chunks.
fn split_chunks(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut len: u64 = 0;
        let mut shift = 0;
        let mut pos = 9;
        loop {
            let b = *bytes.get(pos)?;
            len |= u64::from(b & 0x7f).checked_shl(shift)?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        let end = pos.checked_add(usize::try_from(len).ok()?)?;
        out.push(bytes.get(..end)?);
        bytes = &bytes[end..];
    }
    Some(out)
}

/// The changes waiting in `doc`'s queue, with their authors' actor and deps.
fn queued_changes(
    id: &str,
    doc: &mut AutoCommit,
) -> Result<Vec<(ChangeHash, automerge::ActorId, Vec<ChangeHash>)>, Refusal> {
    if doc.get_missing_deps(&[]).is_empty() {
        return Ok(Vec::new());
    }
    let without = doc
        .save_with_options(automerge::SaveOptions {
            deflate: false,
            retain_orphans: false,
        })
        .len();
    let with = doc.save_with_options(automerge::SaveOptions {
        deflate: false,
        retain_orphans: true,
    });
    let unreadable = || {
        Refusal::Forged(format!(
            "{id} : modifications en attente de dépendances illisibles"
        ))
    };
    let tail = with.get(without..).ok_or_else(unreadable)?;
    let mut out = Vec::new();
    for chunk in split_chunks(tail).ok_or_else(unreadable)? {
        let c = automerge::Change::try_from(chunk).map_err(|_| unreadable())?;
        out.push((c.hash(), c.actor_id().clone(), c.deps().to_vec()));
    }
    Ok(out)
}

/// Orders changes so that each comes after those of its deps among them.
pub(crate) fn topological<T>(
    items: Vec<(ChangeHash, T, Vec<ChangeHash>)>,
) -> Vec<(ChangeHash, T, Vec<ChangeHash>)> {
    let set: HashSet<ChangeHash> = items.iter().map(|i| i.0).collect();
    let mut by_hash: HashMap<ChangeHash, (T, Vec<ChangeHash>)> =
        items.into_iter().map(|(h, a, d)| (h, (a, d))).collect();
    let mut done: HashSet<ChangeHash> = HashSet::new();
    let mut out = Vec::with_capacity(by_hash.len());
    let mut keys: Vec<ChangeHash> = by_hash.keys().copied().collect();
    keys.sort();
    for start in keys {
        let mut stack = vec![(start, false)];
        while let Some((h, expanded)) = stack.pop() {
            if done.contains(&h) {
                continue;
            }
            if expanded {
                done.insert(h);
                if let Some((a, d)) = by_hash.remove(&h) {
                    out.push((h, a, d));
                }
                continue;
            }
            stack.push((h, true));
            if let Some((_, deps)) = by_hash.get(&h) {
                for d in deps {
                    if set.contains(d) && !done.contains(d) {
                        stack.push((*d, false));
                    }
                }
            }
        }
    }
    out
}

/// What a message is checked against, read before it is applied.
pub(crate) struct Context {
    /// The registry before the message; `Err` if it cannot be read.
    pub registry: std::sync::Arc<Result<TrustRegistry, String>>,
    /// Whether this node holds a `network` document at all.
    pub registry_known: bool,
    /// Whether the peer holds the registry: then, until it has arrived here,
    /// only what is needed to verify it is accepted (academy site documents).
    pub registry_required: bool,
}

impl Docs {
    /// The context in which a message for `id` is checked.
    pub(crate) fn verify_context(
        &self,
        id: &str,
        before: Option<&mut AutoCommit>,
        registry_required: bool,
    ) -> Context {
        let none = || std::sync::Arc::new(Ok(TrustRegistry::default()));
        let (registry, known) = if id == NETWORK_DOC {
            match before {
                Some(d) if !d.is_empty() => (self.registry_at(d), true),
                _ => (none(), false),
            }
        } else {
            match self.entry(NETWORK_DOC) {
                Some(e) => {
                    let mut guard = e.lock().unwrap();
                    if guard.doc.is_empty() {
                        (none(), false)
                    } else {
                        (self.registry_at(&mut guard.doc), true)
                    }
                }
                None => (none(), false),
            }
        };
        Context {
            registry,
            registry_known: known,
            registry_required,
        }
    }

    /// The registry of `network` document `doc`, read once per state of it.
    fn registry_at(&self, doc: &mut AutoCommit) -> std::sync::Arc<Result<TrustRegistry, String>> {
        let heads = doc.get_heads();
        let mut cache = self.inner.registry_cache.lock().unwrap();
        if let Some((h, r)) = cache.as_ref() {
            if *h == heads {
                return r.clone();
            }
        }
        let r = std::sync::Arc::new(registry::for_trust(doc));
        *cache = Some((heads, r.clone()));
        r
    }

    /// Verifies the changes that `doc` (a copy with a peer's message applied)
    /// holds beyond `before`, and those waiting in its queue that were not in
    /// `queued_before`. Returns the checked signatures to store with them.
    pub(crate) fn verify(
        &self,
        id: &str,
        doc: &mut AutoCommit,
        before: &[ChangeHash],
        queued_before: &HashSet<ChangeHash>,
        ctx: &Context,
        sig_of: &dyn Fn(&ChangeHash) -> Option<Sig>,
    ) -> Result<Verified, Refusal> {
        let trust = &self.inner.trust;
        let kind = parse_doc_id(id)
            .ok_or_else(|| Refusal::Forged(format!("document inconnu : « {id} »")))?;
        let no_author = |hash: &ChangeHash, actor: &automerge::ActorId| {
            Refusal::Forged(format!(
                "modification {hash} de {id} sans site auteur (acteur {actor})"
            ))
        };

        // Every change the message makes this node hold: applied ones in
        // Automerge's (topological) order, then queued ones.
        let mut items: Vec<(ChangeHash, String, Vec<ChangeHash>)> = Vec::new();
        let applied = doc.get_changes_meta(before);
        if applied.len() > trust.max_changes {
            return Err(Refusal::Limit(format!(
                "{} modifications dans un seul message pour {id}, au plus {} acceptées (max_changes_per_message)",
                applied.len(),
                trust.max_changes
            )));
        }
        for m in applied {
            let author = author_of(&m.actor).ok_or_else(|| no_author(&m.hash, &m.actor))?;
            items.push((m.hash, author, m.deps));
        }
        let mut queued_items = Vec::new();
        for (hash, actor, deps) in queued_changes(id, doc)? {
            let author = author_of(&actor).ok_or_else(|| no_author(&hash, &actor))?;
            queued_items.push((hash, author, deps));
        }
        if queued_items.len() > QUEUE_CAP {
            return Err(Refusal::Limit(format!(
                "{} modifications de {id} attendent des dépendances absentes, au plus {QUEUE_CAP}",
                queued_items.len()
            )));
        }
        let queued_hashes: HashSet<ChangeHash> = queued_items.iter().map(|q| q.0).collect();
        items.extend(topological(queued_items));
        let preverified = |h: &ChangeHash| queued_before.contains(h);
        if items.iter().all(|(h, _, _)| preverified(h)) {
            return Ok(Verified {
                sigs: Vec::new(),
                queued: queued_hashes,
            });
        }

        let mut authors: Vec<String> = Vec::new();
        let mut nodes: Vec<Node> = Vec::with_capacity(items.len());
        for (hash, author, deps) in items {
            let a = match authors.iter().position(|x| *x == author) {
                Some(a) => a,
                None => {
                    authors.push(author);
                    authors.len() - 1
                }
            };
            nodes.push(Node {
                hash,
                author: a,
                deps,
            });
        }
        let new_authors: HashSet<usize> = nodes
            .iter()
            .filter(|n| !preverified(&n.hash))
            .map(|n| n.author)
            .collect();

        // What the verdict reads, gathered from the documents: each new
        // author's certified key (published in its site document; for a
        // site document, as the message leaves it), and which of the
        // registry's cutoff hashes this document held before the message.
        let mut anchors: HashMap<String, Result<Anchor, Refusal>> = HashMap::new();
        for &a in &new_authors {
            let author = &authors[a];
            let anchor = match &kind {
                DocKind::Site(s) if s == author => Some(trust.anchor(author, doc)),
                // Not its document: the verdict says so, no key needed.
                DocKind::Site(_) => None,
                _ => self.read(&site_doc(author), |d| trust.anchor(author, d)),
            };
            if let Some(anchor) = anchor {
                anchors.insert(author.clone(), anchor);
            }
        }
        let applied_now: HashSet<ChangeHash> = nodes
            .iter()
            .filter(|n| !queued_hashes.contains(&n.hash))
            .map(|n| n.hash)
            .collect();
        let mut held_before = HashSet::new();
        if let Ok(r) = &*ctx.registry {
            for &a in &new_authors {
                let Some(e) = r.entries.get(&authors[a]) else {
                    continue;
                };
                let cuts =
                    std::iter::once(&e.cutoff).chain(e.retired_keys.iter().map(|k| &k.cutoff));
                for cut in cuts {
                    for h in cut.get(id).into_iter().flatten() {
                        let Ok(h) = h.parse::<ChangeHash>() else {
                            continue;
                        };
                        if !applied_now.contains(&h) && doc.get_change_meta_by_hash(&h).is_some() {
                            held_before.insert(h);
                        }
                    }
                }
            }
        }
        let graph = Graph {
            nodes,
            authors,
            queued: queued_hashes,
            preverified: queued_before.clone(),
            held_before,
        };
        let out = judge(
            &Inputs {
                id,
                kind: &kind,
                registry: &ctx.registry,
                registry_known: ctx.registry_known,
                registry_required: ctx.registry_required,
                anchors: &anchors,
                sig_of,
            },
            &graph,
        )?;
        let Graph {
            nodes,
            authors,
            queued: queued_hashes,
            ..
        } = graph;

        // Action documents: participants edit; any other site may only add
        // or remove itself (see [`action_rule`]). A rule on the document's
        // content, so read from the document.
        if let DocKind::Action(_) = kind {
            let before_empty = before.is_empty();
            let mut roots = 0;
            for n in &nodes {
                if preverified(&n.hash) {
                    continue;
                }
                if queued_hashes.contains(&n.hash) {
                    return Err(Refusal::Withheld(format!(
                        "{id} : une modification attend une dépendance absente ; elle sera vérifiée avec elle"
                    )));
                }
                if n.deps.is_empty() {
                    roots += 1;
                }
                action_rule(id, doc, n, &authors[n.author], before_empty && roots == 1)?;
            }
        }
        Ok(Verified {
            sigs: out,
            queued: queued_hashes,
        })
    }
}

/// The rule every node enforces on an action document, whoever relays the
/// change: a site that participates in the action (at the change's
/// dependencies) edits it; any other site may only add or remove itself from
/// the participants. The creation (the one change without dependencies, in a
/// document that had none) is the creator's, who must name itself the lead.
fn action_rule(
    id: &str,
    doc: &mut AutoCommit,
    n: &Node,
    author: &str,
    creation: bool,
) -> Result<(), Refusal> {
    use automerge::{ObjType, PatchAction, Prop, ReadDoc, Value, ROOT};
    if n.deps.is_empty() {
        if !creation {
            return Err(Refusal::Forged(format!(
                "{id} : seconde création de l'action, signée de {author}"
            )));
        }
        let lead = doc
            .get_at(ROOT, "lead", &[n.hash])
            .ok()
            .flatten()
            .and_then(|(v, _)| v.into_string().ok());
        if lead.as_deref() != Some(author) {
            return Err(Refusal::Forged(format!(
                "{id} : l'action est créée par {author} mais nomme un autre pilote"
            )));
        }
        return Ok(());
    }
    let participant = match doc.get_at(ROOT, "participants", &n.deps) {
        Ok(Some((Value::Object(ObjType::Map), map))) => {
            matches!(doc.get_at(&map, author, &n.deps), Ok(Some(_)))
        }
        _ => false,
    };
    if participant {
        return Ok(());
    }
    let own = |p: &Prop| matches!(p, Prop::Map(k) if k == author);
    for patch in doc.diff(&n.deps, &[n.hash]) {
        let in_participants =
            matches!(patch.path.first(), Some((_, Prop::Map(k))) if k == "participants");
        let allowed = in_participants
            && match patch.path.get(1) {
                Some((_, p)) => own(p),
                None => match &patch.action {
                    PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => {
                        key == author
                    }
                    PatchAction::Conflict { prop } => own(prop),
                    _ => false,
                },
            };
        if !allowed {
            return Err(Refusal::Forged(format!(
                "{id} : le site {author}, qui ne participe pas à l'action, ne peut que la rejoindre ou la quitter"
            )));
        }
    }
    Ok(())
}

/// For a message carrying `changes` (hash, author, deps, in topological
/// order), the changes whose signature the receiver will check: each author's
/// newest ones, the hash chain vouching for the rest.
pub(crate) fn signatures_to_send(
    metas: Vec<(ChangeHash, Option<String>, Vec<ChangeHash>)>,
) -> Vec<ChangeHash> {
    let mut authors: BTreeMap<Option<String>, usize> = BTreeMap::new();
    let nodes: Vec<Node> = metas
        .into_iter()
        .map(|(hash, author, deps)| {
            let n = authors.len();
            let a = *authors.entry(author).or_insert(n);
            Node {
                hash,
                author: a,
                deps,
            }
        })
        .collect();
    match needs_signature(&nodes, &|_| false) {
        Ok(checks) => nodes
            .iter()
            .zip(checks)
            .filter(|(_, c)| *c)
            .map(|(n, _)| n.hash)
            .collect(),
        Err(_) => nodes.iter().map(|n| n.hash).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    #[test]
    fn each_authors_newest_change_vouches_for_those_beneath() {
        // a1 <- b1 <- a2 ; a3 alone (a concurrent branch of a).
        let nodes = vec![
            Node {
                hash: h(1),
                author: 0,
                deps: vec![],
            },
            Node {
                hash: h(2),
                author: 1,
                deps: vec![h(1)],
            },
            Node {
                hash: h(3),
                author: 0,
                deps: vec![h(2)],
            },
            Node {
                hash: h(4),
                author: 0,
                deps: vec![],
            },
        ];
        let checks = needs_signature(&nodes, &|_| false).unwrap();
        assert_eq!(checks, vec![false, true, true, true]);
        // A preverified newer change of a vouches for a1 without a check.
        let checks = needs_signature(&nodes, &|x| *x == h(3)).unwrap();
        assert_eq!(checks, vec![false, true, false, true]);
        // A dependency listed after its dependent is refused.
        let bad = vec![
            Node {
                hash: h(2),
                author: 0,
                deps: vec![h(1)],
            },
            Node {
                hash: h(1),
                author: 0,
                deps: vec![],
            },
        ];
        assert!(needs_signature(&bad, &|_| false).is_err());
    }

    #[test]
    fn chunks_split_and_queued_changes_sort_after_their_deps() {
        assert_eq!(split_chunks(&[]).unwrap().len(), 0);
        assert!(split_chunks(&[0; 5]).is_none());
        let items = vec![
            (h(3), "a".to_string(), vec![h(2)]),
            (h(2), "a".to_string(), vec![h(1)]),
            (h(1), "a".to_string(), vec![h(9)]),
        ];
        let sorted: Vec<ChangeHash> = topological(items).into_iter().map(|i| i.0).collect();
        assert_eq!(sorted, vec![h(1), h(2), h(3)]);
    }
}
