//! Acknowledged means on disk: the node is traced with strace while it
//! acknowledges writes, and every acknowledgement must follow an `fdatasync`
//! or `fsync` of sled's log file after the last write to it.
//!
//! strace comes from Debian's package (`.ci/run` installs it).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_maillage");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The traced node, killed when the test ends, even by a panic: strace
/// (6.1) leaves its tracee running when it is killed, so the node's own pid
/// is read from the file its shell wrote before becoming the node.
struct Traced {
    strace: std::process::Child,
    pid_file: std::path::PathBuf,
}

impl Traced {
    fn kill(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pid_file) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        let _ = self.strace.kill();
        let _ = self.strace.wait();
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledgement_follows_an_fsync_of_the_write() {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "strace is needed by this test: apt-get install strace (.ci/run does)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("n");
    let listen = format!("127.0.0.1:{}", free_port());
    // Plain HTTP/2 (insecure node): the item ids are readable in the trace
    // of the responses, so each acknowledgement can be found in it.
    let out = Command::new(BIN)
        .args(["init", "--dir", dir.to_str().unwrap(), "--site", "alpha"])
        .args(["--name", "A", "--listen", &listen, "--insecure"])
        .args(["--web-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let trace = tmp.path().join("trace.txt");
    let pid_file = tmp.path().join("node.pid");
    let mut child = Traced {
        pid_file: pid_file.clone(),
        strace: Command::new("strace")
        .args(["-f", "-yy", "-s", "512", "-o", trace.to_str().unwrap()])
        .args([
            "-e",
            "trace=pwrite64,pwritev,write,writev,sendto,sendmsg,fsync,fdatasync,sync_file_range",
        ])
        .args(["sh", "-c", "echo $$ > \"$0\"; exec \"$1\" serve --dir \"$2\""])
        .arg(&pid_file)
        .arg(BIN)
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    };
    let url = format!("http://{listen}");
    let token = admin_token(&dir);
    let start = tokio::time::Instant::now();
    let target = maillage::cli::client::Target {
        url: url.clone(),
        token: Some(token),
    };
    let mut client = loop {
        if let Ok(ch) = maillage::cli::client::connect(&target).await {
            let mut c = maillage::pb::equipment_client::EquipmentClient::new(ch);
            if c.list(maillage::pb::ListEquipmentRequest::default())
                .await
                .is_ok()
            {
                break c;
            }
        }
        assert!(start.elapsed() < TIMEOUT, "traced node never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut ids = Vec::new();
    for i in 0..20 {
        let item = client
            .add(maillage::pb::AddEquipmentRequest {
                name: format!("Objet tracé {i}"),
                category: "sciences".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        ids.push(item.id);
    }
    child.kill();

    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let log = format!("{}/data/db>", dir.display());
    let writes_log =
        |l: &str| l.contains(&log) && (l.contains("pwrite64(") || l.contains("pwritev("));
    let syncs_log =
        |l: &str| l.contains(&log) && (l.contains("fdatasync(") || l.contains("fsync("));
    for id in &ids {
        // The acknowledgement: the first write to a socket that carries the id.
        let ack = lines
            .iter()
            .position(|l| {
                l.contains(id.as_str())
                    && l.contains("TCP")
                    && ["write(", "writev(", "sendto(", "sendmsg("]
                        .iter()
                        .any(|c| l.contains(c))
            })
            .unwrap_or_else(|| panic!("no response carrying {id} in the trace"));
        let last_write = lines[..ack]
            .iter()
            .rposition(|l| writes_log(l))
            .unwrap_or_else(|| panic!("no write to sled's log before acknowledging {id}"));
        assert!(
            lines[last_write..ack].iter().any(|l| syncs_log(l)),
            "{id} acknowledged without an fsync/fdatasync of {log} after its write:\n{}",
            lines[last_write..=ack].join("\n")
        );
    }
}
