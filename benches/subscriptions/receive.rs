//! The CPU measurement: the orchestrator's side (a conversation, the receiving process, M
//! messages sent into it, the check of what arrived, the metric lines) and the runtime's
//! receiver. The raw limit's receiver is in `raw.rs`.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Instant;

use futures_util::future::join_all;
use serde_json::{Value, json};
use talkjs::params::CreateUserParams;
use talkjs::snapshot::MessageSnapshot;
use talkjs::{ListSnapshot, TalkSession};

use super::idle::settled_memory;
use super::worker::{Worker, report};
use super::{ACTIVE_TIMEOUT, Receiver, Res, STALL, Target, emit_as, log, merge, number, within};

/// One CPU measurement's settings.
#[derive(Clone, Copy)]
pub(super) struct Cpu {
    pub(super) messages: usize,
    pub(super) concurrency: usize,
    pub(super) clk_tck: u64,
    /// Which round of the measurement this is (each has its own conversation and receivers).
    pub(super) round: usize,
}

/// The CPU measurement: seeds a conversation, starts one receiving process per receiver (the
/// runtime, the raw limit, or both), all subscribed to that conversation, and sends M messages
/// into it. Receivers measured together see the same pushes at the same pace: a receiver's
/// CPU per message depends on how pushes happen to batch (one wake-up per push while it keeps
/// up, fewer when it falls behind), so receivers measured in separate runs are not comparable
/// on two shared cores, and side by side they are.
pub(super) async fn receive_cpu(
    target: &Target,
    seeder: &TalkSession,
    run: &str,
    cpu: Cpu,
    receivers: &[Receiver],
) -> Res<Vec<Measured>> {
    let Cpu {
        messages,
        concurrency,
        round,
        ..
    } = cpu;
    let conversation = format!("{run}cpu{messages}r{round}");
    let sender_id = format!("{run}send");
    let receiving: Vec<(Receiver, String)> = receivers
        .iter()
        .map(|&who| (who, format!("{run}recv{}{messages}r{round}", who.client())))
        .collect();
    let members: Vec<&String> = receiving
        .iter()
        .map(|(_, id)| id)
        .chain([&sender_id])
        .collect();
    for id in &members {
        seeder
            .user(id.as_str())
            .create_if_not_exists(CreateUserParams::new(id.as_str()))
            .await?;
    }
    let conv = seeder.conversation(conversation.as_str());
    conv.create_if_not_exists(Default::default()).await?;
    for id in &members {
        conv.participant(id.as_str())
            .create_if_not_exists(Default::default())
            .await?;
    }
    // The sender's socket is open and authenticated before the burst.
    let sender = target.session(&sender_id).await?;
    sender.current_user().get().await?;
    let into = sender.conversation(conversation.as_str());

    let mut workers = Vec::with_capacity(receiving.len());
    for (who, receiver) in &receiving {
        let args = [
            ("conversation", conversation.clone()),
            ("receiver", receiver.clone()),
            ("messages", messages.to_string()),
        ];
        workers.push((*who, Worker::spawn(who.role(), target, &args)?));
    }
    for (_, worker) in &mut workers {
        let ready = worker.line().await?;
        if ready.trim() != "ready" {
            return Err(worker.failure(&ready));
        }
    }

    let names: Vec<&str> = receivers.iter().map(|r| r.client()).collect();
    log(format!(
        "sending {messages} messages to {}, {concurrency} in flight",
        names.join(" and ")
    ));
    let t = Instant::now();
    let started_unix_ms = super::unix_ms();
    let next = Cell::new(0);
    let ids = RefCell::new(vec![String::new(); messages]);
    let (next_ref, ids_ref, into_ref) = (&next, &ids, &into);
    let one = move || async move {
        loop {
            let i = next_ref.get();
            if i >= messages {
                return Ok::<(), talkjs::Error>(());
            }
            next_ref.set(i + 1);
            let sent = into_ref.send(format!("m{i}")).await?;
            ids_ref.borrow_mut()[i] = sent.id().to_owned();
        }
    };
    for sent in join_all((0..concurrency.min(messages)).map(|_| one())).await {
        sent?;
    }
    let sender_ms = t.elapsed().as_secs_f64() * 1e3;
    log(format!(
        "sent {messages} messages in {} ms",
        sender_ms.round()
    ));

    let ids = ids.into_inner();
    let mut measured = Vec::with_capacity(workers.len());
    for (who, mut worker) in workers {
        let r = worker.result().await?;
        measured.push(measure(who, &r, &ids, cpu, sender_ms, started_unix_ms)?);
    }
    Ok(measured)
}

