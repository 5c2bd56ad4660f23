//! [`LeanFramed`] over an in-memory pipe: frames split across reads; no buffer kept outside a
//! burst; buffers kept through a burst and given back after a quiet spell (woken by its own
//! timer); writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use awc::ws;
use bytes::BytesMut;
use futures_util::task::{ArcWake, waker};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

use super::{BURST, LeanFramed, QUIET};

/// Counts its wakes.
struct Wakes(AtomicUsize);

impl ArcWake for Wakes {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A client-side `LeanFramed` and the server's end of its pipe.
fn pipe() -> (LeanFramed<DuplexStream>, DuplexStream) {
    let (client, server) = duplex(64 * 1024);
    let lean = LeanFramed::new(client, ws::Codec::new().client_mode(), BytesMut::new());
    (lean, server)
}

/// `n` text frames as a server sends them (unmasked).
fn server_frames(n: usize, len: usize) -> (Vec<String>, BytesMut) {
    let mut codec = ws::Codec::new();
    let mut wire = BytesMut::new();
    let texts: Vec<String> = (0..n)
        .map(|i| format!("{i:05}{}", "x".repeat(len)))
        .collect();
    for t in &texts {
        actix_codec::Encoder::encode(&mut codec, ws::Message::Text(t.clone().into()), &mut wire)
            .expect("encodes");
    }
    (texts, wire)
}

fn text(frame: ws::Frame) -> String {
    match frame {
        ws::Frame::Text(b) => String::from_utf8(b.to_vec()).expect("utf-8"),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

#[actix_rt::test]
async fn frames_split_across_reads_arrive_whole_and_in_order() {
    let (mut lean, mut server) = pipe();
    let (texts, wire) = server_frames(40, 1500);
    // Odd-sized pieces: frame boundaries fall inside reads and reads inside frames.
    let writer = actix_rt::spawn(async move {
        for piece in wire.chunks(777) {
            server.write_all(piece).await.expect("writes");
        }
        server
    });
    for expected in &texts {
        let got = lean.next().await.expect("a frame").expect("decodes");
        assert_eq!(&text(got), expected);
    }
    let _server = writer.await.expect("writer");
}

#[actix_rt::test]
async fn buffers_stay_through_a_burst_and_go_after_a_quiet_spell() {
    let (mut lean, mut server) = pipe();
    let (texts, wire) = server_frames(30, 1200);
    server.write_all(&wire).await.expect("writes");
    let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
    let w = waker(wakes.clone());
    let mut cx = Context::from_waker(&w);
    let mut got = Vec::new();
    while got.len() < texts.len() {
        match lean.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => got.push(text(frame)),
            Poll::Ready(other) => panic!("unexpected {other:?}"),
            Poll::Pending => actix_rt::time::sleep(std::time::Duration::from_millis(5)).await,
        }
    }
    assert_eq!(got, texts);

    // Drained: the socket is quiet but the buffer stays for the next frame of the burst.
    assert!(lean.poll_next_unpin(&mut cx).is_pending());
    assert!(lean.holds_buffers(), "a burst's buffer is kept");
    assert!(lean.quiet.is_some(), "the quiet timer is armed");
    let woken = wakes.0.load(Ordering::SeqCst);

    // The timer wakes the task after QUIET; polled then, the buffers go.
    actix_rt::time::sleep(QUIET * 2).await;
    assert!(
        wakes.0.load(Ordering::SeqCst) > woken,
        "the quiet timer woke the task"
    );
    assert!(lean.poll_next_unpin(&mut cx).is_pending());
    assert!(
        !lean.holds_buffers(),
        "buffers given back after a quiet spell"
    );
    assert!(lean.quiet.is_none(), "and the timer with them");

    // Traffic again: frames still arrive.
    let (more, wire) = server_frames(3, 100);
    server.write_all(&wire).await.expect("writes");
    for expected in &more {
        let got = lean.next().await.expect("a frame").expect("decodes");
        assert_eq!(&text(got), expected);
    }
}

#[actix_rt::test]
async fn a_few_frames_are_no_burst_and_leave_no_buffer_behind() {
    let (mut lean, mut server) = pipe();
    let w = waker(Arc::new(Wakes(AtomicUsize::new(0))));
    let mut cx = Context::from_waker(&w);
    // What a session's setup hears (a renew's, a subscribe's, a first page's answers).
    let (texts, wire) = server_frames(BURST as usize - 1, 1500);
    server.write_all(&wire).await.expect("writes");
    for expected in &texts {
        let got = lean.next().await.expect("a frame").expect("decodes");
        assert_eq!(&text(got), expected);
    }
    assert!(lean.poll_next_unpin(&mut cx).is_pending());
    assert!(
        !lean.holds_buffers(),
        "drained outside a burst: nothing kept"
    );
    assert!(lean.quiet.is_none(), "and no timer armed");
}

#[actix_rt::test]
async fn a_frame_read_outside_a_burst_leaves_no_share_of_its_buffer() {
    let (mut lean, mut server) = pipe();
    let w = waker(Arc::new(Wakes(AtomicUsize::new(0))));
    let mut cx = Context::from_waker(&w);
    let (_, wire) = server_frames(1, 60);
    server.write_all(&wire).await.expect("writes");
    let payload = match lean.next().await.expect("a frame").expect("decodes") {
        ws::Frame::Text(bytes) => bytes,
        other => panic!("expected a text frame, got {other:?}"),
    };
    assert!(lean.poll_next_unpin(&mut cx).is_pending());
    // The frame's bytes were split off the read buffer; the socket must not keep a share of
    // that allocation (it did: an idle socket held its last frame's buffer for its life).
    assert!(
        payload.is_unique(),
        "the socket still shares its last frame's buffer"
    );
}

/// Reads `n` frames the server sends at once: a burst.
async fn burst(lean: &mut LeanFramed<DuplexStream>, server: &mut DuplexStream, n: usize) {
    let (texts, wire) = server_frames(n, 300);
    server.write_all(&wire).await.expect("writes");
    for expected in &texts {
        let got = lean.next().await.expect("a frame").expect("decodes");
        assert_eq!(&text(got), expected);
    }
}

#[actix_rt::test]
async fn traffic_during_the_quiet_spell_keeps_the_buffers() {
    let (mut lean, mut server) = pipe();
    let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
    let w = waker(wakes.clone());
    let mut cx = Context::from_waker(&w);
    burst(&mut lean, &mut server, BURST as usize).await;
    // Then a frame every QUIET/3 for about 2 * QUIET: the socket never goes quiet for QUIET.
    for i in 0..6 {
        let (texts, wire) = server_frames(1, 200 + i);
        server.write_all(&wire).await.expect("writes");
        let got = lean.next().await.expect("a frame").expect("decodes");
        assert_eq!(text(got), texts[0]);
        assert!(lean.poll_next_unpin(&mut cx).is_pending());
        assert!(
            lean.holds_buffers(),
            "busy socket lost its buffer at frame {i}"
        );
        actix_rt::time::sleep(QUIET / 3).await;
    }
}

/// Sends `n` messages and checks the server reads them in order.
async fn send_and_read(lean: &mut LeanFramed<DuplexStream>, server: &mut DuplexStream, n: usize) {
    for i in 0..n {
        lean.send(ws::Message::Text(format!("hello {i}").into()))
            .await
            .expect("sends");
    }
    let mut codec = ws::Codec::new();
    let mut wire = BytesMut::new();
    let mut got = Vec::new();
    while got.len() < n {
        let mut chunk = [0u8; 1024];
        let n = server.read(&mut chunk).await.expect("reads");
        assert!(n > 0, "the pipe closed");
        wire.extend_from_slice(&chunk[..n]);
        while let Some(frame) =
            actix_codec::Decoder::decode(&mut codec, &mut wire).expect("decodes")
        {
            got.push(text(frame));
        }
    }
    assert_eq!(
        got,
        (0..n).map(|i| format!("hello {i}")).collect::<Vec<_>>()
    );
}

#[actix_rt::test]
async fn writes_keep_their_buffer_only_in_a_burst() {
    let (mut lean, mut server) = pipe();
    send_and_read(&mut lean, &mut server, 5).await;
    assert_eq!(
        lean.write_buf.capacity(),
        0,
        "written out, outside a burst: given back"
    );

    burst(&mut lean, &mut server, BURST as usize).await;
    send_and_read(&mut lean, &mut server, 20).await;
    assert!(lean.write_buf.capacity() > 0, "kept through the burst");
    // A quiet spell on the read side gives the write buffer back too.
    let w = waker(Arc::new(Wakes(AtomicUsize::new(0))));
    let mut cx = Context::from_waker(&w);
    assert!(lean.poll_next_unpin(&mut cx).is_pending());
    actix_rt::time::sleep(QUIET * 2).await;
    assert!(lean.poll_next_unpin(&mut cx).is_pending());
    assert!(!lean.holds_buffers());
}
