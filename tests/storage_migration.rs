//! A node directory written by the binary of before storage layouts
//! (`tests/fixtures/node-layout-1.zip`, see its README) opens with today's
//! code: the store is migrated once, at start, and everything written before
//! is read back through the API. A store of a newer layout is refused and
//! left byte for byte as it was.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::conn;
use maillage::config::{Config, DATA_DIR};
use maillage::node::RunningNode;
use maillage::pb;
use maillage::storage::migrate::{self, LAYOUT};
use maillage::storage::{SledStore, Store};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/node-layout-1.zip"
);

/// The administrator token of the fixture node, and the staff token it
/// created through the API (both stored as SHA-256 in `meta`).
const STAFF_TOKEN: &str = "mlg_affbd92e09dae6d031d118df4f6098fb79c083062910a79503b0b8cf66fdbdf4";

/// Longest the test waits for sled's lock after a node stopped.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Unpacks the fixture; returns the temporary directory and the node's.
fn unpack() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let file = std::fs::File::open(FIXTURE).unwrap();
    zip::ZipArchive::new(file)
        .unwrap()
        .extract(tmp.path())
        .unwrap();
    let dir = tmp.path().join("metz-borny");
    (tmp, dir)
}

/// The fixture's configuration on ports the system chooses, alone.
async fn start(dir: &Path) -> anyhow::Result<RunningNode> {
    common::init_tracing();
    let mut cfg = Config::load(dir).unwrap();
    cfg.listen = "127.0.0.1:0".into();
    cfg.api_listen = "127.0.0.1:0".into();
    cfg.web_listen = "127.0.0.1:0".into();
    cfg.peers.clear();
    RunningNode::start_with(dir, cfg).await
}

