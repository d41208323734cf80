//! A link between two nodes that can be cut: a TCP relay on loopback, for
//! the outage benchmark and the reconnection tests. The dialing node is given
//! the relay's address instead of its peer's.
//!
//! Two kinds of cut:
//! - [`Cut::Refuse`]: the connections under way are closed and new ones are
//!   closed as soon as accepted, as when the peer's machine or a router
//!   answers that nothing listens;
//! - [`Cut::Silent`]: nothing is closed, nothing goes through (bytes wait in
//!   the relay), as when a cable is pulled: the connections stall and take up
//!   again when the link comes back, unless a timeout ended them meanwhile.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    Refuse,
    Silent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down(Cut),
}

/// The relay; dropping it closes everything.
pub struct Link {
    addr: SocketAddr,
    state: watch::Sender<State>,
    task: JoinHandle<()>,
}

impl Link {
    /// A relay on 127.0.0.1 towards `target`, up.
    pub async fn start(target: SocketAddr) -> std::io::Result<Link> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (state, _) = watch::channel(State::Up);
        let states = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *states.borrow() == State::Down(Cut::Refuse) {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(relay(inbound, target, states.subscribe()));
            }
        });
        Ok(Link { addr, state, task })
    }

    /// The address to dial instead of the target's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn cut(&self, how: Cut) {
        self.state.send_replace(State::Down(how));
    }

    pub fn restore(&self) {
        self.state.send_replace(State::Up);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
        self.state.send_replace(State::Down(Cut::Refuse));
    }
}

async fn relay(inbound: TcpStream, target: SocketAddr, state: watch::Receiver<State>) {
    // A connection accepted during a silent cut waits for the link.
    if !wait_up(&mut state.clone()).await {
        return;
    }
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (ri, wi) = inbound.into_split();
    let (ro, wo) = outbound.into_split();
    tokio::select! {
        _ = pipe(ri, wo, state.clone()) => {}
        _ = pipe(ro, wi, state) => {}
    }
}

/// Waits while the link is silently cut; false once it is cut by refusal
/// (or the relay is gone): the connection is to be closed.
async fn wait_up(state: &mut watch::Receiver<State>) -> bool {
    loop {
        match *state.borrow_and_update() {
            State::Up => return true,
            State::Down(Cut::Refuse) => return false,
            State::Down(Cut::Silent) => {}
        }
        if state.changed().await.is_err() {
            return false;
        }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<State>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            n = from.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // A refusal closes the connection even while nothing is sent.
            _ = refused(state.clone()) => return,
        };
        if !wait_up(&mut state).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Resolves once the link is cut by refusal (or the relay is gone).
async fn refused(mut state: watch::Receiver<State>) {
    loop {
        if *state.borrow_and_update() == State::Down(Cut::Refuse) {
            return;
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}
