//! The trust verdict on a sync message, as a pure function.
//!
//! [`judge`] decides from values alone: the registry as it was before the
//! message, the graph of the changes the message makes the node hold (with
//! which of them were checked before, which wait for a dependency, and which
//! of the registry's cutoff hashes the document held before), each author's
//! certified key, and the signatures that came with the message. It reads no
//! document, no store, no clock: the same inputs give the same verdict, which
//! the tests below build by hand. [`super::verify`] gathers the inputs from
//! the node's documents and applies the content rule of action documents.
//!
//! The rules and their reasons are in [`crate::trust`].

use std::collections::{HashMap, HashSet};

use automerge::ChangeHash;

use super::verify::{needs_signature, Node};
use crate::base::{DocKind, Sig};
use crate::domain::registry::{RetiredKey, TrustRegistry};
use crate::trust::{Anchor, Refusal, Trust};

/// The changes a message makes this node hold, as a graph.
pub(crate) struct Graph {
    /// Applied changes in topological order, then waiting ones.
    pub nodes: Vec<Node>,
    /// Site of each author index of [`Node::author`].
    pub authors: Vec<String>,
    /// The changes that wait for a missing dependency.
    pub queued: HashSet<ChangeHash>,
    /// The changes checked when they arrived earlier (they waited in the
    /// queue): they vouch without being checked again.
    pub preverified: HashSet<ChangeHash>,
    /// The hashes the document held before the message, among those the
    /// registry's cutoffs name (every other change of the graph is new).
    pub held_before: HashSet<ChangeHash>,
}

impl Graph {
    /// Whether every hash of `cut` is held once the message is applied.
    fn holds_all(&self, cut: &[ChangeHash]) -> bool {
        cut.iter().all(|h| {
            self.held_before.contains(h)
                || (!self.queued.contains(h) && self.nodes.iter().any(|n| n.hash == *h))
        })
    }

    /// The new changes beneath `cut` (each a hash of the cut or one of its
    /// ancestors). A change the document held before is beneath no new one,
    /// so only the graph is walked.
    fn beneath(&self, cut: &[ChangeHash]) -> HashSet<ChangeHash> {
        let deps: HashMap<ChangeHash, &[ChangeHash]> = self
            .nodes
            .iter()
            .filter(|n| !self.queued.contains(&n.hash))
            .map(|n| (n.hash, n.deps.as_slice()))
            .collect();
        let mut out = HashSet::new();
        let mut stack: Vec<ChangeHash> = cut.to_vec();
        while let Some(h) = stack.pop() {
            if let Some(ds) = deps.get(&h) {
                if out.insert(h) {
                    stack.extend(ds.iter().copied());
                }
            }
        }
        out
    }
}

/// What [`judge`] reads besides the graph.
pub(crate) struct Inputs<'a> {
    pub id: &'a str,
    pub kind: &'a DocKind,
    /// The registry before the message; `Err` if it cannot be read.
    pub registry: &'a Result<TrustRegistry, String>,
    /// Whether this node holds a `network` document at all.
    pub registry_known: bool,
    /// Whether the peer holds the registry (then, until it has arrived,
    /// only what verifies it is taken).
    pub registry_required: bool,
    /// Each author's certified key, for the authors of changes not checked
    /// before (a missing author is a site whose key is unknown here).
    pub anchors: &'a HashMap<String, Result<Anchor, Refusal>>,
    /// The signatures that came with the message.
    pub sig_of: &'a dyn Fn(&ChangeHash) -> Option<Sig>,
}

/// The hashes a cutoff lists for document `id`.
fn cut_of(cutoff: &std::collections::BTreeMap<String, Vec<String>>, id: &str) -> Vec<ChangeHash> {
    cutoff
        .get(id)
        .map(|hs| hs.iter().filter_map(|h| h.parse().ok()).collect())
        .unwrap_or_default()
}