/// Waits until no handle holds the store of `data` (sled takes an
/// exclusive `flock` on its `db` file and releases it from a background
/// thread after the last handle is dropped).
async fn wait_released(data: &Path) {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(data.join("db")).unwrap();
    let start = tokio::time::Instant::now();
    // SAFETY: flock on a descriptor this function owns.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        assert!(start.elapsed() < LOCK_WAIT, "the store stayed locked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

async fn items(node: &RunningNode, token: &str) -> Vec<(String, String, String)> {
    let mut items: Vec<_> =
        pb::equipment_client::EquipmentClient::new(conn(&node.url(), Some(token)).await)
            .list(pb::ListEquipmentRequest::default())
            .await
            .unwrap()
            .into_inner()
            .items
            .into_iter()
            .map(|i| (i.id, i.name, i.site))
            .collect();
    items.sort();
    items
}

async fn loans(node: &RunningNode, token: &str) -> Vec<(String, String, String, Vec<String>)> {
    let mut loans: Vec<_> =
        pb::loans_client::LoansClient::new(conn(&node.url(), Some(token)).await)
            .list(pb::ListLoansRequest::default())
            .await
            .unwrap()
            .into_inner()
            .loans
            .into_iter()
            .map(|l| (l.id, l.state, l.lender, l.equipment))
            .collect();
    loans.sort();
    loans
}

#[tokio::test]
async fn a_node_of_layout_one_opens_migrated_with_everything_written_before() {
    let (_tmp, dir) = unpack();
    let admin = common::admin_token(&dir);

    let node = start(&dir).await.unwrap();
    let store = node.docs().store().clone();
    assert_eq!(migrate::layout_of(store.as_ref()).unwrap(), Some(LAYOUT));
    let history = migrate::history(store.as_ref()).unwrap();
    assert_eq!(
        history.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        vec![2],
        "migration 2 ran: {history:?}"
    );
    drop(store);

    let expected_items = vec![
        (
            "eq-6dr4655qqj".into(),
            "Kit Arduino".into(),
            "metz-borny".into(),
        ),
        (
            "eq-988c6yk483".into(),
            "Imprimante 3D Prusa".into(),
            "thionville".into(),
        ),
        (
            "eq-f5xrea63k5".into(),
            "Robot Thymio".into(),
            "thionville".into(),
        ),
        (
            "eq-uirw44rhpp".into(),
            "Casque de réalité virtuelle".into(),
            "metz-borny".into(),
        ),
    ];
    let expected_loans = vec![
        (
            "ln-rcdh6yedu8".into(),
            "approved".into(),
            "thionville".into(),
            vec!["eq-f5xrea63k5".to_string()],
        ),
        (
            "ln-xkhgyd6iru".into(),
            "requested".into(),
            "thionville".into(),
            vec!["eq-988c6yk483".to_string()],
        ),
    ];
    assert_eq!(items(&node, &admin).await, expected_items);
    assert_eq!(loans(&node, &admin).await, expected_loans);
    // The token created through the API before the upgrade still opens it.
    assert_eq!(items(&node, STAFF_TOKEN).await, expected_items);
    // The node writes on the migrated store, and reads it back after a restart.
    let added = pb::equipment_client::EquipmentClient::new(conn(&node.url(), Some(&admin)).await)
        .add(pb::AddEquipmentRequest {
            name: "Micro:bit".into(),
            category: "numérique".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    node.shutdown().await;

    // A second start runs no migration: the history is the same, time included.
    let node = tokio::time::timeout(LOCK_WAIT, start(&dir))
        .await
        .unwrap()
        .unwrap();
    let store = node.docs().store().clone();
    assert_eq!(migrate::layout_of(store.as_ref()).unwrap(), Some(LAYOUT));
    assert_eq!(migrate::history(store.as_ref()).unwrap(), history);
    let after = items(&node, &admin).await;
    assert_eq!(after.len(), 5);
    assert!(after.iter().any(|(id, _, _)| *id == added.id));
    assert_eq!(loans(&node, &admin).await, expected_loans);
    drop(store);
    node.shutdown().await;
}

/// The fixture, migrated, then stamped by an imaginary later binary: in
/// `meta`, and in the layout file beside sled's when `with_file`.
async fn newer_store(with_file: bool) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = unpack();
    let data = dir.join(DATA_DIR);
    {
        let s = SledStore::open_waiting(&data, LOCK_WAIT).await.unwrap();
        s.put_meta(migrate::LAYOUT_KEY, &(LAYOUT + 1).to_be_bytes())
            .unwrap();
        s.flush().await.unwrap();
    }
    let file = data.join(maillage::storage::LAYOUT_FILE);
    if with_file {
        std::fs::write(&file, format!("{}\n", LAYOUT + 1)).unwrap();
    } else {
        std::fs::remove_file(&file).unwrap();
    }
    wait_released(&data).await;
    (tmp, dir)
}

fn assert_refused(err: anyhow::Error) {
    let msg = format!("{err:#}");
    assert!(msg.contains("mettez maillage à jour"), "{msg}");
    assert!(
        msg.contains(&format!("au format {}", LAYOUT + 1))
            && msg.contains(&format!("jusqu'au format {LAYOUT}")),
        "{msg}"
    );
}

#[tokio::test]
async fn a_store_of_a_newer_layout_is_refused_and_left_byte_identical() {
    let (_tmp, dir) = newer_store(true).await;
    let before = files(&dir);
    assert_refused(start(&dir).await.err().expect("a newer layout is refused"));
    wait_released(&dir.join(DATA_DIR)).await;
    let after = files(&dir);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &before {
        assert!(after[path] == *bytes, "{} changed", path.display());
    }
}

/// Without the layout file (deleted, or a store copied without it), the
/// refusal comes from `meta`, after sled has opened: sled rewrites its own
/// snapshot file (`snap.*`, an index of its log that it rebuilds at every
/// open), and nothing else changes: not its log, not a stored value.
#[tokio::test]
async fn without_the_layout_file_a_newer_store_is_still_refused_and_its_data_unchanged() {
    let (_tmp, dir) = newer_store(false).await;
    let data = dir.join(DATA_DIR);
    let not_snap = |m: BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
        m.into_iter()
            .filter(|(p, _)| {
                !p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("snap.")
            })
            .collect()
    };
    let before = not_snap(files(&dir));
    assert_refused(start(&dir).await.err().expect("a newer layout is refused"));
    wait_released(&data).await;
    let after = not_snap(files(&dir));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &before {
        assert!(after[path] == *bytes, "{} changed", path.display());
    }
}