/// Checks one receiver's result against the ids sent and turns it into a [`Measured`].
fn measure(
    who: Receiver,
    r: &Value,
    ids: &[String],
    cpu: Cpu,
    sender_ms: f64,
    started_unix_ms: f64,
) -> Res<Measured> {
    let Cpu {
        messages,
        concurrency,
        clk_tck,
        ..
    } = cpu;
    // The receiver checked its final snapshot's texts; here its ids must be the ids sent.
    let received: HashSet<&str> = r["ids"]
        .as_array()
        .ok_or("the receiver reported no ids")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let sent: HashSet<&str> = ids.iter().map(String::as_str).collect();
    if received.len() != messages || sent.len() != messages || received != sent {
        return Err(format!(
            "{}: the final snapshot's ids are not the {messages} ids sent ({} distinct received, {} distinct sent)",
            who.client(),
            received.len(),
            sent.len()
        )
        .into());
    }

    // The total from the CPU-time clock; the user/system split from clock ticks (coarse).
    let tick_ms = 1000.0 / clk_tck as f64;
    let user_ms = number(r, "user_ticks")? * tick_ms;
    let system_ms = number(r, "system_ticks")? * tick_ms;
    let cpu_ms = number(r, "cpu_ns")? / 1e6;
    // From when the sending started (not from the receiver's own start: receivers measured
    // together report ready at different moments) until the receiver had every message.
    let wall_ms = number(r, "done_unix_ms")? - started_unix_ms;
    let scale = 10_000.0 / messages as f64;
    let extra = json!({
        "messages": messages,
        "conversations": 1,
        "snapshot_updates": r["updates"],
        "newest_message_changes": r["newest_changes"],
        "send_concurrency": concurrency,
    });
    let mut cpu = json!({
        "cpu_ms": (cpu_ms * 10.0).round() / 10.0,
        "user_ms": user_ms.round(),
        "system_ms": system_ms.round(),
        "clk_tck": clk_tck,
    });
    merge(&mut cpu, extra.clone());
    let mut wall = json!({ "wall_ms": wall_ms.round(), "sender_ms": sender_ms.round() });
    merge(&mut wall, extra);
    Ok(Measured {
        receiver: who,
        messages,
        cpu: cpu_ms * scale,
        cpu_fields: cpu,
        wall: wall_ms * scale,
        wall_fields: wall,
    })
}

/// One receive measurement: CPU and wall time per 10,000 messages, with the fields of their
/// metric lines.
pub(super) struct Measured {
    pub(super) receiver: Receiver,
    pub(super) messages: usize,
    pub(super) cpu: f64,
    pub(super) cpu_fields: Value,
    pub(super) wall: f64,
    pub(super) wall_fields: Value,
}

/// Emits the metric lines of one client at one M over several rounds: each value is the
/// median of the rounds (the line of the median round, with every round's value beside it).
pub(super) fn emit_median(runs: &[&Measured]) {
    let Some(first) = runs.first() else { return };
    let client = first.receiver.client();
    let cpu: Vec<f64> = runs.iter().map(|m| m.cpu).collect();
    let wall: Vec<f64> = runs.iter().map(|m| m.wall).collect();
    let at = median_index(&cpu);
    let mut fields = runs[at].cpu_fields.clone();
    merge(
        &mut fields,
        json!({ "rounds": rounded(&cpu), "of": "median of the rounds" }),
    );
    emit_as(
        client,
        "receive_cpu_ms_per_10k_messages",
        cpu[at],
        "ms",
        fields,
    );
    let at = median_index(&wall);
    let mut fields = runs[at].wall_fields.clone();
    merge(
        &mut fields,
        json!({ "rounds": rounded(&wall), "of": "median of the rounds" }),
    );
    emit_as(
        client,
        "receive_wall_ms_per_10k_messages",
        wall[at],
        "ms",
        fields,
    );
}

/// The index of the median value (the lower one of an even count).
pub(super) fn median_index(values: &[f64]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    order[(order.len() - 1) / 2]
}

pub(super) fn median(values: &[f64]) -> f64 {
    values[median_index(values)]
}

pub(super) fn rounded(values: &[f64]) -> Vec<f64> {
    values.iter().map(|v| (v * 10.0).round() / 10.0).collect()
}

/// What the receiver's snapshot callback keeps: O(1) work per update.
pub(super) struct Progress {
    updates: u64,
    newest_changes: u64,
    latest: ListSnapshot<MessageSnapshot>,
    /// Woken when the snapshot holds `messages` messages.
    waker: Option<Waker>,
    messages: usize,
}

impl Progress {
    fn len(&self) -> usize {
        self.latest.as_ref().map_or(0, |l| l.len())
    }
}

pub(super) fn newest(snapshot: &ListSnapshot<MessageSnapshot>) -> Option<&str> {
    snapshot.as_ref()?.first().map(|m| m.id.as_str())
}