/// The verdict on `graph`: the signatures checked (to store and relay), or
/// why nothing of the message may be applied.
pub(crate) fn judge(i: &Inputs, graph: &Graph) -> Result<Vec<(ChangeHash, Sig)>, Refusal> {
    let id = i.id;
    let nodes = &graph.nodes;
    let authors = &graph.authors;
    let preverified = |h: &ChangeHash| graph.preverified.contains(h);
    let checks = needs_signature(nodes, &preverified)
        .map_err(|_| Refusal::Forged(format!("modifications de {id} dans un ordre impossible")))?;

    // The registry that decides is the one before the message.
    let registry = match i.registry {
        Ok(r) => Some(r),
        // Only academy certificates may then write it (below), so the
        // academy can still repair it.
        Err(_) if *i.kind == DocKind::Network => None,
        Err(e) => return Err(Refusal::Withheld(e.clone())),
    };

    // Each author of a change that is not preverified: its right to write
    // this document, and its key.
    let mut anchors: Vec<Option<&Anchor>> = vec![None; authors.len()];
    let mut revoked: Vec<usize> = Vec::new();
    for node in nodes {
        if preverified(&node.hash) || anchors[node.author].is_some() {
            continue;
        }
        let a = node.author;
        let author = &authors[a];
        if let DocKind::Site(s) = i.kind {
            if s != author {
                return Err(Refusal::Forged(format!(
                    "seul le site {s} écrit {id}, or une modification est signée du site {author}"
                )));
            }
        }
        let anchor = match i.anchors.get(author) {
            Some(Ok(anchor)) => anchor,
            Some(Err(refusal)) => return Err(refusal.clone()),
            None => {
                return Err(Refusal::Withheld(format!(
                    "le document du site {author} n'est pas encore arrivé ici"
                )))
            }
        };
        if *i.kind == DocKind::Network && !anchor.academy {
            return Err(Refusal::Forged(format!(
                "seule l'équipe académique écrit {id}, or {author} n'est pas un site académique"
            )));
        }
        // A node that has never seen the registry, talking to a peer that
        // holds it, takes nothing but what verifies the registry.
        if i.registry_required && !i.registry_known && *i.kind != DocKind::Network {
            let academy_site = matches!(i.kind, DocKind::Site(_)) && anchor.academy;
            if !academy_site {
                return Err(Refusal::Withheld(format!(
                    "le registre du réseau n'est pas encore arrivé ici : {id} attendra"
                )));
            }
        }
        if let Some(registry) = registry {
            if let Some(reason) = registry.unreadable_reason(author) {
                return Err(Refusal::Withheld(reason));
            }
            if let Some(entry) = registry.entries.get(author) {
                if entry.public_key != hex::encode(anchor.key.to_bytes()) {
                    return Err(Refusal::Withheld(format!(
                        "la clé certifiée du site {author} ({}…) n'est pas celle que le registre du réseau a inscrite ({}…) : l'équipe académique doit corriger l'inscription (maillage site update {author} --key …)",
                        &hex::encode(anchor.key.to_bytes())[..16],
                        entry.public_key.get(..16).unwrap_or(&entry.public_key)
                    )));
                }
                if entry.is_revoked() {
                    revoked.push(a);
                }
            }
        }
        anchors[a] = Some(anchor);
    }

    let mut out = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        if !checks[k] {
            continue;
        }
        let a = node.author;
        let anchor = anchors[a].expect("every author of a change to check has an anchor");
        let sig = (i.sig_of)(&node.hash);
        if sig.is_none() {
            // An honest relay may lack it; the change is not applied, and
            // nobody is accused.
            return Err(Refusal::Withheld(format!(
                "modification {} de {id} attribuée à {} arrivée sans sa signature",
                node.hash, authors[a]
            )));
        }
        if let Err(refusal) = Trust::verify(anchor, &authors[a], id, &node.hash, sig.as_ref()) {
            // Signed with a key the site has since replaced: valid only
            // beneath the cutoff the academy recorded with it.
            let retired = registry
                .and_then(|r| r.entries.get(&authors[a]))
                .map(|e| e.retired_keys.as_slice())
                .unwrap_or_default();
            let mut beneath = false;
            for key in retired {
                match signed_with_retired(graph, id, &authors[a], key, node, sig.as_ref()) {
                    Retired::NotThisKey => {}
                    Retired::Beneath => {
                        beneath = true;
                        break;
                    }
                    // An honest node may have taken it before the new key
                    // reached it: set aside, nobody accused.
                    Retired::Above => {
                        return Err(Refusal::Withheld(format!(
                            "modification {} de {id} signée d'une clé que le site {} a remplacée le {}, après ce remplacement",
                            node.hash, authors[a], key.retired_at
                        )))
                    }
                }
            }
            if !beneath {
                return Err(refusal);
            }
        }
        out.push((node.hash, sig.expect("checked above")));
    }

    // A revoked site keeps only what it wrote before the academy's cutoff.
    for a in revoked {
        let author = &authors[a];
        let entry = &registry.expect("revoked comes from the registry").entries[author];
        let withheld = || {
            Refusal::Withheld(format!(
                "le site {author} a été révoqué le {} : ses modifications ultérieures de {id} sont refusées",
                entry.revoked_at
            ))
        };
        let mine = |n: &&Node| n.author == a && !preverified(&n.hash);
        if nodes
            .iter()
            .filter(mine)
            .any(|n| graph.queued.contains(&n.hash))
        {
            return Err(withheld());
        }
        let cut = cut_of(&entry.cutoff, id);
        if !graph.holds_all(&cut) {
            return Err(withheld());
        }
        let beneath = graph.beneath(&cut);
        if nodes
            .iter()
            .filter(mine)
            .any(|n| !beneath.contains(&n.hash))
        {
            return Err(withheld());
        }
    }
    Ok(out)
}

