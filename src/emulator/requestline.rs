//! Accepts the request lines curl sends for Adobe's documentation examples as written:
//! `GET /flowSpecs?property=name=="CRMToAEP"`, `?property=version>1.0.3`. The live gateway
//! answers them, but hyper's parser refuses a raw `"`, `<` or `>` in the request target with a
//! bare 400 before any handler (or the request log) sees the request.
//!
//! Each accepted connection's first request line is read before hyper sees it; bytes a URI may
//! not carry raw (`"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, space, controls, non-ASCII)
//! are percent-encoded, so the handlers decode them as they decode `%22`. A connection whose
//! request line needed this is answered with `Connection: close`, so that a client sending more
//! such requests opens a new connection, whose first line is fixed again. Everything else on
//! the connection passes through untouched.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A request line longer than this is passed on as it is (hyper refuses it anyway).
const MAX_LINE: usize = 64 * 1024;

/// A TCP listener whose connections go through [`FixRequestLine`].
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = FixRequestLine<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (FixRequestLine::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

enum State {
    /// Reading the first request line.
    Head(Vec<u8>),
    /// Handing out the (fixed) bytes read so far.
    Replay(Vec<u8>, usize),
    /// Everything after: straight from the socket.
    Pass,
}

/// A stream that percent-encodes what a URI may not carry raw in its first request line.
pub struct FixRequestLine<S> {
    inner: S,
    state: State,
}

impl<S> FixRequestLine<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            state: State::Head(Vec::new()),
        }
    }
}

fn needs_encoding(byte: u8) -> bool {
    matches!(
        byte,
        b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b' '
    ) || !(0x20..0x7f).contains(&byte)
}

/// The head read so far with its first line (`head[..end]`, `end` at the `\n`) fixed.
pub fn fix(head: &[u8], end: usize) -> Vec<u8> {
    let line = &head[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first = line.iter().position(|b| *b == b' ');
    let last = line.iter().rposition(|b| *b == b' ');
    let (Some(first), Some(last)) = (first, last) else {
        return head.to_vec();
    };
    let target = &line[first + 1..last];
    if first == last || !target.iter().copied().any(needs_encoding) {
        return head.to_vec();
    }
    let mut fixed = Vec::with_capacity(head.len() + 3 * target.len() + 20);
    fixed.extend_from_slice(&line[..=first]);
    for byte in target {
        if needs_encoding(*byte) {
            fixed.extend_from_slice(format!("%{byte:02X}").as_bytes());
        } else {
            fixed.push(*byte);
        }
    }
    fixed.extend_from_slice(&line[last..]);
    fixed.extend_from_slice(b"\r\nConnection: close\r\n");
    fixed.extend_from_slice(&head[end + 1..]);
    fixed
}

impl<S: AsyncRead + Unpin> AsyncRead for FixRequestLine<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Pass => return Pin::new(&mut this.inner).poll_read(cx, buf),
                State::Replay(data, pos) => {
                    let n = buf.remaining().min(data.len() - *pos);
                    buf.put_slice(&data[*pos..*pos + n]);
                    *pos += n;
                    if *pos == data.len() {
                        this.state = State::Pass;
                    }
                    return Poll::Ready(Ok(()));
                }
                State::Head(pending) => {
                    let mut chunk = [0u8; 4096];
                    let mut read = ReadBuf::new(&mut chunk);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                    let got = read.filled();
                    if got.is_empty() {
                        // The peer closed before a whole line: hand on what came.
                        let pending = std::mem::take(pending);
                        if pending.is_empty() {
                            this.state = State::Pass;
                            return Poll::Ready(Ok(()));
                        }
                        this.state = State::Replay(pending, 0);
                        continue;
                    }
                    pending.extend_from_slice(got);
                    if let Some(end) = pending.iter().position(|b| *b == b'\n') {
                        let fixed = fix(pending, end);
                        this.state = State::Replay(fixed, 0);
                    } else if pending.len() > MAX_LINE {
                        let pending = std::mem::take(pending);
                        this.state = State::Replay(pending, 0);
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FixRequestLine<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(head: &str) -> String {
        let end = head.find('\n').unwrap_or(head.len());
        String::from_utf8_lossy(&fix(head.as_bytes(), end)).into_owned()
    }

    #[test]
    fn raw_quotes_and_angles_are_encoded_and_the_rest_kept() {
        assert_eq!(
            fixed("GET /flowSpecs?property=name==\"CRMToAEP\" HTTP/1.1\r\nHost: x\r\n\r\n"),
            "GET /flowSpecs?property=name==%22CRMToAEP%22 HTTP/1.1\r\nConnection: close\r\nHost: x\r\n\r\n"
        );
        assert_eq!(
            fixed("GET /runs?property=a>1&property=a<2 HTTP/1.1\r\n\r\n"),
            "GET /runs?property=a%3E1&property=a%3C2 HTTP/1.1\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn clean_lines_are_untouched() {
        let head = "GET /flows?property=name==%22a%22 HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(fixed(head), head);
        assert_eq!(fixed("garbage\r\n"), "garbage\r\n");
    }
}