/// One session subscribed to the messages of `conversation`, receiving `messages` messages sent
/// by the orchestrator.
pub(super) async fn receive(
    target: &Target,
    conversation: &str,
    receiver: &str,
    messages: usize,
) -> Res<Value> {
    let session = target.session(receiver).await?;
    let sub = session.conversation(conversation).subscribe_messages();
    let progress = Arc::new(Mutex::new(Progress {
        updates: 0,
        newest_changes: 0,
        latest: None,
        waker: None,
        messages,
    }));
    let shared = progress.clone();
    sub.on_snapshot(move |snapshot, _| {
        let mut p = shared.lock().expect("not poisoned");
        p.updates += 1;
        if newest(snapshot) != newest(&p.latest) {
            p.newest_changes += 1;
        }
        p.latest = snapshot.clone();
        if p.len() >= p.messages
            && let Some(waker) = p.waker.take()
        {
            waker.wake();
        }
    });
    let first = within(
        ACTIVE_TIMEOUT,
        sub.connected(),
        "the receiving subscription",
    )
    .await??;
    if first.snapshot.as_ref().map(|l| l.len()) != Some(0) {
        return Err("expected an empty conversation".into());
    }
    settled_memory().await?;
    let (updates0, changes0) = {
        let p = progress.lock().expect("not poisoned");
        (p.updates, p.newest_changes)
    };

    let measuring = Measuring::start()?;
    // Fails only when nothing arrives for STALL: a long run that progresses is fine.
    let mut seen = None;
    loop {
        let all = poll_fn(|cx| {
            let mut p = progress.lock().expect("not poisoned");
            if p.len() >= messages {
                Poll::Ready(())
            } else {
                p.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        if actix_rt::time::timeout(STALL, all).await.is_ok() {
            break;
        }
        let p = progress.lock().expect("not poisoned");
        if seen == Some(p.updates) {
            return Err(format!(
                "no update for {} s; the snapshot holds {} of {messages} messages",
                STALL.as_secs(),
                p.len()
            )
            .into());
        }
        seen = Some(p.updates);
    }
    let mut result = measuring.stop()?;

    // Outside the measurement: every message exactly once.
    let p = progress.lock().expect("not poisoned");
    let latest = p.latest.clone().ok_or("the conversation is not visible")?;
    let texts: HashSet<&str> = latest.iter().map(|m| m.plaintext.as_str()).collect();
    let ids: HashSet<&str> = latest.iter().map(|m| m.id.as_str()).collect();
    if latest.len() != messages || texts.len() != messages || ids.len() != messages {
        return Err(format!(
            "final snapshot: {} messages, {} distinct texts, {} distinct ids; expected {messages}",
            latest.len(),
            texts.len(),
            ids.len()
        )
        .into());
    }
    if let Some(i) = (0..messages).find(|i| !texts.contains(format!("m{i}").as_str())) {
        return Err(format!("message m{i} is missing from the final snapshot").into());
    }
    merge(
        &mut result,
        json!({
            "updates": p.updates - updates0,
            "newest_changes": p.newest_changes - changes0,
            "ids": ids,
        }),
    );
    Ok(result)
}

/// CPU time of this process, all its threads, in nanoseconds (`CLOCK_PROCESS_CPUTIME_ID`;
/// `/proc/self/stat`'s clock ticks are 10 ms, too coarse for a short run).
fn cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// User and system CPU time of this process (all its threads) in clock ticks, from
/// `/proc/self/stat`.
fn cpu_ticks() -> Res<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Field 2, the command name, is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat
        .rfind(')')
        .ok_or("/proc/self/stat has no command name")?
        + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
    match (fields.get(11), fields.get(12)) {
        (Some(user), Some(system)) => Ok((user.parse()?, system.parse()?)),
        _ => Err("/proc/self/stat is too short".into()),
    }
}

/// A receiver's measured span: its CPU readings from when it reports `ready` (the orchestrator
/// then sends) until it has every message.
pub(super) struct Measuring {
    user_ticks: u64,
    system_ticks: u64,
    cpu_ns: u64,
}

impl Measuring {
    /// Takes the first readings and reports `ready`.
    pub(super) fn start() -> Res<Measuring> {
        let (user_ticks, system_ticks) = cpu_ticks()?;
        let measuring = Measuring {
            user_ticks,
            system_ticks,
            cpu_ns: cpu_ns(),
        };
        report("ready")?;
        Ok(measuring)
    }

    /// Takes the last readings: the result's CPU fields and when it ended on the wall clock
    /// (`done_unix_ms`, which the orchestrator measures the wall time against).
    pub(super) fn stop(self) -> Res<Value> {
        let done_unix_ms = super::unix_ms();
        let cpu = cpu_ns() - self.cpu_ns;
        let (user, system) = cpu_ticks()?;
        Ok(json!({
            "user_ticks": user - self.user_ticks,
            "system_ticks": system - self.system_ticks,
            "cpu_ns": cpu,
            "done_unix_ms": done_unix_ms,
        }))
    }
}