/// How a change relates to a key its site has replaced.
enum Retired {
    /// Not signed with that key.
    NotThisKey,
    /// Signed with it, and beneath the cutoff recorded when it was replaced.
    Beneath,
    /// Signed with it, but not (known to be) beneath that cutoff.
    Above,
}

fn signed_with_retired(
    graph: &Graph,
    id: &str,
    site: &str,
    k: &RetiredKey,
    node: &Node,
    sig: Option<&Sig>,
) -> Retired {
    let Some(key) = hex::decode(&k.key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
    else {
        return Retired::NotThisKey;
    };
    let anchor = Anchor {
        key,
        academy: false,
    };
    if Trust::verify(&anchor, site, id, &node.hash, sig).is_err() {
        return Retired::NotThisKey;
    }
    let cut = cut_of(&k.cutoff, id);
    if cut.is_empty() || !graph.holds_all(&cut) {
        return Retired::Above;
    }
    if graph.beneath(&cut).contains(&node.hash) {
        Retired::Beneath
    } else {
        Retired::Above
    }
}

#[cfg(test)]
mod tests {
    //! Verdicts on graphs built by hand: authors, keys, registries and
    //! signatures as an attacker holding a valid certificate could craft
    //! them.
    use super::*;
    use crate::domain::registry::SiteEntry;
    use ed25519_dalek::SigningKey;

    fn h(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn anchor(k: &SigningKey, academy: bool) -> Anchor {
        Anchor {
            key: k.verifying_key(),
            academy,
        }
    }

    /// `site`'s signature as `k` makes it (the site's name is not signed:
    /// the key stands for it).
    fn sign(k: &SigningKey, _site: &str, doc: &str, hash: &ChangeHash) -> Sig {
        use ed25519_dalek::Signer;
        k.sign(&crate::trust::payload(doc, hash)).to_bytes()
    }

    fn node(hash: u8, author: usize, deps: &[u8]) -> Node {
        Node {
            hash: h(hash),
            author,
            deps: deps.iter().map(|d| h(*d)).collect(),
        }
    }

    fn graph(nodes: Vec<Node>, authors: &[&str]) -> Graph {
        Graph {
            nodes,
            authors: authors.iter().map(|a| a.to_string()).collect(),
            queued: HashSet::new(),
            preverified: HashSet::new(),
            held_before: HashSet::new(),
        }
    }

    fn entry(k: &SigningKey) -> SiteEntry {
        SiteEntry {
            name: "a".into(),
            role: "site".into(),
            endpoint: String::new(),
            public_key: hex::encode(k.verifying_key().to_bytes()),
            enrolled_at: "2026-09-01T08:00:00Z".into(),
            revoked_at: String::new(),
            cutoff: Default::default(),
            retired_keys: Vec::new(),
        }
    }

    /// Judges `g` for document `id` with the given registry, keys and sigs.
    fn verdict(
        id: &str,
        registry: Result<TrustRegistry, String>,
        anchors: &[(&str, Anchor)],
        sigs: &[(ChangeHash, Sig)],
        g: &Graph,
    ) -> Result<Vec<(ChangeHash, Sig)>, Refusal> {
        let kind = crate::base::parse_doc_id(id).unwrap();
        let anchors: HashMap<String, Result<Anchor, Refusal>> = anchors
            .iter()
            .map(|(s, a)| (s.to_string(), Ok(a.clone())))
            .collect();
        let sigs: HashMap<ChangeHash, Sig> = sigs.iter().copied().collect();
        let sig_of = |x: &ChangeHash| sigs.get(x).copied();
        judge(
            &Inputs {
                id,
                kind: &kind,
                registry: &registry,
                registry_known: true,
                registry_required: false,
                anchors: &anchors,
                sig_of: &sig_of,
            },
            g,
        )
    }

    fn registry(entries: &[(&str, SiteEntry)]) -> Result<TrustRegistry, String> {
        Ok(TrustRegistry {
            entries: entries
                .iter()
                .map(|(s, e)| (s.to_string(), e.clone()))
                .collect(),
            unreadable: Default::default(),
        })
    }

    #[test]
    fn the_newest_signed_change_vouches_for_a_chain_and_nothing_else_is_needed() {
        let ka = key(1);
        let g = graph(
            vec![node(1, 0, &[]), node(2, 0, &[1]), node(3, 0, &[2])],
            &["a"],
        );
        let s3 = sign(&ka, "a", "site/a", &h(3));
        let ok = verdict(
            "site/a",
            registry(&[]),
            &[("a", anchor(&ka, false))],
            &[(h(3), s3)],
            &g,
        );
        assert_eq!(ok.unwrap(), vec![(h(3), s3)]);
        // Without it: set aside, nobody accused.
        let none = verdict(
            "site/a",
            registry(&[]),
            &[("a", anchor(&ka, false))],
            &[],
            &g,
        );
        assert!(matches!(&none, Err(Refusal::Withheld(r)) if r.contains("sans sa signature")));
        // A signature of the lower change only does not vouch for the newer.
        let s1 = sign(&ka, "a", "site/a", &h(1));
        let low = verdict(
            "site/a",
            registry(&[]),
            &[("a", anchor(&ka, false))],
            &[(h(1), s1)],
            &g,
        );
        assert!(matches!(&low, Err(Refusal::Withheld(_))));
    }

    #[test]
    fn forged_signatures_and_foreign_authors_are_forgeries() {
        let (ka, kx) = (key(1), key(9));
        let g = graph(vec![node(1, 0, &[])], &["a"]);
        // Signed by the attacker's own key, under a's name.
        let forged = sign(&kx, "a", "site/a", &h(1));
        let r = verdict(
            "site/a",
            registry(&[]),
            &[("a", anchor(&ka, false))],
            &[(h(1), forged)],
            &g,
        );
        assert!(matches!(&r, Err(Refusal::Forged(_))), "{r:?}");
        // A signature for another document is not one for this one.
        let elsewhere = sign(&ka, "a", "site/b", &h(1));
        let r = verdict(
            "site/a",
            registry(&[]),
            &[("a", anchor(&ka, false))],
            &[(h(1), elsewhere)],
            &g,
        );
        assert!(matches!(&r, Err(Refusal::Forged(_))), "{r:?}");
        // The attacker x writes a's document with its own valid key.
        let g = graph(vec![node(1, 0, &[])], &["x"]);
        let own = sign(&kx, "x", "site/a", &h(1));
        let r = verdict(
            "site/a",
            registry(&[]),
            &[("x", anchor(&kx, false))],
            &[(h(1), own)],
            &g,
        );
        assert!(
            matches!(&r, Err(Refusal::Forged(m)) if m.contains("seul le site a")),
            "{r:?}"
        );
        // Nor may a non-academy site write the registry.
        let own = sign(&kx, "x", "network", &h(1));
        let r = verdict(
            "network",
            registry(&[]),
            &[("x", anchor(&kx, false))],
            &[(h(1), own)],
            &g,
        );
        assert!(
            matches!(&r, Err(Refusal::Forged(m)) if m.contains("académique")),
            "{r:?}"
        );
        // A change listed before its own dependency.
        let g = graph(vec![node(2, 0, &[1]), node(1, 0, &[])], &["a"]);
        let r = verdict(
            "site/a",
            registry(&[]),
            &[("a", anchor(&ka, false))],
            &[],
            &g,
        );
        assert!(
            matches!(&r, Err(Refusal::Forged(m)) if m.contains("ordre impossible")),
            "{r:?}"
        );
    }

    #[test]
    fn another_authors_change_on_top_does_not_vouch_for_the_first() {
        // An action document: b writes on top of a's change; each author's
        // newest change needs its own signature.
        let (ka, kb) = (key(1), key(2));
        let g = graph(vec![node(1, 0, &[]), node(2, 1, &[1])], &["a", "b"]);
        let keys = [("a", anchor(&ka, false)), ("b", anchor(&kb, false))];
        let s2 = sign(&kb, "b", "action/projet", &h(2));
        let r = verdict("action/projet", registry(&[]), &keys, &[(h(2), s2)], &g);
        assert!(
            matches!(&r, Err(Refusal::Withheld(m)) if m.contains("attribuée à a")),
            "{r:?}"
        );
        let s1 = sign(&ka, "a", "action/projet", &h(1));
        assert_eq!(
            verdict(
                "action/projet",
                registry(&[]),
                &keys,
                &[(h(1), s1), (h(2), s2)],
                &g
            )
            .unwrap()
            .len(),
            2
        );
    }

    #[test]
    fn the_registry_before_the_message_decides_keys_and_revocations() {
        let (ka, kx) = (key(1), key(9));
        let g = graph(vec![node(1, 0, &[])], &["a"]);
        let s1 = sign(&ka, "a", "site/a", &h(1));
        let keys = [("a", anchor(&ka, false))];
        // The registry inscribed another key for a.
        let r = verdict(
            "site/a",
            registry(&[("a", entry(&kx))]),
            &keys,
            &[(h(1), s1)],
            &g,
        );
        assert!(
            matches!(&r, Err(Refusal::Withheld(m)) if m.contains("clé certifiée")),
            "{r:?}"
        );
        // Unreadable registry: nothing but the registry itself is taken.
        let r = verdict("site/a", Err("illisible".into()), &keys, &[(h(1), s1)], &g);
        assert!(matches!(&r, Err(Refusal::Withheld(_))), "{r:?}");
        // An unreadable entry for a.
        let mut unreadable = registry(&[]).unwrap();
        unreadable.unreadable.insert("a".into());
        let r = verdict("site/a", Ok(unreadable), &keys, &[(h(1), s1)], &g);
        assert!(
            matches!(&r, Err(Refusal::Withheld(m)) if m.contains("illisible")),
            "{r:?}"
        );
    }

    #[test]
    fn a_revoked_site_keeps_only_what_lies_beneath_its_cutoff() {
        let ka = key(1);
        let keys = [("a", anchor(&ka, false))];
        let mut revoked = entry(&ka);
        revoked.revoked_at = "2026-11-30T10:00:00Z".into();
        revoked
            .cutoff
            .insert("site/a".into(), vec![h(2).to_string()]);
        let reg = registry(&[("a", revoked)]);
        // 1 <- 2 (the cutoff) <- 3: the message brings all three.
        let g = graph(
            vec![node(1, 0, &[]), node(2, 0, &[1]), node(3, 0, &[2])],
            &["a"],
        );
        let s3 = sign(&ka, "a", "site/a", &h(3));
        let r = verdict("site/a", reg.clone(), &keys, &[(h(3), s3)], &g);
        assert!(
            matches!(&r, Err(Refusal::Withheld(m)) if m.contains("révoqué")),
            "{r:?}"
        );
        // 1 <- 2 only: beneath the cutoff, taken.
        let g = graph(vec![node(1, 0, &[]), node(2, 0, &[1])], &["a"]);
        let s2 = sign(&ka, "a", "site/a", &h(2));
        assert!(verdict("site/a", reg.clone(), &keys, &[(h(2), s2)], &g).is_ok());
        // A concurrent branch beside the cutoff is not beneath it.
        let g = graph(
            vec![node(1, 0, &[]), node(2, 0, &[1]), node(4, 0, &[1])],
            &["a"],
        );
        let s4 = sign(&ka, "a", "site/a", &h(4));
        let r = verdict("site/a", reg.clone(), &keys, &[(h(2), s2), (h(4), s4)], &g);
        assert!(matches!(&r, Err(Refusal::Withheld(_))), "{r:?}");
        // The cutoff held before: every new change of a is after it.
        let mut g = graph(vec![node(5, 0, &[2])], &["a"]);
        g.held_before.insert(h(2));
        let s5 = sign(&ka, "a", "site/a", &h(5));
        let r = verdict("site/a", reg.clone(), &keys, &[(h(5), s5)], &g);
        assert!(matches!(&r, Err(Refusal::Withheld(_))), "{r:?}");
        // The cutoff neither held nor brought: nothing of a can be placed.
        let g = graph(vec![node(1, 0, &[])], &["a"]);
        let s1 = sign(&ka, "a", "site/a", &h(1));
        let r = verdict("site/a", reg.clone(), &keys, &[(h(1), s1)], &g);
        assert!(matches!(&r, Err(Refusal::Withheld(_))), "{r:?}");
        // A change of a that waits for a dependency cannot be placed either.
        let mut g = graph(
            vec![node(1, 0, &[]), node(2, 0, &[1]), node(6, 0, &[7])],
            &["a"],
        );
        g.queued.insert(h(6));
        let s6 = sign(&ka, "a", "site/a", &h(6));
        let r = verdict("site/a", reg, &keys, &[(h(2), s2), (h(6), s6)], &g);
        assert!(matches!(&r, Err(Refusal::Withheld(_))), "{r:?}");
    }

    #[test]
    fn a_replaced_key_signs_only_beneath_its_cutoff() {
        let (old, new) = (key(1), key(2));
        let mut e = entry(&new);
        e.retired_keys.push(RetiredKey {
            key: hex::encode(old.verifying_key().to_bytes()),
            retired_at: "2026-11-01T10:00:00Z".into(),
            cutoff: [("site/a".to_string(), vec![h(2).to_string()])].into(),
        });
        let reg = registry(&[("a", e)]);
        let keys = [("a", anchor(&new, false))];
        // 1 <- 2 signed with the old key, at the cutoff: valid.
        let g = graph(vec![node(1, 0, &[]), node(2, 0, &[1])], &["a"]);
        let s2 = sign(&old, "a", "site/a", &h(2));
        assert!(verdict("site/a", reg.clone(), &keys, &[(h(2), s2)], &g).is_ok());
        // 3 above the cutoff with the old key: set aside.
        let g = graph(
            vec![node(1, 0, &[]), node(2, 0, &[1]), node(3, 0, &[2])],
            &["a"],
        );
        let s3 = sign(&old, "a", "site/a", &h(3));
        let r = verdict("site/a", reg.clone(), &keys, &[(h(3), s3)], &g);
        assert!(
            matches!(&r, Err(Refusal::Withheld(m)) if m.contains("remplacée")),
            "{r:?}"
        );
        // With the new key: taken.
        let s3 = sign(&new, "a", "site/a", &h(3));
        assert!(verdict("site/a", reg, &keys, &[(h(3), s3)], &g).is_ok());
    }

    #[test]
    fn preverified_changes_vouch_without_a_new_signature() {
        let ka = key(1);
        // 1 <- 2, where 2 waited in the queue and was checked when it came.
        let mut g = graph(vec![node(1, 0, &[]), node(2, 0, &[1])], &["a"]);
        g.preverified.insert(h(2));
        let r = verdict(
            "site/a",
            registry(&[]),
            &[("a", anchor(&ka, false))],
            &[],
            &g,
        );
        assert_eq!(r.unwrap(), vec![]);
    }
}
