//! A webhook receiver on loopback for tests and benches: records every request (headers and
//! body) and answers as told (at once, after failing first, or never).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

use super::{WAIT, eventually};

/// What the test receiver does with each request.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers 200 after `delay`.
    Ok { delay: Duration },
    /// Answers 500 to the first `n` requests, then 200.
    FailFirst(usize),
    /// Never answers (for an hour).
    Hang,
}

impl Behaviour {
    /// Answers 200 at once.
    pub const AT_ONCE: Behaviour = Behaviour::Ok {
        delay: Duration::ZERO,
    };
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub timestamp: String,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
pub struct Seen {
    pub got: Mutex<Vec<Received>>,
    pub answered: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// A webhook receiver on loopback.
pub struct Receiver {
    pub url: String,
    pub seen: Arc<Seen>,
    pub handle: ServerHandle,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let seen = Arc::new(Seen::default());
        let state = web::Data::from(seen.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::Data::new(behaviour))
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("the receiver binds");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Receiver {
            url: format!("http://{addr}/talkjs"),
            seen,
            handle,
        }
    }

    pub fn got(&self) -> Vec<Received> {
        self.seen.got.lock().unwrap().clone()
    }

    /// Stops the receiver without waiting for requests it holds.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    /// Waits until `n` requests arrived; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        assert!(
            eventually(WAIT, || self.seen.got.lock().unwrap().len() >= n).await,
            "expected {n} webhooks, got {:?}",
            types(&self.got())
        );
        self.got()
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    seen: web::Data<Seen>,
    behaviour: web::Data<Behaviour>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    seen.got.lock().unwrap().push(Received {
        timestamp: header("X-TalkJS-Timestamp").unwrap_or_default(),
        signature: header("X-TalkJS-Signature"),
        body: body.to_vec(),
    });
    let n = seen.answered.fetch_add(1, Ordering::SeqCst);
    let answer = match **behaviour {
        Behaviour::Ok { delay } => {
            actix_rt::time::sleep(delay).await;
            HttpResponse::Ok().finish()
        }
        Behaviour::FailFirst(fail) if n < fail => HttpResponse::InternalServerError().finish(),
        Behaviour::FailFirst(_) => HttpResponse::Ok().finish(),
        Behaviour::Hang => {
            actix_rt::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        }
    };
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer
}

pub fn types(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.event()["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}
